package jobs

import (
	"context"
	"fmt"
	"time"
)

// SentBefore lists queued jobs of a model and priority whose message was
// sent before t, oldest first. When a queue is deleted and created again (or
// its SQS server restarts), t is the new queue's creation time: these jobs'
// messages were lost with the old queue, and the row, which is the truth,
// says they still need one.
func (s *Store) SentBefore(ctx context.Context, model string, p Priority, t time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM jobs
		WHERE state = 'queued' AND model = $1 AND priority = $2 AND enqueued_at < $3
		ORDER BY enqueued_at LIMIT $4`, model, p, t, limit)
	if err != nil {
		return nil, fmt.Errorf("list %s %s jobs sent before %s: %w", model, p, t.Format(time.RFC3339), err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// MarkResent records that the jobs got a message again in a queue created at
// new queue: their enqueued_at moves to at least after (the bound given to
// SentBefore), so a job is sent once per lost queue.
func (s *Store) MarkResent(ctx context.Context, ids []string, after time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE jobs SET enqueued_at = greatest(now(), $2) WHERE id = ANY($1)`, ids, after); err != nil {
		return fmt.Errorf("mark %d jobs sent again: %w", len(ids), err)
	}
	return nil
}
