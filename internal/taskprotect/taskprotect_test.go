package taskprotect

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// agent is a fake ECS agent task-protection endpoint.
type agent struct {
	puts  chan map[string]any
	fail  atomic.Int32 // answer this many PUTs with a failure body
	paths chan string
}

func newAgent(t *testing.T) (*agent, *httptest.Server) {
	a := &agent{puts: make(chan map[string]any, 100), paths: make(chan string, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.paths <- r.Method + " " + r.URL.Path
		var body map[string]any
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &body); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		if a.fail.Add(-1) >= 0 {
			w.Write([]byte(`{"failure":{"Arn":"arn:aws:ecs:us-east-1:123456789012:task/c/0","Reason":"TASK_NOT_VALID"}}`))
			return
		}
		a.puts <- body
		w.Write([]byte(`{"protection":{"ProtectionEnabled":true}}`))
	}))
	t.Cleanup(srv.Close)
	return a, srv
}

func (a *agent) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case b := <-a.puts:
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no PUT to the agent")
		return nil
	}
}

func (a *agent) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case b := <-a.puts:
		t.Fatalf("unexpected PUT %v", b)
	case <-time.After(d):
	}
}

func start(t *testing.T, g *Guard) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func TestProtectionFollowsCallsInFlight(t *testing.T) {
	a, srv := newAgent(t)
	g := New(srv.URL, slog.New(slog.DiscardHandler))
	g.Refresh = time.Hour
	stop := start(t, g)

	if b := a.next(t); b["ProtectionEnabled"] != false {
		t.Fatalf("at start: %v, want protection cleared", b)
	}
	if p := <-a.paths; p != "PUT /task-protection/v1/state" {
		t.Fatalf("request %q", p)
	}
	g.Begin()
	if b := a.next(t); b["ProtectionEnabled"] != true || b["ExpiresInMinutes"] != float64(15) {
		t.Fatalf("first call: %v, want protection for 15 minutes", b)
	}
	g.Begin()
	g.End()
	a.none(t, 200*time.Millisecond) // still one call in flight
	g.End()
	if b := a.next(t); b["ProtectionEnabled"] != false {
		t.Fatalf("last call ended: %v, want protection off", b)
	}
	g.Begin()
	if b := a.next(t); b["ProtectionEnabled"] != true {
		t.Fatalf("busy again: %v", b)
	}
	stop()
	if b := a.next(t); b["ProtectionEnabled"] != false {
		t.Fatalf("on stop: %v, want protection cleared", b)
	}
}

func TestProtectionIsRenewedAndRetried(t *testing.T) {
	a, srv := newAgent(t)
	g := New(srv.URL, slog.New(slog.DiscardHandler))
	g.Refresh, g.Retry = 100*time.Millisecond, 50*time.Millisecond
	g.Begin()
	a.fail.Store(1) // the agent refuses the first request
	stop := start(t, g)
	defer stop()
	if b := a.next(t); b["ProtectionEnabled"] != true {
		t.Fatalf("after a refusal: %v, want the protection retried", b)
	}
	if b := a.next(t); b["ProtectionEnabled"] != true {
		t.Fatalf("while busy: %v, want the protection renewed", b)
	}
}

func TestWithoutAnAgentItOnlyCounts(t *testing.T) {
	t.Setenv("ECS_AGENT_URI", "")
	g := FromEnv(slog.New(slog.DiscardHandler))
	before := testutil.ToFloat64(metricInFlight)
	g.Begin()
	if got := testutil.ToFloat64(metricInFlight) - before; got != 1 {
		t.Fatalf("in flight: %v, want 1", got)
	}
	g.End()
	if err := g.Run(context.Background()); err != nil { // returns at once
		t.Fatal(err)
	}
	var none *Guard
	none.Begin() // a nil Guard is a no-op
	none.End()
}
