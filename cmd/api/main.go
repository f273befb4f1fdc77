// Command api is sluice's HTTP front end. See the README for its configuration.
package main

import (
	"fmt"
	"os"

	"github.com/sluice-broker/sluice/internal/api"
	"github.com/sluice-broker/sluice/internal/app"
	"github.com/sluice-broker/sluice/internal/subcommand"
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
	svc := &api.Service{Config: deps.Config, DB: deps.Pool, Store: deps.Store, Queues: deps.Queues, Log: deps.Log, Listen: deps.ListenConn}
	return svc.Run(ctx)
}
