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

	// Fields the current SDKs send; see ChatFields for what sluice does
	// with each.
	SafetyIdentifier     string              `json:"safety_identifier,omitempty"`
	PromptCacheKey       string              `json:"prompt_cache_key,omitempty"`
	PromptCacheRetention string              `json:"prompt_cache_retention,omitempty"`
	PromptCacheOptions   *PromptCacheOptions `json:"prompt_cache_options,omitempty"`
	Verbosity            string              `json:"verbosity,omitempty"`
	Modalities           []string            `json:"modalities,omitempty"`
	Prediction           json.RawMessage     `json:"prediction,omitempty"`
	Audio                json.RawMessage     `json:"audio,omitempty"`
	Moderation           json.RawMessage     `json:"moderation,omitempty"`
	WebSearchOptions     json.RawMessage     `json:"web_search_options,omitempty"`
	Functions            json.RawMessage     `json:"functions,omitempty"`
	FunctionCall         json.RawMessage     `json:"function_call,omitempty"`
}

// PromptCacheOptions is OpenAI's prompt_cache_options.
type PromptCacheOptions struct {
	// Mode "explicit" turns off the breakpoints sluice would add by itself
	// (prompt_caching: auto), leaving only the caller's own.
	Mode string `json:"mode,omitempty"`
	TTL  string `json:"ttl,omitempty"`
}

// CacheBreakpoint is a content part's prompt_cache_breakpoint (mode, ttl),
// or Anthropic's cache_control (type, ttl).
type CacheBreakpoint struct {
	Mode string `json:"mode,omitempty"`
	Type string `json:"type,omitempty"`
	TTL  string `json:"ttl,omitempty"`
}

// StreamOptions are the options of a streamed completion.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage,omitempty"`
	// IncludeObfuscation asks OpenAI to pad chunks against length side
	// channels; accepted and ignored (see ChatFields).
	IncludeObfuscation *bool `json:"include_obfuscation,omitempty"`
}

// Message is one message of a conversation. Besides what a caller writes, it
// takes every field of an assistant message as OpenAI (and sluice) return
// it, since the common loop appends the returned message to the history.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	// Refusal is the text of an earlier refusal by the assistant.
	Refusal      *string         `json:"refusal,omitempty"`
	Audio        json.RawMessage `json:"audio,omitempty"`
	FunctionCall json.RawMessage `json:"function_call,omitempty"`
	Annotations  json.RawMessage `json:"annotations,omitempty"`
	// ReasoningContent is the model's reasoning as sluice returns it (see
	// ResponseMessage); accepted back and not sent to Bedrock, which would
	// need the reasoning block's signature.
	ReasoningContent *string `json:"reasoning_content,omitempty"`
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
	// Refusal is the text of a refusal part (type "refusal") of an
	// assistant message.
	Refusal         *string          `json:"refusal,omitempty"`
	InputAudio      json.RawMessage  `json:"input_audio,omitempty"`
	File            json.RawMessage  `json:"file,omitempty"`
	CacheBreakpoint *CacheBreakpoint `json:"prompt_cache_breakpoint,omitempty"`
	// CacheControl is Anthropic's spelling of a breakpoint, which clients
	// of OpenAI-compatible gateways (LiteLLM, OpenRouter) send; sluice
	// treats it as prompt_cache_breakpoint.
	CacheControl *CacheBreakpoint `json:"cache_control,omitempty"`
}

// Breakpoint tells whether the part asks for a prompt cache breakpoint
// after it.
func (p ContentPart) Breakpoint() bool { return p.CacheBreakpoint != nil || p.CacheControl != nil }

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
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return &pathError{path: "content", err: err}
		}
		parts := make([]ContentPart, len(raw))
		for j, r := range raw {
			if err := strictUnmarshal(r, &parts[j]); err != nil {
				return atPath(fmt.Sprintf("content[%d]", j), err) // the part's own field follows
			}
		}
		*c = Content{Parts: parts}
		return nil
	}
	return &pathError{path: "content", err: errors.New("content must be a string, an array of content parts, or null")}
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

// Text joins the text parts, and the refusal parts of an assistant's
// message, which are what the assistant said.
func (c Content) Text() string {
	var sb strings.Builder
	for _, p := range c.Parts {
		switch {
		case p.Type == "text":
			sb.WriteString(p.Text)
		case p.Type == "refusal" && p.Refusal != nil:
			sb.WriteString(*p.Refusal)
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
	// Custom is a custom (free-form input) tool, which Bedrock lacks.
	Custom json.RawMessage `json:"custom,omitempty"`
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
	// Custom is a custom tool's call, which sluice never makes.
	Custom json.RawMessage `json:"custom,omitempty"`
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
	// ServiceTier is the Bedrock service tier that served the request.
	ServiceTier string `json:"service_tier,omitempty"`
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
	// ReasoningContent is the reasoning text Bedrock returned, in the field
	// DeepSeek, vLLM and LiteLLM use for it (OpenAI's chat completions have
	// none); the Responses API returns it as a reasoning item.
	ReasoningContent *string `json:"reasoning_content,omitempty"`
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
//
// Messages are decoded one by one, so that a refusal names the JSON path of
// the field it refuses (messages[1].audio), as OpenAI's own errors do.
func DecodeChatCompletionRequest(r io.Reader) (*ChatCompletionRequest, *Error) {
	body, oerr := readBody(r)
	if oerr != nil {
		return nil, oerr
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	type plain ChatCompletionRequest // without the messages, decoded below
	var req ChatCompletionRequest
	shell := struct {
		*plain
		Messages []json.RawMessage `json:"messages"`
	}{plain: (*plain)(&req)}
	if err := dec.Decode(&shell); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			// The path runs through the embedded struct's Go name.
			typeErr.Field = strings.TrimPrefix(typeErr.Field, "plain.")
		}
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, InvalidRequest("", "The request body must be a single JSON object.")
	}
	if shell.Messages != nil {
		req.Messages = make([]Message, len(shell.Messages))
	}
	for i, raw := range shell.Messages {
		if err := strictUnmarshal(raw, &req.Messages[i]); err != nil {
			return nil, decodeError(atPath(fmt.Sprintf("messages[%d]", i), err))
		}
	}
	if e := req.Validate(); e != nil {
		return nil, e
	}
	return &req, nil
}

// strictUnmarshal decodes one JSON value, refusing unknown fields.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// pathError is a decoding error inside a value, with the JSON path to it.
type pathError struct {
	path string // messages[1].content[0]
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// atPath puts err at path, joining paths of nested errors.
func atPath(path string, err error) error {
	var pe *pathError
	if errors.As(err, &pe) {
		return &pathError{path: path + "." + pe.path, err: pe.err}
	}
	return &pathError{path: path, err: err}
}

func decodeError(err error) *Error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	prefix := ""
	var pe *pathError
	if errors.As(err, &pe) {
		prefix = pe.path + "."
		if _, isValue := pe.err.(*json.UnmarshalTypeError); !isValue && !strings.HasPrefix(pe.err.Error(), "json: unknown field ") {
			// The value itself is wrong (content that is a number, say).
			return InvalidRequest(pe.path, "Invalid value for '%s': %v", pe.path, pe.err)
		}
		err = pe.err
	}
	switch {
	case errors.As(err, &typeErr):
		field := prefix + typeErr.Field
		if typeErr.Field == "" {
			field = strings.TrimSuffix(prefix, ".")
		}
		return InvalidRequest(field, "Invalid type for '%s': expected %s, got a JSON %s.", field, typeErr.Type.String(), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return InvalidRequest("", "We could not parse the JSON body of your request: %s at offset %d.", syntaxErr.Error(), syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return InvalidRequest("", "The request body is empty; expected a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return InvalidRequest("", "We could not parse the JSON body of your request: it ends early.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := prefix + strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
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

// present tells a field that was sent with a value from one absent or null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// Validate checks what can be checked without knowing the model. Fields
// whose treatment (ChatFields) is Refused are refused here, by JSON path.
func (r *ChatCompletionRequest) Validate() *Error {
	if r.Model == "" {
		return InvalidRequest("model", "you must provide a model parameter")
	}
	if len(r.Messages) == 0 {
		return InvalidRequest("messages", "'messages' must contain at least one message.")
	}
	for i, m := range r.Messages {
		if e := m.validate(fmt.Sprintf("messages[%d]", i)); e != nil {
			return e
		}
	}
	if e := r.validateFeatures(); e != nil {
		return e
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

func (m *Message) validate(param string) *Error {
	if !validRoles[m.Role] {
		switch m.Role {
		case "":
			return InvalidRequest(param+".role", "Missing required parameter: '%s.role'.", param)
		case "function":
			return InvalidRequest(param+".role", "The deprecated 'function' role is not supported; send tool results as role 'tool' with 'tools'.")
		}
		return InvalidRequest(param+".role", "Invalid value: '%s'. Supported values are: 'system', 'developer', 'user', 'assistant', and 'tool'.", m.Role)
	}
	refusal := m.Refusal != nil && *m.Refusal != ""
	switch {
	case present(m.Audio):
		return InvalidRequest(param+".audio", "Audio messages are not supported: Bedrock's Converse API produces no audio, so '%s.audio' cannot be resolved.", param)
	case present(m.FunctionCall):
		return InvalidRequest(param+".function_call", "The deprecated function_call is not supported; use tool_calls.")
	case refusal && m.Role != "assistant":
		return InvalidRequest(param+".refusal", "Only assistant messages carry a refusal.")
	}
	if m.Content.IsNull || m.Content.Parts == nil {
		if m.Role != "assistant" || (len(m.ToolCalls) == 0 && !refusal) {
			return InvalidRequest(param+".content", "Missing required parameter: '%s.content'.", param)
		}
	}
	for j, p := range m.Content.Parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		switch p.Type {
		case "text":
		case "refusal":
			if m.Role != "assistant" {
				return InvalidRequest(pp+".type", "Refusal content is only allowed in assistant messages.")
			}
		case "image_url":
			if m.Role != "user" {
				return InvalidRequest(pp+".type", "Image content is only allowed in user messages.")
			}
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return InvalidRequest(pp+".image_url.url", "Missing required parameter: '%s.image_url.url'.", pp)
			}
		case "input_audio":
			return InvalidRequest(pp+".type", "Audio input is not supported: Bedrock's Converse API takes no audio.")
		case "file":
			return InvalidRequest(pp+".type", "File content parts are not supported; send the text, or images as image_url data URLs.")
		default:
			return InvalidRequest(pp+".type", "Invalid content part type %q; supported types are 'text' and 'image_url' (and 'refusal' in assistant messages).", p.Type)
		}
	}
	for k, call := range m.ToolCalls {
		if call.Type == "custom" || present(call.Custom) {
			return InvalidRequest(fmt.Sprintf("%s.tool_calls[%d].custom", param, k), "Custom tool calls are not supported: Bedrock has no custom tools.")
		}
	}
	if m.Role == "tool" && m.ToolCallID == "" {
		return InvalidRequest(param+".tool_call_id", "Missing required parameter: '%s.tool_call_id'.", param)
	}
	return nil
}

// validateFeatures refuses the OpenAI features Bedrock has no counterpart
// for, and checks the values of fields sluice ignores, so that a typo is
// still caught.
func (r *ChatCompletionRequest) validateFeatures() *Error {
	switch {
	case present(r.Audio):
		return InvalidRequest("audio", "Audio output is not supported: Bedrock's Converse API produces text.")
	case present(r.Moderation):
		return InvalidRequest("moderation", "OpenAI moderation is not available on Bedrock; configure a Bedrock guardrail instead.")
	case present(r.WebSearchOptions):
		return InvalidRequest("web_search_options", "Web search is not available through sluice.")
	case present(r.Functions):
		return InvalidRequest("functions", "The deprecated 'functions' parameter is not supported; use 'tools'.")
	case present(r.FunctionCall):
		return InvalidRequest("function_call", "The deprecated 'function_call' parameter is not supported; use 'tool_choice'.")
	}
	for i, m := range r.Modalities {
		if m != "text" {
			return InvalidRequest(fmt.Sprintf("modalities[%d]", i), "Only the 'text' modality is supported; got %q.", m)
		}
	}
	for i, t := range r.Tools {
		if t.Type == "custom" || present(t.Custom) {
			return InvalidRequest(fmt.Sprintf("tools[%d].type", i), "Custom tools are not supported: Bedrock has no free-form tools; use function tools.")
		}
	}
	if e := oneOf("verbosity", r.Verbosity, "low", "medium", "high"); e != nil {
		return e
	}
	if e := oneOf("prompt_cache_retention", r.PromptCacheRetention, "in_memory", "in-memory", "24h"); e != nil {
		return e
	}
	if o := r.PromptCacheOptions; o != nil {
		if e := oneOf("prompt_cache_options.mode", o.Mode, "implicit", "explicit"); e != nil {
			return e
		}
	}
	return nil
}

// oneOf refuses a value that is set and not among the allowed ones.
func oneOf(param, v string, allowed ...string) *Error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return InvalidRequest(param, "Invalid value for '%s': %q. Supported values are: '%s'.", param, v, strings.Join(allowed, "', '"))
}

// AutoCachePoints tells whether sluice may add prompt cache points itself:
// prompt_cache_options.mode "explicit" leaves only the caller's.
func (r *ChatCompletionRequest) AutoCachePoints() bool {
	return r.PromptCacheOptions == nil || r.PromptCacheOptions.Mode != "explicit"
}
