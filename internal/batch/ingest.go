package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sluice-broker/sluice/internal/files"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/queue"
)

// validateAndIngest checks every line of the input file; a bad line fails
// the batch before any job exists. A good file's lines then become jobs.
func (r *Runner) validateAndIngest(ctx context.Context, b *Batch, log *slog.Logger) error {
	start := time.Now()
	total, model, errs, err := r.validate(ctx, b)
	if err != nil {
		return err
	}
	metricPhase.WithLabelValues("validate").Observe(time.Since(start).Seconds())
	if errs != nil {
		err := r.Store.fail(ctx, b.ID, r.owner, errs, r.Events)
		if errors.Is(err, errLeaseLost) {
			log.InfoContext(ctx, "batch stopped while it was validated", "err", err)
			return nil
		}
		if err == nil {
			log.InfoContext(ctx, "batch failed validation", "lines", total, "errors", len(errs.Data), "first", errs.Data[0].Message)
		}
		return err
	}
	started, err := r.Store.start(ctx, b.ID, r.owner, total, model)
	if err != nil || !started {
		// Not started: cancelled or expired while it was validated. It ends
		// with no requests at the next sweep.
		return err
	}
	log.InfoContext(ctx, "batch validated", "lines", total, "dur", time.Since(start))
	b.Status, b.Total = InProgress, total
	return r.ingest(ctx, b, log)
}

// validate reads the whole input file as a stream. Memory holds one line
// and the custom_ids seen so far (at most MaxRequests of them).
func (r *Runner) validate(ctx context.Context, b *Batch) (total int, model string, errs *openai.BatchErrors, err error) {
	var list errorList
	f, err := r.Files.Get(ctx, b.Tenant, b.InputFileID)
	if errors.Is(err, files.ErrNotFound) {
		list.add(0, lineError(CodeFileNotFound, "input_file_id", fmt.Sprintf("The input file %s no longer exists.", b.InputFileID)))
		return 0, "", list.result(), nil
	}
	if err != nil {
		return 0, "", nil, err
	}
	if f.Bytes > r.MaxFileBytes {
		list.add(0, lineError(CodeFileTooLarge, "input_file_id", fmt.Sprintf("The input file is %d bytes; a batch's input file may have at most %d.", f.Bytes, r.MaxFileBytes)))
		return 0, "", list.result(), nil
	}
	content, err := r.Files.Open(ctx, b.Tenant, b.InputFileID)
	if err != nil {
		return 0, "", nil, err
	}
	defer content.Close()
	allowed, err := r.Store.keyModels(ctx, b.ID)
	if err != nil {
		return 0, "", nil, err
	}
	lines := newLineReader(content, MaxLineBytes)
	seen := map[string]int{}
	mixed := false
	for {
		raw, num, tooLong, err := lines.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, "", nil, fmt.Errorf("read input file %s: %w", b.InputFileID, err)
		}
		total++
		if total > r.MaxRequests {
			list.add(num, lineError(CodeTooManyLines, "", fmt.Sprintf("The input file has more than %d requests, the most a batch may have.", r.MaxRequests)))
			break
		}
		if tooLong {
			list.add(num, lineError(CodeLineTooLong, "", fmt.Sprintf("The line is longer than %d bytes.", MaxLineBytes)))
			continue
		}
		l, e := parseLine(r.Config, raw)
		if e != nil {
			list.add(num, e)
			continue
		}
		if len(allowed) > 0 && !slices.Contains(allowed, l.Model) {
			// The key that made the batch is confined to some aliases, as
			// its chat requests are (internal/api/adminkeys.go).
			list.add(num, lineError(CodeModelNotAllowed, "body.model", fmt.Sprintf("The API key that created this batch may not use the model %q; it may use: %s.", l.Model, strings.Join(allowed, ", "))))
			continue
		}
		if first, dup := seen[l.CustomID]; dup {
			list.add(num, lineError(CodeDuplicateID, "custom_id", fmt.Sprintf("The custom_id %q is also used on line %d; each request of a batch needs its own.", l.CustomID, first)))
			continue
		}
		seen[l.CustomID] = num
		switch {
		case model == "":
			model = l.Model
		case model != l.Model:
			mixed = true
		}
	}
	if total == 0 {
		list.add(0, lineError(CodeEmptyFile, "input_file_id", "The input file has no requests."))
	}
	if mixed {
		model = ""
	}
	return total, model, list.result(), nil
}

// ingest reads the input file again and inserts its lines as jobs, from the
// first not yet ingested, a chunk per transaction; each chunk's jobs are sent
// to the batch queue before the next chunk is read.
func (r *Runner) ingest(ctx context.Context, b *Batch, log *slog.Logger) error {
	content, err := r.Files.Open(ctx, b.Tenant, b.InputFileID)
	if errors.Is(err, files.ErrNotFound) {
		return r.inputGone(ctx, b, b.Ingested, log)
	}
	if err != nil {
		return fmt.Errorf("open input file %s: %w", b.InputFileID, err)
	}
	defer content.Close()
	lines := newLineReader(content, MaxLineBytes)
	for skipped := 0; skipped < b.Ingested; skipped++ {
		if _, _, _, err := lines.next(); err != nil {
			if errors.Is(err, files.ErrNotFound) {
				return r.inputGone(ctx, b, b.Ingested, log)
			}
			return fmt.Errorf("skip the %d ingested lines of input file %s: %w", b.Ingested, b.InputFileID, err)
		}
	}
	var took struct{ read, insert, send time.Duration }
	from := b.Ingested
	chunk := make([]jobs.BatchJob, 0, r.ChunkLines)
	size := 0
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		start := time.Now()
		if err := r.Store.ingestChunk(ctx, b, r.owner, from, chunk); err != nil {
			return err
		}
		inserted := time.Now()
		r.send(ctx, chunk, log)
		took.insert += inserted.Sub(start)
		took.send += time.Since(inserted)
		metricIngested.Add(float64(len(chunk)))
		from += len(chunk)
		chunk, size = chunk[:0], 0
		return nil
	}
	readStart := time.Now()
	for {
		raw, num, tooLong, err := lines.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, files.ErrNotFound) {
			if err := flush(); err != nil {
				return err
			}
			return r.inputGone(ctx, b, from, log)
		}
		if err != nil {
			return fmt.Errorf("read input file %s: %w", b.InputFileID, err)
		}
		chunk = append(chunk, r.job(raw, num, tooLong))
		size += len(chunk[len(chunk)-1].Request)
		if len(chunk) >= r.ChunkLines || size >= r.ChunkBytes {
			took.read += time.Since(readStart)
			if err := flush(); err != nil {
				return err
			}
			readStart = time.Now()
		}
	}
	took.read += time.Since(readStart)
	if err := flush(); err != nil {
		return err
	}
	if from != b.Total {
		return fmt.Errorf("input file %s has %d requests; %d were validated", b.InputFileID, from, b.Total)
	}
	metricPhase.WithLabelValues("read").Observe(took.read.Seconds())
	metricPhase.WithLabelValues("insert").Observe(took.insert.Seconds())
	metricPhase.WithLabelValues("send").Observe(took.send.Seconds())
	log.InfoContext(ctx, "batch ingested", "lines", b.Total, "resumed_after", b.Ingested,
		"read", took.read, "insert", took.insert, "send", took.send)
	return nil
}

// inputGone ends the ingestion of a batch whose input file expired or was
// deleted before all its lines were read: the batch keeps the ingested lines
// it has, and its total shrinks to them, so that its counts stay exact.
func (r *Runner) inputGone(ctx context.Context, b *Batch, ingested int, log *slog.Logger) error {
	log.ErrorContext(ctx, "the input file is gone before all its lines were read; the batch keeps the ones it has",
		"file", b.InputFileID, "total", b.Total, "ingested", ingested)
	return r.Store.truncate(ctx, b.ID, r.owner, ingested)
}

// job makes the job of one line. A line that passed validation but fails now
// (the configuration changed: its model is gone) becomes a failed job, which
// the error file reports.
func (r *Runner) job(raw []byte, num int, tooLong bool) jobs.BatchJob {
	j := jobs.BatchJob{ID: jobs.NewID(), State: jobs.Queued}
	var l line
	var e *openai.BatchError
	if tooLong {
		e = lineError(CodeLineTooLong, "", fmt.Sprintf("The line is longer than %d bytes.", MaxLineBytes))
	} else {
		l, e = parseLine(r.Config, raw)
	}
	j.CustomID, j.Model, j.Request = l.CustomID, l.Model, l.Request
	if e == nil {
		return j
	}
	if j.CustomID == "" {
		j.CustomID = fmt.Sprintf("line-%d", num)
	}
	oe := &openai.Error{Status: 400, Type: "invalid_request_error", Message: e.Message, Param: e.Param}
	j.State, j.Error = jobs.Failed, mustJSON(oe.WithCode(e.Code).Record())
	j.Request = []byte("{}")
	return j
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// send enqueues a chunk's queued jobs on their aliases' batch queues, ten to
// a call, and marks the ones sent. A job SQS keeps refusing stays unmarked and
// the janitor sends it later.
func (r *Runner) send(ctx context.Context, chunk []jobs.BatchJob, log *slog.Logger) {
	byModel := map[string][]queue.Body{}
	for _, j := range chunk {
		if j.State == jobs.Queued {
			byModel[j.Model] = append(byModel[j.Model], queue.Body{JobID: j.ID, Model: j.Model})
		}
	}
	var mu sync.Mutex
	var sent []string
	var g errgroup.Group
	g.SetLimit(r.Senders)
	for _, bodies := range byModel {
		for i := 0; i < len(bodies); i += queue.MaxBatch {
			group := bodies[i:min(i+queue.MaxBatch, len(bodies))]
			g.Go(func() error {
				ok := r.sendGroup(ctx, group, log)
				mu.Lock()
				sent = append(sent, ok...)
				mu.Unlock()
				return nil
			})
		}
	}
	_ = g.Wait()
	metricSent.Add(float64(len(sent)))
	// Mark even when ctx has ended: a message is out, and an unmarked job
	// would be sent a second time by the janitor.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.Jobs.MarkEnqueuedMany(mctx, sent); err != nil {
		log.WarnContext(ctx, "mark batch jobs enqueued", "err", err)
	}
}

// sendGroup sends up to ten jobs of one model, retrying what SQS refuses a
// few times, and returns the ids it sent.
func (r *Runner) sendGroup(ctx context.Context, bodies []queue.Body, log *slog.Logger) []string {
	var sent []string
	pending := bodies
	for attempt := 0; attempt < 4 && len(pending) > 0 && ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond << attempt):
			}
		}
		refused, err := r.Queue.SendBatch(ctx, queue.Batch, pending)
		if err != nil {
			log.WarnContext(ctx, "send batch jobs", "jobs", len(pending), "attempt", attempt+1, "err", err)
			continue
		}
		isRefused := make(map[string]bool, len(refused))
		for _, b := range refused {
			isRefused[b.JobID] = true
		}
		for _, b := range pending {
			if !isRefused[b.JobID] {
				sent = append(sent, b.JobID)
			}
		}
		metricRefused.Add(float64(len(refused)))
		pending = refused
	}
	if len(pending) > 0 {
		log.WarnContext(ctx, "batch jobs not sent; the janitor sends them", "jobs", len(pending))
	}
	return sent
}
