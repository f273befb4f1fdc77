package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
)

// How a stream's output is batched into chunks. The first content goes out
// at once, since time to first token is what a caller feels; after that a
// chunk is written at most every flushInterval, or when flushBytes gather, so
// that a fast model costs one INSERT and NOTIFY per interval rather than per
// token, and every notification stays well under Postgres's 8000 bytes.
const (
	flushInterval = 50 * time.Millisecond
	flushBytes    = 4 << 10
)

// streamCall runs a chat completion with ConverseStream and relays its
// events, as OpenAI chunks, to the api through the job's chunk table and
// NOTIFY. The api adds the closing [DONE] (or error event) when the job ends.
//
// Output that may have reached the caller is never produced again: a
// failure before the first chunk is written is handled like a failed
// Converse call (throttles wait, transient errors retry), but once a chunk is
// written the job fails with the error instead, and a job that already has
// chunks when it is claimed (its worker died mid-stream) fails at once.
type streamCall struct {
	p            *Pool
	job          *jobs.Job
	in           *bedrockruntime.ConverseInput
	includeUsage bool
}

func (c *streamCall) maxOutput() int { return int(aws.ToInt32(c.in.InferenceConfig.MaxTokens)) }

func (c *streamCall) run(ctx context.Context, reserved float64) (result, error) {
	p, job := c.p, c.job
	sent, err := p.Store.HasChunks(ctx, job.ID)
	if err != nil {
		return result{}, err
	}
	if sent {
		e := openai.ServerError(fmt.Sprintf("The stream of job %s was interrupted after part of it was sent (its worker stopped); it is not retried, since the caller already has part of the answer.", job.ID)).WithCode("stream_interrupted")
		return result{outcome: jobs.Outcome{State: jobs.Failed, Error: e.Record()}}, nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out, err := p.Client.ConverseStream(ctx, bedrock.StreamInput(c.in))
	if err != nil {
		return result{}, err
	}
	stream := out.GetStream()
	defer stream.Close()

	conv := &bedrock.StreamConverter{ID: completionID(job), Model: job.Model, Created: time.Now().Unix(), IncludeUsage: c.includeUsage}
	r := &relay{store: p.Store, job: job}
	stopErr := r.pump(ctx, stream.Events(), conv)
	stopped := ctx.Err() != nil
	// Ending the call's context closes the connection: Bedrock stops
	// generating (and charging) for a caller that has gone. The last chunks
	// are written after it, with the job's own context.
	cancel()
	ctx = context.WithoutCancel(ctx)

	// Admitted calls that end early are charged what they produced; Bedrock
	// reports nothing for them, so the pool estimates it.
	produced := func() float64 {
		output := max(conv.Deltas, int(math.Ceil(float64(conv.Bytes)/4)))
		return p.est.input(len(job.Request)) + float64(output)*p.Model.Burndown
	}
	switch {
	case errors.Is(stopErr, jobs.ErrLeaseLost):
		// The caller hung up and the job was cancelled (the Finish below is
		// refused), or it was claimed again: settle what was produced.
		e := openai.InvalidRequest("", "The client closed the connection before the stream finished.").WithCode("client_closed")
		return result{outcome: jobs.Outcome{State: jobs.Cancelled, Error: e.Record()}, charged: produced()}, nil
	case stopErr != nil:
		e := openai.ServerError(fmt.Sprintf("The stream of job %s could not be relayed: %v", job.ID, stopErr))
		return result{outcome: jobs.Outcome{State: jobs.Failed, Error: e.Record()}, charged: produced()}, nil
	}

	err = stream.Err()
	if err == nil && !stopped && !conv.Ended() {
		// The events ended without messageStop and without an error (the
		// connection went): the answer is cut off, not complete.
		err = &smithy.GenericAPIError{Code: "ModelStreamErrorException", Message: "the stream ended before its messageStop event"}
	}
	if err != nil {
		if r.seq == 0 {
			// Nothing reached the caller: the call can be tried again.
			return result{charged: produced()}, err
		}
		// Part of the answer is out; the caller gets it, then the error.
		if ferr := r.flush(ctx); ferr != nil {
			p.Log.With(jobs.LogAttrs(job.ID)...).WarnContext(ctx, "flush the end of a failed stream", "err", ferr)
		}
		cl := bedrock.Classify(err)
		p.Log.With(jobs.LogAttrs(job.ID)...).InfoContext(ctx, "stream failed after output was sent; not retried", "code", cl.Code, "err", err)
		return result{outcome: jobs.Outcome{State: jobs.Failed, Error: cl.Error.Record()}, charged: produced()}, nil
	}

	if err := r.flush(ctx); err != nil && !errors.Is(err, jobs.ErrLeaseLost) {
		e := openai.ServerError(fmt.Sprintf("The stream of job %s could not be relayed: %v", job.ID, err))
		return result{outcome: jobs.Outcome{State: jobs.Failed, Error: e.Record()}, charged: produced()}, nil
	}
	charged, input := p.charge(conv.Usage(), reserved)
	resp := conv.Completion()
	return result{outcome: jobs.Outcome{State: jobs.Succeeded, Response: resp, Usage: resp.Usage}, charged: charged, inputTokens: input}, nil
}

// relay batches a stream's chunks and writes them to the job's chunk table.
type relay struct {
	store     Store
	job       *jobs.Job
	buf       []byte
	seq       int       // chunks written
	lastFlush time.Time // zero until the first chunk
}

// pump relays events until the stream ends (also when ctx does: the SDK then
// closes the events with the context's error; a caller who hangs up ends ctx
// through the pool's watch), and returns why it stopped early: ErrLeaseLost,
// or an error writing a chunk.
func (r *relay) pump(ctx context.Context, events <-chan types.ConverseStreamOutput, conv *bedrock.StreamConverter) error {
	timer := time.NewTimer(flushInterval)
	timer.Stop()
	defer timer.Stop()
	armed := false
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			urgent := false
			for _, chunk := range conv.Event(ev) {
				var err error
				if r.buf, err = openai.AppendEvent(r.buf, chunk); err != nil {
					return err
				}
				urgent = urgent || carriesContent(chunk)
			}
			since := time.Since(r.lastFlush)
			switch {
			case len(r.buf) >= flushBytes || (urgent && since >= flushInterval):
				timer.Stop()
				armed = false
				if err := r.flush(ctx); err != nil {
					return err
				}
			case len(r.buf) > 0 && !armed && r.seq > 0:
				// Before the first content nothing goes out by itself (a role
				// chunk waits for it): until then the call can still be
				// retried without the caller noticing.
				timer.Reset(max(flushInterval-since, 0))
				armed = true
			}
		case <-timer.C:
			armed = false
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// carriesContent tells a chunk with text or a tool call, which a caller
// waits for, from one with only a role or a finish reason.
func carriesContent(c openai.ChatCompletionChunk) bool {
	if len(c.Choices) == 0 {
		return false
	}
	d := c.Choices[0].Delta
	return (d.Content != nil && *d.Content != "") || len(d.ToolCalls) > 0
}

// flush writes what is buffered as the next chunk.
func (r *relay) flush(ctx context.Context) error {
	if len(r.buf) == 0 {
		return nil
	}
	if err := r.store.AppendChunk(ctx, r.job.ID, r.job.Attempts, r.seq+1, r.buf); err != nil {
		return err
	}
	r.seq++
	r.buf = r.buf[:0]
	r.lastFlush = time.Now()
	return nil
}
