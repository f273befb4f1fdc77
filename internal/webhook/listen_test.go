package webhook

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/testenv"
)

// The LISTEN connection authenticates like the pool's connections: with IAM
// database auth the password is a token the pool's BeforeConnect makes.
func TestListenConnectionUsesThePoolsBeforeConnect(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	cfg.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
		calls.Add(1)
		cc.RuntimeParams["application_name"] = "sluice-token-test"
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	d := &Dispatcher{DB: pool}
	d.defaults()
	conn, err := d.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var app string
	if err := conn.QueryRow(ctx, `SHOW application_name`).Scan(&app); err != nil {
		t.Fatal(err)
	}
	if calls.Load() == 0 || app != "sluice-token-test" {
		t.Fatalf("BeforeConnect calls %d, application_name %q: the LISTEN connection skipped the pool's hook", calls.Load(), app)
	}
}
