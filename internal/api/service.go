package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-broker/sluice/internal/admission"
	"github.com/sluice-broker/sluice/internal/apikey"
	"github.com/sluice-broker/sluice/internal/batch"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/enqueue"
	"github.com/sluice-broker/sluice/internal/files"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/pools"
	"github.com/sluice-broker/sluice/internal/queue"
	"github.com/sluice-broker/sluice/internal/webhook"
)

// Service is an api process's work: the HTTP server and the loops beside it
// (the LISTEN hub that wakes waiters, the batch runner, the admission
// estimates). cmd/api and the end-to-end harness both run it.
type Service struct {
	Config *config.Config
	DB     *pgxpool.Pool
	Store  *jobs.Store
	Queues *queue.Queues
	Log    *slog.Logger
	// Listen dials the process's one LISTEN connection.
	Listen func(ctx context.Context) (*pgx.Conn, error)
	// Listener, when set, is where the server serves (tests pass a free
	// port); otherwise it listens on Config.Env.ListenAddr.
	Listener net.Listener
	// ShutdownTimeout is how long waiting callers may still be answered
	// once the service stops; 0: 30 s.
	ShutdownTimeout time.Duration

	// Tune adjusts the server, the batch runner and the admission
	// controller before they start (tests shorten their timings).
	Tune func(*Server, *batch.Runner)
}

// Run serves until ctx ends, then lets waiting callers finish within
// ShutdownTimeout.
func (s *Service) Run(ctx context.Context) error {
	if s.Config == nil || s.DB == nil || s.Store == nil || s.Queues == nil || s.Listen == nil || s.Log == nil {
		return errors.New("api.Service: Config, DB, Store, Queues, Listen and Log are required")
	}
	env := s.Config.Env
	if env.MasterKey == "" {
		s.Log.Warn("SLUICE_MASTER_KEY is not set: only managed keys (api keys create) are admitted")
	}
	hub := jobs.NewHub(s.Store, s.Listen, s.Log)
	srv := &Server{Config: s.Config, Store: s.Store, Hub: hub, Queue: s.Queues, Log: s.Log, SyncTimeout: env.SyncTimeout,
		Keys: apikey.NewStore(s.DB), Guard: webhook.NewGuard(env.WebhookAllowPrivate),
		BodyTimeout: env.BodyTimeout, UploadTimeout: env.UploadTimeout}
	srv.Tokens = &enqueue.Batcher{Queues: s.Queues, Store: s.Store, Log: s.Log}
	if env.Admission {
		srv.Admission = &admission.Controller{DB: s.DB, Store: s.Store, Pools: pools.Store{DB: s.DB}, Config: s.Config, Log: s.Log}
	}
	var err error
	if srv.BatchWindow, err = batch.WindowFromEnv(); err != nil {
		return err
	}
	// Batches are validated, enqueued and finalized in the background, by a
	// runner in every api process; leases on batch rows share the work.
	runner := &batch.Runner{Store: batch.NewStore(s.DB), Jobs: s.Store, Files: files.NewPG(s.DB), Queue: s.Queues,
		Config: s.Config, Log: s.Log, Events: webhook.BatchEvents{}}
	if s.Tune != nil {
		s.Tune(srv, runner)
	}
	ln := s.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", env.ListenAddr); err != nil {
			return fmt.Errorf("listen on %s: %w", env.ListenAddr, err)
		}
	}
	// At most MaxConnections connections at once: more wait in the kernel's
	// accept queue. No ReadTimeout: it would cancel the context of a sync
	// caller's long wait; the body deadline is set per request instead.
	if env.MaxConnections > 0 {
		ln = netutil.LimitListener(ln, env.MaxConnections)
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return hub.Run(gctx) })
	g.Go(func() error { return runner.Run(gctx) })
	// The batcher runs until the server has shut down: requests answered
	// during the shutdown still send their tokens.
	tokensCtx, stopTokens := context.WithCancel(context.WithoutCancel(ctx))
	defer stopTokens()
	g.Go(func() error { return srv.Tokens.Run(tokensCtx) })
	if srv.Admission != nil {
		g.Go(func() error { return srv.Admission.Run(gctx) })
	}
	g.Go(func() error {
		s.Log.Info("api listening", "addr", ln.Addr().String())
		if err := httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// Let waiting sync callers get their answers, within reason.
		timeout := s.ShutdownTimeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		defer stopTokens()
		return httpSrv.Shutdown(sctx)
	})
	return g.Wait()
}
