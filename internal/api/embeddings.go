package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
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
	if oerr := modelAllowed(c, req.Model); oerr != nil {
		return oerr
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
	// An embedding's budget charges its input only.
	if oerr := s.fitsBudget(req.Model, len(body), 0); oerr != nil {
		return oerr
	}
	p, oerr := s.plan(c, false)
	if oerr != nil {
		return oerr
	}
	job := &jobs.Job{ID: jobs.NewID(), Tenant: tenant(c), Model: req.Model, Priority: jobs.Interactive, Mode: jobs.Sync, Request: body,
		Deadline: p.deadline, Cost: estimateCost(body, 0), Weight: weight(c)}
	s.fallBack(job, acceptsEmbedding(req))
	if err := s.admit(c, job, p); err != nil {
		return err
	}
	sctx, scancel := s.submitContext(c)
	defer scancel()
	if err := s.Store.Insert(sctx, job); err != nil {
		return fmt.Errorf("accept embeddings: %w", err)
	}
	s.enqueue(sctx, job)
	// Stored and sent: a waiter need not hold the request (with thousands of
	// waiters it would be most of their memory).
	job.Request = nil
	return s.awaitResult(c, job, p)
}
