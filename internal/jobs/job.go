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
)

// Terminal reports whether s is final.
func (s State) Terminal() bool { return s == Succeeded || s == Failed || s == Cancelled }

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

// Job is one row of the jobs table.
type Job struct {
	ID        string
	Tenant    string
	Model     string
	Priority  Priority
	Mode      Mode
	State     State
	Request   json.RawMessage
	Response  json.RawMessage
	Error     json.RawMessage
	Usage     json.RawMessage
	Attempts  int
	Throttles int
	Account   string

	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// NewID returns a new job id. UUIDv7 keeps ids roughly time-ordered, which
// keeps the primary key index append-mostly.
func NewID() string {
	return "job_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}
