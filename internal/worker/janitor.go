package worker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/pools"
	"github.com/sluice-broker/sluice/internal/queue"
)

// Janitor makes sure every accepted job ends in a terminal state: it sends the
// tokens an api failed to send, puts back in the queue the jobs whose worker's
// lease lapsed (the worker died), expires queued jobs whose callers stopped
// waiting, and turns dead-lettered tokens into fresh ones. Any number of
// replicas may run one; the job row's state machine makes their overlaps
// harmless, and a token too many claims nothing.
type Janitor struct {
	Store   *jobs.Store
	Queues  *queue.Queues
	Aliases []string
	Log     *slog.Logger
	// Every is the sweep interval; Grace is how old an unsent job must be
	// before the janitor sends it (the api normally does so within milliseconds).
	Every, Grace time.Duration
	// Fallbacks are the aliases' fallbacks (see moveToFallbacks); Health
	// says which aliases' pools can serve.
	Fallbacks map[string]Fallback
	Health    pools.Store

	// created is each queue's creation time when last swept (see resendLost).
	created map[queue.Priority]map[string]time.Time
}

// Run sweeps until ctx ends.
func (j *Janitor) Run(ctx context.Context) error {
	if j.Every <= 0 {
		j.Every = 5 * time.Second
	}
	if j.Grace <= 0 {
		j.Grace = 30 * time.Second
	}
	t := time.NewTicker(j.Every)
	defer t.Stop()
	for {
		j.Sweep(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep runs one pass.
func (j *Janitor) Sweep(ctx context.Context) {
	j.requeueLost(ctx)
	if n, err := j.Store.ExpireOverdue(ctx); err != nil {
		j.Log.WarnContext(ctx, "expire overdue jobs", "err", err)
	} else if n > 0 {
		j.Log.InfoContext(ctx, "expired queued jobs past their deadline", "jobs", n)
	}
	unsent, err := j.Store.Unenqueued(ctx, j.Grace, 500)
	if err != nil {
		j.Log.WarnContext(ctx, "list unsent jobs", "err", err)
	}
	for _, job := range unsent {
		if err := j.Queues.Send(ctx, queue.Priority(job.Priority), queue.Body{JobID: job.ID, Model: job.Model}); err != nil {
			j.Log.With(jobs.LogAttrs(job.ID)...).WarnContext(ctx, "send unsent job", "err", err)
			continue
		}
		if err := j.Store.MarkEnqueued(ctx, job.ID); err != nil {
			j.Log.With(jobs.LogAttrs(job.ID)...).WarnContext(ctx, "mark unsent job enqueued", "err", err)
		}
		j.Log.With(jobs.LogAttrs(job.ID)...).InfoContext(ctx, "sent a token the api had not sent", "state", job.State)
	}
	j.moveToFallbacks(ctx)
	for _, alias := range j.Aliases {
		for _, p := range []queue.Priority{queue.Interactive, queue.Batch} {
			j.resendLost(ctx, alias, p)
			j.drainDead(ctx, alias, p)
			metricQueueDepth.WithLabelValues(alias, string(p)).Set(0)
			metricQueueAge.WithLabelValues(alias, string(p)).Set(0)
		}
	}
	backlogs, err := j.Store.Backlogs(ctx)
	if err != nil {
		j.Log.WarnContext(ctx, "measure backlog", "err", err)
	}
	for _, b := range backlogs {
		metricQueueDepth.WithLabelValues(b.Model, string(b.Priority)).Set(float64(b.Jobs))
		metricQueueAge.WithLabelValues(b.Model, string(b.Priority)).Set(b.Oldest.Seconds())
	}
}

// MaxRuns bounds how often a job may lose its worker mid-run (the process
// died, or lost the database past its lease) before it is failed: a request
// that kills its worker must not take down every worker in turn.
const MaxRuns = 5

// requeueLost puts back in the queue, with a new token each, the running jobs
// whose worker's lease lapsed.
func (j *Janitor) requeueLost(ctx context.Context) {
	reason := openai.ServerError(fmt.Sprintf("The job's worker stopped while running it %d times; it is not tried again.", MaxRuns))
	lost, err := j.Store.RequeueLost(ctx, MaxRuns, reason.Record(), 500)
	if err != nil {
		j.Log.WarnContext(ctx, "requeue jobs of lost workers", "err", err)
		return
	}
	for _, r := range lost {
		metricRequeued.WithLabelValues(r.Model).Inc()
		if err := j.Queues.SendAfter(ctx, queue.Priority(r.Priority), queue.Body{JobID: r.ID, Model: r.Model}, 0); err != nil {
			j.Log.With(jobs.LogAttrs(r.ID)...).WarnContext(ctx, "send token for requeued job", "err", err)
			continue
		}
		j.Log.With(jobs.LogAttrs(r.ID)...).InfoContext(ctx, "requeued a job whose worker's lease lapsed")
	}
}

// lostMargin widens "sent before the queue was created" by the clock skew
// between Postgres and SQS: a job sent just after its queue came back may get
// a second message, which is harmless because claim is conditional.
const lostMargin = 2 * time.Second

// resendLost sends a message again for every queued job whose message was
// sent before its queue was (re)created: a deleted queue, or a restarted SQS
// server, took that message with it. Reading the queue's creation time also
// makes a process that creates queues recreate a missing one.
//
// A queue seen for the first time is only checked for jobs sent well before
// it existed (bound: its creation less the margin): right after a queue is
// first created, every job is sent within the margin, and resending them all
// would double the first seconds' traffic. A queue whose creation time
// changed since the last sweep was lost under this janitor's eyes: the bound
// is then its creation plus the margin. An unchanged queue needs no query.
func (j *Janitor) resendLost(ctx context.Context, alias string, p queue.Priority) {
	created, err := j.Queues.CreatedAt(ctx, alias, p)
	if err != nil {
		j.Log.WarnContext(ctx, "read queue creation time", "model", alias, "priority", p, "err", err)
		return
	}
	if j.created == nil {
		j.created = map[queue.Priority]map[string]time.Time{}
	}
	if j.created[p] == nil {
		j.created[p] = map[string]time.Time{}
	}
	last, seen := j.created[p][alias]
	if seen && last.Equal(created) {
		return
	}
	bound := created.Add(-lostMargin)
	if seen {
		bound = created.Add(lostMargin)
	}
	if j.resendSentBefore(ctx, alias, p, bound, created) {
		j.created[p][alias] = created
	}
}

// resendSentBefore sends again the queued jobs whose message was sent before
// bound, and reports whether it found them all.
func (j *Janitor) resendSentBefore(ctx context.Context, alias string, p queue.Priority, bound, created time.Time) bool {
	sent := 0
	// At most 10,000 jobs a sweep.
	complete := false
	for page := 0; page < 20 && ctx.Err() == nil && !complete; page++ {
		ids, err := j.Store.SentBefore(ctx, alias, jobs.Priority(p), bound, 500)
		if err != nil {
			j.Log.WarnContext(ctx, "list jobs sent to a lost queue", "model", alias, "priority", p, "err", err)
			return false
		}
		complete = len(ids) < 500
		for chunk := range slices.Chunk(ids, queue.MaxBatch) {
			bodies := make([]queue.Body, len(chunk))
			for i, id := range chunk {
				bodies[i] = queue.Body{JobID: id, Model: alias}
			}
			refused, err := j.Queues.SendBatch(ctx, p, bodies)
			if err != nil {
				j.Log.WarnContext(ctx, "send jobs again", "model", alias, "priority", p, "err", err)
				return false
			}
			if len(refused) > 0 {
				j.Log.WarnContext(ctx, "SQS refused jobs sent again; next sweep retries", "model", alias, "priority", p, "refused", len(refused))
				return false
			}
			if err := j.Store.MarkResent(ctx, chunk, bound); err != nil {
				j.Log.WarnContext(ctx, "mark jobs sent again", "model", alias, "priority", p, "err", err)
				return false
			}
			sent += len(chunk)
		}
	}
	if sent > 0 {
		j.Log.InfoContext(ctx, "sent jobs again whose messages were lost with their queue", "model", alias, "priority", p, "jobs", sent, "queue_created", created)
	}
	return complete
}

func (j *Janitor) drainDead(ctx context.Context, alias string, p queue.Priority) {
	for ctx.Err() == nil {
		msgs, err := j.Queues.ReceiveDead(ctx, alias, p, 10, 0)
		if err != nil {
			j.Log.WarnContext(ctx, "receive from dead-letter queue", "model", alias, "priority", p, "err", err)
			return
		}
		if len(msgs) == 0 {
			return
		}
		metricDeadLettered.WithLabelValues(alias, string(p)).Add(float64(len(msgs)))
		for _, m := range msgs {
			// A token is not its job: one that was received too often (claims
			// failing while the database was away) says nothing against the
			// job it was sent for. The work it stands for is still waiting,
			// so it becomes a fresh token; a surplus one claims nothing and is
			// dropped then.
			if err := j.Queues.SendAfter(ctx, p, queue.Body{JobID: m.JobID, Model: alias}, 0); err != nil {
				j.Log.With(jobs.LogAttrs(m.JobID)...).WarnContext(ctx, "renew dead-lettered token", "err", err)
				return
			}
			j.Log.With(jobs.LogAttrs(m.JobID)...).InfoContext(ctx, "renewed a dead-lettered token", "receives", m.ReceiveCount)
			if err := j.Queues.Delete(ctx, m); err != nil {
				j.Log.With(jobs.LogAttrs(m.JobID)...).WarnContext(ctx, "delete dead letter", "err", err)
			}
		}
	}
}
