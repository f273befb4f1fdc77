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
// reaches a terminal state.
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
	row := s.pool.QueryRow(ctx, `
		INSERT INTO jobs (id, tenant, model, priority, mode, request)
		VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING state, created_at`,
		j.ID, j.Tenant, j.Model, j.Priority, j.Mode, j.Request)
	if err := row.Scan(&j.State, &j.CreatedAt); err != nil {
		return fmt.Errorf("insert job %s: %w", j.ID, err)
	}
	return nil
}

// MarkEnqueued records that the job's queue message was sent.
func (s *Store) MarkEnqueued(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `UPDATE jobs SET enqueued_at = now() WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("mark job %s enqueued: %w", id, err)
	}
	return nil
}

const columns = `id, tenant, model, priority, mode, state, request, response, error, usage,
	attempts, throttles, coalesce(account, ''), created_at, started_at, finished_at`

func scan(row pgx.Row) (*Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.Tenant, &j.Model, &j.Priority, &j.Mode, &j.State, &j.Request, &j.Response, &j.Error, &j.Usage,
		&j.Attempts, &j.Throttles, &j.Account, &j.CreatedAt, &j.StartedAt, &j.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &j, err
}

// Get loads one job.
func (s *Store) Get(ctx context.Context, id string) (*Job, error) {
	j, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM jobs WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, err
}

// Claim takes a job for one attempt: a queued job, or a running one whose
// worker's lease has run out (the worker died; SQS redelivered the message).
// It returns ErrNotClaimable, with the job as it is, when the job is finished or
// another worker holds it; the caller decides what to do with the message.
func (s *Store) Claim(ctx context.Context, id, account string, lease time.Duration) (*Job, error) {
	j, err := scan(s.pool.QueryRow(ctx, `
		UPDATE jobs
		SET state = 'running', attempts = attempts + 1, account = $2,
		    lease_expires_at = now() + $3::interval, started_at = coalesce(started_at, now()), updated_at = now()
		WHERE id = $1 AND (state = 'queued' OR (state = 'running' AND lease_expires_at < now()))
		RETURNING `+columns, id, account, lease))
	if errors.Is(err, ErrNotFound) {
		current, gerr := s.Get(ctx, id)
		if gerr != nil {
			return nil, gerr
		}
		return current, ErrNotClaimable
	}
	if err != nil {
		return nil, fmt.Errorf("claim job %s: %w", id, err)
	}
	return j, nil
}

// ErrNotClaimable means the job is finished or held by another worker.
var ErrNotClaimable = errors.New("job is not claimable")

// ErrLeaseLost means the worker's claim was superseded: its result is dropped.
var ErrLeaseLost = errors.New("job lease lost")

// ExtendLease keeps a long call's claim alive.
func (s *Store) ExtendLease(ctx context.Context, id string, attempt int, lease time.Duration) error {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET lease_expires_at = now() + $3::interval
		WHERE id = $1 AND state = 'running' AND attempts = $2`, id, attempt, lease)
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
	State    State // Succeeded or Failed
	Response any
	Error    any
	Usage    any
}

// Finish ends the attempt-th claim of a job and announces it on Channel in the
// same transaction, so a waiter is woken only for a committed result.
func (s *Store) Finish(ctx context.Context, id string, attempt int, o Outcome) error {
	if !o.State.Terminal() {
		return fmt.Errorf("finish job %s: %q is not a terminal state", id, o.State)
	}
	resp, errJSON, usage, err := marshalAll(o.Response, o.Error, o.Usage)
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE jobs SET state = $3, response = $4, error = $5, usage = $6,
			       finished_at = now(), lease_expires_at = NULL, updated_at = now()
			WHERE id = $1 AND state = 'running' AND attempts = $2`,
			id, attempt, o.State, resp, errJSON, usage)
		if err != nil {
			return fmt.Errorf("finish job %s: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return ErrLeaseLost
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, id)
		return err
	})
}

// Release returns a claimed job to the queue after a transient error or
// repeated throttles; its message will be delivered again.
func (s *Store) Release(ctx context.Context, id string, attempt int) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE jobs SET state = 'queued', lease_expires_at = NULL, updated_at = now()
		WHERE id = $1 AND state = 'running' AND attempts = $2`, id, attempt)
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

// Cancel ends a job that no worker has started. It reports whether it did.
func (s *Store) Cancel(ctx context.Context, id string, reason any) (bool, error) {
	errJSON, err := json.Marshal(reason)
	if err != nil {
		return false, err
	}
	var cancelled bool
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE jobs SET state = 'cancelled', error = $2, finished_at = now(), updated_at = now()
			WHERE id = $1 AND state = 'queued'`, id, errJSON)
		if err != nil {
			return err
		}
		cancelled = tag.RowsAffected() == 1
		if cancelled {
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, id)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("cancel job %s: %w", id, err)
	}
	return cancelled, nil
}

// FailQueued ends a job that cannot be run at all (its message went to the
// dead-letter queue, or could never be sent).
func (s *Store) FailQueued(ctx context.Context, id string, reason any) (bool, error) {
	errJSON, err := json.Marshal(reason)
	if err != nil {
		return false, err
	}
	var failed bool
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE jobs SET state = 'failed', error = $2, finished_at = now(), lease_expires_at = NULL, updated_at = now()
			WHERE id = $1 AND state IN ('queued', 'running')`, id, errJSON)
		if err != nil {
			return err
		}
		failed = tag.RowsAffected() == 1
		if failed {
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, id)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("fail job %s: %w", id, err)
	}
	return failed, nil
}

// Finished returns those of ids that are in a terminal state.
func (s *Store) Finished(ctx context.Context, ids []string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM jobs WHERE id = ANY($1) AND state IN ('succeeded', 'failed', 'cancelled')`, ids)
	if err != nil {
		return nil, fmt.Errorf("check %d waiting jobs: %w", len(ids), err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Unenqueued lists queued jobs whose message was never sent and that are older
// than age, so that an api that died mid-request loses nothing.
func (s *Store) Unenqueued(ctx context.Context, age time.Duration, limit int) ([]*Job, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM jobs
		WHERE state = 'queued' AND enqueued_at IS NULL AND created_at < now() - $1::interval
		ORDER BY created_at LIMIT $2`, age, limit)
	if err != nil {
		return nil, fmt.Errorf("list unenqueued jobs: %w", err)
	}
	defer rows.Close()
	var out []*Job
	for rows.Next() {
		j, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
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
}

// Backlogs counts queued jobs and the age of the oldest, per model and
// priority. The job table knows this exactly, where SQS only approximates it.
func (s *Store) Backlogs(ctx context.Context) ([]Backlog, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT model, priority, count(*), extract(epoch FROM now() - min(created_at))
		FROM jobs WHERE state = 'queued' GROUP BY model, priority`)
	if err != nil {
		return nil, fmt.Errorf("count queued jobs: %w", err)
	}
	defer rows.Close()
	var out []Backlog
	for rows.Next() {
		var b Backlog
		var age float64
		if err := rows.Scan(&b.Model, &b.Priority, &b.Jobs, &age); err != nil {
			return nil, err
		}
		b.Oldest = time.Duration(age * float64(time.Second))
		out = append(out, b)
	}
	return out, rows.Err()
}
