// Package worker drains the queues: one Pool per (account, model alias) pulls
// job ids from SQS, calls Bedrock with that account's credentials, and writes
// the outcome to the job store.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/queue"
)

// Converser is the part of the Bedrock Runtime client a pool uses.
type Converser interface {
	Converse(ctx context.Context, in *bedrockruntime.ConverseInput, opts ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error)
}

// Pool serves one model alias from one account.
type Pool struct {
	Account string
	Alias   string
	Model   config.Model
	Client  Converser
	Store   *jobs.Store
	Queues  *queue.Queues
	Log     *slog.Logger

	// Concurrency bounds calls in flight. The budget bounds tokens.
	Concurrency int
	// MaxAttempts bounds attempts that end in a transient error; throttles do not count.
	MaxAttempts int
	// CallTimeout bounds one Bedrock call.
	CallTimeout time.Duration
	// Poll is the long-poll wait on the interactive queue when idle.
	Poll time.Duration
}

func (p *Pool) defaults() {
	if p.Concurrency <= 0 {
		p.Concurrency = 16
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
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
}

// Run pulls and runs jobs until ctx ends, then waits for calls in flight.
func (p *Pool) Run(ctx context.Context) error {
	p.defaults()
	slots := make(chan struct{}, p.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		// Take every free slot, blocking for the first: never receive a message
		// that cannot start at once, or it ages invisible in this process.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		free := 1
		for free < 10 && len(slots) < cap(slots) {
			slots <- struct{}{}
			free++
		}
		msgs, err := p.receive(ctx, free)
		for range free - len(msgs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.Log.WarnContext(ctx, "receive", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		for _, m := range msgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				// A job in flight finishes even when the process is asked to stop:
				// the caller is waiting for it.
				p.handle(context.WithoutCancel(ctx), m)
			}()
		}
	}
	return nil
}

// receive drains interactive work first; batch work gets the rest.
func (p *Pool) receive(ctx context.Context, n int) ([]queue.Message, error) {
	msgs, err := p.Queues.Receive(ctx, p.Alias, queue.Interactive, n, 0)
	if err != nil || len(msgs) > 0 {
		return msgs, err
	}
	msgs, err = p.Queues.Receive(ctx, p.Alias, queue.Batch, n, 0)
	if err != nil || len(msgs) > 0 {
		return msgs, err
	}
	return p.Queues.Receive(ctx, p.Alias, queue.Interactive, n, p.Poll)
}

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

	var req openai.ChatCompletionRequest
	if err := json.Unmarshal(job.Request, &req); err != nil {
		p.finish(ctx, m, job, jobs.Outcome{State: jobs.Failed, Error: openai.ServerError("stored request is unreadable: " + err.Error()).Record()})
		return
	}
	in, oerr := bedrock.ConverseRequest(&req, p.Model)
	if oerr != nil {
		p.finish(ctx, m, job, jobs.Outcome{State: jobs.Failed, Error: oerr.Record()})
		return
	}

	callCtx, cancel := context.WithTimeout(ctx, p.CallTimeout)
	stopHeartbeat := p.heartbeat(callCtx, m, job)
	out, err := p.Client.Converse(callCtx, in)
	stopHeartbeat()
	cancel()
	if err == nil {
		resp := bedrock.ChatCompletion(out, "chatcmpl-"+job.ID[len("job_"):], job.Model, time.Now().Unix())
		p.finish(ctx, m, job, jobs.Outcome{State: jobs.Succeeded, Response: resp, Usage: resp.Usage})
		return
	}

	c := bedrock.Classify(err)
	log = log.With("code", c.Code, "verdict", c.Verdict, "attempt", job.Attempts)
	switch {
	case c.Verdict == bedrock.Permanent:
		log.InfoContext(ctx, "bedrock refused the job", "err", err)
		p.finish(ctx, m, job, jobs.Outcome{State: jobs.Failed, Error: c.Error.Record()})
	case c.Verdict == bedrock.Retryable && job.Attempts-job.Throttles >= p.MaxAttempts:
		log.WarnContext(ctx, "giving up after transient errors", "err", err)
		p.finish(ctx, m, job, jobs.Outcome{State: jobs.Failed, Error: c.Error.Record()})
	default:
		delay := backoff(job.Attempts - job.Throttles)
		if c.Verdict == bedrock.Throttled {
			delay = time.Second + rand.N(2*time.Second)
		}
		log.InfoContext(ctx, "back to the queue", "delay", delay, "err", err)
		p.requeue(ctx, m, job, c.Verdict == bedrock.Throttled, delay)
	}
}

// heartbeat keeps the job's lease and the message's visibility ahead of a long
// call, so no other worker starts the same job meanwhile.
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

func (p *Pool) requeue(ctx context.Context, m queue.Message, job *jobs.Job, throttled bool, delay time.Duration) {
	if err := p.Store.Release(ctx, job.ID, job.Attempts, throttled); err != nil {
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

// backoff is exponential with full jitter: 1 s, 2 s, 4 s ... up to 5 minutes.
func backoff(attempt int) time.Duration {
	ceiling := min(time.Second<<min(attempt, 9), 5*time.Minute)
	return time.Second + rand.N(ceiling)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
