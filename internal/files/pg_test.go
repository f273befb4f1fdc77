package files_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/files"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func put(t *testing.T, s files.Store, tenant string, content []byte, expiresAt *time.Time) *files.File {
	t.Helper()
	ctx := context.Background()
	up, err := s.Begin(ctx, tenant, "in.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes, so that chunk boundaries fall inside them.
	for rest := content; len(rest) > 0; {
		n := min(len(rest), 300_001)
		if _, err := up.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	f, err := up.Commit(ctx, files.PurposeBatch, expiresAt)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	s := files.NewPG(pool)
	content := make([]byte, 2*files.ChunkSize+12345)
	for i := range content {
		content[i] = byte(rand.N(256))
	}
	f := put(t, s, "acme", content, nil)
	if f.Bytes != int64(len(content)) || f.Purpose != files.PurposeBatch || f.Filename != "in.jsonl" {
		t.Fatalf("file = %+v", f)
	}
	var chunks int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM file_chunks WHERE file_id = $1`, f.ID).Scan(&chunks); err != nil || chunks != 3 {
		t.Fatalf("%d chunks (err %v), want 3", chunks, err)
	}
	r, err := s.Open(ctx, "acme", f.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read %d bytes back (err %v); they differ from the %d written", len(got), err, len(content))
	}

	// Another tenant sees nothing.
	if _, err := s.Get(ctx, "other", f.ID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("other tenant's get: %v", err)
	}
	if _, err := s.Open(ctx, "other", f.ID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("other tenant's open: %v", err)
	}
	if err := s.Delete(ctx, "other", f.ID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("other tenant's delete: %v", err)
	}

	// A file deleted while it is read ends the read in an error, not short.
	r, err = s.Open(ctx, "acme", f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "acme", f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("read of a deleted file: %v", err)
	}
}

func TestUploadsAreInvisibleUntilCommitted(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	s := files.NewPG(pool)
	up, err := s.Begin(ctx, "acme", "in.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(make([]byte, files.ChunkSize+1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "acme", up.ID()); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("an upload in progress is visible: %v", err)
	}
	if list, _, err := s.List(ctx, "acme", files.ListParams{Limit: 10}); err != nil || len(list) != 0 {
		t.Fatalf("list = %v, %v", list, err)
	}
	// An upload that stalls is taken for abandoned and removed with its chunks.
	n, err := s.Sweep(ctx, 0)
	if err != nil || n != 1 {
		t.Fatalf("sweep removed %d (err %v), want the abandoned upload", n, err)
	}
	if _, err := up.Commit(ctx, files.PurposeBatch, nil); err == nil {
		t.Fatal("an upload removed by the sweep committed")
	}

	up, err = s.Begin(ctx, "acme", "in.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write([]byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if err := up.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM file_chunks)`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d rows left (err %v)", left, err)
	}
}

func TestExpiryAndListing(t *testing.T) {
	ctx := context.Background()
	s := files.NewPG(testenv.Pool(t))
	past := time.Now().Add(-time.Second)
	future := time.Now().Add(time.Hour)
	gone := put(t, s, "acme", []byte("a\n"), &past)
	a := put(t, s, "acme", []byte("b\n"), &future)
	b := put(t, s, "acme", []byte("c\n"), nil)
	if _, err := s.Get(ctx, "acme", gone.ID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("an expired file is visible: %v", err)
	}
	page, more, err := s.List(ctx, "acme", files.ListParams{Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != b.ID || !more {
		t.Fatalf("first page = %v, %v, %v", page, more, err)
	}
	page, more, err = s.List(ctx, "acme", files.ListParams{Limit: 1, After: b.ID})
	if err != nil || len(page) != 1 || page[0].ID != a.ID || more {
		t.Fatalf("second page = %v, %v, %v", page, more, err)
	}
	if n, err := s.Sweep(ctx, time.Hour); err != nil || n != 1 {
		t.Fatalf("sweep removed %d (err %v), want the expired file", n, err)
	}
}
