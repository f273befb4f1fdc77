package stacktest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/sluice-broker/sluice/internal/batch"
	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/worker"
)

// chatLine is one line of a batch input file.
func chatLine(customID, text string, extra ...string) string {
	body := map[string]any{"model": "claude-sonnet", "messages": []map[string]string{{"role": "user", "content": text}}}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i]] = json.RawMessage(extra[i+1])
	}
	raw, _ := json.Marshal(map[string]any{"custom_id": customID, "method": "POST", "url": "/v1/chat/completions", "body": body})
	return string(raw)
}

func upload(t *testing.T, c openai.Client, lines ...string) *openai.FileObject {
	t.Helper()
	f, err := c.Files.New(context.Background(), openai.FileNewParams{
		File:    openai.File(strings.NewReader(strings.Join(lines, "\n")+"\n"), "input.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeBatch,
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return f
}

func newBatch(t *testing.T, c openai.Client, fileID string) *openai.Batch {
	t.Helper()
	b, err := c.Batches.New(context.Background(), openai.BatchNewParams{
		InputFileID:      fileID,
		Endpoint:         openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h,
		Metadata:         map[string]string{"purpose": "test"},
	})
	if err != nil {
		t.Fatalf("create batch: %v", err)
	}
	if b.Status != openai.BatchStatusValidating || b.InputFileID != fileID || b.Metadata["purpose"] != "test" {
		t.Fatalf("new batch = %s", b.RawJSON())
	}
	return b
}

// await polls a batch until cond holds.
func await(t *testing.T, c openai.Client, id string, what string, cond func(*openai.Batch) bool) *openai.Batch {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		b, err := c.Batches.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("get batch: %v", err)
		}
		if cond(b) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch never %s: %s", what, b.RawJSON())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ended(b *openai.Batch) bool {
	switch b.Status {
	case openai.BatchStatusCompleted, openai.BatchStatusFailed, openai.BatchStatusCancelled, openai.BatchStatusExpired:
		return true
	}
	return false
}

// resultLine is a line of an output or error file.
type resultLine struct {
	ID       string `json:"id"`
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int             `json:"status_code"`
		RequestID  string          `json:"request_id"`
		Body       json.RawMessage `json:"body"`
	} `json:"response"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// results downloads an output or error file; an unset id has no lines.
func results(t *testing.T, c openai.Client, fileID string) map[string]resultLine {
	t.Helper()
	out := map[string]resultLine{}
	if fileID == "" {
		return out
	}
	resp, err := c.Files.Content(context.Background(), fileID)
	if err != nil {
		t.Fatalf("download %s: %v", fileID, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l resultLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line of %s is not JSON: %q", fileID, sc.Text())
		}
		if _, dup := out[l.CustomID]; dup || !strings.HasPrefix(l.ID, "batch_req_") {
			t.Fatalf("bad or repeated line in %s: %s", fileID, sc.Text())
		}
		out[l.CustomID] = l
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func batchJobs(t *testing.T, s *stacktest.Stack, batchID string) map[string]int {
	t.Helper()
	rows, err := s.DB.Query(context.Background(), `SELECT state, count(*) FROM jobs WHERE batch_id = $1 GROUP BY state`, batchID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			t.Fatal(err)
		}
		out[state] = n
	}
	return out
}

// The happy path: twenty requests, one of which Bedrock refuses, become an
// output file of nineteen answers and an error file of one, matched to
// their requests by custom_id.
func TestBatchCompletes(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	c := client(s)
	ctx := context.Background()

	var lines []string
	for i := range 20 {
		text := fmt.Sprintf("request %d\n%s", i, bedrocksim.Directive("output_tokens", fmt.Sprint(i+1)))
		if i == 7 {
			text = "refused\n" + bedrocksim.Directive("fail", "ValidationException")
		}
		lines = append(lines, chatLine(fmt.Sprintf("req-%d", i), text))
	}
	in := upload(t, c, lines...)
	b := newBatch(t, c, in.ID)
	b = await(t, c, b.ID, "ended", ended)
	if b.Status != openai.BatchStatusCompleted {
		t.Fatalf("status = %s: %s", b.Status, b.RawJSON())
	}
	if b.RequestCounts.Total != 20 || b.RequestCounts.Completed != 19 || b.RequestCounts.Failed != 1 {
		t.Fatalf("request_counts = %s", b.RequestCounts.RawJSON())
	}
	if b.Model != "claude-sonnet" || b.InProgressAt == 0 || b.FinalizingAt == 0 || b.CompletedAt == 0 || b.ExpiresAt <= b.CreatedAt {
		t.Fatalf("batch = %s", b.RawJSON())
	}

	out := results(t, c, b.OutputFileID)
	bad := results(t, c, b.ErrorFileID)
	if len(out) != 19 || len(bad) != 1 {
		t.Fatalf("%d output lines, %d error lines", len(out), len(bad))
	}
	var outputTokens int64
	for i := range 20 {
		id := fmt.Sprintf("req-%d", i)
		if i == 7 {
			l := bad[id]
			var body struct{ Error openai.ErrorObject }
			if l.Response == nil || l.Response.StatusCode != 400 || json.Unmarshal(l.Response.Body, &body) != nil ||
				!strings.Contains(body.Error.Message, "Bedrock rejected") || l.Error != nil {
				t.Fatalf("error line of %s = %+v", id, l)
			}
			continue
		}
		l, ok := out[id]
		if !ok || l.Response == nil || l.Response.StatusCode != 200 || l.Error != nil || !strings.HasPrefix(l.Response.RequestID, "job_") {
			t.Fatalf("output line of %s = %+v", id, l)
		}
		var cc openai.ChatCompletion
		if err := json.Unmarshal(l.Response.Body, &cc); err != nil {
			t.Fatal(err)
		}
		// Each request asked the simulator for i+1 tokens: the answer under
		// this custom_id is the answer to that request.
		if cc.Object != "chat.completion" || cc.Usage.CompletionTokens != int64(i+1) {
			t.Fatalf("answer for %s has %d tokens, want %d: %s", id, cc.Usage.CompletionTokens, i+1, l.Response.Body)
		}
		outputTokens += cc.Usage.CompletionTokens
	}
	if b.Usage.OutputTokens != outputTokens || b.Usage.InputTokens <= 0 || b.Usage.TotalTokens != b.Usage.InputTokens+b.Usage.OutputTokens {
		t.Fatalf("usage = %s, want %d output tokens", b.Usage.RawJSON(), outputTokens)
	}

	// The result files are files of the tenant like any other.
	f, err := c.Files.Get(ctx, b.OutputFileID)
	if err != nil || f.Purpose != openai.FileObjectPurposeBatchOutput || f.Bytes <= 0 {
		t.Fatalf("output file = %+v, %v", f, err)
	}
	// Every job ran on the batch queue, through the batch priority.
	var n int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE batch_id = $1 AND mode = 'batch' AND priority = 'batch' AND enqueued_at IS NOT NULL`, b.ID).Scan(&n); err != nil || n != 20 {
		t.Fatalf("%d batch jobs enqueued (err %v)", n, err)
	}
}

// Every kind of bad line fails the batch with an OpenAI-style error naming
// the line, and no job is made.
func TestBatchValidation(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1, Batches: func(r *batch.Runner) { r.MaxRequests = 3 }})
	c := client(s)
	good := chatLine("a", "hi")
	cases := []struct {
		name  string
		lines []string
		code  string
		line  int64
		param string
	}{
		{"invalid JSON", []string{good, `{"custom_id": "b", "method": "POST",`}, batch.CodeInvalidJSON, 2, ""},
		{"not an object", []string{`[1, 2]`}, batch.CodeInvalidRequest, 1, ""},
		{"unknown field", []string{`{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{},"extra":1}`}, batch.CodeInvalidRequest, 1, "extra"},
		{"missing custom_id", []string{strings.Replace(good, `"custom_id":"a"`, `"custom_id":""`, 1)}, batch.CodeMissingParam, 1, "custom_id"},
		{"wrong method", []string{good, strings.Replace(chatLine("b", "hi"), `"POST"`, `"GET"`, 1)}, batch.CodeInvalidMethod, 2, "method"},
		{"wrong url", []string{strings.Replace(good, `/v1/chat/completions`, `/v1/embeddings`, 1)}, batch.CodeInvalidURL, 1, "url"},
		{"duplicate custom_id", []string{good, chatLine("b", "hi"), chatLine("a", "again")}, batch.CodeDuplicateID, 3, "custom_id"},
		{"unknown model", []string{strings.Replace(good, `claude-sonnet`, `gpt-9`, 1)}, "model_not_found", 1, "body.model"},
		{"body refused", []string{chatLine("a", "hi", "n", "2")}, batch.CodeInvalidRequest, 1, "body.n"},
		{"streaming body", []string{chatLine("a", "hi", "stream", "true")}, batch.CodeInvalidRequest, 1, "body.stream"},
		{"too many lines", []string{good, chatLine("b", "hi"), chatLine("c", "hi"), chatLine("d", "hi")}, batch.CodeTooManyLines, 4, ""},
		{"empty file", []string{""}, batch.CodeEmptyFile, 0, "input_file_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBatch(t, c, upload(t, c, tc.lines...).ID)
			b = await(t, c, b.ID, "ended", ended)
			if b.Status != openai.BatchStatusFailed || b.FailedAt == 0 || b.OutputFileID != "" {
				t.Fatalf("batch = %s", b.RawJSON())
			}
			if len(b.Errors.Data) == 0 || b.Errors.Object != "list" {
				t.Fatalf("errors = %s", b.Errors.RawJSON())
			}
			e := b.Errors.Data[0]
			if e.Code != tc.code || e.Line != tc.line || e.Param != tc.param || e.Message == "" {
				t.Fatalf("error = %s; want code %s, line %d, param %q", e.RawJSON(), tc.code, tc.line, tc.param)
			}
			if n := batchJobs(t, s, b.ID); len(n) != 0 {
				t.Fatalf("a failed batch made jobs: %v", n)
			}
		})
	}
}

// Cancelling a batch mid-way stops what has not started; what ran is in the
// output file, and every other request is in the error file as cancelled.
func TestBatchCancel(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Tune: func(p *worker.Pool) { p.Concurrency = 1 }})
	c := client(s)
	var lines []string
	for i := range 10 {
		lines = append(lines, chatLine(fmt.Sprintf("req-%d", i), fmt.Sprintf("request %d\n%s", i, bedrocksim.Directive("ttft_ms", "300"))))
	}
	b := newBatch(t, c, upload(t, c, lines...).ID)
	await(t, c, b.ID, "started answering", func(b *openai.Batch) bool { return b.RequestCounts.Completed >= 1 })

	b, err := c.Batches.Cancel(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != openai.BatchStatusCancelling && b.Status != openai.BatchStatusCancelled || b.CancellingAt == 0 {
		t.Fatalf("after cancel: %s", b.RawJSON())
	}
	b = await(t, c, b.ID, "ended", ended)
	if b.Status != openai.BatchStatusCancelled || b.CancelledAt == 0 {
		t.Fatalf("status = %s: %s", b.Status, b.RawJSON())
	}
	counts := b.RequestCounts
	if counts.Total != 10 || counts.Completed < 1 || counts.Completed == 10 || counts.Completed+counts.Failed != 10 {
		t.Fatalf("request_counts = %s", counts.RawJSON())
	}
	out, bad := results(t, c, b.OutputFileID), results(t, c, b.ErrorFileID)
	if int64(len(out)) != counts.Completed || int64(len(bad)) != counts.Failed {
		t.Fatalf("%d output and %d error lines for counts %s", len(out), len(bad), counts.RawJSON())
	}
	for id, l := range bad {
		if l.Error == nil || l.Error.Code != "batch_cancelled" || l.Response != nil {
			t.Fatalf("error line of %s = %+v", id, l)
		}
	}
	// Nothing is left to run, and a cancelled batch can be asked again.
	if jobs := batchJobs(t, s, b.ID); jobs["queued"]+jobs["running"] != 0 {
		t.Fatalf("jobs left: %v", jobs)
	}
	if again, err := c.Batches.Cancel(context.Background(), b.ID); err != nil || again.Status != openai.BatchStatusCancelled {
		t.Fatalf("cancel again = %v, %v", again, err)
	}
}

// Past its window a batch's unstarted requests are cancelled as expired;
// what ran is kept, and the batch ends expired.
func TestBatchExpires(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{BatchWindow: 2 * time.Second, Tune: func(p *worker.Pool) { p.Concurrency = 1 }})
	c := client(s)
	var lines []string
	for i := range 6 {
		// One at a time and 700 ms each: six cannot finish in two seconds.
		lines = append(lines, chatLine(fmt.Sprintf("req-%d", i), fmt.Sprintf("request %d\n%s", i, bedrocksim.Directive("ttft_ms", "700"))))
	}
	b := newBatch(t, c, upload(t, c, lines...).ID)
	b = await(t, c, b.ID, "ended", ended)
	if b.Status != openai.BatchStatusExpired || b.ExpiredAt == 0 {
		t.Fatalf("status = %s: %s", b.Status, b.RawJSON())
	}
	counts := b.RequestCounts
	if counts.Total != 6 || counts.Failed == 0 || counts.Completed+counts.Failed != 6 {
		t.Fatalf("request_counts = %s", counts.RawJSON())
	}
	out, bad := results(t, c, b.OutputFileID), results(t, c, b.ErrorFileID)
	if int64(len(out)) != counts.Completed || int64(len(bad)) != counts.Failed {
		t.Fatalf("%d output and %d error lines for counts %s", len(out), len(bad), counts.RawJSON())
	}
	for id, l := range bad {
		if l.Error == nil || l.Error.Code != "batch_expired" {
			t.Fatalf("error line of %s = %+v", id, l)
		}
	}
}

// Files: upload, get, list (filtered and paged), download and delete.
func TestFiles(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1})
	c := client(s)
	ctx := context.Background()
	content := chatLine("a", "hi") + "\n" + chatLine("b", "there") + "\n"
	var ids []string
	for i := range 3 {
		f, err := c.Files.New(ctx, openai.FileNewParams{
			File:    openai.File(strings.NewReader(content), fmt.Sprintf("in-%d.jsonl", i), "application/jsonl"),
			Purpose: openai.FilePurposeBatch,
		})
		if err != nil {
			t.Fatal(err)
		}
		if f.Object != "file" || f.Bytes != int64(len(content)) || f.Filename != fmt.Sprintf("in-%d.jsonl", i) ||
			f.Purpose != openai.FileObjectPurposeBatch || f.Status != openai.FileObjectStatusProcessed || !strings.HasPrefix(f.ID, "file-") {
			t.Fatalf("file = %s", f.RawJSON())
		}
		ids = append(ids, f.ID)
	}
	got, err := c.Files.Get(ctx, ids[1])
	if err != nil || got.ID != ids[1] || got.Bytes != int64(len(content)) {
		t.Fatalf("get = %+v, %v", got, err)
	}
	resp, err := c.Files.Content(ctx, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != content {
		t.Fatalf("content = %q", body)
	}

	// Newest first, one per page: the SDK follows the cursor.
	var listed []string
	iter := c.Files.ListAutoPaging(ctx, openai.FileListParams{Limit: openai.Int(1), Purpose: openai.String("batch")})
	for iter.Next() {
		listed = append(listed, iter.Current().ID)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("listed %v, want %v", listed, want)
	}
	asc, err := c.Files.List(ctx, openai.FileListParams{Order: openai.FileListParamsOrderAsc, Limit: openai.Int(2)})
	if err != nil || len(asc.Data) != 2 || asc.Data[0].ID != ids[0] || !asc.HasMore {
		t.Fatalf("ascending page = %+v, %v", asc, err)
	}
	if other, err := c.Files.List(ctx, openai.FileListParams{Purpose: openai.String("batch_output")}); err != nil || len(other.Data) != 0 {
		t.Fatalf("batch_output files = %+v, %v", other, err)
	}

	del, err := c.Files.Delete(ctx, ids[0])
	if err != nil || !del.Deleted || del.ID != ids[0] {
		t.Fatalf("delete = %+v, %v", del, err)
	}
	for _, call := range []func() error{
		func() error { _, err := c.Files.Get(ctx, ids[0]); return err },
		func() error { _, err := c.Files.Content(ctx, ids[0]); return err },
		func() error { _, err := c.Files.Delete(ctx, ids[0]); return err },
	} {
		var apiErr *openai.Error
		if err := call(); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
			t.Fatalf("deleted file: %v", err)
		}
	}
	var chunks int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM file_chunks WHERE file_id = $1`, ids[0]).Scan(&chunks); err != nil || chunks != 0 {
		t.Fatalf("%d chunks left of a deleted file (err %v)", chunks, err)
	}
}

// Bad input gets a 4xx with an OpenAI error body, and makes nothing.
func TestBatchBadInput(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1})
	c := client(s)
	ctx := context.Background()
	in := upload(t, c, chatLine("a", "hi"))

	var apiErr *openai.Error
	_, err := c.Batches.New(ctx, openai.BatchNewParams{InputFileID: "file-nope", Endpoint: "/v1/chat/completions", CompletionWindow: "24h"})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Param != "input_file_id" {
		t.Fatalf("unknown file: %v", err)
	}
	if _, err := c.Batches.Get(ctx, "batch_nope"); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("unknown batch: %v", err)
	}
	if _, err := c.Batches.Cancel(ctx, "batch_nope"); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("cancel unknown batch: %v", err)
	}
	_, err = c.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader("x"), "a.txt", "text/plain"), Purpose: openai.FilePurposeFineTune})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "purpose" {
		t.Fatalf("wrong purpose: %v", err)
	}

	cases := []struct {
		name, body, param string
		status            int
	}{
		{"wrong endpoint", `{"input_file_id":"` + in.ID + `","endpoint":"/v1/embeddings","completion_window":"24h"}`, "endpoint", 400},
		{"wrong window", `{"input_file_id":"` + in.ID + `","endpoint":"/v1/chat/completions","completion_window":"1h"}`, "completion_window", 400},
		{"missing file", `{"endpoint":"/v1/chat/completions","completion_window":"24h"}`, "input_file_id", 400},
		{"unknown field", `{"input_file_id":"` + in.ID + `","endpoint":"/v1/chat/completions","completion_window":"24h","priority":1}`, "priority", 400},
		{"metadata too long", `{"input_file_id":"` + in.ID + `","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"k":"` + strings.Repeat("v", 513) + `"}}`, "metadata", 400},
		{"bad output expiry", `{"input_file_id":"` + in.ID + `","endpoint":"/v1/chat/completions","completion_window":"24h","output_expires_after":{"anchor":"created_at","seconds":60}}`, "output_expires_after.seconds", 400},
		{"malformed JSON", `{"input_file_id":`, "", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := s.Do(http.MethodPost, "/v1/batches", tc.body)
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
				} `json:"error"`
			}
			if status != tc.status || json.Unmarshal(body, &e) != nil || e.Error.Message == "" || e.Error.Type != "invalid_request_error" {
				t.Fatalf("status %d, body %s", status, body)
			}
			if tc.param != "" && (e.Error.Param == nil || *e.Error.Param != tc.param) {
				t.Fatalf("param = %v, want %q", e.Error.Param, tc.param)
			}
		})
	}

	var n int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM batches`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("bad input made %d batches (err %v)", n, err)
	}

	// A batch's output file is no batch input.
	if _, err := s.DB.Exec(ctx, `UPDATE files SET purpose = 'batch_output' WHERE id = $1`, in.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Batches.New(ctx, openai.BatchNewParams{InputFileID: in.ID, Endpoint: "/v1/chat/completions", CompletionWindow: "24h"})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "input_file_id" {
		t.Fatalf("output file as input: %v", err)
	}

	// Uploads are bounded.
	small := stacktest.Start(t, stacktest.Options{Workers: -1, MaxFileBytes: 100})
	sc := client(small)
	_, err = sc.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader(strings.Repeat("x", 101)), "big.jsonl", "application/jsonl"), Purpose: openai.FilePurposeBatch})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized upload: %v", err)
	}
	if err := small.DB.QueryRow(ctx, `SELECT count(*) FROM files`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a refused upload left %d files (err %v)", n, err)
	}
}

// The batches list pages newest first.
func TestBatchList(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1})
	c := client(s)
	in := upload(t, c, chatLine("a", "hi"))
	var ids []string
	for range 3 {
		ids = append(ids, newBatch(t, c, in.ID).ID)
	}
	var listed []string
	iter := c.Batches.ListAutoPaging(context.Background(), openai.BatchListParams{Limit: openai.Int(2)})
	for iter.Next() {
		listed = append(listed, iter.Current().ID)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(ids)
	if !slices.Equal(listed, ids) {
		t.Fatalf("listed %v, want %v", listed, ids)
	}
}
