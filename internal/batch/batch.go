// Package batch is the OpenAI Batch API: a file of chat completion requests
// becomes a batch, its lines become jobs on the batch queues, and when they
// have all ended their results become an output file and an error file.
//
// The api answers POST /v1/batches at once with a batch in status
// validating; a Runner (one in every api process) does the rest in the
// background, under a lease on the batch row so that any number of runners
// share the work and a batch left by a dead process is taken over:
//
//	validating   read the whole input file as a stream and check every line
//	             exactly as the synchronous path checks a request; any bad
//	             line fails the batch (failed, with errors) and nothing runs
//	in_progress  read the file again, inserting its lines as jobs in chunks
//	             (COPY), each chunk sent to the alias's batch queue in
//	             SendMessageBatch calls of ten; workers drain batch queues
//	             only with the budget interactive traffic leaves
//	finalizing   every job has ended: write the output and error files
//	completed    (or cancelled, or expired) with request_counts frozen
//
// Cancelling ends the queued jobs at once; running ones finish, and the batch
// is cancelled with what it has. Past expires_at the same happens with reason
// batch_expired, and the batch ends expired.
package batch

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-broker/sluice/internal/openai"
)

// Status is where a batch is in its life (OpenAI's statuses).
type Status string

// Statuses.
const (
	Validating Status = "validating"
	Failed     Status = "failed"
	InProgress Status = "in_progress"
	Finalizing Status = "finalizing"
	Completed  Status = "completed"
	Expired    Status = "expired"
	Cancelling Status = "cancelling"
	Cancelled  Status = "cancelled"
)

// Ended reports whether s is final.
func (s Status) Ended() bool {
	return s == Failed || s == Completed || s == Expired || s == Cancelled
}

// What a batch accepts.
const (
	Endpoint         = "/v1/chat/completions"
	CompletionWindow = "24h"
	// DefaultWindow is how long a batch may take: its completion window.
	DefaultWindow = 24 * time.Hour
	// MaxRequests is OpenAI's limit on the lines of a batch.
	MaxRequests = 50_000
)

// Batch is one row of the batches table.
type Batch struct {
	ID               string
	Tenant           string
	Status           Status
	Endpoint         string
	CompletionWindow string
	InputFileID      string
	OutputFileID     string
	ErrorFileID      string
	// OutputExpiresAfter is the lifetime of the output and error files; 0 keeps them.
	OutputExpiresAfter time.Duration
	Metadata           map[string]string
	Errors             *openai.BatchErrors
	Model              string
	Total, Ingested    int
	// Completed and Failed are request_counts: frozen when the batch ends,
	// counted from its jobs before.
	Completed, Failed int
	Usage             *openai.BatchUsage
	// APIKeyID is the managed key that created the batch ("" for the master
	// key); its secret signs the batch's webhook event, sent to CallbackURL
	// ("": none) when the batch ends.
	APIKeyID, CallbackURL string

	CreatedAt    time.Time
	ExpiresAt    time.Time
	InProgressAt *time.Time
	FinalizingAt *time.Time
	CompletedAt  *time.Time
	FailedAt     *time.Time
	ExpiredAt    *time.Time
	CancellingAt *time.Time
	CancelledAt  *time.Time
}

// NewID returns a new batch id; UUIDv7 ids sort by creation time.
func NewID() string {
	return "batch_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}

// Object renders the batch as OpenAI's batch object.
func (b *Batch) Object() openai.Batch {
	unix := func(t *time.Time) *int64 {
		if t == nil {
			return nil
		}
		v := t.Unix()
		return &v
	}
	id := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	expires := b.ExpiresAt.Unix()
	return openai.Batch{
		ID: b.ID, Object: "batch", Endpoint: b.Endpoint, Model: b.Model, Errors: b.Errors,
		InputFileID: b.InputFileID, CompletionWindow: b.CompletionWindow, Status: string(b.Status),
		OutputFileID: id(b.OutputFileID), ErrorFileID: id(b.ErrorFileID),
		CreatedAt: b.CreatedAt.Unix(), InProgressAt: unix(b.InProgressAt), ExpiresAt: &expires,
		FinalizingAt: unix(b.FinalizingAt), CompletedAt: unix(b.CompletedAt), FailedAt: unix(b.FailedAt),
		ExpiredAt: unix(b.ExpiredAt), CancellingAt: unix(b.CancellingAt), CancelledAt: unix(b.CancelledAt),
		RequestCounts: openai.BatchRequestCounts{Total: b.Total, Completed: b.Completed, Failed: b.Failed},
		Usage:         b.Usage,
		Metadata:      b.Metadata,
	}
}

// Events names the webhook events of a batch's ending.
func (s Status) Event() string {
	if s.Ended() {
		return "batch." + string(s)
	}
	return ""
}

// WindowFromEnv reads SLUICE_BATCH_WINDOW, how long a batch may run before it
// expires (default 24h, the completion window). Tests and benchmarks shorten it.
func WindowFromEnv() (time.Duration, error) {
	v := os.Getenv("SLUICE_BATCH_WINDOW")
	if v == "" {
		return DefaultWindow, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("SLUICE_BATCH_WINDOW=%q: want a positive duration such as 24h", v)
	}
	return d, nil
}
