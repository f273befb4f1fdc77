package devenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Moto is a moto_server process serving the real SQS (and STS) wire protocols.
//
// moto is slow (about 100 messages a second) but faithful: typed errors, receive
// counts, redrive to dead-letter queues and visibility all behave as on AWS, so
// behaviour tests run on it. kumo, the faster in-process alternative, cannot be
// fetched from the module proxy here.
type Moto struct {
	cmd  *exec.Cmd
	port int
	done chan struct{}
}

// Endpoint is the base URL to give the SDK client as BaseEndpoint.
func (m *Moto) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", m.port) }

// StartMoto runs moto_server on a free loopback port.
func StartMoto(ctx context.Context) (*Moto, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("moto_server not found on PATH (pip install 'moto[server]') or set SLUICE_SQS_ENDPOINT: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	return startMotoOn(ctx, bin, port)
}

// Restart stops the server and starts a new one on the same port: every
// queue is gone, as after a restart of a real SQS endpoint's backing store.
func (m *Moto) Restart(ctx context.Context) (*Moto, error) {
	m.Stop()
	return startMotoOn(ctx, m.cmd.Path, m.port)
}

func startMotoOn(ctx context.Context, bin string, port int) (*Moto, error) {
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Getenv("SLUICE_MOTO_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	m := &Moto{cmd: cmd, port: port, done: make(chan struct{})}
	go func() { cmd.Wait(); close(m.done) }()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := WaitTCP(wctx, fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		m.Stop()
		return nil, fmt.Errorf("moto_server did not start: %w", err)
	}
	return m, nil
}

// Stop ends the server.
func (m *Moto) Stop() error {
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
	return nil
}
