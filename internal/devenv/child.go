package devenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// child is a server process this process started and owns: in its own
// process group (so a terminal's Ctrl-C reaches only the parent, which stops
// it in order) and with Pdeathsig (so it goes too if the parent is killed).
type child struct {
	name string
	cmd  *exec.Cmd
	port int
	done chan struct{}
}

// startChild runs cmd, which must serve on 127.0.0.1:port, and waits until the
// port accepts connections. logEnv names a variable that, when set, shows the
// server's output on stderr.
func startChild(ctx context.Context, name string, cmd *exec.Cmd, port int, logEnv string) (*child, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if os.Getenv(logEnv) != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, port: port, done: make(chan struct{})}
	go func() { cmd.Wait(); close(c.done) }()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel() // it died: stop waiting for its port
		case <-wctx.Done():
		}
	}()
	if err := WaitTCP(wctx, c.addr()); err != nil {
		c.Stop()
		return nil, fmt.Errorf("%s did not start (set %s=1 to see its output): %w", name, logEnv, err)
	}
	return c, nil
}

func (c *child) addr() string { return fmt.Sprintf("127.0.0.1:%d", c.port) }

// Endpoint is the base URL to give the SDK client as BaseEndpoint.
func (c *child) Endpoint() string { return "http://" + c.addr() }

// PID is the server's process id.
func (c *child) PID() int { return c.cmd.Process.Pid }

// Stop ends the server and everything in its process group.
func (c *child) Stop() error {
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
	return nil
}
