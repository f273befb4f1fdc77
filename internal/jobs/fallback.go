package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Moved is a queued job moved to a fallback alias: it needs a queue token
// for its new alias.
type Moved struct {
	ID       string   `db:"id"`
	Priority Priority `db:"priority"`
}

// MoveToFallback moves up to limit queued interactive jobs of alias from that
// have waited at least waited (since they were made) to alias to, oldest
// first. Each job moves once: one already served by a fallback stays, so
// fallbacks cannot chain a job around a cycle. The job keeps the alias it was
// asked for in requested_model, and counts as not yet enqueued until the
// caller has sent its new token (MarkEnqueuedMany): if that send fails, the
// janitor's resend of unsent jobs sends it. The tokens left in from's queue
// are spent like any spare token (they claim another job, or nothing).
func (s *Store) MoveToFallback(ctx context.Context, from, to string, waited time.Duration, limit int) ([]Moved, error) {
	rows, err := s.pool.Query(ctx, `
		WITH moving AS (
			SELECT id FROM jobs
			WHERE model = $1 AND state = 'queued' AND priority = 'interactive' AND requested_model IS NULL
			  AND created_at <= now() - make_interval(secs => $3)
			ORDER BY created_at
			LIMIT $4
			FOR UPDATE SKIP LOCKED)
		UPDATE jobs SET model = $2, requested_model = jobs.model, enqueued_at = NULL, updated_at = now()
		FROM moving WHERE jobs.id = moving.id
		RETURNING jobs.id, jobs.priority`, from, to, waited.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("move queued jobs of %s to %s: %w", from, to, err)
	}
	moved, err := pgx.CollectRows(rows, pgx.RowToStructByName[Moved])
	if err != nil {
		return nil, fmt.Errorf("move queued jobs of %s to %s: %w", from, to, err)
	}
	return moved, nil
}
