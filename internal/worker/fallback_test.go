package worker_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/pools"
	"github.com/sluice-broker/sluice/internal/queue"
	"github.com/sluice-broker/sluice/internal/testenv"
	"github.com/sluice-broker/sluice/internal/worker"
)

// The janitor moves the queued jobs of an alias no account can serve to its
// first fallback that can, once each, with a token in the fallback's queue;
// it leaves them where they are while every fallback is down too.
func TestJanitorMovesJobsToAFallback(t *testing.T) {
	ctx := context.Background()
	db := testenv.Pool(t)
	store := jobs.NewStore(db)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	q := queue.New(queue.NewClient(cfg, testenv.SQSEndpoint(t)), testenv.QueuePrefix(t))
	if err := q.Resolve(ctx, []string{"a", "b", "c"}, true); err != nil {
		t.Fatal(err)
	}
	health := pools.Store{DB: db}
	publish := func(account, model string, healthy bool) {
		t.Helper()
		if err := health.Publish(ctx, pools.Health{Account: account, Model: model, Healthy: healthy, ChangedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	publish("x", "a", false)
	publish("y", "b", false)
	publish("z", "c", false)

	var waiting []string
	for i := range 4 {
		j := &jobs.Job{ID: jobs.NewID(), Tenant: "t", Model: "a", Priority: jobs.Interactive, Mode: jobs.Async, Request: []byte(`{}`)}
		if i == 0 {
			j.RequestedModel = "other" // already served by a fallback: it stays
		}
		if err := store.Insert(ctx, j); err != nil {
			t.Fatal(err)
		}
		if err := store.MarkEnqueued(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			waiting = append(waiting, j.ID)
		}
	}
	j := &worker.Janitor{Store: store, Queues: q, Log: slog.New(slog.DiscardHandler), Health: health,
		Fallbacks: map[string]worker.Fallback{"a": {To: []string{"b", "c"}}}}

	j.Sweep(ctx)
	var moved int
	db.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE model <> 'a'`).Scan(&moved)
	if moved != 0 {
		t.Fatalf("%d jobs moved while every fallback is down too", moved)
	}

	publish("z", "c", true)
	j.Sweep(ctx)
	rows, err := db.Query(ctx, `SELECT id FROM jobs WHERE model = 'c' AND requested_model = 'a' AND enqueued_at IS NOT NULL ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		got = append(got, id)
	}
	rows.Close()
	slices.Sort(waiting)
	if !slices.Equal(got, waiting) {
		t.Fatalf("moved to c: %v, want %v", got, waiting)
	}
	var tokens []string
	for range 5 {
		msgs, err := q.Receive(ctx, "c", queue.Interactive, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			tokens = append(tokens, m.JobID)
			q.Delete(ctx, m)
		}
		if len(tokens) >= len(waiting) {
			break
		}
	}
	slices.Sort(tokens)
	if !slices.Equal(tokens, waiting) {
		t.Fatalf("tokens in c's queue: %v, want %v", tokens, waiting)
	}
	// A moved job does not move again, even when its new alias goes down.
	publish("z", "c", false)
	publish("y", "b", true)
	j.Fallbacks["c"] = worker.Fallback{To: []string{"b"}}
	j.Sweep(ctx)
	db.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE model = 'b'`).Scan(&moved)
	if moved != 0 {
		t.Fatalf("%d jobs moved a second time", moved)
	}
}
