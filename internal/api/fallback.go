package api

import (
	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/jobs"
)

// Headers of a sync response that say who served it.
const (
	// HeaderModel is the alias that served the job: a fallback's, when the
	// alias asked for had no account that could.
	HeaderModel = "X-Sluice-Model"
	// HeaderAccount is the account whose quota served it.
	HeaderAccount = "X-Sluice-Account"
)

// fallBack sends a new job to a fallback alias when no account of the alias
// it asks for can serve now and a fallback's can; the job keeps the alias
// asked for as its requested model. A fallback alias should accept the same
// requests (its max_output_tokens at least the alias's).
func (s *Server) fallBack(job *jobs.Job) {
	if s.Admission == nil {
		return
	}
	if to, ok := s.Admission.Fallback(job.Model); ok {
		job.RequestedModel, job.Model = job.Model, to
	}
}

// servedBy sets the headers naming the job, and the alias and account that
// served it.
func servedBy(c echo.Context, done *jobs.Job) {
	h := c.Response().Header()
	h.Set(HeaderJobID, done.ID)
	h.Set(HeaderModel, done.Model)
	if done.Account != "" {
		h.Set(HeaderAccount, done.Account)
	}
}
