package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/responses"
)

// createResponse is POST /v1/responses. A response is a job: the request is
// translated to the chat completion it runs as before the job exists (so
// that what Bedrock would refuse is refused here, by the caller's JSON
// path), and then queued, budgeted and answered like a chat completion.
// background: true is an async job, answered at once with status queued.
func (s *Server) createResponse(c echo.Context) error {
	r := c.Request()
	req, input, raw, oerr := openai.DecodeResponseRequest(http.MaxBytesReader(c.Response(), r.Body, MaxBodyBytes))
	if oerr != nil {
		return oerr
	}
	model, ok := s.Config.Models[req.Model]
	if !ok {
		return openai.ModelNotFound(req.Model)
	}
	history, oerr := s.history(c, req.PreviousResponseID)
	if oerr != nil {
		return oerr
	}
	for i := range input {
		input[i].ID = itemID(input[i])
	}
	chat, origins, oerr := req.ChatRequest(history, input)
	if oerr != nil {
		return oerr
	}
	in, oerr := bedrock.ConverseRequest(chat, model)
	if oerr != nil {
		return openai.RetargetError(oerr, origins)
	}
	body, err := json.Marshal(chat)
	if err != nil {
		return err
	}
	maxTokens := 0
	if in.InferenceConfig != nil {
		maxTokens = int(aws.ToInt32(in.InferenceConfig.MaxTokens))
	}
	if oerr := s.fitsBudget(req.Model, len(body), maxTokens); oerr != nil {
		return oerr
	}
	// The fingerprint covers the request as sent: two requests that run as
	// the same chat completion may still differ (background, store).
	sub, oerr := s.submission(c, raw)
	if oerr != nil {
		return oerr
	}
	sub.async = req.Background // the Responses API's own async; Prefer is not read
	p, oerr := s.plan(c, sub.async)
	if oerr != nil {
		return oerr
	}
	c.Set(keepOnHangup, sub.async || sub.IdempotencyKey != "" || sub.CallbackURL != "")
	job := &jobs.Job{ID: jobs.NewID(), Tenant: tenant(c), Model: req.Model, Priority: jobs.Interactive, Mode: sub.mode(), Request: body,
		Deadline: p.deadline, Cost: estimateCost(body, maxTokens), Weight: weight(c)}
	rec := &responses.Record{ID: responses.ID(job.ID), JobID: job.ID, Tenant: job.Tenant, Stored: req.Stored(), Request: req,
		Input: input, History: history, PreviousResponseID: req.PreviousResponseID}
	sub.Attach = func(ctx context.Context, tx pgx.Tx) error { return responses.Insert(ctx, tx, rec) }
	if !sub.async {
		if err := s.admit(c, job, p); err != nil {
			return err
		}
	}
	sctx, scancel := s.submitContext(c)
	defer scancel()
	first, err := s.Store.Submit(sctx, job, sub.Submission)
	if err != nil {
		return submitError(job, sub, err)
	}
	if first != nil {
		// A retried submit: answer with the response the first one made.
		job = first
		rec.ID, rec.JobID = responses.ID(first.ID), first.ID
		c.Response().Header().Set("Idempotent-Replayed", "true")
	} else {
		s.enqueue(sctx, job)
	}
	c.Response().Header().Set(HeaderJobID, job.ID)
	c.Response().Header().Set("X-Sluice-Job-Id", job.ID)
	if sub.async {
		if req.Stream {
			return s.streamBackground(c, rec, job, 0)
		}
		return c.JSON(http.StatusOK, render(rec, job))
	}
	p.format = &responseFormat{rec: rec, created: job.CreatedAt.Unix(), stream: &openai.ResponseStream{Base: responses.Base(rec.ID)}}
	if req.Stream {
		return s.streamResult(c, job, p)
	}
	return s.awaitResult(c, job, p)
}

// history is the conversation a response continues: the context of the
// previous response and its output.
func (s *Server) history(c echo.Context, prevID string) ([]openai.Item, *openai.Error) {
	if prevID == "" {
		return nil, nil
	}
	ctx := c.Request().Context()
	notFound := openai.InvalidRequest("previous_response_id", "Previous response with id '%s' not found.", prevID).WithCode("previous_response_not_found")
	notFound.Status = http.StatusNotFound
	prev, err := s.Responses.Get(ctx, tenant(c), prevID)
	if errors.Is(err, responses.ErrNotFound) || (err == nil && !prev.Stored) {
		return nil, notFound
	}
	if err != nil {
		s.Log.ErrorContext(ctx, "read previous response", "response", prevID, "err", err)
		return nil, openai.ServerError("The previous response could not be read.")
	}
	j, err := s.Store.Get(ctx, prev.JobID)
	if errors.Is(err, jobs.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		s.Log.ErrorContext(ctx, "read previous response's job", "response", prevID, "err", err)
		return nil, openai.ServerError("The previous response could not be read.")
	}
	if j.State != jobs.Succeeded {
		return nil, openai.InvalidRequest("previous_response_id", "Previous response '%s' is %s; only a response that has completed can be continued.", prevID, render(prev, j).Status)
	}
	var cc openai.ChatCompletion
	if err := json.Unmarshal(j.Response, &cc); err != nil {
		return nil, openai.ServerError("The previous response's output could not be read.")
	}
	return append(prev.Context(), openai.AssistantItems(&cc, responses.Base(prev.ID))...), nil
}

// itemID is an input item's id: the caller's, or a new one, so that
// input_items can page through them.
func itemID(it openai.Item) string {
	if it.ID != "" {
		return it.ID
	}
	prefix := map[string]string{"message": "msg_", "function_call": "fc_", "function_call_output": "fco_", "reasoning": "rs_"}[it.Type]
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// render is the Response object of a response and its job.
func render(rec *responses.Record, j *jobs.Job) *openai.Response {
	resp := rec.Request.NewResponse(rec.ID, j.CreatedAt.Unix(), "queued")
	switch j.State {
	case jobs.Running:
		resp.Status = "in_progress"
	case jobs.Succeeded:
		var cc openai.ChatCompletion
		if err := json.Unmarshal(j.Response, &cc); err != nil {
			resp.Fail("failed", openai.ServerError(fmt.Sprintf("The stored output of response %s is unreadable.", rec.ID)))
			break
		}
		done := j.CreatedAt.Unix()
		if j.FinishedAt != nil {
			done = j.FinishedAt.Unix()
		}
		resp.Complete(&cc, responses.Base(rec.ID), done)
	case jobs.Cancelled:
		resp.Fail("cancelled", jobError(j))
	case jobs.Failed, jobs.Expired:
		resp.Fail("failed", jobError(j))
	}
	return resp
}

// responseFormat renders a sync response's answer and stream.
type responseFormat struct {
	rec     *responses.Record
	created int64 // the job's creation, the response's created_at
	stream  *openai.ResponseStream
}

func (f *responseFormat) answer(c echo.Context, done *jobs.Job) error {
	return c.JSON(http.StatusOK, render(f.rec, done))
}

func (f *responseFormat) chunk(data []byte, started bool) ([]byte, error) {
	var out []byte
	if !started {
		var err error
		if out, err = f.stream.Start(f.rec.Request.NewResponse(f.rec.ID, f.created, "in_progress")); err != nil {
			return nil, err
		}
	}
	events, err := f.stream.Chunks(data)
	return append(out, events...), err
}

func (f *responseFormat) end(done *jobs.Job, started bool) ([]byte, error) {
	var out []byte
	if !started {
		var err error
		if out, err = f.stream.Start(f.rec.Request.NewResponse(f.rec.ID, f.created, "in_progress")); err != nil {
			return nil, err
		}
	}
	events, err := f.stream.Finish(render(f.rec, done))
	return append(out, events...), err
}

// streamBackground streams a background response from sequence number
// skip on: response.created and .queued at once, the rest when the job has
// ended. The sequence depends only on the final response, so a caller that
// lost the stream resumes it with GET ?stream=true&starting_after=N. A
// caller that hangs up stops nothing: the response runs in the background.
func (s *Server) streamBackground(c echo.Context, rec *responses.Record, job *jobs.Job, skip int) error {
	ctx := c.Request().Context()
	out := &sseWriter{c: c, format: chatFormat{}}
	st := &openai.ResponseStream{Base: responses.Base(rec.ID), Skip: skip}
	queued := rec.Request.NewResponse(rec.ID, job.CreatedAt.Unix(), "queued")
	first, err := st.Start(queued)
	if err != nil {
		return err
	}
	if err := out.write(first); err != nil {
		return nil
	}
	done, err := s.Hub.Wait(ctx, job.ID)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("wait for background response %s: %w", rec.ID, err)
	}
	final := render(rec, done)
	st.InProgress(queued)
	rest, err := st.Finish(final)
	if err != nil {
		return err
	}
	_ = out.write(rest)
	return nil
}

// ownResponse loads the stored response named by :id, and its job. Another
// tenant's response, or one not stored, is as absent as one that never
// existed.
func (s *Server) ownResponse(c echo.Context) (*responses.Record, *jobs.Job, error) {
	id := c.Param("id")
	notFound := openai.NotFound(fmt.Sprintf("Response with id '%s' not found.", id))
	if _, ok := responses.JobID(id); !ok {
		return nil, nil, notFound
	}
	rec, err := s.Responses.Get(c.Request().Context(), tenant(c), id)
	if errors.Is(err, responses.ErrNotFound) || (err == nil && !rec.Stored) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	j, err := s.Store.Get(c.Request().Context(), rec.JobID)
	if errors.Is(err, jobs.ErrNotFound) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	return rec, j, nil
}

// getResponse is GET /v1/responses/{id}: the response as it is now, or with
// stream=true its event stream, resumed after starting_after.
func (s *Server) getResponse(c echo.Context) error {
	rec, j, err := s.ownResponse(c)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	if wantsStream(c) {
		skip := 0
		if v := q.Get("starting_after"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return openai.InvalidRequest("starting_after", "Invalid 'starting_after' %q: use a sequence number.", v)
			}
			skip = n + 1
		}
		c.Response().Header().Set("X-Sluice-Job-Id", j.ID)
		return s.streamBackground(c, rec, j, skip)
	}
	return c.JSON(http.StatusOK, render(rec, j))
}

// cancelResponse is POST /v1/responses/{id}/cancel, for background
// responses, as OpenAI has it. A queued one never reaches Bedrock; a running
// one is stopped by its worker.
func (s *Server) cancelResponse(c echo.Context) error {
	rec, j, err := s.ownResponse(c)
	if err != nil {
		return err
	}
	if !rec.Request.Background {
		return openai.InvalidRequest("", "Only background responses can be cancelled; a caller stops its own response by closing the connection.")
	}
	reason := openai.InvalidRequest("", "The response was cancelled at the caller's request.").WithCode("cancelled")
	j, err = s.Store.CancelAny(c.Request().Context(), tenant(c), j.ID, reason.Record())
	switch {
	case errors.Is(err, jobs.ErrNotCancellable):
		e := &openai.Error{Status: http.StatusConflict, Type: "invalid_request_error",
			Message: fmt.Sprintf("Response %s has already ended (%s); only a queued or in-progress response can be cancelled.", rec.ID, render(rec, j).Status)}
		return e.WithCode("response_not_cancellable")
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, render(rec, j))
}

// deleteResponse is DELETE /v1/responses/{id}: the response, its items and
// its job are gone; one still running is stopped first.
func (s *Server) deleteResponse(c echo.Context) error {
	rec, j, err := s.ownResponse(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if !j.State.Terminal() {
		reason := openai.InvalidRequest("", "The response was deleted.").WithCode("deleted")
		if _, err := s.Store.Abandon(ctx, j.ID, reason.Record()); err != nil {
			return err
		}
	}
	if _, err := s.Responses.Delete(ctx, tenant(c), rec.ID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": rec.ID, "object": "response.deleted", "deleted": true})
}

// listInputItems is GET /v1/responses/{id}/input_items: what the model read
// (the history the response continued, then its input), paged by after and
// limit (1-100, default 20), order desc (default) or asc.
func (s *Server) listInputItems(c echo.Context) error {
	rec, _, err := s.ownResponse(c)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return openai.InvalidRequest("limit", "Invalid limit %q: use an integer from 1 to 100.", v)
		}
		limit = n
	}
	items := rec.Context()
	switch q.Get("order") {
	case "", "desc":
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	case "asc":
	default:
		return openai.InvalidRequest("order", "Invalid order %q: use asc or desc.", q.Get("order"))
	}
	if after := q.Get("after"); after != "" {
		at := -1
		for i, it := range items {
			if it.ID == after {
				at = i
			}
		}
		if at < 0 {
			return openai.InvalidRequest("after", "Invalid cursor %q: it names no item of this response.", after)
		}
		items = items[at+1:]
	}
	more := len(items) > limit
	items = items[:min(limit, len(items))]
	list := openai.List[openai.Item]{Object: "list", Data: items, HasMore: &more}
	if len(items) > 0 {
		list.FirstID, list.LastID = items[0].ID, items[len(items)-1].ID
	}
	return c.JSON(http.StatusOK, list)
}

// wantsStream tells a GET that asks for the event stream: stream=true in the
// query, or in a JSON body, which is where openai-go's GetStreaming puts it.
func wantsStream(c echo.Context) bool {
	if v, _ := strconv.ParseBool(c.QueryParam("stream")); v {
		return true
	}
	var body struct {
		Stream bool `json:"stream"`
	}
	b, _ := io.ReadAll(io.LimitReader(c.Request().Body, 4<<10))
	return json.Unmarshal(b, &body) == nil && body.Stream
}
