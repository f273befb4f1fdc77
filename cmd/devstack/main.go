// Command devstack runs the whole sluice stack on this machine: Postgres,
// a local SQS server (fauxqs or moto), the Bedrock simulator, the api and the
// worker. SIGINT or SIGTERM stops it and everything it started.
//
//	scripts/dev                                 # the stack (builds and execs devstack)
//	go run ./cmd/devstack services -- CMD ...   # Postgres and SQS only, for CMD (scripts/test)
//	go run ./cmd/devstack --help
package main

import (
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
	o := stackFlags(os.Args[1:])

	ctx, stop := app.SignalContext()
	defer stop()
	s, err := devstack.Start(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
	fmt.Print(s.Banner())
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

// services starts Postgres and an SQS server, runs the command with
// DATABASE_URL and SLUICE_SQS_ENDPOINT pointing at them, stops them, and
// returns its exit code. Tests then share one cluster and one SQS server
// instead of one per package.
func services(args []string) int {
	sqsKind, args := servicesFlags(args)
	ctx, stop := app.SignalContext()
	defer stop()
	env, cleanup, err := devstack.Services(ctx, sqsKind)
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
