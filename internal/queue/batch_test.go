package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/queue"
)

func TestSendBatch(t *testing.T) {
	ctx := context.Background()
	q := newQueues(t)
	if err := q.Resolve(ctx, []string{"m", "n"}, true); err != nil {
		t.Fatal(err)
	}
	var bodies []queue.Body
	for i := range queue.MaxBatch {
		bodies = append(bodies, queue.Body{JobID: fmt.Sprintf("job_%d", i), Model: "m"})
	}
	refused, err := q.SendBatch(ctx, queue.Batch, bodies)
	if err != nil || len(refused) != 0 {
		t.Fatalf("send = %v refused, %v", refused, err)
	}
	got := map[string]bool{}
	for range 10 {
		msgs, err := q.Receive(ctx, "m", queue.Batch, 10, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got[m.JobID] = true
			if err := q.Delete(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		if len(got) == len(bodies) {
			break
		}
	}
	for _, b := range bodies {
		if !got[b.JobID] {
			t.Fatalf("job %s never arrived; got %v", b.JobID, got)
		}
	}

	// One call carries at most ten messages, all for one alias's queue.
	if _, err := q.SendBatch(ctx, queue.Batch, append(bodies, queue.Body{JobID: "job_x", Model: "m"})); err == nil {
		t.Fatal("eleven messages in one call were accepted")
	}
	if _, err := q.SendBatch(ctx, queue.Batch, []queue.Body{{JobID: "job_a", Model: "m"}, {JobID: "job_b", Model: "n"}}); err == nil {
		t.Fatal("messages for two aliases in one call were accepted")
	}
}
