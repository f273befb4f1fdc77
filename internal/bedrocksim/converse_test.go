package bedrocksim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

func TestConverseDeterministicWithUsage(t *testing.T) {
	_, url := newSim(t, Config{DefaultOutputTokens: 12})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)

	prompt := "Tell me about queues."
	system := "You are terse."
	in := converseInput(sonnet, 0, userText(prompt))
	in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: system}}

	first, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	second, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatalf("second Converse: %v", err)
	}
	text := outputText(t, first)
	if text == "" || text != outputText(t, second) {
		t.Fatalf("same request gave %q and %q, want the same non-empty text", text, outputText(t, second))
	}
	if words := len(strings.Fields(text)); words != 12 {
		t.Errorf("text %q has %d words, want default_output_tokens = 12", text, words)
	}
	if first.StopReason != types.StopReasonEndTurn {
		t.Errorf("stop reason %q, want end_turn", first.StopReason)
	}
	wantInput := int32((len(prompt) + len(system) + 3) / 4)
	u := first.Usage
	if aws.ToInt32(u.InputTokens) != wantInput || aws.ToInt32(u.OutputTokens) != 12 || aws.ToInt32(u.TotalTokens) != wantInput+12 {
		t.Errorf("usage = in %d out %d total %d, want %d/12/%d",
			aws.ToInt32(u.InputTokens), aws.ToInt32(u.OutputTokens), aws.ToInt32(u.TotalTokens), wantInput, wantInput+12)
	}
	if first.Metrics == nil || first.Metrics.LatencyMs == nil {
		t.Errorf("metrics.latencyMs missing")
	}

	other, err := client.Converse(ctx, converseInput(sonnet, 0, userText("Something else entirely.")))
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if outputText(t, other) == text {
		t.Errorf("different prompts gave the same text %q", text)
	}
}

func TestConverseMaxTokensAndDirectives(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)

	full, err := client.Converse(ctx, converseInput(nova, 0, userText("hello", Directive("output_tokens", "20"))))
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if got := aws.ToInt32(full.Usage.OutputTokens); got != 20 {
		t.Fatalf("output_tokens=20 gave %d tokens", got)
	}

	capped, err := client.Converse(ctx, converseInput(nova, 5, userText("hello", Directive("output_tokens", "20"))))
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if capped.StopReason != types.StopReasonMaxTokens || aws.ToInt32(capped.Usage.OutputTokens) != 5 {
		t.Errorf("maxTokens 5: stop %q, %d tokens; want max_tokens, 5", capped.StopReason, aws.ToInt32(capped.Usage.OutputTokens))
	}
	// The capped answer is the beginning of the full one.
	if !strings.HasPrefix(outputText(t, full), outputText(t, capped)) {
		t.Errorf("capped text %q is not a prefix of %q", outputText(t, capped), outputText(t, full))
	}

	// Latency directives: a lower bound only.
	start := time.Now()
	if _, err := client.Converse(ctx, converseInput(nova, 0, userText("slow", Directive("output_tokens", "5", "ttft_ms", "50", "per_token_ms", "10")))); err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Errorf("ttft 50ms + 5 × 10ms took only %s", elapsed)
	}
}

func TestConverseStopSequence(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)

	msg := userText("stop somewhere", Directive("output_tokens", "30"))
	full, err := client.Converse(ctx, converseInput(nova, 0, msg))
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	text := outputText(t, full)
	words := strings.Fields(text)
	stop := " " + words[10] // a sequence the model will generate
	cut := strings.Index(text, stop)

	in := converseInput(nova, 0, msg)
	in.InferenceConfig = &types.InferenceConfiguration{StopSequences: []string{stop}}
	out, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatalf("Converse with stop sequence: %v", err)
	}
	if out.StopReason != types.StopReasonStopSequence {
		t.Errorf("stop reason %q, want stop_sequence", out.StopReason)
	}
	if got := outputText(t, out); got != text[:cut] {
		t.Errorf("text %q, want %q (cut before the stop sequence)", got, text[:cut])
	}
}

func TestConverseValidation(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	assistant := types.Message{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}

	cases := map[string]*bedrockruntime.ConverseInput{
		"no messages":             converseInput(sonnet, 0),
		"starts as assistant":     converseInput(sonnet, 0, assistant, userText("x")),
		"roles not alternating":   converseInput(sonnet, 0, userText("a"), userText("b")),
		"maxTokens 0":             {ModelId: aws.String(sonnet), Messages: []types.Message{userText("x")}, InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(0)}},
		"maxTokens too big":       converseInput(nova, 5001, userText("x")),
		"unknown model":           converseInput("anthropic.claude-v9", 10, userText("x")),
		"unknown directive":       converseInput(sonnet, 10, userText(Directive("bogus", "1"))),
		"bad fail code":           converseInput(sonnet, 10, userText(Directive("fail", "NoSuchException"))),
		"tool without toolConfig": converseInput(sonnet, 10, userText(Directive("tool", "x"))),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := client.Converse(ctx, in)
			var ve *types.ValidationException
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *types.ValidationException", err)
			}
		})
	}
}

func TestConverseModelARN(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	arn := "arn:aws:bedrock:us-east-1:111111111111:inference-profile/" + sonnet
	if _, err := client.Converse(ctxTimeout(t), converseInput(arn, 10, userText("hi"))); err != nil {
		t.Fatalf("Converse by ARN: %v", err)
	}
}

func TestFailDirectivesMapToTypedErrors(t *testing.T) {
	s, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)

	check := map[string]func(error) bool{
		"ThrottlingException":           func(err error) bool { var e *types.ThrottlingException; return errors.As(err, &e) },
		"ValidationException":           func(err error) bool { var e *types.ValidationException; return errors.As(err, &e) },
		"AccessDeniedException":         func(err error) bool { var e *types.AccessDeniedException; return errors.As(err, &e) },
		"ResourceNotFoundException":     func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) },
		"ServiceUnavailableException":   func(err error) bool { var e *types.ServiceUnavailableException; return errors.As(err, &e) },
		"InternalServerException":       func(err error) bool { var e *types.InternalServerException; return errors.As(err, &e) },
		"ModelTimeoutException":         func(err error) bool { var e *types.ModelTimeoutException; return errors.As(err, &e) },
		"ModelNotReadyException":        func(err error) bool { var e *types.ModelNotReadyException; return errors.As(err, &e) },
		"ModelErrorException":           func(err error) bool { var e *types.ModelErrorException; return errors.As(err, &e) },
		"ServiceQuotaExceededException": func(err error) bool { var e *types.ServiceQuotaExceededException; return errors.As(err, &e) },
	}
	for code, isTyped := range check {
		t.Run(code, func(t *testing.T) {
			_, err := client.Converse(ctx, converseInput(sonnet, 10, userText("x", Directive("fail", code))))
			if !isTyped(err) {
				t.Fatalf("fail=%s: err = %v (%T)", code, err, err)
			}
		})
	}
	if got := s.Stats().Model(DefaultAccountID, sonnet).Totals; got.ErrorsInjected != int64(len(check)) || got.Admitted != 0 {
		t.Errorf("stats after injected errors: %+v, want %d injected, 0 admitted", got, len(check))
	}
}

func TestFailTimesLetsARetrySucceed(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	in := converseInput(sonnet, 10, userText("retry me", Directive("fail", "ThrottlingException", "fail_times", "2")))

	for i := range 2 {
		_, err := client.Converse(ctx, in)
		var te *types.ThrottlingException
		if !errors.As(err, &te) {
			t.Fatalf("call %d: err = %v, want ThrottlingException", i+1, err)
		}
	}
	if _, err := client.Converse(ctx, in); err != nil {
		t.Fatalf("third call: %v, want success after fail_times=2", err)
	}
	// Another request is counted separately.
	_, err := client.Converse(ctx, converseInput(sonnet, 10, userText("other", Directive("fail", "ThrottlingException", "fail_times", "1"))))
	if errorCode(err) != "ThrottlingException" {
		t.Fatalf("other request: err = %v, want its own first failure", err)
	}
}

func TestConverseToolUse(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)

	in := converseInput(sonnet, 100, userText("weather in Paris?", Directive("tool", "get_weather")))
	in.ToolConfig = weatherTools()
	out, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if out.StopReason != types.StopReasonToolUse {
		t.Fatalf("stop reason %q, want tool_use", out.StopReason)
	}
	msg := out.Output.(*types.ConverseOutputMemberMessage).Value
	tu, ok := msg.Content[0].(*types.ContentBlockMemberToolUse)
	if !ok {
		t.Fatalf("content[0] is %T, want toolUse", msg.Content[0])
	}
	if aws.ToString(tu.Value.Name) != "get_weather" || !strings.HasPrefix(aws.ToString(tu.Value.ToolUseId), "tooluse_") {
		t.Errorf("toolUse name %q id %q", aws.ToString(tu.Value.Name), aws.ToString(tu.Value.ToolUseId))
	}
	var input map[string]any
	if err := tu.Value.Input.UnmarshalSmithyDocument(&input); err != nil {
		t.Fatalf("decode tool input: %v", err)
	}
	if _, ok := input["city"].(string); !ok {
		t.Errorf("input %v: city is not a string", input)
	}
	if u := input["unit"]; u != "celsius" && u != "fahrenheit" {
		t.Errorf("input %v: unit %v not from the enum", input, u)
	}

	// Handing the tool result back makes the model answer with text.
	in.Messages = append(in.Messages,
		types.Message{Role: types.ConversationRoleAssistant, Content: msg.Content},
		types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
			ToolUseId: tu.Value.ToolUseId,
			Content:   []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: "21C"}},
		}}}})
	out, err = client.Converse(ctx, in)
	if err != nil {
		t.Fatalf("Converse with tool result: %v", err)
	}
	if out.StopReason != types.StopReasonEndTurn || outputText(t, out) == "" {
		t.Errorf("after tool result: stop %q text %q, want a text answer", out.StopReason, outputText(t, out))
	}
}

func weatherTools() *types.ToolConfiguration {
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"city": map[string]any{"type": "string"},
			"unit": map[string]any{"type": "string", "enum": []any{"celsius", "fahrenheit"}},
			"days": map[string]any{"type": "integer"},
		},
		"required": []any{"city"},
	}
	return &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
		Name:        aws.String("get_weather"),
		Description: aws.String("Current weather for a city"),
		InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(schema)},
	}}}}
}
