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
	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/worker"
)

type poolView struct {
	Account       string    `json:"account"`
	Model         string    `json:"model"`
	Status        string    `json:"status"`
	LastErrorCode *string   `json:"last_error_code"`
	Utilization   []float64 `json:"utilization"`
}

func accountsView(t *testing.T, s *stacktest.Stack) map[string]poolView {
	t.Helper()
	status, body := s.Do(http.MethodGet, "/v1/accounts", "")
	if status != http.StatusOK {
		t.Fatalf("GET /v1/accounts: %d %s", status, body)
	}
	var list struct {
		Data []poolView `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]poolView{}
	for _, p := range list.Data {
		out[p.Account] = p
	}
	return out
}

// An alias over three accounts, one whose role cannot be assumed and one
// without access to the model: every request is served by the third, with no
// client error; the two bad pools report down within seconds and come back by
// themselves once their accounts heal; with every account refusing, callers
// get a 503 naming each account's error, at once.
func TestAccountFaultsFailOver(t *testing.T) {
	ids := map[string]string{"a1": "111111111111", "a2": "222222222222", "a3": "333333333333"}
	sim := simWithQuota(1_000_000, ids["a1"], ids["a2"], ids["a3"])
	s := stacktest.Start(t, stacktest.Options{
		Config: budgetConfig(1_000_000, ids), Sim: sim, Workers: -1,
		Tune: func(p *worker.Pool) { fastPools(p); p.MaxCheckBackoff = 2 * time.Second },
	})
	s.Sim.Refuse(ids["a1"], bedrocksim.RefuseRole)
	s.Sim.Refuse(ids["a2"], bedrocksim.RefuseModel)
	s.StartWorker()
	ctx := context.Background()

	send := func(n int) map[int]int {
		statuses := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				status, _ := s.Do(http.MethodPost, "/v1/chat/completions", novaBody(t, fmt.Sprintf("request %d", i), 20))
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return statuses
	}
	start := time.Now()
	if got := send(20); got[http.StatusOK] != 20 {
		t.Fatalf("with one healthy account: statuses %v, want 20 × 200", got)
	}
	var served []string
	rows, _ := s.DB.Query(ctx, `SELECT DISTINCT account FROM jobs WHERE state = 'succeeded'`)
	for rows.Next() {
		var a string
		rows.Scan(&a)
		served = append(served, a)
	}
	rows.Close()
	if len(served) != 1 || served[0] != "a3" {
		t.Fatalf("jobs were served by %v, want only a3", served)
	}
	waitFor(t, "the bad pools to report down", func() bool {
		v := accountsView(t, s)
		return v["a1"].Status == "down" && v["a2"].Status == "down" && v["a3"].Status == "healthy"
	})
	v := accountsView(t, s)
	if took := time.Since(start); took > 5*time.Second+2*time.Second {
		t.Fatalf("the bad pools reported down after %s", took)
	}
	if c := v["a1"].LastErrorCode; c == nil || *c != "AccessDenied" {
		t.Fatalf("a1's error code = %v, want AccessDenied (STS)", c)
	}
	if c := v["a2"].LastErrorCode; c == nil || *c != "AccessDeniedException" {
		t.Fatalf("a2's error code = %v, want AccessDeniedException (Bedrock)", c)
	}

	// The accounts heal: their pools come back by themselves.
	s.Sim.Heal(ids["a1"], "")
	s.Sim.Heal(ids["a2"], "")
	healed := time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for {
		send(6)
		var usedA1, usedA2 int
		s.DB.QueryRow(ctx, `SELECT count(*) FILTER (WHERE account = 'a1'), count(*) FILTER (WHERE account = 'a2') FROM jobs WHERE state = 'succeeded'`).Scan(&usedA1, &usedA2)
		v := accountsView(t, s)
		if usedA1 > 0 && usedA2 > 0 && v["a1"].Status == "healthy" && v["a2"].Status == "healthy" {
			t.Logf("healed pools served again %s after their accounts healed", time.Since(healed).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healed accounts not back: %+v, calls a1 %d a2 %d", v, usedA1, usedA2)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Every account refuses: a 503 naming each account's error, within 5 s.
	for _, id := range ids {
		s.Sim.Refuse(id, bedrocksim.RefuseModel)
	}
	start = time.Now()
	status, body := s.Do(http.MethodPost, "/v1/chat/completions", novaBody(t, "nobody can", 20))
	if status != http.StatusServiceUnavailable || time.Since(start) > 5*time.Second {
		t.Fatalf("with every account refusing: %d after %s: %s", status, time.Since(start), body)
	}
	status, body = s.Do(http.MethodPost, "/v1/chat/completions", novaBody(t, "still nobody", 20))
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), "a1") || !strings.Contains(string(body), "a3") {
		t.Fatalf("second request with every account refusing: %d %s", status, body)
	}
	if m := s.Sim.Stats(); m.Model(ids["a3"], novaID).Totals.Throttled != 0 {
		t.Fatal("throttles")
	}
}
