package stacktest_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/apikey"
	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/worker"
)

// One tenant's backlog does not hold up another tenant: tenant A queues
// 2,000 jobs, then tenant B submits 10, and B's jobs are done within a few
// job durations, long before A's backlog is.
func TestTenantBacklogDoesNotHoldUpOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	sim := stacktest.DefaultSim()
	sim.TTFT = 100 * time.Millisecond // a job takes about 0.1 s; four run at once
	s := stacktest.Start(t, stacktest.Options{Sim: &sim, Workers: -1, Tune: func(p *worker.Pool) { p.Concurrency = 4 }})
	ctx := context.Background()
	keys := apikey.NewStore(s.DB)
	_, secretA, err := keys.Create(ctx, apikey.NewKey{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	_, secretB, err := keys.Create(ctx, apikey.NewKey{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}

	const backlog = 2000
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				submitAsync(t, s, secretA, "a's job "+string(rune('0'+i%10)))
			}
		})
	}
	start := time.Now()
	for i := range backlog {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("tenant A queued %d jobs in %s", backlog, time.Since(start).Round(time.Millisecond))

	s.StartWorker()
	time.Sleep(time.Second) // A's backlog is being served
	var ids []string
	for range 10 {
		ids = append(ids, submitAsync(t, s, secretB, "b's job").ID)
	}
	submitted := time.Now()
	waitFor(t, "tenant B's jobs", func() bool {
		var done int
		s.DB.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE id = ANY($1) AND state = 'succeeded'`, ids).Scan(&done)
		return done == len(ids)
	})
	took := time.Since(submitted)
	var aLeft int
	s.DB.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE state = 'queued'`).Scan(&aLeft)
	t.Logf("tenant B's 10 jobs done %s after submission, with %d of A's jobs still queued", took.Round(time.Millisecond), aLeft)
	if aLeft < backlog/2 {
		t.Fatalf("only %d of A's jobs were left: the test did not hold a backlog", aLeft)
	}
	// Ten jobs, four at a time, 0.1 s each: about 0.3 s of work.
	if took > 3*time.Second {
		t.Fatalf("tenant B waited %s behind tenant A's backlog", took)
	}
	if status, _ := s.Do(http.MethodGet, "/v1/models", ""); status != http.StatusOK {
		t.Fatal("api unhealthy")
	}
}
