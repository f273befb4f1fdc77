// Package files stores the files of the OpenAI Files API: batch input files
// that callers upload, and the output and error files of batches.
//
// Content always moves as a stream: an Upload is written piece by piece and a
// file is read back through an io.Reader, so no process ever holds a whole
// file (a batch input file may be 200 MB). Store is the seam between sluice
// and where the bytes live. PG keeps them in Postgres, which is all the local
// stack needs; an S3 implementation would keep the same metadata rows (the
// files table: tenant, purpose, listing) and put the content in one object per
// file, written with a multipart upload in Upload.Write/Commit and read with a
// GetObject in Open.
package files

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Purposes sluice serves. Callers upload batch input files; batch_output files
// are written by sluice.
const (
	PurposeBatch       = "batch"
	PurposeBatchOutput = "batch_output"
)

// MaxBatchBytes is OpenAI's limit on a batch input file.
const MaxBatchBytes = 200 << 20

// File is a stored file's metadata.
type File struct {
	ID        string
	Tenant    string
	Purpose   string
	Filename  string
	Bytes     int64
	CreatedAt time.Time
	ExpiresAt *time.Time
}

// ErrNotFound is returned for an id that names no file of the tenant (or one
// that has expired).
var ErrNotFound = errors.New("file not found")

// Store keeps files. Every method is scoped to a tenant: another tenant's file
// is as absent as one that never existed.
type Store interface {
	// Begin starts a new file. Nothing of it is visible until Commit.
	Begin(ctx context.Context, tenant, filename string) (Upload, error)
	Get(ctx context.Context, tenant, id string) (*File, error)
	List(ctx context.Context, tenant string, p ListParams) (files []*File, more bool, err error)
	// Open reads a file's content from the start.
	Open(ctx context.Context, tenant, id string) (io.ReadCloser, error)
	// Delete removes a file and its content.
	Delete(ctx context.Context, tenant, id string) error
	// Sweep removes expired files and uploads abandoned for longer than
	// abandoned (their process died); it returns how many it removed.
	Sweep(ctx context.Context, abandoned time.Duration) (int, error)
}

// Upload is a file being written.
type Upload interface {
	io.Writer
	// ID is the id the file will have.
	ID() string
	// Commit stores what is still buffered and makes the file visible.
	Commit(ctx context.Context, purpose string, expiresAt *time.Time) (*File, error)
	// Abort discards the upload. It is a no-op after Commit.
	Abort(ctx context.Context) error
}

// ListParams select a page of a tenant's files.
type ListParams struct {
	Purpose   string // empty: any
	After     string // a file id: the page starts after it
	Limit     int
	Ascending bool // oldest first; default newest first
}

// NewID returns a new file id. UUIDv7 ids sort by creation time, so they are
// also the list order and the pagination cursor.
func NewID() string {
	return "file-" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}
