package budget

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lease is one pool replica's slice of a Shared bucket (Google's Doorman is
// the model). The replica takes a slice of tokens and requests from the row
// every Period, or sooner when reservations wait, reserves and settles
// against the slice in memory, and gives back what it does not need with its
// next renewal. So the row is written a few times a second per replica,
// whatever the job rate, instead of three times a job.
//
// The slices count against the bucket: the row refills only into the room
// the live slices leave, so the row and the slices together never hold more
// than Bedrock's bucket, exactly as the row alone did. A replica that stops
// renewing loses its slice after Expiry: those tokens were never spent, so
// Bedrock still has them, and the row may refill into their room again.
type Lease struct {
	shared *Shared
	holder string
	log    *slog.Logger
	// Period is how often the slice is renewed; Expiry how long a slice
	// stands without renewal.
	Period, Expiry time.Duration

	mu sync.Mutex
	// tokens and requests are the slice in hand; negative after settlements
	// that cost more than was reserved.
	tokens, requests float64
	// waiting is what reservations wait for, in all.
	waiting float64
	// returned is what settlements gave back (negative: charged beyond
	// their reservations) since the last renewal. It goes to the row, not
	// the slice, so that it is capped as Bedrock caps it: a return into a
	// full bucket is lost.
	returned, returnedReq float64
	// level is what the row held after the last renewal (for Room), renewed
	// when the slice was last confirmed in the row.
	level   float64
	renewed time.Time

	renewMu sync.Mutex // one renewal at a time
}

// NewLease makes holder's lease on b. holder must be unique to the replica.
func NewLease(b *Shared, holder string, log *slog.Logger) *Lease {
	return &Lease{shared: b, holder: holder, log: log, Period: 200 * time.Millisecond, Expiry: 2 * time.Second}
}

// Limits are the bucket's quota.
func (l *Lease) Limits() Limits { return l.shared.Limits() }

// Capacity is the most one call may reserve.
func (l *Lease) Capacity() float64 { return l.shared.Capacity() }

// Run renews the slice every Period until ctx ends, then gives it back.
func (l *Lease) Run(ctx context.Context) error {
	t := time.NewTicker(l.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return l.release(rctx)
		case <-t.C:
			if err := l.renewOlder(ctx, 0); err != nil && ctx.Err() == nil {
				l.log.WarnContext(ctx, "renew budget lease", "err", err)
			}
		}
	}
}

// usable reports whether the slice may be spent: it is known to stand in the
// row (a replica paused past Expiry has lost it). l.mu is held.
func (l *Lease) usable() bool { return time.Since(l.renewed) < l.Expiry/2 }

// Room says how many tokens the slice and the row held at the last renewal,
// and how long until they hold want. It takes nothing.
func (l *Lease) Room(ctx context.Context, want float64) (float64, time.Duration, error) {
	if err := l.renewOlder(ctx, l.Period); err != nil {
		return 0, 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	level := max(l.tokens, 0) + l.level
	var wait time.Duration
	if level < want {
		lim := l.shared.limits
		wait = time.Duration((want - level) / lim.perSecond(lim.TPM) * float64(time.Second))
	}
	return level, wait, nil
}

// Reserve waits until the slice holds tokens and requests, and takes them.
func (l *Lease) Reserve(ctx context.Context, tokens float64, requests int) error {
	if c := l.shared.Capacity(); tokens > c {
		return fmt.Errorf("budget %s/%s: a call reserving %.0f tokens can never fit a bucket of %.0f", l.shared.account, l.shared.model, tokens, c)
	}
	take := func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.usable() && l.tokens >= tokens && (l.shared.limits.RPM <= 0 || l.requests >= float64(requests)) {
			l.tokens -= tokens
			l.requests -= float64(requests)
			return true
		}
		return false
	}
	if take() {
		return nil
	}
	l.mu.Lock()
	l.waiting += tokens
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.waiting = max(0, l.waiting-tokens)
		l.mu.Unlock()
	}()
	for {
		// Renew at once if the last renewal is not fresh; otherwise the next
		// one (Run's, or another waiter's) brings what the waiters need.
		if err := l.renewOlder(ctx, l.Period/2); err != nil {
			return err
		}
		if take() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(l.Period / 4):
		}
	}
}

// Return gives back what a reservation did not use; a negative amount
// charges what a call used beyond it. It reaches the row at the next renewal,
// where it is capped as Bedrock caps it (a full bucket takes nothing back).
func (l *Lease) Return(_ context.Context, tokens float64, requests int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.returned += tokens
	l.returnedReq += float64(requests)
	return nil
}

// Throttled shrinks the bucket after Bedrock refused a call it admitted; the
// slice goes with it: Bedrock had none of it.
func (l *Lease) Throttled(ctx context.Context) error {
	l.mu.Lock()
	// What the throttled call gave back goes too: Bedrock's bucket is empty.
	l.tokens, l.requests = min(l.tokens, 0), min(l.requests, 0)
	l.returned, l.returnedReq = min(l.returned, 0), min(l.returnedReq, 0)
	l.mu.Unlock()
	if err := l.shared.Throttled(ctx); err != nil {
		return err
	}
	return l.renewOlder(ctx, 0)
}

// Snapshot reads the shared bucket's state.
func (l *Lease) Snapshot(ctx context.Context) (State, error) { return l.shared.Snapshot(ctx) }

// renewOlder renews the slice unless it was renewed within age.
func (l *Lease) renewOlder(ctx context.Context, age time.Duration) error {
	l.renewMu.Lock()
	defer l.renewMu.Unlock()
	l.mu.Lock()
	recent := age > 0 && time.Since(l.renewed) < age
	l.mu.Unlock()
	if recent {
		return nil
	}
	return l.renew(ctx)
}

// renew settles the slice with the row in one transaction: it drops the
// slices of replicas that stopped renewing, refills the row into the room the
// live slices leave, and gives back what this replica holds beyond its
// target or takes what it lacks, as far as the row holds it. l.renewMu is held.
func (l *Lease) renew(ctx context.Context) error {
	b := l.shared
	lim := b.limits
	l.mu.Lock()
	hand, handReq, waiting := l.tokens, l.requests, l.waiting
	returned, returnedReq := l.returned, l.returnedReq
	l.mu.Unlock()
	var dropped, droppedReq, give, giveReq float64
	s, err := b.updateWith(ctx, func(tx pgx.Tx, s *State, now time.Time) error {
		// Slices not renewed within Expiry are gone; this replica's own, if
		// it lapsed (the process was paused), goes too.
		var others, othersReq float64
		var kept bool
		err := tx.QueryRow(ctx, `
			WITH gone AS (DELETE FROM budget_leases WHERE account = $1 AND model = $2 AND expires_at < $4 RETURNING holder)
			SELECT coalesce(sum(tokens) FILTER (WHERE holder <> $3), 0), coalesce(sum(requests) FILTER (WHERE holder <> $3), 0),
			       count(*) FILTER (WHERE holder = $3) > 0
			FROM budget_leases WHERE account = $1 AND model = $2 AND expires_at >= $4`, b.account, b.model, l.holder, now).
			Scan(&others, &othersReq, &kept)
		if err != nil {
			return err
		}
		if !kept {
			dropped, droppedReq = max(hand, 0), max(handReq, 0)
			hand, handReq = hand-dropped, handReq-droppedReq
		}
		// The row refills, and takes the settlements' returns, only into the
		// room the live slices leave.
		s.Return(lim, now, returned, int(math.Round(returnedReq)))
		s.Tokens = min(s.Tokens, lim.capacity(s.Factor)-others-max(hand, 0))
		// Hold about two periods of refill, or what reservations wait for.
		target := max(waiting, 2*l.Period.Seconds()*lim.perSecond(lim.TPM)*s.Factor)
		give = hand - target // > 0: give back; < 0: take
		if give < 0 {
			avail := max(s.Tokens, 0)
			if lim.TPD > 0 {
				avail = min(avail, max(lim.TPD-s.DayUsed, 0))
			}
			give = -min(-give, avail)
		}
		s.Tokens += give
		s.DayUsed = max(0, s.DayUsed-give)
		if lim.RPM > 0 {
			s.Requests = min(s.Requests, lim.requestCapacity(s.Factor)-othersReq-max(handReq, 0))
			targetReq := max(1, 2*l.Period.Seconds()*lim.perSecond(lim.RPM)*s.Factor)
			giveReq = handReq - targetReq
			if giveReq < 0 {
				giveReq = -min(-giveReq, max(s.Requests, 0))
			}
			s.Requests += giveReq
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO budget_leases (account, model, holder, tokens, requests, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (account, model, holder) DO UPDATE SET tokens = $4, requests = $5, expires_at = $6`,
			b.account, b.model, l.holder, hand-give, handReq-giveReq, now.Add(l.Expiry))
		return err
	})
	if err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// What was reserved or returned while the transaction ran stays: the
	// slice moves only by what was dropped, given or taken.
	l.tokens -= dropped + give
	l.requests -= droppedReq + giveReq
	l.returned -= returned
	l.returnedReq -= returnedReq
	l.level = max(s.Tokens, 0)
	l.renewed = time.Now()
	return nil
}

// release gives the whole slice back to the row, at a stop.
func (l *Lease) release(ctx context.Context) error {
	l.renewMu.Lock()
	defer l.renewMu.Unlock()
	b := l.shared
	l.mu.Lock()
	hand, handReq, returned, returnedReq := l.tokens, l.requests, l.returned, l.returnedReq
	l.tokens, l.requests, l.returned, l.returnedReq = 0, 0, 0, 0
	l.mu.Unlock()
	_, err := b.updateWith(ctx, func(tx pgx.Tx, s *State, now time.Time) error {
		tag, err := tx.Exec(ctx, `DELETE FROM budget_leases WHERE account = $1 AND model = $2 AND holder = $3 AND expires_at >= $4`,
			b.account, b.model, l.holder, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 { // a lapsed slice is gone already; returns are not
			hand, handReq = 0, 0
		}
		s.Return(b.limits, now, hand+returned, int(math.Round(handReq+returnedReq)))
		return nil
	})
	if err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}
