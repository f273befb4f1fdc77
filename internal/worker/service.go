package worker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/budget"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/pools"
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
	// Listen dials a connection of its own for the process's LISTEN: the
	// pools hear there when a job they run is ended by its caller.
	Listen func(ctx context.Context) (*pgx.Conn, error)
	// InFlight counts the jobs the pools hold (taskprotect.Guard keeps the
	// ECS task protected from scale-in while any is held); nil counts none.
	InFlight InFlight
	// Tune adjusts each pool before it starts (tests shorten its timings).
	Tune func(*Pool)
	// TuneWebhooks adjusts the webhook dispatcher before it starts.
	TuneWebhooks func(*webhook.Dispatcher)
}

// Run runs every pool and the janitor until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	cfg := s.Config
	g, gctx := errgroup.WithContext(ctx)
	hub := jobs.NewHub(s.Store, s.Listen, s.Log)
	// The hub outlives the pools' drain: calls finishing then can still be
	// stopped by their callers.
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHub()
	hubDone := make(chan error, 1)
	go func() { hubDone <- hub.Run(hubCtx) }()
	defer func() { stopHub(); <-hubDone }()
	endpoints := bedrock.Endpoints{Bedrock: cfg.Env.BedrockEndpoint, STS: cfg.Env.STSEndpoint}
	running := 0
	for _, acct := range cfg.Accounts {
		if len(cfg.Env.Accounts) > 0 && !slices.Contains(cfg.Env.Accounts, acct.Name) {
			continue
		}
		// One client per account: its credentials cache is shared by all its pools.
		client := bedrock.NewClient(s.AWS, acct, endpoints)
		check := checkCredentials(client.Options().Credentials)
		// Assume the role now: a misconfigured account shows at start (its
		// pools start down, and leave the work to other accounts), and the
		// first call does not carry an STS round trip its reservation did not expect.
		fault := check(ctx)
		if fault != nil {
			s.Log.ErrorContext(ctx, "credentials for account", "account", acct.Name, "role", acct.RoleARN, "err", fault)
		}
		for alias, b := range acct.Models {
			limits := budget.NewLimits(float64(b.TPM), float64(b.RPM), float64(b.TPD), cfg.Env.Window)
			shared, err := budget.NewShared(ctx, s.DB, acct.Name, alias, limits)
			if err != nil {
				return err
			}
			// With leases the pool reserves from its replica's slice of the
			// bucket, not the row: a few budget transactions a second,
			// whatever the job rate (see budget.Lease and docs/ARCHITECTURE.md).
			var pb Budget = shared
			var lease *budget.Lease
			if cfg.Env.BudgetLeases {
				lease = budget.NewLease(shared, "lease_"+strings.ReplaceAll(uuid.NewString(), "-", ""), s.Log.With("account", acct.Name, "model", alias))
				pb = lease
			}
			p := &Pool{Account: acct.Name, Alias: alias, Model: cfg.Models[alias], Client: client, Budget: pb,
				Store: s.Store, Queues: s.Queues, Watch: hub, Log: s.Log, Check: check, Health: pools.Store{DB: s.DB}, Fault: fault, InFlight: s.InFlight,
				Lease: cfg.Env.Lease, RetryHorizon: cfg.Env.RetryHorizon, DrainTimeout: cfg.Env.DrainTimeout, FairWindow: cfg.Env.FairWindow}
			if s.Tune != nil {
				s.Tune(p)
			}
			if lease == nil {
				g.Go(func() error { return p.Run(gctx) })
				running++
				continue
			}
			g.Go(func() error {
				// The lease outlives the pool's drain: calls finishing then
				// still settle into the slice, which goes back to the row last.
				lctx, stopLease := context.WithCancel(context.WithoutCancel(gctx))
				leaseDone := make(chan error, 1)
				go func() { leaseDone <- lease.Run(lctx) }()
				err := p.Run(gctx)
				stopLease()
				if lerr := <-leaseDone; lerr != nil {
					s.Log.Warn("give back budget lease", "account", acct.Name, "model", alias, "err", lerr)
				}
				return err
			})
			running++
		}
	}
	if running == 0 {
		return fmt.Errorf("no pools to run: SLUICE_ACCOUNTS=%v matches no account in the configuration", cfg.Env.Accounts)
	}
	// The janitor requeues lapsed leases: it sweeps at least three times a lease.
	janitor := &Janitor{Store: s.Store, Queues: s.Queues, Aliases: cfg.Aliases(), Log: s.Log,
		Every: min(cfg.Env.JanitorEvery, cfg.Env.Lease/3), Grace: cfg.Env.JanitorGrace,
		Fallbacks: Fallbacks(cfg), Health: pools.Store{DB: s.DB}}
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
	s.Log.InfoContext(ctx, "worker running", "pools", running)
	return g.Wait()
}

// checkCredentials drops an account's cached credentials and obtains new
// ones (assuming its role again).
func checkCredentials(creds aws.CredentialsProvider) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if creds == nil {
			return nil
		}
		if c, ok := creds.(*aws.CredentialsCache); ok {
			c.Invalidate()
		}
		_, err := creds.Retrieve(ctx)
		return err
	}
}
