package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/testenv"
	"github.com/sluice-broker/sluice/schema"
)

// pgxpool's settings in DATABASE_URL must not break the LISTEN connection:
// Postgres refuses them as startup parameters, and without LISTEN a sync
// caller hears of its result only from the safety poll.
func TestHubAcceptsPoolSettingsInURL(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := testenv.DatabaseURL(t) + "&pool_max_conns=4&pool_min_conns=1&pool_max_conn_idle_time=1m&pool_health_check_period=10s"
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := schema.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// What the hub used to do: shows the URL is one Postgres refuses.
	if conn, err := pgx.Connect(ctx, url); err == nil {
		conn.Close(ctx)
		t.Fatal("Postgres accepted pool_max_conns as a startup parameter; this test proves nothing")
	}
	connect, err := jobs.Connector(url)
	if err != nil {
		t.Fatal(err)
	}
	s := jobs.NewStore(pool)
	hub := jobs.NewHub(s, connect, slog.Default())
	hub.Poll = time.Hour // only NOTIFY may wake the waiter
	go hub.Run(ctx)

	j := newJob(t, s)
	claim(t, s, "a", time.Minute)
	got := make(chan *jobs.Job, 1)
	go func() {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		done, err := hub.Wait(wctx, j.ID)
		if err != nil {
			t.Errorf("wait: %v", err)
		}
		got <- done
	}()
	time.Sleep(300 * time.Millisecond) // the waiter registers; LISTEN starts
	if err := s.Finish(ctx, j.ID, 1, jobs.Outcome{State: jobs.Succeeded, Response: map[string]string{"id": j.ID}}); err != nil {
		t.Fatal(err)
	}
	select {
	case done := <-got:
		if done == nil || done.State != jobs.Succeeded {
			t.Fatalf("waiter got %+v", done)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer 5 s after the job finished: the LISTEN connection is down")
	}
}

// A waiter gets its job's result but not its request: it sent the request,
// and ten thousand waiters would otherwise hold ten thousand of them.
func TestWaitReturnsResultWithoutRequest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := testenv.Pool(t)
	s := jobs.NewStore(pool)
	connect, err := jobs.Connector(pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	hub := jobs.NewHub(s, connect, slog.Default())
	go hub.Run(ctx)
	j := newJob(t, s)
	claim(t, s, "a", time.Minute)
	if err := s.Finish(ctx, j.ID, 1, jobs.Outcome{State: jobs.Succeeded, Response: map[string]string{"answer": "42"}}); err != nil {
		t.Fatal(err)
	}
	// Finished before anyone waits: the reader's first look finds it.
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	time.Sleep(100 * time.Millisecond) // Run has started
	done, err := hub.Wait(wctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != jobs.Succeeded || string(done.Response) != `{"answer":"42"}` || done.Request != nil {
		t.Fatalf("got state %s response %s request %s", done.State, done.Response, done.Request)
	}
}
