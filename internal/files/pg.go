package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ChunkSize is the size of the pieces PG stores content in.
const ChunkSize = 1 << 20

// PG stores files in Postgres: a files row per file and its content in
// file_chunks rows of ChunkSize bytes. Every chunk is its own statement, so a
// slow upload or download holds a pool connection only for a moment at a time.
type PG struct {
	pool *pgxpool.Pool
}

// NewPG wraps a pool.
func NewPG(pool *pgxpool.Pool) *PG { return &PG{pool: pool} }

var _ Store = (*PG)(nil)

const fileColumns = `id, tenant, purpose, filename, bytes, created_at, expires_at`

// visible is the condition of a file callers can see.
const visible = `status = 'processed' AND (expires_at IS NULL OR expires_at > now())`

func scanFile(row pgx.Row) (*File, error) {
	var f File
	err := row.Scan(&f.ID, &f.Tenant, &f.Purpose, &f.Filename, &f.Bytes, &f.CreatedAt, &f.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &f, err
}

// Begin implements Store.
func (s *PG) Begin(ctx context.Context, tenant, filename string) (Upload, error) {
	id := NewID()
	_, err := s.pool.Exec(ctx, `INSERT INTO files (id, tenant, purpose, filename) VALUES ($1, $2, '', $3)`, id, tenant, filename)
	if err != nil {
		return nil, fmt.Errorf("begin file %s (%q): %w", id, filename, err)
	}
	return &pgUpload{ctx: ctx, pool: s.pool, id: id, buf: make([]byte, 0, ChunkSize)}, nil
}

// Get implements Store.
func (s *PG) Get(ctx context.Context, tenant, id string) (*File, error) {
	f, err := scanFile(s.pool.QueryRow(ctx, `SELECT `+fileColumns+` FROM files WHERE id = $1 AND tenant = $2 AND `+visible, id, tenant))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("get file %s: %w", id, err)
	}
	return f, err
}

// List implements Store.
func (s *PG) List(ctx context.Context, tenant string, p ListParams) ([]*File, bool, error) {
	cmp, order := "<", "DESC"
	if p.Ascending {
		cmp, order = ">", "ASC"
	}
	rows, err := s.pool.Query(ctx, `SELECT `+fileColumns+` FROM files
		WHERE tenant = $1 AND `+visible+`
		  AND ($2 = '' OR purpose = $2)
		  AND ($3 = '' OR id `+cmp+` $3)
		ORDER BY id `+order+` LIMIT $4`, tenant, p.Purpose, p.After, p.Limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list files of tenant %s: %w", tenant, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*File, error) { return scanFile(row) })
	if err != nil {
		return nil, false, fmt.Errorf("list files of tenant %s: %w", tenant, err)
	}
	more := len(out) > p.Limit
	if more {
		out = out[:p.Limit]
	}
	return out, more, nil
}

// Open implements Store.
func (s *PG) Open(ctx context.Context, tenant, id string) (io.ReadCloser, error) {
	f, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return &pgReader{ctx: ctx, pool: s.pool, id: id, left: f.Bytes}, nil
}

// Delete implements Store.
func (s *PG) Delete(ctx context.Context, tenant, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM files WHERE id = $1 AND tenant = $2 AND `+visible, id, tenant)
	if err != nil {
		return fmt.Errorf("delete file %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// Sweep implements Store. It removes at most 100 files a call, so that one
// sweep never holds locks on gigabytes of chunks.
func (s *PG) Sweep(ctx context.Context, abandoned time.Duration) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM files WHERE id IN (
		SELECT id FROM files WHERE status = 'uploading' AND updated_at < now() - $1::interval
		UNION ALL
		SELECT id FROM files WHERE expires_at < now()
		LIMIT 100)`, abandoned)
	if err != nil {
		return 0, fmt.Errorf("sweep files: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// pgUpload buffers one chunk and writes it when full. Each write also bumps
// the file's updated_at, which tells the sweep the upload is alive.
type pgUpload struct {
	ctx       context.Context
	pool      *pgxpool.Pool
	id        string
	buf       []byte
	seq       int
	bytes     int64
	committed bool
	err       error
}

func (u *pgUpload) ID() string { return u.id }

func (u *pgUpload) Write(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	n := len(p)
	for len(p) > 0 {
		take := min(len(p), ChunkSize-len(u.buf))
		u.buf = append(u.buf, p[:take]...)
		p = p[take:]
		if len(u.buf) == ChunkSize {
			if err := u.flush(u.ctx); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (u *pgUpload) flush(ctx context.Context) error {
	if len(u.buf) == 0 {
		return nil
	}
	_, err := u.pool.Exec(ctx, `
		WITH chunk AS (INSERT INTO file_chunks (file_id, seq, data) VALUES ($1, $2, $3))
		UPDATE files SET bytes = bytes + $4, updated_at = now() WHERE id = $1`,
		u.id, u.seq, u.buf, len(u.buf))
	if err != nil {
		u.err = fmt.Errorf("write chunk %d of file %s: %w", u.seq, u.id, err)
		return u.err
	}
	u.seq++
	u.bytes += int64(len(u.buf))
	u.buf = u.buf[:0]
	return nil
}

func (u *pgUpload) Commit(ctx context.Context, purpose string, expiresAt *time.Time) (*File, error) {
	if err := u.flush(ctx); err != nil {
		return nil, err
	}
	f, err := scanFile(u.pool.QueryRow(ctx, `
		UPDATE files SET status = 'processed', purpose = $2, expires_at = $3, updated_at = now()
		WHERE id = $1 AND status = 'uploading'
		RETURNING `+fileColumns, u.id, purpose, expiresAt))
	if err != nil {
		// ErrNotFound here means the sweep took the upload for abandoned.
		return nil, fmt.Errorf("commit file %s: %w", u.id, err)
	}
	u.committed = true
	return f, nil
}

func (u *pgUpload) Abort(ctx context.Context) error {
	if u.committed {
		return nil
	}
	if _, err := u.pool.Exec(ctx, `DELETE FROM files WHERE id = $1 AND status = 'uploading'`, u.id); err != nil {
		return fmt.Errorf("abort file %s: %w", u.id, err)
	}
	return nil
}

// pgReader reads one chunk at a time, each with its own query. It knows the
// file's size, so a file deleted while it is read ends in an error, not in
// silently short content.
type pgReader struct {
	ctx  context.Context
	pool *pgxpool.Pool
	id   string
	seq  int
	buf  []byte
	left int64
}

func (r *pgReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.left <= 0 {
			return 0, io.EOF
		}
		err := r.pool.QueryRow(r.ctx, `SELECT data FROM file_chunks WHERE file_id = $1 AND seq = $2`, r.id, r.seq).Scan(&r.buf)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("read chunk %d of file %s: %w (deleted while being read)", r.seq, r.id, ErrNotFound)
		}
		if err != nil {
			return 0, fmt.Errorf("read chunk %d of file %s: %w", r.seq, r.id, err)
		}
		r.seq++
		r.left -= int64(len(r.buf))
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *pgReader) Close() error { r.left, r.buf = 0, nil; return nil }
