package bedrocksim

import (
	"math"
	"sync"
	"time"
)

// windowsPerDay is how many quota windows make the "day" of the TPD quota
// (1440 one-minute windows, compressed along with the window).
const windowsPerDay = 1440

// ledger keeps the quota buckets and the statistics of every (account,
// model) lane. One mutex guards it all: a simulator's throughput is bounded
// by its latency model, not by this lock.
type ledger struct {
	window time.Duration
	models map[string]ModelConfig
	quotas map[laneKey]QuotaConfig

	mu           sync.Mutex
	start        time.Time // start of window 0
	lanes        map[laneKey]*lane
	sts          STSStats
	authFailures int64
}

type laneKey struct{ Account, Model string }

// lane is one (account, model) budget: token buckets that mirror Bedrock's
// accounting, and counters.
type lane struct {
	quota    QuotaConfig
	burndown float64

	tokens      float64   // TPM bucket; may go negative after settlement
	requests    float64   // RPM bucket
	refilled    time.Time // when the buckets were last topped up
	day         int64     // index of the current TPD day
	dayTokens   int64     // tokens reserved or charged in that day
	outstanding int64     // tokens reserved by calls not yet settled

	totals        Totals
	tiers         map[string]int64 // admitted calls by service tier
	firstAdmitted time.Time
	lastAdmitted  time.Time
	windows       map[int64]*WindowStats
}

func newLedger(cfg Config, now time.Time) *ledger {
	quotas := make(map[laneKey]QuotaConfig)
	for _, a := range cfg.Accounts {
		for model, q := range a.Quotas {
			quotas[laneKey{a.ID, model}] = q
		}
	}
	return &ledger{
		window: cfg.Window,
		models: cfg.Models,
		quotas: quotas,
		start:  now,
		lanes:  make(map[laneKey]*lane),
	}
}

// lane returns the lane of k, creating it with full buckets. Callers hold mu.
func (ld *ledger) lane(k laneKey, now time.Time) *lane {
	ln, ok := ld.lanes[k]
	if !ok {
		q := ld.quotas[k]
		ln = &lane{
			quota:    q,
			burndown: ld.models[k.Model].Burndown,
			tokens:   float64(q.TPM),
			requests: float64(q.RPM),
			refilled: now,
			windows:  make(map[int64]*WindowStats),
		}
		ld.lanes[k] = ln
	}
	ln.refill(now, ld.window)
	return ln
}

// refill tops the buckets up continuously: a full quota per window.
func (ln *lane) refill(now time.Time, window time.Duration) {
	elapsed := now.Sub(ln.refilled)
	if elapsed <= 0 {
		return
	}
	frac := float64(elapsed) / float64(window)
	ln.tokens = math.Min(float64(ln.quota.TPM), ln.tokens+float64(ln.quota.TPM)*frac)
	ln.requests = math.Min(float64(ln.quota.RPM), ln.requests+float64(ln.quota.RPM)*frac)
	ln.refilled = now
}

func (ld *ledger) windowIndex(now time.Time) int64 {
	return int64(now.Sub(ld.start) / ld.window)
}

func (ln *lane) windowStats(ld *ledger, idx int64) *WindowStats {
	w, ok := ln.windows[idx]
	if !ok {
		w = &WindowStats{Index: idx, Start: ld.start.Add(time.Duration(idx) * ld.window)}
		ln.windows[idx] = w
	}
	return w
}

// lease is an admitted call's reservation, to be settled once.
type lease struct {
	ld       *ledger
	ln       *lane
	reserved int64
	window   int64
	day      int64
	settled  bool
}

// admit reserves `reservation` tokens (input + maxTokens, as Bedrock does)
// and one request for a call, or throttles it without charging anything.
func (ld *ledger) admit(account, model string, reservation int64, now time.Time) (*lease, *apiError) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	ln := ld.lane(laneKey{account, model}, now)
	idx := ld.windowIndex(now)
	w := ln.windowStats(ld, idx)
	day := idx / windowsPerDay
	if day != ln.day {
		ln.day, ln.dayTokens = day, 0
	}

	var throttled string
	switch q := ln.quota; {
	case q.RPM > 0 && ln.requests < 1:
		throttled = "Too many requests, please wait before trying again."
	case q.TPM > 0 && ln.tokens < float64(reservation):
		throttled = "Too many tokens, please wait before trying again."
	case q.TPD > 0 && ln.dayTokens+reservation > q.TPD:
		throttled = "Too many tokens per day, please wait before trying again."
	}
	if throttled != "" {
		ln.totals.Throttled++
		w.Throttled++
		return nil, newError("ThrottlingException", "%s", throttled)
	}

	if ln.quota.TPM > 0 {
		ln.tokens -= float64(reservation)
	}
	if ln.quota.RPM > 0 {
		ln.requests--
	}
	ln.dayTokens += reservation
	ln.outstanding += reservation
	ln.totals.Admitted++
	ln.totals.InFlight++
	ln.totals.ReservedTokens += reservation
	ln.totals.ReservedPeak = max(ln.totals.ReservedPeak, ln.outstanding)
	w.Admitted++
	if ln.firstAdmitted.IsZero() {
		ln.firstAdmitted = now
	}
	ln.lastAdmitted = now
	return &lease{ld: ld, ln: ln, reserved: reservation, window: idx, day: day}, nil
}

// usage is what a call consumed, as Converse reports it: input excludes
// the tokens read from and written to the prompt cache.
type usage struct {
	input, cacheRead, cacheWrite, output int
}

// settle replaces the reservation by the real charge, input + cache writes +
// output × burndown: cache reads do not count toward the quota (AWS: "How
// tokens are counted in Amazon Bedrock"; the reserved tier's TPM covers
// InputTokenCount and CacheWriteInputTokens). The difference is refunded to
// (or further debited from) the bucket, which may go negative. The charge is
// attributed to the window the call was admitted in. Settling twice is a
// no-op.
func (l *lease) settle(u usage, now time.Time) (charged int64) {
	ld, ln := l.ld, l.ln
	ld.mu.Lock()
	defer ld.mu.Unlock()
	charged = int64(u.input) + int64(u.cacheWrite) + int64(math.Ceil(float64(u.output)*ln.burndown))
	if l.settled {
		return charged
	}
	l.settled = true
	ln.refill(now, ld.window)
	if ln.quota.TPM > 0 {
		ln.tokens = math.Min(float64(ln.quota.TPM), ln.tokens+float64(l.reserved-charged))
	}
	if ln.day == l.day {
		ln.dayTokens += charged - l.reserved
	}
	ln.outstanding -= l.reserved
	ln.totals.InFlight--
	ln.totals.InputTokens += int64(u.input)
	ln.totals.OutputTokens += int64(u.output)
	ln.totals.CacheRead += int64(u.cacheRead)
	ln.totals.CacheWrite += int64(u.cacheWrite)
	ln.totals.ChargedTokens += charged
	w := ln.windowStats(ld, l.window)
	w.InputTokens += int64(u.input)
	w.OutputTokens += int64(u.output)
	w.CacheRead += int64(u.cacheRead)
	w.CacheWrite += int64(u.cacheWrite)
	w.ChargedTokens += charged
	return charged
}

// recordTier counts an admitted call's service tier.
func (l *lease) recordTier(tier string) {
	l.ld.mu.Lock()
	defer l.ld.mu.Unlock()
	if l.ln.tiers == nil {
		l.ln.tiers = map[string]int64{}
	}
	l.ln.tiers[tier]++
}

// recordRejected counts a call of a served model that failed validation.
func (ld *ledger) recordRejected(account, model string, now time.Time) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	ld.lane(laneKey{account, model}, now).totals.Rejected++
}

// recordInjected counts an error injected by a fail= directive.
func (ld *ledger) recordInjected(account, model string, now time.Time) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	ln := ld.lane(laneKey{account, model}, now)
	ln.totals.ErrorsInjected++
	ln.windowStats(ld, ld.windowIndex(now)).ErrorsInjected++
}

func (ld *ledger) recordAuthFailure() {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	ld.authFailures++
}

func (ld *ledger) stsAssumeRole()        { ld.mu.Lock(); ld.sts.AssumeRole++; ld.mu.Unlock() }
func (ld *ledger) stsGetCallerIdentity() { ld.mu.Lock(); ld.sts.GetCallerIdentity++; ld.mu.Unlock() }
func (ld *ledger) stsDenied()            { ld.mu.Lock(); ld.sts.Errors++; ld.mu.Unlock() }

// reset forgets all counters and refills every bucket; window 0 starts now.
// Calls in flight settle into the forgotten lanes.
func (ld *ledger) reset(now time.Time) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	ld.start = now
	ld.lanes = make(map[laneKey]*lane)
	ld.sts = STSStats{}
	ld.authFailures = 0
}
