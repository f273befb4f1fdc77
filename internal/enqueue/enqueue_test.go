package enqueue

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/queue"
)

type fakeSQS struct {
	mu      sync.Mutex
	batches [][]queue.Body
	fail    bool
}

func (f *fakeSQS) SendBatch(_ context.Context, _ queue.Priority, bodies []queue.Body) ([]queue.Body, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return nil, errors.New("SQS is down")
	}
	f.batches = append(f.batches, append([]queue.Body(nil), bodies...))
	return bodies[:min(1, len(bodies))], nil // SQS refuses the first of each batch
}

type fakeMarks struct {
	mu    sync.Mutex
	calls [][]string
}

func (f *fakeMarks) MarkEnqueuedMany(_ context.Context, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, ids)
	return nil
}

// Tokens added together go in batches of at most ten per alias, and every
// token SQS took (not the refused ones) is marked sent in one statement.
func TestBatchesAndMarks(t *testing.T) {
	sqs, marks := &fakeSQS{}, &fakeMarks{}
	b := &Batcher{Queues: sqs, Store: marks, Log: slog.New(slog.DiscardHandler), Linger: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	for i := range 23 {
		b.Add(queue.Interactive, queue.Body{JobID: string(rune('a' + i)), Model: "m"})
	}
	b.Add(queue.Interactive, queue.Body{JobID: "other", Model: "n"})
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	var total int
	for _, batch := range sqs.batches {
		if len(batch) > queue.MaxBatch {
			t.Fatalf("a batch of %d", len(batch))
		}
		for _, body := range batch[1:] {
			if body.Model != batch[0].Model {
				t.Fatalf("one batch mixes aliases: %v", batch)
			}
		}
		total += len(batch)
	}
	if total != 24 {
		t.Fatalf("sent %d tokens, want 24", total)
	}
	var marked int
	for _, ids := range marks.calls {
		marked += len(ids)
	}
	if marked != 24-len(sqs.batches) {
		t.Fatalf("marked %d, want every token but the %d refused ones", marked, len(sqs.batches))
	}
	if len(sqs.batches) > 5 || len(marks.calls) > 3 {
		t.Fatalf("%d batches and %d mark statements for 24 tokens: not batched", len(sqs.batches), len(marks.calls))
	}
}

// When SQS is down nothing is marked: the janitor sends those tokens later.
func TestNothingMarkedWhenSQSFails(t *testing.T) {
	sqs, marks := &fakeSQS{fail: true}, &fakeMarks{}
	b := &Batcher{Queues: sqs, Store: marks, Log: slog.New(slog.DiscardHandler)}
	b.Add(queue.Interactive, queue.Body{JobID: "a", Model: "m"})
	b.flush(context.Background())
	for _, ids := range marks.calls {
		if len(ids) != 0 {
			t.Fatalf("marked %v although nothing was sent", ids)
		}
	}
}
