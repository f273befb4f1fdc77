package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/api"
	"github.com/sluice-broker/sluice/internal/batch"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/devenv"
	"github.com/sluice-broker/sluice/internal/files"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.LeakMain(m) }

const key = "sk-test"

// logBuffer collects log records for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// unreachableServer is an api whose database is a port nothing listens on,
// or, with hang, one that accepts connections and never answers.
func unreachableServer(t *testing.T, logs io.Writer, hang bool) *httptest.Server {
	t.Helper()
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if hang {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		var conns sync.WaitGroup
		t.Cleanup(func() { ln.Close(); conns.Wait() })
		conns.Add(1)
		go func() {
			defer conns.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns.Add(1)
				go func() { defer conns.Done(); io.Copy(io.Discard, c); c.Close() }()
			}
		}()
	}
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:"+itoa(port)+"/x?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	cfg := &config.Config{Env: config.Env{MasterKey: key}}
	srv := &api.Server{Config: cfg, Store: jobs.NewStore(pool), Log: slog.New(slog.NewJSONHandler(logs, nil))}
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(h.Close)
	return h
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// A database that cannot be reached is a 503 with Retry-After, not a 500.
func TestDatabaseDownIs503(t *testing.T) {
	h := unreachableServer(t, io.Discard, false)
	for _, path := range []string{"/v1/jobs", "/v1/jobs/job_x", "/v1/files", "/v1/batches/batch_x"} {
		resp, body := get(t, h.URL+path)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"service_unavailable"`) {
			t.Errorf("GET %s with the database down: %d Retry-After=%q %s", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
}

// A panic in a handler answers that request with an OpenAI 500 and logs the
// stack; the server goes on serving.
func TestPanicIsA500WithStack(t *testing.T) {
	var logs logBuffer
	cfg := &config.Config{Env: config.Env{MasterKey: key}}
	// No job store: reading a job dereferences nil, a stand-in for any bug.
	srv := &api.Server{Config: cfg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Files: files.NewPG(nil), Batches: &batch.Store{}}
	h := httptest.NewServer(srv.Handler())
	defer h.Close()
	for range 2 {
		resp, body := get(t, h.URL+"/v1/jobs/job_x")
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), `"server_error"`) {
			t.Fatalf("panicking handler: %d %s", resp.StatusCode, body)
		}
	}
	if !strings.Contains(logs.String(), "panic in request") || !strings.Contains(logs.String(), "goroutine") {
		t.Fatalf("no stack in the log:\n%s", logs.String())
	}
	if resp, _ := get(t, h.URL+"/v1/models"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after panics, /v1/models = %d", resp.StatusCode)
	}
}

// A caller that hangs up is logged below ERROR.
func TestHangUpIsNotAnError(t *testing.T) {
	var logs logBuffer
	h := unreachableServer(t, &logs, true)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// The database's connect timeout (1 s) outlasts the caller.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+"/v1/jobs", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	time.Sleep(1500 * time.Millisecond)
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Fatalf("a hang-up was logged at ERROR:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "client closed the connection") {
		t.Fatalf("the hang-up was not logged:\n%s", logs.String())
	}
}
