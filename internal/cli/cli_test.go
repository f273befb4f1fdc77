package cli

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/sluice-broker/sluice/internal/config"
)

func TestHelpListsFlagsAndEnv(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("addr", "127.0.0.1:8080", "where it listens")
	var b bytes.Buffer
	Command{Name: "x", Usage: "usage: x", Env: config.EnvVarsFor("worker"), Flags: fs}.PrintHelp(&b)
	for _, want := range []string{"usage: x", "-addr", "where it listens", "DATABASE_URL", "SLUICE_METRICS_ADDR"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "SLUICE_LISTEN_ADDR") {
		t.Errorf("the worker's help lists the api's SLUICE_LISTEN_ADDR")
	}
}

func TestVersionUsesRevision(t *testing.T) {
	old := Revision
	defer func() { Revision = old }()
	Revision = "abc1234"
	if v := Version("api"); !strings.HasPrefix(v, "api ") || !strings.Contains(v, "commit abc1234") || !strings.Contains(v, "go1.") {
		t.Fatalf("version %q", v)
	}
}
