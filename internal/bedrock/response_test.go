package bedrock_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/openai"
)

func TestFinishReason(t *testing.T) {
	for reason, want := range map[types.StopReason]string{
		types.StopReasonEndTurn:             "stop",
		types.StopReasonStopSequence:        "stop",
		types.StopReasonMaxTokens:           "length",
		types.StopReasonToolUse:             "tool_calls",
		types.StopReasonContentFiltered:     "content_filter",
		types.StopReasonGuardrailIntervened: "content_filter",
		"malformed_model_output":            "stop",
		"":                                  "stop",
	} {
		if got := bedrock.FinishReason(reason); got != want {
			t.Errorf("FinishReason(%q) = %q, want %q", reason, got, want)
		}
	}
}

func TestUsage(t *testing.T) {
	cases := []struct {
		name string
		in   *types.TokenUsage
		want *openai.Usage
	}{
		{"nil", nil, nil},
		{"plain", &types.TokenUsage{InputTokens: aws.Int32(10), OutputTokens: aws.Int32(5), TotalTokens: aws.Int32(15)},
			&openai.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15, PromptTokensDetails: &openai.PromptTokensDetails{}}},
		// Bedrock's inputTokens excludes cache reads and writes; OpenAI's
		// prompt_tokens includes cached tokens.
		{"cached", &types.TokenUsage{InputTokens: aws.Int32(10), OutputTokens: aws.Int32(5), CacheReadInputTokens: aws.Int32(100), CacheWriteInputTokens: aws.Int32(20)},
			&openai.Usage{PromptTokens: 130, CompletionTokens: 5, TotalTokens: 135, PromptTokensDetails: &openai.PromptTokensDetails{CachedTokens: 100}}},
	}
	for _, tc := range cases {
		got, _ := json.Marshal(bedrock.Usage(tc.in))
		want, _ := json.Marshal(tc.want)
		if string(got) != string(want) {
			t.Errorf("%s: Usage = %s, want %s", tc.name, got, want)
		}
	}
}

func toolUse(id, name string, input any) types.ContentBlock {
	return &types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{ToolUseId: aws.String(id), Name: aws.String(name), Input: document.NewLazyDocument(input)}}
}

func TestChatCompletion(t *testing.T) {
	cases := []struct {
		name    string
		content []types.ContentBlock
		stop    types.StopReason
		want    string // the choice's message and finish_reason, as JSON
	}{
		{"text blocks join", []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hello, "}, &types.ContentBlockMemberText{Value: "world."}}, types.StopReasonEndTurn,
			`{"message":{"role":"assistant","content":"Hello, world.","refusal":null},"finish_reason":"stop"}`},
		{"a tool call alone has null content", []types.ContentBlock{toolUse("t1", "get_weather", map[string]any{"city": "Oslo"})}, types.StopReasonToolUse,
			`{"message":{"role":"assistant","content":null,"refusal":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},"finish_reason":"tool_calls"}`},
		{"text before two tool calls", []types.ContentBlock{&types.ContentBlockMemberText{Value: "Checking."}, toolUse("t1", "a", map[string]any{}), toolUse("t2", "b", nil)}, types.StopReasonToolUse,
			`{"message":{"role":"assistant","content":"Checking.","refusal":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"a","arguments":"{}"}},{"id":"t2","type":"function","function":{"name":"b","arguments":"{}"}}]},"finish_reason":"tool_calls"}`},
		{"cut at max tokens", []types.ContentBlock{&types.ContentBlockMemberText{Value: "Once upon"}}, types.StopReasonMaxTokens,
			`{"message":{"role":"assistant","content":"Once upon","refusal":null},"finish_reason":"length"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := &bedrockruntime.ConverseOutput{
				Output:     &types.ConverseOutputMemberMessage{Value: types.Message{Role: types.ConversationRoleAssistant, Content: tc.content}},
				StopReason: tc.stop,
				Usage:      &types.TokenUsage{InputTokens: aws.Int32(3), OutputTokens: aws.Int32(4)},
			}
			cc := bedrock.ChatCompletion(out, "chatcmpl-1", "claude-sonnet", 1700000000)
			if cc.ID != "chatcmpl-1" || cc.Object != "chat.completion" || cc.Model != "claude-sonnet" || cc.Created != 1700000000 || cc.Usage.TotalTokens != 7 {
				t.Fatalf("completion = %+v", cc)
			}
			choice := cc.Choices[0]
			got, _ := json.Marshal(struct {
				Message      openai.ResponseMessage `json:"message"`
				FinishReason string                 `json:"finish_reason"`
			}{choice.Message, choice.FinishReason})
			if string(got) != tc.want {
				t.Fatalf("choice =\n %s\nwant\n %s", got, tc.want)
			}
		})
	}
}

// streamEvents is a ConverseStream answer: some text, then two tool calls
// (contentBlockIndex 1 and 2, which are OpenAI tool calls 0 and 1).
func streamEvents() []types.ConverseStreamOutput {
	textDelta := func(i int32, s string) types.ConverseStreamOutput {
		return &types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(i), Delta: &types.ContentBlockDeltaMemberText{Value: s}}}
	}
	toolStart := func(i int32, id, name string) types.ConverseStreamOutput {
		return &types.ConverseStreamOutputMemberContentBlockStart{Value: types.ContentBlockStartEvent{ContentBlockIndex: aws.Int32(i),
			Start: &types.ContentBlockStartMemberToolUse{Value: types.ToolUseBlockStart{ToolUseId: aws.String(id), Name: aws.String(name)}}}}
	}
	toolDelta := func(i int32, s string) types.ConverseStreamOutput {
		return &types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(i),
			Delta: &types.ContentBlockDeltaMemberToolUse{Value: types.ToolUseBlockDelta{Input: aws.String(s)}}}}
	}
	stop := func(i int32) types.ConverseStreamOutput {
		return &types.ConverseStreamOutputMemberContentBlockStop{Value: types.ContentBlockStopEvent{ContentBlockIndex: aws.Int32(i)}}
	}
	return []types.ConverseStreamOutput{
		&types.ConverseStreamOutputMemberMessageStart{Value: types.MessageStartEvent{Role: types.ConversationRoleAssistant}},
		textDelta(0, "Let me "), textDelta(0, "check."),
		&types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(0),
			Delta: &types.ContentBlockDeltaMemberReasoningContent{Value: &types.ReasoningContentBlockDeltaMemberText{Value: "hidden"}}}},
		stop(0),
		toolStart(1, "t1", "get_weather"), toolDelta(1, `{"ci`), toolDelta(1, `ty":"Oslo"}`), stop(1),
		toolStart(2, "t2", "get_time"), toolDelta(2, `{}`), stop(2),
		&types.ConverseStreamOutputMemberMessageStop{Value: types.MessageStopEvent{StopReason: types.StopReasonToolUse}},
		&types.ConverseStreamOutputMemberMetadata{Value: types.ConverseStreamMetadataEvent{Usage: &types.TokenUsage{InputTokens: aws.Int32(20), OutputTokens: aws.Int32(9), TotalTokens: aws.Int32(29)}}},
	}
}

func TestStreamConverter(t *testing.T) {
	conv := &bedrock.StreamConverter{ID: "chatcmpl-1", Model: "claude-sonnet", Created: 1700000000, IncludeUsage: true}
	var lines []string
	for _, ev := range streamEvents() {
		for _, chunk := range conv.Event(ev) {
			if chunk.ID != "chatcmpl-1" || chunk.Object != "chat.completion.chunk" || chunk.Model != "claude-sonnet" {
				t.Fatalf("chunk envelope = %+v", chunk)
			}
			b, _ := json.Marshal(struct {
				Choices []openai.ChunkChoice `json:"choices"`
				Usage   *openai.Usage        `json:"usage,omitempty"`
			}{chunk.Choices, chunk.Usage})
			lines = append(lines, string(b))
		}
	}
	want := []string{
		`{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"logprobs":null}]}`,
		`{"choices":[{"index":0,"delta":{"content":"Let me "},"finish_reason":null,"logprobs":null}]}`,
		`{"choices":[{"index":0,"delta":{"content":"check."},"finish_reason":null,"logprobs":null}]}`,
		`{"choices":[{"index":0,"delta":{"reasoning_content":"hidden"},"finish_reason":null,"logprobs":null}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null,"logprobs":null}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]},"finish_reason":null,"logprobs":null}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Oslo\"}"}}]},"finish_reason":null,"logprobs":null}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"t2","type":"function","function":{"name":"get_time","arguments":""}}]},"finish_reason":null,"logprobs":null}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]},"finish_reason":null,"logprobs":null}]}`,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls","logprobs":null}]}`,
		`{"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":9,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0}}}`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("chunks:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if conv.Deltas != 6 || conv.Bytes != len("Let me check.hidden")+len(`{"city":"Oslo"}{}`) {
		t.Errorf("counted %d deltas of %d bytes", conv.Deltas, conv.Bytes)
	}

	// The gathered answer is what Converse would have returned.
	cc := conv.Completion()
	msg := cc.Choices[0].Message
	if aws.ToString(msg.Content) != "Let me check." || len(msg.ToolCalls) != 2 || msg.ToolCalls[0].Function.Arguments != `{"city":"Oslo"}` ||
		msg.ToolCalls[1].ID != "t2" || cc.Choices[0].FinishReason != "tool_calls" || cc.Usage.CompletionTokens != 9 {
		b, _ := json.Marshal(cc)
		t.Fatalf("completion = %s", b)
	}

	// Without include_usage the stream ends at the finish chunk.
	plain := &bedrock.StreamConverter{ID: "x", Model: "m"}
	n := 0
	for _, ev := range streamEvents() {
		n += len(plain.Event(ev))
	}
	if n != len(want)-1 || plain.Usage() == nil {
		t.Fatalf("%d chunks without include_usage, want %d; usage still read: %v", n, len(want)-1, plain.Usage())
	}
}

// A stored completion streams back as the same message.
func TestCompletionChunks(t *testing.T) {
	conv := &bedrock.StreamConverter{ID: "chatcmpl-1", Model: "m"}
	for _, ev := range streamEvents() {
		conv.Event(ev)
	}
	cc := conv.Completion()
	chunks := openai.CompletionChunks(cc, true)
	if len(chunks) != 3 || len(chunks[2].Choices) != 0 || chunks[2].Usage.TotalTokens != 29 || *chunks[1].Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("chunks = %+v", chunks)
	}
	d := chunks[0].Choices[0].Delta
	if d.Role != "assistant" || *d.Content != "Let me check." || len(d.ToolCalls) != 2 || d.ToolCalls[1].Index != 1 || d.ToolCalls[1].Function.Name != "get_time" {
		t.Fatalf("delta = %+v", d)
	}
	if n := len(openai.CompletionChunks(cc, false)); n != 2 {
		t.Fatalf("%d chunks without usage, want 2", n)
	}
}

// Reasoning text comes back as reasoning_content, whole and streamed, and a
// stream's stored completion keeps it.
func TestReasoningContent(t *testing.T) {
	out := &bedrockruntime.ConverseOutput{
		Output: &types.ConverseOutputMemberMessage{Value: types.Message{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{
			&types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberReasoningText{Value: types.ReasoningTextBlock{Text: aws.String("Think first.")}}},
			&types.ContentBlockMemberText{Value: "Answer."},
		}}},
		StopReason: types.StopReasonEndTurn,
	}
	cc := bedrock.ChatCompletion(out, "chatcmpl-r", "m", 1)
	if m := cc.Choices[0].Message; m.ReasoningContent == nil || *m.ReasoningContent != "Think first." || *m.Content != "Answer." {
		t.Fatalf("message = %+v", m)
	}

	conv := &bedrock.StreamConverter{ID: "chatcmpl-r", Model: "m"}
	var reasoning, text strings.Builder
	for _, ev := range []types.ConverseStreamOutput{
		&types.ConverseStreamOutputMemberMessageStart{Value: types.MessageStartEvent{Role: types.ConversationRoleAssistant}},
		&types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(0), Delta: &types.ContentBlockDeltaMemberReasoningContent{Value: &types.ReasoningContentBlockDeltaMemberText{Value: "Think "}}}},
		&types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(0), Delta: &types.ContentBlockDeltaMemberReasoningContent{Value: &types.ReasoningContentBlockDeltaMemberSignature{Value: "sig"}}}},
		&types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(0), Delta: &types.ContentBlockDeltaMemberReasoningContent{Value: &types.ReasoningContentBlockDeltaMemberText{Value: "first."}}}},
		&types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(1), Delta: &types.ContentBlockDeltaMemberText{Value: "Answer."}}},
		&types.ConverseStreamOutputMemberMessageStop{Value: types.MessageStopEvent{StopReason: types.StopReasonEndTurn}},
	} {
		for _, ch := range conv.Event(ev) {
			if d := ch.Choices[0].Delta; d.ReasoningContent != nil {
				reasoning.WriteString(*d.ReasoningContent)
			} else if d.Content != nil {
				text.WriteString(*d.Content)
			}
		}
	}
	whole := conv.Completion().Choices[0].Message
	if reasoning.String() != "Think first." || text.String() != "Answer." || whole.ReasoningContent == nil || *whole.ReasoningContent != "Think first." || *whole.Content != "Answer." {
		t.Fatalf("streamed reasoning %q text %q; stored %+v", reasoning.String(), text.String(), whole)
	}
}
