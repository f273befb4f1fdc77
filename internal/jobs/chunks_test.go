package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestChunksAreFencedAndStopWhenAbandoned(t *testing.T) {
	ctx := context.Background()
	s := jobs.NewStore(testenv.Pool(t))
	j := newJob(t, s)
	claim(t, s, "a", time.Minute)
	if has, err := s.HasChunks(ctx, j.ID); err != nil || has {
		t.Fatalf("HasChunks before any = %v, %v", has, err)
	}
	for seq, data := range []string{"data: one\n\n", "data: two\n\n"} {
		if err := s.AppendChunk(ctx, j.ID, 1, seq+1, []byte(data)); err != nil {
			t.Fatalf("append chunk %d: %v", seq+1, err)
		}
	}
	if err := s.AppendChunk(ctx, j.ID, 2, 3, []byte("stale")); !errors.Is(err, jobs.ErrLeaseLost) {
		t.Fatalf("append by an attempt that does not hold the job: err = %v, want ErrLeaseLost", err)
	}
	chunks, err := s.Chunks(ctx, j.ID, 2)
	if err != nil || len(chunks) != 1 || chunks[0].Seq != 2 || string(chunks[0].Data) != "data: two\n\n" {
		t.Fatalf("chunks from 2 = %+v, %v", chunks, err)
	}
	if has, err := s.HasChunks(ctx, j.ID); err != nil || !has {
		t.Fatalf("HasChunks after two = %v, %v", has, err)
	}

	// The caller hangs up while the job runs: the job is cancelled, and the
	// worker's next chunk is refused.
	if ok, err := s.Abandon(ctx, j.ID, map[string]string{"message": "gone"}); err != nil || !ok {
		t.Fatalf("abandon a running job = %v, %v", ok, err)
	}
	if err := s.AppendChunk(ctx, j.ID, 1, 3, []byte("data: three\n\n")); !errors.Is(err, jobs.ErrLeaseLost) {
		t.Fatalf("append after the caller left: err = %v, want ErrLeaseLost", err)
	}
	if ok, err := s.Abandon(ctx, j.ID, nil); err != nil || ok {
		t.Fatalf("abandon a finished job = %v, %v; want nothing done", ok, err)
	}
	if err := s.DeleteChunks(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if has, _ := s.HasChunks(ctx, j.ID); has {
		t.Fatal("chunks remain after DeleteChunks")
	}

	// A queued job is cancelled outright.
	q := newJob(t, s)
	if ok, err := s.Abandon(ctx, q.ID, map[string]string{"message": "gone"}); err != nil || !ok {
		t.Fatalf("abandon a queued job = %v, %v", ok, err)
	}
	if got, _ := s.Get(ctx, q.ID); got.State != jobs.Cancelled {
		t.Fatalf("abandoned queued job is %s", got.State)
	}
}

func TestParseChunkNote(t *testing.T) {
	cases := []struct {
		payload string
		want    jobs.ChunkNote
		inline  bool
		bad     bool
	}{
		{"job_1:7:data: {\"a\":\"b:c\"}\n\n", jobs.ChunkNote{JobID: "job_1", Seq: 7, Data: []byte("data: {\"a\":\"b:c\"}\n\n")}, true, false},
		{"job_1:12", jobs.ChunkNote{JobID: "job_1", Seq: 12}, false, false},
		{"job_1", jobs.ChunkNote{}, false, true},
		{"job_1:x:data", jobs.ChunkNote{}, false, true},
		{":1:data", jobs.ChunkNote{}, false, true},
		{"job_1:0:data", jobs.ChunkNote{}, false, true},
	}
	for _, tc := range cases {
		got, err := jobs.ParseChunkNote(tc.payload)
		if tc.bad {
			if err == nil {
				t.Errorf("%q parsed as %+v, want an error", tc.payload, got)
			}
			continue
		}
		if err != nil || got.JobID != tc.want.JobID || got.Seq != tc.want.Seq || string(got.Data) != string(tc.want.Data) || (got.Data != nil) != tc.inline {
			t.Errorf("%q = %+v, %v; want %+v", tc.payload, got, err, tc.want)
		}
	}
}

// startHub runs a hub whose connections are recorded, so a test can kill one.
func startHub(t *testing.T, s *jobs.Store, connURL string) (hub *jobs.Hub, pids func() []uint32) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var seen []uint32
	hub = jobs.NewHub(s, func(ctx context.Context) (*pgx.Conn, error) {
		c, err := pgx.Connect(ctx, connURL)
		if err == nil {
			mu.Lock()
			seen = append(seen, c.PgConn().PID())
			mu.Unlock()
		}
		return c, err
	}, slog.Default())
	hub.Poll = time.Hour
	done := make(chan struct{})
	go func() { defer close(done); hub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return hub, func() []uint32 {
		mu.Lock()
		defer mu.Unlock()
		return append([]uint32(nil), seen...)
	}
}

// awaitListening returns once the hub's listener is in its notification
// loop, past the re-checks it makes on connecting: a chunk notification
// reaches a subscriber only there.
func awaitListening(t *testing.T, s *jobs.Store, hub *jobs.Hub) {
	t.Helper()
	ctx := context.Background()
	ping := newJob(t, s)
	claim(t, s, "a", time.Minute)
	sub := hub.Subscribe(ping.ID)
	defer sub.Close()
	deadline := time.Now().Add(20 * time.Second)
	for seq := 1; time.Now().Before(deadline); seq++ {
		// A notification sent before LISTEN is lost: send until one arrives.
		if err := s.AppendChunk(ctx, ping.ID, 1, seq, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-sub.Notes():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("the hub never started listening")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSubscriptionRelaysChunksInOrder(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	s := jobs.NewStore(pool)
	hub, _ := startHub(t, s, pool.Config().ConnString())
	awaitListening(t, s, hub)

	j := newJob(t, s)
	other := newJob(t, s)
	for range []string{j.ID, other.ID} {
		claim(t, s, "a", time.Minute)
	}
	sub := hub.Subscribe(j.ID)
	defer sub.Close()

	big := strings.Repeat("x", jobs.InlineChunkBytes+1)
	const n = 30
	for seq := 1; seq <= n; seq++ {
		data := fmt.Sprintf("data: %d\n\n", seq)
		if seq == 10 {
			data = big
		}
		if err := s.AppendChunk(ctx, j.ID, 1, seq, []byte(data)); err != nil {
			t.Fatal(err)
		}
		// Another job's chunks go to its own waiters only.
		if err := s.AppendChunk(ctx, other.ID, 1, seq, []byte("data: other\n\n")); err != nil {
			t.Fatal(err)
		}
	}
	for seq := 1; seq <= n; seq++ {
		select {
		case note := <-sub.Notes():
			if note.JobID != j.ID || note.Seq != seq {
				t.Fatalf("note %d = %s #%d", seq, note.JobID, note.Seq)
			}
			if seq == 10 {
				if note.Data != nil {
					t.Fatalf("a %d-byte chunk was carried inline", len(big))
				}
			} else if string(note.Data) != fmt.Sprintf("data: %d\n\n", seq) {
				t.Fatalf("note %d carries %q", seq, note.Data)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("note %d never came", seq)
		}
	}
}

// Chunks sent while the listener is down are not replayed: the waiter is
// told to resync and finds them in the table.
func TestSubscriptionResyncsAfterReconnect(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	s := jobs.NewStore(pool)
	hub, pids := startHub(t, s, pool.Config().ConnString())
	awaitListening(t, s, hub)

	j := newJob(t, s)
	claim(t, s, "a", time.Minute)
	sub := hub.Subscribe(j.ID)
	defer sub.Close()
	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend($1, 10000)`, pids()[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendChunk(ctx, j.ID, 1, 1, []byte("data: missed\n\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a reconnect", func() bool { return len(pids()) > 1 })
	select {
	case <-sub.Resync():
	case <-time.After(20 * time.Second):
		t.Fatal("no resync after the listener reconnected")
	}
	chunks, err := s.Chunks(ctx, j.ID, 1)
	if err != nil || len(chunks) != 1 || string(chunks[0].Data) != "data: missed\n\n" {
		t.Fatalf("chunks after resync = %+v, %v", chunks, err)
	}
}
