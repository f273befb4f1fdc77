package main

import (
	"flag"
	"os"

	"github.com/sluice-broker/sluice/internal/cli"
)

const usage = `usage: bedrocksim [-config sim.yaml] [-listen ADDR] [-log-level LEVEL]

A local Amazon Bedrock Runtime and STS: Converse, ConverseStream, InvokeModel
and AssumeRole over the real wire protocols, with per-account quotas enforced
as Bedrock does. GET /_sim/stats serves its statistics (its metrics).`

// parseFlags parses the flags defined on flag.CommandLine, with --help and
// --version.
func parseFlags() {
	cli.Command{Name: "bedrocksim", Usage: usage, Flags: flag.CommandLine}.Parse(os.Args[1:])
}
