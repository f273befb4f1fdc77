package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-broker/sluice/internal/files"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
)

// resultPage is how many jobs finalization reads at a time.
const resultPage = 1000

// finalize writes the output and error files of a batch whose jobs have all
// ended, and ends it.
func (r *Runner) finalize(ctx context.Context, b *Batch, log *slog.Logger) error {
	start := time.Now()
	if err := r.Store.finalizing(ctx, b.ID, r.owner); err != nil {
		return err
	}
	o, err := r.writeResults(ctx, b)
	if err != nil {
		return err
	}
	status, err := r.Store.finish(ctx, b.ID, r.owner, o, r.Events)
	if err != nil {
		// The files are nobody's: remove them (another runner writes its own).
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, id := range []string{o.OutputFileID, o.ErrorFileID} {
			if id != "" {
				_ = r.Files.Delete(dctx, b.Tenant, id)
			}
		}
		return err
	}
	metricPhase.WithLabelValues("finalize").Observe(time.Since(start).Seconds())
	log.InfoContext(ctx, "batch ended", "status", status, "total", b.Total, "completed", o.Completed, "failed", o.Failed,
		"output_file", o.OutputFileID, "error_file", o.ErrorFileID, "dur", time.Since(start))
	return nil
}

// writeResults streams the jobs of a batch, page by page, into an output
// file (requests answered 200) and an error file (all others), in OpenAI's
// batch output line format; a file with no lines is not made.
func (r *Runner) writeResults(ctx context.Context, b *Batch) (outcome, error) {
	var o outcome
	var expiresAt *time.Time
	if b.OutputExpiresAfter > 0 {
		t := time.Now().Add(b.OutputExpiresAfter)
		expiresAt = &t
	}
	out := &resultFile{store: r.Files, tenant: b.Tenant, name: "batch_" + strings.TrimPrefix(b.ID, "batch_") + "_output.jsonl"}
	bad := &resultFile{store: r.Files, tenant: b.Tenant, name: "batch_" + strings.TrimPrefix(b.ID, "batch_") + "_error.jsonl"}
	defer out.abort(ctx)
	defer bad.abort(ctx)
	after := ""
	for {
		page, err := r.Jobs.BatchResults(ctx, b.ID, after, resultPage)
		if err != nil {
			return o, err
		}
		for _, res := range page {
			line, ok := resultLine(res)
			raw, err := json.Marshal(line)
			if err != nil {
				return o, fmt.Errorf("write result of job %s: %w", res.ID, err)
			}
			raw = append(raw, '\n')
			if ok {
				o.Completed++
				addUsage(&o.Usage, res.Usage)
				err = out.write(ctx, raw)
			} else {
				o.Failed++
				err = bad.write(ctx, raw)
			}
			if err != nil {
				return o, err
			}
		}
		if len(page) < resultPage {
			break
		}
		after = page[len(page)-1].ID
	}
	var err error
	if o.OutputFileID, err = out.commit(ctx, expiresAt); err != nil {
		return o, err
	}
	if o.ErrorFileID, err = bad.commit(ctx, expiresAt); err != nil {
		return o, err
	}
	return o, nil
}

// resultLine is the output line of one job, and whether it belongs in the
// output file (a 200 answer) rather than the error file. As in OpenAI's
// files, a request that was answered with an error carries that answer in
// response (its status and OpenAI error body); one that never ran, because
// its batch was cancelled or expired, carries error instead.
func resultLine(res jobs.BatchResult) (openai.BatchRequestOutput, bool) {
	line := openai.BatchRequestOutput{ID: "batch_req_" + strings.TrimPrefix(res.ID, "job_"), CustomID: res.CustomID}
	var rec openai.Record
	if len(res.Error) > 0 {
		_ = json.Unmarshal(res.Error, &rec)
	}
	switch res.State {
	case jobs.Succeeded:
		line.Response = &openai.BatchResponse{StatusCode: http.StatusOK, RequestID: res.ID, Body: res.Response}
		return line, true
	case jobs.Failed:
		e := rec.Err()
		if rec.Message == "" {
			e = openai.ServerError("The request failed without a recorded reason.")
		}
		body, _ := json.Marshal(openai.ErrorBody{Error: e})
		line.Response = &openai.BatchResponse{StatusCode: e.Status, RequestID: res.ID, Body: body}
	default:
		// Cancelled; or, if the batch was forced to end, never finished.
		code := "batch_cancelled"
		if rec.Code != nil && *rec.Code != "" {
			code = *rec.Code
		}
		msg := rec.Message
		if msg == "" {
			msg = "This request was not executed."
		}
		line.Error = &openai.BatchRequestError{Code: code, Message: msg}
	}
	return line, false
}

func addUsage(sum *openai.BatchUsage, raw json.RawMessage) {
	var u openai.Usage
	if len(raw) == 0 || json.Unmarshal(raw, &u) != nil {
		return
	}
	sum.InputTokens += u.PromptTokens
	sum.OutputTokens += u.CompletionTokens
	sum.TotalTokens += u.TotalTokens
	if u.PromptTokensDetails != nil {
		sum.InputTokensDetails.CachedTokens += u.PromptTokensDetails.CachedTokens
	}
}

// resultFile is an output file begun at its first line.
type resultFile struct {
	store  files.Store
	tenant string
	name   string
	up     files.Upload
	done   bool
}

func (f *resultFile) write(ctx context.Context, line []byte) error {
	if f.up == nil {
		up, err := f.store.Begin(ctx, f.tenant, f.name)
		if err != nil {
			return err
		}
		f.up = up
	}
	_, err := f.up.Write(line)
	return err
}

func (f *resultFile) commit(ctx context.Context, expiresAt *time.Time) (string, error) {
	if f.up == nil {
		return "", nil
	}
	file, err := f.up.Commit(ctx, files.PurposeBatchOutput, expiresAt)
	if err != nil {
		return "", err
	}
	f.done = true
	return file.ID, nil
}

func (f *resultFile) abort(ctx context.Context) {
	if f.up == nil || f.done {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := f.up.Abort(actx); err != nil && !errors.Is(err, context.Canceled) {
		slog.Default().WarnContext(actx, "abort unfinished result file", "file", f.up.ID(), "err", err)
	}
}
