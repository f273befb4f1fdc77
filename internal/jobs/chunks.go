package jobs

import (
	"context"
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
// only if the chunk is committed. It returns ErrLeaseLost if the attempt no
// longer holds the job (its caller hung up and cancelled it, or it was
// claimed again); the chunk is then not recorded.
func (s *Store) AppendChunk(ctx context.Context, id string, attempt, seq int, data []byte) error {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO job_chunks (job_id, seq, data)
		SELECT id, $3, $4 FROM jobs
		WHERE id = $1 AND state = 'running' AND attempts = $2
		RETURNING pg_notify($5, $6)`,
		id, attempt, seq, string(data), StreamChannel, chunkPayload(id, seq, data))
	if err != nil {
		return fmt.Errorf("append chunk %d of job %s: %w", seq, id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
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
