package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/devenv"
)

// TestDevLeavesNothingBehind runs scripts/dev as a user would, signals its
// PID, and checks that every process the stack started is gone: SIGTERM (a
// clean stop) and SIGKILL (devstack dies at once, and its children must die
// with it).
func TestDevLeavesNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) { devStopsOn(t, sig) })
	}
}

// dev is scripts/dev running in a test.
type dev struct {
	cmd    *exec.Cmd
	exited chan error
	mu     sync.Mutex
	log    strings.Builder
	// addrs are the -addr, -metrics-addr and -sim-addr it was given.
	addrs map[string]string
}

// startDev runs scripts/dev with args and free ports and returns once it
// printed its whole banner ("sluice is up." …). Every temporary directory of the stack (binaries,
// Postgres' data) is made under tmp, so its processes can be found by their
// command lines.
func startDev(t *testing.T, tmp string, args ...string) *dev {
	t.Helper()
	// Postgres runs as its own user when we are root: it must reach its data.
	for _, d := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := &dev{exited: make(chan error, 1), addrs: map[string]string{}}
	for _, f := range []string{"-addr", "-metrics-addr", "-sim-addr"} {
		port, err := devenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		d.addrs[f] = fmt.Sprintf("127.0.0.1:%d", port)
		args = append(args, f, d.addrs[f])
	}
	d.cmd = exec.Command("../../scripts/dev", args...)
	d.cmd.Env = append(withoutEnv("DATABASE_URL", "SLUICE_SQS_ENDPOINT", "TMPDIR", "SLUICE_CONFIG"), "TMPDIR="+tmp)
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stderr = d.cmd.Stdout
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			// The banner's last line.
			if strings.HasPrefix(sc.Text(), "Ctrl-C (or SIGTERM") {
				close(up)
			}
		}
		io.Copy(io.Discard, out)
		d.exited <- d.cmd.Wait()
	}()
	select {
	case <-up:
	case err := <-d.exited:
		t.Fatalf("scripts/dev exited before it was up: %v\n%s", err, d.output())
	case <-time.After(4 * time.Minute):
		d.cmd.Process.Kill()
		t.Fatalf("scripts/dev not up after 4 minutes\n%s", d.output())
	}
	return d
}

// output is what the stack printed so far.
func (d *dev) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

func devStopsOn(t *testing.T, sig syscall.Signal) {
	tmp := t.TempDir()
	d := startDev(t, tmp)
	cmd, exited := d.cmd, d.exited

	// The script execs devstack, so its PID is devstack's.
	started := stackProcesses(cmd.Process.Pid, tmp)
	names := map[string]bool{}
	for _, p := range started {
		names[p.name] = true
	}
	for _, want := range []string{"postgres", "node", "bedrocksim", "worker", "api"} {
		if !names[want] {
			t.Fatalf("no %s among the stack's processes %v", want, started)
		}
	}

	if err := syscall.Kill(cmd.Process.Pid, sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if sig == syscall.SIGTERM && err != nil {
			t.Errorf("devstack after SIGTERM: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("devstack still running 90 s after %s\n%s", sig, d.output())
	}
	// After SIGKILL the children stop on their own (Pdeathsig): give them
	// the time a clean shutdown takes.
	deadline := time.Now().Add(45 * time.Second)
	for {
		var alive []proc
		for _, p := range started {
			if p.alive() {
				alive = append(alive, p)
			}
		}
		for _, p := range stackProcesses(-1, tmp) {
			alive = append(alive, p)
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range alive {
				syscall.Kill(p.pid, syscall.SIGKILL)
			}
			t.Fatalf("left behind after %s: %v\n%s", sig, alive, d.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type proc struct {
	pid   int
	start string // start time in clock ticks: tells a reused PID apart
	name  string
}

func (p proc) String() string { return fmt.Sprintf("%s[%d]", p.name, p.pid) }

func (p proc) alive() bool {
	q, ok := readProc(p.pid)
	return ok && q.start == p.start
}

// readProc reads a process's name, start time and parent; zombies count as
// gone.
func readProc(pid int) (p proc, ok bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, false
	}
	s := string(raw)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	fields := strings.Fields(s[end+2:]) // state, ppid, …; starttime is field 22 overall
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return p, false
	}
	return proc{pid: pid, name: s[open+1 : end], start: fields[19]}, true
}

// stackProcesses lists the live descendants of root (none if root < 0) and
// every process whose command line mentions dir.
func stackProcesses(root int, dir string) []proc {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	var all []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		p, ok := readProc(pid)
		if !ok {
			continue
		}
		if raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			s := string(raw)
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
			parent[pid], _ = strconv.Atoi(f[1])
		}
		all = append(all, p)
	}
	var out []proc
	for _, p := range all {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
		mine := strings.Contains(string(cmdline), dir)
		for q := parent[p.pid]; !mine && q > 1 && root > 0; q = parent[q] {
			mine = q == root
		}
		if mine {
			out = append(out, p)
		}
	}
	return out
}

func withoutEnv(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop {
			env = append(env, kv)
		}
	}
	return env
}
