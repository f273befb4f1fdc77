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
	maxTokens := 0
	if in.InferenceConfig != nil {
		maxTokens = int(aws.ToInt32(in.InferenceConfig.MaxTokens))
	}
	if oerr := s.fitsBudget(req.Model, len(body), maxTokens); oerr != nil {
		return oerr
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
	sctx, scancel := s.submitContext(c)
	defer scancel()
	first, err := s.Store.Submit(sctx, job, sub.Submission)
	if err != nil {
		return submitError(job, sub, err)
	}
	if first != nil {
		// A retried submit: answer with the job the first one made.
		if sub.async {
			return accepted(c, first, true)
		}
		if req.Stream {
			return s.streamResult(c, first)
		}
		return s.awaitResult(c, first)
	}
	s.enqueue(sctx, job)
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
