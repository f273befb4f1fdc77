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
	r := c.Request()
	req, oerr := openai.DecodeChatCompletionRequest(http.MaxBytesReader(c.Response(), r.Body, MaxBodyBytes))
	if oerr != nil {
		return oerr
	}
	model, ok := s.Config.Models[req.Model]
	if !ok {
		return openai.ModelNotFound(req.Model)
	}
	// Translate now, so that a request Bedrock would refuse is refused here,
	// before a job exists.
	in, oerr := bedrock.ConverseRequest(req, model)
	if oerr != nil {
		return oerr
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	sub, oerr := s.submission(c, body)
	if oerr != nil {
		return oerr
	}
	if sub.async && req.Stream {
		// Nobody would read the stream: an async result is collected whole.
		return openai.InvalidRequest("stream", "A streamed completion cannot be answered asynchronously; send stream=false with Prefer: respond-async.")
	}
	p, oerr := s.plan(c, sub.async)
	if oerr != nil {
		return oerr
	}
	// A caller that can collect the result later (by retrying with its
	// idempotency key, or from its callback) does not cancel it by hanging up.
	c.Set(keepOnHangup, sub.IdempotencyKey != "" || sub.CallbackURL != "")
	job := &jobs.Job{ID: jobs.NewID(), Tenant: tenant(c), Model: req.Model, Priority: jobs.Interactive, Mode: sub.mode(), Request: body,
		Deadline: p.deadline, Cost: estimateCost(body, int(aws.ToInt32(in.InferenceConfig.MaxTokens))), Weight: weight(c)}
	if !sub.async {
		if err := s.admit(c, job, p); err != nil {
			return err
		}
	}
	first, err := s.Store.Submit(r.Context(), job, sub.Submission)
	if err != nil {
		return submitError(job, sub, err)
	}
	// From here on every answer is about a job, also a timeout (headers.go).
	c.Response().Header().Set(HeaderJobID, job.ID)
	if first != nil {
		c.Response().Header().Set(HeaderJobID, first.ID)
		// A retried submit: answer with the job the first one made.
		if sub.async {
			return accepted(c, first, true)
		}
		if req.Stream {
			return s.streamResult(c, first, p)
		}
		return s.awaitResult(c, first, p)
	}
	s.enqueue(c, job)
	if sub.async {
		return accepted(c, job, false)
	}
	if req.Stream {
		return s.streamResult(c, job, p) // stream.go
	}
	return s.awaitResult(c, job, p)
}

// enqueue sends the job's token; the job is safe in the table whatever
// happens here, and the worker's janitor sends what the api could not.
func (s *Server) enqueue(c echo.Context, job *jobs.Job) {
	ctx := c.Request().Context()
	log := s.Log.With("job", job.ID, "model", job.Model)
	if err := s.Queue.Send(ctx, queue.Interactive, queue.Body{JobID: job.ID, Model: job.Model}); err != nil {
		log.WarnContext(ctx, "enqueue failed; the janitor will send it", "err", err)
	} else if err := s.Store.MarkEnqueued(ctx, job.ID); err != nil {
		log.WarnContext(ctx, "mark enqueued", "err", err)
	}
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
	c.Response().Header().Set("X-Sluice-Job-Id", done.ID)
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
		s.Log.WarnContext(ctx, "expire a job past its deadline", "job", job.ID, "err", err)
	} else if expired {
		return tooBusy(c, job.Model, s.queueWait(job.Model), 0)
	}
	s.abandon(c, job.ID, "The job did not finish before the caller's deadline.")
	done, err := s.Store.Get(ctx, job.ID)
	if err == nil && done.State == jobs.Succeeded {
		// It finished in the meantime after all.
		c.Response().Header().Set("X-Sluice-Job-Id", done.ID)
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
		s.Log.WarnContext(ctx, "cancel abandoned job", "job", id, "err", err)
	} else if ended {
		s.Log.InfoContext(ctx, "cancelled abandoned job", "job", id)
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
