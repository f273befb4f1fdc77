package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/testenv"
)

// Concurrent submits with one idempotency key make one job, and every one of
// them gets it; the same key with another fingerprint is refused.
func TestSubmitIdempotentUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	s := jobs.NewStore(testenv.Pool(t))
	sub := jobs.Submission{IdempotencyKey: "k1", Fingerprint: []byte("fp")}
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			j := &jobs.Job{ID: jobs.NewID(), Tenant: "t1", Model: "m", Priority: jobs.Interactive, Mode: jobs.Async, Request: json.RawMessage(`{}`)}
			first, err := s.Submit(ctx, j, sub)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = j.ID
			if first != nil {
				ids[i] = first.ID
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("one key gave jobs %v", ids)
		}
	}
	j := &jobs.Job{ID: jobs.NewID(), Tenant: "t1", Model: "m", Priority: jobs.Interactive, Mode: jobs.Async, Request: json.RawMessage(`{}`)}
	if _, err := s.Submit(ctx, j, jobs.Submission{IdempotencyKey: "k1", Fingerprint: []byte("other")}); !errors.Is(err, jobs.ErrIdempotencyMismatch) {
		t.Fatalf("reused key: %v", err)
	}
	// The key is the tenant's: another tenant's k1 is another job.
	j.Tenant = "t2"
	if first, err := s.Submit(ctx, j, sub); err != nil || first != nil {
		t.Fatalf("other tenant: %v, %v", first, err)
	}
}

// A running job can be cancelled; the worker's late result is then refused.
func TestCancelAnyRunning(t *testing.T) {
	ctx := context.Background()
	s := jobs.NewStore(testenv.Pool(t))
	j := newJob(t, s)
	claimed := claim(t, s, "a", time.Minute)
	if _, err := s.CancelAny(ctx, "t2", j.ID, "why"); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("another tenant cancelled: %v", err)
	}
	c, err := s.CancelAny(ctx, "t1", j.ID, map[string]string{"message": "cancelled"})
	if err != nil || c.State != jobs.Cancelled || c.FinishedAt == nil {
		t.Fatalf("cancel running: %+v, %v", c, err)
	}
	if err := s.Finish(ctx, j.ID, claimed.Attempts, jobs.Outcome{State: jobs.Succeeded, Response: map[string]string{"x": "y"}}); !errors.Is(err, jobs.ErrLeaseLost) {
		t.Fatalf("finish after cancel = %v, want ErrLeaseLost", err)
	}
	if again, err := s.CancelAny(ctx, "t1", j.ID, "again"); !errors.Is(err, jobs.ErrNotCancellable) || again.State != jobs.Cancelled {
		t.Fatalf("cancel twice: %+v, %v", again, err)
	}
}
