package webhook

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Schedule spaces the attempts of one delivery round: exponential backoff
// with jitter, until MaxAge after the round began, when the event fails.
type Schedule struct {
	Initial     time.Duration
	Multiplier  float64
	MaxInterval time.Duration
	Jitter      float64 // each delay is ±Jitter of its nominal value
	MaxAge      time.Duration
}

// DefaultSchedule retries for a day: about 30 s, 1.5 min, 4.5 min, 13.5 min,
// 40 min, 2 h, then every 4 h, about eleven attempts in all. A receiver down
// for a deploy, a night or a holiday outage still gets its events.
var DefaultSchedule = Schedule{Initial: 30 * time.Second, Multiplier: 3, MaxInterval: 4 * time.Hour, Jitter: 0.3, MaxAge: 24 * time.Hour}

// Delay is the wait after the n-th failed attempt of a round (n ≥ 1).
func (s Schedule) Delay(n int) time.Duration {
	b := &backoff.ExponentialBackOff{InitialInterval: s.Initial, RandomizationFactor: s.Jitter, Multiplier: s.Multiplier, MaxInterval: s.MaxInterval}
	b.Reset()
	d := b.NextBackOff()
	for i := 1; i < n; i++ {
		d = b.NextBackOff()
	}
	return d
}

// Next is when the round that began at started should try again after its
// n-th failed attempt at now; ok is false when the round is over.
func (s Schedule) Next(started, now time.Time, n int) (at time.Time, ok bool) {
	at = now.Add(s.Delay(n))
	return at, at.Before(started.Add(s.MaxAge))
}
