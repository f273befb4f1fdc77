package worker

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
)

// call is one way of running a job on Bedrock: Converse, ConverseStream or
// InvokeModel. Pool.handle does everything around it the same way for all
// three: the reservation, throttles, retries and the settlement.
type call interface {
	// maxOutput is the output Bedrock reserves quota for at call start,
	// besides the input.
	maxOutput() int
	// run calls Bedrock once. An error is a failed call, which handle
	// classifies (throttled, retryable, permanent); the result then carries
	// only what the call was charged anyway (a stream that failed before any
	// of it reached the caller). Without an error the call ran, and the
	// result says how the job ends.
	run(ctx context.Context, reserved float64) (result, error)
}

// result is how a call that ran ends its job.
type result struct {
	outcome jobs.Outcome
	// charged is what the call cost the quota, in Bedrock's units: input
	// tokens and cache writes, plus output tokens × burndown.
	charged float64
	// inputTokens is Bedrock's count of the input, for the estimator; 0 when
	// Bedrock did not report it.
	inputTokens int
}

func (r result) label() string {
	switch r.outcome.State {
	case jobs.Succeeded:
		return "ok"
	case jobs.Cancelled:
		return "cancelled"
	}
	return "failed"
}

// prepare reads a job's stored request and builds its call: embeddings for
// an embedding alias, else a chat completion, streamed if the caller asked.
func (p *Pool) prepare(job *jobs.Job) (call, *openai.Error) {
	if p.Model.Embedding() {
		return p.prepareEmbedding(job)
	}
	var req openai.ChatCompletionRequest
	if err := json.Unmarshal(job.Request, &req); err != nil {
		return nil, openai.ServerError("stored request is unreadable: " + err.Error())
	}
	in, oerr := bedrock.ConverseRequest(&req, p.Model)
	if oerr != nil {
		return nil, oerr
	}
	// Only a sync caller waits for the chunks; a job submitted async with
	// stream set is answered whole.
	if req.Stream && job.Mode == jobs.Sync {
		return &streamCall{p: p, job: job, in: in, includeUsage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage}, nil
	}
	return &converseCall{p: p, job: job, in: in}, nil
}

type converseCall struct {
	p   *Pool
	job *jobs.Job
	in  *bedrockruntime.ConverseInput
}

func (c *converseCall) maxOutput() int { return int(aws.ToInt32(c.in.InferenceConfig.MaxTokens)) }

func (c *converseCall) run(ctx context.Context, reserved float64) (result, error) {
	out, err := c.p.Client.Converse(ctx, c.in)
	if err != nil {
		return result{}, err
	}
	charged, input := c.p.charge(out.Usage, reserved)
	resp := bedrock.ChatCompletion(out, completionID(c.job), c.job.Model, time.Now().Unix())
	return result{outcome: jobs.Outcome{State: jobs.Succeeded, Response: resp, Usage: resp.Usage}, charged: charged, inputTokens: input}, nil
}

// charge is what Bedrock charges the quota for a call's usage, and the
// input it counted; the reservation stands when it reported no usage. Cache
// writes count like input, cache reads not at all (docs/ARCHITECTURE.md,
// "Service tiers and prompt caching").
func (p *Pool) charge(u *types.TokenUsage, reserved float64) (charged float64, input int) {
	if u == nil {
		return reserved, 0
	}
	in := float64(aws.ToInt32(u.InputTokens) + aws.ToInt32(u.CacheWriteInputTokens))
	charged = in + float64(aws.ToInt32(u.OutputTokens))*p.Model.Burndown
	return charged, int(aws.ToInt32(u.InputTokens) + aws.ToInt32(u.CacheReadInputTokens) + aws.ToInt32(u.CacheWriteInputTokens))
}

// completionID is the id of a job's chat completion (and of its chunks).
func completionID(job *jobs.Job) string {
	return "chatcmpl-" + strings.TrimPrefix(job.ID, "job_")
}
