package main

import (
	"flag"
	"os"

	"github.com/sluice-broker/sluice/internal/cli"
	"github.com/sluice-broker/sluice/internal/config"
)

const usage = `usage: worker [--help] [--version]

sluice's worker: drains the queues into Bedrock, one pool per (account, model)
budget in the configuration. Configuration comes from the environment below
and the YAML file it names; the database is migrated at start. Serves
/metrics and /healthz on SLUICE_METRICS_ADDR.`

// parseFlags handles --help, --version and bad arguments; it returns only
// when the worker should start.
func parseFlags() {
	cli.Command{Name: "worker", Usage: usage, Env: config.EnvVarsFor("worker"), Flags: flag.NewFlagSet("worker", flag.ContinueOnError), NoArgs: true}.Parse(os.Args[1:])
}
