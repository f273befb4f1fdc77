package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
)

// streamResult answers a streamed chat completion: it relays the job's chunks
// (server-sent events the worker wrote, in OpenAI's chat.completion.chunk
// format) as they are announced, and ends the stream with data: [DONE] when
// the job ends, after an error event if the job failed part-way.
//
// Nothing is written before the first chunk, so a job that fails before it
// produced anything (Bedrock refused it, it was throttled for longer than
// the caller waits) is answered with an ordinary OpenAI error and status.
//
// Chunks come inline in notifications; one that is missing (a gap in the
// sequence, a listener reconnect, a chunk too large for a notification) is
// read from the job's chunk table. The table is also read once the job has
// ended, so the stream is complete whatever was missed.
func (s *Server) streamResult(c echo.Context, job *jobs.Job, p waitPlan) error {
	ctx := c.Request().Context()
	c.Response().Header().Set("X-Sluice-Job-Id", job.ID)
	sub := s.Hub.Subscribe(job.ID)
	defer sub.Close()

	type ending struct {
		job *jobs.Job
		err error
	}
	ended := make(chan ending, 1)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	go func() {
		j, err := s.Hub.Wait(wctx, job.ID)
		ended <- ending{j, err}
	}()

	out := &sseWriter{c: c, next: 1, format: p.formatter()}
	catchUp := func() error {
		chunks, err := s.Store.Chunks(ctx, job.ID, out.next)
		if err != nil {
			return err
		}
		for _, ch := range chunks {
			if err := out.chunk(ch.Seq, ch.Data); err != nil {
				return err
			}
		}
		return nil
	}
	timeout := time.NewTimer(p.wait)
	defer timeout.Stop()

	for {
		var err error
		select {
		case <-ctx.Done():
			s.abandonStream(c, job.ID)
			return nil
		case <-timeout.C:
			// A stream that has begun runs as long as the model does.
			if !out.started {
				if p.stated() {
					return s.deadlinePassed(c, job, p)
				}
				return openai.Timeout(fmt.Sprintf("Job %s did not start streaming within %s; it is still in progress. Poll GET /v1/jobs/%s for its result.",
					job.ID, p.wait.Round(time.Millisecond), job.ID)).WithCode("job_pending")
			}
		case n := <-sub.Notes():
			switch {
			case n.Seq < out.next: // already relayed from the table
			case n.Seq == out.next && n.Data != nil:
				err = out.chunk(n.Seq, n.Data)
			default: // a gap, or a chunk too large to carry inline
				err = catchUp()
			}
		case <-sub.Resync():
			err = catchUp()
		case e := <-ended:
			if e.err != nil {
				if ctx.Err() != nil {
					s.abandonStream(c, job.ID)
					return nil
				}
				return fmt.Errorf("wait for streamed job %s: %w", job.ID, e.err)
			}
			if err := catchUp(); err != nil {
				return s.streamBroken(c, job.ID, err)
			}
			return s.endStream(ctx, out, e.job)
		}
		if err != nil {
			return s.streamBroken(c, job.ID, err)
		}
	}
}

// endStream closes the stream of a job that ended, and drops its chunks: the
// job keeps the whole completion.
func (s *Server) endStream(ctx context.Context, out *sseWriter, done *jobs.Job) error {
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.Store.DeleteChunks(dctx, done.ID); err != nil {
			s.Log.With(jobs.LogAttrs(done.ID)...).WarnContext(dctx, "delete relayed chunks", "err", err)
		}
	}()
	if done.State != jobs.Succeeded && !out.started {
		return s.jobError(out.c, done)
	}
	// A job that succeeded before this caller came (a retry with the same
	// idempotency key) has nothing to relay: the format replays it whole.
	end, err := out.format.end(done, out.started)
	if err != nil {
		return s.streamBroken(out.c, done.ID, err)
	}
	_ = out.write(end) // a caller gone now misses only the end; the job has ended anyway
	return nil
}

// streamBroken handles a stream that cannot go on: the caller hung up (the
// write failed), or the chunks could not be read.
func (s *Server) streamBroken(c echo.Context, id string, err error) error {
	if c.Request().Context().Err() != nil || isWriteError(err) {
		s.abandonStream(c, id)
		return nil
	}
	return fmt.Errorf("relay stream of job %s: %w", id, err)
}

// abandonStream cancels a job whose caller hung up: a queued job never runs,
// and a running one is stopped by its worker, which settles what the call
// used. A caller that can collect the result later (see keepOnHangup)
// cancels nothing.
func (s *Server) abandonStream(c echo.Context, id string) {
	s.abandon(c, id, "The client closed the connection before the stream finished.")
}

// sseWriter writes a stream's events to the caller, in chunk order.
type sseWriter struct {
	c       echo.Context
	format  resultFormat
	started bool
	next    int // the next chunk to relay
}

type writeError struct{ err error }

func (e writeError) Error() string { return "write to the caller: " + e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

func isWriteError(err error) bool {
	var we writeError
	return errors.As(err, &we)
}

func (w *sseWriter) chunk(seq int, data []byte) error {
	if seq != w.next {
		return nil
	}
	out, err := w.format.chunk(data, w.started)
	if err != nil {
		return err
	}
	if err := w.write(out); err != nil {
		return err
	}
	w.next++
	return nil
}

func (w *sseWriter) write(data []byte) error {
	res := w.c.Response()
	if !w.started {
		h := res.Header()
		h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no") // proxies must not hold events back
		res.WriteHeader(http.StatusOK)
		w.started = true
	}
	if _, err := res.Write(data); err != nil {
		return writeError{err}
	}
	if err := http.NewResponseController(res.Writer).Flush(); err != nil {
		return writeError{err}
	}
	return nil
}
