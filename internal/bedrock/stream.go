package bedrock

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/sluice-broker/sluice/internal/openai"
)

// StreamInput is the ConverseStream form of a Converse input; the two take
// the same request. (Their guardrail types differ; sluice sets none.)
func StreamInput(in *bedrockruntime.ConverseInput) *bedrockruntime.ConverseStreamInput {
	return &bedrockruntime.ConverseStreamInput{
		ModelId:                           in.ModelId,
		Messages:                          in.Messages,
		System:                            in.System,
		InferenceConfig:                   in.InferenceConfig,
		ToolConfig:                        in.ToolConfig,
		OutputConfig:                      in.OutputConfig,
		RequestMetadata:                   in.RequestMetadata,
		AdditionalModelRequestFields:      in.AdditionalModelRequestFields,
		AdditionalModelResponseFieldPaths: in.AdditionalModelResponseFieldPaths,
		PerformanceConfig:                 in.PerformanceConfig,
		PromptVariables:                   in.PromptVariables,
		ServiceTier:                       in.ServiceTier,
	}
}

// StreamConverter turns ConverseStream events into OpenAI chat.completion.chunk
// objects, and gathers the whole answer as Converse would have returned it,
// so that a streamed job keeps the same final completion as a plain one.
//
// Tool calls are numbered in the order they start. Bedrock's
// contentBlockIndex counts text blocks too, so it is not OpenAI's index.
type StreamConverter struct {
	ID      string
	Model   string // the alias the caller asked for
	Created int64
	// IncludeUsage adds the final usage chunk (stream_options.include_usage).
	IncludeUsage bool

	// Deltas and Bytes count what the model produced so far, for an estimate
	// of the output tokens of a stream that ends before Bedrock reports them.
	Deltas, Bytes int

	blocks map[int32]*streamBlock
	tools  int
	stop   types.StopReason
	usage  *types.TokenUsage
	tier   *types.ServiceTier
}

type streamBlock struct {
	text      strings.Builder
	reasoning strings.Builder
	// tool is set for a toolUse block; index is its OpenAI tool call index.
	tool  *types.ToolUseBlockStart
	index int
	input strings.Builder
}

func (c *StreamConverter) chunk(delta openai.Delta, finish *string) openai.ChatCompletionChunk {
	return openai.ChatCompletionChunk{
		ID: c.ID, Object: "chat.completion.chunk", Created: c.Created, Model: c.Model,
		Choices: []openai.ChunkChoice{{Index: 0, Delta: delta, FinishReason: finish}},
	}
}

func (c *StreamConverter) block(i int32) *streamBlock {
	if c.blocks == nil {
		c.blocks = map[int32]*streamBlock{}
	}
	b := c.blocks[i]
	if b == nil {
		b = &streamBlock{}
		c.blocks[i] = b
	}
	return b
}

// startTool numbers a tool use block. A delta for a block that was never
// started (Bedrock always starts one) still gets a number of its own.
func (c *StreamConverter) startTool(b *streamBlock, start types.ToolUseBlockStart) {
	b.tool = &start
	b.index = c.tools
	c.tools++
}

// Event converts one stream event; most give one chunk, some none.
func (c *StreamConverter) Event(ev types.ConverseStreamOutput) []openai.ChatCompletionChunk {
	switch e := ev.(type) {
	case *types.ConverseStreamOutputMemberMessageStart:
		empty := ""
		return []openai.ChatCompletionChunk{c.chunk(openai.Delta{Role: "assistant", Content: &empty}, nil)}
	case *types.ConverseStreamOutputMemberContentBlockStart:
		tu, ok := e.Value.Start.(*types.ContentBlockStartMemberToolUse)
		if !ok {
			return nil
		}
		b := c.block(aws.ToInt32(e.Value.ContentBlockIndex))
		c.startTool(b, tu.Value)
		return []openai.ChatCompletionChunk{c.chunk(openai.Delta{ToolCalls: []openai.ToolCallDelta{{
			Index: b.index, ID: aws.ToString(tu.Value.ToolUseId), Type: "function",
			Function: openai.ToolCallFunctionDelta{Name: aws.ToString(tu.Value.Name)},
		}}}, nil)}
	case *types.ConverseStreamOutputMemberContentBlockDelta:
		c.Deltas++
		b := c.block(aws.ToInt32(e.Value.ContentBlockIndex))
		switch d := e.Value.Delta.(type) {
		case *types.ContentBlockDeltaMemberText:
			c.Bytes += len(d.Value)
			if d.Value == "" {
				return nil
			}
			b.text.WriteString(d.Value)
			text := d.Value
			return []openai.ChatCompletionChunk{c.chunk(openai.Delta{Content: &text}, nil)}
		case *types.ContentBlockDeltaMemberToolUse:
			input := aws.ToString(d.Value.Input)
			c.Bytes += len(input)
			if b.tool == nil {
				c.startTool(b, types.ToolUseBlockStart{})
			}
			b.input.WriteString(input)
			return []openai.ChatCompletionChunk{c.chunk(openai.Delta{ToolCalls: []openai.ToolCallDelta{{
				Index: b.index, Function: openai.ToolCallFunctionDelta{Arguments: input},
			}}}, nil)}
		case *types.ContentBlockDeltaMemberReasoningContent:
			// OpenAI's chat completions have no place for reasoning text;
			// it goes out as reasoning_content (ResponseMessage).
			if t, ok := d.Value.(*types.ReasoningContentBlockDeltaMemberText); ok && t.Value != "" {
				c.Bytes += len(t.Value)
				b.reasoning.WriteString(t.Value)
				text := t.Value
				return []openai.ChatCompletionChunk{c.chunk(openai.Delta{ReasoningContent: &text}, nil)}
			}
		}
		return nil
	case *types.ConverseStreamOutputMemberMessageStop:
		c.stop = e.Value.StopReason
		finish := FinishReason(e.Value.StopReason)
		return []openai.ChatCompletionChunk{c.chunk(openai.Delta{}, &finish)}
	case *types.ConverseStreamOutputMemberMetadata:
		// The tier is known only now, at the end: it goes on the usage
		// chunk and on the stored completion.
		c.usage, c.tier = e.Value.Usage, e.Value.ServiceTier
		if !c.IncludeUsage || e.Value.Usage == nil {
			return nil
		}
		return []openai.ChatCompletionChunk{{
			ID: c.ID, Object: "chat.completion.chunk", Created: c.Created, Model: c.Model,
			Choices: []openai.ChunkChoice{}, Usage: Usage(e.Value.Usage), ServiceTier: Tier(c.tier),
		}}
	}
	return nil
}

// Ended reports whether the stream's messageStop arrived: a stream whose
// events end without it was cut off.
func (c *StreamConverter) Ended() bool { return c.stop != "" }

// Usage is what Bedrock reported in the stream's metadata event, nil before it.
func (c *StreamConverter) Usage() *types.TokenUsage { return c.usage }

// Output is the whole answer as Converse would have returned it.
func (c *StreamConverter) Output() *bedrockruntime.ConverseOutput {
	msg := types.Message{Role: types.ConversationRoleAssistant}
	for _, i := range slices.Sorted(maps.Keys(c.blocks)) {
		b := c.blocks[i]
		if b.tool == nil {
			if b.reasoning.Len() > 0 {
				msg.Content = append(msg.Content, &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberReasoningText{
					Value: types.ReasoningTextBlock{Text: aws.String(b.reasoning.String())}}})
			}
			if b.text.Len() > 0 {
				msg.Content = append(msg.Content, &types.ContentBlockMemberText{Value: b.text.String()})
			}
			continue
		}
		var input any = map[string]any{}
		if s := b.input.String(); s != "" {
			if err := json.Unmarshal([]byte(s), &input); err != nil {
				input = map[string]any{}
			}
		}
		msg.Content = append(msg.Content, &types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{
			ToolUseId: b.tool.ToolUseId, Name: b.tool.Name, Input: document.NewLazyDocument(input),
		}})
	}
	return &bedrockruntime.ConverseOutput{
		Output:      &types.ConverseOutputMemberMessage{Value: msg},
		StopReason:  c.stop,
		Usage:       c.usage,
		ServiceTier: c.tier,
	}
}

// Completion is the whole answer as an OpenAI chat completion.
func (c *StreamConverter) Completion() *openai.ChatCompletion {
	return ChatCompletion(c.Output(), c.ID, c.Model, c.Created)
}
