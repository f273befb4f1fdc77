package webhook

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-broker/sluice/internal/batch"
)

// BatchEvents writes batch endings to the outbox; it is batch.Runner's
// Events. Jobs reach the outbox through a trigger (schema/00003_async.sql);
// a batch ends through one of several UPDATEs, so the runner announces the
// ending itself, inside the transaction that commits it, and the event exists
// exactly when the ending does.
type BatchEvents struct{}

var _ batch.Events = BatchEvents{}

// BatchEnded writes the event of a batch that has a callback URL, and wakes
// the dispatchers when the transaction commits; a batch without one raises
// nothing.
func (BatchEvents) BatchEnded(ctx context.Context, tx pgx.Tx, batchID, event string) error {
	// The host is derived exactly as the jobs trigger derives it, so that
	// per-host limits count job and batch deliveries to one receiver together.
	tag, err := tx.Exec(ctx, `
		INSERT INTO webhook_events (id, batch_id, tenant, type, url, host)
		SELECT $2, id, tenant, $3, callback_url, lower(substring(callback_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)'))
		FROM batches WHERE id = $1 AND callback_url IS NOT NULL`,
		batchID, "msg_"+strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""), event)
	if err != nil {
		return fmt.Errorf("write %s event of batch %s: %w", event, batchID, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, batchID); err != nil {
		return fmt.Errorf("notify %s event of batch %s: %w", event, batchID, err)
	}
	return nil
}
