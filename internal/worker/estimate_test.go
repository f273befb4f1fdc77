package worker

import (
	"testing"
	"time"
)

func TestEstimatorLearnsUpQuicklyAndDownSlowly(t *testing.T) {
	e := newEstimator(1000)
	if got := e.input(1000); got != 516 {
		t.Fatalf("first estimate for 1000 bytes = %g, want the conservative 0.5/byte + 16 = 516", got)
	}
	// Bedrock reports a sparse request: the ratio drifts down, not all at once.
	e.observe(1000, 250)
	first := e.input(1000)
	if first >= 516 || first <= 250*estimateMargin+overheadTokens {
		t.Fatalf("after one sparse observation estimate = %g, want between the old and the observed", first)
	}
	for range 100 {
		e.observe(1000, 250)
	}
	if got, floor := e.input(1000), 250*estimateMargin+overheadTokens; got < floor || got > floor+2 {
		t.Fatalf("converged estimate = %g, want about %g (never below what Bedrock counted)", got, floor)
	}
	// One dense request raises it at once.
	e.observe(1000, 600)
	if got := e.input(1000); got < 600 {
		t.Fatalf("after a dense request estimate = %g, want at least 600", got)
	}
}

// Backoff is sub-second at first, doubles, and never passes 30 s; each
// delay lies in the upper half of its ceiling (jitter, yet never zero).
func TestBackoffGrowsAndIsCapped(t *testing.T) {
	for retry, ceiling := range map[int]time.Duration{0: 100 * time.Millisecond, 1: 200 * time.Millisecond, 3: 800 * time.Millisecond, 20: 30 * time.Second} {
		for range 50 {
			d := backoff(retry)
			if d < ceiling/2 || d > ceiling {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", retry, d, ceiling/2, ceiling)
			}
		}
	}
}

// The service time plans for the slow end of recent calls, with a margin,
// and nothing is planned before a few were seen.
func TestServiceTime(t *testing.T) {
	var s serviceTime
	s.observe(time.Second)
	s.observe(time.Second)
	if got := s.estimate(); got != 0 {
		t.Fatalf("estimate after 2 calls = %s, want 0 (not yet known)", got)
	}
	for i := range 300 {
		d := time.Second
		if i%10 == 0 {
			d = 3 * time.Second // one call in ten is slow
		}
		s.observe(d)
	}
	if got := s.estimate(); got != 3600*time.Millisecond {
		t.Fatalf("estimate = %s, want 3.6s (the slow tenth, plus 20%%)", got)
	}
	for range serviceWindow {
		s.observe(time.Second) // the slow calls age out
	}
	if got := s.estimate(); got != 1200*time.Millisecond {
		t.Fatalf("estimate once calls are fast = %s, want 1.2s", got)
	}
}
