// Package responses keeps what the Responses API adds to a job: the
// request's own fields, its input items and the history it continues
// (schema/00008_responses.sql). The job itself runs as a chat completion.
package responses

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/openai"
)

// ID is the response id of a job: its id with the prefix resp_.
func ID(jobID string) string { return "resp_" + strings.TrimPrefix(jobID, "job_") }

// JobID is the job of a response id; ok is false for an id that is not a
// response's.
func JobID(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, "resp_")
	if !ok || rest == "" {
		return "", false
	}
	return "job_" + rest, true
}

// Base is what the ids of a response's output items derive from.
func Base(id string) string { return strings.TrimPrefix(id, "resp_") }

// Record is one row of the responses table.
type Record struct {
	ID                 string
	JobID              string
	Tenant             string
	Stored             bool
	Request            *openai.ResponseRequest // without its input
	Input              []openai.Item
	History            []openai.Item
	PreviousResponseID string
	CreatedAt          time.Time
}

// Context is what the model read: the history and then the input.
func (r *Record) Context() []openai.Item {
	return append(append([]openai.Item{}, r.History...), r.Input...)
}

// ErrNotFound means no stored response of the tenant has the id.
var ErrNotFound = errors.New("response not found")

// Store reads and writes response records.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a Store over pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Insert writes r in tx: the transaction that inserts its job
// (jobs.Submission.Attach). A response that is not stored keeps no items.
func Insert(ctx context.Context, tx pgx.Tx, r *Record) error {
	req := *r.Request
	req.Input = nil
	reqJSON, err := json.Marshal(req)
	if err != nil {
		return err
	}
	input, history := r.Input, r.History
	if !r.Stored {
		input, history = nil, nil
	}
	inJSON, err := json.Marshal(nonNil(input))
	if err != nil {
		return err
	}
	histJSON, err := json.Marshal(nonNil(history))
	if err != nil {
		return err
	}
	var prev *string
	if r.PreviousResponseID != "" {
		prev = &r.PreviousResponseID
	}
	_, err = tx.Exec(ctx, `INSERT INTO responses (id, job_id, tenant, stored, request, input, history, previous_response_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
		r.ID, r.JobID, r.Tenant, r.Stored, reqJSON, inJSON, histJSON, prev)
	if err != nil {
		return fmt.Errorf("insert response %s: %w", r.ID, err)
	}
	return nil
}

func nonNil(items []openai.Item) []openai.Item {
	if items == nil {
		return []openai.Item{}
	}
	return items
}

// Get returns the response id of tenant, stored or not (any: the caller
// decides whether an unstored one is visible).
func (s *Store) Get(ctx context.Context, tenant, id string) (*Record, error) {
	var r Record
	var req, input, history []byte
	var prev *string
	err := s.pool.QueryRow(ctx, `SELECT id, job_id, tenant, stored, request, input, history, previous_response_id, created_at
		FROM responses WHERE id = $1 AND tenant = $2`, id, tenant).
		Scan(&r.ID, &r.JobID, &r.Tenant, &r.Stored, &req, &input, &history, &prev, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read response %s: %w", id, err)
	}
	r.Request = &openai.ResponseRequest{}
	if err := json.Unmarshal(req, r.Request); err != nil {
		return nil, fmt.Errorf("read the request of response %s: %w", id, err)
	}
	if err := json.Unmarshal(input, &r.Input); err != nil {
		return nil, fmt.Errorf("read the input of response %s: %w", id, err)
	}
	if err := json.Unmarshal(history, &r.History); err != nil {
		return nil, fmt.Errorf("read the history of response %s: %w", id, err)
	}
	if prev != nil {
		r.PreviousResponseID = *prev
	}
	return &r, nil
}

// Delete removes the response id of tenant with its job (and so its
// result, chunks and webhook events). It reports whether there was one.
func (s *Store) Delete(ctx context.Context, tenant, id string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM jobs WHERE id = (SELECT job_id FROM responses WHERE id = $1 AND tenant = $2 AND stored)`, id, tenant)
	if err != nil {
		return false, fmt.Errorf("delete response %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}
