// Command bedrocksim runs the local Amazon Bedrock Runtime + STS simulator
// (see package internal/bedrocksim for its contract).
//
//	bedrocksim [-config sim.yaml] [-listen 127.0.0.1:0] [-log-level debug]
//
// Once listening it prints "bedrocksim listening on http://ADDR" on stdout,
// which lets a parent process learn the port when listening on port 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
)

func main() {
	if err := run(); err != nil {
		slog.Error("bedrocksim failed", "error", err)
		os.Exit(1)
	}
}

func run() error {
	configPath := flag.String("config", "", "YAML configuration file (default: built-in defaults)")
	listen := flag.String("listen", "", "listen address, overrides the config's listen")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn, error")
	parseFlags()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("parse -log-level %q: %w", *logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	cfg := bedrocksim.DefaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = bedrocksim.LoadConfig(*configPath); err != nil {
			return err
		}
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	cfg.Logger = logger
	sim, err := bedrocksim.New(cfg)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	eff := sim.Config()
	logger.Info("bedrocksim configured", "models", len(eff.Models), "accounts", len(eff.Accounts),
		"default_account", eff.DefaultAccount, "window", eff.Window, "ttft", eff.TTFT, "per_token", eff.PerToken,
		"auth", eff.Auth == nil || *eff.Auth)
	fmt.Printf("bedrocksim listening on http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("bedrocksim shutting down")
	// Give streams in progress a moment to finish, then cut them.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	_ = srv.Close()
	return nil
}
