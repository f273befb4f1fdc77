package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/webhook"
)

// JobResource is a job as callers see it.
type JobResource = jobs.Resource

func resource(j *jobs.Job) JobResource { return j.Resource() }

// ownJob loads the job named by the :id path parameter. Another tenant's job
// is as absent as one that never existed.
func (s *Server) ownJob(c echo.Context) (*jobs.Job, error) {
	id := c.Param("id")
	j, err := s.Store.Get(c.Request().Context(), id)
	if errors.Is(err, jobs.ErrNotFound) || (err == nil && j.Tenant != tenant(c)) {
		return nil, openai.NotFound("No job with id '" + id + "'.")
	}
	if err != nil {
		return nil, err
	}
	return j, nil
}

func (s *Server) getJob(c echo.Context) error {
	j, err := s.ownJob(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resource(j))
}

// listJobs is GET /v1/jobs: the caller's jobs, newest first, in OpenAI's
// cursor-paginated list shape. Filters: status, model. Paging: limit (1-100,
// default 20) and after (the last id of the previous page).
func (s *Server) listJobs(c echo.Context) error {
	q := c.QueryParams()
	p := jobs.ListParams{Tenant: tenant(c), Model: q.Get("model"), After: q.Get("after"), Limit: 20}
	if v := q.Get("status"); v != "" {
		p.State = jobs.State(v)
		switch p.State {
		case jobs.Queued, jobs.Running, jobs.Succeeded, jobs.Failed, jobs.Cancelled:
		default:
			return openai.InvalidRequest("status", "Invalid status %q: use queued, running, succeeded, failed or cancelled.", v)
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return openai.InvalidRequest("limit", "Invalid limit %q: use an integer from 1 to 100.", v)
		}
		p.Limit = n
	}
	page, more, err := s.Store.List(c.Request().Context(), p)
	if errors.Is(err, jobs.ErrBadCursor) {
		return openai.InvalidRequest("after", "Invalid cursor %q: it names none of your jobs.", p.After)
	}
	if err != nil {
		return err
	}
	list := openai.List[JobResource]{Object: "list", Data: make([]JobResource, 0, len(page)), HasMore: &more}
	for _, j := range page {
		list.Data = append(list.Data, resource(j))
	}
	if len(page) > 0 {
		list.FirstID, list.LastID = page[0].ID, page[len(page)-1].ID
	}
	return c.JSON(http.StatusOK, list)
}

// cancelJob is POST /v1/jobs/{id}/cancel. A queued job ends without reaching
// Bedrock. A running job ends at once too; the Bedrock call already under
// way is not interrupted (its tokens are spent) but its result is dropped. A
// job that has ended is a 409.
func (s *Server) cancelJob(c echo.Context) error {
	id := c.Param("id")
	reason := openai.InvalidRequest("", "The job was cancelled at the caller's request.").WithCode("cancelled")
	j, err := s.Store.CancelAny(c.Request().Context(), tenant(c), id, reason.Record())
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		return openai.NotFound("No job with id '" + id + "'.")
	case errors.Is(err, jobs.ErrNotCancellable):
		e := &openai.Error{Status: http.StatusConflict, Type: "invalid_request_error",
			Message: fmt.Sprintf("Job %s has already ended (%s); only a queued or running job can be cancelled.", id, j.State)}
		return e.WithCode("job_not_cancellable")
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, resource(j))
}

// listJobWebhooks is GET /v1/jobs/{id}/webhooks: the job's webhook events
// with every delivery attempt.
func (s *Server) listJobWebhooks(c echo.Context) error {
	j, err := s.ownJob(c)
	if err != nil {
		return err
	}
	events, err := webhook.NewLog(s.Store.Pool()).Events(c.Request().Context(), j.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, openai.List[webhook.EventResource]{Object: "list", Data: events})
}

// redeliverJobWebhook is POST /v1/jobs/{id}/webhooks/{event_id}/redeliver:
// the event is sent again now, with a fresh retry schedule, whatever became
// of it before. It answers 202 with the event; its log shows the outcome.
func (s *Server) redeliverJobWebhook(c echo.Context) error {
	j, err := s.ownJob(c)
	if err != nil {
		return err
	}
	e, err := webhook.NewLog(s.Store.Pool()).Redeliver(c.Request().Context(), j.ID, c.Param("event"))
	if errors.Is(err, webhook.ErrNoEvent) {
		return openai.NotFound(fmt.Sprintf("Job %s has no webhook event with id '%s'.", j.ID, c.Param("event")))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, e)
}
