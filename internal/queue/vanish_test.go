package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-broker/sluice/internal/queue"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func sqsClient(t *testing.T) *sqs.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	return queue.NewClient(cfg, testenv.SQSEndpoint(t))
}

// deleteQueues deletes queues by name behind the Queues' back, as an operator
// or a restarted SQS server would.
func deleteQueues(t *testing.T, names ...string) {
	t.Helper()
	ctx := context.Background()
	c := sqsClient(t)
	for _, n := range names {
		out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(n)})
		if err != nil {
			t.Fatalf("look up %s: %v", n, err)
		}
		if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}); err != nil {
			t.Fatalf("delete %s: %v", n, err)
		}
	}
}

// A queue deleted under a process that creates queues comes back at its next
// use; every operation survives it, and the epoch and creation time tell the
// janitor that its messages may be gone.
func TestVanishedQueueIsRecreated(t *testing.T) {
	ctx := context.Background()
	q := newQueues(t)
	if err := q.Resolve(ctx, []string{"m"}, true); err != nil {
		t.Fatal(err)
	}
	name := q.Name("m", queue.Interactive)
	created, err := q.CreatedAt(ctx, "m", queue.Interactive)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, queue.Interactive, queue.Body{JobID: "held", Model: "m"}); err != nil {
		t.Fatal(err)
	}
	held, err := q.Receive(ctx, "m", queue.Interactive, 1, time.Second)
	if err != nil || len(held) != 1 {
		t.Fatalf("receive = %v, %v", held, err)
	}
	// CreatedTimestamp has a resolution of a second.
	time.Sleep(1100 * time.Millisecond)
	// The whole server's queues, as after a restart of SQS.
	deleteQueues(t, name, queue.DLQName(name))

	// A message received from the old queue: delete is done, delay is told.
	if err := q.Delete(ctx, held[0]); err != nil {
		t.Fatalf("delete a message of a vanished queue: %v", err)
	}
	if err := q.Delay(ctx, held[0], time.Second); !errors.Is(err, queue.ErrMessageGone) {
		t.Fatalf("delay a message of a vanished queue = %v, want ErrMessageGone", err)
	}
	if err := q.Send(ctx, queue.Interactive, queue.Body{JobID: "after", Model: "m"}); err != nil {
		t.Fatalf("send after the queue vanished: %v", err)
	}
	if q.Epoch(name) != 1 {
		t.Fatalf("epoch = %d after one recovery, want 1", q.Epoch(name))
	}
	got, err := q.Receive(ctx, "m", queue.Interactive, 10, time.Second)
	if err != nil || len(got) != 1 || got[0].JobID != "after" {
		t.Fatalf("receive from the recreated queue = %+v, %v", got, err)
	}
	if err := q.Delete(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	again, err := q.CreatedAt(ctx, "m", queue.Interactive)
	if err != nil {
		t.Fatal(err)
	}
	if !again.After(created) {
		t.Fatalf("creation time %v did not move past %v", again, created)
	}
	// The recreated queue still dead-letters: its DLQ was recreated too.
	if _, err := q.ReceiveDead(ctx, "m", queue.Interactive, 1, 0); err != nil {
		t.Fatalf("receive from the recreated DLQ: %v", err)
	}

	// Receive is the first to notice, as a worker's would be.
	deleteQueues(t, name)
	if _, err := q.Receive(ctx, "m", queue.Interactive, 1, 0); err != nil {
		t.Fatalf("receive after the queue vanished: %v", err)
	}
	if q.Epoch(name) != 2 {
		t.Fatalf("epoch = %d after two recoveries, want 2", q.Epoch(name))
	}
}

// A process that does not create queues keeps failing, with backoff, until
// someone else creates the queue, and then works again.
func TestVanishedQueueWithoutCreate(t *testing.T) {
	ctx := context.Background()
	prefix := testenv.QueuePrefix(t)
	creator := queue.New(sqsClient(t), prefix)
	if err := creator.Resolve(ctx, []string{"m"}, true); err != nil {
		t.Fatal(err)
	}
	user := queue.New(sqsClient(t), prefix)
	if err := user.Resolve(ctx, []string{"m"}, false); err != nil {
		t.Fatal(err)
	}
	name := user.Name("m", queue.Interactive)
	deleteQueues(t, name)
	err := user.Send(ctx, queue.Interactive, queue.Body{JobID: "j", Model: "m"})
	if !queue.IsNotExist(err) {
		t.Fatalf("send to a missing queue = %v, want a does-not-exist error", err)
	}
	// The creator brings it back; the user finds it once its backoff ends.
	if err := creator.Send(ctx, queue.Interactive, queue.Body{JobID: "k", Model: "m"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = user.Send(ctx, queue.Interactive, queue.Body{JobID: "j", Model: "m"})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("send after the queue came back: %v", err)
	}
}
