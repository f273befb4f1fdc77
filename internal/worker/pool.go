// Package worker drains the queues: one Pool per (account, model alias) pulls
// job ids from SQS only as fast as that account's budget allows, calls Bedrock
// with that account's credentials, and writes the outcome to the job store.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
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

// Pool serves one model alias from one account.
type Pool struct {
	Account string
	Alias   string
	Model   config.Model
	Client  Converser
	Budget  Budget
	Store   *jobs.Store
	Queues  *queue.Queues
	Log     *slog.Logger

	// Concurrency bounds calls in flight; the budget bounds tokens.
	Concurrency int
	// MaxAttempts bounds claims of a job; a transient error after the last
	// one fails the job.
	MaxAttempts int
	// MaxThrottles bounds throttles retried in process before the job goes
	// back to the queue; throttles never fail a job.
	MaxThrottles int
	// CallTimeout bounds one Bedrock call.
	CallTimeout time.Duration
	// Poll is the long-poll wait on each queue when idle.
	Poll time.Duration

	est    *estimator
	labels []string
}

func (p *Pool) defaults() {
	if p.Concurrency <= 0 {
		p.Concurrency = 64
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
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
	if p.Log == nil {
		p.Log = slog.Default()
	}
	p.Log = p.Log.With("account", p.Account, "model", p.Alias)
	p.est = newEstimator(float64(p.Model.DefaultMaxTokens) + 256)
	p.labels = []string{p.Account, p.Alias}
	metricBudget.WithLabelValues(p.labels...).Set(p.Budget.Limits().TPM)
}

// Run pulls and runs jobs until ctx ends, then waits for calls in flight.
//
// Interactive and batch work are fed by two loops, each long-polling its own
// queue, so a slow receive from a deep batch queue never delays an
// interactive message. Batch work is taken only while the budget holds a
// reserve beyond it: the bucket then floats at that reserve instead of at
// zero, so arriving interactive work finds tokens at once, and batches still
// get the whole refill rate that interactive work leaves.
func (p *Pool) Run(ctx context.Context) error {
	p.defaults()
	var wg sync.WaitGroup
	defer wg.Wait()
	go p.observeBudget(ctx)
	batchReserve := func(typical float64) float64 { return min(2*typical, p.Budget.Capacity()/2) }
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.feed(ctx, &wg, queue.Batch, max(p.Concurrency/2, 1), batchReserve)
	}()
	p.feed(ctx, &wg, queue.Interactive, p.Concurrency, func(float64) float64 { return 0 })
	return nil
}

// feed receives from one of the alias's queues and starts each message, at
// most concurrency at a time, while the budget has room for it plus reserve.
func (p *Pool) feed(ctx context.Context, wg *sync.WaitGroup, prio queue.Priority, concurrency int, reserve func(typical float64) float64) {
	slots := make(chan struct{}, concurrency)
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		// Receive only when the budget has room: excess demand waits in SQS,
		// visible to every pool that could serve it, and spends no receive
		// count. The reservation itself is made per message, just before its
		// call, so that it is in flight to Bedrock as briefly as possible.
		typical := p.est.typicalCost()
		keep := reserve(typical)
		level, wait, err := p.Budget.Room(ctx, typical+keep)
		if err != nil || level < typical+keep {
			<-slots
			if err != nil && ctx.Err() == nil {
				p.Log.WarnContext(ctx, "budget", "err", err)
				wait = time.Second
			}
			sleep(ctx, min(max(wait, 5*time.Millisecond), time.Second))
			continue
		}
		n := 1
		for n < 10 && float64(n+1)*typical+keep <= level && len(slots) < cap(slots) {
			slots <- struct{}{}
			n++
		}
		msgs, err := p.Queues.Receive(ctx, p.Alias, prio, n, p.Poll)
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.Log.WarnContext(ctx, "receive", "queue", prio, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		for _, m := range msgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				// A job in flight finishes even when the process is asked to stop:
				// a caller is waiting for it.
				p.handle(context.WithoutCancel(ctx), m)
			}()
		}
	}
}

// observeBudget exports the budget's backpressure factor.
func (p *Pool) observeBudget(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		if s, err := p.Budget.Snapshot(ctx); err == nil {
			metricFactor.WithLabelValues(p.labels...).Set(s.Factor)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// handle runs one message: claim, reserve, call, settle, record.
func (p *Pool) handle(ctx context.Context, m queue.Message) {
	log := p.Log.With("job", m.JobID)
	job, err := p.Store.Claim(ctx, m.JobID, p.Account, queue.VisibilityTimeout)
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		log.WarnContext(ctx, "message for unknown job; deleting")
		p.delete(ctx, m)
		return
	case errors.Is(err, jobs.ErrNotClaimable):
		if job.State.Terminal() {
			// A duplicate delivery, or a job cancelled before it started.
			p.delete(ctx, m)
		}
		// Otherwise another worker holds it; the message comes back if that worker dies.
		return
	case err != nil:
		log.ErrorContext(ctx, "claim", "err", err)
		return
	}
	stopHeartbeat := p.heartbeat(ctx, m, job)
	defer stopHeartbeat()

	// Converse, ConverseStream or InvokeModel (see call.go).
	call, oerr := p.prepare(job)
	if oerr != nil {
		p.finish(ctx, m, job, jobs.Outcome{State: jobs.Failed, Error: oerr.Record()})
		return
	}

	// Bedrock reserves input + maxTokens at call start; so does the pool.
	cost := p.est.input(len(job.Request)) + float64(call.maxOutput())
	p.est.reserved(cost)
	if limit := p.Budget.Capacity(); cost > limit {
		e := openai.InvalidRequest("max_tokens", "This request needs about %.0f tokens of quota (input + max_tokens), more than account %s can ever admit at once for %s (%.0f); lower max_tokens.", cost, p.Account, p.Alias, limit)
		p.finish(ctx, m, job, jobs.Outcome{State: jobs.Failed, Error: e.Record()})
		return
	}
	if err := p.Budget.Reserve(ctx, cost, 1); err != nil {
		log.WarnContext(ctx, "reserve", "err", err)
		p.requeue(ctx, m, job, time.Second)
		return
	}

	for throttles := 0; ; throttles++ {
		metricReserved.WithLabelValues(p.labels...).Add(cost)
		callCtx, cancel := context.WithTimeout(ctx, p.CallTimeout)
		res, err := call.run(callCtx, cost)
		cancel()
		metricReserved.WithLabelValues(p.labels...).Sub(cost)
		if err == nil {
			p.settle(ctx, m, job, res, cost)
			return
		}
		c := bedrock.Classify(err)
		metricCalls.WithLabelValues(p.Account, p.Alias, c.Verdict.String()).Inc()
		// A refused call costs Bedrock's quota nothing; a stream that failed
		// before reaching its caller costs what it produced.
		p.giveBack(ctx, cost-res.charged, 0)
		log := log.With("code", c.Code, "verdict", c.Verdict, "attempt", job.Attempts)
		switch {
		case c.Verdict == bedrock.Throttled:
			metricThrottles.WithLabelValues(p.labels...).Inc()
			if err := p.Budget.Throttled(ctx); err != nil {
				log.WarnContext(ctx, "shrink budget", "err", err)
			}
			if err := p.Store.NoteThrottle(ctx, job.ID, job.Attempts); err != nil {
				log.WarnContext(ctx, "note throttle", "err", err)
			}
			if throttles+1 >= p.MaxThrottles {
				log.InfoContext(ctx, "throttled repeatedly; back to the queue")
				p.requeue(ctx, m, job, time.Second+rand.N(5*time.Second))
				return
			}
			// Wait in process for the shrunk budget: the message keeps its
			// receive count, so throttles never push it toward the DLQ.
			if err := p.Budget.Reserve(ctx, cost, 1); err != nil {
				log.WarnContext(ctx, "reserve after throttle", "err", err)
				return
			}
			continue
		case c.Verdict == bedrock.Permanent:
			log.InfoContext(ctx, "bedrock refused the job", "err", err)
			p.finish(ctx, m, job, jobs.Outcome{State: jobs.Failed, Error: c.Error.Record()})
		case job.Attempts >= p.MaxAttempts:
			log.WarnContext(ctx, "giving up after transient errors", "err", err)
			p.finish(ctx, m, job, jobs.Outcome{State: jobs.Failed, Error: c.Error.Record()})
		default:
			delay := backoff(job.Attempts)
			log.InfoContext(ctx, "transient error; back to the queue", "delay", delay, "err", err)
			p.requeue(ctx, m, job, delay)
		}
		return
	}
}

// settle ends a call that ran: the reservation becomes what the call was
// charged, as Bedrock settles it, and the job gets its outcome.
func (p *Pool) settle(ctx context.Context, m queue.Message, job *jobs.Job, res result, reserved float64) {
	metricCalls.WithLabelValues(p.Account, p.Alias, res.label()).Inc()
	if res.inputTokens > 0 {
		p.est.observe(len(job.Request), res.inputTokens)
	}
	metricUsed.WithLabelValues(p.labels...).Add(res.charged)
	p.giveBack(ctx, reserved-res.charged, 0)
	p.finish(ctx, m, job, res.outcome)
}

func (p *Pool) giveBack(ctx context.Context, tokens float64, requests int) {
	if tokens == 0 && requests == 0 {
		return
	}
	if err := p.Budget.Return(ctx, tokens, requests); err != nil {
		p.Log.WarnContext(ctx, "return budget", "tokens", tokens, "err", err)
	}
}

// heartbeat keeps the job's lease and the message's visibility ahead of a long
// wait or call, so no other worker starts the same job meanwhile.
func (p *Pool) heartbeat(ctx context.Context, m queue.Message, job *jobs.Job) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(queue.VisibilityTimeout / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := p.Store.ExtendLease(ctx, job.ID, job.Attempts, queue.VisibilityTimeout); err != nil {
					p.Log.WarnContext(ctx, "extend lease", "job", job.ID, "err", err)
				}
				if err := p.Queues.Delay(ctx, m, queue.VisibilityTimeout); err != nil {
					p.Log.WarnContext(ctx, "extend visibility", "job", job.ID, "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (p *Pool) finish(ctx context.Context, m queue.Message, job *jobs.Job, o jobs.Outcome) {
	err := p.Store.Finish(ctx, job.ID, job.Attempts, o)
	if errors.Is(err, jobs.ErrLeaseLost) {
		p.Log.WarnContext(ctx, "lease lost; result dropped", "job", job.ID, "attempt", job.Attempts)
		return
	}
	if err != nil {
		// Keep the message: it comes back after the visibility timeout and the
		// job is tried again once its lease has run out.
		p.Log.ErrorContext(ctx, "record outcome", "job", job.ID, "err", err)
		return
	}
	p.delete(ctx, m)
}

func (p *Pool) requeue(ctx context.Context, m queue.Message, job *jobs.Job, delay time.Duration) {
	if err := p.Store.Release(ctx, job.ID, job.Attempts); err != nil {
		p.Log.WarnContext(ctx, "release", "job", job.ID, "err", err)
		return
	}
	if err := p.Queues.Delay(ctx, m, delay); err != nil {
		p.Log.WarnContext(ctx, "delay message", "job", job.ID, "err", err)
	}
}

func (p *Pool) delete(ctx context.Context, m queue.Message) {
	if err := p.Queues.Delete(ctx, m); err != nil {
		p.Log.WarnContext(ctx, "delete message", "job", m.JobID, "err", err)
	}
}

// backoff is exponential with jitter: about 1 s, 2 s, 4 s ... up to 5 minutes.
func backoff(attempt int) time.Duration {
	ceiling := min(time.Second<<min(max(attempt, 0), 9), 5*time.Minute)
	return time.Second + rand.N(ceiling)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
