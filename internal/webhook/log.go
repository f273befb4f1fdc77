package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EventResource is an outbox event as callers see it, with its delivery log.
type EventResource struct {
	ID            string             `json:"id"`
	Object        string             `json:"object"`
	Type          string             `json:"type"`
	JobID         string             `json:"job_id"`
	URL           string             `json:"url"`
	Status        string             `json:"status"` // pending, delivered, failed
	Attempts      int                `json:"attempts"`
	NextAttemptAt *int64             `json:"next_attempt_at"`
	LastError     *string            `json:"last_error"`
	CreatedAt     int64              `json:"created_at"`
	DeliveredAt   *int64             `json:"delivered_at"`
	Deliveries    []DeliveryResource `json:"deliveries"`
}

// DeliveryResource is one attempt.
type DeliveryResource struct {
	ID         string  `json:"id"`
	Object     string  `json:"object"`
	Attempt    int     `json:"attempt"`
	StatusCode *int    `json:"status_code"`
	Error      *string `json:"error"`
	DurationMS int     `json:"duration_ms"`
	CreatedAt  int64   `json:"created_at"`
}

// ErrNoEvent means the job has no event with that id.
var ErrNoEvent = errors.New("no such webhook event")

// Log reads the outbox for the API and asks for redeliveries.
type Log struct{ pool *pgxpool.Pool }

// NewLog wraps a pool.
func NewLog(pool *pgxpool.Pool) *Log { return &Log{pool: pool} }

const eventColumns = `id, type, job_id, url, state, attempts, next_attempt_at, last_error, created_at, delivered_at`

func scanEvent(row pgx.Row) (EventResource, error) {
	var e EventResource
	var next, created time.Time
	var delivered *time.Time
	err := row.Scan(&e.ID, &e.Type, &e.JobID, &e.URL, &e.Status, &e.Attempts, &next, &e.LastError, &created, &delivered)
	if err != nil {
		return e, err
	}
	e.Object = "webhook.event"
	e.CreatedAt = created.Unix()
	if e.Status == "pending" {
		v := next.Unix()
		e.NextAttemptAt = &v
	}
	if delivered != nil {
		v := delivered.Unix()
		e.DeliveredAt = &v
	}
	e.Deliveries = []DeliveryResource{}
	return e, nil
}

// Events lists a job's events, oldest first, each with its attempts.
func (l *Log) Events(ctx context.Context, jobID string) ([]EventResource, error) {
	rows, err := l.pool.Query(ctx, `SELECT `+eventColumns+` FROM webhook_events WHERE job_id = $1 ORDER BY created_at, id`, jobID)
	if err != nil {
		return nil, fmt.Errorf("list webhook events of job %s: %w", jobID, err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EventResource, error) { return scanEvent(r) })
	if err != nil {
		return nil, fmt.Errorf("list webhook events of job %s: %w", jobID, err)
	}
	if len(events) == 0 {
		return []EventResource{}, nil
	}
	index := map[string]int{}
	ids := make([]string, len(events))
	for i, e := range events {
		index[e.ID], ids[i] = i, e.ID
	}
	rows, err = l.pool.Query(ctx, `SELECT event_id, id, attempt, status_code, error, duration_ms, created_at
		FROM webhook_deliveries WHERE event_id = ANY($1) ORDER BY attempt, created_at`, ids)
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries of job %s: %w", jobID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var eventID string
		var d DeliveryResource
		var at time.Time
		if err := rows.Scan(&eventID, &d.ID, &d.Attempt, &d.StatusCode, &d.Error, &d.DurationMS, &at); err != nil {
			return nil, fmt.Errorf("list webhook deliveries of job %s: %w", jobID, err)
		}
		d.Object, d.CreatedAt = "webhook.delivery", at.Unix()
		e := &events[index[eventID]]
		e.Deliveries = append(e.Deliveries, d)
	}
	return events, rows.Err()
}

// Redeliver makes a job's event due now with a fresh retry schedule,
// whatever became of it before.
func (l *Log) Redeliver(ctx context.Context, jobID, eventID string) (EventResource, error) {
	var e EventResource
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		var err error
		e, err = scanEvent(tx.QueryRow(ctx, `
			UPDATE webhook_events SET state = 'pending', next_attempt_at = now(), round_attempts = attempts, round_started_at = now()
			WHERE id = $1 AND job_id = $2
			RETURNING `+eventColumns, eventID, jobID))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoEvent
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, jobID)
		return err
	})
	if err != nil && !errors.Is(err, ErrNoEvent) {
		err = fmt.Errorf("redeliver webhook event %s of job %s: %w", eventID, jobID, err)
	}
	return e, err
}
