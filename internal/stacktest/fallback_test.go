package stacktest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/worker"
)

const novaProID = "amazon.nova-pro-v1:0"

// fallbackConfig serves alias "main" from account a (AWS 111111111111) with
// budget mainTPM, and "backup" from account b (222222222222); main falls back
// to backup, after fallbackAfter in the queue when it is set.
func fallbackConfig(mainTPM int, fallbackAfter string) string {
	after := ""
	if fallbackAfter != "" {
		after = ", fallback_after: " + fallbackAfter
	}
	return fmt.Sprintf(`
models:
  main: {bedrock_model_id: %q, default_max_tokens: 64, max_output_tokens: 4000, burndown: 1, fallbacks: [backup]%s}
  backup: {bedrock_model_id: %q, default_max_tokens: 64, max_output_tokens: 1000, burndown: 1}
accounts:
  - {name: a, region: us-east-1, role_arn: "arn:aws:iam::111111111111:role/bedrock-caller", models: {main: {tpm: %d}}}
  - {name: b, region: us-east-1, role_arn: "arn:aws:iam::222222222222:role/bedrock-caller", models: {backup: {tpm: 1000000}}}
`, novaID, after, novaProID, mainTPM)
}

// served is one sync answer with the headers that say who served it.
type served struct {
	status         int
	model, account string
	jobID          string
	body           []byte
}

func complete(t *testing.T, s *stacktest.Stack, model, text string, outTokens int) served {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": model, "max_tokens": outTokens, "messages": []map[string]string{
		{"role": "user", "content": text + "\n" + bedrocksim.Directive("output_tokens", fmt.Sprint(outTokens))}}})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+stacktest.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return served{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return served{status: resp.StatusCode, model: resp.Header.Get("X-Sluice-Model"), account: resp.Header.Get("X-Sluice-Account"),
		jobID: resp.Header.Get("X-Sluice-Job-Id"), body: b}
}

type jobView struct {
	Model          string `json:"model"`
	RequestedModel string `json:"requested_model"`
	Account        string `json:"account"`
	Status         string `json:"status"`
}

func getJob(t *testing.T, s *stacktest.Stack, id string) jobView {
	t.Helper()
	status, body := s.Do(http.MethodGet, "/v1/jobs/"+id, "")
	if status != http.StatusOK {
		t.Fatalf("GET /v1/jobs/%s: %d %s", id, status, body)
	}
	var j jobView
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatal(err)
	}
	return j
}

func fastJanitor(e *config.Env) { e.JanitorEvery = 200 * time.Millisecond }

// The alias's only account loses its model access: its pool goes down, the
// job it was running moves to the fallback alias, and new requests go to the
// fallback at submit. Every caller gets its answer, and the response and the
// job say which alias and account served it.
func TestFallbackWhenTheAliasCannotBeServed(t *testing.T) {
	sim := bedrocksim.Config{Accounts: []bedrocksim.AccountConfig{{ID: "111111111111"}, {ID: "222222222222"}}}
	s := stacktest.Start(t, stacktest.Options{
		Config: fallbackConfig(1_000_000, ""), Sim: &sim, Workers: -1, Env: fastJanitor,
		Tune: func(p *worker.Pool) { fastPools(p); p.MaxCheckBackoff = 2 * time.Second },
	})
	s.Sim.Refuse("111111111111", bedrocksim.RefuseModel)
	s.StartWorker()

	start := time.Now()
	first := complete(t, s, "main", "the first", 20)
	if first.status != http.StatusOK || first.model != "backup" || first.account != "b" {
		t.Fatalf("first request: %d served by %q/%q: %s", first.status, first.model, first.account, first.body)
	}
	t.Logf("the first request, which found account a refusing, was served by the fallback after %s", time.Since(start).Round(time.Millisecond))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the first request took %s", took)
	}
	// Once the api knows main has no usable account, requests go to backup
	// at submit.
	waitFor(t, "pool a to report down", func() bool { return accountsView(t, s)["a"].Status == "down" })
	time.Sleep(500 * time.Millisecond) // the admission estimates are read every 250 ms
	var wg sync.WaitGroup
	answers := make([]served, 8)
	for i := range answers {
		wg.Go(func() { answers[i] = complete(t, s, "main", fmt.Sprintf("request %d", i), 20) })
	}
	wg.Wait()
	for i, a := range answers {
		if a.status != http.StatusOK || a.model != "backup" || a.account != "b" {
			t.Fatalf("request %d: %d served by %q/%q: %s", i, a.status, a.model, a.account, a.body)
		}
	}
	for _, id := range []string{first.jobID, answers[0].jobID} {
		if j := getJob(t, s, id); j.Model != "backup" || j.RequestedModel != "main" || j.Account != "b" || j.Status != "succeeded" {
			t.Fatalf("job %s: %+v, want served by backup on b for main", id, j)
		}
	}
	if n := s.Sim.Stats().Model("222222222222", novaProID).Totals.Admitted; n != 9 {
		t.Fatalf("account b answered %d calls, want 9", n)
	}
	// A request the fallback would refuse (more output than backup's
	// max_output_tokens) is not sent there: no account can serve it, 503.
	if big := complete(t, s, "main", "too long for backup", 2000); big.status != http.StatusServiceUnavailable {
		t.Fatalf("a request backup cannot take: %d %s", big.status, big.body)
	}
	// An alias served by its own account names itself and no requested model.
	own := complete(t, s, "backup", "direct", 20)
	if own.status != http.StatusOK || own.model != "backup" || getJob(t, s, own.jobID).RequestedModel != "" {
		t.Fatalf("direct request: %d %q, job %+v", own.status, own.model, getJob(t, s, own.jobID))
	}
}

// Jobs that wait in the alias's queue longer than its fallback_after move to
// the fallback, while the alias's own account serves what its budget allows.
func TestFallbackAfterALongQueueWait(t *testing.T) {
	// Account a's budget holds about one call per 10 s window; b's is large.
	sim := bedrocksim.Config{Accounts: []bedrocksim.AccountConfig{{ID: "111111111111"}, {ID: "222222222222"}}}
	s := stacktest.Start(t, stacktest.Options{
		Config: fallbackConfig(400, "1s"), Sim: &sim, Window: 10 * time.Second, Env: fastJanitor, Tune: fastPools,
	})
	start := time.Now()
	var wg sync.WaitGroup
	answers := make([]served, 8)
	took := make([]time.Duration, len(answers))
	for i := range answers {
		wg.Go(func() {
			answers[i] = complete(t, s, "main", fmt.Sprintf("request %d", i), 100)
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	byMain, byBackup := 0, 0
	for i, a := range answers {
		if a.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, a.status, a.body)
		}
		j := getJob(t, s, a.jobID)
		switch {
		case a.model == "main" && a.account == "a" && j.RequestedModel == "":
			byMain++
		case a.model == "backup" && a.account == "b" && j.RequestedModel == "main" && j.Model == "backup":
			byBackup++
			// It waited about fallback_after, then ran at once.
			if took[i] > 5*time.Second {
				t.Errorf("request %d, moved to the fallback, took %s", i, took[i])
			}
		default:
			t.Fatalf("request %d: served by %q/%q, job %+v", i, a.model, a.account, j)
		}
	}
	t.Logf("%d served by main's account, %d moved to the fallback", byMain, byBackup)
	if byMain == 0 || byBackup < 3 {
		t.Fatalf("%d served by main, %d by the fallback; want main's budget used and the rest moved", byMain, byBackup)
	}
	var moved int
	s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE requested_model = 'main' AND model = 'backup'`).Scan(&moved)
	if moved != byBackup {
		t.Fatalf("%d jobs recorded as moved, %d answers from the fallback", moved, byBackup)
	}
}
