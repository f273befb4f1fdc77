package main

import (
	"flag"
	"os"

	"github.com/sluice-broker/sluice/internal/cli"
	"github.com/sluice-broker/sluice/internal/config"
)

const usage = `usage: api [--help] [--version]
       api keys create|list|revoke ...   (api keys --help)

sluice's HTTP front end: the OpenAI API (chat completions, embeddings, files,
batches) in front of the job queue. Configuration comes from the environment
below and the YAML file it names; the database is migrated at start.
Serves /metrics and /healthz on SLUICE_LISTEN_ADDR.`

// parseFlags handles --help, --version and bad arguments; it returns only
// when the api should start.
func parseFlags() {
	cli.Command{Name: "api", Usage: usage, Env: config.EnvVarsFor("api"), Flags: flag.NewFlagSet("api", flag.ContinueOnError), NoArgs: true}.Parse(os.Args[1:])
}
