package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/sluice-broker/sluice/internal/apikey"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/testenv"
)

// insertFor queues n jobs of cost 100 submitted with a managed key.
func insertFor(t *testing.T, s *jobs.Store, k *apikey.Key, n int) {
	t.Helper()
	for range n {
		j := &jobs.Job{ID: jobs.NewID(), Tenant: k.Tenant, Model: "m", Priority: jobs.Interactive, Mode: jobs.Async,
			Request: json.RawMessage(`{"model":"m"}`), Cost: 100, Weight: 1}
		if _, err := s.Submit(context.Background(), j, jobs.Submission{APIKeyID: k.ID}); err != nil {
			t.Fatal(err)
		}
	}
}

// claimAll claims up to n jobs in one statement and counts them by tenant.
func claimAll(t *testing.T, s *jobs.Store, n int) map[string]int {
	t.Helper()
	c, err := s.ClaimNext(context.Background(), jobs.ClaimParams{Model: "m", Priority: jobs.Interactive, Account: "a", N: n, Lease: 60e9})
	if err != nil && !errors.Is(err, jobs.ErrNoJob) {
		t.Fatalf("claim: %v", err)
	}
	got := map[string]int{}
	for _, j := range c.Jobs {
		got[j.Tenant]++
	}
	return got
}

// A key over its requests-per-minute limit has its jobs held in the queue,
// not refused, while another key's jobs are claimed; its bucket refills at
// rpm/60 a second and lets one more through per 60/rpm seconds.
func TestClaimHoldsJobsOfKeyOverItsRequestLimit(t *testing.T) {
	db := testenv.Pool(t)
	ctx := context.Background()
	s, keys := jobs.NewStore(db), apikey.NewStore(db)
	limited, _, err := keys.Create(ctx, apikey.NewKey{Name: "limited", Limits: apikey.Limits{RPM: 3}})
	if err != nil {
		t.Fatal(err)
	}
	free, _, err := keys.Create(ctx, apikey.NewKey{Name: "free"})
	if err != nil {
		t.Fatal(err)
	}
	insertFor(t, s, limited, 6)
	insertFor(t, s, free, 4)

	// One claim of ten: the limited key's bucket holds three requests.
	if got := claimAll(t, s, 10); got[limited.Tenant] != 3 || got[free.Tenant] != 4 {
		t.Fatalf("first claim by tenant = %v; want 3 of the limited key's and all 4 of the free key's", got)
	}
	if got := claimAll(t, s, 10); len(got) != 0 {
		t.Fatalf("second claim = %v; want nothing while the limited key's bucket is empty", got)
	}
	var queued int
	db.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE api_key_id = $1 AND state = 'queued'`, limited.ID).Scan(&queued)
	if queued != 3 {
		t.Fatalf("%d of the limited key's jobs queued; want 3 held back", queued)
	}
	// Twenty seconds later (rpm 3: one request per 20 s) one more may start.
	if _, err := db.Exec(ctx, `UPDATE key_buckets SET requests_at = requests_at - interval '20.5 seconds' WHERE key_id = $1`, limited.ID); err != nil {
		t.Fatal(err)
	}
	if got := claimAll(t, s, 10); got[limited.Tenant] != 1 || len(got) != 1 {
		t.Fatalf("claim after 20 s = %v; want exactly one of the limited key's jobs", got)
	}
}

// A tokens-per-minute limit counts each job's cost; a job starts while the
// key has any tokens left, so the bucket may go into debt by one job.
func TestClaimHoldsJobsOfKeyOverItsTokenLimit(t *testing.T) {
	db := testenv.Pool(t)
	ctx := context.Background()
	s, keys := jobs.NewStore(db), apikey.NewStore(db)
	limited, _, err := keys.Create(ctx, apikey.NewKey{Name: "limited", Limits: apikey.Limits{TPM: 250}})
	if err != nil {
		t.Fatal(err)
	}
	insertFor(t, s, limited, 5)
	// Costs of 100: 0, 100 and 200 tokens were spent before each of the
	// first three, all below 250; the fourth would start at 300.
	if got := claimAll(t, s, 10); got[limited.Tenant] != 3 {
		t.Fatalf("claim by tenant = %v; want 3 jobs within 250 tokens", got)
	}
	if got := claimAll(t, s, 1); len(got) != 0 {
		t.Fatalf("claim in debt = %v; want nothing", got)
	}
}
