package stacktest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/api"
	"github.com/sluice-broker/sluice/internal/stacktest"
)

// errorBody checks an OpenAI error body and answers its code and param.
func errorBody(t *testing.T, what string, status int, body []byte, want int) (code, param string) {
	t.Helper()
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if status != want || json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		t.Errorf("%s: %d %s, want %d with an OpenAI error body", what, status, body, want)
		return "", ""
	}
	if e.Error.Code != nil {
		code = *e.Error.Code
	}
	if e.Error.Param != nil {
		param = *e.Error.Param
	}
	return code, param
}

// NUL and invalid UTF-8 in ids, query parameters, JSON strings and file
// names are 400s, never 500s, and no job is made of them.
func TestHostileTextIsRefused(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1})
	for _, path := range []string{
		"/v1/jobs/%00", "/v1/jobs/job_%FF", "/v1/jobs/%00/cancel", "/v1/jobs/%C3%28/webhooks",
		"/v1/files/file-%00", "/v1/files/%FF/content", "/v1/batches/batch_%00",
		"/v1/jobs?after=%00", "/v1/jobs?model=%FF", "/v1/jobs?status=%00", "/v1/files?after=%FF", "/v1/batches?after=%00",
		"/v1/models/%00",
	} {
		method := http.MethodGet
		if strings.HasSuffix(strings.SplitN(path, "?", 2)[0], "/cancel") {
			method = http.MethodPost
		}
		status, body := s.Do(method, path, "")
		errorBody(t, method+" "+path, status, body, http.StatusBadRequest)
	}

	chat := func(content string) string {
		return `{"model":"claude-sonnet","messages":[{"role":"user","content":"` + content + `"}]}`
	}
	for _, c := range []struct{ name, path, body, param string }{
		{"NUL in chat content", "/v1/chat/completions", chat(`a\u0000b`), "messages[0].content"},
		{"NUL in a system prompt", "/v1/chat/completions", `{"model":"claude-sonnet","messages":[{"role":"system","content":"\u0000"},{"role":"user","content":"x"}]}`, "messages[0].content"},
		{"NUL in the model", "/v1/chat/completions", `{"model":"claude\u0000","messages":[{"role":"user","content":"x"}]}`, "model"},
		{"invalid UTF-8 in chat content", "/v1/chat/completions", chat("caf\xe9"), ""},
		{"NUL in embeddings input", "/v1/embeddings", `{"model":"claude-sonnet","input":["ok","\u0000"]}`, "input[1]"},
		{"invalid UTF-8 in embeddings input", "/v1/embeddings", "{\"model\":\"claude-sonnet\",\"input\":\"\xff\"}", ""},
		{"NUL in batch metadata", "/v1/batches", `{"input_file_id":"file-x","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"k":"\u0000"}}`, "metadata.k"},
	} {
		status, body := s.Do(http.MethodPost, c.path, c.body)
		code, param := errorBody(t, c.name, status, body, http.StatusBadRequest)
		if code != "invalid_encoding" || param != c.param {
			t.Errorf("%s: code %q param %q, want invalid_encoding and %q", c.name, code, param, c.param)
		}
	}
	// Go's client refuses to send such headers, so these go over a raw
	// connection. (net/http's server itself refuses NUL in a header.)
	for _, h := range []string{"Idempotency-Key: k\xff", "X-Sluice-Callback-Url: https://example.com/\xff", "Prefer: respond-async\xc3\x28"} {
		status, body := raw(t, s, http.MethodPost, "/v1/chat/completions", chat("x"), h)
		errorBody(t, "header "+h, status, body, http.StatusBadRequest)
	}

	// A multipart file name with byte 0xFF.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("purpose", "batch")
	fw, _ := mw.CreateFormFile("file", "in\xff.jsonl")
	fw.Write([]byte(`{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"claude-sonnet","messages":[{"role":"user","content":"x"}]}}` + "\n"))
	mw.Close()
	status, body := s.Do(http.MethodPost, "/v1/files", form.String(), "Content-Type", mw.FormDataContentType())
	errorBody(t, "file name with 0xFF", status, body, http.StatusBadRequest)

	var n int
	if err := s.DB.QueryRow(t.Context(), `SELECT count(*) FROM jobs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d jobs were made of refused requests", n)
	}
}

// raw sends one request over its own connection, headers as given.
func raw(t *testing.T, s *stacktest.Stack, method, path, body string, headers ...string) (int, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, stacktest.Key, len(body))
	for _, h := range headers {
		fmt.Fprintf(conn, "%s\r\n", h)
	}
	fmt.Fprintf(conn, "\r\n%s", body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// A request that no serving account's budget can ever admit is refused at
// submit, naming the limit; one that fits is accepted.
func TestRequestAboveEveryBudgetIsRefusedAtSubmit(t *testing.T) {
	cfg := strings.Replace(stacktest.DefaultConfig, "tpm: 10000000", "tpm: 20000", 1)
	s := stacktest.Start(t, stacktest.Options{Config: cfg, Workers: -1})
	big := strings.Repeat("lorem ipsum ", 20000) // 240 kB: at least 30,000 tokens
	status, body := s.Do(http.MethodPost, "/v1/chat/completions",
		`{"model":"claude-sonnet","messages":[{"role":"user","content":"`+big+`"}]}`, "Prefer", "respond-async")
	code, param := errorBody(t, "a prompt above the budget", status, body, http.StatusBadRequest)
	if code != "exceeds_budget" || param != "messages" || !strings.Contains(string(body), "account a") {
		t.Errorf("code %q param %q body %s: want exceeds_budget on messages naming account a", code, param, body)
	}
	status, body = s.Do(http.MethodPost, "/v1/chat/completions",
		`{"model":"claude-sonnet","max_tokens":4096,"messages":[{"role":"user","content":"x"}]}`, "Prefer", "respond-async")
	if status != http.StatusAccepted {
		t.Fatalf("a request within the budget: %d %s", status, body)
	}
}

// A body that drips in is cut off with a 408 when its deadline passes, and
// its handler goroutine ends; a sync caller's long wait after its body
// arrived is not cut by that deadline.
func TestSlowBodyGets408(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1, API: func(srv *api.Server) { srv.BodyTimeout = time.Second }})
	addr := strings.TrimPrefix(s.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"model":"claude-sonnet","messages":[{"role":"user","content":"x"}]}`
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", stacktest.Key, len(body))
	start := time.Now()
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(conn)
		done <- b
	}()
	// One byte every 300 ms: it would take 20 s.
	for i := 0; i < len(body); i++ {
		if _, err := conn.Write([]byte{body[i]}); err != nil {
			break
		}
		select {
		case resp := <-done:
			if !strings.HasPrefix(string(resp), "HTTP/1.1 408") || !strings.Contains(string(resp), "request_timeout") {
				t.Fatalf("slow body answered %q", resp)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Fatalf("cut after %s, want about 1 s", el)
			}
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
	t.Fatal("the slow body was never cut off")
}

// The body deadline is lifted once the body is in: a sync caller whose job
// takes longer than it still gets its answer (the worker starts late here).
func TestSyncWaitOutlivesBodyDeadline(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1, API: func(srv *api.Server) { srv.BodyTimeout = 500 * time.Millisecond }})
	go func() {
		time.Sleep(1500 * time.Millisecond)
		s.StartWorker()
	}()
	status, body := s.Do(http.MethodPost, "/v1/chat/completions", `{"model":"claude-sonnet","messages":[{"role":"user","content":"x"}]}`)
	if status != http.StatusOK {
		t.Fatalf("sync wait past the body deadline: %d %s", status, body)
	}
}
