// Command api is sluice's HTTP front end. See the README for its configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-broker/sluice/internal/admission"
	"github.com/sluice-broker/sluice/internal/api"
	"github.com/sluice-broker/sluice/internal/apikey"
	"github.com/sluice-broker/sluice/internal/app"
	"github.com/sluice-broker/sluice/internal/batch"
	"github.com/sluice-broker/sluice/internal/files"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/pools"
	"github.com/sluice-broker/sluice/internal/subcommand"
	"github.com/sluice-broker/sluice/internal/webhook"
)

func main() {
	if code, ok := subcommand.Run("api", os.Args[1:], os.Stdout, os.Stderr); ok { // healthcheck, migrate
		os.Exit(code)
	}
	if len(os.Args) > 1 && os.Args[1] == "keys" {
		if err := keys(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "api keys:", err)
			os.Exit(2)
		}
		return
	}
	parseFlags()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := app.SignalContext()
	defer stop()
	deps, err := app.Open(ctx, "api")
	if err != nil {
		return err
	}
	defer deps.Close()
	if deps.Config.Env.MasterKey == "" {
		deps.Log.Warn("SLUICE_MASTER_KEY is not set: only managed keys (api keys create) are admitted")
	}

	hub := jobs.NewHub(deps.Store, deps.ListenConn, deps.Log)
	srv := &api.Server{Config: deps.Config, Store: deps.Store, Hub: hub, Queue: deps.Queues, Log: deps.Log, SyncTimeout: deps.Config.Env.SyncTimeout,
		Keys: apikey.NewStore(deps.Pool), Guard: webhook.NewGuard(deps.Config.Env.WebhookAllowPrivate),
		BodyTimeout: deps.Config.Env.BodyTimeout, UploadTimeout: deps.Config.Env.UploadTimeout}
	if deps.Config.Env.Admission {
		srv.Admission = &admission.Controller{DB: deps.Pool, Store: deps.Store, Pools: pools.Store{DB: deps.Pool}, Config: deps.Config, Log: deps.Log}
	}
	if srv.BatchWindow, err = batch.WindowFromEnv(); err != nil {
		return err
	}
	// Batches are validated, enqueued and finalized in the background, by a
	// runner in every api process; leases on batch rows share the work.
	runner := &batch.Runner{Store: batch.NewStore(deps.Pool), Jobs: deps.Store, Files: files.NewPG(deps.Pool), Queue: deps.Queues,
		Config: deps.Config, Log: deps.Log, Events: webhook.BatchEvents{}}
	ln, err := net.Listen("tcp", deps.Config.Env.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", deps.Config.Env.ListenAddr, err)
	}
	// At most MaxConnections connections at once: more wait in the kernel's
	// accept queue. No ReadTimeout: it would cancel the context of a sync
	// caller's long wait; the body deadline is set per request instead.
	ln = netutil.LimitListener(ln, deps.Config.Env.MaxConnections)
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return hub.Run(gctx) })
	g.Go(func() error { return runner.Run(gctx) })
	if srv.Admission != nil {
		g.Go(func() error { return srv.Admission.Run(gctx) })
	}
	g.Go(func() error {
		deps.Log.Info("api listening", "addr", ln.Addr().String())
		if err := httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// Let waiting sync callers get their answers, within reason.
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return httpSrv.Shutdown(sctx)
	})
	return g.Wait()
}
