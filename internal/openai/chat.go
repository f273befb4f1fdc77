// Package openai holds the OpenAI wire types sluice speaks, their validation,
// and OpenAI-style error bodies.
package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ChatCompletionRequest is the body of POST /v1/chat/completions.
type ChatCompletionRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	Stop                StringList      `json:"stop,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	N                   *int            `json:"n,omitempty"`
	User                string          `json:"user,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      *ResponseFormat `json:"response_format,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int            `json:"top_logprobs,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	LogitBias           map[string]int  `json:"logit_bias,omitempty"`
	Metadata            map[string]any  `json:"metadata,omitempty"`
	Store               *bool           `json:"store,omitempty"`
	ServiceTier         string          `json:"service_tier,omitempty"`
}

// StreamOptions are the options of a streamed completion.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage,omitempty"`
}

// Message is one message of a conversation.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// Content is a message's content: a plain string or a list of typed parts.
// OpenAI accepts both forms; the string form is kept as one text part.
type Content struct {
	Parts []ContentPart
	// IsNull records an explicit or absent content, allowed for assistant
	// messages that carry only tool calls.
	IsNull bool
}

// ContentPart is one part of a multi-part message.
type ContentPart struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *ImageURL `json:"image_url,omitempty"`
}

// ImageURL is an image reference; sluice accepts only data: URLs.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// UnmarshalJSON accepts a string, null, or an array of parts.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*c = Content{IsNull: true}
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = Content{Parts: []ContentPart{{Type: "text", Text: s}}}
		return nil
	case len(b) > 0 && b[0] == '[':
		var parts []ContentPart
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		*c = Content{Parts: parts}
		return nil
	}
	return errors.New("content must be a string, an array of content parts, or null")
}

// MarshalJSON writes the string form when the content is one text part.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.IsNull || c.Parts == nil {
		return []byte("null"), nil
	}
	if len(c.Parts) == 1 && c.Parts[0].Type == "text" {
		return json.Marshal(c.Parts[0].Text)
	}
	return json.Marshal(c.Parts)
}

// Text joins the text parts.
func (c Content) Text() string {
	var sb strings.Builder
	for _, p := range c.Parts {
		if p.Type == "text" {
			sb.WriteString(p.Text)
		}
	}
	return sb.String()
}

// StringList is OpenAI's "string or array of strings".
type StringList []string

// UnmarshalJSON accepts a string, null, or an array of strings.
func (s *StringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = StringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("must be a string or an array of strings")
	}
	*s = many
	return nil
}

// Tool is a function the model may call.
type Tool struct {
	Type     string       `json:"type"`
	Function ToolFunction `json:"function"`
}

// ToolFunction describes a callable function.
type ToolFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a call the assistant made.
type ToolCall struct {
	Index    *int             `json:"index,omitempty"`
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function ToolCallFunction `json:"function"`
}

// ToolCallFunction is the function and JSON-encoded arguments of a call.
type ToolCallFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ResponseFormat asks for JSON output.
type ResponseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is a named JSON schema for structured output.
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ChatCompletion is the non-streaming response.
type ChatCompletion struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	SystemFingerprint *string  `json:"system_fingerprint"`
}

// Choice is one completion choice.
type Choice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     *struct{}       `json:"logprobs"`
}

// ResponseMessage is the assistant's reply.
type ResponseMessage struct {
	Role      string     `json:"role"`
	Content   *string    `json:"content"`
	Refusal   *string    `json:"refusal"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}

// Usage counts tokens.
type Usage struct {
	PromptTokens        int                  `json:"prompt_tokens"`
	CompletionTokens    int                  `json:"completion_tokens"`
	TotalTokens         int                  `json:"total_tokens"`
	PromptTokensDetails *PromptTokensDetails `json:"prompt_tokens_details,omitempty"`
}

// PromptTokensDetails breaks prompt tokens down.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// Model is an entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// List is OpenAI's list envelope.
type List[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore *bool  `json:"has_more,omitempty"`
	FirstID string `json:"first_id,omitempty"`
	LastID  string `json:"last_id,omitempty"`
}

// DecodeChatCompletionRequest parses and checks a request body. Unknown fields
// are refused, as OpenAI does, so that a typo is never silently ignored.
func DecodeChatCompletionRequest(r io.Reader) (*ChatCompletionRequest, *Error) {
	body, oerr := readBody(r)
	if oerr != nil {
		return nil, oerr
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req ChatCompletionRequest
	if err := dec.Decode(&req); err != nil {
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, InvalidRequest("", "The request body must be a single JSON object.")
	}
	if e := req.Validate(); e != nil {
		return nil, e
	}
	return &req, nil
}

func decodeError(err error) *Error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return InvalidRequest(typeErr.Field, "Invalid type for '%s': expected %s, got a JSON %s.", typeErr.Field, typeErr.Type.String(), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return InvalidRequest("", "We could not parse the JSON body of your request: %s at offset %d.", syntaxErr.Error(), syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return InvalidRequest("", "The request body is empty; expected a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return InvalidRequest("", "We could not parse the JSON body of your request: it ends early.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return InvalidRequest(field, "Unrecognized request argument supplied: %s", field)
	}
	if IsReadTimeout(err) {
		return BodyTimeout()
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: ptr("request_too_large"),
			Message: fmt.Sprintf("The request body is larger than the limit of %d bytes.", tooBig.Limit)}
	}
	return InvalidRequest("", "We could not parse the JSON body of your request: %v", err)
}

var validRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true}

// Validate checks what can be checked without knowing the model.
func (r *ChatCompletionRequest) Validate() *Error {
	if r.Model == "" {
		return InvalidRequest("model", "you must provide a model parameter")
	}
	if len(r.Messages) == 0 {
		return InvalidRequest("messages", "'messages' must contain at least one message.")
	}
	for i, m := range r.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		if !validRoles[m.Role] {
			if m.Role == "" {
				return InvalidRequest(param+".role", "Missing required parameter: '%s.role'.", param)
			}
			return InvalidRequest(param+".role", "Invalid value: '%s'. Supported values are: 'system', 'developer', 'user', 'assistant', and 'tool'.", m.Role)
		}
		if m.Content.IsNull || m.Content.Parts == nil {
			if m.Role != "assistant" || len(m.ToolCalls) == 0 {
				return InvalidRequest(param+".content", "Missing required parameter: '%s.content'.", param)
			}
		}
		for j, p := range m.Content.Parts {
			pp := fmt.Sprintf("%s.content[%d]", param, j)
			switch p.Type {
			case "text":
			case "image_url":
				if m.Role != "user" {
					return InvalidRequest(pp+".type", "Image content is only allowed in user messages.")
				}
				if p.ImageURL == nil || p.ImageURL.URL == "" {
					return InvalidRequest(pp+".image_url.url", "Missing required parameter: '%s.image_url.url'.", pp)
				}
			default:
				return InvalidRequest(pp+".type", "Invalid content part type %q; supported types are 'text' and 'image_url'.", p.Type)
			}
		}
		if m.Role == "tool" && m.ToolCallID == "" {
			return InvalidRequest(param+".tool_call_id", "Missing required parameter: '%s.tool_call_id'.", param)
		}
	}
	if r.MaxTokens != nil && *r.MaxTokens < 1 {
		return InvalidRequest("max_tokens", "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", *r.MaxTokens)
	}
	if r.MaxCompletionTokens != nil && *r.MaxCompletionTokens < 1 {
		return InvalidRequest("max_completion_tokens", "Invalid 'max_completion_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", *r.MaxCompletionTokens)
	}
	if r.Temperature != nil && (*r.Temperature < 0 || *r.Temperature > 2) {
		return InvalidRequest("temperature", "Invalid 'temperature': expected a value between 0 and 2, got %g.", *r.Temperature)
	}
	if r.TopP != nil && (*r.TopP < 0 || *r.TopP > 1) {
		return InvalidRequest("top_p", "Invalid 'top_p': expected a value between 0 and 1, got %g.", *r.TopP)
	}
	if r.StreamOptions != nil && !r.Stream {
		return InvalidRequest("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
	}
	return nil
}

// OutputLimit is the caller's output bound: max_completion_tokens wins over the
// deprecated max_tokens, as in OpenAI's API. Zero means unset.
func (r *ChatCompletionRequest) OutputLimit() int {
	if r.MaxCompletionTokens != nil {
		return *r.MaxCompletionTokens
	}
	if r.MaxTokens != nil {
		return *r.MaxTokens
	}
	return 0
}
