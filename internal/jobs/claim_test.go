package jobs_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func insert(t *testing.T, s *jobs.Store, tenant string, weight float64, deadline *time.Time) *jobs.Job {
	t.Helper()
	j := &jobs.Job{ID: jobs.NewID(), Tenant: tenant, Model: "m", Priority: jobs.Interactive, Mode: jobs.Sync,
		Request: json.RawMessage(`{"model":"m"}`), Cost: 100, Weight: weight, Deadline: deadline}
	if err := s.Insert(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	return j
}

func claimTenants(t *testing.T, s *jobs.Store, n int, p jobs.ClaimParams) []string {
	t.Helper()
	p.Model, p.Priority, p.Account = "m", jobs.Interactive, "a"
	if p.Lease == 0 {
		p.Lease = time.Minute
	}
	var tenants []string
	for range n {
		p.N = 1
		c, err := s.ClaimNext(context.Background(), p)
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
		tenants = append(tenants, c.Jobs[0].Tenant)
	}
	return tenants
}

// A tenant with a backlog does not hold up a tenant that arrives later: the
// claim serves the tenant with the least recent service first.
func TestClaimSharesFairlyBetweenTenants(t *testing.T) {
	s := jobs.NewStore(testenv.Pool(t))
	for range 50 {
		insert(t, s, "big", 1, nil)
	}
	claimTenants(t, s, 5, jobs.ClaimParams{}) // big has been served
	for range 3 {
		insert(t, s, "small", 1, nil)
	}
	got := claimTenants(t, s, 3, jobs.ClaimParams{})
	for _, tenant := range got {
		if tenant != "small" {
			t.Fatalf("claims after small arrived = %v; want small's three jobs first", got)
		}
	}
}

// Weights divide the service: a tenant of weight 3 gets three claims for
// every one of a tenant of weight 1, while both have work waiting.
func TestClaimHonoursWeights(t *testing.T) {
	s := jobs.NewStore(testenv.Pool(t))
	for range 20 {
		insert(t, s, "heavy", 3, nil)
		insert(t, s, "light", 1, nil)
	}
	count := map[string]int{}
	for _, tenant := range claimTenants(t, s, 16, jobs.ClaimParams{}) {
		count[tenant]++
	}
	if count["heavy"] < 11 || count["heavy"] > 13 {
		t.Fatalf("claims by tenant = %v; want about 12 heavy and 4 light", count)
	}
}

// Within a tenant the earliest deadline goes first; a job without one ranks
// as due a horizon after it was made, so it waits behind callers who are
// waiting, but not for ever.
func TestClaimTakesEarliestDeadlineFirst(t *testing.T) {
	ctx := context.Background()
	s := jobs.NewStore(testenv.Pool(t))
	async := insert(t, s, "t", 1, nil)
	later := time.Now().Add(time.Minute)
	sooner := time.Now().Add(30 * time.Second)
	late := insert(t, s, "t", 1, &later)
	soon := insert(t, s, "t", 1, &sooner)
	var order []string
	for range 3 {
		c, err := s.ClaimNext(ctx, jobs.ClaimParams{Model: "m", Priority: jobs.Interactive, Account: "a", Lease: time.Minute, FairWindow: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, c.Jobs[0].ID)
	}
	if want := []string{soon.ID, late.ID, async.ID}; order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Fatalf("claim order = %v, want %v (soonest deadline first, async last)", order, want)
	}
}

// A job that cannot finish before its deadline is never started: the claim
// expires it, and its caller hears at once.
func TestClaimExpiresWhatCannotFinishInTime(t *testing.T) {
	ctx := context.Background()
	s := jobs.NewStore(testenv.Pool(t))
	tight := time.Now().Add(2 * time.Second)
	doomed := insert(t, s, "t", 1, &tight)
	fine := insert(t, s, "t", 1, nil)
	c, err := s.ClaimNext(ctx, jobs.ClaimParams{Model: "m", Priority: jobs.Interactive, Account: "a", N: 2, Lease: time.Minute, ServiceTime: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Jobs) != 1 || c.Jobs[0].ID != fine.ID || c.Expired != 1 {
		t.Fatalf("claimed %d jobs (first %s), expired %d; want only %s, one expired", len(c.Jobs), c.Jobs[0].ID, c.Expired, fine.ID)
	}
	got, err := s.Get(ctx, doomed.ID)
	if err != nil || got.State != jobs.Expired || got.StartedAt != nil || got.Attempts != 0 {
		t.Fatalf("doomed job = %+v, %v; want expired, never started", got, err)
	}
	if n, _, err := s.Pending(ctx, "m", jobs.Interactive); err != nil || n != 0 {
		t.Fatalf("pending = %d, %v", n, err)
	}
}

// Concurrent claimers never take the same job, and never wait on each other.
func TestConcurrentClaimsAreDisjoint(t *testing.T) {
	s := jobs.NewStore(testenv.Pool(t))
	const n = 60
	for range n {
		insert(t, s, "t", 1, nil)
	}
	seen := make(chan string, n)
	done := make(chan struct{})
	for range 6 {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				c, err := s.ClaimNext(context.Background(), jobs.ClaimParams{Model: "m", Priority: jobs.Interactive, Account: "a", N: 3, Lease: time.Minute})
				if err != nil {
					return
				}
				for _, j := range c.Jobs {
					seen <- j.ID
				}
			}
		}()
	}
	for range 6 {
		<-done
	}
	close(seen)
	ids := map[string]bool{}
	for id := range seen {
		if ids[id] {
			t.Fatalf("job %s claimed twice", id)
		}
		ids[id] = true
	}
	if len(ids) != n {
		t.Fatalf("claimed %d distinct jobs, want %d", len(ids), n)
	}
}
