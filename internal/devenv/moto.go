package devenv

import (
	"context"
	"fmt"
	"os/exec"
)

// Moto is a moto_server process serving the real SQS (and STS, IAM) wire
// protocols.
//
// moto is slow (about 75 SQS round trips a second on the development machine)
// but the most faithful: besides SQS it enforces IAM policies when asked to,
// which fauxqs does not. Use it where that fidelity is needed; fauxqs
// (StartFauxqs) is the default SQS server.
type Moto struct{ *child }

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
	c, err := startChild(ctx, "moto_server", exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port)), port, "SLUICE_MOTO_LOG")
	if err != nil {
		return nil, err
	}
	return &Moto{c}, nil
}
