package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/queue"
	"github.com/sluice-broker/sluice/internal/testenv"
	"github.com/sluice-broker/sluice/internal/worker"
)

// A queue deleted and created again loses its messages; the janitor's next
// sweep gives every job still queued for it a message again, and leaves the
// jobs that do not need one alone.
func TestJanitorResendsJobsOfARecreatedQueue(t *testing.T) {
	ctx := context.Background()
	store := jobs.NewStore(testenv.Pool(t))
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	client := queue.NewClient(cfg, testenv.SQSEndpoint(t))
	q := queue.New(client, testenv.QueuePrefix(t))
	if err := q.Resolve(ctx, []string{"m"}, true); err != nil {
		t.Fatal(err)
	}
	// Jobs sent within the janitor's margin for clock skew of their queue's
	// creation are sent again once; these are older.
	time.Sleep(2100 * time.Millisecond)
	var queued []string
	for i := range 25 {
		j := &jobs.Job{ID: jobs.NewID(), Tenant: "t", Model: "m", Priority: jobs.Interactive, Mode: jobs.Async, Request: []byte(`{}`)}
		if err := store.Insert(ctx, j); err != nil {
			t.Fatal(err)
		}
		if err := q.Send(ctx, queue.Interactive, queue.Body{JobID: j.ID, Model: "m"}); err != nil {
			t.Fatal(err)
		}
		if err := store.MarkEnqueued(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// A finished job needs no message.
			if _, err := store.Cancel(ctx, j.ID, map[string]string{"message": "done"}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		queued = append(queued, j.ID)
	}
	j := &worker.Janitor{Store: store, Queues: q, Aliases: []string{"m"}, Log: slog.New(slog.DiscardHandler)}
	// Nothing was lost yet: a sweep sends nothing.
	j.Sweep(ctx)
	if got := drain(t, q); len(got) != len(queued)+1 {
		t.Fatalf("before the loss the queue holds %d messages, want %d (no resends)", len(got), len(queued)+1)
	}

	time.Sleep(1100 * time.Millisecond) // a new creation time
	deleteInteractive(t, client, q)
	time.Sleep(3 * time.Second) // past the margin for clock skew
	start := time.Now()
	j.Sweep(ctx)
	got := drain(t, q)
	slices.Sort(got)
	got = slices.Compact(got)
	slices.Sort(queued)
	if !slices.Equal(got, queued) {
		t.Fatalf("after the queue came back, messages for %d jobs, want the %d queued ones:\n got %v\nwant %v", len(got), len(queued), got, queued)
	}
	t.Logf("%d jobs had a message again %s after the sweep started", len(got), time.Since(start).Round(time.Millisecond))
	// Sent again once: the next sweep finds nothing more to send.
	j.Sweep(ctx)
	if again := drain(t, q); len(again) != 0 {
		t.Fatalf("a second sweep sent %d messages again", len(again))
	}

	// Lost while no janitor watched: a new janitor (a worker started after the
	// loss) sends again the jobs sent well before the queue it finds.
	deleteInteractive(t, client, q)
	// The jobs' enqueued_at is up to 2 s ahead of the last queue, and SQS
	// gives creation times in whole seconds: wait past both.
	time.Sleep(6 * time.Second)
	fresh := &worker.Janitor{Store: store, Queues: q, Aliases: []string{"m"}, Log: slog.New(slog.DiscardHandler)}
	fresh.Sweep(ctx)
	got = drain(t, q)
	slices.Sort(got)
	if !slices.Equal(slices.Compact(got), queued) {
		t.Fatalf("a new janitor sent %d jobs again, want the %d queued ones", len(got), len(queued))
	}
}

func deleteInteractive(t *testing.T, client *sqs.Client, q *queue.Queues) {
	t.Helper()
	ctx := context.Background()
	url, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q.Name("m", queue.Interactive))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: url.QueueUrl}); err != nil {
		t.Fatal(err)
	}
}

// drain receives every visible message's job id and deletes the messages.
func drain(t *testing.T, q *queue.Queues) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for empty := 0; empty < 2; {
		msgs, err := q.Receive(ctx, "m", queue.Interactive, 10, 0)
		if err != nil {
			t.Fatal(fmt.Errorf("drain: %w", err))
		}
		if len(msgs) == 0 {
			empty++
			continue
		}
		for _, m := range msgs {
			ids = append(ids, m.JobID)
			if err := q.Delete(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ids
}
