// Package pools holds what the worker pools tell the rest of sluice about
// themselves: whether each (account, alias) can serve now and why not
// (written by the pools, read by the api to answer at once when no account
// can serve a model, and by GET /v1/accounts), with their recent use.
package pools

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Health is one pool's state as it last published it.
type Health struct {
	Account string `db:"account"`
	Model   string `db:"model"`
	Healthy bool   `db:"healthy"`
	// LastError is the last account fault, with its AWS error code.
	LastError     *string    `db:"last_error"`
	LastErrorCode *string    `db:"last_error_code"`
	LastErrorAt   *time.Time `db:"last_error_at"`
	ChangedAt     time.Time  `db:"changed_at"`
	// SeenAt is when a replica of the pool last published: a row not seen
	// for a while has no running pool behind it.
	SeenAt time.Time `db:"seen_at"`
}

// Fresh reports whether a running pool stands behind the row.
func (h Health) Fresh(now time.Time) bool { return now.Sub(h.SeenAt) < StaleAfter }

// StaleAfter is how long a row stays meaningful without a publish (pools
// publish every 2 s).
const StaleAfter = 30 * time.Second

// Store reads and writes the pools' shared state.
type Store struct{ DB *pgxpool.Pool }

// Publish writes one pool's health.
func (s Store) Publish(ctx context.Context, h Health) error {
	_, err := s.DB.Exec(ctx, `
		INSERT INTO pool_health (account, model, healthy, last_error, last_error_code, last_error_at, changed_at, seen_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now())
		ON CONFLICT (account, model) DO UPDATE SET healthy = $3, last_error = $4, last_error_code = $5,
			last_error_at = $6, changed_at = $7, seen_at = now()`,
		h.Account, h.Model, h.Healthy, h.LastError, h.LastErrorCode, h.LastErrorAt, h.ChangedAt)
	if err != nil {
		return fmt.Errorf("publish health of pool %s/%s: %w", h.Account, h.Model, err)
	}
	return nil
}

// All reads every pool's health.
func (s Store) All(ctx context.Context) ([]Health, error) {
	rows, err := s.DB.Query(ctx, `SELECT account, model, healthy, last_error, last_error_code, last_error_at, changed_at, seen_at
		FROM pool_health ORDER BY model, account`)
	if err != nil {
		return nil, fmt.Errorf("read pool health: %w", err)
	}
	hs, err := pgx.CollectRows(rows, pgx.RowToStructByName[Health])
	if err != nil {
		return nil, fmt.Errorf("read pool health: %w", err)
	}
	return hs, nil
}

// Usage is what one pool's calls did recently.
type Usage struct {
	Account, Model string
	// InFlight counts its jobs running now.
	InFlight int
	// Windows are the tokens charged by calls that ended in each of the last
	// quota windows, oldest first; the last is the window under way.
	Windows []float64
}

// RecentUsage reads, per (account, model), the jobs running now and the
// tokens charged in each of the last n windows.
func (s Store) RecentUsage(ctx context.Context, window time.Duration, n int) (map[[2]string]*Usage, error) {
	out := map[[2]string]*Usage{}
	get := func(acct, model string) *Usage {
		k := [2]string{acct, model}
		if out[k] == nil {
			out[k] = &Usage{Account: acct, Model: model, Windows: make([]float64, n)}
		}
		return out[k]
	}
	rows, err := s.DB.Query(ctx, `SELECT account, model, count(*) FROM jobs WHERE state = 'running' AND account IS NOT NULL GROUP BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("count running jobs: %w", err)
	}
	for rows.Next() {
		var acct, model string
		var c int
		if err := rows.Scan(&acct, &model, &c); err != nil {
			rows.Close()
			return nil, err
		}
		get(acct, model).InFlight = c
	}
	rows.Close()
	secs := window.Seconds()
	rows, err = s.DB.Query(ctx, `
		SELECT account, model, floor(extract(epoch FROM now() - finished_at) / $1)::int AS ago, sum(charged)
		FROM jobs WHERE finished_at > now() - make_interval(secs => $1 * $2) AND account IS NOT NULL AND charged IS NOT NULL
		GROUP BY 1, 2, 3`, secs, n)
	if err != nil {
		return nil, fmt.Errorf("sum recent usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var acct, model string
		var ago int
		var sum float64
		if err := rows.Scan(&acct, &model, &ago, &sum); err != nil {
			return nil, err
		}
		if ago >= 0 && ago < n {
			get(acct, model).Windows[n-1-ago] = sum
		}
	}
	return out, rows.Err()
}

// Unavailable lists the aliases no running pool can serve now: some pool of
// the alias published lately, and every one that did is down. An alias no
// pool published about is not in it (nothing is known).
func Unavailable(hs []Health, now time.Time) map[string]bool {
	healthy, down := map[string]bool{}, map[string]bool{}
	for _, h := range hs {
		if !h.Fresh(now) {
			continue
		}
		if h.Healthy {
			healthy[h.Model] = true
		} else {
			down[h.Model] = true
		}
	}
	for alias := range healthy {
		delete(down, alias)
	}
	return down
}
