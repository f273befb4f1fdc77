package admission

import (
	"slices"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/config"
)

// The wait counts only the work the claim would take first (due earlier),
// at the accounts' refill rate, less what the buckets already hold.
func TestWaitCountsWorkDueEarlier(t *testing.T) {
	now := time.Now()
	e := &estimate{tokensPerSec: 100, ratio: 1, at: now}
	for i := range 10 { // ten jobs of 100 tokens, due 1 s apart
		e.dues = append(e.dues, now.Add(time.Duration(i+1)*time.Second))
		e.cum = append(e.cum, float64(100*(i+1)))
	}
	cases := []struct {
		due  time.Time
		want time.Duration
	}{
		{now.Add(500 * time.Millisecond), time.Second},      // first in line: only its own 100 tokens
		{now.Add(5500 * time.Millisecond), 6 * time.Second}, // behind five
		{now.Add(time.Hour), 11 * time.Second},              // behind all ten
	}
	for _, c := range cases {
		if got := e.wait(100, c.due); got != c.want {
			t.Errorf("wait(due in %s) = %s, want %s", c.due.Sub(now), got, c.want)
		}
	}
	e.level = 300 // three jobs' worth is already in the buckets
	if got := e.wait(100, now.Add(time.Hour)); got != 8*time.Second {
		t.Errorf("wait with 300 tokens in the buckets = %s, want 8s", got)
	}
	e.ratio = 0.5 // calls are charged half what they reserve
	if got := e.wait(100, now.Add(time.Hour)); got != 2500*time.Millisecond {
		t.Errorf("wait at charge ratio 0.5 = %s, want 2.5s", got)
	}
}

// With requests per minute limited, the number of jobs ahead bounds the wait.
func TestWaitHonoursRequestRate(t *testing.T) {
	now := time.Now()
	e := &estimate{tokensPerSec: 1e9, requestsPerSec: 2, ratio: 1, at: now, admittedJobs: 3}
	if got := e.wait(1, now.Add(time.Hour)); got != 2*time.Second {
		t.Fatalf("wait behind 3 admitted jobs at 2 requests/s = %s, want 2s", got)
	}
}

// Admit refuses what would not finish by its deadline, and counts what it
// admits as ahead of later requests until the next refresh.
func TestAdmit(t *testing.T) {
	now := time.Now()
	c := &Controller{ready: true, aliases: map[string]*estimate{
		"m": {tokensPerSec: 100, ratio: 1, at: now, service: time.Second},
	}}
	if d := c.Admit("m", 100, now.Add(5*time.Second)); !d.Admit || d.Wait != time.Second {
		t.Fatalf("first = %+v, want admitted after a 1 s wait", d)
	}
	if d := c.Admit("m", 100, now.Add(5*time.Second)); !d.Admit || d.Wait != 2*time.Second {
		t.Fatalf("second = %+v, want admitted after a 2 s wait", d)
	}
	d := c.Admit("m", 300, now.Add(5*time.Second))
	if d.Admit || d.Wait != 5*time.Second {
		t.Fatalf("third = %+v, want refused: 5 s of queue and 1 s of service do not fit in 5 s", d)
	}
	if d := c.Admit("unknown", 1e9, now); !d.Admit {
		t.Fatal("an alias without an estimate must be admitted")
	}
}

// Fallbacks are offered only while no account of the alias can serve, and
// only those not in the same state, in the configured order.
func TestFallbacks(t *testing.T) {
	cfg := &config.Config{Models: map[string]config.Model{
		"a": {Fallbacks: []string{"b", "c", "d"}}, "b": {}, "c": {}, "d": {},
	}}
	c := &Controller{Config: cfg, ready: true, aliases: map[string]*estimate{
		"a": {}, "b": {unavailable: true}, "c": {},
	}}
	if got := c.Fallbacks("a"); got != nil {
		t.Fatalf("alias served: fallbacks %v, want none", got)
	}
	c.aliases["a"].unavailable = true
	// b is down too; d has no estimate yet (its pools have not published).
	if got := c.Fallbacks("a"); !slices.Equal(got, []string{"c", "d"}) {
		t.Fatalf("fallbacks %v, want [c d]", got)
	}
}
