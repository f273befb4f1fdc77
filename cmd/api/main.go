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

	"golang.org/x/sync/errgroup"

	"github.com/sluice-broker/sluice/internal/api"
	"github.com/sluice-broker/sluice/internal/app"
	"github.com/sluice-broker/sluice/internal/jobs"
)

func main() {
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
		return errors.New("SLUICE_MASTER_KEY is not set; every request would be refused")
	}

	hub := jobs.NewHub(deps.Store, deps.ListenConn, deps.Log)
	srv := &api.Server{Config: deps.Config, Store: deps.Store, Hub: hub, Queue: deps.Queues, Log: deps.Log, SyncTimeout: deps.Config.Env.SyncTimeout}
	ln, err := net.Listen("tcp", deps.Config.Env.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", deps.Config.Env.ListenAddr, err)
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return hub.Run(gctx) })
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
