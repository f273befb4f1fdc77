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
	if _, oerr := bedrock.ConverseRequest(req, model); oerr != nil {
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
	// A caller that can collect the result later (by retrying with its
	// idempotency key, or from its callback) does not cancel it by hanging up.
	c.Set(keepOnHangup, sub.IdempotencyKey != "" || sub.CallbackURL != "")
	job := &jobs.Job{ID: jobs.NewID(), Tenant: tenant(c), Model: req.Model, Priority: jobs.Interactive, Mode: sub.mode(), Request: body}
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
			return s.streamResult(c, first)
		}
		return s.awaitResult(c, first)
	}
	log := s.Log.With("job", job.ID, "model", job.Model)
	if err := s.Queue.Send(r.Context(), queue.Interactive, queue.Body{JobID: job.ID, Model: job.Model}); err != nil {
		// The job is safe in the table; the worker's janitor sends it.
		log.WarnContext(r.Context(), "enqueue failed; the janitor will send it", "err", err)
	} else if err := s.Store.MarkEnqueued(r.Context(), job.ID); err != nil {
		log.WarnContext(r.Context(), "mark enqueued", "err", err)
	}
	if sub.async {
		return accepted(c, job, false)
	}
	if req.Stream {
		return s.streamResult(c, job) // stream.go
	}
	return s.awaitResult(c, job)
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
