// Package worker drains the queues: one Pool per (account, model alias) takes
// queue tokens only as fast as that account's budget allows, claims the job
// the policy picks, calls Bedrock with that account's credentials, and writes
// the outcome to the job store.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/budget"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/queue"
)

// Converser is the part of the Bedrock Runtime client a pool uses.
type Converser interface {
	Converse(ctx context.Context, in *bedrockruntime.ConverseInput, opts ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error)
	ConverseStream(ctx context.Context, in *bedrockruntime.ConverseStreamInput, opts ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseStreamOutput, error)
	InvokeModel(ctx context.Context, in *bedrockruntime.InvokeModelInput, opts ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, error)
}

// Budget is the token bucket a pool draws from (budget.Shared).
type Budget interface {
	Limits() budget.Limits
	Capacity() float64
	Room(ctx context.Context, want float64) (float64, time.Duration, error)
	Reserve(ctx context.Context, tokens float64, requests int) error
	Return(ctx context.Context, tokens float64, requests int) error
	Throttled(ctx context.Context) error
	Snapshot(ctx context.Context) (budget.State, error)
}

// Store is the part of the job store a pool uses (jobs.Store).
type Store interface {
	ClaimNext(ctx context.Context, p jobs.ClaimParams) (jobs.Claimed, error)
	Pending(ctx context.Context, model string, p jobs.Priority) (int, time.Time, error)
	ExtendLease(ctx context.Context, id string, attempt int, lease time.Duration) error
	Finish(ctx context.Context, id string, attempt int, o jobs.Outcome) error
	Release(ctx context.Context, id string, attempt int, delay time.Duration) error
	NoteThrottle(ctx context.Context, id string, attempt int) error
	HasChunks(ctx context.Context, id string) (bool, error)
	AppendChunk(ctx context.Context, id string, attempt, seq int, data []byte) error
}

// Queues is the part of the SQS queues a pool uses (queue.Queues).
type Queues interface {
	Receive(ctx context.Context, alias string, p queue.Priority, n int, wait time.Duration) ([]queue.Message, error)
	DeleteMany(ctx context.Context, ms []queue.Message) error
	Delay(ctx context.Context, m queue.Message, d time.Duration) error
	SendAfter(ctx context.Context, p queue.Priority, b queue.Body, delay time.Duration) error
}

// Watcher delivers a job when it ends by another hand than the pool's: its
// caller hung up, or it was cancelled (jobs.Hub).
type Watcher interface {
	Watch(id string) (ended <-chan *jobs.Job, stop func())
}

// InFlight is told when a pool takes on a job and when it is done with it
// (taskprotect.Guard).
type InFlight interface {
	Begin()
	End()
}

// Pool serves one model alias from one account.
type Pool struct {
	Account string
	Alias   string
	Model   config.Model
	Client  Converser
	Budget  Budget
	Store   Store
	Queues  Queues
	Watch   Watcher
	Log     *slog.Logger
	// Check checks the account anew: it drops cached credentials and assumes
	// the role again. A pool that met an account fault runs it, with
	// backoff, until it passes.
	Check func(ctx context.Context) error
	// Health publishes the pool's health; nil publishes nothing.
	Health HealthPublisher
	// Fault, when set, is an account fault met before the pool started (its
	// role could not be assumed): the pool starts down.
	Fault error
	// InFlight, when set, counts the jobs the pool holds.
	InFlight InFlight

	// Concurrency bounds calls in flight; the budget bounds tokens.
	Concurrency int
	// MaxThrottles bounds throttles waited out in process before the job goes
	// back to the queue; throttles never fail a job.
	MaxThrottles int
	// CallTimeout bounds one Bedrock call.
	CallTimeout time.Duration
	// Poll is the long-poll wait on each queue when idle.
	Poll time.Duration
	// Lease is how long a claim holds without a heartbeat: a dead worker's
	// jobs run again about this long after it died.
	Lease time.Duration
	// RetryHorizon is how long transient faults (5xx, timeouts, network) are
	// retried, never past the job's deadline; then the job fails with the
	// last error. A Bedrock outage shorter than this fails nothing.
	RetryHorizon time.Duration
	// DrainTimeout is how long calls in flight may finish after the pool is
	// told to stop; what is left then goes back to the queue.
	DrainTimeout time.Duration
	// FairWindow is how long a tenant's past service counts against it.
	FairWindow time.Duration
	// MaxCheckBackoff bounds the wait between checks of a down account.
	MaxCheckBackoff time.Duration

	est    *estimator
	svc    *serviceTime
	health *health
	labels []string
}

func (p *Pool) defaults() {
	if p.Concurrency <= 0 {
		p.Concurrency = 64
	}
	if p.MaxThrottles <= 0 {
		p.MaxThrottles = 20
	}
	if p.CallTimeout <= 0 {
		p.CallTimeout = 10 * time.Minute
	}
	if p.Poll <= 0 {
		p.Poll = time.Second
	}
	if p.Lease <= 0 {
		p.Lease = 30 * time.Second
	}
	if p.RetryHorizon <= 0 {
		p.RetryHorizon = 10 * time.Minute
	}
	if p.DrainTimeout <= 0 {
		p.DrainTimeout = 100 * time.Second
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
	p.Log = p.Log.With("account", p.Account, "model", p.Alias)
	p.est = newEstimator(float64(p.Model.DefaultMaxTokens) + 256)
	p.svc = &serviceTime{}
	if p.MaxCheckBackoff <= 0 {
		p.MaxCheckBackoff = time.Minute
	}
	p.health = newHealth(p.Account, p.Alias, p.MaxCheckBackoff, p.Log)
	if p.Fault != nil {
		p.health.fail(bedrock.Classify(p.Fault).Code, p.Fault)
	}
	p.labels = []string{p.Account, p.Alias}
	metricBudget.WithLabelValues(p.labels...).Set(p.Budget.Limits().TPM)
}

// errAbandoned ends a call whose job was ended by another hand (its caller
// hung up, or cancelled it): the answer has no one to go to.
var errAbandoned = errors.New("job ended while its call ran")

// Run pulls and runs jobs until ctx ends, then drains: calls in flight get
// DrainTimeout to finish, and those still running then are stopped and their
// jobs released to the queue at once, their reservations returned.
//
// Interactive and batch work are fed by two loops, each long-polling its own
// queue, so a slow receive from a deep batch queue never delays an
// interactive message. Batch work is taken only while the budget holds a
// reserve beyond it: the bucket then floats at that reserve instead of at
// zero, so arriving interactive work finds tokens at once, and batches still
// get the whole refill rate that interactive work leaves.
func (p *Pool) Run(ctx context.Context) error {
	p.defaults()
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var loops, calls sync.WaitGroup
	batchReserve := func(typical float64) float64 { return min(2*typical, p.Budget.Capacity()/2) }
	loops.Go(func() { p.observe(ctx) })
	loops.Go(func() { p.feed(ctx, work, &calls, queue.Batch, max(p.Concurrency/2, 1), batchReserve) })
	loops.Go(func() {
		p.feed(ctx, work, &calls, queue.Interactive, p.Concurrency, func(float64) float64 { return 0 })
	})
	// The drain timeout runs from the stop, not from the end of the feed
	// loops' last long poll.
	drained := make(chan struct{})
	go func() {
		<-ctx.Done()
		t := time.NewTimer(p.DrainTimeout)
		defer t.Stop()
		select {
		case <-drained:
		case <-t.C:
			p.Log.Warn("drain timeout: releasing the calls still in flight", "timeout", p.DrainTimeout)
			stopWork()
		}
	}()
	loops.Wait()
	calls.Wait()
	close(drained)
	return nil
}

// feed receives tokens from one of the alias's queues while the budget has
// room, claims as many jobs as it got tokens, and runs each, at most
// concurrency at a time. Claims and calls run under work, which outlives ctx
// by the drain.
func (p *Pool) feed(ctx, work context.Context, calls *sync.WaitGroup, prio queue.Priority, concurrency int, reserve func(typical float64) float64) {
	slots := make(chan struct{}, concurrency)
	free := func(n int) {
		for range n {
			<-slots
		}
	}
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		// A pool whose account cannot serve receives nothing: its work waits
		// in the queue for the other accounts' pools.
		if wait := p.health.wait(); wait > 0 {
			free(1)
			sleep(ctx, min(wait, time.Second))
			continue
		}
		// Receive only when the budget has room: excess demand waits in the
		// queue, visible to every pool that could serve it. The reservation
		// itself is made per job, just before its call, so that it is in
		// flight to Bedrock as briefly as possible.
		typical := p.est.typicalCost()
		keep := reserve(typical)
		level, wait, err := p.Budget.Room(ctx, typical+keep)
		if err != nil || level < typical+keep {
			free(1)
			if err != nil && ctx.Err() == nil {
				p.Log.WarnContext(ctx, "budget", "err", err)
				wait = time.Second
			}
			sleep(ctx, min(max(wait, 5*time.Millisecond), time.Second))
			continue
		}
		n := 1
		for n < queue.MaxBatch && float64(n+1)*typical+keep <= level && len(slots) < cap(slots) {
			slots <- struct{}{}
			n++
		}
		// The receive is not cut short when the pool stops: SQS may still hand
		// messages to a long poll whose caller has gone, and they would stay
		// invisible for the visibility timeout. It ends within Poll anyway;
		// what it brings after the stop goes straight back.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.Poll+10*time.Second)
		msgs, err := p.Queues.Receive(rctx, p.Alias, prio, n, p.Poll)
		cancel()
		if ctx.Err() != nil && len(msgs) > 0 {
			// On a context of their own: the drain may have ended work too.
			free(n)
			bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			p.delayAll(bctx, msgs, 0)
			cancel()
			return
		}
		if err != nil || len(msgs) == 0 {
			free(n)
			if err != nil && ctx.Err() == nil {
				p.Log.WarnContext(ctx, "receive", "queue", prio, "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		free(n - len(msgs))
		claimed, err := p.Store.ClaimNext(work, jobs.ClaimParams{
			Model: p.Alias, Priority: jobs.Priority(prio), Account: p.Account, N: len(msgs),
			Lease: p.Lease, ServiceTime: p.svc.estimate(), FairWindow: p.FairWindow,
		})
		if err != nil && !errors.Is(err, jobs.ErrNoJob) {
			// The tokens come back after their visibility timeout; soon, so
			// that a database blip does not hold up the work they stand for.
			free(len(msgs))
			p.Log.WarnContext(ctx, "claim", "queue", prio, "err", err)
			p.delayAll(work, msgs, 2*time.Second)
			sleep(ctx, time.Second)
			continue
		}
		if claimed.Expired > 0 {
			metricExpired.WithLabelValues(p.Alias).Add(float64(claimed.Expired))
		}
		p.Log.DebugContext(ctx, "claimed", "queue", prio, "tokens", len(msgs), "jobs", len(claimed.Jobs), "expired", claimed.Expired)
		free(len(msgs) - len(claimed.Jobs))
		for _, job := range claimed.Jobs {
			if p.InFlight != nil {
				p.InFlight.Begin()
			}
			calls.Go(func() {
				defer func() { <-slots }()
				if p.InFlight != nil {
					defer p.InFlight.End()
				}
				p.handle(work, prio, job)
			})
		}
		spent, spare := msgs[:len(claimed.Jobs)], msgs[len(claimed.Jobs):]
		if err := p.Queues.DeleteMany(work, spent); err != nil {
			p.Log.WarnContext(ctx, "delete spent tokens", "err", err)
		}
		if len(spare) > 0 {
			p.spareTokens(work, prio, spare)
		}
	}
}

// spareTokens decides about tokens that claimed nothing: with nothing queued
// they are surplus (their jobs were cancelled, or a token was sent twice) and
// are dropped; otherwise the queued jobs are not due yet, or were taken by
// another pool at the same moment, and the tokens come back when the next
// one is due.
func (p *Pool) spareTokens(ctx context.Context, prio queue.Priority, spare []queue.Message) {
	n, next, err := p.Store.Pending(ctx, p.Alias, jobs.Priority(prio))
	if err != nil {
		p.Log.WarnContext(ctx, "count queued jobs", "err", err)
		p.delayAll(ctx, spare, 2*time.Second)
		return
	}
	if n == 0 {
		if err := p.Queues.DeleteMany(ctx, spare); err != nil {
			p.Log.WarnContext(ctx, "delete surplus tokens", "err", err)
		}
		return
	}
	p.delayAll(ctx, spare, min(max(time.Until(next), time.Second), 15*time.Minute))
}

func (p *Pool) delayAll(ctx context.Context, ms []queue.Message, d time.Duration) {
	for _, m := range ms {
		if err := p.Queues.Delay(ctx, m, d); err != nil {
			p.Log.WarnContext(ctx, "delay token", "err", err)
		}
	}
}

// observe exports the budget's backpressure factor, publishes the pool's
// health (every other second, and at once when it changes), and checks a
// down account when due.
func (p *Pool) observe(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	changed := true
	for tick := 0; ; tick++ {
		if tick%5 == 0 {
			if s, err := p.Budget.Snapshot(ctx); err == nil {
				metricFactor.WithLabelValues(p.labels...).Set(s.Factor)
			}
		}
		if p.health.checkDue() && p.Check != nil {
			p.health.checked(p.Check(ctx))
		}
		row := p.health.row()
		healthy := 0.0
		if row.Healthy {
			healthy = 1
		}
		metricPoolHealthy.WithLabelValues(p.labels...).Set(healthy)
		if p.Health != nil && (changed || tick%2 == 0) {
			if err := p.Health.Publish(ctx, row); err != nil && ctx.Err() == nil {
				p.Log.WarnContext(ctx, "publish pool health", "err", err)
			}
		}
		changed = false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.health.changes:
			changed = true
		}
	}
}

// handle runs one claimed job: reserve, call, settle, record; throttles and
// transient faults are waited out here, holding the job.
func (p *Pool) handle(ctx context.Context, prio queue.Priority, job *jobs.Job) {
	log := p.Log.With(jobs.LogAttrs(job.ID)...).With("attempt", job.Attempts)
	defer func() {
		if r := recover(); r != nil {
			// One bad job must not take the process and its other calls down.
			log.ErrorContext(ctx, "panic while running a job", "panic", r, "stack", string(debug.Stack()))
			e := openai.ServerError(fmt.Sprintf("Job %s hit an internal error in its worker.", job.ID))
			p.finish(ctx, log, job, jobs.Outcome{State: jobs.Failed, Error: e.Record()})
		}
	}()
	// The call stops when the job ends by another hand (its caller hung up),
	// or when this attempt loses its lease.
	callCtx, stopCall := context.WithCancelCause(ctx)
	defer stopCall(nil)
	ended, unwatch := p.Watch.Watch(job.ID)
	defer unwatch()
	go func() {
		select {
		case <-ended:
			stopCall(errAbandoned)
		case <-callCtx.Done():
		}
	}()
	defer p.heartbeat(ctx, job, stopCall)()

	// Converse, ConverseStream or InvokeModel (see call.go).
	call, oerr := p.prepare(job)
	if oerr != nil {
		p.finish(ctx, log, job, jobs.Outcome{State: jobs.Failed, Error: oerr.Record()})
		return
	}
	// Bedrock reserves input + maxTokens at call start; so does the pool.
	cost := p.est.input(len(job.Request)) + float64(call.maxOutput())
	p.est.reserved(cost)
	if limit := p.Budget.Capacity(); cost > limit {
		e := openai.InvalidRequest("max_tokens", "This request needs about %.0f tokens of quota (input + max_tokens), more than account %s can ever admit at once for %s (%.0f); lower max_tokens.", cost, p.Account, p.Alias, limit)
		p.finish(ctx, log, job, jobs.Outcome{State: jobs.Failed, Error: e.Record()})
		return
	}

	started := time.Now()
	var failingSince time.Time
	throttles, retries := 0, 0
	renewed := false
	for {
		if err := p.Budget.Reserve(callCtx, cost, 1); err != nil {
			if p.interrupted(ctx, callCtx, log, prio, job) {
				return
			}
			log.WarnContext(ctx, "reserve", "err", err)
			p.release(ctx, log, prio, job, time.Second)
			return
		}
		metricReserved.WithLabelValues(p.labels...).Add(cost)
		tctx, cancel := context.WithTimeout(callCtx, p.CallTimeout)
		res, err := call.run(tctx, cost)
		cancel()
		metricReserved.WithLabelValues(p.labels...).Sub(cost)
		if err == nil {
			if res.outcome.State == jobs.Succeeded {
				p.svc.observe(time.Since(started))
			}
			p.settle(ctx, log, job, res, cost)
			return
		}
		// A refused call costs Bedrock's quota nothing; a stream that failed
		// before reaching its caller costs what it produced.
		p.giveBack(ctx, cost-res.charged, 0)
		if p.interrupted(ctx, callCtx, log, prio, job) {
			return
		}
		c := bedrock.Classify(err)
		if c.Account {
			metricCalls.WithLabelValues(p.Account, p.Alias, "account").Inc()
			// A session Bedrock no longer knows: assume the role again and
			// retry, once, before blaming the account.
			if c.Renew && !renewed && p.Check != nil {
				renewed = true
				if cerr := p.Check(ctx); cerr == nil {
					log.InfoContext(ctx, "credentials refused; assumed the role again", "code", c.Code)
					continue
				}
			}
			p.health.fail(c.Code, err)
			log.InfoContext(ctx, "account fault: job back to the queue for another account", "code", c.Code)
			p.release(ctx, log, prio, job, 0)
			return
		}
		metricCalls.WithLabelValues(p.Account, p.Alias, c.Verdict.String()).Inc()
		log := log.With("code", c.Code, "verdict", c.Verdict)
		switch c.Verdict {
		case bedrock.Throttled:
			metricThrottles.WithLabelValues(p.labels...).Inc()
			if err := p.Budget.Throttled(ctx); err != nil {
				log.WarnContext(ctx, "shrink budget", "err", err)
			}
			if err := p.Store.NoteThrottle(ctx, job.ID, job.Attempts); err != nil {
				log.WarnContext(ctx, "note throttle", "err", err)
			}
			if throttles++; throttles >= p.MaxThrottles {
				log.InfoContext(ctx, "throttled repeatedly; back to the queue")
				p.release(ctx, log, prio, job, time.Second+rand.N(5*time.Second))
				return
			}
			// Wait in process for the shrunk budget (the next Reserve).
		case bedrock.Permanent:
			log.InfoContext(ctx, "bedrock refused the job", "err", err)
			p.finish(ctx, log, job, jobs.Outcome{State: jobs.Failed, Error: c.Error.Record()})
			return
		default:
			if c.Verdict == bedrock.Credentials && p.Check != nil {
				// Credentials could not be had (STS unreachable): try for new
				// ones before the next call, like any passing fault.
				if cerr := p.Check(ctx); cerr != nil {
					log.InfoContext(ctx, "credentials still unavailable", "err", cerr)
				}
			}
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			delay := backoff(retries)
			retries++
			giveUp := time.Since(failingSince)+delay > p.RetryHorizon
			if job.Deadline != nil && time.Now().Add(delay).After(*job.Deadline) {
				giveUp = true
			}
			if giveUp {
				log.WarnContext(ctx, "giving up after transient errors", "failing_for", time.Since(failingSince).Round(time.Millisecond), "err", err)
				p.finish(ctx, log, job, jobs.Outcome{State: jobs.Failed, Error: c.Error.Record()})
				return
			}
			log.InfoContext(ctx, "transient error; retrying", "delay", delay, "retries", retries, "err", err)
			sleep(callCtx, delay)
		}
	}
}

// interrupted handles a call stopped from outside: its job ended by another
// hand (nothing to record), or the pool's drain ran out (the job goes back to
// the queue at once). It reports whether the call was stopped.
func (p *Pool) interrupted(ctx, callCtx context.Context, log *slog.Logger, prio queue.Priority, job *jobs.Job) bool {
	switch {
	case errors.Is(context.Cause(callCtx), errAbandoned):
		log.InfoContext(ctx, "job ended by its caller; call stopped")
		metricCalls.WithLabelValues(p.Account, p.Alias, "abandoned").Inc()
		return true
	case errors.Is(context.Cause(callCtx), jobs.ErrLeaseLost):
		log.WarnContext(ctx, "lease lost; call stopped")
		return true
	case ctx.Err() != nil:
		log.InfoContext(ctx, "stopping: job back to the queue")
		p.release(ctx, log, prio, job, 0)
		return true
	}
	return false
}

// settle ends a call that ran: the reservation becomes what the call was
// charged, as Bedrock settles it, and the job gets its outcome.
func (p *Pool) settle(ctx context.Context, log *slog.Logger, job *jobs.Job, res result, reserved float64) {
	metricCalls.WithLabelValues(p.Account, p.Alias, res.label()).Inc()
	p.health.ok()
	if res.inputTokens > 0 {
		p.est.observe(len(job.Request), res.inputTokens)
	}
	metricUsed.WithLabelValues(p.labels...).Add(res.charged)
	p.giveBack(ctx, reserved-res.charged, 0)
	res.outcome.Charged = res.charged
	p.finish(ctx, log, job, res.outcome)
}

func (p *Pool) giveBack(ctx context.Context, tokens float64, requests int) {
	if tokens == 0 && requests == 0 {
		return
	}
	if err := p.Budget.Return(context.WithoutCancel(ctx), tokens, requests); err != nil {
		p.Log.WarnContext(ctx, "return budget", "tokens", tokens, "err", err)
	}
}

// heartbeat keeps the job's lease ahead of a long wait or call, so that the
// sweeper does not hand the job to another worker meanwhile. A lease found
// lost stops the call: another attempt owns the job now.
func (p *Pool) heartbeat(ctx context.Context, job *jobs.Job, stopCall context.CancelCauseFunc) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(p.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				err := p.Store.ExtendLease(ctx, job.ID, job.Attempts, p.Lease)
				if errors.Is(err, jobs.ErrLeaseLost) {
					stopCall(jobs.ErrLeaseLost)
					return
				}
				if err != nil && ctx.Err() == nil {
					p.Log.With(jobs.LogAttrs(job.ID)...).WarnContext(ctx, "extend lease", "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// recordHorizon is how long a worker keeps trying to record a computed
// outcome while the database is away.
const recordHorizon = 10 * time.Minute

// finish records the job's outcome. A result that was computed is never
// thrown away for a passing database fault: the worker keeps it and retries,
// its heartbeat keeping the lease, until the database is back. The caller
// then gets the answer without a second Bedrock call.
func (p *Pool) finish(ctx context.Context, log *slog.Logger, job *jobs.Job, o jobs.Outcome) {
	start := time.Now()
	for try := 0; ; try++ {
		err := p.Store.Finish(ctx, job.ID, job.Attempts, o)
		switch {
		case err == nil:
			return
		case errors.Is(err, jobs.ErrLeaseLost):
			log.InfoContext(ctx, "job ended elsewhere or was claimed again; outcome dropped", "state", o.State)
			return
		case ctx.Err() != nil || time.Since(start) > recordHorizon:
			log.ErrorContext(ctx, "outcome not recorded; the job runs again when its lease lapses", "err", err)
			return
		}
		log.WarnContext(ctx, "record outcome; retrying", "err", err)
		sleep(ctx, min(100*time.Millisecond<<min(try, 6), 5*time.Second))
	}
}

// release returns a job to the queue, due after delay, with a new token (the
// token that led to it was spent at the claim). It works on a context of its
// own: it runs when the pool's is ending.
func (p *Pool) release(ctx context.Context, log *slog.Logger, prio queue.Priority, job *jobs.Job, delay time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := p.Store.Release(ctx, job.ID, job.Attempts, delay); err != nil {
		// The lease lapses and the sweeper requeues it.
		log.WarnContext(ctx, "release", "err", err)
		return
	}
	if err := p.Queues.SendAfter(ctx, prio, queue.Body{JobID: job.ID, Model: job.Model}, delay); err != nil {
		// The janitor's reconciliation sends one.
		log.WarnContext(ctx, "send token for released job", "err", err)
	}
}

// backoff is capped exponential with full jitter, in sub-second steps:
// about 0.1 s, 0.2 s, 0.4 s ... up to 30 s between tries.
func backoff(retry int) time.Duration {
	ceiling := min(100*time.Millisecond<<min(max(retry, 0), 9), 30*time.Second)
	return ceiling/2 + rand.N(ceiling/2+1)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
