package budget

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Shared is a bucket kept in Postgres. Every operation locks the row for one
// short transaction and reads the database's clock, so replicas agree on time.
type Shared struct {
	pool    *pgxpool.Pool
	account string
	model   string
	limits  Limits
}

// NewShared opens the bucket of (account, model), creating it full.
func NewShared(ctx context.Context, pool *pgxpool.Pool, account, model string, l Limits) (*Shared, error) {
	if l.TPM <= 0 || l.Window <= 0 {
		return nil, fmt.Errorf("budget %s/%s: tpm %g and window %s must be positive", account, model, l.TPM, l.Window)
	}
	_, err := pool.Exec(ctx, `
		INSERT INTO budgets (account, model, tokens, requests, at, day_start)
		VALUES ($1, $2, $3, $4, clock_timestamp(), clock_timestamp())
		ON CONFLICT (account, model) DO NOTHING`, account, model, l.capacity(1), l.requestCapacity(1))
	if err != nil {
		return nil, fmt.Errorf("create budget %s/%s: %w", account, model, err)
	}
	return &Shared{pool: pool, account: account, model: model, limits: l}, nil
}

// Limits are the bucket's quota.
func (b *Shared) Limits() Limits { return b.limits }

// Capacity is the most one call may reserve.
func (b *Shared) Capacity() float64 { return b.limits.capacity(1) }

func (b *Shared) update(ctx context.Context, f func(s *State, now time.Time)) (State, error) {
	return b.updateWith(ctx, func(_ pgx.Tx, s *State, now time.Time) error { f(s, now); return nil })
}

// updateWith locks the row for one transaction, reads the database's clock,
// lets f change the state (and do more in the same transaction), and writes
// the state back.
func (b *Shared) updateWith(ctx context.Context, f func(tx pgx.Tx, s *State, now time.Time) error) (State, error) {
	var s State
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		var now time.Time
		err := tx.QueryRow(ctx, `
			SELECT tokens, requests, at, day_start, day_used, factor, last_throttle, clock_timestamp()
			FROM budgets WHERE account = $1 AND model = $2 FOR UPDATE`, b.account, b.model).
			Scan(&s.Tokens, &s.Requests, &s.At, &s.DayStart, &s.DayUsed, &s.Factor, &s.LastThrottle, &now)
		if err != nil {
			return err
		}
		if err := f(tx, &s, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE budgets SET tokens = $3, requests = $4, at = $5, day_start = $6, day_used = $7, factor = $8, last_throttle = $9
			WHERE account = $1 AND model = $2`,
			b.account, b.model, s.Tokens, s.Requests, s.At, s.DayStart, s.DayUsed, s.Factor, s.LastThrottle)
		return err
	})
	if err != nil {
		return s, fmt.Errorf("budget %s/%s: %w", b.account, b.model, err)
	}
	return s, nil
}

// TryReserve takes tokens and requests if the bucket holds them now.
func (b *Shared) TryReserve(ctx context.Context, tokens float64, requests int) (bool, time.Duration, error) {
	var ok bool
	var wait time.Duration
	_, err := b.update(ctx, func(s *State, now time.Time) { ok, wait = s.TryReserve(b.limits, now, tokens, requests) })
	return ok, wait, err
}

// Reserve waits until the bucket holds tokens and requests, and takes them.
func (b *Shared) Reserve(ctx context.Context, tokens float64, requests int) error {
	if c := b.limits.capacity(1); tokens > c {
		return fmt.Errorf("budget %s/%s: a call reserving %.0f tokens can never fit a bucket of %.0f", b.account, b.model, tokens, c)
	}
	for {
		ok, wait, err := b.TryReserve(ctx, tokens, requests)
		if err != nil || ok {
			return err
		}
		// Other replicas draw from the same bucket, so the wait is a hint: look again.
		wait = min(max(wait, 5*time.Millisecond), time.Second)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Return gives back unused tokens and requests; negative tokens charge extra.
func (b *Shared) Return(ctx context.Context, tokens float64, requests int) error {
	_, err := b.update(ctx, func(s *State, now time.Time) { s.Return(b.limits, now, tokens, requests) })
	return err
}

// Throttled shrinks the bucket after Bedrock refused a call it admitted.
func (b *Shared) Throttled(ctx context.Context) error {
	_, err := b.update(ctx, func(s *State, now time.Time) { s.Throttled(b.limits, now) })
	return err
}

// Room says how many tokens the bucket holds now, and how long until it holds
// want. It takes nothing: a pool uses it to decide whether to receive work,
// and reserves only once it knows a message's exact cost.
func (b *Shared) Room(ctx context.Context, want float64) (float64, time.Duration, error) {
	var level float64
	var wait time.Duration
	_, err := b.update(ctx, func(s *State, now time.Time) {
		s.refill(b.limits, now)
		level = s.Tokens
		if level < want {
			wait = time.Duration((want - level) / (b.limits.perSecond(b.limits.TPM) * s.Factor) * float64(time.Second))
		}
	})
	return level, wait, err
}

// Snapshot reads the bucket's state brought forward to now.
func (b *Shared) Snapshot(ctx context.Context) (State, error) {
	return b.update(ctx, func(s *State, now time.Time) { s.refill(b.limits, now) })
}
