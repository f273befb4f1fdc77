package webhook

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-broker/sluice/internal/testenv"
)

// An outbox event is about exactly one job or one batch (00006's CHECK), and
// BatchEvents writes one only for a batch that has a callback URL.
func TestBatchEventsOutbox(t *testing.T) {
	pool := testenv.Pool(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO batches (id, tenant, endpoint, completion_window, input_file_id, expires_at, callback_url)
		 VALUES ('batch_hook', 't', '/v1/chat/completions', '24h', 'file-x', now() + interval '1 day', 'https://Hooks.Example.com:8443/b?x=1')`,
		`INSERT INTO batches (id, tenant, endpoint, completion_window, input_file_id, expires_at)
		 VALUES ('batch_quiet', 't', '/v1/chat/completions', '24h', 'file-x', now() + interval '1 day')`,
		`INSERT INTO jobs (id, tenant, model, priority, mode, request) VALUES ('job_1', 't', 'm', 'interactive', 'async', '{}')`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	for name, subject := range map[string]string{
		"neither": `NULL, NULL`,
		"both":    `'job_1', 'batch_hook'`,
	} {
		_, err := pool.Exec(ctx, `INSERT INTO webhook_events (id, job_id, batch_id, tenant, type, url, host)
			VALUES ('msg_`+name+`', `+subject+`, 't', 'x', 'http://h/', 'h')`)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23514" || pgErr.ConstraintName != "webhook_events_one_subject" {
			t.Errorf("event with %s a job and a batch: err = %v, want the one-subject check violation", name, err)
		}
	}

	// The event's notification is delivered on commit, as the jobs trigger's is.
	listen, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer listen.Release()
	if _, err := listen.Exec(ctx, "LISTEN "+Channel); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"batch_hook", "batch_quiet"} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return BatchEvents{}.BatchEnded(ctx, tx, id, "batch.completed") })
		if err != nil {
			t.Fatalf("BatchEnded(%s): %v", id, err)
		}
	}
	n, err := listen.Conn().WaitForNotification(ctx)
	if err != nil || n.Payload != "batch_hook" {
		t.Fatalf("notification = %+v, %v; want one naming batch_hook", n, err)
	}

	rows, err := pool.Query(ctx, `SELECT batch_id, job_id IS NULL, tenant, type, url, host, state FROM webhook_events`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		BatchID   string
		NoJob     bool
		Tenant    string
		Type, URL string
		Host      string
		State     string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	want := row{"batch_hook", true, "t", "batch.completed", "https://Hooks.Example.com:8443/b?x=1", "hooks.example.com:8443", "pending"}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("outbox = %+v, want [%+v] (a batch without a callback URL raises nothing)", got, want)
	}

	// Events go with their batch.
	if _, err := pool.Exec(ctx, `DELETE FROM batches WHERE id = 'batch_hook'`); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_events`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d events left after their batch was deleted (err %v)", left, err)
	}
}
