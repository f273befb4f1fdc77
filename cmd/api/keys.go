package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/apikey"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/webhook"
	"github.com/sluice-broker/sluice/schema"
)

// keys runs "api keys …" (see apikey.Usage). It needs only DATABASE_URL (and
// SLUICE_WEBHOOK_ALLOW_PRIVATE to accept a private --webhook-url), not the
// YAML configuration or the queues.
func keys(args []string) error {
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
	if err := schema.Migrate(ctx, pool); err != nil {
		return err
	}
	return apikey.Command(ctx, apikey.NewStore(pool), webhook.NewGuard(env.WebhookAllowPrivate).CheckURL, args, os.Stdout)
}
