package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
)

// ErrNotFound is returned for an id that names no batch of the tenant.
var ErrNotFound = errors.New("batch not found")

// ErrNotCancellable means the batch is past the point where it can be
// cancelled; it is returned with the batch.
var ErrNotCancellable = errors.New("batch cannot be cancelled")

// errLeaseLost means another runner has taken the batch over.
var errLeaseLost = errors.New("batch lease lost")

// Store reads and writes batches.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore wraps a pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// The reasons of jobs a batch ends without running them.
var (
	reasonCancelled = requestError("batch_cancelled", "This request was not executed because the batch was cancelled.")
	reasonExpired   = requestError("batch_expired", "This request could not be executed before the batch's completion window ended.")
)

func requestError(code, msg string) openai.Record {
	return (&openai.Error{Status: 400, Type: "invalid_request_error", Message: msg}).WithCode(code).Record()
}

// columns and counts read a batch with its request_counts: the frozen ones of
// an ended batch, or counted from its jobs (by the (batch_id, state) index)
// while it runs.
const columns = `b.id, b.tenant, b.status, b.endpoint, b.completion_window, b.input_file_id,
	coalesce(b.output_file_id, ''), coalesce(b.error_file_id, ''), coalesce(b.output_expires_after, 0),
	b.metadata, b.errors, coalesce(b.model, ''), b.total, b.ingested,
	coalesce(b.completed, c.completed, 0), coalesce(b.failed, c.failed, 0), b.usage,
	b.created_at, b.expires_at, b.in_progress_at, b.finalizing_at, b.completed_at, b.failed_at,
	b.expired_at, b.cancelling_at, b.cancelled_at`

const counts = `LEFT JOIN LATERAL (
	SELECT count(*) FILTER (WHERE j.state = 'succeeded') AS completed,
	       count(*) FILTER (WHERE j.state IN ('failed', 'cancelled')) AS failed
	FROM jobs j WHERE j.batch_id = b.id AND b.completed IS NULL) c ON true`

func scan(row pgx.Row) (*Batch, error) {
	var b Batch
	var expiresAfter int
	err := row.Scan(&b.ID, &b.Tenant, &b.Status, &b.Endpoint, &b.CompletionWindow, &b.InputFileID,
		&b.OutputFileID, &b.ErrorFileID, &expiresAfter,
		&b.Metadata, &b.Errors, &b.Model, &b.Total, &b.Ingested,
		&b.Completed, &b.Failed, &b.Usage,
		&b.CreatedAt, &b.ExpiresAt, &b.InProgressAt, &b.FinalizingAt, &b.CompletedAt, &b.FailedAt,
		&b.ExpiredAt, &b.CancellingAt, &b.CancelledAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	b.OutputExpiresAfter = time.Duration(expiresAfter) * time.Second
	return &b, err
}

// Create records a new batch in status validating; it expires window from now.
func (s *Store) Create(ctx context.Context, b *Batch, window time.Duration) error {
	var metadata any
	if len(b.Metadata) > 0 {
		metadata = b.Metadata
	}
	var expiresAfter any
	if b.OutputExpiresAfter > 0 {
		expiresAfter = int(b.OutputExpiresAfter / time.Second)
	}
	err := s.pool.QueryRow(ctx, `
		INSERT INTO batches (id, tenant, endpoint, completion_window, input_file_id, metadata, output_expires_after, expires_at,
			api_key_id, callback_url)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval, nullif($9, ''), nullif($10, ''))
		RETURNING status, created_at, expires_at`,
		b.ID, b.Tenant, b.Endpoint, b.CompletionWindow, b.InputFileID, metadata, expiresAfter, window, b.APIKeyID, b.CallbackURL,
	).Scan(&b.Status, &b.CreatedAt, &b.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create batch %s: %w", b.ID, err)
	}
	return nil
}

// Get loads one of tenant's batches.
func (s *Store) Get(ctx context.Context, tenant, id string) (*Batch, error) {
	b, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM batches b `+counts+` WHERE b.id = $1 AND b.tenant = $2`, id, tenant))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("get batch %s: %w", id, err)
	}
	return b, err
}

func (s *Store) get(ctx context.Context, id string) (*Batch, error) {
	b, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM batches b `+counts+` WHERE b.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get batch %s: %w", id, err)
	}
	return b, nil
}

// List returns a page of tenant's batches, newest first, starting after the
// batch id after (empty: from the newest), and whether more follow.
func (s *Store) List(ctx context.Context, tenant, after string, limit int) ([]*Batch, bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM batches b `+counts+`
		WHERE b.tenant = $1 AND ($2 = '' OR b.id < $2)
		ORDER BY b.id DESC LIMIT $3`, tenant, after, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list batches of tenant %s: %w", tenant, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Batch, error) { return scan(row) })
	if err != nil {
		return nil, false, fmt.Errorf("list batches of tenant %s: %w", tenant, err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// Cancel asks a validating or running batch to stop: it becomes cancelling
// and its queued jobs are cancelled in the same transaction. The batch row's
// lock orders this against a runner inserting the batch's jobs (ingestChunk):
// a chunk committed first is cancelled here; a chunk after this sees the
// status and inserts its lines cancelled. Cancelling an already cancelling or
// cancelled batch returns it as it is; any other ended or finalizing batch
// returns ErrNotCancellable.
func (s *Store) Cancel(ctx context.Context, tenant, id string) (*Batch, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status Status
		err := tx.QueryRow(ctx, `SELECT status FROM batches WHERE id = $1 AND tenant = $2 FOR UPDATE`, id, tenant).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		switch status {
		case Cancelling, Cancelled:
			return nil
		case Validating, InProgress:
		default:
			return ErrNotCancellable
		}
		if _, err := tx.Exec(ctx, `UPDATE batches SET status = 'cancelling', cancelling_at = now(), updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		_, err = jobs.CancelBatchJobs(ctx, tx, []string{id}, reasonCancelled)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNotCancellable) {
		return nil, fmt.Errorf("cancel batch %s: %w", id, err)
	}
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	b, gerr := s.Get(ctx, tenant, id)
	if gerr != nil {
		return nil, gerr
	}
	return b, err
}

// Reading reports a batch of tenant that is still reading the input file
// fileID (validating it, or inserting its lines), or "".
func (s *Store) Reading(ctx context.Context, tenant, fileID string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id FROM batches
		WHERE input_file_id = $1 AND tenant = $2
		  AND (status = 'validating' OR (ingested < total AND status IN ('in_progress', 'cancelling', 'finalizing')))
		LIMIT 1`, fileID, tenant).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find batches reading file %s: %w", fileID, err)
	}
	return id, nil
}

// claim leases up to n batches that need a runner: ones to validate, ones
// whose lines are not all jobs yet, and ones whose jobs have all ended. A
// lease that ran out belongs to a runner that died; its batch is claimable
// again and its work resumes.
func (s *Store) claim(ctx context.Context, owner string, lease time.Duration, n int) ([]*Batch, error) {
	rows, err := s.pool.Query(ctx, `
		WITH claimable AS (
			SELECT id FROM batches b
			WHERE status IN ('validating', 'in_progress', 'cancelling', 'finalizing')
			  AND (lease_expires_at IS NULL OR lease_expires_at < now())
			  AND (status = 'validating' OR ingested < total
			       OR NOT EXISTS (SELECT 1 FROM jobs j WHERE j.batch_id = b.id AND j.state IN ('queued', 'running')))
			ORDER BY created_at
			LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE batches SET lease_owner = $1, lease_expires_at = now() + $2::interval, updated_at = now()
		FROM claimable WHERE batches.id = claimable.id
		RETURNING batches.id`, owner, lease, n)
	if err != nil {
		return nil, fmt.Errorf("claim batches: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("claim batches: %w", err)
	}
	out := make([]*Batch, 0, len(ids))
	for _, id := range ids {
		b, err := s.get(ctx, id)
		if err != nil {
			s.release(context.WithoutCancel(ctx), id, owner)
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

// extend renews a lease; errLeaseLost means another runner took the batch.
func (s *Store) extend(ctx context.Context, id, owner string, lease time.Duration) error {
	tag, err := s.pool.Exec(ctx, `UPDATE batches SET lease_expires_at = now() + $3::interval WHERE id = $1 AND lease_owner = $2`, id, owner, lease)
	if err != nil {
		return fmt.Errorf("extend lease of batch %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return errLeaseLost
	}
	return nil
}

// release gives a lease up, so that another runner need not wait for it to run out.
func (s *Store) release(ctx context.Context, id, owner string) {
	_, _ = s.pool.Exec(ctx, `UPDATE batches SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2`, id, owner)
}

// fail ends a batch whose input file failed validation.
func (s *Store) fail(ctx context.Context, id, owner string, errs *openai.BatchErrors, ev Events) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE batches SET status = 'failed', failed_at = now(), errors = $3, completed = 0, failed = 0,
			lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
			WHERE id = $1 AND lease_owner = $2 AND status = 'validating'`, id, owner, errs)
		if err != nil {
			return fmt.Errorf("fail batch %s: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			// Cancelled or expired meanwhile, or taken over: not ours to end.
			return errLeaseLost
		}
		return raiseEvent(ctx, tx, ev, id, Failed)
	})
}

// start records a validated batch's size: it is in progress from now on. A
// batch cancelled or expired during validation stays so, with no lines.
func (s *Store) start(ctx context.Context, id, owner string, total int, model string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE batches SET status = 'in_progress', in_progress_at = now(), total = $3, model = nullif($4, ''), updated_at = now()
		WHERE id = $1 AND lease_owner = $2 AND status = 'validating'`, id, owner, total, model)
	if err != nil {
		return false, fmt.Errorf("start batch %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ingestChunk inserts the jobs of lines from+1 ... from+len(js) of a batch in
// one transaction, and counts them as ingested. It holds the batch row's lock
// while it does (see Cancel): if the batch is being cancelled or has expired,
// the lines are inserted already cancelled. It sets the State of each job it
// inserted; the caller sends the queued ones.
func (s *Store) ingestChunk(ctx context.Context, b *Batch, owner string, from int, js []jobs.BatchJob) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status Status
		var ingested int
		var expired bool
		err := tx.QueryRow(ctx, `SELECT status, ingested, expired_at IS NOT NULL FROM batches WHERE id = $1 AND lease_owner = $2 FOR UPDATE`,
			b.ID, owner).Scan(&status, &ingested, &expired)
		if errors.Is(err, pgx.ErrNoRows) {
			return errLeaseLost
		}
		if err != nil {
			return fmt.Errorf("lock batch %s: %w", b.ID, err)
		}
		if ingested != from {
			return fmt.Errorf("batch %s has %d lines ingested, not %d: %w", b.ID, ingested, from, errLeaseLost)
		}
		var reason openai.Record
		switch {
		case status == InProgress:
		case status == Cancelling:
			reason = reasonCancelled
		case expired:
			reason = reasonExpired
		default:
			return fmt.Errorf("batch %s is %s: its lines cannot become jobs", b.ID, status)
		}
		if reason.Message != "" {
			raw, _ := json.Marshal(reason)
			for i := range js {
				if js[i].State == jobs.Queued {
					js[i].State, js[i].Error = jobs.Cancelled, raw
				}
			}
		}
		if err := jobs.CopyBatchJobs(ctx, tx, b.Tenant, b.ID, js); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE batches SET ingested = ingested + $2, updated_at = now() WHERE id = $1`, b.ID, len(js))
		return err
	})
}

// truncate ends a batch's ingestion at the lines already ingested.
func (s *Store) truncate(ctx context.Context, id, owner string, ingested int) error {
	tag, err := s.pool.Exec(ctx, `UPDATE batches SET total = ingested, updated_at = now()
		WHERE id = $1 AND lease_owner = $2 AND ingested = $3`, id, owner, ingested)
	if err != nil {
		return fmt.Errorf("truncate batch %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return errLeaseLost
	}
	return nil
}

// expire moves batches past their expires_at to finalizing, marked expired,
// and cancels their queued jobs; running ones finish.
func (s *Store) expire(ctx context.Context) ([]string, error) {
	var ids []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE batches SET status = 'finalizing', expired_at = now(), finalizing_at = now(), updated_at = now()
			WHERE status IN ('validating', 'in_progress') AND expires_at < now()
			RETURNING id`)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		_, err = jobs.CancelBatchJobs(ctx, tx, ids, reasonExpired)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("expire batches: %w", err)
	}
	return ids, nil
}

// cancelStragglers cancels queued jobs of cancelling or expired batches that
// became queued after the batch stopped: a running job that met a transient
// error goes back to queued.
func (s *Store) cancelStragglers(ctx context.Context) error {
	for _, q := range []struct {
		where  string
		reason openai.Record
	}{
		{`status = 'cancelling'`, reasonCancelled},
		{`status = 'finalizing' AND expired_at IS NOT NULL`, reasonExpired},
	} {
		rows, err := s.pool.Query(ctx, `SELECT id FROM batches WHERE `+q.where)
		if err != nil {
			return fmt.Errorf("find stopped batches: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("find stopped batches: %w", err)
		}
		if _, err := jobs.CancelBatchJobs(ctx, s.pool, ids, q.reason); err != nil {
			return err
		}
	}
	return nil
}

// finalizing marks a batch whose jobs have all ended as finalizing, if it was
// in progress; a cancelling or expired batch keeps its status.
func (s *Store) finalizing(ctx context.Context, id, owner string) error {
	_, err := s.pool.Exec(ctx, `UPDATE batches SET status = 'finalizing', finalizing_at = now(), updated_at = now()
		WHERE id = $1 AND lease_owner = $2 AND status = 'in_progress'`, id, owner)
	if err != nil {
		return fmt.Errorf("finalize batch %s: %w", id, err)
	}
	return nil
}

// outcome is what finalization found.
type outcome struct {
	OutputFileID, ErrorFileID string
	Completed, Failed         int
	Usage                     openai.BatchUsage
}

// finish ends a finalized batch: cancelled if it was cancelled, expired if it
// expired, completed otherwise, with its files and frozen counts. It returns
// the final status.
func (s *Store) finish(ctx context.Context, id, owner string, o outcome, ev Events) (Status, error) {
	var status Status
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			UPDATE batches SET
				status = CASE WHEN status = 'cancelling' THEN 'cancelled'
				              WHEN expired_at IS NOT NULL THEN 'expired'
				              ELSE 'completed' END,
				cancelled_at = CASE WHEN status = 'cancelling' THEN now() END,
				completed_at = CASE WHEN status <> 'cancelling' AND expired_at IS NULL THEN now() END,
				output_file_id = nullif($3, ''), error_file_id = nullif($4, ''),
				completed = $5, failed = $6, usage = $7,
				lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
			WHERE id = $1 AND lease_owner = $2 AND status IN ('finalizing', 'cancelling')
			RETURNING status`,
			id, owner, o.OutputFileID, o.ErrorFileID, o.Completed, o.Failed, o.Usage).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return errLeaseLost
		}
		if err != nil {
			return fmt.Errorf("finish batch %s: %w", id, err)
		}
		return raiseEvent(ctx, tx, ev, id, status)
	})
	return status, err
}

// Running returns every tenant's batches that have not ended (validating,
// in progress, finalizing, cancelling), oldest first, at most limit: the
// operator's view (the status page).
func (s *Store) Running(ctx context.Context, limit int) ([]*Batch, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM batches b `+counts+`
		WHERE b.status IN ('validating', 'in_progress', 'finalizing', 'cancelling')
		ORDER BY b.created_at, b.id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list running batches: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Batch, error) { return scan(row) })
	if err != nil {
		return nil, fmt.Errorf("list running batches: %w", err)
	}
	return out, nil
}

// keyModels returns the aliases the key that created a batch may use; empty
// when the key is not confined (or the batch was made with the master key).
func (s *Store) keyModels(ctx context.Context, id string) ([]string, error) {
	var models []string
	err := s.pool.QueryRow(ctx, `SELECT coalesce(k.models, '{}') FROM batches b JOIN api_keys k ON k.id = b.api_key_id WHERE b.id = $1`, id).Scan(&models)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the allowed models of batch %s's key: %w", id, err)
	}
	return models, nil
}
