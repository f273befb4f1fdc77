package stacktest_test

// The conformance suite: each OpenAI feature sluice serves, driven through the
// official OpenAI Go SDK against the api, a worker and the Bedrock simulator.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/stacktest"
)

// conformanceConfig adds embedding aliases to the default chat alias.
const conformanceConfig = `
models:
  claude-sonnet:
    bedrock_model_id: us.anthropic.claude-sonnet-4-20250514-v1:0
    default_max_tokens: 256
    max_output_tokens: 4096
    burndown: 5
  titan-embed:
    bedrock_model_id: amazon.titan-embed-text-v2:0
  cohere-embed:
    bedrock_model_id: cohere.embed-english-v3
    kind: embedding
accounts:
  - name: a
    region: us-east-1
    role_arn: arn:aws:iam::111111111111:role/bedrock-caller
    external_id: ext-a
    models:
      claude-sonnet: {tpm: 10000000}
      titan-embed: {tpm: 1000000}
      cohere-embed: {tpm: 1000000}
`

const sonnetID = "us.anthropic.claude-sonnet-4-20250514-v1:0"

func conformanceStack(t *testing.T) *stacktest.Stack {
	return stacktest.Start(t, stacktest.Options{Config: conformanceConfig})
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// streamAll reads a whole stream into an accumulator.
func streamAll(t *testing.T, stream *ssestream.Stream[openai.ChatCompletionChunk]) (openai.ChatCompletionAccumulator, []openai.ChatCompletionChunk, error) {
	t.Helper()
	var acc openai.ChatCompletionAccumulator
	var chunks []openai.ChatCompletionChunk
	for stream.Next() {
		chunk := stream.Current()
		chunks = append(chunks, chunk)
		if !acc.AddChunk(chunk) {
			t.Fatalf("the accumulator refused chunk %d: %s", len(chunks), chunk.RawJSON())
		}
	}
	return acc, chunks, stream.Err()
}

// onlyJob is the one job the test made.
func onlyJob(t *testing.T, s *stacktest.Stack) (id, state string, attempts int, errJSON []byte) {
	t.Helper()
	if err := s.DB.QueryRow(context.Background(), `SELECT id, state, attempts, error FROM jobs`).Scan(&id, &state, &attempts, &errJSON); err != nil {
		t.Fatalf("read the job: %v", err)
	}
	return id, state, attempts, errJSON
}

func TestStreamAccumulatesToTheSameCompletion(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx := ctxFor(t)
	params := openai.ChatCompletionNewParams{
		Model: "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are terse."),
			openai.UserMessage("stream please\n" + bedrocksim.Directive("output_tokens", "40", "per_token_ms", "2")),
		},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	acc, chunks, err := streamAll(t, c.Chat.Completions.NewStreaming(ctx, params))
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(chunks) < 5 {
		t.Fatalf("%d chunks, want a stream of many", len(chunks))
	}
	first, last := chunks[0], chunks[len(chunks)-1]
	if first.Object != "chat.completion.chunk" || first.Choices[0].Delta.Role != "assistant" || !strings.HasPrefix(first.ID, "chatcmpl-") || first.Model != "claude-sonnet" {
		t.Fatalf("first chunk = %s", first.RawJSON())
	}
	if len(last.Choices) != 0 || last.Usage.CompletionTokens != 40 || last.Usage.PromptTokens == 0 {
		t.Fatalf("last chunk = %s, want the usage chunk with no choices", last.RawJSON())
	}
	for _, ch := range chunks[:len(chunks)-1] {
		if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens != 0 {
			t.Fatalf("usage before the last chunk: %s", ch.RawJSON())
		}
	}
	streamed := acc.Choices[0]
	if streamed.FinishReason != "stop" || len(strings.Fields(streamed.Message.Content)) != 40 {
		t.Fatalf("accumulated %+v", streamed)
	}
	if acc.Usage.CompletionTokens != 40 || acc.Usage.TotalTokens != acc.Usage.PromptTokens+40 {
		t.Fatalf("accumulated usage = %+v", acc.Usage)
	}

	// The same request unstreamed gives the same answer (the simulator is
	// deterministic), and the streamed job can be polled for it.
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{}
	whole, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if whole.Choices[0].Message.Content != streamed.Message.Content {
		t.Fatalf("streamed %q, unstreamed %q", streamed.Message.Content, whole.Choices[0].Message.Content)
	}
	var id string
	var leftover int
	if err := s.DB.QueryRow(ctx, `SELECT id, (SELECT count(*) FROM job_chunks) FROM jobs WHERE request->>'stream' = 'true'`).Scan(&id, &leftover); err != nil {
		t.Fatal(err)
	}
	if leftover != 0 {
		t.Errorf("%d chunks left after the stream was relayed", leftover)
	}
	status, body := s.Do(http.MethodGet, "/v1/jobs/"+id, "")
	var job struct {
		Status string                `json:"status"`
		Result openai.ChatCompletion `json:"result"`
	}
	if err := json.Unmarshal(body, &job); status != 200 || err != nil || job.Status != "succeeded" || job.Result.Choices[0].Message.Content != streamed.Message.Content {
		t.Fatalf("polled streamed job: %d %s", status, body)
	}
}

func weatherTool() openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("Current weather for a city"),
		Parameters: shared.FunctionParameters{
			"type": "object",
			"properties": map[string]any{
				"city": map[string]any{"type": "string"},
				"unit": map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
			},
			"required": []string{"city"},
		},
	})
}

func TestToolCallRoundTrip(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx := ctxFor(t)
	ask := openai.UserMessage("What is the weather in Oslo?\n" + bedrocksim.Directive("tool", "get_weather"))
	params := openai.ChatCompletionNewParams{
		Model:    "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{ask},
		Tools:    []openai.ChatCompletionToolUnionParam{weatherTool()},
	}

	whole, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if whole.Choices[0].FinishReason != "tool_calls" || len(whole.Choices[0].Message.ToolCalls) != 1 {
		t.Fatalf("non-streamed tool call: %s", whole.RawJSON())
	}
	call := whole.Choices[0].Message.ToolCalls[0]

	acc, chunks, err := streamAll(t, c.Chat.Completions.NewStreaming(ctx, params))
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	streamed := acc.Choices[0]
	if streamed.FinishReason != "tool_calls" || len(streamed.Message.ToolCalls) != 1 {
		t.Fatalf("streamed tool call: %+v", streamed)
	}
	sc := streamed.Message.ToolCalls[0]
	if sc.ID != call.ID || sc.Function.Name != "get_weather" || !sameJSON(sc.Function.Arguments, call.Function.Arguments) {
		t.Fatalf("streamed call %s %s(%s), unstreamed %s %s(%s)", sc.ID, sc.Function.Name, sc.Function.Arguments, call.ID, call.Function.Name, call.Function.Arguments)
	}
	pieces := 0
	for _, ch := range chunks {
		if len(ch.Choices) > 0 && len(ch.Choices[0].Delta.ToolCalls) > 0 {
			if ch.Choices[0].Delta.ToolCalls[0].Index != 0 {
				t.Fatalf("tool call index %d, want 0 for the first call", ch.Choices[0].Delta.ToolCalls[0].Index)
			}
			pieces++
		}
	}
	if pieces < 3 {
		t.Fatalf("the tool call came in %d pieces, want its arguments streamed", pieces)
	}

	// Round trip: the accumulated message and the tool's result go back.
	for name, assistant := range map[string]openai.ChatCompletionMessageParamUnion{"unstreamed": whole.Choices[0].Message.ToParam(), "streamed": streamed.Message.ToParam()} {
		params.Messages = []openai.ChatCompletionMessageParamUnion{ask, assistant, openai.ToolMessage(`{"temperature": 21, "unit": "celsius"}`, call.ID)}
		answer, err := c.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("%s round trip: %v", name, err)
		}
		if answer.Choices[0].FinishReason != "stop" || answer.Choices[0].Message.Content == "" {
			t.Fatalf("%s round trip answer: %s", name, answer.RawJSON())
		}
	}
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func tinyPNG(t *testing.T) string {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestImageInputAndJSONSchema(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx := ctxFor(t)

	text := "What is in this picture?\n" + bedrocksim.Directive("output_tokens", "5")
	withImage, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.TextContentPart(text),
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: tinyPNG(t), Detail: "low"}),
		})},
	})
	if err != nil {
		t.Fatalf("image input: %v", err)
	}
	textOnly, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "claude-sonnet", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The image reached Bedrock: it counts as input.
	if withImage.Usage.PromptTokens <= textOnly.Usage.PromptTokens {
		t.Fatalf("prompt tokens with the image %d, without %d", withImage.Usage.PromptTokens, textOnly.Usage.PromptTokens)
	}

	_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Describe a city as JSON.")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
				Name:   "city",
				Strict: openai.Bool(true),
				Schema: map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}, "required": []string{"name"}},
			},
		}},
	})
	if err != nil {
		t.Fatalf("json_schema: %v", err)
	}

	// A remote image is refused before a job exists.
	_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/cat.png"}),
		})},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Fatalf("remote image: err = %v, want a 400", err)
	}
}

func TestEmbeddings(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx := ctxFor(t)

	one, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "titan-embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("The queue drains steadily.")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if one.Object != "list" || one.Model != "titan-embed" || len(one.Data) != 1 || len(one.Data[0].Embedding) != 1024 || one.Usage.PromptTokens == 0 || one.Usage.TotalTokens != one.Usage.PromptTokens {
		t.Fatalf("single embedding: object %q model %q, %d vectors, usage %+v", one.Object, one.Model, len(one.Data), one.Usage)
	}

	texts := []string{"alpha", "beta", "The queue drains steadily."}
	batch, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model:      "titan-embed",
		Input:      openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
		Dimensions: openai.Int(256),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.Data) != 3 {
		t.Fatalf("batch of 3 gave %d vectors", len(batch.Data))
	}
	for i, d := range batch.Data {
		if d.Index != int64(i) || len(d.Embedding) != 256 {
			t.Fatalf("vector %d: index %d, %d dimensions", i, d.Index, len(d.Embedding))
		}
	}

	// base64 carries the same float32s (the JSON numbers are their shortest
	// decimal forms, so they compare as float32).
	b64, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model:          "titan-embed",
		Input:          openai.EmbeddingNewParamsInputUnion{OfString: openai.String("The queue drains steadily.")},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(b64.Data[0].Embedding) != 1024 || float32(b64.Data[0].Embedding[7]) != float32(one.Data[0].Embedding[7]) || !strings.Contains(b64.RawJSON(), `"embedding":"`) {
		t.Fatalf("base64 embedding differs from the float one")
	}

	cohere, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "cohere-embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cohere.Data) != 3 || len(cohere.Data[2].Embedding) != 1024 {
		t.Fatalf("cohere batch: %d vectors", len(cohere.Data))
	}

	// Embeddings are budgeted: the simulator charged their input tokens.
	m := s.Sim.Stats().Model("111111111111", "amazon.titan-embed-text-v2:0")
	if m.Totals.Admitted != 5 || m.Totals.OutputTokens != 0 || m.Totals.ChargedTokens != m.Totals.InputTokens {
		t.Fatalf("simulator totals for Titan = %+v, want 5 calls charging input only", m.Totals)
	}

	for name, body := range map[string]string{
		"token arrays":           `{"model":"titan-embed","input":[[1,2,3]]}`,
		"a chat model":           `{"model":"claude-sonnet","input":"hi"}`,
		"empty string":           `{"model":"titan-embed","input":["hi",""]}`,
		"unsupported dimensions": `{"model":"titan-embed","input":"hi","dimensions":300}`,
		"unknown format":         `{"model":"titan-embed","input":"hi","encoding_format":"int8"}`,
	} {
		status, resp := s.Do(http.MethodPost, "/v1/embeddings", body)
		if status != 400 || !strings.Contains(string(resp), `"invalid_request_error"`) {
			t.Errorf("%s: %d %s", name, status, resp)
		}
	}
	status, resp := s.Do(http.MethodPost, "/v1/chat/completions", `{"model":"titan-embed","messages":[{"role":"user","content":"hi"}]}`)
	if status != 400 {
		t.Errorf("chat with an embedding model: %d %s", status, resp)
	}
}

// A Bedrock error after part of the stream was sent ends the stream with an
// error event, and the job is not retried; one before anything was sent is
// retried, and the caller never sees it.
func TestStreamErrors(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx := ctxFor(t)

	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("fail part-way\n" +
			bedrocksim.Directive("output_tokens", "50", "per_token_ms", "10", "stream_fail_after", "20"))},
	})
	acc, _, err := streamAll(t, stream)
	var streamErr *ssestream.StreamError
	if !errors.As(err, &streamErr) || !strings.Contains(streamErr.Message, "ModelStreamErrorException") {
		t.Fatalf("stream err = %v, want the error event", err)
	}
	if words := len(strings.Fields(acc.Choices[0].Message.Content)); words == 0 || words > 20 {
		t.Fatalf("the caller got %d words before the error, want the part produced", words)
	}
	_, state, attempts, _ := onlyJob(t, s)
	if state != "failed" || attempts != 1 {
		t.Fatalf("job %s after %d attempts; want failed after 1 (partial output is never retried)", state, attempts)
	}

	// A stream cut off part-way, with no messageStop and no error, is not a
	// complete answer: the caller gets the part and an error event, and the
	// job fails rather than succeeding with half an answer.
	if _, err := s.DB.Exec(ctx, `DELETE FROM jobs`); err != nil {
		t.Fatal(err)
	}
	acc, _, err = streamAll(t, c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("cut off\n" +
			bedrocksim.Directive("output_tokens", "40", "per_token_ms", "10", "stream_cut_after", "15"))},
	}))
	if !errors.As(err, &streamErr) || !strings.Contains(streamErr.Message, "messageStop") {
		t.Fatalf("cut-off stream err = %v, want an error event", err)
	}
	if _, state, _, _ = onlyJob(t, s); state != "failed" {
		t.Fatalf("a cut-off stream's job is %s, want failed", state)
	}

	if _, err := s.DB.Exec(ctx, `DELETE FROM jobs`); err != nil {
		t.Fatal(err)
	}
	acc, _, err = streamAll(t, c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("fail at once\n" +
			bedrocksim.Directive("output_tokens", "8", "stream_fail_after", "0", "fail_times", "1"))},
	}))
	if err != nil {
		t.Fatalf("a stream that failed before any output was not retried: %v", err)
	}
	if words := len(strings.Fields(acc.Choices[0].Message.Content)); words != 8 {
		t.Fatalf("retried stream gave %d words, want 8", words)
	}
	// Retried in the worker, within the one claim.
	_, state, attempts, _ = onlyJob(t, s)
	if state != "succeeded" || attempts != 1 {
		t.Fatalf("job %s after %d attempts; want succeeded after 1", state, attempts)
	}

	// Refused before any output: an ordinary error response, not a stream.
	_, _, err = streamAll(t, c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("no\n" + bedrocksim.Directive("fail", "ValidationException"))},
	}))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Fatalf("refused stream: err = %v, want a 400 response", err)
	}
}

// A caller that hangs up mid-stream cancels the job: the worker stops the
// Bedrock call, and the job ends cancelled.
func TestStreamDisconnectCancelsTheJob(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx, cancel := context.WithCancel(ctxFor(t))
	const tokens = 500 // 10 s at 20 ms a token, if nobody stopped it
	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("a long story\n" +
			bedrocksim.Directive("output_tokens", "500", "per_token_ms", "20"))},
		MaxTokens: openai.Int(1000),
	})
	for stream.Next() {
		if ch := stream.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			break
		}
	}
	cancel()
	stream.Close()

	deadline := time.Now().Add(20 * time.Second)
	for {
		_, state, _, errJSON := onlyJob(t, s)
		if state == "cancelled" {
			if !strings.Contains(string(errJSON), "client_closed") {
				t.Fatalf("cancelled job's error = %s", errJSON)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job is %s (error %s), want cancelled after the caller left", state, errJSON)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := s.Sim.Stats().Model("111111111111", sonnetID)
	if m.Totals.InFlight != 0 || m.Totals.OutputTokens >= tokens || m.Totals.OutputTokens == 0 {
		t.Fatalf("simulator totals = %+v: want the call ended early, after some output", m.Totals)
	}
}

// Chunks announced while the api's listener is reconnecting are not
// replayed by Postgres; the api reads them from the table, and the caller
// gets the whole answer in order.
func TestStreamSurvivesListenerReconnect(t *testing.T) {
	s := conformanceStack(t)
	c := client(s)
	ctx := ctxFor(t)
	params := openai.ChatCompletionNewParams{
		Model: "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("a long story\n" +
			bedrocksim.Directive("output_tokens", "120", "per_token_ms", "20"))},
	}
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	killed := false
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		if !killed && len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			// The api's listener: its last statement was a LISTEN on the job channels.
			if err := s.DB.QueryRow(ctx, `SELECT count(*) > 0 FROM (SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
				WHERE datname = current_database() AND query ILIKE 'listen "sluice_job_%') AS k`).Scan(&killed); err != nil || !killed {
				t.Fatalf("terminate the api's listener: %v (found: %v)", err, killed)
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	whole, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != whole.Choices[0].Message.Content || acc.Choices[0].FinishReason != "stop" {
		t.Fatalf("streamed across a reconnect:\n%q\nunstreamed:\n%q", acc.Choices[0].Message.Content, whole.Choices[0].Message.Content)
	}
}

// A worker that dies mid-stream leaves chunks behind; the job is not run
// again (the caller has part of an answer), it fails, and the caller's
// stream ends with the error.
func TestStreamInterruptedIsNotRetried(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Config: conformanceConfig, Workers: -1})
	c := client(s)
	ctx := ctxFor(t)
	type outcome struct {
		acc openai.ChatCompletionAccumulator
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		acc, _, err := streamAll(t, c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "claude-sonnet",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		}))
		done <- outcome{acc, err}
	}()
	var id string
	deadline := time.Now().Add(20 * time.Second)
	for s.DB.QueryRow(ctx, `SELECT id FROM jobs`).Scan(&id) != nil {
		if time.Now().After(deadline) {
			t.Fatal("no job was made")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// What a worker that died had written.
	partial := `data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"claude-sonnet","choices":[{"index":0,"delta":{"role":"assistant","content":"Partial"},"finish_reason":null}]}` + "\n\n"
	if _, err := s.DB.Exec(ctx, `INSERT INTO job_chunks (job_id, seq, data) VALUES ($1, 1, $2)`, id, partial); err != nil {
		t.Fatal(err)
	}
	s.StartWorker()
	out := <-done
	var streamErr *ssestream.StreamError
	if !errors.As(out.err, &streamErr) || !strings.Contains(streamErr.Message, "stream_interrupted") {
		t.Fatalf("stream err = %v, want the interruption", out.err)
	}
	if out.acc.Choices[0].Message.Content != "Partial" {
		t.Fatalf("the caller got %q before the error", out.acc.Choices[0].Message.Content)
	}
	_, state, _, _ := onlyJob(t, s)
	if state != "failed" || s.Sim.Stats().Model("111111111111", sonnetID).Totals.Admitted != 0 {
		t.Fatalf("job %s; want failed without calling Bedrock again", state)
	}
}
