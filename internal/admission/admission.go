// Package admission answers early when the queue cannot meet a caller's
// deadline. It estimates, per model alias, how long the interactive backlog
// takes to drain at the rate the alias's accounts refill (their quotas, as
// the budgets' backpressure currently scales them), and how long a job takes
// once started. A sync request that could not start and finish before its
// caller gives up is refused at once with 429 and Retry-After, instead of
// waiting out its timeout and spending quota on an answer nobody receives;
// queued jobs whose prospects sink below their deadline are expired early.
//
// The estimate is read from Postgres by every api replica on a short timer
// (the job table's backlog, the budgets' factors and levels, recent service
// times) and bumped locally by what this replica admits in between.
package admission

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/budget"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/pools"
)

// maxBacklog bounds the queued jobs read per refresh; beyond it the estimate
// only undercounts what is far behind.
const maxBacklog = 20000

// Controller holds the estimates of every alias.
type Controller struct {
	DB     *pgxpool.Pool
	Store  *jobs.Store
	Pools  pools.Store
	Config *config.Config
	Log    *slog.Logger
	// Every is how often the estimates are read again; Shed how often
	// queued jobs are checked against their deadlines.
	Every, Shed time.Duration

	mu      sync.Mutex
	aliases map[string]*estimate
	ready   bool
}

// estimate is what is known of one alias.
type estimate struct {
	// tokensPerSec and requestsPerSec are the aliases' accounts' refill
	// rates; level is the tokens their buckets hold now.
	tokensPerSec, requestsPerSec float64
	level                        float64
	// The interactive backlog, in the claim's order (earliest due first),
	// as read at: when each job is due, and the cost of it and all before
	// it. admitted and admittedJobs are what this process admitted since,
	// counted as ahead of everything.
	at           time.Time
	dues         []time.Time
	cum          []float64
	admitted     float64
	admittedJobs int
	// service is how long a started job takes to finish (a high quantile
	// of recent jobs); ratio is what jobs are charged per token reserved.
	service time.Duration
	ratio   float64
	// down lists the accounts whose pools are down, with the error that
	// says why; unavailable is set when every running pool of the alias is.
	down        []string
	unavailable bool
}

// wait is how long until a job of cost, due at due, can start: the jobs
// the claim would take before it (those due earlier) drain first.
func (e *estimate) wait(cost float64, due time.Time) time.Duration {
	i := sort.Search(len(e.dues), func(i int) bool { return !e.dues[i].Before(due) })
	ahead, jobs := e.admitted+cost, e.admittedJobs+i+1
	if i > 0 {
		ahead += e.cum[i-1]
	}
	var secs float64
	if e.tokensPerSec > 0 {
		secs = max(0, ahead*e.ratio-e.level) / e.tokensPerSec
	}
	if e.requestsPerSec > 0 {
		secs = max(secs, float64(jobs)/e.requestsPerSec)
	}
	return time.Duration(secs * float64(time.Second))
}

// Run refreshes the estimates until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if c.Every <= 0 {
		c.Every = 250 * time.Millisecond
	}
	if c.Shed <= 0 {
		c.Shed = time.Second
	}
	refresh := time.NewTicker(c.Every)
	defer refresh.Stop()
	shed := time.NewTicker(c.Shed)
	defer shed.Stop()
	for {
		if err := c.refresh(ctx); err != nil && ctx.Err() == nil {
			c.Log.WarnContext(ctx, "admission: refresh estimates", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-refresh.C:
		case <-shed.C:
			c.shed(ctx)
		}
	}
}

// Decision is the answer for one request.
type Decision struct {
	// Admit is false when the job could not finish before its deadline.
	Admit bool
	// Wait is the estimated queue wait before the job could start.
	Wait time.Duration
	// Service is the expected time from start to answer.
	Service time.Duration
}

// Admit decides on a sync job of alias that would reserve cost and whose
// caller waits until deadline. An admitted job counts against the backlog
// until the next refresh sees it in the table. Before the first estimate
// is read, everything is admitted.
func (c *Controller) Admit(alias string, cost float64, deadline time.Time) Decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.aliases[alias]
	if !ok || !c.ready {
		return Decision{Admit: true}
	}
	d := Decision{Wait: e.wait(cost, deadline), Service: e.service}
	d.Admit = !time.Now().Add(d.Wait + d.Service).After(deadline)
	if d.Admit {
		e.admitted += cost
		e.admittedJobs++
	}
	return d
}

// Unavailable says, when no account can serve alias now (every running
// pool of it is down for an account fault), why: each account's last error.
func (c *Controller) Unavailable(alias string) (why string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.aliases[alias]
	if !found || !e.unavailable {
		return "", false
	}
	return strings.Join(e.down, "; "), true
}

// Fallbacks are, when no account can serve alias now, those of its fallback
// aliases, in order, that are not in the same state (nothing known of one
// counts as usable: its pools may not have published yet).
func (c *Controller) Fallbacks(alias string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fallbacks(alias)
}

// fallbacks is Fallbacks; callers hold mu.
func (c *Controller) fallbacks(alias string) []string {
	if e, ok := c.aliases[alias]; !ok || !e.unavailable {
		return nil
	}
	var out []string
	for _, fb := range c.Config.Models[alias].Fallbacks {
		if e, ok := c.aliases[fb]; !ok || !e.unavailable {
			out = append(out, fb)
		}
	}
	return out
}

// Wait is the current estimated queue wait for a new job of alias, for a
// Retry-After.
func (c *Controller) Wait(alias string) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.aliases[alias]; ok {
		return e.wait(0, time.Now().Add(100*365*24*time.Hour))
	}
	return 0
}

func (c *Controller) refresh(ctx context.Context) error {
	next := map[string]*estimate{}
	now := time.Now()
	for _, alias := range c.Config.Aliases() {
		next[alias] = &estimate{ratio: 1, at: now}
	}
	// Refill rates: every account that serves an alias, scaled by its
	// budget's backpressure factor; bucket levels brought forward to now.
	levels, err := budget.Levels(ctx, c.DB, budget.ForConfig(c.Config))
	if err != nil {
		return err
	}
	buckets := map[[2]string]budget.Level{}
	for _, l := range levels {
		buckets[[2]string{l.Account, l.Model}] = l
	}
	// Pools down for an account fault add nothing to the rate; an alias all
	// of whose running pools are down cannot be served at all.
	health, err := c.Pools.All(ctx)
	if err != nil {
		return err
	}
	down := map[[2]string]bool{}
	healthy := map[string]bool{}
	for _, h := range health {
		e := next[h.Model]
		if e == nil || !h.Fresh(now) {
			continue
		}
		if h.Healthy {
			healthy[h.Model] = true
			continue
		}
		down[[2]string{h.Account, h.Model}] = true
		why := "unknown error"
		if h.LastError != nil {
			why = *h.LastError
		}
		e.down = append(e.down, fmt.Sprintf("account %s: %s", h.Account, why))
	}
	for alias, e := range next {
		e.unavailable = len(e.down) > 0 && !healthy[alias]
	}
	window := c.Config.Env.Window.Seconds()
	for _, acct := range c.Config.Accounts {
		for alias, m := range acct.Models {
			e := next[alias]
			if e == nil || down[[2]string{acct.Name, alias}] {
				continue
			}
			factor, level := 1.0, float64(m.TPM)
			if b, ok := buckets[[2]string{acct.Name, alias}]; ok {
				factor, level = b.Factor, b.Tokens
			}
			e.tokensPerSec += float64(m.TPM) / window * factor
			e.level += max(level, 0)
			if m.RPM > 0 {
				e.requestsPerSec += float64(m.RPM) / window
			}
		}
	}
	queued, err := c.Store.QueuedInClaimOrder(ctx, jobs.Interactive, maxBacklog)
	if err != nil {
		return err
	}
	for _, q := range queued {
		e := next[q.Model]
		if e == nil {
			continue
		}
		total := q.Cost
		if n := len(e.cum); n > 0 {
			total += e.cum[n-1]
		}
		e.dues, e.cum = append(e.dues, q.Due), append(e.cum, total)
	}
	services, err := c.Store.ServiceTimes(ctx, 200, 0.9)
	if err != nil {
		return err
	}
	for _, s := range services {
		if e := next[s.Model]; e != nil {
			e.service = s.Service
			if s.ChargedRatio > 0 && !math.IsNaN(s.ChargedRatio) {
				e.ratio = min(s.ChargedRatio, 1)
			}
		}
	}
	c.mu.Lock()
	c.aliases, c.ready = next, true
	c.mu.Unlock()
	return nil
}

// shed expires queued interactive jobs that can no longer finish before their
// deadline, so that their callers hear it now rather than at their timeout.
func (c *Controller) shed(ctx context.Context) {
	c.mu.Lock()
	type plan struct {
		alias string
		est   jobs.ShedEstimate
	}
	var plans []plan
	unavailable := map[string]string{}
	for alias, e := range c.aliases {
		// A fallback takes the jobs over instead (the workers' janitors
		// move them).
		if e.unavailable && len(c.fallbacks(alias)) == 0 {
			unavailable[alias] = strings.Join(e.down, "; ")
		}
		if len(e.dues) == 0 || e.tokensPerSec <= 0 {
			continue
		}
		plans = append(plans, plan{alias, jobs.ShedEstimate{TokensPerSec: e.tokensPerSec / e.ratio, Level: e.level / e.ratio, Service: e.service}})
	}
	c.mu.Unlock()
	// Sync callers of a model no account can serve hear it now; async jobs
	// wait for an account to heal, up to their deadline.
	for alias, why := range unavailable {
		n, err := c.Store.FailQueuedSync(ctx, alias, UnavailableError(alias, why).Record())
		if err != nil && ctx.Err() == nil {
			c.Log.WarnContext(ctx, "admission: fail the sync jobs of an unavailable model", "model", alias, "err", err)
		}
		if n > 0 {
			c.Log.InfoContext(ctx, "admission: no account can serve the model; failed its waiting sync jobs", "model", alias, "jobs", n, "why", why)
		}
	}
	for _, p := range plans {
		n, err := c.Store.ShedInfeasible(ctx, p.alias, p.est)
		if err != nil {
			if ctx.Err() == nil {
				c.Log.WarnContext(ctx, "admission: expire jobs that cannot meet their deadline", "model", p.alias, "err", err)
			}
			continue
		}
		if n > 0 {
			c.Log.InfoContext(ctx, "admission: expired jobs that could not meet their deadline", "model", p.alias, "jobs", n)
		}
	}
}

// UnavailableError is the 503 of a model no account can serve now.
func UnavailableError(alias, why string) *openai.Error {
	return openai.Unavailable(fmt.Sprintf("No account can serve model %s now: %s. The accounts are checked again by themselves; retry later.", alias, why)).WithCode("model_unavailable")
}
