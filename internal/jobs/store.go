package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Channel is the NOTIFY channel on which a job's id is announced when it
// reaches a terminal state. A trigger (schema/00007) sends it in the
// transaction that ends the job, whichever code path ends it.
const Channel = "sluice_job_done"

// ErrNotFound is returned for an id that names no job.
var ErrNotFound = errors.New("job not found")

// Store reads and writes jobs.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore wraps a pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool is the underlying pool, for the listener and health checks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Insert records a new queued job.
func (s *Store) Insert(ctx context.Context, j *Job) error {
	_, err := s.Submit(ctx, j, Submission{})
	return err
}

// MarkEnqueued records that the job's queue message was sent.
func (s *Store) MarkEnqueued(ctx context.Context, id string) error {
	return s.MarkEnqueuedMany(ctx, []string{id})
}

// columns are the jobs columns a Job maps by name.
const columns = `id, tenant, model, priority, mode, state, request, response, error, usage,
	attempts, throttles, coalesce(account, '') AS account, coalesce(requested_model, '') AS requested_model, deadline, cost, weight, created_at, started_at, finished_at`

// one collects a single job; no row is ErrNotFound.
func one(rows pgx.Rows, err error) (*Job, error) {
	if err != nil {
		return nil, err
	}
	j, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByName[Job])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return j, err
}

// all collects every job of a query.
func all(rows pgx.Rows, err error) ([]*Job, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToAddrOfStructByName[Job])
}

// Get loads one job.
func (s *Store) Get(ctx context.Context, id string) (*Job, error) {
	j, err := one(s.pool.Query(ctx, `SELECT `+columns+` FROM jobs WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, err
}

// ErrNoJob means no queued job of the model and priority can be claimed now.
var ErrNoJob = errors.New("no claimable job")

// ClaimParams say which work a pool takes and how it is ordered.
type ClaimParams struct {
	Model    string
	Priority Priority
	Account  string
	// N is how many jobs to claim at most (one per queue token received).
	N int
	// Lease is how long the claim holds without a heartbeat.
	Lease time.Duration
	// ServiceTime is how long the pool expects a call to take: a job whose
	// deadline is nearer than that is not started but expired, since its
	// caller would be gone before the answer.
	ServiceTime time.Duration
	// FairWindow is the time constant over which a tenant's past service
	// decays: the claim serves the tenant with the least recent service per
	// unit of weight first.
	FairWindow time.Duration
	// Horizon orders jobs without a deadline (async) among those with one:
	// they rank as if due Horizon after they were created, so they are not
	// starved by a stream of sync callers.
	Horizon time.Duration
}

// AsyncHorizon is the default ClaimParams.Horizon.
const AsyncHorizon = 10 * time.Minute

// Claimed is what one claim did.
type Claimed struct {
	Jobs []*Job
	// Expired counts jobs ended because they could no longer meet their
	// deadline.
	Expired int
}

// ClaimNext takes up to p.N queued jobs of one model and priority for one
// attempt each, choosing them by policy:
//
//  1. only jobs that are due (run_after) and can still finish by their
//     deadline; the others of the model are expired in the same statement;
//  2. tenant fair share: the tenant with the least decayed recent service per
//     unit of weight goes first, and within one claim tenants interleave by
//     the cost each job adds to its tenant's share;
//  3. earliest deadline first within a tenant (async jobs rank at created_at
//     + Horizon), then arrival;
//  4. a job of an API key with rate limits only while the key's buckets
//     (key_allowance, schema/00010) cover it; the claim charges them.
//
// The queue message that led here is only a token for "work of this model is
// waiting"; which job runs is decided here, where all of them are visible.
// Rows locked by another claimer are skipped, so concurrent pools never wait
// on each other. One statement, one commit.
func (s *Store) ClaimNext(ctx context.Context, p ClaimParams) (Claimed, error) {
	var c Claimed
	if p.N <= 0 {
		p.N = 1
	}
	if p.FairWindow <= 0 {
		p.FairWindow = time.Minute
	}
	if p.Horizon <= 0 {
		p.Horizon = AsyncHorizon
	}
	reason, _ := json.Marshal(ExpiredReason(p.Model))
	rows, err := s.pool.Query(ctx, `
		WITH candidates AS (
			SELECT j.id, j.tenant, j.cost, j.weight,
			       coalesce(f.usage * exp(-extract(epoch FROM now() - f.at) / $7), 0) AS usage,
			       coalesce(j.deadline, j.created_at + $8::interval) AS due, j.created_at,
			       j.api_key_id, k.requests AS key_requests, k.tokens AS key_tokens
			FROM jobs j
			LEFT JOIN fair_shares f ON f.model = j.model AND f.tenant = j.tenant
			LEFT JOIN key_allowance k ON k.key_id = j.api_key_id
			WHERE j.model = $1 AND j.priority = $2 AND j.state = 'queued' AND j.run_after <= now()
			  AND (j.deadline IS NULL OR j.deadline > now() + $6::interval)
			  AND (k.key_id IS NULL OR (k.requests >= 1 AND k.tokens > 0))
		), ranked AS (
			SELECT id, due, created_at, key_requests, key_tokens,
			       (usage + coalesce(sum(greatest(cost, 1)) OVER (PARTITION BY tenant ORDER BY due, created_at, id
			                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) / weight AS share,
			       count(*) OVER key_order AS key_n,
			       coalesce(sum(greatest(cost, 1)) OVER (key_order ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS key_spent
			FROM candidates
			WINDOW key_order AS (PARTITION BY api_key_id ORDER BY due, created_at, id)
		), pick AS (
			SELECT j.id FROM jobs j JOIN ranked r ON r.id = j.id
			WHERE j.state = 'queued'
			  AND (r.key_requests IS NULL OR (r.key_n <= r.key_requests AND r.key_spent < r.key_tokens))
			ORDER BY coalesce(r.share, 0), r.due, r.created_at, r.id
			LIMIT $3
			FOR UPDATE OF j SKIP LOCKED
		), claimed AS (
			UPDATE jobs j
			SET state = 'running', attempts = attempts + 1, account = $4,
			    lease_expires_at = now() + $5::interval, started_at = coalesce(started_at, now()), updated_at = now()
			FROM pick WHERE j.id = pick.id
			RETURNING j.*
		), shares AS (
			INSERT INTO fair_shares AS f (model, tenant, usage, at)
			SELECT model, tenant, sum(greatest(cost, 1)), now() FROM claimed GROUP BY model, tenant
			ON CONFLICT (model, tenant) DO UPDATE
			SET usage = f.usage * exp(-extract(epoch FROM now() - f.at) / $7) + excluded.usage, at = now()
		), keys_charged AS (
			INSERT INTO key_buckets AS b (key_id, requests_at, tokens_at)
			SELECT k.id, now() + make_interval(secs => coalesce(c.n * 60.0 / k.rpm, 0)),
			       now() + make_interval(secs => coalesce(c.cost * 60.0 / k.tpm, 0))
			FROM (SELECT api_key_id, count(*) AS n, sum(greatest(cost, 1)) AS cost FROM claimed GROUP BY api_key_id) c
			JOIN api_keys k ON k.id = c.api_key_id AND (k.rpm IS NOT NULL OR k.tpm IS NOT NULL)
			ON CONFLICT (key_id) DO UPDATE
			SET requests_at = greatest(b.requests_at, now()) + (excluded.requests_at - now()),
			    tokens_at = greatest(b.tokens_at, now()) + (excluded.tokens_at - now())
		), expired AS (
			UPDATE jobs SET state = 'expired', error = $9, finished_at = now(), updated_at = now()
			WHERE model = $1 AND priority = $2 AND state = 'queued'
			  AND deadline IS NOT NULL AND deadline <= now() + $6::interval
			RETURNING 1
		)
		SELECT `+columns+`, (SELECT count(*) FROM expired) AS expired_count FROM claimed`,
		p.Model, p.Priority, p.N, p.Account, p.Lease, p.ServiceTime, p.FairWindow.Seconds(), p.Horizon, reason)
	if err != nil {
		return c, fmt.Errorf("claim %s %s jobs: %w", p.Model, p.Priority, err)
	}
	type claimedRow struct {
		Job
		ExpiredCount int `db:"expired_count"`
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByName[claimedRow])
	if err != nil {
		return c, fmt.Errorf("claim %s %s jobs: %w", p.Model, p.Priority, err)
	}
	for i := range got {
		c.Jobs = append(c.Jobs, &got[i].Job)
		c.Expired = got[i].ExpiredCount
	}
	if len(c.Jobs) == 0 {
		return c, ErrNoJob
	}
	return c, nil
}

// Pending says how many jobs of a model and priority are queued, and when
// the earliest of them is due (zero when none is queued). A pool asks when
// a token claimed nothing, to decide whether to keep the token.
func (s *Store) Pending(ctx context.Context, model string, p Priority) (int, time.Time, error) {
	var n int
	var next *time.Time
	err := s.pool.QueryRow(ctx, `SELECT count(*), min(run_after) FROM jobs WHERE model = $1 AND priority = $2 AND state = 'queued'`,
		model, p).Scan(&n, &next)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count queued %s %s jobs: %w", model, p, err)
	}
	if next == nil {
		return n, time.Time{}, nil
	}
	return n, *next, nil
}

// ErrLeaseLost means the worker's claim was superseded: its result is dropped.
var ErrLeaseLost = errors.New("job lease lost")

// ExtendLease keeps a long call's claim alive. A job the sweeper put back in
// the queue while its worker could not reach the database, and that no one
// claimed since, is taken back: its call is still running (the token sent
// for it then claims nothing).
func (s *Store) ExtendLease(ctx context.Context, id string, attempt int, lease time.Duration) error {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET state = 'running', lease_expires_at = now() + $3::interval
		WHERE id = $1 AND state IN ('running', 'queued') AND attempts = $2`, id, attempt, lease)
	if err != nil {
		return fmt.Errorf("extend lease of job %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
}

// Outcome is how an attempt ended.
type Outcome struct {
	State    State // Succeeded, Failed or Cancelled
	Response any
	Error    any
	Usage    any
	// Charged is what the call cost the quota, for queue-wait estimates.
	Charged float64
}

// Finish ends the attempt-th claim of a job; the trigger announces it on
// Channel in the same transaction. The attempt fences: a worker whose job was
// claimed again cannot overwrite the newer attempt. A job the sweeper put
// back in the queue (its lease ran out while the database was away) but that
// no one claimed since still takes its result: the answer was computed and
// its caller is waiting for it.
func (s *Store) Finish(ctx context.Context, id string, attempt int, o Outcome) error {
	if !o.State.Terminal() {
		return fmt.Errorf("finish job %s: %q is not a terminal state", id, o.State)
	}
	resp, errJSON, usage, err := marshalAll(o.Response, o.Error, o.Usage)
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE jobs SET state = $3, response = $4, error = $5, usage = $6, charged = $7,
		       finished_at = now(), lease_expires_at = NULL, updated_at = now()
		WHERE id = $1 AND attempts = $2 AND state IN ('running', 'queued')`,
		id, attempt, o.State, resp, errJSON, usage, o.Charged)
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
}

// Release returns a claimed job to the queue, claimable again after delay
// (a graceful stop, repeated throttles). The caller sends a token for it.
func (s *Store) Release(ctx context.Context, id string, attempt int, delay time.Duration) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE jobs SET state = 'queued', lease_expires_at = NULL, run_after = now() + $3::interval, updated_at = now()
		WHERE id = $1 AND state = 'running' AND attempts = $2`, id, attempt, delay)
	if err != nil {
		return fmt.Errorf("release job %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
}

// NoteThrottle counts a throttle against the attempt that met it.
func (s *Store) NoteThrottle(ctx context.Context, id string, attempt int) error {
	_, err := s.pool.Exec(ctx, `UPDATE jobs SET throttles = throttles + 1, updated_at = now()
		WHERE id = $1 AND state = 'running' AND attempts = $2`, id, attempt)
	if err != nil {
		return fmt.Errorf("note throttle on job %s: %w", id, err)
	}
	return nil
}

// end moves one job from one of the states in from to the terminal state to,
// with reason as its error, and reports whether it did.
func (s *Store) end(ctx context.Context, id string, from []State, to State, reason any) (bool, error) {
	errJSON, err := json.Marshal(reason)
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE jobs SET state = $3, error = $4, finished_at = now(), lease_expires_at = NULL, updated_at = now()
		WHERE id = $1 AND state = ANY($2)`, id, from, to, errJSON)
	if err != nil {
		return false, fmt.Errorf("end job %s as %s: %w", id, to, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Cancel ends a job that no worker has started. It reports whether it did.
func (s *Store) Cancel(ctx context.Context, id string, reason any) (bool, error) {
	return s.end(ctx, id, []State{Queued}, Cancelled, reason)
}

// Expire ends a job that has not started and can no longer meet its
// deadline. It reports whether it did.
func (s *Store) Expire(ctx context.Context, id string, reason any) (bool, error) {
	return s.end(ctx, id, []State{Queued}, Expired, reason)
}

// FailQueued ends a job that cannot be run at all (its message went to the
// dead-letter queue, or could never be sent).
func (s *Store) FailQueued(ctx context.Context, id string, reason any) (bool, error) {
	return s.end(ctx, id, []State{Queued, Running}, Failed, reason)
}

// Abandon is what the api does when a caller hangs up before its answer: the
// job is cancelled wherever it is. A queued job never reaches Bedrock; a
// running one's worker hears the ending on Channel, stops its call and
// settles the tokens it used (its result would be refused anyway: Finish
// only records jobs it still holds). It reports whether it ended the job.
func (s *Store) Abandon(ctx context.Context, id string, reason any) (bool, error) {
	return s.end(ctx, id, []State{Queued, Running}, Cancelled, reason)
}

// Finished returns those of ids that are in a terminal state.
func (s *Store) Finished(ctx context.Context, ids []string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM jobs WHERE id = ANY($1) AND state IN ('succeeded', 'failed', 'cancelled', 'expired')`, ids)
	if err != nil {
		return nil, fmt.Errorf("check %d waiting jobs: %w", len(ids), err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Unenqueued lists the jobs older than age whose queue token was never sent,
// so that an api that died mid-request loses nothing. Besides queued jobs it
// lists jobs that were claimed without one: tokens are fungible, so another
// job's token claimed such a job, and that other job is owed a token now.
func (s *Store) Unenqueued(ctx context.Context, age time.Duration, limit int) ([]*Job, error) {
	js, err := all(s.pool.Query(ctx, `SELECT `+columns+` FROM jobs
		WHERE enqueued_at IS NULL AND (state = 'queued' OR started_at IS NOT NULL) AND created_at < now() - $1::interval
		ORDER BY created_at LIMIT $2`, age, limit))
	if err != nil {
		return nil, fmt.Errorf("list unenqueued jobs: %w", err)
	}
	return js, nil
}

// Requeued is a job the sweeper put back in the queue.
type Requeued struct {
	ID       string   `db:"id"`
	Model    string   `db:"model"`
	Priority Priority `db:"priority"`
}

// RequeueLost puts back in the queue the running jobs whose lease ran out:
// their worker died, or lost the database for longer than the lease. Their
// queue token was spent at the claim, so the caller sends a new one for each.
// The attempt is kept, so a worker that still holds the result can record it
// until another claim supersedes it. A job that has lost maxRuns workers
// fails with reason instead.
func (s *Store) RequeueLost(ctx context.Context, maxRuns int, reason any, limit int) ([]Requeued, error) {
	errJSON, err := json.Marshal(reason)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		WITH lapsed AS (
			SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < now()
			ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
		), failed AS (
			UPDATE jobs j SET state = 'failed', error = $3, finished_at = now(), lease_expires_at = NULL, updated_at = now()
			FROM lapsed WHERE j.id = lapsed.id AND j.attempts >= $2
		)
		UPDATE jobs j SET state = 'queued', lease_expires_at = NULL, run_after = now(), updated_at = now()
		FROM lapsed WHERE j.id = lapsed.id AND j.attempts < $2
		RETURNING j.id, j.model, j.priority`, limit, maxRuns, errJSON)
	if err != nil {
		return nil, fmt.Errorf("requeue jobs with lapsed leases: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Requeued])
	if err != nil {
		return nil, fmt.Errorf("requeue jobs with lapsed leases: %w", err)
	}
	return out, nil
}

// ExpiredReason is the error an expired job of model records: what its
// caller is answered (429, so that clients back off and retry).
func ExpiredReason(model string) map[string]any {
	return map[string]any{
		"message": fmt.Sprintf("The request could not start in time to finish before its deadline: the queue for model %s is longer than the caller waits. Retry after the time in the Retry-After header, or wait longer.", model),
		"type":    "rate_limit_error",
		"code":    "deadline_exceeded",
		"param":   nil,
		"status":  429,
	}
}

// ExpireOverdue ends the queued jobs whose deadline has passed: their callers
// have stopped waiting. It returns how many it ended.
func (s *Store) ExpireOverdue(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE jobs SET state = 'expired', finished_at = now(), updated_at = now(),
		       error = jsonb_set($1::jsonb, '{message}', to_jsonb(replace($1::jsonb->>'message', '%MODEL%', model)))
		WHERE state = 'queued' AND deadline < now()`, ExpiredReason("%MODEL%"))
	if err != nil {
		return 0, fmt.Errorf("expire overdue jobs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func marshalAll(vs ...any) (json.RawMessage, json.RawMessage, json.RawMessage, error) {
	out := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		if v == nil {
			continue
		}
		if raw, ok := v.(json.RawMessage); ok {
			out[i] = raw
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, nil, nil, err
		}
		out[i] = b
	}
	return out[0], out[1], out[2], nil
}

// Backlog is the queued work of one model and priority.
type Backlog struct {
	Model    string
	Priority Priority
	Jobs     int
	Oldest   time.Duration
	// Cost is the quota the queued jobs are expected to reserve.
	Cost float64
}

// Backlogs counts queued jobs, their expected cost and the age of the
// oldest, per model and priority. The job table knows this exactly, where SQS
// only approximates it.
func (s *Store) Backlogs(ctx context.Context) ([]Backlog, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT model, priority, count(*), extract(epoch FROM now() - min(created_at)), sum(cost)
		FROM jobs WHERE state = 'queued' GROUP BY model, priority`)
	if err != nil {
		return nil, fmt.Errorf("count queued jobs: %w", err)
	}
	defer rows.Close()
	var out []Backlog
	for rows.Next() {
		var b Backlog
		var age float64
		if err := rows.Scan(&b.Model, &b.Priority, &b.Jobs, &age, &b.Cost); err != nil {
			return nil, err
		}
		b.Oldest = time.Duration(age * float64(time.Second))
		out = append(out, b)
	}
	return out, rows.Err()
}

// ServiceTime is what recent calls of one model took.
type ServiceTime struct {
	Model string
	// Service is the q-quantile of claim-to-answer time of recent successes.
	Service time.Duration
	// ChargedRatio is what those calls were charged per token reserved.
	ChargedRatio float64
}

// ServiceTimes reads, per model, the last n successful jobs' service times.
func (s *Store) ServiceTimes(ctx context.Context, n int, q float64) ([]ServiceTime, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT m.model, coalesce(r.service, 0), coalesce(r.ratio, 1)
		FROM (SELECT DISTINCT model FROM jobs WHERE state = 'queued') m,
		LATERAL (
			SELECT percentile_cont($2) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)) AS service,
			       sum(charged) / nullif(sum(cost), 0) AS ratio
			FROM (SELECT finished_at, started_at, charged, cost FROM jobs
			      WHERE model = m.model AND state = 'succeeded' AND finished_at IS NOT NULL
			      ORDER BY finished_at DESC LIMIT $1) recent
		) r`, n, q)
	if err != nil {
		return nil, fmt.Errorf("read service times: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ServiceTime, error) {
		var st ServiceTime
		var secs float64
		err := row.Scan(&st.Model, &secs, &st.ChargedRatio)
		st.Service = time.Duration(secs * float64(time.Second))
		return st, err
	})
}

// ShedEstimate is how fast one model's interactive backlog drains.
type ShedEstimate struct {
	// TokensPerSec is the refill rate, in reserved tokens; Level what the
	// buckets hold now.
	TokensPerSec, Level float64
	// Service is how long a started job takes to answer.
	Service time.Duration
}

// ShedInfeasible expires the queued interactive jobs of model that cannot
// start in time to answer before their deadline, with the backlog ahead of
// each (in the claim's deadline order) draining at e's rate. It returns how
// many it expired.
func (s *Store) ShedInfeasible(ctx context.Context, model string, e ShedEstimate) (int, error) {
	reason, _ := json.Marshal(ExpiredReason(model))
	tag, err := s.pool.Exec(ctx, `
		WITH q AS (
			SELECT id, deadline,
			       sum(greatest(cost, 1)) OVER (ORDER BY coalesce(deadline, created_at + $6::interval), created_at, id) AS ahead
			FROM jobs WHERE model = $1 AND priority = 'interactive' AND state = 'queued' AND run_after <= now()
		)
		UPDATE jobs j SET state = 'expired', error = $5, finished_at = now(), updated_at = now()
		FROM q
		WHERE j.id = q.id AND j.state = 'queued' AND q.deadline IS NOT NULL
		  AND q.deadline < now() + make_interval(secs => greatest(q.ahead - $3, 0) / $2) + $4::interval`,
		model, e.TokensPerSec, e.Level, e.Service, reason, AsyncHorizon)
	if err != nil {
		return 0, fmt.Errorf("shed %s jobs that cannot meet their deadlines: %w", model, err)
	}
	return int(tag.RowsAffected()), nil
}

// Waiting is one queued job as the admission estimate sees it.
type Waiting struct {
	Model string
	// Due is when the claim ranks it due: its deadline, or for a job
	// without one, AsyncHorizon after it was created.
	Due  time.Time
	Cost float64
}

// QueuedInClaimOrder lists up to limit queued jobs of a priority, per model
// earliest due first (the claim's order, but for tenant shares).
func (s *Store) QueuedInClaimOrder(ctx context.Context, p Priority, limit int) ([]Waiting, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT model, coalesce(deadline, created_at + $2::interval) AS due, greatest(cost, 1)
		FROM jobs WHERE state = 'queued' AND priority = $1
		ORDER BY model, due, created_at, id LIMIT $3`, p, AsyncHorizon, limit)
	if err != nil {
		return nil, fmt.Errorf("list queued %s jobs: %w", p, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Waiting, error) {
		var q Waiting
		err := row.Scan(&q.Model, &q.Due, &q.Cost)
		return q, err
	})
}

// FailQueuedSync fails the queued sync jobs of model with reason (no account
// can serve it): their callers are answered at once. It returns how many.
func (s *Store) FailQueuedSync(ctx context.Context, model string, reason any) (int, error) {
	errJSON, err := json.Marshal(reason)
	if err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE jobs SET state = 'failed', error = $2, finished_at = now(), updated_at = now()
		WHERE model = $1 AND mode = 'sync' AND state = 'queued'`, model, errJSON)
	if err != nil {
		return 0, fmt.Errorf("fail queued sync jobs of %s: %w", model, err)
	}
	return int(tag.RowsAffected()), nil
}
