// Command worker drains sluice's queues into Bedrock: one pool per (account,
// model) budget in the configuration. See the README for its configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-broker/sluice/internal/app"
	"github.com/sluice-broker/sluice/internal/emf"
	"github.com/sluice-broker/sluice/internal/subcommand"
	"github.com/sluice-broker/sluice/internal/taskprotect"
	"github.com/sluice-broker/sluice/internal/worker"
)

func main() {
	if code, ok := subcommand.Run("worker", os.Args[1:], os.Stdout, os.Stderr); ok { // healthcheck, migrate
		os.Exit(code)
	}
	parseFlags()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := app.SignalContext()
	defer stop()
	deps, err := app.Open(ctx, "worker")
	if err != nil {
		return err
	}
	defer deps.Close()

	// Scale-in protection on ECS while calls are in flight (a no-op elsewhere).
	guard := taskprotect.FromEnv(deps.Log)
	svc := &worker.Service{Config: deps.Config, DB: deps.Pool, Store: deps.Store, Queues: deps.Queues, AWS: deps.AWS, Log: deps.Log,
		Listen: deps.ListenConn, InFlight: guard}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	metrics := &http.Server{Addr: deps.Config.Env.MetricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return svc.Run(gctx) })
	g.Go(func() error { return guard.Run(gctx) })
	g.Go(func() error { return emf.FromEnv(deps.Log, os.Stdout).Run(gctx) }) // metrics to CloudWatch on AWS
	g.Go(func() error {
		if err := metrics.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("metrics server on %s: %w", deps.Config.Env.MetricsAddr, err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return metrics.Shutdown(sctx)
	})
	return g.Wait()
}
