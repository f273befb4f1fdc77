package stacktest_test

// The Responses API, driven through openai-go's Responses client against the
// api, a worker and the Bedrock simulator.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/worker"
)

func textInput(s string) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfString: openai.String(s)}
}

func items(list ...responses.ResponseInputItemUnionParam) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfInputItemList: list}
}

func callOutput(output, callID string) responses.ResponseInputItemUnionParam {
	item := responses.ResponseInputItemParamOfFunctionCallOutput(output)
	item.OfFunctionCallOutput.CallID = openai.String(callID)
	return item
}

func weatherFunction() responses.ToolUnionParam {
	return responses.ToolUnionParam{OfFunction: &responses.FunctionToolParam{
		Name:        "get_weather",
		Description: openai.String("Current weather for a city"),
		Parameters: map[string]any{
			"type":       "object",
			"properties": map[string]any{"city": map[string]any{"type": "string"}},
			"required":   []string{"city"},
		},
		Strict: openai.Bool(false),
	}}
}

func apiError(t *testing.T, err error, status int, param string) {
	t.Helper()
	var e *openai.Error
	if !errors.As(err, &e) || e.StatusCode != status || e.Param != param {
		t.Fatalf("err = %v, want a %d about %q", err, status, param)
	}
}

func TestResponsesTextImageToolsAndSchema(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx := ctxFor(t)

	text := "Say something.\n" + bedrocksim.Directive("output_tokens", "6")
	r, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "claude-sonnet", Input: textInput(text), Instructions: openai.String("You are terse."),
		Metadata: shared.Metadata{"team": "search"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.ID, "resp_") || r.Status != "completed" || r.Model != "claude-sonnet" || len(strings.Fields(r.OutputText())) != 6 {
		t.Fatalf("response = %s", r.RawJSON())
	}
	if r.Usage.InputTokens == 0 || r.Usage.OutputTokens != 6 || r.Usage.TotalTokens != r.Usage.InputTokens+6 || r.Instructions.OfString != "You are terse." || r.Metadata["team"] != "search" {
		t.Fatalf("usage or echo: %s", r.RawJSON())
	}
	msg := r.Output[0]
	if msg.Type != "message" || msg.Role != "assistant" || msg.Content[0].Type != "output_text" || !strings.HasPrefix(msg.ID, "msg_") {
		t.Fatalf("output = %s", r.RawJSON())
	}
	got, err := c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	if err != nil || got.OutputText() != r.OutputText() || got.Status != "completed" {
		t.Fatalf("get = %v, %v", got, err)
	}

	// An image counts as input.
	withImage, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "claude-sonnet",
		Input: items(responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
			{OfInputText: &responses.ResponseInputTextParam{Text: text}},
			{OfInputImage: &responses.ResponseInputImageParam{ImageURL: openai.String(tinyPNG(t)), Detail: "low"}},
		}, responses.EasyInputMessageRoleUser)),
	})
	if err != nil {
		t.Fatalf("image: %v", err)
	}
	textOnly, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput(text)})
	if err != nil {
		t.Fatal(err)
	}
	if withImage.Usage.InputTokens <= textOnly.Usage.InputTokens {
		t.Fatalf("input tokens with the image %d, without %d", withImage.Usage.InputTokens, textOnly.Usage.InputTokens)
	}

	// Tools: a call, then its output sent back as function_call_output.
	ask := responses.ResponseInputItemParamOfMessage("What is the weather in Oslo?\n"+bedrocksim.Directive("tool", "get_weather"), responses.EasyInputMessageRoleUser)
	called, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: items(ask), Tools: []responses.ToolUnionParam{weatherFunction()}})
	if err != nil {
		t.Fatal(err)
	}
	var call responses.ResponseFunctionToolCall
	for _, it := range called.Output {
		if it.Type == "function_call" {
			call = it.AsFunctionCall()
		}
	}
	if call.Name != "get_weather" || call.CallID == "" || !json.Valid([]byte(call.Arguments)) {
		t.Fatalf("tool call: %s", called.RawJSON())
	}
	answer, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "claude-sonnet", Tools: []responses.ToolUnionParam{weatherFunction()},
		Input: items(ask,
			responses.ResponseInputItemParamOfFunctionCall(call.Arguments, call.CallID, call.Name),
			callOutput(`{"temperature": 21}`, call.CallID)),
	})
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if answer.Status != "completed" || answer.OutputText() == "" {
		t.Fatalf("round trip answer: %s", answer.RawJSON())
	}

	// Structured output.
	schema := map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}, "required": []string{"name"}, "additionalProperties": false}
	structured, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "claude-sonnet", Input: textInput("Describe a city as JSON."),
		Text: responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigParamOfJSONSchema("city", schema)},
	})
	if err != nil {
		t.Fatalf("json_schema: %v", err)
	}
	var city map[string]any
	if err := json.Unmarshal([]byte(structured.OutputText()), &city); err != nil || city["name"] == nil {
		t.Fatalf("structured output %q: %v", structured.OutputText(), err)
	}
	if structured.Text.Format.Type != "json_schema" || structured.Text.Format.Name != "city" {
		t.Fatalf("text.format echo: %s", structured.RawJSON())
	}

	// Refusals name the caller's JSON path, and make no job.
	jobsBefore := jobCount(t, s)
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("hi"),
		Tools: []responses.ToolUnionParam{{OfWebSearch: &responses.WebSearchToolParam{Type: "web_search"}}}})
	apiError(t, err, 400, "tools[0].type")
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet",
		Input: items(responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
			{OfInputText: &responses.ResponseInputTextParam{Text: "look"}},
			{OfInputImage: &responses.ResponseInputImageParam{ImageURL: openai.String("https://example.com/cat.png"), Detail: "auto"}},
		}, responses.EasyInputMessageRoleUser))})
	apiError(t, err, 400, "input[0].content[1].image_url")
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("hi"), Temperature: openai.Float(1.5)})
	apiError(t, err, 400, "temperature")
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("hi"), Background: openai.Bool(true), Store: openai.Bool(false)})
	apiError(t, err, 400, "background")
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("hi"), PreviousResponseID: openai.String("resp_0000")})
	apiError(t, err, 404, "previous_response_id")
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("hi")}, option.WithJSONSet("input.0", 1))
	if err == nil {
		t.Fatal("a malformed input was accepted")
	}
	if n := jobCount(t, s); n != jobsBefore {
		t.Fatalf("refused requests made %d jobs", n-jobsBefore)
	}

	// Unstored responses are not retrievable.
	unstored, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput(text), Store: openai.Bool(false)})
	if err != nil || unstored.Status != "completed" {
		t.Fatalf("store=false: %v %v", unstored, err)
	}
	_, err = c.Responses.Get(ctx, unstored.ID, responses.ResponseGetParams{})
	apiError(t, err, 404, "")
}

// readEvents reads a Responses stream whole, checks the sequence numbers
// run on from first, and feeds the SDK's accumulator.
func readEvents(t *testing.T, stream *ssestream.Stream[responses.ResponseStreamEventUnion], first int64) ([]responses.ResponseStreamEventUnion, *responses.Response) {
	t.Helper()
	var events []responses.ResponseStreamEventUnion
	var acc responses.ResponseAccumulator
	for stream.Next() {
		ev := stream.Current()
		if want := first + int64(len(events)); ev.SequenceNumber != want {
			t.Fatalf("event %s has sequence_number %d, want %d", ev.Type, ev.SequenceNumber, want)
		}
		events = append(events, ev)
		var server responses.ResponsesServerEventUnion
		if err := json.Unmarshal([]byte(ev.RawJSON()), &server); err != nil {
			t.Fatalf("event %s: %v", ev.RawJSON(), err)
		}
		if err := acc.AddEvent(server); err != nil {
			t.Fatalf("the SDK's accumulator refused %s: %v", ev.RawJSON(), err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	rebuilt, err := acc.ReconstructedResponse()
	if err != nil {
		t.Fatalf("reconstruct the streamed response: %v", err)
	}
	return events, rebuilt
}

func eventTypes(events []responses.ResponseStreamEventUnion) string {
	var types []string
	for _, ev := range events {
		if len(types) == 0 || types[len(types)-1] != ev.Type {
			types = append(types, ev.Type)
		}
	}
	return strings.Join(types, " ")
}

func TestResponsesStreaming(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx := ctxFor(t)

	params := responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("stream please\n" + bedrocksim.Directive("output_tokens", "40", "per_token_ms", "2"))}
	events, rebuilt := readEvents(t, c.Responses.NewStreaming(ctx, params), 0)
	want := "response.created response.in_progress response.output_item.added response.content_part.added response.output_text.delta " +
		"response.output_text.done response.content_part.done response.output_item.done response.completed"
	if got := eventTypes(events); got != want {
		t.Fatalf("events:\n%s\nwant\n%s", got, want)
	}
	var deltas strings.Builder
	for _, ev := range events {
		if ev.Type == "response.output_text.delta" {
			deltas.WriteString(ev.Delta)
		}
	}
	final := events[len(events)-1].Response
	if created := events[0].Response; created.CreatedAt == 0 || created.CreatedAt != final.CreatedAt || created.ID != final.ID {
		t.Fatalf("created %s, final %s", created.RawJSON(), final.RawJSON())
	}
	if deltas.String() != final.OutputText() || len(strings.Fields(final.OutputText())) != 40 || final.Usage.OutputTokens != 40 {
		t.Fatalf("deltas %q, final %s", deltas.String(), final.RawJSON())
	}
	if rebuilt.OutputText() != final.OutputText() || rebuilt.ID != final.ID {
		t.Fatalf("the SDK rebuilt %s, the stream ended with %s", rebuilt.RawJSON(), final.RawJSON())
	}
	stored, err := c.Responses.Get(ctx, final.ID, responses.ResponseGetParams{})
	if err != nil || stored.OutputText() != final.OutputText() {
		t.Fatalf("stored %v %v", stored, err)
	}

	// A streamed tool call: the arguments come as deltas and add up.
	tools := responses.ResponseNewParams{Model: "claude-sonnet", Tools: []responses.ToolUnionParam{weatherFunction()},
		Input: textInput("Weather in Oslo?\n" + bedrocksim.Directive("tool", "get_weather"))}
	events, rebuilt = readEvents(t, c.Responses.NewStreaming(ctx, tools), 0)
	var args strings.Builder
	var done string
	for _, ev := range events {
		switch ev.Type {
		case "response.function_call_arguments.delta":
			args.WriteString(ev.Delta)
		case "response.function_call_arguments.done":
			done = ev.Arguments
		}
	}
	final = events[len(events)-1].Response
	fc := final.Output[len(final.Output)-1].AsFunctionCall()
	if args.String() != done || !sameJSON(done, fc.Arguments) || fc.Name != "get_weather" || args.Len() == 0 {
		t.Fatalf("streamed arguments %q, done %q, final %s", args.String(), done, final.RawJSON())
	}
	if rc := rebuilt.Output[len(rebuilt.Output)-1].AsFunctionCall(); rc.CallID != fc.CallID || rc.Arguments != fc.Arguments {
		t.Fatalf("the SDK rebuilt %s", rebuilt.RawJSON())
	}
}

func TestResponsesChainAndInputItems(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx := ctxFor(t)

	first, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("My name is Ada.\n" + bedrocksim.Directive("output_tokens", "30"))})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("What is my name?"), PreviousResponseID: openai.String(first.ID)})
	if err != nil {
		t.Fatal(err)
	}
	alone, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("What is my name?")})
	if err != nil {
		t.Fatal(err)
	}
	// The history reached Bedrock: the first turn and its 30-token answer.
	if second.Usage.InputTokens < alone.Usage.InputTokens+30 || second.PreviousResponseID != first.ID {
		t.Fatalf("chained input %d tokens, alone %d: the history was not sent", second.Usage.InputTokens, alone.Usage.InputTokens)
	}
	third, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("And again?"), PreviousResponseID: openai.String(second.ID)})
	if err != nil {
		t.Fatal(err)
	}

	// input_items: everything the model read, newest first, in pages.
	page, err := c.Responses.InputItems.List(ctx, third.ID, responses.InputItemListParams{Limit: openai.Int(2)})
	if err != nil {
		t.Fatal(err)
	}
	var seen []responses.ResponseItemUnion
	for page != nil && len(page.Data) > 0 {
		seen = append(seen, page.Data...)
		if page, err = page.GetNextPage(); err != nil {
			t.Fatal(err)
		}
	}
	// user, assistant, user, assistant, user
	if len(seen) != 5 || seen[0].Role != "user" || seen[1].Type != "message" || seen[1].Role != "assistant" || seen[1].ID != second.Output[0].ID {
		raw, _ := json.Marshal(seen)
		t.Fatalf("input items = %s", raw)
	}

	// Deleted: gone, and no longer a base for a chain.
	if err := c.Responses.Delete(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
	apiError(t, err, 404, "")
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("hi"), PreviousResponseID: openai.String(first.ID)})
	apiError(t, err, 404, "previous_response_id")

	// Another tenant sees nothing of it.
	other := createKey(t, s, "--name", "other", "--tenant", "other", "--create-tenant")
	oc := openai.NewClient(option.WithBaseURL(s.URL+"/v1"), option.WithAPIKey(other.secret), option.WithMaxRetries(0))
	_, err = oc.Responses.Get(ctx, second.ID, responses.ResponseGetParams{})
	apiError(t, err, 404, "")
	_, err = oc.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("hi"), PreviousResponseID: openai.String(second.ID)})
	apiError(t, err, 404, "previous_response_id")
	_, err = oc.Responses.Cancel(ctx, second.ID)
	apiError(t, err, 404, "")
}

// hookSink records webhook deliveries as they came, headers and all.
type hookSink struct {
	*httptest.Server
	mu   sync.Mutex
	got  []hookDelivery
	seen chan struct{}
}

type hookDelivery struct {
	header http.Header
	body   []byte
}

func newHookSink(t *testing.T) *hookSink {
	h := &hookSink{seen: make(chan struct{}, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hookDelivery{r.Header.Clone(), b})
		h.mu.Unlock()
		h.seen <- struct{}{}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

// event waits for the delivery about response id and unwraps it with the
// SDK, which verifies its signature.
func (h *hookSink) event(t *testing.T, c openai.Client, id string) *responses.Response {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		h.mu.Lock()
		for _, d := range h.got {
			ev, err := c.Webhooks.Unwrap(d.body, d.header)
			if err != nil {
				h.mu.Unlock()
				t.Fatalf("the SDK refused the delivery %s: %v", d.body, err)
			}
			var data struct {
				Data struct {
					ID string `json:"id"`
				} `json:"data"`
				Type string `json:"type"`
			}
			_ = json.Unmarshal(d.body, &data)
			if data.Data.ID == id {
				h.mu.Unlock()
				return &responses.Response{Status: responses.ResponseStatus(strings.TrimPrefix(ev.Type, "response."))}
			}
		}
		h.mu.Unlock()
		select {
		case <-h.seen:
		case <-deadline:
			t.Fatalf("no webhook for %s", id)
		}
	}
}

func TestResponsesBackground(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Config: conformanceConfig, Workers: -1})
	c := client(s)
	ctx := ctxFor(t)
	hooks := newHookSink(t)
	callback := option.WithHeader("X-Sluice-Callback-Url", hooks.URL)
	verify := openai.NewClient(option.WithWebhookSecret(stacktest.WebhookSecret))

	bg := func(text string) *responses.Response {
		t.Helper()
		r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput(text), Background: openai.Bool(true)}, callback)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != "queued" || !r.Background {
			t.Fatalf("background answer: %s", r.RawJSON())
		}
		return r
	}

	// No worker yet: it waits; cancelled, it never runs.
	doomed := bg("never mind")
	cancelled, err := c.Responses.Cancel(ctx, doomed.ID)
	if err != nil || cancelled.Status != "cancelled" {
		t.Fatalf("cancel: %v %v", cancelled, err)
	}
	_, err = c.Responses.Cancel(ctx, doomed.ID)
	apiError(t, err, 409, "")

	r := bg("later\n" + bedrocksim.Directive("output_tokens", "12"))
	got, err := c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	if err != nil || got.Status != "queued" {
		t.Fatalf("poll before a worker: %v %v", got, err)
	}
	s.StartWorker() // which delivers webhooks too
	if ev := hooks.event(t, verify, doomed.ID); ev.Status != "cancelled" {
		t.Fatalf("webhook of the cancelled response: %s", ev.Status)
	}
	waitFor(t, "the background response", func() bool {
		got, err = c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
		if err != nil {
			t.Fatal(err)
		}
		return got.Status == "completed"
	})
	if len(strings.Fields(got.OutputText())) != 12 {
		t.Fatalf("completed: %s", got.RawJSON())
	}
	if ev := hooks.event(t, verify, r.ID); ev.Status != "completed" {
		t.Fatalf("webhook: %s", ev.Status)
	}
	// The SDK refuses a delivery under another secret.
	hooks.mu.Lock()
	d := hooks.got[len(hooks.got)-1]
	hooks.mu.Unlock()
	wrong := openai.NewClient(option.WithWebhookSecret("whsec_" + strings.Repeat("A", 32)))
	if _, err := wrong.Webhooks.Unwrap(d.body, d.header); err == nil {
		t.Fatal("a delivery verified under the wrong secret")
	}

	// Cut short by max_output_tokens: incomplete, and so is its event.
	short, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Background: openai.Bool(true), MaxOutputTokens: openai.Int(5),
		Input: textInput("long\n" + bedrocksim.Directive("output_tokens", "50"))}, callback)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the short response", func() bool {
		short, err = c.Responses.Get(ctx, short.ID, responses.ResponseGetParams{})
		return err == nil && short.Status != "queued" && short.Status != "in_progress"
	})
	if short.Status != "incomplete" || short.IncompleteDetails.Reason != "max_output_tokens" || short.Usage.OutputTokens != 5 {
		t.Fatalf("cut short: %s", short.RawJSON())
	}
	if ev := hooks.event(t, verify, short.ID); ev.Status != "incomplete" {
		t.Fatalf("webhook of the incomplete response: %s", ev.Status)
	}

	// The stream, whole and resumed.
	events, rebuilt := readEvents(t, c.Responses.GetStreaming(ctx, r.ID, responses.ResponseGetParams{}), 0)
	if rebuilt.OutputText() != got.OutputText() || events[0].Type != "response.created" || events[len(events)-1].Type != "response.completed" {
		t.Fatalf("replayed stream: %s", eventTypes(events))
	}
	resumed, _ := readEvents(t, c.Responses.GetStreaming(ctx, r.ID, responses.ResponseGetParams{StartingAfter: param.NewOpt[int64](3)}), 4)
	if len(resumed) != len(events)-4 || resumed[len(resumed)-1].Response.OutputText() != got.OutputText() {
		t.Fatalf("resumed after 3: %d events of %d", len(resumed), len(events))
	}
	_, err = c.Responses.Cancel(ctx, r.ID)
	apiError(t, err, 409, "")

	// Created with stream: true, it streams as it runs; the caller may leave.
	stream := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("streamed"), Background: openai.Bool(true)})
	events, _ = readEvents(t, stream, 0)
	if events[1].Type != "response.queued" || events[len(events)-1].Type != "response.completed" {
		t.Fatalf("background stream: %s", eventTypes(events))
	}
}

// A sync caller that hangs up stops its response, as for chat.
func TestResponsesHangUpCancels(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("slow\n" + bedrocksim.Directive("ttft_ms", "3000"))})
	if err == nil {
		t.Fatal("a 3 s answer came within 0.5 s")
	}
	waitFor(t, "the response's job to be cancelled", func() bool {
		_, state, _, _ := onlyJob(t, s)
		return state == "cancelled"
	})
}

// An Idempotency-Key returns the first response; the key reused for another
// request is refused. Retention deletes a response with its job.
func TestResponsesIdempotencyAndRetention(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx := ctxFor(t)
	key := option.WithHeader("Idempotency-Key", "order-42")
	params := responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("once\n" + bedrocksim.Directive("output_tokens", "7"))}
	first, err := c.Responses.New(ctx, params, key)
	if err != nil {
		t.Fatal(err)
	}
	var raw *http.Response
	again, err := c.Responses.New(ctx, params, key, option.WithResponseInto(&raw))
	if err != nil || again.ID != first.ID || again.OutputText() != first.OutputText() || raw.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %v %v", again, err)
	}
	if n := jobCount(t, s); n != 1 {
		t.Fatalf("%d jobs for one idempotent response", n)
	}
	params.Background = openai.Bool(true)
	_, err = c.Responses.New(ctx, params, key)
	apiError(t, err, 422, "")

	if _, err := s.DB.Exec(ctx, `UPDATE jobs SET finished_at = now() - interval '8 days'`); err != nil {
		t.Fatal(err)
	}
	r := &worker.Retention{Store: s.Store, Age: 7 * 24 * time.Hour, Log: slog.New(slog.DiscardHandler), Batch: 10}
	if n, err := r.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("swept %d (err %v), want 1", n, err)
	}
	_, err = c.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
	apiError(t, err, 404, "")
	var rows int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM responses`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d response rows left (err %v)", rows, err)
	}
}
