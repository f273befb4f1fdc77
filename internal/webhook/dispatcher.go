// Package webhook delivers signed callbacks when jobs and batches end.
//
// Events come from an outbox: a trigger on the jobs table writes one row per
// job that ends with a callback URL, in the same transaction as the ending
// (schema/00003_async.sql); BatchEvents does the same for batches. A Dispatcher claims due rows, POSTs them signed per
// the Standard Webhooks specification (https://www.standardwebhooks.com), logs
// every attempt, and retries failures on a backoff schedule that spans a day.
// Delivery is at least once: a receiver deduplicates on the webhook-id header.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgxlisten"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sluice-broker/sluice/internal/batch"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/responses"
)

// Channel is notified when an event becomes due (a job ended, or a
// redelivery was asked for); dispatchers wake on it instead of waiting for
// their next poll.
const Channel = "sluice_webhook"

// Payload is the body of a delivery, in the shape the Standard Webhooks
// specification recommends. Data is the job (jobs.Resource) or the OpenAI
// batch object (openai.Batch) the event is about.
type Payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// ResponseEvent is the body of a Responses API webhook (response.completed,
// .failed, .cancelled, .incomplete), in OpenAI's shape.
type ResponseEvent struct {
	ID        string            `json:"id"`
	Object    string            `json:"object"` // event
	Type      string            `json:"type"`
	CreatedAt int64             `json:"created_at"`
	Data      ResponseEventData `json:"data"`
}

// ResponseEventData names the response an event is about.
type ResponseEventData struct {
	ID string `json:"id"`
}

// Dispatcher delivers due events. Any number of dispatchers (one per worker
// process) may run against one database: a claim takes rows with FOR UPDATE
// SKIP LOCKED and leases them for the length of one attempt.
type Dispatcher struct {
	DB   *pgxpool.Pool
	Jobs *jobs.Store
	// Batches renders batch events; nil reads batches through DB.
	Batches *batch.Store
	Guard   *Guard
	// DefaultSecret (whsec_…) signs events of jobs and batches submitted with
	// the master key; a managed key's are signed with that key's own secret.
	DefaultSecret string
	Log           *slog.Logger

	// Concurrency bounds deliveries in flight; PerHost bounds them per
	// receiver host, so that a receiver that hangs holds at most PerHost
	// slots and delays nobody else.
	Concurrency, PerHost int
	// Timeout bounds one attempt: connect, send, and the receiver's answer.
	Timeout time.Duration
	// Poll is the safety-net interval between looks for due events; the
	// Channel notification usually comes first.
	Poll     time.Duration
	Schedule Schedule
	// Connect dials the LISTEN connection; nil dials with DB's settings.
	Connect func(ctx context.Context) (*pgx.Conn, error)

	client   *http.Client
	wake     chan struct{}
	mu       sync.Mutex
	inflight map[string]int // per host
	total    int
}

var metricDeliveries = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "sluice_webhook_deliveries_total",
	Help: "Webhook delivery attempts by outcome (delivered, retry, failed).",
}, []string{"outcome"})

func (d *Dispatcher) defaults() {
	if d.Concurrency <= 0 {
		d.Concurrency = 32
	}
	if d.PerHost <= 0 {
		d.PerHost = 4
	}
	if d.Timeout <= 0 {
		d.Timeout = 15 * time.Second
	}
	if d.Poll <= 0 {
		d.Poll = 2 * time.Second
	}
	if d.Schedule == (Schedule{}) {
		d.Schedule = DefaultSchedule
	}
	if d.Guard == nil {
		d.Guard = NewGuard(false)
	}
	if d.Batches == nil {
		d.Batches = batch.NewStore(d.DB)
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Connect == nil {
		d.Connect = func(ctx context.Context) (*pgx.Conn, error) {
			cfg := d.DB.Config()
			cc := cfg.ConnConfig.Copy()
			// The pool's hook fills in per-connection credentials (an IAM
			// token on AWS, internal/dbauth); this connection needs them too.
			if cfg.BeforeConnect != nil {
				if err := cfg.BeforeConnect(ctx, cc); err != nil {
					return nil, err
				}
			}
			return pgx.ConnectConfig(ctx, cc)
		}
	}
	d.client = d.Guard.Client(d.Timeout)
	d.wake = make(chan struct{}, 1)
	d.inflight = map[string]int{}
}

// Run delivers until ctx ends. Attempts in flight then are abandoned and
// logged as failed; their events are tried again later, by any dispatcher.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.defaults()
	l := &pgxlisten.Listener{
		Connect:        d.Connect,
		ReconnectDelay: time.Second,
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				d.Log.WarnContext(ctx, "webhook listener", "err", err)
			}
		},
	}
	l.Handle(Channel, pgxlisten.HandlerFunc(func(context.Context, *pgconn.Notification, *pgx.Conn) error {
		d.poke()
		return nil
	}))
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { l.Listen(ctx) })

	t := time.NewTicker(d.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		full, err := d.dispatch(ctx, &wg)
		if err != nil && ctx.Err() == nil {
			d.Log.WarnContext(ctx, "claim webhook events", "err", err)
		}
		if full && err == nil {
			continue // there may be more due right now
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-t.C:
		}
	}
	return nil
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// event is a claimed outbox row. It is about a job or, when BatchID is
// set, a batch.
type event struct {
	ID, JobID, BatchID, Tenant, Type, URL, Host string
	Attempt, RoundAttempts                      int
	RoundStarted, CreatedAt                     time.Time
}

// subject names what the event is about, for logs.
func (e event) subject() (kind, id string) {
	if e.BatchID != "" {
		return "batch", e.BatchID
	}
	return "job", e.JobID
}

// logAttrs name what the event is about in log lines, with the keys every
// log line about a job or batch uses (job_id and request_id, or batch_id).
func (e event) logAttrs() []any {
	if e.BatchID != "" {
		return []any{"batch_id", e.BatchID}
	}
	return jobs.LogAttrs(e.JobID)
}

// dispatch claims what the free slots allow and starts delivering it. It
// reports whether it filled every slot it asked for.
func (d *Dispatcher) dispatch(ctx context.Context, wg *sync.WaitGroup) (bool, error) {
	d.mu.Lock()
	free := d.Concurrency - d.total
	busy := []string{} // not nil: NULL would make "host = ANY" NULL and match nothing
	for host, n := range d.inflight {
		if n >= d.PerHost {
			busy = append(busy, host)
		}
	}
	d.mu.Unlock()
	if free <= 0 {
		return false, nil
	}
	// The lease outlasts an attempt; a dispatcher that dies mid-attempt
	// leaves its events to be claimed again when it runs out.
	lease := d.Timeout + 30*time.Second
	rows, err := d.DB.Query(ctx, `
		UPDATE webhook_events SET attempts = attempts + 1, next_attempt_at = now() + $3::interval
		WHERE id IN (
			SELECT id FROM webhook_events
			WHERE state = 'pending' AND next_attempt_at <= now() AND NOT (host = ANY($1))
			ORDER BY next_attempt_at
			LIMIT $2
			FOR UPDATE SKIP LOCKED)
		RETURNING id, coalesce(job_id, ''), coalesce(batch_id, ''), tenant, type, url, host, attempts, round_attempts, round_started_at, created_at`,
		busy, free, lease)
	if err != nil {
		return false, err
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (event, error) {
		var e event
		err := r.Scan(&e.ID, &e.JobID, &e.BatchID, &e.Tenant, &e.Type, &e.URL, &e.Host, &e.Attempt, &e.RoundAttempts, &e.RoundStarted, &e.CreatedAt)
		return e, err
	})
	if err != nil {
		return false, err
	}
	for _, e := range claimed {
		d.mu.Lock()
		admit := d.inflight[e.Host] < d.PerHost
		if admit {
			d.inflight[e.Host]++
			d.total++
		}
		d.mu.Unlock()
		if !admit {
			// One claim can take several events of one host; those past its
			// limit go back untouched, due at once for whoever has room.
			if _, err := d.DB.Exec(ctx, `UPDATE webhook_events SET attempts = attempts - 1, next_attempt_at = now()
				WHERE id = $1 AND attempts = $2`, e.ID, e.Attempt); err != nil {
				d.Log.WarnContext(ctx, "return webhook event", "event", e.ID, "err", err)
			}
			continue
		}
		wg.Go(func() {
			defer func() {
				d.mu.Lock()
				d.total--
				if d.inflight[e.Host]--; d.inflight[e.Host] == 0 {
					delete(d.inflight, e.Host)
				}
				d.mu.Unlock()
				d.poke() // a slot is free
			}()
			d.deliver(ctx, e)
		})
	}
	return len(claimed) == free, nil
}

// deliver makes one attempt and records it.
func (d *Dispatcher) deliver(ctx context.Context, e event) {
	log := d.Log.With(e.logAttrs()...).With("event", e.ID, "attempt", e.Attempt)
	payload, secret, err := d.prepare(ctx, e)
	if err != nil {
		var p permanentError
		log.WarnContext(ctx, "prepare webhook event", "err", err)
		d.record(ctx, e, attempt{err: err, permanent: errors.As(err, &p)})
		return
	}
	start := time.Now()
	status, err := d.post(ctx, e, payload, secret)
	a := attempt{status: status, err: err, took: time.Since(start)}
	if err == nil {
		log.DebugContext(ctx, "webhook delivered", "status", status, "dur", a.took)
	} else {
		log.InfoContext(ctx, "webhook attempt failed", "url", e.URL, "err", err, "dur", a.took)
	}
	d.record(ctx, e, a)
}

// prepare renders the event's payload and finds the secret that signs it:
// that of the key that submitted the job or created the batch. The job or
// batch has ended, so every attempt sends the same bytes.
func (d *Dispatcher) prepare(ctx context.Context, e event) ([]byte, string, error) {
	kind, id := e.subject()
	var data any
	var keyQuery string
	if e.BatchID != "" {
		b, err := d.Batches.Get(ctx, e.Tenant, e.BatchID)
		if errors.Is(err, batch.ErrNotFound) {
			return nil, "", permanentError{fmt.Errorf("batch %s no longer exists", e.BatchID)}
		}
		if err != nil {
			return nil, "", fmt.Errorf("load batch %s: %w", e.BatchID, err)
		}
		data = b.Object()
		keyQuery = `SELECT k.webhook_secret FROM batches b JOIN api_keys k ON k.id = b.api_key_id WHERE b.id = $1`
	} else {
		job, err := d.Jobs.Get(ctx, e.JobID)
		if errors.Is(err, jobs.ErrNotFound) {
			return nil, "", permanentError{fmt.Errorf("job %s no longer exists", e.JobID)}
		}
		if err != nil {
			return nil, "", fmt.Errorf("load job %s: %w", e.JobID, err)
		}
		data = job.Resource()
		keyQuery = `SELECT k.webhook_secret FROM jobs j JOIN api_keys k ON k.id = j.api_key_id WHERE j.id = $1`
	}
	var body any = Payload{Type: e.Type, Timestamp: e.CreatedAt.UTC(), Data: data}
	if strings.HasPrefix(e.Type, "response.") {
		// A response's events are OpenAI's own, so that the SDKs'
		// webhooks.unwrap reads them; the receiver fetches the response.
		body = ResponseEvent{ID: e.ID, Object: "event", Type: e.Type, CreatedAt: e.CreatedAt.Unix(),
			Data: ResponseEventData{ID: responses.ID(e.JobID)}}
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, "", fmt.Errorf("render event %s: %w", e.ID, err)
	}
	var secret *string
	err = d.DB.QueryRow(ctx, keyQuery, id).Scan(&secret)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, "", fmt.Errorf("find signing secret of %s %s: %w", kind, id, err)
	}
	if secret == nil || *secret == "" {
		if d.DefaultSecret == "" {
			return nil, "", permanentError{fmt.Errorf("%s %s was submitted with the master key and SLUICE_WEBHOOK_SECRET is not set: nothing to sign with", kind, id)}
		}
		secret = &d.DefaultSecret
	}
	return payload, *secret, nil
}

func (d *Dispatcher) post(ctx context.Context, e event, payload []byte, secret string) (int, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return 0, fmt.Errorf("signing secret: %w", err)
	}
	now := time.Now()
	sig, err := wh.Sign(e.ID, now, payload)
	if err != nil {
		return 0, fmt.Errorf("sign: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, e.URL, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sluice-webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, e.ID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Read a little of the answer, so a failure can say what the receiver
	// said, and the connection can be reused.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		snippet := strings.TrimSpace(string(body))
		if len(snippet) > 200 {
			snippet = snippet[:200] + "…"
		}
		return resp.StatusCode, fmt.Errorf("receiver answered %s: %s", resp.Status, snippet)
	}
	return resp.StatusCode, nil
}

// permanentError is a reason to stop trying at once: nothing to send, or
// nothing to sign it with.
type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

type attempt struct {
	status    int
	err       error
	took      time.Duration
	permanent bool
}

// record logs the attempt and moves the event on: delivered, due again
// later, or failed when its round is over. The update is fenced by the
// attempt number, so an attempt whose lease ran out (and whose event another
// dispatcher took) is logged but changes nothing.
func (d *Dispatcher) record(ctx context.Context, e event, a attempt) {
	// Record even when shutting down: the attempt happened.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var status *int
	if a.status != 0 {
		status = &a.status
	}
	var errText *string
	if a.err != nil {
		s := a.err.Error()
		errText = &s
	}
	outcome := "delivered"
	err := pgx.BeginFunc(ctx, d.DB, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, event_id, attempt, status_code, error, duration_ms)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			"whd_"+strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""), e.ID, e.Attempt, status, errText, a.took.Milliseconds())
		if err != nil {
			return err
		}
		switch {
		case a.err == nil:
			_, err = tx.Exec(ctx, `UPDATE webhook_events SET state = 'delivered', delivered_at = now(), last_error = NULL
				WHERE id = $1 AND attempts = $2`, e.ID, e.Attempt)
			return err
		default:
			next, ok := d.Schedule.Next(e.RoundStarted, time.Now(), e.Attempt-e.RoundAttempts)
			if a.permanent || !ok {
				outcome = "failed"
				_, err = tx.Exec(ctx, `UPDATE webhook_events SET state = 'failed', last_error = $3
					WHERE id = $1 AND attempts = $2`, e.ID, e.Attempt, errText)
				return err
			}
			outcome = "retry"
			_, err = tx.Exec(ctx, `UPDATE webhook_events SET next_attempt_at = $3, last_error = $4
				WHERE id = $1 AND attempts = $2`, e.ID, e.Attempt, next, errText)
			return err
		}
	})
	if err != nil {
		d.Log.ErrorContext(ctx, "record webhook attempt", "event", e.ID, "attempt", e.Attempt, "err", err)
		return
	}
	metricDeliveries.WithLabelValues(outcome).Inc()
	if outcome == "failed" {
		d.Log.With(e.logAttrs()...).WarnContext(ctx, "webhook event failed; no more attempts", "event", e.ID, "url", e.URL, "attempts", e.Attempt, "err", a.err)
	}
}
