package budget

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/config"
)

// Level is one bucket as an operator sees it, brought forward to now.
type Level struct {
	Account, Model string
	// Tokens is what the bucket holds; Capacity what it holds when full at
	// the current factor.
	Tokens, Capacity float64
	// Factor is the backpressure factor: the share of the quota in use after
	// throttles (1 = all).
	Factor       float64
	LastThrottle time.Time
}

// Levels reads every bucket without taking its lock, for display: limits
// gives each (account, model)'s quota, and buckets it does not know are
// left out. The state is refilled to the database's clock as a reservation
// would see it, and nothing is written.
func Levels(ctx context.Context, pool *pgxpool.Pool, limits func(account, model string) (Limits, bool)) ([]Level, error) {
	rows, err := pool.Query(ctx, `
		SELECT account, model, tokens, requests, at, day_start, day_used, factor, last_throttle, clock_timestamp()
		FROM budgets ORDER BY account, model`)
	if err != nil {
		return nil, fmt.Errorf("read budgets: %w", err)
	}
	defer rows.Close()
	var out []Level
	for rows.Next() {
		var acct, model string
		var s State
		var now time.Time
		if err := rows.Scan(&acct, &model, &s.Tokens, &s.Requests, &s.At, &s.DayStart, &s.DayUsed, &s.Factor, &s.LastThrottle, &now); err != nil {
			return nil, fmt.Errorf("read budgets: %w", err)
		}
		l, ok := limits(acct, model)
		if !ok || l.TPM <= 0 || l.Window <= 0 {
			continue
		}
		s.refill(l, now)
		out = append(out, Level{Account: acct, Model: model, Tokens: s.Tokens, Capacity: l.capacity(s.Factor), Factor: s.Factor, LastThrottle: s.LastThrottle})
	}
	return out, rows.Err()
}

// ForConfig gives each (account, model) of cfg its limits, as the worker's
// pools build them (NewLimits), for readers of the buckets.
func ForConfig(cfg *config.Config) func(account, model string) (Limits, bool) {
	return func(account, model string) (Limits, bool) {
		for _, a := range cfg.Accounts {
			if a.Name != account {
				continue
			}
			q, ok := a.Models[model]
			if !ok {
				return Limits{}, false
			}
			window := cfg.Env.Window
			if window <= 0 {
				window = time.Minute
			}
			return NewLimits(float64(q.TPM), float64(q.RPM), float64(q.TPD), window), true
		}
		return Limits{}, false
	}
}
