package api

import (
	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
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
// it asks for can serve now and a fallback's can: the first such fallback
// that accepts the request (accepts translates it for the fallback's model,
// so a request the fallback would refuse stays with its alias). The job
// keeps the alias asked for as its requested model.
func (s *Server) fallBack(job *jobs.Job, accepts func(config.Model) bool) {
	if s.Admission == nil {
		return
	}
	for _, to := range s.Admission.Fallbacks(job.Model) {
		if accepts(s.Config.Models[to]) {
			job.RequestedModel, job.Model = job.Model, to
			return
		}
	}
}

// acceptsChat and acceptsEmbedding tell whether a fallback's model takes the
// request as it is.
func acceptsChat(req *openai.ChatCompletionRequest) func(config.Model) bool {
	return func(m config.Model) bool { _, oerr := bedrock.ConverseRequest(req, m); return oerr == nil }
}

func acceptsEmbedding(req *openai.EmbeddingRequest) func(config.Model) bool {
	return func(m config.Model) bool { _, oerr := bedrock.EmbeddingCalls(req, m); return oerr == nil }
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
