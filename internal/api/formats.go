package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
)

// resultFormat writes a job's result in the form of the API that submitted
// it. Every job runs as a chat completion and stores one; the Responses API
// renders it as a Response object and its stream as Responses events.
type resultFormat interface {
	// answer writes a sync caller's answer for a job that succeeded.
	answer(c echo.Context, done *jobs.Job) error
	// chunk turns one stored stream chunk (chat.completion.chunk events)
	// into what the caller reads; started tells whether anything was
	// written before.
	chunk(data []byte, started bool) ([]byte, error)
	// end is what closes the stream of a job that ended: the rest of the
	// answer, and the closing event.
	end(done *jobs.Job, started bool) ([]byte, error)
}

func (p waitPlan) formatter() resultFormat {
	if p.format == nil {
		return chatFormat{}
	}
	return p.format
}

// chatFormat is the chat completions API: the stored completion and chunks
// as they are.
type chatFormat struct{}

func (chatFormat) answer(c echo.Context, done *jobs.Job) error {
	return c.JSONBlob(http.StatusOK, done.Response)
}

func (chatFormat) chunk(data []byte, _ bool) ([]byte, error) { return data, nil }

func (chatFormat) end(done *jobs.Job, started bool) ([]byte, error) {
	var out []byte
	switch {
	case done.State != jobs.Succeeded:
		// The SDKs raise an error event as they do an error response.
		out = openai.ErrorEvent(jobError(done))
	case !started:
		// Nothing was relayed: stream the stored completion.
		var cc openai.ChatCompletion
		var req openai.ChatCompletionRequest
		if err := json.Unmarshal(done.Response, &cc); err != nil {
			return nil, fmt.Errorf("read the completion of job %s: %w", done.ID, err)
		}
		_ = json.Unmarshal(done.Request, &req)
		for _, chunk := range openai.CompletionChunks(&cc, req.StreamOptions != nil && req.StreamOptions.IncludeUsage) {
			var err error
			if out, err = openai.AppendEvent(out, chunk); err != nil {
				return nil, err
			}
		}
	}
	return append(out, openai.StreamDone...), nil
}
