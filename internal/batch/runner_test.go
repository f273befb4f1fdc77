package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/files"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/queue"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const testConfig = `
models:
  m:
    bedrock_model_id: amazon.nova-lite-v1:0
    default_max_tokens: 100
accounts:
  - name: a
    region: us-east-1
    models:
      m: {tpm: 100000}
`

type fixture struct {
	pool   *pgxpool.Pool
	store  *Store
	files  *files.PG
	jobs   *jobs.Store
	queues *queue.Queues
	cfg    *config.Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg, _, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	pool := testenv.Pool(t)
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	q := queue.New(queue.NewClient(awsCfg, testenv.SQSEndpoint(t)), testenv.QueuePrefix(t))
	if err := q.Resolve(context.Background(), cfg.Aliases(), true); err != nil {
		t.Fatal(err)
	}
	return &fixture{pool: pool, store: NewStore(pool), files: files.NewPG(pool), jobs: jobs.NewStore(pool), queues: q, cfg: cfg}
}

// batch uploads n lines and creates a batch over them.
func (f *fixture) batch(t *testing.T, n int) *Batch {
	t.Helper()
	ctx := context.Background()
	up, err := f.files.Begin(ctx, "acme", "in.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		line, _ := json.Marshal(map[string]any{"custom_id": fmt.Sprintf("req-%d", i), "method": "POST", "url": Endpoint,
			"body": map[string]any{"model": "m", "messages": []map[string]string{{"role": "user", "content": "hi"}}}})
		up.Write(append(line, '\n'))
	}
	in, err := up.Commit(ctx, files.PurposeBatch, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &Batch{ID: NewID(), Tenant: "acme", Endpoint: Endpoint, CompletionWindow: CompletionWindow, InputFileID: in.ID}
	if err := f.store.Create(ctx, b, time.Hour); err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) runner(q Sender) *Runner {
	level := slog.LevelError
	if os.Getenv("SLUICE_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return &Runner{Store: f.store, Jobs: f.jobs, Files: f.files, Queue: q, Config: f.cfg, Poll: 50 * time.Millisecond, ChunkLines: 2,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))}
}

// dying is a process that dies at its first send: its first chunk of jobs
// is committed, and never sent.
type dying struct{ die context.CancelFunc }

func (d dying) SendBatch(ctx context.Context, _ queue.Priority, _ []queue.Body) ([]queue.Body, error) {
	d.die()
	return nil, ctx.Err()
}

func (f *fixture) await(t *testing.T, id, what string, cond func(*Batch) bool) *Batch {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := f.store.get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(b) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch never %s: %+v", what, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A runner that dies mid-ingestion leaves a committed prefix of the lines as
// jobs; another runner takes the batch over and goes on after that prefix,
// so every line becomes exactly one job. The jobs the dead runner never sent
// are the janitor's: their enqueued_at is NULL.
func TestIngestionResumesAfterARunnerDies(t *testing.T) {
	f := newFixture(t)
	b := f.batch(t, 7)

	ctx, die := context.WithCancel(context.Background())
	f.runner(dying{die}).Run(ctx)
	b = f.await(t, b.ID, "half ingested", func(b *Batch) bool { return b.Status == InProgress })
	if b.Total != 7 || b.Ingested != 2 {
		t.Fatalf("after the first runner: total %d, ingested %d", b.Total, b.Ingested)
	}

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.runner(f.queues).Run(ctx) }()
	defer func() { stop(); <-done }()
	f.await(t, b.ID, "fully ingested", func(b *Batch) bool { return b.Ingested == 7 })

	// A chunk counts as ingested when its jobs are inserted; they are sent
	// (and marked enqueued) just after, so the last ones may still be on
	// their way.
	want := "req-0:false req-1:false req-2:true req-3:true req-4:true req-5:true req-6:true"
	var got []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rows, err := f.pool.Query(context.Background(), `SELECT custom_id, enqueued_at IS NOT NULL FROM jobs WHERE batch_id = $1 ORDER BY id`, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for rows.Next() {
			var id string
			var enqueued bool
			if err := rows.Scan(&id, &enqueued); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s:%v", id, enqueued))
		}
		rows.Close()
		if strings.Join(got, " ") == want || time.Now().After(deadline) {
			break
		}
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("jobs = %v\nwant   %s", got, want)
	}
	var sent int
	for range 20 {
		msgs, err := f.queues.Receive(context.Background(), "m", queue.Batch, 10, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		sent += len(msgs)
		if sent >= 5 {
			break
		}
	}
	if sent != 5 {
		t.Fatalf("%d messages on the batch queue, want 5", sent)
	}
}

// A batch whose validating runner died (its lease ran out) is validated again.
func TestValidationIsTakenOverFromADeadRunner(t *testing.T) {
	f := newFixture(t)
	b := f.batch(t, 3)
	if _, err := f.pool.Exec(context.Background(), `UPDATE batches SET lease_owner = 'dead', lease_expires_at = now() - interval '1 second' WHERE id = $1`, b.ID); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.runner(f.queues).Run(ctx) }()
	defer func() { stop(); <-done }()
	b = f.await(t, b.ID, "ingested", func(b *Batch) bool { return b.Status == InProgress && b.Ingested == 3 })
	if b.Total != 3 || b.Model != "m" {
		t.Fatalf("batch = %+v", b)
	}
}
