package worker

import (
	"context"
	"encoding/json"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
)

// embedConcurrency bounds the InvokeModel calls of one embeddings job in
// flight at once (Titan embeds one text per call).
const embedConcurrency = 4

// embedCall runs an embeddings request: one InvokeModel call per text (Titan)
// or per 96 texts (Cohere). Any failed call fails the attempt, which is then
// retried whole: embeddings are idempotent, and none reached the caller.
type embedCall struct {
	p     *Pool
	job   *jobs.Job
	req   *openai.EmbeddingRequest
	calls []bedrock.EmbeddingCall
}

func (p *Pool) prepareEmbedding(job *jobs.Job) (call, *openai.Error) {
	var req openai.EmbeddingRequest
	if err := json.Unmarshal(job.Request, &req); err != nil {
		return nil, openai.ServerError("stored request is unreadable: " + err.Error())
	}
	calls, oerr := bedrock.EmbeddingCalls(&req, p.Model)
	if oerr != nil {
		return nil, oerr
	}
	return &embedCall{p: p, job: job, req: &req, calls: calls}, nil
}

// maxOutput is zero: an embedding has no output tokens.
func (c *embedCall) maxOutput() int { return 0 }

func (c *embedCall) run(ctx context.Context, reserved float64) (result, error) {
	vectors := make([][]float32, len(c.req.Input.Texts))
	var mu sync.Mutex
	tokens := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(embedConcurrency)
	for _, call := range c.calls {
		g.Go(func() error {
			out, err := c.p.Client.InvokeModel(gctx, call.Input)
			if err != nil {
				return err
			}
			vs, n, err := call.Vectors(out)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for i, idx := range call.Indexes {
				vectors[idx] = vs[i]
			}
			tokens += n
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		// The calls that succeeded were charged their input.
		return result{charged: float64(tokens)}, err
	}
	charged := float64(tokens)
	if tokens == 0 {
		charged = reserved // Bedrock reported no counts
	}
	resp := bedrock.EmbeddingList(c.job.Model, c.req.EncodingFormat, vectors, tokens)
	return result{outcome: jobs.Outcome{State: jobs.Succeeded, Response: resp, Usage: resp.Usage}, charged: charged, inputTokens: tokens}, nil
}
