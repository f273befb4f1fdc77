package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// StreamChannel is the NOTIFY channel on which a worker announces each chunk
// of a streamed job, in order. See ChunkNote for the payload.
const StreamChannel = "sluice_job_chunk"

// InlineChunkBytes bounds the data a chunk notification carries. NOTIFY
// payloads must stay under 8000 bytes; a larger chunk is announced by number
// only, and read from the table.
const InlineChunkBytes = 6000

// ErrCancelRequested means the caller of a streamed job hung up and asked
// its worker to stop.
var ErrCancelRequested = errors.New("job cancel requested")

// Chunk is one piece of a streamed job's output: server-sent events, ready
// to relay. Seq counts from 1 without gaps.
type Chunk struct {
	Seq  int
	Data []byte
}

// ChunkNote is a chunk notification: "<job id>:<seq>", then ":<data>" when the
// data fits InlineChunkBytes. Data is nil when it did not.
type ChunkNote struct {
	JobID string
	Seq   int
	Data  []byte
}

func chunkPayload(id string, seq int, data []byte) string {
	p := id + ":" + strconv.Itoa(seq)
	if len(data) <= InlineChunkBytes {
		p += ":" + string(data)
	}
	return p
}

// ParseChunkNote reads a StreamChannel payload.
func ParseChunkNote(payload string) (ChunkNote, error) {
	id, rest, ok := strings.Cut(payload, ":")
	if !ok || id == "" {
		return ChunkNote{}, fmt.Errorf("chunk notification %.60q has no job id", payload)
	}
	seqText, data, inline := strings.Cut(rest, ":")
	seq, err := strconv.Atoi(seqText)
	if err != nil || seq < 1 {
		return ChunkNote{}, fmt.Errorf("chunk notification %.60q has no sequence number", payload)
	}
	n := ChunkNote{JobID: id, Seq: seq}
	if inline {
		n.Data = []byte(data)
	}
	return n, nil
}

// AppendChunk records chunk seq of the attempt-th claim of a streamed job and
// announces it on StreamChannel, in one statement: the notification is sent
// only if the chunk is committed. It returns ErrCancelRequested if the
// caller asked the job to stop, and ErrLeaseLost if the attempt no longer
// holds the job; the chunk is then not recorded.
func (s *Store) AppendChunk(ctx context.Context, id string, attempt, seq int, data []byte) error {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO job_chunks (job_id, seq, data)
		SELECT id, $3, $4 FROM jobs
		WHERE id = $1 AND state = 'running' AND attempts = $2 AND cancel_requested_at IS NULL
		RETURNING pg_notify($5, $6)`,
		id, attempt, seq, string(data), StreamChannel, chunkPayload(id, seq, data))
	if err != nil {
		return fmt.Errorf("append chunk %d of job %s: %w", seq, id, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	stop, err := s.StopRequested(ctx, id, attempt)
	if err != nil {
		return err
	}
	if stop {
		return ErrCancelRequested
	}
	// Running, held and not cancelled, yet nothing was written: cannot be.
	return fmt.Errorf("append chunk %d of job %s: not written", seq, id)
}

// StopRequested reports whether the caller of a running job asked it to
// stop. It returns ErrLeaseLost if the attempt no longer holds the job (it
// was cancelled outright, or claimed again).
func (s *Store) StopRequested(ctx context.Context, id string, attempt int) (bool, error) {
	var held, requested bool
	err := s.pool.QueryRow(ctx, `
		SELECT state = 'running' AND attempts = $2, cancel_requested_at IS NOT NULL
		FROM jobs WHERE id = $1`, id, attempt).Scan(&held, &requested)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, ErrLeaseLost
	}
	if err != nil {
		return false, fmt.Errorf("check job %s for a cancel request: %w", id, err)
	}
	if !held {
		return false, ErrLeaseLost
	}
	return requested, nil
}

// Chunks returns a job's chunks from seq from on, in order.
func (s *Store) Chunks(ctx context.Context, id string, from int) ([]Chunk, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, data FROM job_chunks WHERE job_id = $1 AND seq >= $2 ORDER BY seq`, id, from)
	if err != nil {
		return nil, fmt.Errorf("read chunks of job %s from %d: %w", id, from, err)
	}
	chunks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Chunk, error) {
		var c Chunk
		var data string
		err := row.Scan(&c.Seq, &data)
		c.Data = []byte(data)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read chunks of job %s from %d: %w", id, from, err)
	}
	return chunks, nil
}

// HasChunks reports whether any output of a streamed job was recorded, and
// so may have reached its caller.
func (s *Store) HasChunks(ctx context.Context, id string) (bool, error) {
	var has bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM job_chunks WHERE job_id = $1)`, id).Scan(&has); err != nil {
		return false, fmt.Errorf("look for chunks of job %s: %w", id, err)
	}
	return has, nil
}

// DeleteChunks removes a job's chunks once they have been relayed; the job
// keeps its whole result.
func (s *Store) DeleteChunks(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM job_chunks WHERE job_id = $1`, id); err != nil {
		return fmt.Errorf("delete chunks of job %s: %w", id, err)
	}
	return nil
}

// Abandon is what the api does when the caller of a streamed job hangs up.
// A queued job is cancelled, as Cancel does, and never reaches Bedrock. A
// running one is asked to stop: its worker sees the request at its next
// chunk, ends the call and the job (cancelled), and settles the tokens the
// call used. It reports which of the two it did; neither, for a job that
// had already ended.
func (s *Store) Abandon(ctx context.Context, id string, reason any) (cancelled, stopRequested bool, err error) {
	// The job may move between queued and running meanwhile (a claim, a
	// release after a transient error); a second round settles it.
	for range 2 {
		if cancelled, err = s.Cancel(ctx, id, reason); err != nil || cancelled {
			return cancelled, false, err
		}
		var state State
		err = s.pool.QueryRow(ctx, `
			UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
			WHERE id = $1 AND state IN ('queued', 'running')
			RETURNING state`, id).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, false, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("ask job %s to stop: %w", id, err)
		}
		if state == Running {
			return false, true, nil
		}
	}
	return false, true, nil
}
