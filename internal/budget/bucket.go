// Package budget paces a worker pool to its account's Bedrock quota for one
// model, the way Bedrock itself counts: a reservation of input + max output
// tokens at call start, settled to input + output × burndown at the end.
//
// The state lives in one Postgres row per (account, model), so every replica
// that serves the budget draws from the same bucket: scaling a worker service
// out never multiplies its account's quota.
package budget

import (
	"math"
	"time"
)

// Limits are an account's quota for one model.
type Limits struct {
	TPM    float64       // tokens per window; > 0
	RPM    float64       // requests per window; 0 means unlimited
	TPD    float64       // tokens per day (1440 windows); 0 means unlimited
	Window time.Duration // a minute on AWS; shorter in tests
	// Slack is kept out of the bucket's capacity (not its refill rate). While
	// a reservation travels to Bedrock, Bedrock's own bucket may sit full and
	// waste refill that ours still counts; Slack covers that, so ours never
	// holds more than Bedrock's. See DefaultSlack.
	Slack float64
	// RequestSlack is the same for the RPM bucket: a request reserved here
	// reaches Bedrock a moment later, and Bedrock's request bucket may sit
	// full meanwhile. Without it, a call whose predecessor travelled slower
	// than it finds Bedrock's bucket a fraction of a request short.
	RequestSlack float64
}

// NewLimits are the limits of a quota as the worker's pools use them, with
// DefaultSlack kept out of both buckets. The request bucket always keeps room
// for one whole request, or an RPM of 1 could never be spent.
func NewLimits(tpm, rpm, tpd float64, window time.Duration) Limits {
	return Limits{TPM: tpm, RPM: rpm, TPD: tpd, Window: window,
		Slack: DefaultSlack(tpm, window), RequestSlack: max(0, min(DefaultSlack(rpm, window), rpm-1))}
}

// DefaultSlack covers a quarter second of refill in flight, at most 5% of the
// burst. On a real one-minute window that is 0.4% of TPM, and it costs no
// throughput: only the size of a burst from idle.
func DefaultSlack(tpm float64, window time.Duration) float64 {
	return tpm * min(0.05, (250*time.Millisecond).Seconds()/window.Seconds())
}

// capacity is the most the token bucket holds now.
func (l Limits) capacity(factor float64) float64 { return l.TPM*factor - l.Slack }

// requestCapacity is the most the request bucket holds now.
func (l Limits) requestCapacity(factor float64) float64 { return l.RPM*factor - l.RequestSlack }

// Backpressure tuning: a throttle that arrives anyway means someone else is
// spending the account's quota, so the pool takes less (multiplicative
// decrease) and earns it back slowly (additive increase), like TCP.
const (
	shrink          = 0.7
	minFactor       = 0.1
	recoverPerWindw = 0.1
	// A burst of throttles from calls that were in flight together is one signal.
	throttleQuietWindows = 0.1
	daysWindows          = 1440
)

// State is a bucket's level at a moment. Tokens may go negative when calls
// used more than they reserved; the bucket then refills from below zero.
type State struct {
	Tokens       float64
	Requests     float64
	At           time.Time
	DayStart     time.Time
	DayUsed      float64
	Factor       float64
	LastThrottle time.Time
}

// Full is the state of a bucket nobody has drawn from.
func Full(l Limits, now time.Time) State {
	return State{Tokens: l.capacity(1), Requests: l.requestCapacity(1), At: now, DayStart: now, Factor: 1}
}

func (l Limits) perSecond(perWindow float64) float64 { return perWindow / l.Window.Seconds() }

// refill brings the state forward to now.
func (s *State) refill(l Limits, now time.Time) {
	dt := now.Sub(s.At).Seconds()
	if dt < 0 {
		// Another replica's clock reading was later; never refill backwards.
		dt = 0
	}
	s.Factor = math.Min(1, s.Factor+recoverPerWindw*dt/l.Window.Seconds())
	s.Tokens = math.Min(l.capacity(s.Factor), s.Tokens+dt*l.perSecond(l.TPM)*s.Factor)
	if l.RPM > 0 {
		s.Requests = math.Min(l.requestCapacity(s.Factor), s.Requests+dt*l.perSecond(l.RPM)*s.Factor)
	}
	if day := daysWindows * l.Window; now.Sub(s.DayStart) >= day {
		s.DayStart = s.DayStart.Add(now.Sub(s.DayStart).Truncate(day))
		s.DayUsed = 0
	}
	if dt > 0 {
		s.At = now
	}
}

// TryReserve takes tokens and requests if the bucket holds them. Otherwise it
// takes nothing and says how long until it could.
func (s *State) TryReserve(l Limits, now time.Time, tokens float64, requests int) (ok bool, wait time.Duration) {
	s.refill(l, now)
	var waitSec float64
	if tokens > s.Tokens {
		waitSec = (tokens - s.Tokens) / (l.perSecond(l.TPM) * s.Factor)
	}
	if l.RPM > 0 && float64(requests) > s.Requests {
		waitSec = math.Max(waitSec, (float64(requests)-s.Requests)/(l.perSecond(l.RPM)*s.Factor))
	}
	if l.TPD > 0 && s.DayUsed+tokens > l.TPD {
		waitSec = math.Max(waitSec, s.DayStart.Add(daysWindows*l.Window).Sub(now).Seconds())
	}
	if waitSec > 0 {
		return false, time.Duration(waitSec * float64(time.Second))
	}
	s.Tokens -= tokens
	s.Requests -= float64(requests)
	s.DayUsed += tokens
	return true, 0
}

// Return gives back tokens (and requests) a reservation did not use. A
// negative amount charges what a call used beyond its reservation.
func (s *State) Return(l Limits, now time.Time, tokens float64, requests int) {
	s.refill(l, now)
	s.Tokens = math.Min(l.capacity(s.Factor), s.Tokens+tokens)
	if l.RPM > 0 {
		s.Requests = math.Min(l.requestCapacity(s.Factor), s.Requests+float64(requests))
	}
	s.DayUsed = math.Max(0, s.DayUsed-tokens)
}

// Throttled records that Bedrock refused a call this bucket admitted.
func (s *State) Throttled(l Limits, now time.Time) {
	s.refill(l, now)
	if now.Sub(s.LastThrottle) < time.Duration(throttleQuietWindows*float64(l.Window)) {
		return
	}
	s.LastThrottle = now
	s.Factor = math.Max(minFactor, s.Factor*shrink)
	s.Tokens = math.Min(s.Tokens, 0)
	s.Requests = math.Min(s.Requests, 0)
}
