package bedrocksim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// eventWriter writes AWS event-stream messages and flushes each one, so the
// client sees tokens as they are "generated".
type eventWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	enc *eventstream.Encoder
	err error
}

// padding mimics the "p" field Bedrock adds to stream events (to hide
// token lengths); clients must ignore it.
const padding = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"

func (ew *eventWriter) event(eventType string, payload map[string]any) {
	payload["p"] = padding[:len(padding)-len(eventType)]
	ew.write(eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue(eventType)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		},
	}, payload)
}

// exception writes a modeled in-stream error. Its :exception-type is the
// member name of the ConverseStreamOutput union: the code with a lower-case
// first letter (throttlingException, modelStreamErrorException, …).
func (ew *eventWriter) exception(e *apiError) {
	name := strings.ToLower(e.Code[:1]) + e.Code[1:]
	payload := map[string]any{"message": e.Message}
	if e.Code == "ModelStreamErrorException" {
		payload["originalStatusCode"] = 500
		payload["originalMessage"] = e.Message
	}
	ew.write(eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":exception-type", Value: eventstream.StringValue(name)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("exception")},
		},
	}, payload)
}

func (ew *eventWriter) write(msg eventstream.Message, payload map[string]any) {
	if ew.err != nil {
		return
	}
	if msg.Payload, ew.err = json.Marshal(payload); ew.err != nil {
		return
	}
	if ew.err = ew.enc.Encode(ew.w, msg); ew.err != nil {
		return
	}
	ew.err = ew.rc.Flush()
}

// handleConverseStream is POST /model/{modelId}/converse-stream: the answer
// as an event stream, one delta per token, paced by the latency model.
// Errors before the first byte are ordinary HTTP errors; later ones are
// exception messages in the stream.
func (s *Server) handleConverseStream(w http.ResponseWriter, r *http.Request) {
	c := s.startCall(w, r, true)
	if c == nil {
		return
	}
	a := c.answer
	ctx := r.Context()

	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	ew := &eventWriter{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder()}

	const index = 0
	produced := 0
	gone := func() bool { return ew.err != nil || ctx.Err() != nil }
	if sleepUntil(ctx, c.tokenTime(0)) {
		ew.event("messageStart", map[string]any{"role": "assistant"})
		if a.Tool != nil {
			ew.event("contentBlockStart", map[string]any{"contentBlockIndex": index,
				"start": map[string]any{"toolUse": map[string]any{"toolUseId": a.Tool.ID, "name": a.Tool.Name}}})
		}
	}
	for i, delta := range a.Deltas {
		if i == c.cutAfter {
			// The connection ends here: no messageStop, no exception.
			s.finish(c, produced, "cut off")
			return
		}
		if i == c.failAfter || gone() || !sleepUntil(ctx, c.tokenTime(i)) {
			break
		}
		d := map[string]any{"text": delta}
		if a.Tool != nil {
			d = map[string]any{"toolUse": map[string]any{"input": delta}}
		}
		ew.event("contentBlockDelta", map[string]any{"contentBlockIndex": index, "delta": d})
		if gone() {
			break
		}
		produced = i + 1
	}
	// A stop sequence can end the text before the last token counted: the
	// tokens it consumed are produced too.
	if produced == len(a.Deltas) && c.failAfter < 0 {
		produced = a.OutputTokens
	}

	switch {
	case gone():
		s.finish(c, produced, "client gone")
	case c.failAfter >= 0:
		sleepUntil(ctx, c.tokenTime(c.failAfter))
		ew.exception(newError(c.failCode, "bedrocksim: injected %s after %d tokens", c.failCode, produced))
		s.finish(c, produced, "injected "+c.failCode)
	default:
		sleepUntil(ctx, c.tokenTime(a.OutputTokens))
		ew.event("contentBlockStop", map[string]any{"contentBlockIndex": index})
		ew.event("messageStop", map[string]any{"stopReason": a.StopReason})
		ew.event("metadata", map[string]any{
			"usage":       c.usage(produced),
			"metrics":     latencyMetrics{LatencyMs: time.Since(c.started).Milliseconds()},
			"serviceTier": serviceTier{Type: c.tier},
		})
		s.finish(c, produced, a.StopReason)
	}
	if ew.err != nil {
		s.log.Debug("stream write failed", "request_id", c.requestID, "error", fmt.Sprint(ew.err))
	}
}
