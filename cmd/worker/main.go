// Command worker drains sluice's queues into Bedrock: one pool per (account,
// model) budget in the configuration. See the README for its configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-broker/sluice/internal/app"
	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/worker"
)

func main() {
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
	cfg := deps.Config

	g, gctx := errgroup.WithContext(ctx)
	endpoints := bedrock.Endpoints{Bedrock: cfg.Env.BedrockEndpoint, STS: cfg.Env.STSEndpoint}
	pools := 0
	for _, acct := range cfg.Accounts {
		if len(cfg.Env.Accounts) > 0 && !slices.Contains(cfg.Env.Accounts, acct.Name) {
			continue
		}
		client := bedrock.NewClient(deps.AWS, acct, endpoints)
		for alias := range acct.Models {
			p := &worker.Pool{Account: acct.Name, Alias: alias, Model: cfg.Models[alias], Client: client, Store: deps.Store, Queues: deps.Queues, Log: deps.Log}
			g.Go(func() error { return p.Run(gctx) })
			pools++
		}
	}
	if pools == 0 {
		return fmt.Errorf("no pools to run: SLUICE_ACCOUNTS=%v matches no account in the configuration", cfg.Env.Accounts)
	}
	janitor := &worker.Janitor{Store: deps.Store, Queues: deps.Queues, Aliases: cfg.Aliases(), Log: deps.Log}
	g.Go(func() error { return janitor.Run(gctx) })

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	metrics := &http.Server{Addr: cfg.Env.MetricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	g.Go(func() error {
		if err := metrics.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("metrics server on %s: %w", cfg.Env.MetricsAddr, err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return metrics.Shutdown(sctx)
	})
	deps.Log.Info("worker running", "pools", pools)
	return g.Wait()
}
