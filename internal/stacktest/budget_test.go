package stacktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/queue"
	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/worker"
)

const novaID = "amazon.nova-lite-v1:0"

// budgetConfig serves "nova" from the given accounts (name → account id), each
// with tpm tokens per window.
func budgetConfig(tpm int, accounts map[string]string) string {
	var b strings.Builder
	b.WriteString("models:\n  nova: {bedrock_model_id: \"" + novaID + "\", default_max_tokens: 64, max_output_tokens: 1000, burndown: 1}\naccounts:\n")
	for name, id := range accounts {
		fmt.Fprintf(&b, "  - {name: %s, region: us-east-1, role_arn: \"arn:aws:iam::%s:role/bedrock-caller\", models: {nova: {tpm: %d}}}\n", name, id, tpm)
	}
	return b.String()
}

func simWithQuota(tpm int64, ids ...string) *bedrocksim.Config {
	cfg := bedrocksim.Config{TTFT: 20 * time.Millisecond, PerToken: 200 * time.Microsecond}
	for _, id := range ids {
		cfg.Accounts = append(cfg.Accounts, bedrocksim.AccountConfig{ID: id, Quotas: map[string]bedrocksim.QuotaConfig{novaID: {TPM: tpm}}})
	}
	return &cfg
}

// overload sends sync requests at rate per second for d, each asking for
// outTokens of output, and waits for every answer. It returns the HTTP
// statuses seen.
func overload(t *testing.T, s *stacktest.Stack, rate int, d time.Duration, outTokens int) map[int]int {
	t.Helper()
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := fmt.Sprintf("request %d: %s\n%s", i, strings.Repeat("lorem ipsum ", 15), bedrocksim.Directive("output_tokens", fmt.Sprint(outTokens)))
			body, _ := json.Marshal(map[string]any{"model": "nova", "max_tokens": outTokens, "messages": []map[string]string{{"role": "user", "content": text}}})
			status, resp := s.Do(http.MethodPost, "/v1/chat/completions", string(body))
			mu.Lock()
			statuses[status]++
			mu.Unlock()
			if status != http.StatusOK {
				t.Logf("request %d: %d %s", i, status, resp)
			}
		}()
	}
	wg.Wait()
	return statuses
}

// utilization is the simulator's charge over the budget in the windows where
// work was waiting; the test needs a few of them to judge.
func utilization(t *testing.T, m bedrocksim.ModelStats) float64 {
	t.Helper()
	if len(m.Windows) < 6 {
		t.Fatalf("only %d windows of traffic", len(m.Windows))
	}
	u, _ := m.SaturatedUtilization()
	return u
}

func fastPools(p *worker.Pool) { p.Poll = 200 * time.Millisecond }

// Three accounts at a small budget, about 3× overloaded: Bedrock is never asked
// for more than it gives, the budget is used, and every caller gets an answer.
func TestOverloadUsesEveryBudgetWithoutThrottles(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const tpm = 1500 // per 1 s window; a request costs about 260 tokens
	accounts := map[string]string{"a1": "111111111111", "a2": "222222222222", "a3": "333333333333"}
	s := stacktest.Start(t, stacktest.Options{
		Config: budgetConfig(tpm, accounts),
		Sim:    simWithQuota(tpm, "111111111111", "222222222222", "333333333333"),
		Window: time.Second, SyncTimeout: 2 * time.Minute, Tune: fastPools,
	})
	// Capacity is about 3 × 1500 / 260 ≈ 17 requests/s; offer 3× that.
	statuses := overload(t, s, 52, 4*time.Second, 200)
	if statuses[http.StatusOK] == 0 || len(statuses) != 1 {
		t.Fatalf("statuses = %v; every request must succeed", statuses)
	}
	stats := s.Sim.Stats()
	for name, id := range accounts {
		m := stats.Model(id, novaID)
		if m.Totals.Throttled != 0 {
			t.Errorf("account %s: %d throttles at Bedrock", name, m.Totals.Throttled)
		}
		u := utilization(t, m)
		t.Logf("account %s: %d calls, utilization %.1f%%", name, m.Totals.Admitted, 100*u)
		if u < 0.9 || u > 1.05 {
			t.Errorf("account %s: utilization %.3f, want close to 1", name, u)
		}
	}
	var unfinished int
	s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE state <> 'succeeded'`).Scan(&unfinished)
	if unfinished != 0 {
		t.Fatalf("%d jobs did not succeed", unfinished)
	}
}

// Two worker replicas of one account share its budget: scaling out does not
// multiply the quota.
func TestReplicasShareTheAccountBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const tpm = 1500
	s := stacktest.Start(t, stacktest.Options{
		Config: budgetConfig(tpm, map[string]string{"a1": "111111111111"}),
		Sim:    simWithQuota(tpm, "111111111111"),
		Window: time.Second, SyncTimeout: 2 * time.Minute, Workers: 2, Tune: fastPools,
	})
	statuses := overload(t, s, 18, 4*time.Second, 200)
	if len(statuses) != 1 || statuses[http.StatusOK] == 0 {
		t.Fatalf("statuses = %v", statuses)
	}
	m := s.Sim.Stats().Model("111111111111", novaID)
	if m.Totals.Throttled != 0 {
		t.Fatalf("%d throttles with two replicas", m.Totals.Throttled)
	}
	u := utilization(t, m)
	t.Logf("%d calls, utilization %.1f%%", m.Totals.Admitted, 100*u)
	if u < 0.9 || u > 1.05 {
		t.Fatalf("utilization %.3f, want close to 1", u)
	}
	var accounts int
	s.DB.QueryRow(context.Background(), `SELECT count(DISTINCT account) FROM jobs`).Scan(&accounts)
	if accounts != 1 {
		t.Fatalf("jobs ran on %d accounts", accounts)
	}
}

// Someone else spends the account's quota: Bedrock throttles although the
// budget admitted the call. The pool backs off, callers still get answers,
// and no message is pushed to the dead-letter queue.
func TestThrottlesBecomeBackpressure(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	s := stacktest.Start(t, stacktest.Options{
		// sluice believes it has 3000 per window; Bedrock gives 1200.
		Config: budgetConfig(3000, map[string]string{"a1": "111111111111"}),
		Sim:    simWithQuota(1200, "111111111111"),
		Window: time.Second, SyncTimeout: 2 * time.Minute, Tune: fastPools,
		MaxReceiveCount: 3,
	})
	statuses := overload(t, s, 15, 3*time.Second, 200)
	if len(statuses) != 1 || statuses[http.StatusOK] == 0 {
		t.Fatalf("statuses = %v; throttles must never reach the caller", statuses)
	}
	m := s.Sim.Stats().Model("111111111111", novaID)
	if m.Totals.Throttled == 0 {
		t.Fatal("the simulator never throttled; the test proves nothing")
	}
	var throttles, failed int
	s.DB.QueryRow(context.Background(), `SELECT coalesce(sum(throttles), 0), count(*) FILTER (WHERE state <> 'succeeded') FROM jobs`).Scan(&throttles, &failed)
	t.Logf("%d calls, %d throttled at Bedrock, %d throttles recorded on jobs", m.Totals.Admitted, m.Totals.Throttled, throttles)
	if failed != 0 || int64(throttles) != m.Totals.Throttled {
		t.Fatalf("failed jobs %d, job throttles %d vs simulator %d", failed, throttles, m.Totals.Throttled)
	}
	dead, err := s.Queues.ReceiveDead(context.Background(), "nova", "interactive", 10, 0)
	if err != nil || len(dead) != 0 {
		t.Fatalf("dead letters = %v, %v", dead, err)
	}
}

// A sync caller that hangs up before its job starts cancels it, and the job is
// never sent to Bedrock.
func TestAbandonedCallIsNeverSent(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1})
	body := `{"model":"claude-sonnet","messages":[{"role":"user","content":"never mind"}]}`
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+stacktest.Key)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("call returned %d with no worker running", resp.StatusCode)
	}
	var state string
	deadline := time.Now().Add(10 * time.Second)
	for state != "cancelled" && time.Now().Before(deadline) {
		s.DB.QueryRow(context.Background(), `SELECT state FROM jobs`).Scan(&state)
		time.Sleep(20 * time.Millisecond)
	}
	if state != "cancelled" {
		t.Fatalf("abandoned job is %q", state)
	}
	// A worker now drains the queue: it skips the cancelled job and serves a live one.
	s.StartWorker()
	if status, resp := s.Do(http.MethodPost, "/v1/chat/completions", `{"model":"claude-sonnet","messages":[{"role":"user","content":"still here"}]}`); status != 200 {
		t.Fatalf("live call: %d %s", status, resp)
	}
	if n := s.Sim.Stats().Model("111111111111", "us.anthropic.claude-sonnet-4-20250514-v1:0").Totals.Admitted; n != 1 {
		t.Fatalf("the simulator saw %d calls; want only the live one", n)
	}
}

// Interactive work is served before batch work that was queued earlier, and
// batch work takes the budget interactive work leaves.
func TestInteractiveBeforeBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const tpm = 1500
	s := stacktest.Start(t, stacktest.Options{
		Config: budgetConfig(tpm, map[string]string{"a1": "111111111111"}),
		Sim:    simWithQuota(tpm, "111111111111"),
		Window: time.Second, SyncTimeout: 2 * time.Minute, Workers: -1, Tune: fastPools,
	})
	ctx := context.Background()
	const backlog = 40 // about 7 s of budget
	for i := range backlog {
		text := fmt.Sprintf("batch %d\n%s", i, bedrocksim.Directive("output_tokens", "200"))
		body, _ := json.Marshal(map[string]any{"model": "nova", "max_tokens": 200, "messages": []map[string]string{{"role": "user", "content": text}}})
		job := &jobs.Job{ID: jobs.NewID(), Tenant: "master", Model: "nova", Priority: jobs.BatchWork, Mode: jobs.Batch, Request: body}
		if err := s.Store.Insert(ctx, job); err != nil {
			t.Fatal(err)
		}
		if err := s.Queues.Send(ctx, queue.Batch, queue.Body{JobID: job.ID, Model: "nova"}); err != nil {
			t.Fatal(err)
		}
	}
	s.StartWorker()
	time.Sleep(time.Second) // the batch is being drained
	statuses := overload(t, s, 5, time.Second, 200)
	if len(statuses) != 1 || statuses[http.StatusOK] != 5 {
		t.Fatalf("interactive statuses = %v", statuses)
	}
	var batchLeft int
	s.DB.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE mode = 'batch' AND state <> 'succeeded'`).Scan(&batchLeft)
	t.Logf("interactive calls done with %d of %d batch jobs still waiting", batchLeft, backlog)
	if batchLeft < 10 {
		t.Fatalf("only %d batch jobs left when the interactive calls finished: interactive work waited behind batch work", batchLeft)
	}
	deadline := time.Now().Add(60 * time.Second)
	for batchLeft > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		s.DB.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE mode = 'batch' AND state <> 'succeeded'`).Scan(&batchLeft)
	}
	if batchLeft != 0 {
		t.Fatalf("%d batch jobs never finished", batchLeft)
	}
	if m := s.Sim.Stats().Model("111111111111", novaID); m.Totals.Throttled != 0 {
		t.Fatalf("%d throttles", m.Totals.Throttled)
	}
}

// An account whose binding quota is RPM (rpm 5, tokens plenty), about 3×
// overloaded: Bedrock never sees a request its request bucket lacks, and in
// no window after the first that saw traffic (whose full bucket adds a burst)
// does it admit more than 5.
func TestRPMOverloadWithoutThrottles(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const rpm = 5
	window := 2 * time.Second // rpm 5 per 2 s: 2.5 requests a second
	cfg := "models:\n  nova: {bedrock_model_id: \"" + novaID + "\", default_max_tokens: 64, max_output_tokens: 1000, burndown: 1}\n" +
		"accounts:\n  - {name: a1, region: us-east-1, role_arn: \"arn:aws:iam::111111111111:role/bedrock-caller\", models: {nova: {tpm: 10000000, rpm: 5}}}\n"
	sim := bedrocksim.Config{TTFT: 20 * time.Millisecond, PerToken: 200 * time.Microsecond, Accounts: []bedrocksim.AccountConfig{
		{ID: "111111111111", Quotas: map[string]bedrocksim.QuotaConfig{novaID: {TPM: 10000000, RPM: rpm}}}}}
	s := stacktest.Start(t, stacktest.Options{Config: cfg, Sim: &sim, Window: window, SyncTimeout: 2 * time.Minute, Tune: fastPools})
	statuses := overload(t, s, 8, 4*time.Second, 20)
	if len(statuses) != 1 || statuses[http.StatusOK] == 0 {
		t.Fatalf("statuses = %v; every request must succeed", statuses)
	}
	m := s.Sim.Stats().Model("111111111111", novaID)
	t.Logf("%d calls over %d windows, %d throttled", m.Totals.Admitted, len(m.Windows), m.Totals.Throttled)
	if m.Totals.Throttled != 0 {
		t.Errorf("%d throttles at Bedrock under rpm %d", m.Totals.Throttled, rpm)
	}
	if m.Totals.Admitted < 20 {
		t.Fatalf("only %d calls: not an overload", m.Totals.Admitted)
	}
	for i, w := range m.Windows {
		if i > 0 && w.Admitted > rpm {
			t.Errorf("window %d: %d requests admitted, more than rpm %d", w.Index, w.Admitted, rpm)
		}
	}
}
