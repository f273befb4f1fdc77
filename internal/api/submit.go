package api

import (
	"context"
	"math"
	"time"

	"github.com/sluice-broker/sluice/internal/budget"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/queue"
)

// enqueue sends a new job's queue token and records that it was sent: in a
// batch with others' (s.Tokens), or at once without one. A failed send loses
// nothing: the job is safe in the table and the worker's janitor sends it.
func (s *Server) enqueue(ctx context.Context, job *jobs.Job) {
	if s.Tokens != nil {
		s.Tokens.Add(queue.Interactive, queue.Body{JobID: job.ID, Model: job.Model})
		return
	}
	log := s.Log.With(jobs.LogAttrs(job.ID)...).With("model", job.Model)
	if err := s.Queue.Send(ctx, queue.Interactive, queue.Body{JobID: job.ID, Model: job.Model}); err != nil {
		log.WarnContext(ctx, "enqueue failed; the janitor will send it", "err", err)
	} else if err := s.Store.MarkEnqueued(ctx, job.ID); err != nil {
		log.WarnContext(ctx, "mark enqueued", "err", err)
	}
}

// minTokensPerByte is the fewest tokens per byte any tokenizer yields for a
// stored request, so that the estimate below is a floor: the api refuses only
// what no account could ever admit, and the worker's sharper estimate (learned
// from Bedrock's counts) still refuses the rest.
const (
	minTokensPerByte = 1.0 / 8
	overheadTokens   = 16
)

// fitsBudget refuses at submit a request that can never fit any serving
// account's budget: Bedrock reserves input + max_tokens against the quota at
// call start, so a request above every serving account's bucket capacity
// would wait for ever or fail later.
func (s *Server) fitsBudget(alias string, requestBytes, maxTokens int) *openai.Error {
	input := math.Ceil(float64(requestBytes)*minTokensPerByte) + overheadTokens
	need := input + float64(maxTokens)
	best, bestAccount := -1.0, ""
	for _, acct := range s.Config.Accounts {
		b, ok := acct.Models[alias]
		if !ok {
			continue
		}
		window := s.Config.Env.Window
		if window <= 0 {
			window = time.Minute
		}
		// The bucket's capacity as the worker's pool builds it (budget.Shared).
		if c := float64(b.TPM) - budget.DefaultSlack(float64(b.TPM), window); c > best {
			best, bestAccount = c, acct.Name
		}
	}
	if best < 0 || need <= best {
		return nil
	}
	param := "max_tokens"
	advice := "lower max_tokens"
	if input > best {
		param, advice = "messages", "shorten the input"
	}
	if maxTokens == 0 {
		param, advice = "input", "shorten the input"
	}
	return openai.InvalidRequest(param, "This request needs at least %.0f tokens of quota at once (input ≥ %.0f + max_tokens %d), more than any account serving '%s' can ever admit: the largest, account %s, admits %.0f per quota window. Please %s.",
		need, input, maxTokens, alias, bestAccount, best, advice).WithCode("exceeds_budget")
}
