package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
)

func (s *Server) listModels(c echo.Context) error {
	list := openai.List[openai.Model]{Object: "list", Data: []openai.Model{}}
	for _, alias := range s.Config.Aliases() {
		if modelAllowed(c, alias) != nil {
			continue
		}
		list.Data = append(list.Data, openai.Model{ID: alias, Object: "model", OwnedBy: "sluice"})
	}
	return c.JSON(http.StatusOK, list)
}

func (s *Server) getModel(c echo.Context) error {
	alias := c.Param("model")
	if _, ok := s.Config.Models[alias]; !ok {
		return openai.ModelNotFound(alias)
	}
	if oerr := modelAllowed(c, alias); oerr != nil {
		return oerr
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
		c.Response().Header().Set(HeaderJobID, job.ID)
		if sub.async {
			return accepted(c, job, true)
		}
	} else if sub.async {
		return accepted(c, job, false)
	}
	if sub.stream {
		return s.streamResult(c, job, sub.plan) // stream.go
	}
	return s.awaitResult(c, job, sub.plan)
}

// submittedChat is what submitChat leaves for the waiting handler.
type submittedChat struct {
	job, first    *jobs.Job // the new job; the first one of a retried submit
	async, stream bool
	plan          waitPlan
	err           error
}

// submitChat reads and checks a chat completion request, refuses what cannot
// be served in time, stores its job and sends its queue token.
func (s *Server) submitChat(c echo.Context) submittedChat {
	r := c.Request()
	fail := func(err error) submittedChat { return submittedChat{err: err} }
	req, oerr := openai.DecodeChatCompletionRequest(http.MaxBytesReader(c.Response(), r.Body, MaxBodyBytes))
	if oerr != nil {
		return fail(oerr)
	}
	model, ok := s.Config.Models[req.Model]
	if !ok {
		return fail(openai.ModelNotFound(req.Model))
	}
	if oerr := modelAllowed(c, req.Model); oerr != nil {
		return fail(oerr)
	}
	// Translate now, so that a request Bedrock would refuse is refused here,
	// before a job exists.
	in, oerr := bedrock.ConverseRequest(req, model)
	if oerr != nil {
		return fail(oerr)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fail(err)
	}
	maxTokens := 0
	if in.InferenceConfig != nil {
		maxTokens = int(aws.ToInt32(in.InferenceConfig.MaxTokens))
	}
	if oerr := s.fitsBudget(req.Model, len(body), maxTokens); oerr != nil {
		return fail(oerr)
	}
	sub, oerr := s.submission(c, body)
	if oerr != nil {
		return fail(oerr)
	}
	if sub.async && req.Stream {
		// Nobody would read the stream: an async result is collected whole.
		return fail(openai.InvalidRequest("stream", "A streamed completion cannot be answered asynchronously; send stream=false with Prefer: respond-async."))
	}
	p, oerr := s.plan(c, sub.async)
	if oerr != nil {
		return fail(oerr)
	}
	// A caller that can collect the result later (by retrying with its
	// idempotency key, or from its callback) does not cancel it by hanging up.
	c.Set(keepOnHangup, sub.IdempotencyKey != "" || sub.CallbackURL != "")
	job := &jobs.Job{ID: jobs.NewID(), Tenant: tenant(c), Model: req.Model, Priority: jobs.Interactive, Mode: sub.mode(), Request: body,
		Deadline: p.deadline, Cost: estimateCost(body, maxTokens), Weight: weight(c)}
	s.fallBack(job, acceptsChat(req))
	if !sub.async {
		if err := s.admit(c, job, p); err != nil {
			return fail(err)
		}
	}
	out := submittedChat{async: sub.async, stream: req.Stream, plan: p}
	sctx, scancel := s.submitContext(c)
	defer scancel()
	first, err := s.Store.Submit(sctx, job, sub.Submission)
	if err != nil {
		return fail(submitError(job, sub, err))
	}
	// From here on every answer is about a job, also a timeout (headers.go).
	c.Response().Header().Set(HeaderJobID, job.ID)
	if first != nil {
		first.Request = nil
		out.first = first
		return out
	}
	s.enqueue(sctx, job)
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
// cancels the job wherever it is: a queued job never reaches Bedrock, and a
// running call is stopped by its worker. A caller with a stated deadline is
// answered by it: 429 with Retry-After if the job could not start in time
// (it is expired, and never runs), or 504 if it started but could not finish
// (it is stopped). Without one, a 504 after SLUICE_SYNC_TIMEOUT names the
// job, which goes on, to poll.
func (s *Server) awaitResult(c echo.Context, job *jobs.Job, p waitPlan) error {
	r := c.Request()
	ctx, cancel := context.WithTimeout(r.Context(), p.wait)
	defer cancel()
	done, err := s.Hub.Wait(ctx, job.ID)
	if err != nil {
		if r.Context().Err() != nil {
			s.abandon(c, job.ID, "The client closed the connection before the job finished.")
			return nil
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("wait for job %s: %w", job.ID, err)
		}
		if !p.stated() {
			return openai.Timeout(fmt.Sprintf("Job %s did not finish within %s; it is still in progress. Poll GET /v1/jobs/%s for its result.",
				job.ID, p.wait.Round(time.Millisecond), job.ID)).WithCode("job_pending")
		}
		return s.deadlinePassed(c, job, p)
	}
	servedBy(c, done)
	switch done.State {
	case jobs.Succeeded:
		return p.formatter().answer(c, done)
	default:
		return s.jobError(c, done)
	}
}

// deadlinePassed answers a caller whose stated deadline came before its
// job's answer, and ends the job: nobody will read its result.
func (s *Server) deadlinePassed(c echo.Context, job *jobs.Job, p waitPlan) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 5*time.Second)
	defer cancel()
	if expired, err := s.Store.Expire(ctx, job.ID, jobs.ExpiredReason(job.Model)); err != nil {
		s.Log.With(jobs.LogAttrs(job.ID)...).WarnContext(ctx, "expire a job past its deadline", "err", err)
	} else if expired {
		return tooBusy(c, job.Model, s.queueWait(job.Model), 0)
	}
	s.abandon(c, job.ID, "The job did not finish before the caller's deadline.")
	done, err := s.Store.Get(ctx, job.ID)
	if err == nil && done.State == jobs.Succeeded {
		// It finished in the meantime after all.
		servedBy(c, done)
		return p.formatter().answer(c, done)
	}
	c.Response().Header().Set("X-Should-Retry", "false")
	return openai.Timeout(fmt.Sprintf("Job %s did not finish before the caller's deadline (%s); it was stopped.", job.ID, HeaderTimeout)).WithCode("deadline_exceeded")
}

// abandon cancels the job of a caller who is gone, wherever the job is,
// unless the caller can collect the result later (see keepOnHangup).
func (s *Server) abandon(c echo.Context, id, why string) {
	if keep, _ := c.Get(keepOnHangup).(bool); keep {
		return
	}
	// A fresh context: the request's is done.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 5*time.Second)
	defer cancel()
	reason := openai.InvalidRequest("", "%s", why).WithCode("client_closed")
	if ended, err := s.Store.Abandon(ctx, id, reason.Record()); err != nil {
		s.Log.With(jobs.LogAttrs(id)...).WarnContext(ctx, "cancel abandoned job", "err", err)
	} else if ended {
		s.Log.With(jobs.LogAttrs(id)...).InfoContext(ctx, "cancelled abandoned job")
	}
}

// queueWait is the estimated queue wait of model, for a Retry-After.
func (s *Server) queueWait(model string) time.Duration {
	if s.Admission == nil {
		return 0
	}
	return s.Admission.Wait(model)
}

// jobError answers with the error a job ended with; an expired job's is a
// 429 with Retry-After.
func (s *Server) jobError(c echo.Context, j *jobs.Job) error {
	if j.State == jobs.Expired {
		return tooBusy(c, j.Model, s.queueWait(j.Model), 0)
	}
	return jobError(j)
}

// jobError is the OpenAI error a failed or cancelled job answers with.
func jobError(j *jobs.Job) *openai.Error {
	var rec openai.Record
	if len(j.Error) == 0 || json.Unmarshal(j.Error, &rec) != nil || rec.Message == "" {
		return openai.ServerError(fmt.Sprintf("Job %s ended %s without a recorded reason.", j.ID, j.State))
	}
	return rec.Err()
}
