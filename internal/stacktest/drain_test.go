package stacktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/worker"
)

// A stopping worker lets its calls in flight finish within its drain
// timeout; past it, it stops them and releases their jobs at once, so that
// another worker runs them now, not after their lease lapses. No job runs
// twice for a stop.
func TestStopDrainsThenReleases(t *testing.T) {
	drain := 10 * time.Second
	s := stacktest.Start(t, stacktest.Options{Workers: -1, Tune: func(p *worker.Pool) { p.DrainTimeout = drain }})
	ctx := context.Background()
	state := func(id string) (string, int) {
		var st string
		var attempts int
		s.DB.QueryRow(ctx, `SELECT state, attempts FROM jobs WHERE id = $1`, id).Scan(&st, &attempts)
		return st, attempts
	}

	// Within the drain timeout: the call finishes, once.
	stop := s.StartWorker()
	j := submitAsync(t, s, stacktest.Key, "take your time\n"+bedrocksim.Directive("ttft_ms", "1500"))
	waitFor(t, "the job to start", func() bool { st, _ := state(j.ID); return st == "running" })
	begin := time.Now()
	stop()
	if st, attempts := state(j.ID); st != "succeeded" || attempts != 1 {
		t.Fatalf("after a graceful stop the job is %s after %d attempts; want succeeded after 1", st, attempts)
	}
	if took := time.Since(begin); took > drain {
		t.Fatalf("the stop took %s, more than the drain timeout", took)
	}

	// Past it: the call is stopped, the job released, and the next worker
	// runs it at once.
	drain = 300 * time.Millisecond
	stop = s.StartWorker()
	j = submitAsync(t, s, stacktest.Key, "too slow to wait for\n"+bedrocksim.Directive("ttft_ms", "5000"))
	waitFor(t, "the job to start", func() bool { st, _ := state(j.ID); return st == "running" })
	begin = time.Now()
	stop()
	if took := time.Since(begin); took > 3*time.Second {
		t.Fatalf("the stop took %s with a drain timeout of %s", took, drain)
	}
	if st, attempts := state(j.ID); st != "queued" || attempts != 1 {
		t.Fatalf("after the drain timeout the job is %s after %d attempts; want queued again", st, attempts)
	}
	waitFor(t, "the stopped call to end", func() bool { return sonnetTotals(s).InFlight == 0 })
	drain = 10 * time.Second
	s.StartWorker()
	pollJob(t, s, stacktest.Key, j.ID, "succeeded")
	if took := time.Since(begin); took > 15*time.Second {
		t.Fatalf("the released job finished %s after the stop; want it run again at once, not after its lease", took)
	}
	if _, attempts := state(j.ID); attempts != 2 {
		t.Fatalf("the released job ran %d times; want 2 (the stopped call and the finished one)", attempts)
	}
}
