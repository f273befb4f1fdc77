package openai

import (
	"bytes"
	"encoding/json"
)

// ChatCompletionChunk is one server-sent event of a streamed chat completion.
type ChatCompletionChunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"` // always chat.completion.chunk
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []ChunkChoice `json:"choices"`
	// Usage is set only on the last chunk of a stream that asked for
	// stream_options.include_usage; that chunk has no choices.
	Usage *Usage `json:"usage,omitempty"`
	// ServiceTier is set on the usage chunk: Bedrock reports the tier in
	// the stream's last event.
	ServiceTier string `json:"service_tier,omitempty"`
}

// ChunkChoice is the part of one choice a chunk carries.
type ChunkChoice struct {
	Index        int       `json:"index"`
	Delta        Delta     `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
	Logprobs     *struct{} `json:"logprobs"`
}

// Delta is what a chunk adds to the assistant's message.
type Delta struct {
	Role      string          `json:"role,omitempty"`
	Content   *string         `json:"content,omitempty"`
	ToolCalls []ToolCallDelta `json:"tool_calls,omitempty"`
	// ReasoningContent is a piece of the reasoning (ResponseMessage).
	ReasoningContent *string `json:"reasoning_content,omitempty"`
}

// ToolCallDelta is a piece of a tool call. The first piece of a call carries
// its id, type and name; later pieces carry only more of the arguments. Index
// tells the calls of one message apart.
type ToolCallDelta struct {
	Index    int                   `json:"index"`
	ID       string                `json:"id,omitempty"`
	Type     string                `json:"type,omitempty"`
	Function ToolCallFunctionDelta `json:"function"`
}

// ToolCallFunctionDelta is a piece of a call's function.
type ToolCallFunctionDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// StreamDone is the event that ends every OpenAI stream.
var StreamDone = []byte("data: [DONE]\n\n")

// AppendEvent appends v as one server-sent event, "data: <json>\n\n".
// encoding/json never emits a raw newline, so the JSON fits one data line.
func AppendEvent(dst []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	dst = append(dst, "data: "...)
	dst = append(dst, bytes.TrimRight(buf.Bytes(), "\n")...)
	return append(dst, "\n\n"...), nil
}

// ErrorEvent is the event that ends a stream which failed after it began:
// the SDKs raise it as an API error, as they do for an error response.
func ErrorEvent(e *Error) []byte {
	b, err := AppendEvent(nil, ErrorBody{Error: e})
	if err != nil {
		// An Error holds only strings; this cannot happen.
		return []byte(`data: {"error":{"message":"stream failed","type":"server_error","param":null,"code":null}}` + "\n\n")
	}
	return b
}

// CompletionChunks is a whole completion as a stream: the message in one
// chunk, its finish reason in the next, then the usage if asked for. It
// answers a stream request whose job ended before its chunks could be
// relayed, such as an idempotent retry of a finished one.
func CompletionChunks(cc *ChatCompletion, includeUsage bool) []ChatCompletionChunk {
	chunk := func(choices []ChunkChoice) ChatCompletionChunk {
		return ChatCompletionChunk{ID: cc.ID, Object: "chat.completion.chunk", Created: cc.Created, Model: cc.Model, Choices: choices}
	}
	var out []ChatCompletionChunk
	for _, c := range cc.Choices {
		delta := Delta{Role: c.Message.Role, Content: c.Message.Content, ReasoningContent: c.Message.ReasoningContent}
		for i, tc := range c.Message.ToolCalls {
			delta.ToolCalls = append(delta.ToolCalls, ToolCallDelta{Index: i, ID: tc.ID, Type: tc.Type,
				Function: ToolCallFunctionDelta{Name: tc.Function.Name, Arguments: tc.Function.Arguments}})
		}
		finish := c.FinishReason
		out = append(out, chunk([]ChunkChoice{{Index: c.Index, Delta: delta}}), chunk([]ChunkChoice{{Index: c.Index, FinishReason: &finish}}))
	}
	if includeUsage && cc.Usage != nil {
		last := chunk([]ChunkChoice{})
		last.Usage = cc.Usage
		out = append(out, last)
	}
	return out
}
