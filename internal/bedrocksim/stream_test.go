package bedrocksim

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

func streamInput(in *bedrockruntime.ConverseInput) *bedrockruntime.ConverseStreamInput {
	return &bedrockruntime.ConverseStreamInput{
		ModelId: in.ModelId, Messages: in.Messages, System: in.System,
		InferenceConfig: in.InferenceConfig, ToolConfig: in.ToolConfig,
		OutputConfig: in.OutputConfig, ServiceTier: in.ServiceTier,
	}
}

func TestConverseStreamMatchesConverse(t *testing.T) {
	_, url := newSim(t, Config{PerToken: time.Millisecond}) // 1ms per token: tokens really arrive one by one
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	in := converseInput(sonnet, 0, userText("stream this", Directive("output_tokens", "7")))

	whole, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	out, err := client.ConverseStream(ctx, streamInput(in))
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	r := readStream(t, out)
	if r.err != nil {
		t.Fatalf("stream.Err: %v", r.err)
	}
	want := []string{"messageStart"}
	for range 7 {
		want = append(want, "contentBlockDelta")
	}
	want = append(want, "contentBlockStop", "messageStop", "metadata")
	if !slices.Equal(r.events, want) {
		t.Errorf("events %v, want %v", r.events, want)
	}
	if r.text != outputText(t, whole) {
		t.Errorf("streamed %q, Converse said %q", r.text, outputText(t, whole))
	}
	if r.stopReason != types.StopReasonEndTurn {
		t.Errorf("stop reason %q", r.stopReason)
	}
	if r.usage == nil || aws.ToInt32(r.usage.OutputTokens) != 7 || aws.ToInt32(r.usage.InputTokens) != aws.ToInt32(whole.Usage.InputTokens) {
		t.Errorf("metadata usage %+v, want 7 output tokens and the same input as Converse", r.usage)
	}
}

func TestConverseStreamToolUse(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	in := converseInput(sonnet, 100, userText("weather?", Directive("tool", "get_weather")))
	in.ToolConfig = weatherTools()

	out, err := client.ConverseStream(ctx, streamInput(in))
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	r := readStream(t, out)
	if r.err != nil {
		t.Fatalf("stream.Err: %v", r.err)
	}
	if r.toolStart == nil || aws.ToString(r.toolStart.Name) != "get_weather" || aws.ToString(r.toolStart.ToolUseId) == "" {
		t.Fatalf("contentBlockStart.toolUse = %+v", r.toolStart)
	}
	if n := strings.Count(strings.Join(r.events, " "), "contentBlockDelta"); n < 2 {
		t.Errorf("tool input came in %d deltas, want it split", n)
	}
	var input map[string]any
	if err := json.Unmarshal([]byte(r.toolInput), &input); err != nil {
		t.Fatalf("concatenated tool input %q is not JSON: %v", r.toolInput, err)
	}
	if r.stopReason != types.StopReasonToolUse {
		t.Errorf("stop reason %q, want tool_use", r.stopReason)
	}

	// Non-streaming gives the same call.
	whole, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	tu := whole.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberToolUse).Value
	var wholeInput map[string]any
	if err := tu.Input.UnmarshalSmithyDocument(&wholeInput); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(tu.ToolUseId) != aws.ToString(r.toolStart.ToolUseId) || wholeInput["city"] != input["city"] {
		t.Errorf("Converse tool call %s %v differs from streamed %s %v", aws.ToString(tu.ToolUseId), wholeInput, aws.ToString(r.toolStart.ToolUseId), input)
	}
}

func TestConverseStreamInStreamThrottling(t *testing.T) {
	s, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	in := converseInput(sonnet, 50, userText("fail midway", Directive("output_tokens", "10", "stream_fail_after", "3", "fail", "ThrottlingException")))

	out, err := client.ConverseStream(ctx, streamInput(in))
	if err != nil {
		t.Fatalf("ConverseStream: %v (the failure must come inside the stream)", err)
	}
	r := readStream(t, out)
	var te *types.ThrottlingException
	if !errors.As(r.err, &te) {
		t.Fatalf("stream.Err() = %v (%T), want *types.ThrottlingException", r.err, r.err)
	}
	if n := len(strings.Fields(r.text)); n != 3 {
		t.Errorf("got %d tokens (%q) before the failure, want 3", n, r.text)
	}
	if slices.Contains(r.events, "messageStop") {
		t.Errorf("events %v include messageStop after a failure", r.events)
	}

	// The failed stream settled what it produced: input + 3 × burndown 5.
	// The server settles just after writing the exception the client has
	// already read, so give it a moment.
	tot := s.Stats().Model(DefaultAccountID, sonnet).Totals
	for deadline := time.Now().Add(2 * time.Second); tot.InFlight != 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		tot = s.Stats().Model(DefaultAccountID, sonnet).Totals
	}
	if tot.OutputTokens != 3 || tot.ChargedTokens != tot.InputTokens+15 || tot.ErrorsInjected != 1 || tot.InFlight != 0 {
		t.Errorf("totals after failed stream: %+v", tot)
	}

	// The default in-stream failure is modelStreamErrorException.
	out, err = client.ConverseStream(ctx, streamInput(converseInput(sonnet, 50, userText("x", Directive("stream_fail_after", "0")))))
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	var me *types.ModelStreamErrorException
	if r := readStream(t, out); !errors.As(r.err, &me) {
		t.Fatalf("stream.Err() = %v, want *types.ModelStreamErrorException", r.err)
	}
}

func TestConverseStreamHTTPErrorBeforeStream(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	_, err := client.ConverseStream(ctxTimeout(t), streamInput(converseInput(sonnet, 10, userText(Directive("fail", "ServiceUnavailableException")))))
	var se *types.ServiceUnavailableException
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *types.ServiceUnavailableException", err)
	}
}
