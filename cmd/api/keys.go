package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/apikey"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/webhook"
)

// keys runs "api keys …" (see apikey.Usage). It needs only DATABASE_URL (and
// SLUICE_WEBHOOK_ALLOW_PRIVATE to accept a private --webhook-url), not the
// YAML configuration or the queues. It never migrates: changing the schema
// belongs to the api's start, not to an operator listing keys.
func keys(args []string) error {
	if apikey.IsHelp(args) {
		fmt.Print(apikey.Usage)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := config.LoadEnv()
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, env.DatabaseURL)
	if err != nil {
		return fmt.Errorf("connect to database: %w", err)
	}
	defer pool.Close()
	err = apikey.Command(ctx, apikey.NewStore(pool), webhook.NewGuard(env.WebhookAllowPrivate).CheckURL, args, os.Stdout)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return fmt.Errorf("%w\nthe database has no sluice schema yet: start the api once (it migrates) before managing keys", err)
	}
	return err
}
