package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/queue"
)

// embeddings is POST /v1/embeddings. An embeddings request is a job like a
// chat completion: it waits in the alias's interactive queue, and the pools
// for the alias run it (InvokeModel) within their budgets.
func (s *Server) embeddings(c echo.Context) error {
	r := c.Request()
	req, oerr := openai.DecodeEmbeddingRequest(http.MaxBytesReader(c.Response(), r.Body, MaxBodyBytes))
	if oerr != nil {
		return oerr
	}
	model, ok := s.Config.Models[req.Model]
	if !ok {
		return openai.ModelNotFound(req.Model)
	}
	// Build the calls now, so that what the model would refuse is refused
	// here, before a job exists.
	if _, oerr := bedrock.EmbeddingCalls(req, model); oerr != nil {
		return oerr
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	job := &jobs.Job{ID: jobs.NewID(), Tenant: tenant(c), Model: req.Model, Priority: jobs.Interactive, Mode: jobs.Sync, Request: body}
	if err := s.Store.Insert(r.Context(), job); err != nil {
		return fmt.Errorf("accept embeddings: %w", err)
	}
	log := s.Log.With("job", job.ID, "model", job.Model)
	if err := s.Queue.Send(r.Context(), queue.Interactive, queue.Body{JobID: job.ID, Model: job.Model}); err != nil {
		// The job is safe in the table; the worker's janitor sends it.
		log.WarnContext(r.Context(), "enqueue failed; the janitor will send it", "err", err)
	} else if err := s.Store.MarkEnqueued(r.Context(), job.ID); err != nil {
		log.WarnContext(r.Context(), "mark enqueued", "err", err)
	}
	// Stored and sent: a waiter need not hold the request (with thousands of
	// waiters it would be most of their memory).
	job.Request = nil
	return s.awaitResult(c, job)
}
