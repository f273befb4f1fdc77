// Package app wires a sluice process together: configuration, the database
// (checked against the schema this binary knows, migrated unless told not to), the AWS clients (built once), logging and signal handling.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/dbauth"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/queue"
	"github.com/sluice-broker/sluice/schema"
)

// Deps are the long-lived parts every sluice process shares.
type Deps struct {
	Config *config.Config
	Log    *slog.Logger
	Pool   *pgxpool.Pool
	Store  *jobs.Store
	AWS    aws.Config
	Queues *queue.Queues

	dbAuth *dbauth.Auth
}

// Open loads the configuration, connects and migrates the database, and
// resolves the queues.
func Open(ctx context.Context, name string) (*Deps, error) {
	log := Logger().With("process", name)
	cfg, warnings, err := config.Load()
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		log.Warn("config", "warning", w)
	}
	base, err := bedrock.LoadBase(ctx, cfg.Env.Region)
	if err != nil {
		return nil, err
	}
	dbAuth, err := dbauth.FromEnv(base) // IAM database authentication on AWS
	if err != nil {
		return nil, err
	}
	poolCfg, err := dbauth.PoolConfig(cfg.Env.DatabaseURL, dbAuth)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	// SLUICE_MIGRATE=false (set on AWS): never migrate here, only check.
	if _, err := schema.Ready(ctx, pool, os.Getenv("SLUICE_MIGRATE") != "false"); err != nil {
		pool.Close()
		return nil, err
	}
	q := queue.New(queue.NewClient(base, cfg.Env.SQSEndpoint), cfg.Env.QueuePrefix)
	if err := q.Resolve(ctx, cfg.Aliases(), cfg.Env.CreateQueues); err != nil {
		pool.Close()
		return nil, err
	}
	return &Deps{Config: cfg, Log: log, Pool: pool, Store: jobs.NewStore(pool), AWS: base, Queues: q, dbAuth: dbAuth}, nil
}

// Close releases the database pool.
func (d *Deps) Close() { d.Pool.Close() }

// ListenConn dials a connection outside the pool, for LISTEN. The pool's
// own settings in DATABASE_URL (pool_max_conns, …) are left out of it.
func (d *Deps) ListenConn(ctx context.Context) (*pgx.Conn, error) {
	return dbauth.Connect(ctx, d.Config.Env.DatabaseURL, d.dbAuth)
}

// Logger is the process logger: JSON on stderr, level from SLUICE_LOG_LEVEL.
func Logger() *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(os.Getenv("SLUICE_LOG_LEVEL")) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	var h slog.Handler = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	if os.Getenv("SLUICE_LOG_FORMAT") == "text" {
		h = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	}
	l := slog.New(h)
	slog.SetDefault(l)
	return l
}

// SignalContext ends on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
