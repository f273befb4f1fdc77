package batch

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Events hears of every batch's ending (batch.completed, batch.failed,
// batch.cancelled, batch.expired) inside the transaction that ends it, so
// that an outbox row written there exists exactly when the ending commits.
type Events interface {
	BatchEnded(ctx context.Context, tx pgx.Tx, batchID, event string) error
}

// raiseEvent is the one place a batch's ending is announced. The webhook
// outbox (internal/webhook) carries job events only so far; an Events that
// writes a batch event to it plugs in here, through Runner.Events.
func raiseEvent(ctx context.Context, tx pgx.Tx, ev Events, id string, s Status) error {
	metricEnded.WithLabelValues(string(s)).Inc()
	if ev == nil {
		return nil
	}
	return ev.BatchEnded(ctx, tx, id, s.Event())
}
