package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/files"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/queue"
)

// Sender sends jobs to their queues in batches (queue.Queues).
type Sender interface {
	SendBatch(ctx context.Context, p queue.Priority, bodies []queue.Body) (refused []queue.Body, err error)
}

// Runner does a batch's work outside the request that created it: it
// validates input files, turns their lines into jobs, expires and finalizes
// batches. Every api process runs one. Runners coordinate through leases on
// batch rows, so any number may run, and a batch whose runner died (its lease
// ran out) is resumed by another: validation starts over, ingestion goes on
// after the last committed chunk, finalization is redone.
type Runner struct {
	Store  *Store
	Jobs   *jobs.Store
	Files  files.Store
	Queue  Sender
	Config *config.Config
	Log    *slog.Logger
	// Events hears of batch endings (see raiseEvent); nil: none.
	Events Events

	// Poll is how often the runner looks for work.
	Poll time.Duration
	// Lease is how long a claim on a batch lasts without renewal; a runner
	// renews it every Lease/3 while it works.
	Lease time.Duration
	// Concurrency bounds the batches one runner works on at once.
	Concurrency int
	// MaxRequests and MaxFileBytes bound an input file (OpenAI's limits).
	MaxRequests  int
	MaxFileBytes int64
	// ChunkLines and ChunkBytes bound the lines inserted in one transaction
	// and then sent.
	ChunkLines, ChunkBytes int
	// Senders bounds the SendMessageBatch calls in flight.
	Senders int
	// AbandonedUploads is how long an upload may stall before it is removed.
	AbandonedUploads time.Duration

	owner     string
	lastSweep time.Time
}

func (r *Runner) defaults() {
	if r.Poll <= 0 {
		r.Poll = time.Second
	}
	if r.Lease <= 0 {
		r.Lease = time.Minute
	}
	if r.Concurrency <= 0 {
		r.Concurrency = 2
	}
	if r.MaxRequests <= 0 {
		r.MaxRequests = MaxRequests
	}
	if r.MaxFileBytes <= 0 {
		r.MaxFileBytes = files.MaxBatchBytes
	}
	if r.ChunkLines <= 0 {
		// At ~100 messages/s (moto) a chunk is sent in ~10 s, well inside the
		// janitor's grace for unsent jobs, so the janitor never races the runner.
		r.ChunkLines = 1000
	}
	if r.ChunkBytes <= 0 {
		r.ChunkBytes = 8 << 20
	}
	if r.Senders <= 0 {
		r.Senders = 8
	}
	if r.AbandonedUploads <= 0 {
		r.AbandonedUploads = time.Hour
	}
	if r.Log == nil {
		r.Log = slog.Default()
	}
	host, _ := os.Hostname()
	r.owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), strings.ReplaceAll(uuid.NewString(), "-", "")[:8])
}

// Run works until ctx ends, then waits for the batches in hand to reach a
// point where another runner can take them over.
func (r *Runner) Run(ctx context.Context) error {
	r.defaults()
	slots := make(chan struct{}, r.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	for {
		r.sweep(ctx)
		if free := cap(slots) - len(slots); free > 0 && ctx.Err() == nil {
			claimed, err := r.Store.claim(ctx, r.owner, r.Lease, free)
			if err != nil && ctx.Err() == nil {
				r.Log.WarnContext(ctx, "claim batches", "err", err)
			}
			for _, b := range claimed {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					r.work(ctx, b)
				}()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweep expires batches past their window and cancels stragglers; now and
// then it removes expired files and abandoned uploads.
func (r *Runner) sweep(ctx context.Context) {
	if ids, err := r.Store.expire(ctx); err != nil {
		r.Log.WarnContext(ctx, "expire batches", "err", err)
	} else if len(ids) > 0 {
		r.Log.InfoContext(ctx, "batches expired; their queued requests are cancelled", "batches", ids)
	}
	if err := r.Store.cancelStragglers(ctx); err != nil {
		r.Log.WarnContext(ctx, "cancel jobs of stopped batches", "err", err)
	}
	if time.Since(r.lastSweep) > time.Minute {
		r.lastSweep = time.Now()
		if n, err := r.Files.Sweep(ctx, r.AbandonedUploads); err != nil {
			r.Log.WarnContext(ctx, "sweep files", "err", err)
		} else if n > 0 {
			r.Log.InfoContext(ctx, "removed expired files and abandoned uploads", "files", n)
		}
	}
}

// work does what a claimed batch needs next, holding its lease.
func (r *Runner) work(parent context.Context, b *Batch) {
	log := r.Log.With("batch", b.ID)
	ctx, stop := r.hold(parent, b.ID, log)
	defer stop()
	var err error
	switch {
	case b.Status == Validating:
		err = r.validateAndIngest(ctx, b, log)
	case b.Ingested < b.Total:
		err = r.ingest(ctx, b, log)
	default:
		err = r.finalize(ctx, b, log)
	}
	switch {
	case err == nil:
	case errors.Is(err, errLeaseLost) || errors.Is(context.Cause(ctx), errLeaseLost):
		log.WarnContext(parent, "another runner took the batch over", "err", err)
	case parent.Err() != nil:
		log.InfoContext(context.WithoutCancel(parent), "stopped; another runner resumes the batch", "err", err)
	default:
		// The lease is released below; the next sweep tries again.
		log.ErrorContext(ctx, "batch work failed; will retry", "status", b.Status, "err", err)
	}
}

// hold renews the lease on a batch until stop; if another runner takes the
// batch over, the returned context ends with errLeaseLost. stop releases the
// lease, so that a batch left mid-way is resumed without waiting for it to
// run out.
func (r *Runner) hold(parent context.Context, id string, log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				err := r.Store.extend(ctx, id, r.owner, r.Lease)
				if errors.Is(err, errLeaseLost) {
					cancel(err)
					return
				}
				if err != nil && ctx.Err() == nil {
					log.WarnContext(ctx, "renew batch lease", "err", err)
				}
			}
		}
	}()
	return ctx, func() {
		cancel(nil)
		<-done
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(parent), 5*time.Second)
		defer rcancel()
		r.Store.release(rctx, id, r.owner)
	}
}
