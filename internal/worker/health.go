package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/pools"
)

// A fault has a scope (bedrock.Classify): the job's, a passing one, or the
// account's. An account fault never fails a job nor costs it an attempt: the
// job goes back to the alias's queue at once, for another account's pool,
// and this pool stops receiving until the account heals.

// health is one pool's view of its account. A pool that met an account fault
// is down: it receives nothing, and checks the account again with backoff
// (assuming its role anew). When the check passes it receives again, on
// trial; the first call that works makes it healthy.
type health struct {
	account, model string
	log            *slog.Logger
	maxBackoff     time.Duration

	// changes is signalled when the state changes, to publish it at once.
	changes chan struct{}

	mu      sync.Mutex
	down    bool
	code    string // the last account fault
	lastErr string
	errAt   time.Time
	changed time.Time
	retryAt time.Time
	backoff time.Duration
	// trial: the account passed a check, but no call has worked since; a
	// failure then doubles the backoff rather than starting it again.
	trial bool
}

// healthMinBackoff is the first wait before a down pool checks its account.
const healthMinBackoff = time.Second

func newHealth(account, model string, maxBackoff time.Duration, log *slog.Logger) *health {
	return &health{account: account, model: model, maxBackoff: maxBackoff, log: log, changed: time.Now(), changes: make(chan struct{}, 1)}
}

// flip marks a change of state; h.mu is held.
func (h *health) flip(down bool) {
	h.down, h.changed = down, time.Now()
	select {
	case h.changes <- struct{}{}:
	default:
	}
}

// fail records an account fault: the pool goes down (or stays down, checking
// less often).
func (h *health) fail(code string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.code, h.lastErr, h.errAt = code, err.Error(), time.Now()
	switch {
	case h.trial:
		h.trial = false
		h.backoff = min(2*h.backoff, h.maxBackoff)
		h.flip(true)
	case !h.down:
		h.backoff = healthMinBackoff
		h.flip(true)
		h.log.Warn("account cannot serve this model: pool down; its jobs go to other accounts", "code", code, "err", err)
	default:
		h.backoff = min(2*h.backoff, h.maxBackoff)
	}
	h.retryAt = time.Now().Add(h.backoff)
}

// ok records a call that worked: a pool on trial is healthy again.
func (h *health) ok() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down || h.trial {
		h.trial = false
		h.backoff = healthMinBackoff
		if h.down {
			h.flip(false)
		}
		h.log.Info("account serves this model again: pool up", "was", h.code)
	}
}

// wait is how long the pool must hold off receiving: zero when healthy or
// when a check is due.
func (h *health) wait() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down {
		return 0
	}
	return max(time.Until(h.retryAt), 0)
}

// checkDue reports whether a down pool should check its account now.
func (h *health) checkDue() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down && !time.Now().Before(h.retryAt)
}

// checked records the outcome of a check: on success the pool receives again
// (on trial, until a call works); on failure it waits longer.
func (h *health) checked(err error) {
	if err != nil {
		h.fail(bedrock.Classify(err).Code, err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log.Info("account check passed: pool receives again, on trial", "was", h.code)
	h.trial = true
	h.flip(false)
}

// row is what the pool publishes of itself.
func (h *health) row() pools.Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := pools.Health{Account: h.account, Model: h.model, Healthy: !h.down, ChangedAt: h.changed}
	if h.code != "" {
		code, msg, at := h.code, h.lastErr, h.errAt
		r.LastErrorCode, r.LastError, r.LastErrorAt = &code, &msg, &at
	}
	return r
}

// HealthPublisher keeps the pools' health where the api reads it
// (pools.Store).
type HealthPublisher interface {
	Publish(ctx context.Context, h pools.Health) error
}
