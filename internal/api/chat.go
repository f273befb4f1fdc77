package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/queue"
)

func (s *Server) listModels(c echo.Context) error {
	list := openai.List[openai.Model]{Object: "list", Data: []openai.Model{}}
	for _, alias := range s.Config.Aliases() {
		list.Data = append(list.Data, openai.Model{ID: alias, Object: "model", OwnedBy: "sluice"})
	}
	return c.JSON(http.StatusOK, list)
}

func (s *Server) getModel(c echo.Context) error {
	alias := c.Param("model")
	if _, ok := s.Config.Models[alias]; !ok {
		return openai.ModelNotFound(alias)
	}
	return c.JSON(http.StatusOK, openai.Model{ID: alias, Object: "model", OwnedBy: "sluice"})
}

func (s *Server) chatCompletions(c echo.Context) error {
	// The request is read, stored and sent on a goroutine of its own. The
	// deep stacks of that work (JSON, pgx, the AWS SDK's middleware) go with
	// it, and so does the request: the handler's goroutine, which may wait
	// minutes for the result, keeps a small stack and only the job.
	sub := runShort(func() submittedChat { return s.submitChat(c) })
	if sub.err != nil {
		return sub.err
	}
	job := sub.job
	if sub.first != nil {
		// A retried submit: answer with the job the first one made.
		job = sub.first
		if sub.async {
			return accepted(c, job, true)
		}
	} else if sub.async {
		return accepted(c, job, false)
	}
	if sub.stream {
		return s.streamResult(c, job) // stream.go
	}
	return s.awaitResult(c, job)
}

// submittedChat is what submitChat leaves for the waiting handler.
type submittedChat struct {
	job, first    *jobs.Job // the new job; the first one of a retried submit
	async, stream bool
	err           error
}

// submitChat reads and checks a chat completion request, stores its job and
// sends it to the queue.
func (s *Server) submitChat(c echo.Context) submittedChat {
	r := c.Request()
	req, oerr := openai.DecodeChatCompletionRequest(http.MaxBytesReader(c.Response(), r.Body, MaxBodyBytes))
	if oerr != nil {
		return submittedChat{err: oerr}
	}
	model, ok := s.Config.Models[req.Model]
	if !ok {
		return submittedChat{err: openai.ModelNotFound(req.Model)}
	}
	// Translate now, so that a request Bedrock would refuse is refused here,
	// before a job exists.
	if _, oerr := bedrock.ConverseRequest(req, model); oerr != nil {
		return submittedChat{err: oerr}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return submittedChat{err: err}
	}
	sub, oerr := s.submission(c, body)
	if oerr != nil {
		return submittedChat{err: oerr}
	}
	if sub.async && req.Stream {
		// Nobody would read the stream: an async result is collected whole.
		return submittedChat{err: openai.InvalidRequest("stream", "A streamed completion cannot be answered asynchronously; send stream=false with Prefer: respond-async.")}
	}
	// A caller that can collect the result later (by retrying with its
	// idempotency key, or from its callback) does not cancel it by hanging up.
	c.Set(keepOnHangup, sub.IdempotencyKey != "" || sub.CallbackURL != "")
	job := &jobs.Job{ID: jobs.NewID(), Tenant: tenant(c), Model: req.Model, Priority: jobs.Interactive, Mode: sub.mode(), Request: body}
	out := submittedChat{async: sub.async, stream: req.Stream}
	first, err := s.Store.Submit(r.Context(), job, sub.Submission)
	if err != nil {
		return submittedChat{err: submitError(job, sub, err)}
	}
	if first != nil {
		first.Request = nil
		out.first = first
		return out
	}
	log := s.Log.With("job", job.ID, "model", job.Model)
	if err := s.Queue.Send(r.Context(), queue.Interactive, queue.Body{JobID: job.ID, Model: job.Model}); err != nil {
		// The job is safe in the table; the worker's janitor sends it.
		log.WarnContext(r.Context(), "enqueue failed; the janitor will send it", "err", err)
	} else if err := s.Store.MarkEnqueued(r.Context(), job.ID); err != nil {
		log.WarnContext(r.Context(), "mark enqueued", "err", err)
	}
	// Stored and sent: whoever waits for the job need not hold the request.
	job.Request = nil
	out.job = job
	return out
}

// runShort runs f on a new goroutine and returns its result; a panic in f
// is re-raised here, where the handler's recovery sees it.
func runShort[T any](f func() T) T {
	var (
		out    T
		panicV any
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { panicV = recover() }()
		out = f()
	}()
	<-done
	if panicV != nil {
		panic(panicV)
	}
	return out
}

// awaitResult holds a sync caller until its job ends. A caller that hangs up
// before a worker starts the job cancels it, so abandoned work is never sent
// to Bedrock.
func (s *Server) awaitResult(c echo.Context, job *jobs.Job) error {
	r := c.Request()
	ctx, cancel := context.WithTimeout(r.Context(), s.SyncTimeout)
	defer cancel()
	done, err := s.Hub.Wait(ctx, job.ID)
	if err != nil {
		if r.Context().Err() != nil {
			if keep, _ := c.Get(keepOnHangup).(bool); keep {
				return nil
			}
			// The caller is gone. Cancel with a fresh context: the request's is done.
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
			defer ccancel()
			reason := openai.InvalidRequest("", "The client closed the connection before the job started.").WithCode("client_closed")
			if cancelled, cerr := s.Store.Cancel(cctx, job.ID, reason.Record()); cerr != nil {
				s.Log.WarnContext(cctx, "cancel abandoned job", "job", job.ID, "err", cerr)
			} else if cancelled {
				s.Log.InfoContext(cctx, "cancelled abandoned job", "job", job.ID)
			}
			return nil
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return openai.Timeout(fmt.Sprintf("Job %s did not finish within %s; it is still in progress. Poll GET /v1/jobs/%s for its result.",
				job.ID, s.SyncTimeout, job.ID)).WithCode("job_pending")
		}
		return fmt.Errorf("wait for job %s: %w", job.ID, err)
	}
	c.Response().Header().Set("X-Sluice-Job-Id", done.ID)
	switch done.State {
	case jobs.Succeeded:
		return c.JSONBlob(http.StatusOK, done.Response)
	default:
		return jobError(done)
	}
}

// jobError is the OpenAI error a failed or cancelled job answers with.
func jobError(j *jobs.Job) *openai.Error {
	var rec openai.Record
	if len(j.Error) == 0 || json.Unmarshal(j.Error, &rec) != nil || rec.Message == "" {
		return openai.ServerError(fmt.Sprintf("Job %s ended %s without a recorded reason.", j.ID, j.State))
	}
	return rec.Err()
}
