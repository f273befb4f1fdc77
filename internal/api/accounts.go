package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/pools"
)

// recentWindows is how many quota windows of use GET /v1/accounts shows.
const recentWindows = 5

// Pool is one (account, alias) pool as GET /v1/accounts shows it.
type Pool struct {
	Object  string `json:"object"` // "pool"
	Account string `json:"account"`
	Model   string `json:"model"`
	// Status is "healthy", "down" (an account fault: see LastError) or
	// "unknown" (no worker runs the pool, or none published lately).
	Status        string  `json:"status"`
	LastError     *string `json:"last_error"`
	LastErrorCode *string `json:"last_error_code"`
	LastErrorAt   *int64  `json:"last_error_at"`
	ChangedAt     *int64  `json:"changed_at"`
	// TPM and RPM are the configured quota per window; WindowSeconds the
	// window's length.
	TPM           int     `json:"tpm"`
	RPM           int     `json:"rpm"`
	WindowSeconds float64 `json:"window_seconds"`
	// Utilization is the share of TPM charged in each of the last windows,
	// oldest first; the last is the window under way.
	Utilization []float64 `json:"utilization"`
	InFlight    int       `json:"in_flight"`
}

// listAccounts is GET /v1/accounts: every pool's health, recent use and calls
// in flight. Master key only: it names accounts and their errors.
func (s *Server) listAccounts(c echo.Context) error {
	if tenant(c) != "master" {
		return openai.NotFound("Unknown request URL: GET /v1/accounts.")
	}
	list, err := s.poolList(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, openai.List[Pool]{Object: "list", Data: list})
}

// poolList reads every configured pool's health, recent use and calls in
// flight, accounts in configured order, then aliases.
func (s *Server) poolList(ctx context.Context) ([]Pool, error) {
	st := pools.Store{DB: s.Store.Pool()}
	health, err := st.All(ctx)
	if err != nil {
		return nil, err
	}
	window := s.Config.Env.Window
	if window <= 0 {
		window = time.Minute
	}
	usage, err := st.RecentUsage(ctx, window, recentWindows)
	if err != nil {
		return nil, err
	}
	byPool := map[[2]string]pools.Health{}
	for _, h := range health {
		byPool[[2]string{h.Account, h.Model}] = h
	}
	now := time.Now()
	list := []Pool{}
	for _, acct := range s.Config.Accounts {
		for _, alias := range s.Config.Aliases() {
			q, ok := acct.Models[alias]
			if !ok {
				continue
			}
			p := Pool{Object: "pool", Account: acct.Name, Model: alias, Status: "unknown", TPM: q.TPM, RPM: q.RPM,
				WindowSeconds: window.Seconds(), Utilization: make([]float64, recentWindows)}
			if h, ok := byPool[[2]string{acct.Name, alias}]; ok {
				if h.Fresh(now) {
					p.Status = map[bool]string{true: "healthy", false: "down"}[h.Healthy]
				}
				p.LastError, p.LastErrorCode, p.LastErrorAt = h.LastError, h.LastErrorCode, unixPtr(h.LastErrorAt)
				p.ChangedAt = unixPtr(&h.ChangedAt)
			}
			if u, ok := usage[[2]string{acct.Name, alias}]; ok {
				p.InFlight = u.InFlight
				for i, used := range u.Windows {
					if q.TPM > 0 {
						p.Utilization[i] = used / float64(q.TPM)
					}
				}
			}
			list = append(list, p)
		}
	}
	return list, nil
}

// unixPtr is a time as Unix seconds; nil for none.
func unixPtr(t *time.Time) *int64 {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.Unix()
	return &v
}
