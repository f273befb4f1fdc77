package jobs

import (
	"encoding/json"
	"time"
)

// Resource is a job as callers see it: the body of GET /v1/jobs/{id}, of an
// async submit's 202, and the data of a webhook event.
type Resource struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	Status State  `json:"status"`
	// Model is the alias that serves the job; RequestedModel the one the
	// caller asked for, when a fallback serves it.
	Model          string          `json:"model"`
	RequestedModel string          `json:"requested_model,omitempty"`
	Mode           Mode            `json:"mode"`
	Attempts       int             `json:"attempts"`
	Throttles      int             `json:"throttles"`
	Account        string          `json:"account,omitempty"`
	CreatedAt      int64           `json:"created_at"`
	StartedAt      *int64          `json:"started_at"`
	FinishedAt     *int64          `json:"finished_at"`
	Usage          json.RawMessage `json:"usage,omitempty"`
	Result         json.RawMessage `json:"result,omitempty"`
	Error          json.RawMessage `json:"error,omitempty"`
}

// Resource renders j for callers.
func (j *Job) Resource() Resource {
	unix := func(t *time.Time) *int64 {
		if t == nil {
			return nil
		}
		v := t.Unix()
		return &v
	}
	return Resource{
		ID: j.ID, Object: "job", Status: j.State, Model: j.Model, RequestedModel: j.RequestedModel, Mode: j.Mode,
		Attempts: j.Attempts, Throttles: j.Throttles, Account: j.Account,
		CreatedAt: j.CreatedAt.Unix(), StartedAt: unix(j.StartedAt), FinishedAt: unix(j.FinishedAt),
		Usage: j.Usage, Result: j.Response, Error: j.Error,
	}
}
