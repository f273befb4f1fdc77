package budget_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/budget"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func newLease(t *testing.T, ctx context.Context, b *budget.Shared, holder string) (*budget.Lease, func()) {
	t.Helper()
	l := budget.NewLease(b, holder, slog.New(slog.DiscardHandler))
	l.Period = 20 * time.Millisecond
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); l.Run(lctx) }()
	return l, func() { cancel(); <-done }
}

// Two replicas, each reserving from its own slice, together admit no more
// than the bucket holds, and between them use nearly all of it.
func TestLeasesShareOneBucket(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	lim := budget.Limits{TPM: 1000, Window: time.Hour} // no meaningful refill during the test
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for _, holder := range []string{"a", "b"} {
		b, err := budget.NewShared(ctx, pool, "acct", "m", lim)
		if err != nil {
			t.Fatal(err)
		}
		l, stop := newLease(t, ctx, b, holder)
		defer stop()
		for range 10 {
			wg.Go(func() {
				rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				for range 20 {
					if err := l.Reserve(rctx, 10, 0); err != nil {
						return
					}
					admitted.Add(10)
				}
			})
		}
	}
	wg.Wait()
	got := admitted.Load()
	t.Logf("admitted %d of a bucket of 1000", got)
	if got > 1000 {
		t.Fatalf("two leases admitted %d tokens from a bucket of 1000", got)
	}
	if got < 900 {
		t.Fatalf("two leases admitted only %d of 1000: slices sat unused", got)
	}
	var rows int
	pool.QueryRow(ctx, `SELECT count(*) FROM budget_leases`).Scan(&rows)
	if rows != 2 {
		t.Fatalf("%d lease rows, want one per replica", rows)
	}
}

// A replica that dies holding a slice loses it after Expiry: until then its
// slice counts against the bucket; then the row may refill into its room. A
// stopping replica gives its slice back at once.
func TestLeaseOfADeadReplicaLapses(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	lim := budget.Limits{TPM: 1000, Window: 2 * time.Second} // refills 500 a second
	b, err := budget.NewShared(ctx, pool, "acct", "m", lim)
	if err != nil {
		t.Fatal(err)
	}
	// A replica that died holding 500 of the 1000, its slice good for 400 ms.
	if _, err := pool.Exec(ctx, `UPDATE budgets SET tokens = 500, at = clock_timestamp()`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO budget_leases VALUES ('acct', 'm', 'dead', 500, 0, clock_timestamp() + interval '400 milliseconds')`); err != nil {
		t.Fatal(err)
	}
	live, stop := newLease(t, ctx, b, "live")
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := live.Reserve(rctx, 900, 0); err != nil {
		t.Fatalf("reserve once the dead slice lapsed: %v", err)
	}
	took := time.Since(start)
	t.Logf("900 tokens reserved %s after the dead replica's slice of 500 began to lapse", took.Round(time.Millisecond))
	// 500 in the row, 400 more only once the dead slice lapsed (400 ms) and
	// the row refilled into its room (800 ms at 500 a second).
	if took < 350*time.Millisecond {
		t.Fatalf("900 tokens in %s: the dead replica's slice was not counted", took)
	}
	// Stopping gives the slice (and what a call did not use) back at once.
	if err := live.Return(ctx, 900, 0); err != nil {
		t.Fatal(err)
	}
	stop()
	var leases int
	pool.QueryRow(ctx, `SELECT count(*) FROM budget_leases`).Scan(&leases)
	s, err := b.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if leases != 0 || s.Tokens < 900 {
		t.Fatalf("after the stop: %d leases, the row holds %.0f; want none and the 900 back", leases, s.Tokens)
	}
}
