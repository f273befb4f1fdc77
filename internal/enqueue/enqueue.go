// Package enqueue sends the queue tokens of new jobs in batches. A token per
// request would cost each request an SQS round trip (SendMessage, SigV4
// signing and all) and a commit to record it; gathered for a couple of
// milliseconds, up to ten share one SendMessageBatch and every batch of a
// flush one UPDATE. A job whose token is never sent loses nothing: its row
// says it was not (enqueued_at is NULL) and the worker's janitor sends it.
package enqueue

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sluice-broker/sluice/internal/queue"
)

// Sender sends up to queue.MaxBatch tokens of one alias and priority.
type Sender interface {
	SendBatch(ctx context.Context, p queue.Priority, bodies []queue.Body) (refused []queue.Body, err error)
}

// Marker records that jobs' tokens were sent.
type Marker interface {
	MarkEnqueuedMany(ctx context.Context, ids []string) error
}

// Batcher gathers tokens and sends them in batches.
type Batcher struct {
	Queues Sender
	Store  Marker
	Log    *slog.Logger
	// Linger is how long a token waits for others to share its batch; a
	// full batch goes at once. 0: 2 ms.
	Linger time.Duration

	mu      sync.Mutex
	pending map[key][]queue.Body
	kick    chan struct{}
	once    sync.Once
}

type key struct {
	model string
	prio  queue.Priority
}

func (b *Batcher) init() {
	b.once.Do(func() {
		b.pending = map[key][]queue.Body{}
		b.kick = make(chan struct{}, 1)
		if b.Linger <= 0 {
			b.Linger = 2 * time.Millisecond
		}
	})
}

// Add queues a token for sending; it never blocks on SQS.
func (b *Batcher) Add(p queue.Priority, body queue.Body) {
	b.init()
	b.mu.Lock()
	k := key{body.Model, p}
	b.pending[k] = append(b.pending[k], body)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Run sends what is added until ctx ends, then sends what is left.
func (b *Batcher) Run(ctx context.Context) error {
	b.init()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			b.flush(fctx)
			cancel()
			return nil
		case <-b.kick:
		}
		// Let a few more arrive, unless a batch is already full.
		if !b.full() {
			t := time.NewTimer(b.Linger)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		b.flush(ctx)
	}
}

func (b *Batcher) full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, bodies := range b.pending {
		if len(bodies) >= queue.MaxBatch {
			return true
		}
	}
	return false
}

// flush sends everything pending, the batches in parallel, and marks what
// was sent in one statement.
func (b *Batcher) flush(ctx context.Context) {
	b.mu.Lock()
	pending := b.pending
	b.pending = map[key][]queue.Body{}
	b.mu.Unlock()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		sent []string
	)
	for k, bodies := range pending {
		for len(bodies) > 0 {
			n := min(len(bodies), queue.MaxBatch)
			batch := bodies[:n]
			bodies = bodies[n:]
			wg.Go(func() {
				refused, err := b.Queues.SendBatch(ctx, k.prio, batch)
				if err != nil {
					b.Log.WarnContext(ctx, "send tokens failed; the janitor will send them", "model", k.model, "tokens", len(batch), "err", err)
					return
				}
				if len(refused) > 0 {
					b.Log.WarnContext(ctx, "SQS refused tokens; the janitor will send them", "model", k.model, "refused", len(refused))
				}
				gone := map[string]bool{}
				for _, r := range refused {
					gone[r.JobID] = true
				}
				mu.Lock()
				defer mu.Unlock()
				for _, body := range batch {
					if !gone[body.JobID] {
						sent = append(sent, body.JobID)
					}
				}
			})
		}
	}
	wg.Wait()
	if err := b.Store.MarkEnqueuedMany(ctx, sent); err != nil {
		// Marked later by nobody: the janitor sends these again after its
		// grace, and a token too many claims nothing.
		b.Log.WarnContext(ctx, "mark tokens sent", "jobs", len(sent), "err", err)
	}
}
