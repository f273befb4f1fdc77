package worker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/budget"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/queue"
	"github.com/sluice-broker/sluice/internal/webhook"
)

// Service is a worker process's work: a pool for every (account, model) of the
// accounts it serves, and a janitor.
type Service struct {
	Config *config.Config
	DB     *pgxpool.Pool
	Store  *jobs.Store
	Queues *queue.Queues
	AWS    aws.Config
	Log    *slog.Logger
	// Tune adjusts each pool before it starts (tests shorten its timings).
	Tune func(*Pool)
	// TuneWebhooks adjusts the webhook dispatcher before it starts.
	TuneWebhooks func(*webhook.Dispatcher)
}

// Run runs every pool and the janitor until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	cfg := s.Config
	g, gctx := errgroup.WithContext(ctx)
	endpoints := bedrock.Endpoints{Bedrock: cfg.Env.BedrockEndpoint, STS: cfg.Env.STSEndpoint}
	pools := 0
	for _, acct := range cfg.Accounts {
		if len(cfg.Env.Accounts) > 0 && !slices.Contains(cfg.Env.Accounts, acct.Name) {
			continue
		}
		// One client per account: its credentials cache is shared by all its pools.
		client := bedrock.NewClient(s.AWS, acct, endpoints)
		// Assume the role now: a misconfigured account shows at start, and the
		// first call does not carry an STS round trip its reservation did not expect.
		if _, err := client.Options().Credentials.Retrieve(ctx); err != nil {
			s.Log.ErrorContext(ctx, "credentials for account", "account", acct.Name, "role", acct.RoleARN, "err", err)
		}
		for alias, b := range acct.Models {
			limits := budget.Limits{TPM: float64(b.TPM), RPM: float64(b.RPM), TPD: float64(b.TPD), Window: cfg.Env.Window,
				Slack: budget.DefaultSlack(float64(b.TPM), cfg.Env.Window)}
			shared, err := budget.NewShared(ctx, s.DB, acct.Name, alias, limits)
			if err != nil {
				return err
			}
			p := &Pool{Account: acct.Name, Alias: alias, Model: cfg.Models[alias], Client: client, Budget: shared, Store: s.Store, Queues: s.Queues, Log: s.Log}
			if s.Tune != nil {
				s.Tune(p)
			}
			g.Go(func() error { return p.Run(gctx) })
			pools++
		}
	}
	if pools == 0 {
		return fmt.Errorf("no pools to run: SLUICE_ACCOUNTS=%v matches no account in the configuration", cfg.Env.Accounts)
	}
	janitor := &Janitor{Store: s.Store, Queues: s.Queues, Aliases: cfg.Aliases(), Log: s.Log, Every: cfg.Env.JanitorEvery, Grace: cfg.Env.JanitorGrace}
	g.Go(func() error { return janitor.Run(gctx) })
	// Callbacks are sent from the worker, which already runs the sweeps: the
	// api only answers requests.
	dispatcher := &webhook.Dispatcher{DB: s.DB, Jobs: s.Store, Guard: webhook.NewGuard(cfg.Env.WebhookAllowPrivate),
		DefaultSecret: cfg.Env.WebhookSecret, Timeout: cfg.Env.WebhookTimeout, Log: s.Log}
	if s.TuneWebhooks != nil {
		s.TuneWebhooks(dispatcher)
	}
	g.Go(func() error { return dispatcher.Run(gctx) })
	if cfg.Env.Retention > 0 {
		retention := &Retention{Store: s.Store, Age: cfg.Env.Retention, Log: s.Log}
		g.Go(func() error { return retention.Run(gctx) })
	}
	s.Log.InfoContext(ctx, "worker running", "pools", pools)
	return g.Wait()
}
