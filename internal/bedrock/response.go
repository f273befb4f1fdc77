package bedrock

import (
	"encoding/json"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/sluice-broker/sluice/internal/openai"
)

// FinishReason maps a Bedrock stop reason to OpenAI's finish_reason.
func FinishReason(r types.StopReason) string {
	switch r {
	case types.StopReasonEndTurn, types.StopReasonStopSequence:
		return "stop"
	case types.StopReasonMaxTokens:
		return "length"
	case types.StopReasonToolUse:
		return "tool_calls"
	case types.StopReasonContentFiltered, types.StopReasonGuardrailIntervened:
		return "content_filter"
	}
	// Unknown reasons (malformed_model_output, ...) are still a finished turn.
	return "stop"
}

// Usage maps Bedrock's token usage to OpenAI's. prompt_tokens counts cache
// reads and writes too, since Bedrock's inputTokens excludes them.
func Usage(u *types.TokenUsage) *openai.Usage {
	if u == nil {
		return nil
	}
	in := int(aws.ToInt32(u.InputTokens))
	read := int(aws.ToInt32(u.CacheReadInputTokens))
	write := int(aws.ToInt32(u.CacheWriteInputTokens))
	out := int(aws.ToInt32(u.OutputTokens))
	usage := &openai.Usage{PromptTokens: in + read + write, CompletionTokens: out, TotalTokens: in + read + write + out}
	usage.PromptTokensDetails = &openai.PromptTokensDetails{CachedTokens: read}
	return usage
}

// ChatCompletion builds the OpenAI response for a Converse output.
func ChatCompletion(out *bedrockruntime.ConverseOutput, id, alias string, created int64) *openai.ChatCompletion {
	msg := openai.ResponseMessage{Role: "assistant"}
	if m, ok := out.Output.(*types.ConverseOutputMemberMessage); ok {
		var text, reasoning strings.Builder
		for _, block := range m.Value.Content {
			switch b := block.(type) {
			case *types.ContentBlockMemberReasoningContent:
				if r, ok := b.Value.(*types.ReasoningContentBlockMemberReasoningText); ok {
					reasoning.WriteString(aws.ToString(r.Value.Text))
				}
			case *types.ContentBlockMemberText:
				text.WriteString(b.Value)
			case *types.ContentBlockMemberToolUse:
				// A call without input has arguments {}, as OpenAI's do.
				args := "{}"
				if b.Value.Input != nil {
					if raw, err := b.Value.Input.MarshalSmithyDocument(); err == nil && string(raw) != "null" {
						args = string(raw)
					}
				}
				msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{
					ID: aws.ToString(b.Value.ToolUseId), Type: "function",
					Function: openai.ToolCallFunction{Name: aws.ToString(b.Value.Name), Arguments: compactJSON(args)},
				})
			}
		}
		if text.Len() > 0 || len(msg.ToolCalls) == 0 {
			s := text.String()
			msg.Content = &s
		}
		if reasoning.Len() > 0 {
			r := reasoning.String()
			msg.ReasoningContent = &r
		}
	}
	return &openai.ChatCompletion{
		ID:          id,
		Object:      "chat.completion",
		Created:     created,
		Model:       alias,
		Choices:     []openai.Choice{{Index: 0, Message: msg, FinishReason: FinishReason(out.StopReason)}},
		Usage:       Usage(out.Usage),
		ServiceTier: Tier(out.ServiceTier),
	}
}

// Tier is the OpenAI service_tier of the tier Bedrock reports having used:
// Bedrock names the standard tier "default", as OpenAI does, and reports
// none when the request asked for none.
func Tier(t *types.ServiceTier) string {
	if t == nil || t.Type == "" {
		return "default"
	}
	return string(t.Type)
}

func compactJSON(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
