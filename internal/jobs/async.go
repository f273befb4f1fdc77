package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Submission is what a caller attaches to a job beyond its request.
type Submission struct {
	// APIKeyID is the managed key that submitted the job; empty for the
	// master key. Its webhook secret signs the job's callbacks.
	APIKeyID string
	// IdempotencyKey, when set, makes a resubmit with the same key (in the
	// same tenant) return the first job instead of making a second one.
	IdempotencyKey string
	// Fingerprint identifies what was asked for; a reused IdempotencyKey with
	// another fingerprint is refused with ErrIdempotencyMismatch.
	Fingerprint []byte
	// CallbackURL receives a webhook when the job ends; empty for none.
	CallbackURL string
	// Attach, when set, runs in the transaction that inserts the job, so
	// that what it writes (a response's record) exists exactly when the job
	// does. It does not run for a replayed submit.
	Attach func(ctx context.Context, tx pgx.Tx) error
}

// ErrIdempotencyMismatch means an idempotency key was reused for a different request.
var ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")

// Submit inserts a new queued job, like Insert, with what the caller attached
// to it. When sub.IdempotencyKey names an earlier job of the same tenant, it
// inserts nothing and returns that job with replayed set.
func (s *Store) Submit(ctx context.Context, j *Job, sub Submission) (replayed *Job, err error) {
	nullable := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	// Another submit with the same key may commit between the INSERT and the
	// SELECT; and the first job may be deleted by retention in between. Either
	// way one more round settles it.
	for range 3 {
		insert := func(db interface {
			QueryRow(context.Context, string, ...any) pgx.Row
		}) error {
			row := db.QueryRow(ctx, `
			INSERT INTO jobs (id, tenant, model, priority, mode, request, api_key_id, idempotency_key, idempotency_fp, callback_url,
			                  deadline, cost, weight, requested_model)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING state, created_at`,
				j.ID, j.Tenant, j.Model, j.Priority, j.Mode, j.Request,
				nullable(sub.APIKeyID), nullable(sub.IdempotencyKey), sub.Fingerprint, nullable(sub.CallbackURL),
				j.Deadline, j.Cost, max(j.Weight, 0.001), nullable(j.RequestedModel))
			return row.Scan(&j.State, &j.CreatedAt)
		}
		var err error
		if sub.Attach == nil {
			err = insert(s.pool)
		} else {
			err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				if err := insert(tx); err != nil {
					return err
				}
				return sub.Attach(ctx, tx)
			})
		}
		if err == nil {
			return nil, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("insert job %s: %w", j.ID, err)
		}
		var id string
		var fp []byte
		err = s.pool.QueryRow(ctx, `SELECT id, idempotency_fp FROM jobs WHERE tenant = $1 AND idempotency_key = $2`,
			j.Tenant, sub.IdempotencyKey).Scan(&id, &fp)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("find job with idempotency key %q: %w", sub.IdempotencyKey, err)
		}
		if !bytes.Equal(fp, sub.Fingerprint) {
			return nil, fmt.Errorf("%w: job %s", ErrIdempotencyMismatch, id)
		}
		first, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		return first, err
	}
	return nil, fmt.Errorf("insert job %s with idempotency key %q: the key's job kept changing", j.ID, sub.IdempotencyKey)
}

// ListParams select a page of one tenant's jobs, newest first.
type ListParams struct {
	Tenant string
	State  State  // empty: any
	Model  string // empty: any
	After  string // a job id: the page starts after it; empty: from the newest
	Limit  int
}

// ErrBadCursor means ListParams.After names no job of the tenant.
var ErrBadCursor = errors.New("cursor names no job")

// List returns a page of jobs and whether more follow it.
func (s *Store) List(ctx context.Context, p ListParams) ([]*Job, bool, error) {
	// The cursor is a job id; its (created_at, id) is the position. The
	// tenant's index on (tenant, created_at DESC, id DESC) serves the scan.
	var afterAt time.Time
	afterID := ""
	if p.After != "" {
		err := s.pool.QueryRow(ctx, `SELECT created_at, id FROM jobs WHERE id = $1 AND tenant = $2`, p.After, p.Tenant).Scan(&afterAt, &afterID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, false, fmt.Errorf("%w: %q", ErrBadCursor, p.After)
		}
		if err != nil {
			return nil, false, fmt.Errorf("find list cursor %q: %w", p.After, err)
		}
	}
	out, err := all(s.pool.Query(ctx, `SELECT `+columns+` FROM jobs
		WHERE tenant = $1
		  AND ($2 = '' OR state = $2)
		  AND ($3 = '' OR model = $3)
		  AND ($4 = '' OR (created_at, id) < ($5, $4))
		ORDER BY created_at DESC, id DESC
		LIMIT $6`, p.Tenant, string(p.State), p.Model, afterID, afterAt, p.Limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("list jobs of tenant %s: %w", p.Tenant, err)
	}
	more := len(out) > p.Limit
	if more {
		out = out[:p.Limit]
	}
	return out, more, nil
}

// ErrNotCancellable means the job had already ended; it is returned with the job.
var ErrNotCancellable = errors.New("job has already ended")

// CancelAny ends one of tenant's jobs that has not ended, at the caller's
// request, and announces it like any ending. A queued job never reaches
// Bedrock. A running job is cancelled at once too: its worker hears the
// ending on Channel and stops the call, and Finish would refuse its result.
func (s *Store) CancelAny(ctx context.Context, tenant, id string, reason any) (*Job, error) {
	errJSON, err := json.Marshal(reason)
	if err != nil {
		return nil, err
	}
	j, err := one(s.pool.Query(ctx, `
		UPDATE jobs SET state = 'cancelled', error = $3, finished_at = now(), lease_expires_at = NULL, updated_at = now()
		WHERE id = $1 AND tenant = $2 AND state IN ('queued', 'running')
		RETURNING `+columns, id, tenant, errJSON))
	if errors.Is(err, ErrNotFound) {
		current, gerr := s.Get(ctx, id)
		if gerr != nil {
			return nil, gerr
		}
		if current.Tenant != tenant {
			return nil, ErrNotFound
		}
		return current, ErrNotCancellable
	}
	if err != nil {
		return nil, fmt.Errorf("cancel job %s: %w", id, err)
	}
	return j, nil
}

// DeleteFinished removes up to limit jobs that ended more than age ago, with
// their requests, results and webhook events (the foreign keys cascade). Jobs
// of a batch stay until the batch has ended and written its output files. It
// returns how many it removed.
func (s *Store) DeleteFinished(ctx context.Context, age time.Duration, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM jobs WHERE id IN (
			SELECT id FROM jobs
			WHERE finished_at < now() - $1::interval AND state IN ('succeeded', 'failed', 'cancelled', 'expired')
			  AND (batch_id IS NULL OR EXISTS (SELECT 1 FROM batches b WHERE b.id = jobs.batch_id
			       AND b.status IN ('completed', 'failed', 'cancelled', 'expired')))
			LIMIT $2
			FOR UPDATE SKIP LOCKED)`, age, limit)
	if err != nil {
		return 0, fmt.Errorf("delete jobs finished over %s ago: %w", age, err)
	}
	return int(tag.RowsAffected()), nil
}
