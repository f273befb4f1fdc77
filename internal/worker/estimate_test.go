package worker

import "testing"

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

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	for attempt, limit := range map[int]float64{1: 3, 3: 9, 20: 301} {
		for range 50 {
			d := backoff(attempt).Seconds()
			if d < 1 || d > limit {
				t.Fatalf("backoff(%d) = %gs, want within [1, %g]", attempt, d, limit)
			}
		}
	}
}
