package stacktest_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/worker"
)

// syncBuffer is a log sink several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Every JSON log line of a worker that names a job carries it as job_id,
// with request_id (the job's X-Request-Id, which is its id).
func TestJobLogLinesCarryJobAndRequestID(t *testing.T) {
	var logs syncBuffer
	s := stacktest.Start(t, stacktest.Options{Tune: func(p *worker.Pool) {
		p.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}})
	// A transient fault, then success: the worker logs the retry.
	status, h, body := call(t, s, stacktest.Key, http.MethodPost, "/v1/chat/completions",
		chatBody(bedrocksim.Directive("fail", "InternalServerException", "fail_times", "1")+"\nfails once"))
	if status != http.StatusOK {
		t.Fatalf("chat: %d %s", status, body)
	}
	id := h.Get("X-Request-Id")
	if !strings.HasPrefix(id, "job_") || h.Get("X-Sluice-Job-Id") != id {
		t.Fatalf("X-Request-Id %q, X-Sluice-Job-Id %q: want the job's id in both", id, h.Get("X-Sluice-Job-Id"))
	}
	about := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !strings.Contains(line, id) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		about++
		if rec["job_id"] != id || rec["request_id"] != id {
			t.Fatalf("a log line about job %s lacks job_id or request_id: %s", id, line)
		}
	}
	if about == 0 {
		t.Fatalf("no worker log line about job %s:\n%s", id, logs.String())
	}
	t.Logf("%d worker log lines about the job, each with job_id and request_id", about)
}
