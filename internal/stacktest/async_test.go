package stacktest_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sluice-broker/sluice/internal/apikey"
	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/webhook"
	"github.com/sluice-broker/sluice/internal/worker"
)

// receiver is a webhook endpoint on loopback. It checks every delivery with
// its own implementation of the Standard Webhooks signature scheme, written
// from the specification, independent of the library sluice signs with.
type receiver struct {
	*httptest.Server
	t      *testing.T
	secret string

	mu        sync.Mutex
	failFirst int           // answer 500 to this many requests first
	hang      chan struct{} // when set, hold each request until it is closed
	requests  int           // requests that arrived
	holding   int           // requests being held now
	verified  []delivery    // deliveries answered 2xx
}

type delivery struct {
	ID      string
	Type    string
	JobID   string
	Status  string
	Result  json.RawMessage
	Error   json.RawMessage
	Attempt int // the receiver's count of requests for this webhook-id
	Body    []byte
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: secret}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.mu.Lock()
		if r.hang != nil {
			select {
			case <-r.hang:
			default:
				close(r.hang)
			}
		}
		r.mu.Unlock()
		r.Close()
	})
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	secret := r.secret
	r.mu.Unlock()
	if err := verifySignature(secret, req.Header, body, time.Now()); err != nil {
		r.t.Errorf("delivery failed verification: %v (headers %v)", err, req.Header)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	r.requests++
	n := r.requests
	hang := r.hang
	if hang != nil {
		r.holding++
	}
	r.mu.Unlock()
	if hang != nil {
		<-hang
		r.mu.Lock()
		r.holding--
		r.mu.Unlock()
	}
	if n <= r.failFirst {
		http.Error(w, "not today", http.StatusInternalServerError)
		return
	}
	var p struct {
		Type string `json:"type"`
		Data struct {
			ID     string          `json:"id"`
			Object string          `json:"object"`
			Status string          `json:"status"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		} `json:"data"`
	}
	// A batch event carries the OpenAI batch object; its id and status
	// are read into JobID and Status.
	if err := json.Unmarshal(body, &p); err != nil || p.Data.Object != "job" && p.Data.Object != "batch" {
		r.t.Errorf("payload is not a job or batch event: %s", body)
	}
	r.mu.Lock()
	d := delivery{ID: req.Header.Get("webhook-id"), Type: p.Type, JobID: p.Data.ID, Status: p.Data.Status, Result: p.Data.Result, Error: p.Data.Error, Body: body}
	for _, v := range r.verified {
		if v.ID == d.ID {
			d.Attempt++
		}
	}
	r.verified = append(r.verified, d)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// verifySignature is the Standard Webhooks scheme: the secret is base64 after
// "whsec_"; the signed content is "{webhook-id}.{webhook-timestamp}.{body}";
// webhook-signature holds space-separated "v1,{base64 HMAC-SHA256}" entries;
// the timestamp must be within five minutes of now.
func verifySignature(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", ts, err)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s is %s from now", ts, d)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no signature matches")
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.verified...)
}

func (r *receiver) deliveryFor(jobID string) (delivery, bool) {
	for _, d := range r.deliveries() {
		if d.JobID == jobID {
			return d, true
		}
	}
	return delivery{}, false
}

// call sends a request with an API key and returns status, headers and body.
func call(t *testing.T, s *stacktest.Stack, key, method, path, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

type jobBody struct {
	ID       string          `json:"id"`
	Object   string          `json:"object"`
	Status   string          `json:"status"`
	Mode     string          `json:"mode"`
	Attempts int             `json:"attempts"`
	Result   json.RawMessage `json:"result"`
	Error    json.RawMessage `json:"error"`
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, b, err)
	}
	return v
}

func chatBody(content string) string {
	b, _ := json.Marshal(map[string]any{"model": "claude-sonnet", "messages": []map[string]string{{"role": "user", "content": content}}})
	return string(b)
}

// submitAsync submits a job with Prefer: respond-async and checks the 202.
func submitAsync(t *testing.T, s *stacktest.Stack, key, content string, header ...string) jobBody {
	t.Helper()
	status, h, body := call(t, s, key, http.MethodPost, "/v1/chat/completions", chatBody(content), append([]string{"Prefer", "respond-async"}, header...)...)
	if status != http.StatusAccepted {
		t.Fatalf("async submit: status %d, body %s", status, body)
	}
	j := decode[jobBody](t, body)
	if j.Object != "job" || j.Mode != "async" || h.Get("Location") != "/v1/jobs/"+j.ID || h.Get("Preference-Applied") != "respond-async" {
		t.Fatalf("async submit answered %v %s", h, body)
	}
	return j
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pollJob polls GET /v1/jobs/{id} until the job reaches want.
func pollJob(t *testing.T, s *stacktest.Stack, key, id, want string) jobBody {
	t.Helper()
	var j jobBody
	waitFor(t, "job "+id+" to be "+want, func() bool {
		status, _, body := call(t, s, key, http.MethodGet, "/v1/jobs/"+id, "")
		if status != http.StatusOK {
			t.Fatalf("poll %s: %d %s", id, status, body)
		}
		j = decode[jobBody](t, body)
		return j.Status == want
	})
	return j
}

type eventBody struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Status     string `json:"status"`
	Attempts   int    `json:"attempts"`
	Deliveries []struct {
		Attempt    int     `json:"attempt"`
		StatusCode *int    `json:"status_code"`
		Error      *string `json:"error"`
	} `json:"deliveries"`
}

func webhookLog(t *testing.T, s *stacktest.Stack, key, id string) []eventBody {
	t.Helper()
	status, _, body := call(t, s, key, http.MethodGet, "/v1/jobs/"+id+"/webhooks", "")
	if status != http.StatusOK {
		t.Fatalf("webhook log of %s: %d %s", id, status, body)
	}
	return decode[struct{ Data []eventBody }](t, body).Data
}

// Submit async, poll to the result, and receive a signed job.succeeded or
// job.failed callback; a sync job with a callback gets one too.
func TestAsyncJobWithWebhook(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	recv := newReceiver(t, stacktest.WebhookSecret)

	// RFC 7240 allows several preferences in one header.
	j := submitAsync(t, s, stacktest.Key, "hi\n"+bedrocksim.Directive("output_tokens", "5"),
		"X-Sluice-Callback-Url", recv.URL+"/hook?src=test", "Prefer", "wait=5, respond-async")
	if j.Status != "queued" {
		t.Fatalf("new async job is %s", j.Status)
	}
	done := pollJob(t, s, stacktest.Key, j.ID, "succeeded")
	var completion struct {
		Object  string
		Choices []struct{ Message struct{ Content string } }
	}
	if err := json.Unmarshal(done.Result, &completion); err != nil || completion.Object != "chat.completion" || len(strings.Fields(completion.Choices[0].Message.Content)) != 5 {
		t.Fatalf("result = %s", done.Result)
	}
	waitFor(t, "the job.succeeded callback", func() bool { _, ok := recv.deliveryFor(j.ID); return ok })
	d, _ := recv.deliveryFor(j.ID)
	if d.Type != "job.succeeded" || d.Status != "succeeded" || !bytes.Equal(d.Result, done.Result) || !strings.HasPrefix(d.ID, "msg_") {
		t.Fatalf("delivery = %+v", d)
	}
	// The receiver answers before the dispatcher records its answer.
	waitFor(t, "the delivery in the log", func() bool { return webhookLog(t, s, stacktest.Key, j.ID)[0].Status == "delivered" })
	events := webhookLog(t, s, stacktest.Key, j.ID)
	if len(events) != 1 || events[0].ID != d.ID || events[0].Status != "delivered" || len(events[0].Deliveries) != 1 || *events[0].Deliveries[0].StatusCode != 204 {
		t.Fatalf("webhook log = %+v", events)
	}

	// A job Bedrock refuses fails, and says so in its callback.
	bad := submitAsync(t, s, stacktest.Key, "hi\n"+bedrocksim.Directive("fail", "ValidationException"), "X-Sluice-Callback-Url", recv.URL)
	failed := pollJob(t, s, stacktest.Key, bad.ID, "failed")
	waitFor(t, "the job.failed callback", func() bool { _, ok := recv.deliveryFor(bad.ID); return ok })
	if d, _ := recv.deliveryFor(bad.ID); d.Type != "job.failed" || !bytes.Equal(d.Error, failed.Error) || !strings.Contains(string(d.Error), "invalid_request_error") {
		t.Fatalf("delivery = %+v, job error %s", d, failed.Error)
	}

	// Sync and async jobs are the same jobs: a sync caller can ask for a callback too.
	status, h, body := call(t, s, stacktest.Key, http.MethodPost, "/v1/chat/completions", chatBody("sync"), "X-Sluice-Callback-Url", recv.URL)
	if status != http.StatusOK || !strings.Contains(string(body), "chat.completion") {
		t.Fatalf("sync with callback: %d %s", status, body)
	}
	syncID := h.Get("X-Sluice-Job-Id")
	waitFor(t, "the sync job's callback", func() bool { _, ok := recv.deliveryFor(syncID); return ok })

	// The official SDK can submit async by adding the header; its answer is a
	// job, not a completion, so read the raw response.
	var raw *http.Response
	sdk := client(s)
	_, _ = sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "claude-sonnet", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("from the SDK")},
	}, option.WithHeader("Prefer", "respond-async"), option.WithResponseInto(&raw))
	if raw == nil || raw.StatusCode != http.StatusAccepted || !strings.HasPrefix(raw.Header.Get("Location"), "/v1/jobs/job_") {
		t.Fatalf("SDK async submit: %+v", raw)
	}
	pollJob(t, s, stacktest.Key, strings.TrimPrefix(raw.Header.Get("Location"), "/v1/jobs/"), "succeeded")
	if n := len(recv.deliveries()); n != 3 {
		t.Fatalf("%d deliveries, want 3 (jobs without a callback URL send none)", n)
	}
}

// A receiver that fails is retried with backoff until it answers; every
// attempt carries the same webhook-id and is logged; redelivery on demand
// sends the event again; a receiver that never answers ends the event failed.
func TestWebhookRetriesAndRedelivery(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Webhooks: func(d *webhook.Dispatcher) { d.Schedule.MaxAge = 2 * time.Second }})
	flaky := newReceiver(t, stacktest.WebhookSecret)
	flaky.failFirst = 2

	j := submitAsync(t, s, stacktest.Key, "retry me", "X-Sluice-Callback-Url", flaky.URL)
	waitFor(t, "delivery after two failures", func() bool { _, ok := flaky.deliveryFor(j.ID); return ok })
	waitFor(t, "the delivery in the log", func() bool { return webhookLog(t, s, stacktest.Key, j.ID)[0].Status == "delivered" })
	events := webhookLog(t, s, stacktest.Key, j.ID)
	if len(events) != 1 || events[0].Status != "delivered" || events[0].Attempts != 3 || len(events[0].Deliveries) != 3 {
		t.Fatalf("webhook log = %+v", events)
	}
	for i, want := range []int{500, 500, 204} {
		d := events[0].Deliveries[i]
		if d.Attempt != i+1 || d.StatusCode == nil || *d.StatusCode != want || (want == 500) != (d.Error != nil) {
			t.Fatalf("delivery %d = %+v, want status %d", i, d, want)
		}
	}
	flaky.mu.Lock()
	requests := flaky.requests
	flaky.mu.Unlock()
	if requests != 3 {
		t.Fatalf("receiver saw %d requests", requests)
	}

	status, _, body := call(t, s, stacktest.Key, http.MethodPost, "/v1/jobs/"+j.ID+"/webhooks/"+events[0].ID+"/redeliver", "")
	if status != http.StatusAccepted {
		t.Fatalf("redeliver: %d %s", status, body)
	}
	waitFor(t, "the redelivery", func() bool { return len(flaky.deliveries()) == 2 })
	if d := flaky.deliveries(); d[1].ID != d[0].ID || d[1].Attempt != 1 {
		t.Fatalf("redelivery = %+v, want the same webhook-id again", d)
	}
	waitFor(t, "the redelivery in the log", func() bool {
		e := webhookLog(t, s, stacktest.Key, j.ID)[0]
		return e.Status == "delivered" && len(e.Deliveries) == 4
	})

	down := newReceiver(t, stacktest.WebhookSecret)
	down.failFirst = 1 << 30
	gone := submitAsync(t, s, stacktest.Key, "nobody home", "X-Sluice-Callback-Url", down.URL)
	waitFor(t, "the event to fail", func() bool {
		e := webhookLog(t, s, stacktest.Key, gone.ID)
		return len(e) == 1 && e[0].Status == "failed"
	})
	if e := webhookLog(t, s, stacktest.Key, gone.ID)[0]; e.Attempts < 3 || len(e.Deliveries) != e.Attempts {
		t.Fatalf("failed event = %+v", e)
	}
}

// A receiver that hangs holds at most its per-host share of the dispatcher;
// every other receiver's events are delivered while it hangs.
func TestWebhookHangingReceiverDelaysNoOne(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Webhooks: func(d *webhook.Dispatcher) {
		d.Concurrency, d.PerHost, d.Timeout = 4, 2, time.Minute
	}})
	hung := newReceiver(t, stacktest.WebhookSecret)
	hung.hang = make(chan struct{})
	ok := newReceiver(t, stacktest.WebhookSecret)

	var stuck, prompt []string
	for i := range 3 {
		stuck = append(stuck, submitAsync(t, s, stacktest.Key, fmt.Sprint("stuck ", i), "X-Sluice-Callback-Url", hung.URL).ID)
	}
	waitFor(t, "the hanging receiver to hold two requests", func() bool {
		hung.mu.Lock()
		defer hung.mu.Unlock()
		return hung.holding == 2
	})
	for i := range 6 {
		prompt = append(prompt, submitAsync(t, s, stacktest.Key, fmt.Sprint("prompt ", i), "X-Sluice-Callback-Url", ok.URL).ID)
	}
	waitFor(t, "every other callback", func() bool { return len(ok.deliveries()) == len(prompt) })
	hung.mu.Lock()
	holding, requests := hung.holding, hung.requests
	hung.mu.Unlock()
	if holding != 2 || requests != 2 {
		t.Fatalf("the hanging receiver holds %d of %d requests; want 2 of 2 (its per-host limit)", holding, requests)
	}

	close(hung.hang)
	waitFor(t, "the hanging receiver's callbacks", func() bool { return len(hung.deliveries()) == len(stuck) })
}

// The same Idempotency-Key returns the same job; reused for another request
// it is a 422; keys are scoped to the tenant.
func TestIdempotentSubmit(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1})
	first := submitAsync(t, s, stacktest.Key, "once", "Idempotency-Key", "order-42")
	status, h, body := call(t, s, stacktest.Key, http.MethodPost, "/v1/chat/completions", chatBody("once"), "Prefer", "respond-async", "Idempotency-Key", "order-42")
	if status != http.StatusAccepted || decode[jobBody](t, body).ID != first.ID || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("resubmit: %d %v %s", status, h, body)
	}
	status, _, body = call(t, s, stacktest.Key, http.MethodPost, "/v1/chat/completions", chatBody("something else"), "Prefer", "respond-async", "Idempotency-Key", "order-42")
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), "idempotency_key_reused") {
		t.Fatalf("reused key: %d %s", status, body)
	}
	other := createKey(t, s, "--name", "other")
	if j := submitAsync(t, s, other.secret, "once", "Idempotency-Key", "order-42"); j.ID == first.ID {
		t.Fatal("another tenant's idempotency key returned the first tenant's job")
	}
	var n int
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d jobs (err %v), want 2", n, err)
	}
}

type createdKey struct{ id, secret, webhookSecret, tenant string }

// createKey runs "api keys create ARGS" as the CLI does and reads what it prints.
func createKey(t *testing.T, s *stacktest.Stack, args ...string) createdKey {
	t.Helper()
	var out bytes.Buffer
	if err := apikey.Command(context.Background(), apikey.NewStore(s.DB), webhook.NewGuard(true).CheckURL, append([]string{"create"}, args...), &out); err != nil {
		t.Fatalf("keys create %v: %v", args, err)
	}
	var k createdKey
	for _, line := range strings.Split(out.String(), "\n") {
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		switch name {
		case "id":
			k.id = value
		case "api key":
			k.secret = value
		case "webhook secret":
			k.webhookSecret = value
		case "tenant":
			k.tenant = value
		}
	}
	if !strings.HasPrefix(k.secret, apikey.Prefix) || !strings.HasPrefix(k.webhookSecret, "whsec_") || k.id == "" {
		t.Fatalf("keys create printed %q", out.String())
	}
	return k
}

// Keys made and revoked with the CLI; each sees only its tenant's jobs; a
// key's default callback is signed with the key's own secret.
func TestAPIKeysAndTenants(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	ctx := context.Background()
	recv := newReceiver(t, "")
	a := createKey(t, s, "--name", "alpha", "--webhook-url", recv.URL+"/alpha")
	recv.mu.Lock()
	recv.secret = a.webhookSecret
	recv.mu.Unlock()
	b := createKey(t, s, "--name", "beta")
	if a.tenant == b.tenant {
		t.Fatalf("two keys share tenant %s", a.tenant)
	}

	j := submitAsync(t, s, a.secret, "alpha's job")
	pollJob(t, s, a.secret, j.ID, "succeeded")
	waitFor(t, "alpha's default callback", func() bool { _, ok := recv.deliveryFor(j.ID); return ok })

	// Another tenant's job is as absent as a job that never existed.
	for _, key := range []string{b.secret, stacktest.Key} {
		for _, req := range [][2]string{{"GET", "/v1/jobs/" + j.ID}, {"POST", "/v1/jobs/" + j.ID + "/cancel"}, {"GET", "/v1/jobs/" + j.ID + "/webhooks"}} {
			if status, _, body := call(t, s, key, req[0], req[1], ""); status != http.StatusNotFound || !strings.Contains(string(body), `"not_found"`) {
				t.Fatalf("%s %s with another tenant's key: %d %s", req[0], req[1], status, body)
			}
		}
		status, _, body := call(t, s, key, http.MethodGet, "/v1/jobs", "")
		if status != http.StatusOK || strings.Contains(string(body), j.ID) {
			t.Fatalf("another tenant's list shows the job: %d %s", status, body)
		}
	}
	status, _, body := call(t, s, a.secret, http.MethodGet, "/v1/jobs", "")
	if list := decode[struct{ Data []jobBody }](t, body); status != 200 || len(list.Data) != 1 || list.Data[0].ID != j.ID {
		t.Fatalf("alpha's list: %d %s", status, body)
	}

	// A key made with --tenant shares the tenant's jobs (key rotation).
	a2 := createKey(t, s, "--name", "alpha-2", "--tenant", a.tenant)
	if status, _, _ := call(t, s, a2.secret, http.MethodGet, "/v1/jobs/"+j.ID, ""); status != http.StatusOK {
		t.Fatalf("rotated key cannot read its tenant's job: %d", status)
	}

	var out bytes.Buffer
	store := apikey.NewStore(s.DB)
	if err := apikey.Command(ctx, store, nil, []string{"list"}, &out); err != nil || !strings.Contains(out.String(), a.id) || !strings.Contains(out.String(), "beta") || strings.Contains(out.String(), a.secret) {
		t.Fatalf("keys list: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := apikey.Command(ctx, store, nil, []string{"revoke", a.id}, &out); err != nil || !strings.Contains(out.String(), "revoked "+a.id) {
		t.Fatalf("keys revoke: %v %s", err, out.String())
	}
	if err := apikey.Command(ctx, store, nil, []string{"revoke", "key_nope"}, &out); err == nil {
		t.Fatal("revoking an unknown key succeeded")
	}
	for _, key := range []string{a.secret, apikey.Prefix + "UNKNOWNUNKNOWNUNKNOWNUNKNO"} {
		if status, _, body := call(t, s, key, http.MethodGet, "/v1/jobs", ""); status != http.StatusUnauthorized || !strings.Contains(string(body), "invalid_api_key") {
			t.Fatalf("revoked or unknown key: %d %s", status, body)
		}
	}
	if status, _, _ := call(t, s, b.secret, http.MethodGet, "/v1/models", ""); status != http.StatusOK {
		t.Fatalf("beta stopped working when alpha was revoked: %d", status)
	}
}

// A job cancelled before it starts never reaches Bedrock; one cancelled while
// running ends cancelled and its result is dropped; an ended job cannot be
// cancelled.
func TestCancel(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1})
	recv := newReceiver(t, stacktest.WebhookSecret)
	queued := submitAsync(t, s, stacktest.Key, "never mind", "X-Sluice-Callback-Url", recv.URL)
	status, _, body := call(t, s, stacktest.Key, http.MethodPost, "/v1/jobs/"+queued.ID+"/cancel", "")
	if j := decode[jobBody](t, body); status != http.StatusOK || j.Status != "cancelled" {
		t.Fatalf("cancel queued: %d %s", status, body)
	}
	status, _, body = call(t, s, stacktest.Key, http.MethodPost, "/v1/jobs/"+queued.ID+"/cancel", "")
	if status != http.StatusConflict || !strings.Contains(string(body), "job_not_cancellable") {
		t.Fatalf("cancel cancelled: %d %s", status, body)
	}

	s.StartWorker()
	waitFor(t, "the job.cancelled callback", func() bool { d, ok := recv.deliveryFor(queued.ID); return ok && d.Type == "job.cancelled" })
	after := submitAsync(t, s, stacktest.Key, "afterwards")
	pollJob(t, s, stacktest.Key, after.ID, "succeeded")
	status, _, body = call(t, s, stacktest.Key, http.MethodPost, "/v1/jobs/"+after.ID+"/cancel", "")
	if status != http.StatusConflict {
		t.Fatalf("cancel succeeded job: %d %s", status, body)
	}

	// A running job: its call is stopped (or never made, if the cancel came
	// first), and no result is kept.
	running := submitAsync(t, s, stacktest.Key, "slow\n"+bedrocksim.Directive("ttft_ms", "1500"))
	pollJob(t, s, stacktest.Key, running.ID, "running")
	status, _, body = call(t, s, stacktest.Key, http.MethodPost, "/v1/jobs/"+running.ID+"/cancel", "")
	if status != http.StatusOK || decode[jobBody](t, body).Status != "cancelled" {
		t.Fatalf("cancel running: %d %s", status, body)
	}
	lane := func() bedrocksim.Totals {
		return s.Sim.Stats().Model("111111111111", "us.anthropic.claude-sonnet-4-20250514-v1:0").Totals
	}
	waitFor(t, "the running call to end", func() bool { return lane().InFlight == 0 })
	if n := lane().Admitted; n > 2 {
		t.Fatalf("the simulator saw %d calls; want at most the job after the cancel and the one cancelled while running", n)
	}
	if j := pollJob(t, s, stacktest.Key, running.ID, "cancelled"); j.Result != nil {
		t.Fatalf("a cancelled job kept a result: %s", j.Result)
	}
	// Two calls: the job after the cancel and the one cancelled while running.
	var attempts int
	if err := s.DB.QueryRow(context.Background(), `SELECT attempts FROM jobs WHERE id = $1`, queued.ID).Scan(&attempts); err != nil || attempts != 0 {
		t.Fatalf("the job cancelled before it started was claimed %d times (err %v)", attempts, err)
	}
}

// GET /v1/jobs filters and pages with OpenAI's cursor list shape.
func TestListJobs(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1})
	var ids []string
	for i := range 5 {
		ids = append(ids, submitAsync(t, s, stacktest.Key, fmt.Sprint("job ", i)).ID)
	}
	if status, _, body := call(t, s, stacktest.Key, http.MethodPost, "/v1/jobs/"+ids[1]+"/cancel", ""); status != 200 {
		t.Fatalf("cancel: %d %s", status, body)
	}
	type page struct {
		Object  string
		Data    []jobBody
		HasMore bool   `json:"has_more"`
		FirstID string `json:"first_id"`
		LastID  string `json:"last_id"`
	}
	list := func(query string) page {
		t.Helper()
		status, _, body := call(t, s, stacktest.Key, http.MethodGet, "/v1/jobs"+query, "")
		if status != http.StatusOK {
			t.Fatalf("list %s: %d %s", query, status, body)
		}
		return decode[page](t, body)
	}
	var seen []string
	after := ""
	for range 3 {
		p := list("?limit=2" + after)
		for _, j := range p.Data {
			seen = append(seen, j.ID)
		}
		if p.Object != "list" || len(p.Data) == 0 || p.FirstID != p.Data[0].ID || p.LastID != p.Data[len(p.Data)-1].ID {
			t.Fatalf("page = %+v", p)
		}
		if !p.HasMore {
			break
		}
		after = "&after=" + p.LastID
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("pages gave %v, want newest first %v", seen, want)
	}
	if p := list("?status=cancelled"); len(p.Data) != 1 || p.Data[0].ID != ids[1] || p.HasMore {
		t.Fatalf("cancelled = %+v", p)
	}
	if p := list("?status=queued&model=claude-sonnet"); len(p.Data) != 4 {
		t.Fatalf("queued = %+v", p)
	}
	if p := list("?model=gpt-9"); len(p.Data) != 0 || p.HasMore || p.FirstID != "" {
		t.Fatalf("other model = %+v", p)
	}
}

// Bad input to the async API gets a 4xx with an OpenAI error body.
func TestAsyncBadInput(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1, BlockPrivateCallbacks: true})
	job := submitAsync(t, s, stacktest.Key, "a real job")
	// An address literal needs no DNS; a public one is accepted.
	submitAsync(t, s, stacktest.Key, "public callback", "X-Sluice-Callback-Url", "https://93.184.215.14/hooks/sluice")
	cases := []struct {
		name, method, path, body string
		header                   []string
		status                   int
		code, param              string
	}{
		{"loopback callback", "POST", "/v1/chat/completions", chatBody("x"), []string{"X-Sluice-Callback-Url", "http://127.0.0.1:8080/hook"}, 400, "invalid_callback_url", ""},
		{"localhost callback", "POST", "/v1/chat/completions", chatBody("x"), []string{"X-Sluice-Callback-Url", "http://localhost/hook"}, 400, "invalid_callback_url", ""},
		{"private callback", "POST", "/v1/chat/completions", chatBody("x"), []string{"X-Sluice-Callback-Url", "https://10.1.2.3/hook"}, 400, "invalid_callback_url", ""},
		{"metadata callback", "POST", "/v1/chat/completions", chatBody("x"), []string{"X-Sluice-Callback-Url", "http://169.254.169.254/latest/meta-data/"}, 400, "invalid_callback_url", ""},
		{"IPv6 loopback callback", "POST", "/v1/chat/completions", chatBody("x"), []string{"X-Sluice-Callback-Url", "http://[::1]:80/"}, 400, "invalid_callback_url", ""},
		{"mapped IPv6 callback", "POST", "/v1/chat/completions", chatBody("x"), []string{"X-Sluice-Callback-Url", "http://[::ffff:127.0.0.1]/"}, 400, "invalid_callback_url", ""},
		{"callback not a URL", "POST", "/v1/chat/completions", chatBody("x"), []string{"X-Sluice-Callback-Url", "not a url"}, 400, "invalid_callback_url", ""},
		{"callback not http", "POST", "/v1/chat/completions", chatBody("x"), []string{"X-Sluice-Callback-Url", "ftp://93.184.215.14/x"}, 400, "invalid_callback_url", ""},
		{"callback with credentials", "POST", "/v1/chat/completions", chatBody("x"), []string{"X-Sluice-Callback-Url", "https://u:p@93.184.215.14/x"}, 400, "invalid_callback_url", ""},
		{"async stream", "POST", "/v1/chat/completions", `{"model":"claude-sonnet","stream":true,"messages":[{"role":"user","content":"x"}]}`, nil, 400, "", "stream"},
		{"idempotency key too long", "POST", "/v1/chat/completions", chatBody("x"), []string{"Idempotency-Key", strings.Repeat("k", 300)}, 400, "invalid_idempotency_key", ""},
		{"unknown job", "GET", "/v1/jobs/job_0000", "", nil, 404, "not_found", ""},
		{"cancel unknown job", "POST", "/v1/jobs/job_0000/cancel", "", nil, 404, "not_found", ""},
		{"webhooks of unknown job", "GET", "/v1/jobs/job_0000/webhooks", "", nil, 404, "not_found", ""},
		{"redeliver unknown event", "POST", "/v1/jobs/" + job.ID + "/webhooks/msg_nope/redeliver", "", nil, 404, "not_found", ""},
		{"bad cursor", "GET", "/v1/jobs?after=job_nope", "", nil, 400, "", "after"},
		{"bad limit", "GET", "/v1/jobs?limit=1000", "", nil, 400, "", "limit"},
		{"bad status", "GET", "/v1/jobs?status=done", "", nil, 400, "", "status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			header := append([]string{"Prefer", "respond-async"}, tc.header...)
			status, _, body := call(t, s, stacktest.Key, tc.method, tc.path, tc.body, header...)
			if status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", status, tc.status, body)
			}
			e := decode[struct {
				Error struct {
					Message, Type string
					Code, Param   *string
				}
			}](t, body).Error
			if e.Message == "" || e.Type == "" || (tc.code != "" && (e.Code == nil || *e.Code != tc.code)) || (tc.param != "" && (e.Param == nil || *e.Param != tc.param)) {
				t.Fatalf("error body = %s", body)
			}
		})
	}
	var n int
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d jobs (err %v); bad input must create none", n, err)
	}
}

// Retention deletes jobs that ended long ago, with their webhook events, and
// nothing else.
func TestRetention(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1})
	ctx := context.Background()
	recv := newReceiver(t, stacktest.WebhookSecret)
	old := submitAsync(t, s, stacktest.Key, "old", "X-Sluice-Callback-Url", recv.URL)
	recent := submitAsync(t, s, stacktest.Key, "recent")
	running := submitAsync(t, s, stacktest.Key, "long running")
	queued := submitAsync(t, s, stacktest.Key, "long queued")
	for _, id := range []string{old.ID, recent.ID} {
		call(t, s, stacktest.Key, http.MethodPost, "/v1/jobs/"+id+"/cancel", "")
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := s.DB.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE jobs SET finished_at = now() - interval '8 days', created_at = now() - interval '8 days' WHERE id = $1`, old.ID)
	exec(`UPDATE jobs SET state = 'running', started_at = now() - interval '30 days', created_at = now() - interval '30 days' WHERE id = $1`, running.ID)
	exec(`UPDATE jobs SET created_at = now() - interval '30 days' WHERE id = $1`, queued.ID)

	r := &worker.Retention{Store: s.Store, Age: 7 * 24 * time.Hour, Log: slog.New(slog.DiscardHandler), Batch: 1}
	n, err := r.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("swept %d (err %v), want 1", n, err)
	}
	if status, _, _ := call(t, s, stacktest.Key, http.MethodGet, "/v1/jobs/"+old.ID, ""); status != http.StatusNotFound {
		t.Fatalf("old job still there: %d", status)
	}
	for _, id := range []string{recent.ID, running.ID, queued.ID} {
		if status, _, _ := call(t, s, stacktest.Key, http.MethodGet, "/v1/jobs/"+id, ""); status != http.StatusOK {
			t.Fatalf("job %s was deleted", id)
		}
	}
	var events int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM webhook_events`).Scan(&events); err != nil || events != 0 {
		t.Fatalf("%d webhook events left (err %v)", events, err)
	}
}
