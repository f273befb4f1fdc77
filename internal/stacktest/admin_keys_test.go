package stacktest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/worker"
)

type adminKey struct {
	ID            string   `json:"id"`
	Object        string   `json:"object"`
	Name          string   `json:"name"`
	Tenant        string   `json:"tenant"`
	KeyHint       string   `json:"key_hint"`
	Weight        float64  `json:"weight"`
	Models        []string `json:"models"`
	RPMLimit      *int     `json:"rpm_limit"`
	Key           string   `json:"key"`
	WebhookSecret string   `json:"webhook_secret"`
	RevokedAt     *int64   `json:"revoked_at"`
}

// adminCreate makes a key over HTTP with the master key.
func adminCreate(t *testing.T, s *stacktest.Stack, body string) adminKey {
	t.Helper()
	status, _, b := call(t, s, stacktest.Key, http.MethodPost, "/v1/admin/keys", body)
	if status != http.StatusCreated {
		t.Fatalf("POST /v1/admin/keys %s: %d %s", body, status, b)
	}
	k := decode[adminKey](t, b)
	if k.Object != "api_key" || !strings.HasPrefix(k.Key, "sk-sluice-") || !strings.HasPrefix(k.WebhookSecret, "whsec_") || !strings.HasPrefix(k.Key, k.KeyHint) {
		t.Fatalf("created key = %s", b)
	}
	return k
}

// Keys are made, listed, read, rotated and revoked over HTTP with the master
// key; managed keys cannot; bad requests get clear 4xx; keys made over HTTP
// see only their own tenant's jobs.
func TestAdminKeysOverHTTP(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	a := adminCreate(t, s, `{"name":"alpha","weight":2}`)
	b := adminCreate(t, s, `{"name":"beta"}`)
	if a.Tenant == b.Tenant || a.Weight != 2 || b.Weight != 1 {
		t.Fatalf("keys: %+v %+v", a, b)
	}

	// The list shows both, without secrets.
	status, _, body := call(t, s, stacktest.Key, http.MethodGet, "/v1/admin/keys", "")
	if status != http.StatusOK || strings.Contains(string(body), a.Key) || strings.Contains(string(body), a.WebhookSecret) {
		t.Fatalf("list: %d %s", status, body)
	}
	list := decode[struct{ Data []adminKey }](t, body).Data
	if len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("list (newest first) = %s", body)
	}
	if status, _, body := call(t, s, stacktest.Key, http.MethodGet, "/v1/admin/keys/"+a.ID, ""); status != http.StatusOK || decode[adminKey](t, body).Name != "alpha" {
		t.Fatalf("get: %d %s", status, body)
	}

	// Managed keys cannot manage keys, not even to list them.
	for _, req := range [][2]string{{"GET", "/v1/admin/keys"}, {"POST", "/v1/admin/keys"}, {"DELETE", "/v1/admin/keys/" + b.ID}} {
		status, _, body := call(t, s, a.Key, req[0], req[1], `{"name":"x"}`)
		if status != http.StatusForbidden || !strings.Contains(string(body), "master_key_required") {
			t.Fatalf("%s %s with a managed key: %d %s", req[0], req[1], status, body)
		}
	}

	// Bad input: clear 400s and 404s with OpenAI error bodies.
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/v1/admin/keys", `{}`, `"param":"name"`},
		{"POST", "/v1/admin/keys", `{"name":"x","colour":"red"}`, `colour`},
		{"POST", "/v1/admin/keys", `{"name":"x","models":["nosuch"]}`, `"model_not_found"`},
		{"POST", "/v1/admin/keys", `{"name":"x","tenant":"nosuch"}`, `"unknown_tenant"`},
		{"POST", "/v1/admin/keys", `{"name":"x","rpm_limit":-1}`, `rpm_limit`},
		{"POST", "/v1/admin/keys", `{"name":"x","weight":5000}`, `weight`},
		{"POST", "/v1/admin/keys", `{"name":`, `invalid_request_error`},
		{"GET", "/v1/admin/keys/key_nosuch", ``, `"not_found"`},
		{"POST", "/v1/admin/keys/key_nosuch/rotate-webhook-secret", ``, `"not_found"`},
	} {
		status, _, body := call(t, s, stacktest.Key, c.method, c.path, c.body)
		if status/100 != 4 || !strings.Contains(string(body), c.want) {
			t.Fatalf("%s %s %s: %d %s; want a 4xx naming %s", c.method, c.path, c.body, status, body, c.want)
		}
	}

	// Tenant isolation between keys made over HTTP; a key made for a's
	// tenant (rotation of the api key) shares a's jobs.
	j := submitAsync(t, s, a.Key, "alpha's job")
	pollJob(t, s, a.Key, j.ID, "succeeded")
	if status, _, body := call(t, s, b.Key, http.MethodGet, "/v1/jobs/"+j.ID, ""); status != http.StatusNotFound {
		t.Fatalf("beta reads alpha's job: %d %s", status, body)
	}
	if status, _, body := call(t, s, b.Key, http.MethodGet, "/v1/jobs", ""); status != http.StatusOK || strings.Contains(string(body), j.ID) {
		t.Fatalf("beta's list: %d %s", status, body)
	}
	a2 := adminCreate(t, s, `{"name":"alpha-2","tenant":"`+a.Tenant+`"}`)
	if status, _, _ := call(t, s, a2.Key, http.MethodGet, "/v1/jobs/"+j.ID, ""); status != http.StatusOK {
		t.Fatalf("a key of alpha's tenant cannot read alpha's job: %d", status)
	}

	// Rotating the webhook secret shows a new one, once.
	status, _, body = call(t, s, stacktest.Key, http.MethodPost, "/v1/admin/keys/"+a.ID+"/rotate-webhook-secret", "")
	rotated := decode[adminKey](t, body)
	if status != http.StatusOK || !strings.HasPrefix(rotated.WebhookSecret, "whsec_") || rotated.WebhookSecret == a.WebhookSecret || rotated.Key != "" {
		t.Fatalf("rotate: %d %s", status, body)
	}
	var stored string
	s.DB.QueryRow(context.Background(), `SELECT webhook_secret FROM api_keys WHERE id = $1`, a.ID).Scan(&stored)
	if stored != rotated.WebhookSecret {
		t.Fatal("the rotated secret is not the stored one")
	}

	// Revoking ends the key at once; its tenant's other key goes on.
	status, _, body = call(t, s, stacktest.Key, http.MethodDelete, "/v1/admin/keys/"+a.ID, "")
	if status != http.StatusOK || decode[adminKey](t, body).RevokedAt == nil {
		t.Fatalf("revoke: %d %s", status, body)
	}
	if status, _, body := call(t, s, a.Key, http.MethodGet, "/v1/models", ""); status != http.StatusUnauthorized || !strings.Contains(string(body), "invalid_api_key") {
		t.Fatalf("revoked key: %d %s", status, body)
	}
	if status, _, _ := call(t, s, a2.Key, http.MethodGet, "/v1/jobs/"+j.ID, ""); status != http.StatusOK {
		t.Fatalf("the tenant's other key stopped working: %d", status)
	}
}

const twoAliasConfig = `
models:
  claude-sonnet:
    bedrock_model_id: us.anthropic.claude-sonnet-4-20250514-v1:0
    default_max_tokens: 256
  claude-haiku:
    bedrock_model_id: anthropic.claude-3-haiku-20240307-v1:0
    default_max_tokens: 256
accounts:
  - name: a
    region: us-east-1
    role_arn: arn:aws:iam::111111111111:role/bedrock-caller
    external_id: ext-a
    models:
      claude-sonnet: {tpm: 10000000}
      claude-haiku: {tpm: 10000000}
`

// A key confined to some aliases is refused the others with a 403 that says
// which it may use, and lists only those.
func TestKeyAllowedModels(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Config: twoAliasConfig})
	k := adminCreate(t, s, `{"name":"sonnet-only","models":["claude-sonnet"]}`)

	haiku := `{"model":"claude-haiku","messages":[{"role":"user","content":"hi"}]}`
	for _, req := range [][3]string{{"POST", "/v1/chat/completions", haiku}, {"GET", "/v1/models/claude-haiku", ""}} {
		status, h, body := call(t, s, k.Key, req[0], req[1], req[2])
		if status != http.StatusForbidden || !strings.Contains(string(body), `"model_not_allowed"`) || !strings.Contains(string(body), "claude-sonnet") || h.Get("X-Should-Retry") != "false" {
			t.Fatalf("%s %s with a sonnet-only key: %d %s", req[0], req[1], status, body)
		}
	}
	status, _, body := call(t, s, k.Key, http.MethodGet, "/v1/models", "")
	if status != http.StatusOK || strings.Contains(string(body), "claude-haiku") || !strings.Contains(string(body), "claude-sonnet") {
		t.Fatalf("models of a sonnet-only key: %d %s", status, body)
	}
	if status, _, body := call(t, s, k.Key, http.MethodPost, "/v1/chat/completions", chatBody("hi")); status != http.StatusOK {
		t.Fatalf("allowed alias: %d %s", status, body)
	}
	// Other keys, and the master key, are not confined.
	if status, _, body := call(t, s, stacktest.Key, http.MethodPost, "/v1/chat/completions", haiku); status != http.StatusOK {
		t.Fatalf("master key on haiku: %d %s", status, body)
	}

	// A batch of the key with a line for another alias fails validation,
	// naming the line; nothing of it runs.
	kc := openai.NewClient(option.WithBaseURL(s.URL+"/v1"), option.WithAPIKey(k.Key), option.WithMaxRetries(0))
	haikuLine := strings.Replace(chatLine("h", "hi"), `"claude-sonnet"`, `"claude-haiku"`, 1)
	b := newBatch(t, kc, upload(t, kc, chatLine("s", "hi"), haikuLine).ID)
	b = await(t, kc, b.ID, "the batch to end", ended)
	if b.Status != openai.BatchStatusFailed || len(b.Errors.Data) != 1 || b.Errors.Data[0].Code != "model_not_allowed" || b.Errors.Data[0].Line != 2 {
		t.Fatalf("batch with a refused alias: %s", b.RawJSON())
	}

	var n int
	s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE model = 'claude-haiku' AND tenant = $1`, k.Tenant).Scan(&n)
	if n != 0 {
		t.Fatalf("%d jobs of the refused alias exist", n)
	}
}

// A key over its requests-per-minute limit is not refused: every submission
// is accepted, and its jobs wait in the queue while another key's jobs run.
func TestKeyRateLimitHoldsJobsInQueue(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	ctx := context.Background()
	limited := adminCreate(t, s, `{"name":"limited","rpm_limit":2}`)
	free := adminCreate(t, s, `{"name":"free"}`)

	var limitedIDs, freeIDs []string
	for range 5 {
		limitedIDs = append(limitedIDs, submitAsync(t, s, limited.Key, "limited").ID) // a 202 each: no 429
	}
	for range 5 {
		freeIDs = append(freeIDs, submitAsync(t, s, free.Key, "free").ID)
	}
	count := func(ids []string, state string) int {
		var n int
		s.DB.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE id = ANY($1) AND state = $2`, ids, state).Scan(&n)
		return n
	}
	waitFor(t, "the free key's jobs", func() bool { return count(freeIDs, "succeeded") == len(freeIDs) })
	waitFor(t, "the limited key's first two jobs", func() bool { return count(limitedIDs, "succeeded") == 2 })
	// Its bucket refills one request per 30 s: the rest stay queued.
	time.Sleep(2 * time.Second)
	if ok, queued := count(limitedIDs, "succeeded"), count(limitedIDs, "queued"); ok != 2 || queued != 3 {
		t.Fatalf("limited key: %d succeeded, %d queued; want 2 and 3 held back", ok, queued)
	}
	// A held job is an ordinary queued job: its caller sees it waiting.
	if j := pollJob(t, s, limited.Key, limitedIDs[4], "queued"); j.Status != "queued" {
		t.Fatalf("held job = %+v", j)
	}
	// A minute's refill later (moved forward here) the next one runs.
	if _, err := s.DB.Exec(ctx, `UPDATE key_buckets SET requests_at = requests_at - interval '31 seconds' WHERE key_id = $1`, limited.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a third job of the limited key", func() bool { return count(limitedIDs, "succeeded") == 3 })
	time.Sleep(time.Second)
	if n := count(limitedIDs, "succeeded"); n != 3 {
		t.Fatalf("%d of the limited key's jobs ran after one request's refill; want 3", n)
	}
}

// Weights set over HTTP divide the service between tenants with backlogs:
// a key of weight 3 gets about three jobs for every one of a key of weight 1.
func TestKeyWeightsShareService(t *testing.T) {
	sim := stacktest.DefaultSim()
	sim.TTFT = 20 * time.Millisecond
	s := stacktest.Start(t, stacktest.Options{Sim: &sim, Workers: -1, Tune: func(p *worker.Pool) { p.Concurrency = 1 }})
	ctx := context.Background()
	heavy := adminCreate(t, s, `{"name":"heavy","weight":3}`)
	light := adminCreate(t, s, `{"name":"light","weight":1}`)
	for range 30 {
		submitAsync(t, s, heavy.Key, "heavy")
		submitAsync(t, s, light.Key, "light")
	}
	s.StartWorker()
	done := func(tenant string) int {
		var n int
		s.DB.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE tenant = $1 AND state = 'succeeded'`, tenant).Scan(&n)
		return n
	}
	waitFor(t, "24 jobs", func() bool { return done(heavy.Tenant)+done(light.Tenant) >= 24 })
	h, l := done(heavy.Tenant), done(light.Tenant)
	t.Logf("after %d jobs: heavy %d, light %d", h+l, h, l)
	// 3:1 of 24 is 18:6; claims of up to ten at a time blur it a little.
	if h < 3*l-8 || h > 3*l+8 || l == 0 {
		t.Fatalf("heavy %d, light %d; want about 3:1", h, l)
	}
}
