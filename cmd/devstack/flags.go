package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-broker/sluice/internal/cli"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/devenv"
	"github.com/sluice-broker/sluice/internal/devstack"
)

const usage = `usage: devstack [flags]                        (scripts/dev)
       devstack services [-sqs KIND] -- COMMAND [ARGS...]   (scripts/test)

The whole sluice stack on this machine, with no AWS: a throwaway Postgres, a
local SQS server (fauxqs, installed once into .devstack/ with npm; or moto),
the Bedrock simulator, the api and the worker, each a separate process.
"sluice is up" is printed once every part answers. SIGINT or SIGTERM stops
everything it started; its children also die with it if it is killed.

"services" starts only Postgres and the SQS server, runs COMMAND with
DATABASE_URL and SLUICE_SQS_ENDPOINT pointing at them, and stops them.

-config FILE (or SLUICE_CONFIG=FILE) runs your own configuration, sluice
YAML or a LiteLLM proxy config: the simulator then serves the accounts
(roles, external ids), models and quotas it names, with no second file.

DATABASE_URL and SLUICE_SQS_ENDPOINT, when set, replace the throwaway
Postgres and SQS server.`

// stackFlags parses devstack's own flags into Options.
func stackFlags(args []string) devstack.Options {
	var o devstack.Options
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.StringVar(&o.APIAddr, "addr", "127.0.0.1:8080", "where the api listens (its /metrics too)")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", "127.0.0.1:9091", "where the worker serves /metrics")
	fs.StringVar(&o.SimAddr, "sim-addr", "127.0.0.1:8091", "where the Bedrock simulator listens (stats at /_sim/stats)")
	fs.StringVar(&o.SQS, "sqs", devenv.SQSFauxqs, "local SQS server: fauxqs (fast) or moto (enforces IAM)")
	fs.StringVar(&o.MasterKey, "key", envOr("SLUICE_MASTER_KEY", "sk-sluice-local"), "the api's master key")
	fs.StringVar(&o.SluiceConfig, "config", os.Getenv("SLUICE_CONFIG"), "sluice YAML or LiteLLM proxy config (default deploy/local/sluice.yaml)")
	fs.StringVar(&o.SimConfig, "sim-config", "", "simulator YAML (default: deploy/local/bedrocksim.yaml serving the accounts and models -config names)")
	cmd := cli.Command{Name: "devstack", Usage: usage, Flags: fs, NoArgs: true, Env: []config.EnvVar{
		{Name: "DATABASE_URL", Default: "(a throwaway cluster)", Help: "use this Postgres instead"},
		{Name: "SLUICE_SQS_ENDPOINT", Default: "(fauxqs)", Help: "use this SQS server instead"},
		{Name: "SLUICE_MASTER_KEY", Default: "sk-sluice-local", Help: "the api's master key (-key)"},
		{Name: "SLUICE_CONFIG", Default: "deploy/local/sluice.yaml", Help: "sluice YAML or LiteLLM proxy config (-config)"},
		{Name: "SLUICE_FAUXQS_DIR", Default: ".devstack/fauxqs", Help: "where fauxqs and its Node are installed"},
	}}
	cmd.Parse(args)
	// scripts/dev runs devstack from the repository root; paths the caller
	// gave are relative to where the caller was.
	if cwd := os.Getenv("SLUICE_DEV_CWD"); cwd != "" {
		for _, p := range []*string{&o.SluiceConfig, &o.SimConfig} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(cwd, *p)
			}
		}
	}
	return o
}

// servicesFlags parses "devstack services [-sqs KIND] -- COMMAND ..." and
// returns the SQS kind and the command.
func servicesFlags(args []string) (sqsKind string, command []string) {
	fs := flag.NewFlagSet("devstack services", flag.ContinueOnError)
	fs.StringVar(&sqsKind, "sqs", devenv.SQSFauxqs, "local SQS server: fauxqs (fast) or moto (enforces IAM)")
	cmd := cli.Command{Name: "devstack services", Usage: usage, Flags: fs}
	cmd.Parse(args)
	if fs.NArg() == 0 {
		fmt.Fprint(os.Stderr, "devstack services: no command to run\n\n")
		cmd.PrintHelp(os.Stderr)
		os.Exit(2)
	}
	return sqsKind, fs.Args()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
