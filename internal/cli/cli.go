// Package cli gives sluice's commands the same manners: --help prints the
// usage, every flag and every environment variable and starts nothing;
// --version prints the build's version.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/sluice-broker/sluice/internal/config"
)

// Command describes a command for its --help.
type Command struct {
	// Name is the command's name ("api").
	Name string
	// Usage is the synopsis and a short description, without the flags.
	Usage string
	// Env lists the environment variables it reads.
	Env []config.EnvVar
	// Flags are its flags; Parse adds -version.
	Flags *flag.FlagSet
	// NoArgs refuses arguments after the flags.
	NoArgs bool
}

// Parse parses args into c.Flags. On --help it prints the help to stdout and
// exits 0, on --version the version; a bad flag prints the error and the help
// to stderr and exits 2. So nothing starts unless the arguments are good.
func (c Command) Parse(args []string) {
	if c.Flags == nil {
		c.Flags = flag.NewFlagSet(c.Name, flag.ContinueOnError)
	}
	fs := c.Flags
	fs.Init(c.Name, flag.ContinueOnError)
	version := fs.Bool("version", false, "print the version and exit")
	fs.SetOutput(io.Discard) // errors and help are printed below, once
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.PrintHelp(os.Stdout)
		os.Exit(0)
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n\n", c.Name, err)
		c.PrintHelp(os.Stderr)
		os.Exit(2)
	case *version:
		fmt.Println(Version(c.Name))
		os.Exit(0)
	case c.NoArgs && fs.NArg() > 0:
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q\n\n", c.Name, fs.Arg(0))
		c.PrintHelp(os.Stderr)
		os.Exit(2)
	}
}

// PrintHelp writes the usage, the flags and the environment variables.
func (c Command) PrintHelp(w io.Writer) {
	fmt.Fprintln(w, strings.TrimRight(c.Usage, "\n"))
	if c.Flags != nil {
		fmt.Fprintln(w, "\nFlags:")
		c.Flags.SetOutput(w)
		c.Flags.PrintDefaults()
		c.Flags.SetOutput(io.Discard)
	}
	if len(c.Env) > 0 {
		fmt.Fprintln(w, "\nEnvironment:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, v := range c.Env {
			def := v.Default
			if def == "" {
				def = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Help)
		}
		tw.Flush()
	}
}

// Revision is the commit, for builds without VCS stamps (GOFLAGS=-buildvcs=false,
// a git worktree): go build -ldflags=-X=github.com/sluice-broker/sluice/internal/cli.Revision=REV.
var Revision string

// Version is "NAME VERSION (commit REV[, modified], BUILT) GO": the module
// version and the VCS stamp that go build records.
func Version(name string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return name + " (no build information)"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	v := name + " " + bi.Main.Version
	if settings["vcs.revision"] == "" {
		settings["vcs.revision"] = Revision
	}
	if rev := settings["vcs.revision"]; rev != "" {
		v += " (commit " + rev
		if settings["vcs.modified"] == "true" {
			v += ", modified"
		}
		if t := settings["vcs.time"]; t != "" {
			v += ", " + t
		}
		v += ")"
	}
	return v + " " + bi.GoVersion
}
