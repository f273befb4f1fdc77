// Package taskprotect keeps an ECS task protected from scale-in while it has
// Bedrock calls in flight, through the ECS agent's task-protection endpoint
// ($ECS_AGENT_URI/task-protection/v1/state). Scale-in and deployments then
// stop only idle tasks, so a long generation is not cut off and re-run (and
// paid for twice). The endpoint is the agent's own: it needs no IAM
// permission (ecs:UpdateTaskProtection is for the ECS API, not used here).
// Outside ECS (ECS_AGENT_URI unset) the Guard only counts calls.
package taskprotect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metricInFlight is what worker autoscaling tracks (as EMF, see internal/emf):
// calls in flight per task, against the task's concurrency.
var metricInFlight = promauto.NewGauge(prometheus.GaugeOpts{
	Name: "sluice_calls_in_flight", Help: "Bedrock calls in flight in this process.",
})

// Guard counts calls in flight and keeps the task's protection in step: on
// while any call runs, off when none does. Begin and End never block on the
// agent; Run does the talking. A nil *Guard is a no-op.
type Guard struct {
	url string
	// Expires is how long one protection lasts (ExpiresInMinutes, whole
	// minutes); while calls are in flight it is renewed every Refresh, so a
	// worker that dies without clearing it is unprotected soon after.
	Expires, Refresh time.Duration
	// Retry is the wait after the agent refused or failed.
	Retry  time.Duration
	Client *http.Client
	Log    *slog.Logger

	mu       sync.Mutex
	inFlight int
	wake     chan struct{}
}

// FromEnv returns a Guard for the agent at ECS_AGENT_URI; outside ECS it
// only counts (for the sluice_calls_in_flight gauge).
func FromEnv(log *slog.Logger) *Guard { return New(os.Getenv("ECS_AGENT_URI"), log) }

// New returns a Guard for the agent at agentURI ("": count only).
func New(agentURI string, log *slog.Logger) *Guard {
	url := ""
	if agentURI != "" {
		url = agentURI + "/task-protection/v1/state"
	}
	return &Guard{
		url: url, Expires: 15 * time.Minute, Refresh: 5 * time.Minute, Retry: 5 * time.Second,
		Client: &http.Client{Timeout: 5 * time.Second}, Log: log, wake: make(chan struct{}, 1),
	}
}

// Begin records a call in flight.
func (g *Guard) Begin() { g.add(1) }

// End records that a call ended.
func (g *Guard) End() { g.add(-1) }

func (g *Guard) add(d int) {
	if g == nil {
		return
	}
	g.mu.Lock()
	before := g.inFlight
	g.inFlight += d
	after := g.inFlight
	g.mu.Unlock()
	metricInFlight.Add(float64(d))
	if (before == 0) != (after == 0) {
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
}

func (g *Guard) busy() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inFlight > 0
}

// Run keeps the protection in step until ctx ends, then clears it (the
// process is stopping; what remains in flight is released by the worker).
func (g *Guard) Run(ctx context.Context) error {
	if g == nil || g.url == "" {
		return nil
	}
	protected, known := false, false
	var renew <-chan time.Time
	for {
		want := g.busy()
		if !known || want != protected || want && renew == nil {
			if err := g.set(ctx, want); err != nil {
				known = false // the agent may or may not have applied it
				if ctx.Err() != nil {
					break
				}
				g.Log.WarnContext(ctx, "ECS task protection", "protect", want, "err", err)
				renew = time.After(g.Retry)
			} else {
				protected, known = want, true
				renew = nil
				if want {
					renew = time.After(g.Refresh)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-g.wake:
			continue
		case <-renew:
			renew = nil
			continue
		}
		break
	}
	if protected || !known {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		if err := g.set(cctx, false); err != nil {
			g.Log.Warn("clear ECS task protection", "err", err)
		}
	}
	return nil
}

// set PUTs the protection state. The agent answers 200 with "protection", or
// an error status or a body with "failure"/"error".
func (g *Guard) set(ctx context.Context, on bool) error {
	body := map[string]any{"ProtectionEnabled": on}
	if on {
		body["ExpiresInMinutes"] = max(1, int(g.Expires/time.Minute))
	}
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, g.url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var parsed struct {
		Failure, Error json.RawMessage
	}
	_ = json.Unmarshal(answer, &parsed)
	if resp.StatusCode != http.StatusOK || len(parsed.Failure) > 0 || len(parsed.Error) > 0 {
		return fmt.Errorf("PUT %s %s: %s %s", g.url, raw, resp.Status, bytes.TrimSpace(answer))
	}
	return nil
}
