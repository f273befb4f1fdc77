package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/sluice-broker/sluice/internal/jobs"
)

// Retention deletes jobs that ended more than Age ago, with their requests,
// results and webhook logs. Jobs that have not ended are never touched. Any
// number of replicas may run one: each batch skips rows another is deleting.
type Retention struct {
	Store *jobs.Store
	Age   time.Duration
	Log   *slog.Logger
	// Every is the sweep interval; Batch bounds one DELETE, so that a large
	// backlog is removed in short transactions.
	Every time.Duration
	Batch int
}

// Run sweeps until ctx ends.
func (r *Retention) Run(ctx context.Context) error {
	if r.Every <= 0 {
		r.Every = 10 * time.Minute
	}
	t := time.NewTicker(r.Every)
	defer t.Stop()
	for {
		if _, err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.Log.WarnContext(ctx, "retention sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep deletes every job past retention and returns how many it deleted.
func (r *Retention) Sweep(ctx context.Context) (int, error) {
	if r.Batch <= 0 {
		r.Batch = 1000
	}
	total := 0
	for {
		n, err := r.Store.DeleteFinished(ctx, r.Age, r.Batch)
		total += n
		if err != nil || n < r.Batch {
			if total > 0 {
				r.Log.InfoContext(ctx, "deleted jobs past retention", "jobs", total, "retention", r.Age)
			}
			return total, err
		}
	}
}
