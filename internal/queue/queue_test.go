package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/queue"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newQueues(t *testing.T) *queue.Queues {
	t.Helper()
	return queue.New(sqsClient(t), testenv.QueuePrefix(t))
}

func TestSendReceiveDelete(t *testing.T) {
	ctx := context.Background()
	q := newQueues(t)
	if err := q.Resolve(ctx, []string{"claude-3.5"}, true); err != nil {
		t.Fatal(err)
	}
	// Resolving again finds the same queues rather than failing.
	if err := q.Resolve(ctx, []string{"claude-3.5"}, false); err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, queue.Batch, queue.Body{JobID: "job_b", Model: "claude-3.5"}); err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, queue.Interactive, queue.Body{JobID: "job_i", Model: "claude-3.5"}); err != nil {
		t.Fatal(err)
	}
	got, err := q.Receive(ctx, "claude-3.5", queue.Interactive, 10, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].JobID != "job_i" || got[0].ReceiveCount != 1 || got[0].Priority != queue.Interactive {
		t.Fatalf("interactive receive = %+v", got)
	}
	if err := q.Delete(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	batch, err := q.Receive(ctx, "claude-3.5", queue.Batch, 10, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != 1 || batch[0].JobID != "job_b" {
		t.Fatalf("batch receive = %+v", batch)
	}
	// Returning a message at once makes it visible again with a higher receive count.
	if err := q.Delay(ctx, batch[0], 0); err != nil {
		t.Fatal(err)
	}
	again, err := q.Receive(ctx, "claude-3.5", queue.Batch, 10, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].ReceiveCount != 2 {
		t.Fatalf("redelivery = %+v", again)
	}
}

func TestUnknownQueueWithoutCreate(t *testing.T) {
	q := newQueues(t)
	if err := q.Resolve(context.Background(), []string{"nope"}, false); err == nil {
		t.Fatal("resolving a missing queue without create succeeded")
	}
}

func TestPoisonMessageGoesToDeadLetterQueue(t *testing.T) {
	ctx := context.Background()
	q := newQueues(t)
	q.MaxReceiveCount = 2
	if err := q.Resolve(ctx, []string{"m"}, true); err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, queue.Interactive, queue.Body{JobID: "job_poison", Model: "m"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		got, err := q.Receive(ctx, "m", queue.Interactive, 1, time.Second)
		if err != nil || len(got) != 1 {
			t.Fatalf("receive %d = %v, %v", i, got, err)
		}
		if err := q.Delay(ctx, got[0], 0); err != nil {
			t.Fatal(err)
		}
	}
	// The third receive moves it to the DLQ instead of delivering it.
	if got, err := q.Receive(ctx, "m", queue.Interactive, 1, time.Second); err != nil || len(got) != 0 {
		t.Fatalf("receive after max receives = %v, %v; want nothing", got, err)
	}
	dead, err := q.ReceiveDead(ctx, "m", queue.Interactive, 10, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].JobID != "job_poison" {
		t.Fatalf("dead letters = %+v", dead)
	}
}
