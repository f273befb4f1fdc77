package devenv

import (
	"context"
	"fmt"
)

// SQSServer is a local SQS-compatible server.
type SQSServer interface {
	Endpoint() string
	PID() int
	Stop() error
}

// SQS server kinds for StartSQS.
const (
	SQSFauxqs = "fauxqs"
	SQSMoto   = "moto"
)

// StartSQS starts a local SQS server of the given kind on a free port:
// "fauxqs" (or "", the default: fast) or "moto" (slow, but it enforces IAM).
func StartSQS(ctx context.Context, kind string) (SQSServer, error) {
	switch kind {
	case "", SQSFauxqs:
		return StartFauxqs(ctx)
	case SQSMoto:
		return StartMoto(ctx)
	}
	return nil, fmt.Errorf("unknown SQS server %q: use %q or %q", kind, SQSFauxqs, SQSMoto)
}
