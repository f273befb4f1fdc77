package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newJob(t *testing.T, s *jobs.Store) *jobs.Job {
	t.Helper()
	j := &jobs.Job{ID: jobs.NewID(), Tenant: "t1", Model: "m", Priority: jobs.Interactive, Mode: jobs.Sync, Request: json.RawMessage(`{"model":"m"}`)}
	if err := s.Insert(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	return j
}

// claim claims the next job of model "m" for account.
func claim(t *testing.T, s *jobs.Store, account string, lease time.Duration) *jobs.Job {
	t.Helper()
	c, err := s.ClaimNext(context.Background(), jobs.ClaimParams{Model: "m", Priority: jobs.Interactive, Account: account, Lease: lease})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if len(c.Jobs) != 1 {
		t.Fatalf("claimed %d jobs, want 1", len(c.Jobs))
	}
	return c.Jobs[0]
}

func noClaim(t *testing.T, s *jobs.Store) {
	t.Helper()
	if c, err := s.ClaimNext(context.Background(), jobs.ClaimParams{Model: "m", Priority: jobs.Interactive, Account: "x", Lease: time.Minute}); !errors.Is(err, jobs.ErrNoJob) {
		t.Fatalf("claim = %+v, %v; want ErrNoJob", c.Jobs, err)
	}
}

func TestStateMachine(t *testing.T) {
	ctx := context.Background()
	s := jobs.NewStore(testenv.Pool(t))
	j := newJob(t, s)
	if j.State != jobs.Queued {
		t.Fatalf("new job state = %s, want queued", j.State)
	}

	claimed := claim(t, s, "acct-a", time.Minute)
	if claimed.ID != j.ID || claimed.State != jobs.Running || claimed.Attempts != 1 || claimed.Account != "acct-a" {
		t.Fatalf("claimed = %+v", claimed)
	}
	// While the first worker holds the lease nothing is claimable.
	noClaim(t, s)
	// A throttle is counted; a release returns it to the queue, due after a
	// delay, and the next claim is attempt 2.
	if err := s.NoteThrottle(ctx, j.ID, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, j.ID, 1, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	noClaim(t, s)
	if n, next, err := s.Pending(ctx, "m", jobs.Interactive); err != nil || n != 1 || time.Until(next) <= 0 {
		t.Fatalf("pending = %d, due in %s, %v; want 1 due later", n, time.Until(next), err)
	}
	time.Sleep(400 * time.Millisecond)
	again := claim(t, s, "acct-b", time.Minute)
	if again.Attempts != 2 || again.Throttles != 1 {
		t.Fatalf("after release: attempts=%d throttles=%d", again.Attempts, again.Throttles)
	}
	// The superseded attempt's result is refused.
	if err := s.Finish(ctx, j.ID, 1, jobs.Outcome{State: jobs.Succeeded, Response: map[string]string{"x": "stale"}}); !errors.Is(err, jobs.ErrLeaseLost) {
		t.Fatalf("stale finish err = %v, want ErrLeaseLost", err)
	}
	if err := s.Finish(ctx, j.ID, 2, jobs.Outcome{State: jobs.Succeeded, Response: map[string]string{"x": "fresh"}}); err != nil {
		t.Fatal(err)
	}
	done, err := s.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != jobs.Succeeded || string(done.Response) != `{"x":"fresh"}` || done.FinishedAt == nil {
		t.Fatalf("finished job = %+v (response %s)", done, done.Response)
	}
	// Terminal jobs cannot be claimed or cancelled.
	noClaim(t, s)
	if ok, err := s.Cancel(ctx, j.ID, "late"); err != nil || ok {
		t.Fatalf("cancel of finished job = %v, %v", ok, err)
	}
	if n, _, err := s.Pending(ctx, "m", jobs.Interactive); err != nil || n != 0 {
		t.Fatalf("pending after the end = %d, %v", n, err)
	}
}

// A dead worker's job goes back to the queue when its lease lapses, keeping
// its attempt: the dead worker's result would still be taken until someone
// claims it again, and then it is refused.
func TestLapsedLeaseIsRequeued(t *testing.T) {
	ctx := context.Background()
	s := jobs.NewStore(testenv.Pool(t))
	j := newJob(t, s)
	claim(t, s, "a", 50*time.Millisecond)
	if got, err := s.RequeueLost(ctx, 5, "lost", 10); err != nil || len(got) != 0 {
		t.Fatalf("requeue before the lease lapsed = %v, %v", got, err)
	}
	time.Sleep(100 * time.Millisecond)
	got, err := s.RequeueLost(ctx, 5, "lost", 10)
	if err != nil || len(got) != 1 || got[0].ID != j.ID || got[0].Model != "m" || got[0].Priority != jobs.Interactive {
		t.Fatalf("requeued = %+v, %v", got, err)
	}
	re := claim(t, s, "b", time.Minute)
	if re.ID != j.ID || re.Attempts != 2 || re.Account != "b" {
		t.Fatalf("reclaimed = %+v", re)
	}
	if err := s.ExtendLease(ctx, j.ID, 1, time.Minute); !errors.Is(err, jobs.ErrLeaseLost) {
		t.Fatalf("extend by the dead worker err = %v, want ErrLeaseLost", err)
	}
	if err := s.Finish(ctx, j.ID, 1, jobs.Outcome{State: jobs.Succeeded}); !errors.Is(err, jobs.ErrLeaseLost) {
		t.Fatalf("finish by the dead worker err = %v, want ErrLeaseLost", err)
	}
}

// A worker that lost the database past its lease still records its result
// when it comes back, if nobody claimed the job since.
func TestResultAfterRequeueIsKept(t *testing.T) {
	ctx := context.Background()
	s := jobs.NewStore(testenv.Pool(t))
	j := newJob(t, s)
	claim(t, s, "a", 10*time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	if got, err := s.RequeueLost(ctx, 5, "lost", 10); err != nil || len(got) != 1 {
		t.Fatalf("requeued = %v, %v", got, err)
	}
	if err := s.Finish(ctx, j.ID, 1, jobs.Outcome{State: jobs.Succeeded, Response: map[string]string{"x": "kept"}, Charged: 42}); err != nil {
		t.Fatalf("finish after requeue: %v", err)
	}
	noClaim(t, s)
}

// Abandon cancels a job wherever it is; Cancel only before it starts.
func TestCancelAndAbandon(t *testing.T) {
	ctx := context.Background()
	s := jobs.NewStore(testenv.Pool(t))
	queued := newJob(t, s)
	if ok, err := s.Cancel(ctx, queued.ID, "gone"); err != nil || !ok {
		t.Fatalf("cancel queued = %v, %v", ok, err)
	}
	noClaim(t, s)
	running := newJob(t, s)
	claim(t, s, "a", time.Minute)
	if ok, err := s.Cancel(ctx, running.ID, "gone"); err != nil || ok {
		t.Fatalf("cancel running = %v, %v; want not cancelled", ok, err)
	}
	if ok, err := s.Abandon(ctx, running.ID, map[string]string{"message": "gone"}); err != nil || !ok {
		t.Fatalf("abandon running = %v, %v", ok, err)
	}
	if err := s.Finish(ctx, running.ID, 1, jobs.Outcome{State: jobs.Succeeded}); !errors.Is(err, jobs.ErrLeaseLost) {
		t.Fatalf("finish of an abandoned job = %v, want ErrLeaseLost", err)
	}
}

func TestUnenqueued(t *testing.T) {
	ctx := context.Background()
	s := jobs.NewStore(testenv.Pool(t))
	sent := newJob(t, s)
	unsent := newJob(t, s)
	if err := s.MarkEnqueued(ctx, sent.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.Unenqueued(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != unsent.ID {
		t.Fatalf("unenqueued = %v, want only %s", got, unsent.ID)
	}
}

func TestHubWakesWaiters(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := testenv.Pool(t)
	s := jobs.NewStore(pool)
	connURL := pool.Config().ConnString()
	hub := jobs.NewHub(s, func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, connURL) }, slog.Default())
	hub.Poll = time.Hour // only NOTIFY or the reconnect re-check may wake a waiter
	go hub.Run(ctx)

	const n = 20
	ids := make([]string, n)
	for i := range ids {
		j := newJob(t, s)
		ids[i] = j.ID
		claim(t, s, "a", time.Minute)
	}
	var wg sync.WaitGroup
	results := make([]*jobs.Job, n)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			defer wcancel()
			j, err := hub.Wait(wctx, id)
			if err != nil {
				t.Errorf("wait %s: %v", id, err)
				return
			}
			results[i] = j
		}()
	}
	time.Sleep(200 * time.Millisecond) // let the waiters register and LISTEN start
	for _, id := range ids {
		if err := s.Finish(ctx, id, 1, jobs.Outcome{State: jobs.Succeeded, Response: map[string]string{"id": id}}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, j := range results {
		if j == nil || j.ID != ids[i] || j.State != jobs.Succeeded {
			t.Fatalf("waiter %d got %+v", i, j)
		}
	}
}

// A result committed while the listener's connection is down is found by the
// re-check after reconnecting: NOTIFY is not replayed.
func TestHubRecoversResultsMissedWhileDisconnected(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := testenv.Pool(t)
	s := jobs.NewStore(pool)
	connURL := pool.Config().ConnString()

	var mu sync.Mutex
	var pids []uint32
	connect := func(ctx context.Context) (*pgx.Conn, error) {
		c, err := pgx.Connect(ctx, connURL)
		if err == nil {
			mu.Lock()
			pids = append(pids, c.PgConn().PID())
			mu.Unlock()
		}
		return c, err
	}
	hub := jobs.NewHub(s, connect, slog.Default())
	hub.Poll = time.Hour
	go hub.Run(ctx)

	j := newJob(t, s)
	claim(t, s, "a", time.Minute)
	got := make(chan *jobs.Job, 1)
	go func() {
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		defer wcancel()
		done, err := hub.Wait(wctx, j.ID)
		if err != nil {
			t.Errorf("wait: %v", err)
		}
		got <- done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(pids)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	first := pids[0]
	mu.Unlock()
	// The listener must be past its first re-check, or that could find the result.
	awaitListening(t, s, hub)
	// Kill the listener's session (waiting until it is gone) and finish the
	// job before it reconnects.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_terminate_backend($1, 10000)`, first); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, j.ID, 1, jobs.Outcome{State: jobs.Failed, Error: map[string]string{"message": "boom"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case done := <-got:
		if done == nil || done.State != jobs.Failed {
			t.Fatalf("waiter got %+v", done)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("waiter was not woken after the listener reconnected")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pids) < 2 {
		t.Fatalf("listener connected %d times; want a reconnect", len(pids))
	}
}
