package bedrocksim

import (
	"maps"
	"slices"
	"time"
)

// Stats is the JSON of GET /_sim/stats and the value of Server.Stats.
type Stats struct {
	// StartedAt is the start of window 0: server start or the last reset.
	StartedAt time.Time `json:"started_at"`
	Now       time.Time `json:"now"`
	Window    string    `json:"window"`
	WindowMs  int64     `json:"window_ms"`
	// Accounts maps account id → model id → statistics. Every configured
	// quota appears, called or not; other lanes appear once called.
	Accounts map[string]map[string]ModelStats `json:"accounts"`
	STS      STSStats                         `json:"sts"`
	// AuthFailures counts Bedrock calls rejected by authentication.
	AuthFailures int64 `json:"auth_failures"`
}

// Model returns the statistics of one (account, model) lane, zero if the
// lane does not exist.
func (s Stats) Model(account, model string) ModelStats {
	return s.Accounts[account][model]
}

// STSStats counts STS calls.
type STSStats struct {
	AssumeRole        int64 `json:"assume_role"`
	GetCallerIdentity int64 `json:"get_caller_identity"`
	Errors            int64 `json:"errors"` // denied or invalid STS calls, auth failures included
}

// ModelStats describes one (account, model) lane.
type ModelStats struct {
	Quota  QuotaStats `json:"quota"`
	Totals Totals     `json:"totals"`
	// BucketTokens is the TPM bucket's level now (negative after settlements
	// that cost more than was reserved); nil without a TPM quota.
	BucketTokens *float64 `json:"bucket_tokens,omitempty"`
	// ServiceTiers counts admitted calls by the tier that served them.
	ServiceTiers map[string]int64 `json:"service_tiers,omitempty"`
	// DayTokens is what the current TPD day has used (reservations of calls
	// in flight included).
	DayTokens     int64      `json:"day_tokens"`
	FirstAdmitted *time.Time `json:"first_admitted,omitempty"`
	LastAdmitted  *time.Time `json:"last_admitted,omitempty"`
	// Windows is the per-window series, sparse (only windows with activity),
	// ordered by index. Window i spans [StartedAt + i×window, +window).
	Windows []WindowStats `json:"windows"`
}

// QuotaStats is the configured budget of a lane; zero quotas are unlimited.
type QuotaStats struct {
	TPM      int64   `json:"tpm"`
	RPM      int64   `json:"rpm"`
	TPD      int64   `json:"tpd"`
	Burndown float64 `json:"burndown"`
	Window   string  `json:"window"`
	WindowMs int64   `json:"window_ms"`
}

// Totals are a lane's counters since start or reset.
type Totals struct {
	Admitted       int64 `json:"admitted"`        // calls that passed the quota check
	Throttled      int64 `json:"throttled"`       // calls refused by the quota (429)
	ErrorsInjected int64 `json:"errors_injected"` // fail= directive errors, HTTP or in-stream
	Rejected       int64 `json:"rejected"`        // calls that failed validation
	InputTokens    int64 `json:"input_tokens"`    // of settled calls, not read from or written to the cache
	OutputTokens   int64 `json:"output_tokens"`   // of settled calls
	CacheRead      int64 `json:"cache_read_input_tokens"`
	CacheWrite     int64 `json:"cache_write_input_tokens"`
	ChargedTokens  int64 `json:"charged_tokens"`  // input + cache writes + ceil(output × burndown), settled calls
	ReservedTokens int64 `json:"reserved_tokens"` // sum of reservations (input + maxTokens) at admission
	ReservedPeak   int64 `json:"reserved_peak"`   // most tokens reserved by unsettled calls at once
	InFlight       int64 `json:"in_flight"`       // admitted, not yet settled
}

// WindowStats is one fixed window of a lane. Tokens are attributed to the
// window in which their call was admitted.
type WindowStats struct {
	Index          int64     `json:"index"`
	Start          time.Time `json:"start"`
	Admitted       int64     `json:"admitted"`
	Throttled      int64     `json:"throttled"`
	ErrorsInjected int64     `json:"errors_injected"`
	InputTokens    int64     `json:"input_tokens"`
	OutputTokens   int64     `json:"output_tokens"`
	CacheRead      int64     `json:"cache_read_input_tokens"`
	CacheWrite     int64     `json:"cache_write_input_tokens"`
	ChargedTokens  int64     `json:"charged_tokens"`
}

// snapshot copies the ledger into the exported Stats shape.
func (ld *ledger) snapshot(now time.Time) Stats {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	for k := range ld.quotas {
		ld.lane(k, now) // configured budgets show up before their first call
	}
	st := Stats{
		StartedAt:    ld.start,
		Now:          now,
		Window:       ld.window.String(),
		WindowMs:     ld.window.Milliseconds(),
		Accounts:     make(map[string]map[string]ModelStats),
		STS:          ld.sts,
		AuthFailures: ld.authFailures,
	}
	for k, ln := range ld.lanes {
		ln.refill(now, ld.window)
		ms := ModelStats{
			Quota: QuotaStats{
				TPM: ln.quota.TPM, RPM: ln.quota.RPM, TPD: ln.quota.TPD,
				Burndown: ln.burndown, Window: ld.window.String(), WindowMs: ld.window.Milliseconds(),
			},
			Totals:    ln.totals,
			DayTokens: ln.dayTokens,
			Windows:   make([]WindowStats, 0, len(ln.windows)),
		}
		if ln.quota.TPM > 0 {
			level := ln.tokens
			ms.BucketTokens = &level
		}
		if !ln.firstAdmitted.IsZero() {
			first, last := ln.firstAdmitted, ln.lastAdmitted
			ms.FirstAdmitted, ms.LastAdmitted = &first, &last
		}
		ms.ServiceTiers = maps.Clone(ln.tiers)
		for _, w := range ln.windows {
			ms.Windows = append(ms.Windows, *w)
		}
		slices.SortFunc(ms.Windows, func(a, b WindowStats) int { return int(a.Index - b.Index) })
		if st.Accounts[k.Account] == nil {
			st.Accounts[k.Account] = make(map[string]ModelStats)
		}
		st.Accounts[k.Account][k.Model] = ms
	}
	return st
}

// SaturatedUtilization is what the lane was charged over what its TPM quota
// allowed, in the windows where work was waiting: the first two windows (the
// full bucket's burst, which starts mid-window) and the last (the drain) are
// left out. It returns 0 windows when there are too few to judge or no TPM.
func (m ModelStats) SaturatedUtilization() (utilization float64, windows int) {
	w := m.Windows
	if len(w) < 4 || m.Quota.TPM <= 0 {
		return 0, 0
	}
	steady := w[2 : len(w)-1]
	var charged int64
	for _, win := range steady {
		charged += win.ChargedTokens
	}
	span := steady[len(steady)-1].Index - steady[0].Index + 1
	return float64(charged) / float64(m.Quota.TPM*span), int(span)
}
