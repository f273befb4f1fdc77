package budget_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/budget"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Two replicas drawing from one budget together admit no more than it holds.
func TestReplicasShareOneBucket(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	l := budget.Limits{TPM: 1000, Window: time.Hour} // no meaningful refill during the test
	a, err := budget.NewShared(ctx, pool, "acct", "m", l)
	if err != nil {
		t.Fatal(err)
	}
	b, err := budget.NewShared(ctx, pool, "acct", "m", l)
	if err != nil {
		t.Fatal(err)
	}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for _, replica := range []*budget.Shared{a, b} {
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					ok, _, err := replica.TryReserve(ctx, 10, 1)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						admitted.Add(10)
					}
				}
			}()
		}
	}
	wg.Wait()
	// 100 attempts of 10 tokens against 1000 (+ at most a token of refill).
	if got := admitted.Load(); got != 1000 {
		t.Fatalf("admitted %d tokens across replicas, want exactly 1000", got)
	}
	if ok, _, _ := a.TryReserve(ctx, 10, 1); ok {
		t.Fatal("bucket not empty")
	}
	if err := b.Return(ctx, 500, 0); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := a.TryReserve(ctx, 400, 1); !ok {
		t.Fatal("tokens returned by one replica not usable by the other")
	}
}

func TestReserveWaitsForRefill(t *testing.T) {
	ctx := context.Background()
	l := budget.Limits{TPM: 100, Window: 500 * time.Millisecond}
	b, err := budget.NewShared(ctx, testenv.Pool(t), "acct", "m", l)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Reserve(ctx, 100, 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.Reserve(ctx, 50, 1); err != nil {
		t.Fatal(err)
	}
	// Half the bucket refills in half a window.
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("second reservation admitted after %s; the bucket was empty", waited)
	}
	if err := b.Reserve(ctx, 101, 1); err == nil {
		t.Fatal("a reservation larger than the whole budget was accepted")
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := b.Reserve(cctx, 100, 1); err == nil {
		t.Fatal("reserve ignored its context")
	}
}
