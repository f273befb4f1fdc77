package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
)

// JobResource is a job as callers see it.
type JobResource struct {
	ID         string          `json:"id"`
	Object     string          `json:"object"`
	Status     jobs.State      `json:"status"`
	Model      string          `json:"model"`
	Mode       jobs.Mode       `json:"mode"`
	Attempts   int             `json:"attempts"`
	Throttles  int             `json:"throttles"`
	Account    string          `json:"account,omitempty"`
	CreatedAt  int64           `json:"created_at"`
	StartedAt  *int64          `json:"started_at"`
	FinishedAt *int64          `json:"finished_at"`
	Usage      json.RawMessage `json:"usage,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	Error      json.RawMessage `json:"error,omitempty"`
}

func resource(j *jobs.Job) JobResource {
	unix := func(t *time.Time) *int64 {
		if t == nil {
			return nil
		}
		v := t.Unix()
		return &v
	}
	return JobResource{
		ID: j.ID, Object: "job", Status: j.State, Model: j.Model, Mode: j.Mode,
		Attempts: j.Attempts, Throttles: j.Throttles, Account: j.Account,
		CreatedAt: j.CreatedAt.Unix(), StartedAt: unix(j.StartedAt), FinishedAt: unix(j.FinishedAt),
		Usage: j.Usage, Result: j.Response, Error: j.Error,
	}
}

func (s *Server) getJob(c echo.Context) error {
	j, err := s.Store.Get(c.Request().Context(), c.Param("id"))
	// Another tenant's job is as absent as one that never existed.
	if errors.Is(err, jobs.ErrNotFound) || (err == nil && j.Tenant != tenant(c)) {
		return openai.NotFound("No job with id '" + c.Param("id") + "'.")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resource(j))
}
