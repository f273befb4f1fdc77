package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what both a pool and a transaction offer; the batch functions below
// run in the caller's transaction when the caller has one.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// BatchJob is one line of a batch, to be inserted as a job. Lines that must
// not run (their batch was cancelled or expired while it was being read, or
// the line is no longer valid) are inserted already ended: State Cancelled or
// Failed, with Error.
type BatchJob struct {
	ID       string
	CustomID string
	Model    string
	Request  json.RawMessage
	State    State
	Error    json.RawMessage
}

// CopyBatchJobs inserts the jobs of a batch with COPY. They have mode and
// priority batch, and enqueued_at NULL: the caller sends the queued ones and
// marks them with MarkEnqueuedMany; any it fails to send, the janitor sends.
func CopyBatchJobs(ctx context.Context, db DB, tenant, batchID string, js []BatchJob) error {
	now := time.Now()
	cols := []string{"id", "tenant", "model", "priority", "mode", "state", "request", "error", "finished_at", "batch_id", "custom_id"}
	n, err := db.CopyFrom(ctx, pgx.Identifier{"jobs"}, cols, pgx.CopyFromSlice(len(js), func(i int) ([]any, error) {
		j := js[i]
		var errJSON, finished any
		if j.State.Terminal() {
			errJSON, finished = []byte(j.Error), now
		}
		return []any{j.ID, tenant, j.Model, string(BatchWork), string(Batch), string(j.State), []byte(j.Request), errJSON, finished, batchID, j.CustomID}, nil
	}))
	if err != nil {
		return fmt.Errorf("copy %d jobs of batch %s: %w", len(js), batchID, err)
	}
	if int(n) != len(js) {
		return fmt.Errorf("copy jobs of batch %s: %d of %d rows copied", batchID, n, len(js))
	}
	return nil
}

// MarkEnqueuedMany records that the jobs' queue messages were sent.
func (s *Store) MarkEnqueuedMany(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE jobs SET enqueued_at = now() WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("mark %d jobs enqueued: %w", len(ids), err)
	}
	return nil
}

// CancelBatchJobs ends the queued jobs of the batches with reason, announcing
// each on Channel like any ending. Jobs already running are left to finish.
func CancelBatchJobs(ctx context.Context, db DB, batchIDs []string, reason any) (int64, error) {
	if len(batchIDs) == 0 {
		return 0, nil
	}
	errJSON, err := json.Marshal(reason)
	if err != nil {
		return 0, err
	}
	tag, err := db.Exec(ctx, `
		UPDATE jobs SET state = 'cancelled', error = $2, finished_at = now(), updated_at = now()
		WHERE batch_id = ANY($1) AND state = 'queued'`, batchIDs, errJSON)
	if err != nil {
		return 0, fmt.Errorf("cancel queued jobs of batches %v: %w", batchIDs, err)
	}
	return tag.RowsAffected(), nil
}

// BatchResult is what a batch's output and error files say of one job.
type BatchResult struct {
	ID       string
	CustomID string
	State    State
	Response json.RawMessage
	Error    json.RawMessage
	Usage    json.RawMessage
}

// BatchResults returns up to limit jobs of a batch in id order, starting after
// the job id after (empty: from the first).
func (s *Store) BatchResults(ctx context.Context, batchID, after string, limit int) ([]BatchResult, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, coalesce(custom_id, ''), state, response, error, usage FROM jobs
		WHERE batch_id = $1 AND id > $2 ORDER BY id LIMIT $3`, batchID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read results of batch %s: %w", batchID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (BatchResult, error) {
		var r BatchResult
		err := row.Scan(&r.ID, &r.CustomID, &r.State, &r.Response, &r.Error, &r.Usage)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("read results of batch %s: %w", batchID, err)
	}
	return out, nil
}
