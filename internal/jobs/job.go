// Package jobs is the job store: the durable record of every request, its
// state machine, and the LISTEN/NOTIFY hub that wakes callers waiting for a
// result.
package jobs

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// State is where a job is in its life.
type State string

// A job is queued until a worker claims it, running while a worker holds its
// lease, and then ends in exactly one terminal state.
const (
	Queued    State = "queued"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Cancelled State = "cancelled"
	// Expired: the job could not start in time to finish by its deadline,
	// so it never reached Bedrock.
	Expired State = "expired"
)

// Terminal reports whether s is final.
func (s State) Terminal() bool {
	return s == Succeeded || s == Failed || s == Cancelled || s == Expired
}

// Mode is how the caller waits for the result.
type Mode string

// Modes of waiting.
const (
	Sync  Mode = "sync"
	Async Mode = "async"
	Batch Mode = "batch"
)

// Priority picks the queue: interactive work is drained before batch work.
type Priority string

// Priorities.
const (
	Interactive Priority = "interactive"
	BatchWork   Priority = "batch"
)

// Job is one row of the jobs table; columns map to fields by name.
type Job struct {
	ID        string          `db:"id"`
	Tenant    string          `db:"tenant"`
	Model     string          `db:"model"`
	Priority  Priority        `db:"priority"`
	Mode      Mode            `db:"mode"`
	State     State           `db:"state"`
	Request   json.RawMessage `db:"request"`
	Response  json.RawMessage `db:"response"`
	Error     json.RawMessage `db:"error"`
	Usage     json.RawMessage `db:"usage"`
	Attempts  int             `db:"attempts"`
	Throttles int             `db:"throttles"`
	Account   string          `db:"account"`
	// RequestedModel is the alias the caller asked for when a fallback alias
	// (Model) serves the job; empty when Model is the one asked for.
	RequestedModel string `db:"requested_model"`
	// Deadline is when the caller stops waiting; nil: no deadline.
	Deadline *time.Time `db:"deadline"`
	// Cost is the quota the job is expected to reserve (input estimate +
	// max tokens); Weight is its tenant's weight in fair sharing.
	Cost   float64 `db:"cost"`
	Weight float64 `db:"weight"`

	CreatedAt  time.Time  `db:"created_at"`
	StartedAt  *time.Time `db:"started_at"`
	FinishedAt *time.Time `db:"finished_at"`
}

// NewID returns a new job id. UUIDv7 keeps ids roughly time-ordered, which
// keeps the primary key index append-mostly.
func NewID() string {
	return "job_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}

// LogAttrs are the attributes of every log line about a job: job_id, and
// request_id, which for a job's request is the job's id (the X-Request-Id
// the caller saw; see internal/api/headers.go), so a log search for either id
// the client reports finds every line of the job, in the api and in workers.
func LogAttrs(id string) []any { return []any{"job_id", id, "request_id", id} }
