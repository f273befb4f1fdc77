package worker

import (
	"context"
	"time"

	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/pools"
	"github.com/sluice-broker/sluice/internal/queue"
)

// Fallback is where an alias's queued jobs go when its own accounts cannot
// serve them: To in order of preference; After is how long a job may wait
// before it moves even while the alias is served (0: only when it is not).
type Fallback struct {
	To    []string
	After time.Duration
}

// Fallbacks are the fallbacks of a configuration's aliases.
func Fallbacks(cfg *config.Config) map[string]Fallback {
	out := map[string]Fallback{}
	for alias, m := range cfg.Models {
		if len(m.Fallbacks) > 0 {
			out[alias] = Fallback{To: m.Fallbacks, After: m.FallbackAfter}
		}
	}
	return out
}

// moveLimit bounds the jobs one sweep moves per alias.
const moveLimit = 500

// moveToFallbacks moves queued interactive jobs to a fallback alias: all of
// them when no account of their alias can serve now, and those that waited
// longer than the alias's fallback_after otherwise. The fallback is the
// first of the list with a pool that can serve; when nothing is known of
// any of them yet, the first. A moved job keeps the alias it was asked for
// (requested_model) and gets a token in its new alias's queue.
func (j *Janitor) moveToFallbacks(ctx context.Context) {
	if len(j.Fallbacks) == 0 {
		return
	}
	hs, err := j.Health.All(ctx)
	if err != nil {
		j.Log.WarnContext(ctx, "read pool health for fallbacks", "err", err)
		return
	}
	down := pools.Unavailable(hs, time.Now())
	known := map[string]bool{}
	for _, h := range hs {
		if h.Fresh(time.Now()) {
			known[h.Model] = true
		}
	}
	for alias, fb := range j.Fallbacks {
		waited := fb.After
		if down[alias] {
			waited = 0
		} else if waited <= 0 {
			continue
		}
		to := ""
		for _, t := range fb.To {
			if known[t] && !down[t] {
				to = t
				break
			}
		}
		if to == "" && !known[fb.To[0]] {
			to = fb.To[0]
		}
		if to == "" {
			continue // every fallback is down too: moving would not help
		}
		moved, err := j.Store.MoveToFallback(ctx, alias, to, waited, moveLimit)
		if err != nil {
			j.Log.WarnContext(ctx, "move jobs to a fallback", "from", alias, "to", to, "err", err)
			continue
		}
		var sent []string
		for _, m := range moved {
			if err := j.Queues.SendAfter(ctx, queue.Priority(m.Priority), queue.Body{JobID: m.ID, Model: to}, 0); err != nil {
				// Left unenqueued: the sweep's resend of unsent jobs sends it.
				j.Log.WarnContext(ctx, "send token for a job moved to a fallback", "job", m.ID, "to", to, "err", err)
				continue
			}
			sent = append(sent, m.ID)
		}
		if err := j.Store.MarkEnqueuedMany(ctx, sent); err != nil {
			j.Log.WarnContext(ctx, "mark moved jobs enqueued", "to", to, "err", err)
		}
		if len(moved) > 0 {
			metricFallbacks.WithLabelValues(alias, to).Add(float64(len(moved)))
			j.Log.InfoContext(ctx, "moved queued jobs to a fallback", "from", alias, "to", to, "jobs", len(moved), "unavailable", down[alias], "waited", waited)
		}
	}
}
