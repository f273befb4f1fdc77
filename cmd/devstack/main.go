// Command devstack runs the whole sluice stack on this machine: Postgres,
// moto (SQS), the Bedrock simulator, the api and the worker. Ctrl-C stops it.
//
//	go run ./cmd/devstack                       # the stack (scripts/dev)
//	go run ./cmd/devstack services -- CMD ...   # Postgres and moto only, for CMD (scripts/test)
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"

	"github.com/sluice-broker/sluice/internal/app"
	"github.com/sluice-broker/sluice/internal/devstack"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "services" {
		os.Exit(services(os.Args[2:]))
	}
	var o devstack.Options
	flag.StringVar(&o.APIAddr, "addr", "127.0.0.1:8080", "where the api listens")
	flag.StringVar(&o.MasterKey, "key", envOr("SLUICE_MASTER_KEY", "sk-sluice-local"), "the api's master key")
	flag.StringVar(&o.SluiceConfig, "config", "", "sluice YAML (default deploy/local/sluice.yaml)")
	flag.StringVar(&o.SimConfig, "sim-config", "", "simulator YAML (default deploy/local/bedrocksim.yaml)")
	flag.Parse()

	ctx, stop := app.SignalContext()
	defer stop()
	s, err := devstack.Start(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
	fmt.Printf(`
sluice is up.
  API        %[1]s   (key: %[2]s)
  simulator  %[3]s   (stats: %[3]s/_sim/stats)
  SQS        %[4]s
  Postgres   %[5]s

Try:
  curl -s %[1]s/v1/chat/completions -H "Authorization: Bearer %[2]s" \
    -d '{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}]}'

Ctrl-C stops everything.
`, s.APIURL, s.MasterKey, s.SimURL, s.SQSURL, s.DBURL)
	select {
	case <-ctx.Done():
	case name := <-s.Exited():
		fmt.Fprintf(os.Stderr, "devstack: %s stopped; shutting down\n", name)
	}
	// Signals stay caught while the children stop: a second Ctrl-C must not
	// kill devstack and leave them running.
	fmt.Fprintln(os.Stderr, "devstack: stopping")
	s.Stop()
	fmt.Fprintln(os.Stderr, "devstack: stopped")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// services starts Postgres and moto, runs the command with DATABASE_URL and
// SLUICE_SQS_ENDPOINT pointing at them, stops them, and returns its exit code.
// Tests then share one cluster and one SQS server instead of one per package.
func services(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: devstack services -- COMMAND [ARGS...]")
		return 2
	}
	ctx, stop := app.SignalContext()
	defer stop()
	env, cleanup, err := devstack.Services(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		return 1
	}
	defer cleanup()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "devstack:", err)
		return 1
	}
	return 0
}
