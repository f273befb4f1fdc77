package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Minute is what the jobs that ended in one minute did: the operator's view
// of rates and latency (the status page).
type Minute struct {
	Start time.Time
	// Succeeded, Failed and Other (cancelled, expired) count the jobs that
	// ended in the minute.
	Succeeded, Failed, Other int
	// P50, P95 and P99 are percentiles of the succeeded jobs' time from
	// submission to result (queue wait included).
	P50, P95, P99 time.Duration
}

// RecentMinutes reads the last n minutes, oldest first, the last one under
// way; minutes with no endings are there with zeros.
func (s *Store) RecentMinutes(ctx context.Context, n int) ([]Minute, error) {
	rows, err := s.pool.Query(ctx, `
		WITH m AS (
			SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => $1 - 1), date_trunc('minute', now()), interval '1 minute') AS start
		)
		SELECT m.start,
		       count(j.id) FILTER (WHERE j.state = 'succeeded'),
		       count(j.id) FILTER (WHERE j.state = 'failed'),
		       count(j.id) FILTER (WHERE j.state IN ('cancelled', 'expired')),
		       coalesce(percentile_cont(array[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM j.finished_at - j.created_at))
		                FILTER (WHERE j.state = 'succeeded'), array[0, 0, 0])
		FROM m LEFT JOIN jobs j ON j.finished_at >= m.start AND j.finished_at < m.start + interval '1 minute'
		GROUP BY m.start ORDER BY m.start`, n)
	if err != nil {
		return nil, fmt.Errorf("read recent minutes: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Minute, error) {
		var m Minute
		var p []float64
		if err := r.Scan(&m.Start, &m.Succeeded, &m.Failed, &m.Other, &p); err != nil {
			return m, err
		}
		sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
		m.P50, m.P95, m.P99 = sec(p[0]), sec(p[1]), sec(p[2])
		return m, nil
	})
}

// Failure is one failed job, for the operator.
type Failure struct {
	ID, Tenant, Model, Account string
	FinishedAt                 time.Time
	Error                      json.RawMessage
}

// RecentFailures returns the last n failed jobs of the last hour, newest first.
func (s *Store) RecentFailures(ctx context.Context, n int) ([]Failure, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, tenant, model, coalesce(account, ''), finished_at, coalesce(error, 'null'::jsonb)
		FROM jobs WHERE state = 'failed' AND finished_at > now() - interval '1 hour'
		ORDER BY finished_at DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("read recent failures: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Failure, error) {
		var f Failure
		err := r.Scan(&f.ID, &f.Tenant, &f.Model, &f.Account, &f.FinishedAt, &f.Error)
		return f, err
	})
}

// RecentThrottles sums, per (account, model), the throttles of the jobs that
// ended within since or are running: what Bedrock refused although the
// budget admitted it.
func (s *Store) RecentThrottles(ctx context.Context, since time.Duration) (map[[2]string]int, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT account, model, sum(throttles)::int FROM jobs
		WHERE account IS NOT NULL AND throttles > 0 AND (state = 'running' OR finished_at > now() - $1::interval)
		GROUP BY 1, 2`, since)
	if err != nil {
		return nil, fmt.Errorf("sum recent throttles: %w", err)
	}
	defer rows.Close()
	out := map[[2]string]int{}
	for rows.Next() {
		var acct, model string
		var n int
		if err := rows.Scan(&acct, &model, &n); err != nil {
			return nil, err
		}
		out[[2]string{acct, model}] = n
	}
	return out, rows.Err()
}
