package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ResponseRequest is the body of POST /v1/responses. sluice runs it as a chat
// completion (ChatRequest), so the worker's Converse path serves both APIs;
// fields the chat path has no use for are accepted and ignored, and those
// Bedrock cannot honour are refused by JSON path, as for chat.
type ResponseRequest struct {
	Model              string          `json:"model"`
	Input              json.RawMessage `json:"input"`
	Instructions       string          `json:"instructions,omitempty"`
	Tools              []ResponseTool  `json:"tools,omitempty"`
	ToolChoice         json.RawMessage `json:"tool_choice,omitempty"`
	Text               *ResponseText   `json:"text,omitempty"`
	MaxOutputTokens    *int            `json:"max_output_tokens,omitempty"`
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"top_p,omitempty"`
	Metadata           map[string]any  `json:"metadata,omitempty"`
	Reasoning          *Reasoning      `json:"reasoning,omitempty"`
	ServiceTier        string          `json:"service_tier,omitempty"`
	Store              *bool           `json:"store,omitempty"`
	Background         bool            `json:"background,omitempty"`
	Stream             bool            `json:"stream,omitempty"`
	StreamOptions      *StreamOptions  `json:"stream_options,omitempty"`
	PreviousResponseID string          `json:"previous_response_id,omitempty"`
	ParallelToolCalls  *bool           `json:"parallel_tool_calls,omitempty"`
	User               string          `json:"user,omitempty"`
	SafetyIdentifier   string          `json:"safety_identifier,omitempty"`

	// Accepted and ignored; see the README's Responses table.
	PromptCacheKey       string   `json:"prompt_cache_key,omitempty"`
	PromptCacheRetention string   `json:"prompt_cache_retention,omitempty"`
	Include              []string `json:"include,omitempty"`
	Truncation           string   `json:"truncation,omitempty"`
	MaxToolCalls         *int     `json:"max_tool_calls,omitempty"`

	// PromptCacheOptions as in chat: mode explicit leaves only the
	// caller's breakpoints.
	PromptCacheOptions *PromptCacheOptions `json:"prompt_cache_options,omitempty"`

	// Refused unless null.
	TopLogprobs       *int            `json:"top_logprobs,omitempty"`
	Conversation      json.RawMessage `json:"conversation,omitempty"`
	Prompt            json.RawMessage `json:"prompt,omitempty"`
	ContextManagement json.RawMessage `json:"context_management,omitempty"`
	Moderation        json.RawMessage `json:"moderation,omitempty"`
	Image             json.RawMessage `json:"image,omitempty"`
	AccessPrograms    json.RawMessage `json:"access_programs,omitempty"`
}

// ResponseTool is a tool of a response request: only function tools run on
// Bedrock; the hosted tools are refused by type.
type ResponseTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
	// Extra holds the settings of the hosted tools, which are refused.
	Extra map[string]json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps a hosted tool's settings aside, so that the refusal
// names the tool's type rather than its first unknown field.
func (t *ResponseTool) UnmarshalJSON(b []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	type plain ResponseTool
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*t = ResponseTool(p)
	// The settings of OpenAI's tool search and code-mode callers change
	// nothing about a call the model makes itself.
	for _, k := range []string{"type", "name", "description", "parameters", "strict", "defer_loading", "allowed_callers", "output_schema", "async"} {
		delete(all, k)
	}
	if t.Type == "function" && len(all) > 0 {
		for k := range all {
			return fmt.Errorf("json: unknown field %q", k)
		}
	}
	t.Extra = all
	return nil
}

// ResponseText is the text output configuration.
type ResponseText struct {
	Format    *TextFormat `json:"format,omitempty"`
	Verbosity string      `json:"verbosity,omitempty"`
}

// TextFormat is text.format: text, json_object or a named json_schema.
type TextFormat struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// Reasoning is the reasoning configuration.
type Reasoning struct {
	Effort          string `json:"effort,omitempty"`
	Summary         string `json:"summary,omitempty"`
	GenerateSummary string `json:"generate_summary,omitempty"`
}

// Item is one input or output item: a message, a function call, a function
// call's output, or a reasoning item. One flat shape covers the kinds; Type
// tells them apart (a message may omit it).
type Item struct {
	Type   string `json:"type,omitempty"`
	ID     string `json:"id,omitempty"`
	Status string `json:"status,omitempty"`
	// message
	Role    string       `json:"role,omitempty"`
	Content *ItemContent `json:"content,omitempty"`
	// function_call and function_call_output
	CallID    string          `json:"call_id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments *string         `json:"arguments,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	// Sent back as the SDKs return them; a call's routing (namespace,
	// caller, async) and a message's phase change nothing on Bedrock.
	Phase     string          `json:"phase,omitempty"`
	Namespace string          `json:"namespace,omitempty"`
	Caller    json.RawMessage `json:"caller,omitempty"`
	Async     *bool           `json:"async,omitempty"`
	// reasoning, which is dropped from input: Bedrock's reasoning blocks
	// are not carried across turns.
	Summary          json.RawMessage `json:"summary,omitempty"`
	EncryptedContent *string         `json:"encrypted_content,omitempty"`
}

// ItemContent is a message's content: a string or a list of parts.
type ItemContent struct {
	Parts []ItemPart
	// Plain records the string form, which is written back as a string.
	Plain bool
}

// ItemPart is one part of a message's content.
type ItemPart struct {
	Type        string          `json:"type"`
	Text        *string         `json:"text,omitempty"`
	ImageURL    string          `json:"image_url,omitempty"`
	Detail      string          `json:"detail,omitempty"`
	FileID      string          `json:"file_id,omitempty"`
	FileData    string          `json:"file_data,omitempty"`
	FileURL     string          `json:"file_url,omitempty"`
	Filename    string          `json:"filename,omitempty"`
	Refusal     *string         `json:"refusal,omitempty"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
	Logprobs    json.RawMessage `json:"logprobs,omitempty"`
	InputAudio  json.RawMessage `json:"input_audio,omitempty"`
	// CacheBreakpoint asks for a prompt cache point after the part, as in
	// chat.
	CacheBreakpoint *CacheBreakpoint `json:"prompt_cache_breakpoint,omitempty"`
}

// UnmarshalJSON accepts a string or an array of parts.
func (c *ItemContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = ItemContent{Plain: true, Parts: []ItemPart{{Type: "input_text", Text: &s}}}
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return &pathError{path: "content", err: errors.New("content must be a string or an array of content parts")}
	}
	parts := make([]ItemPart, len(raw))
	for j, r := range raw {
		if err := strictUnmarshal(r, &parts[j]); err != nil {
			return atPath(fmt.Sprintf("content[%d]", j), err)
		}
	}
	*c = ItemContent{Parts: parts}
	return nil
}

// MarshalJSON writes the form the caller sent.
func (c ItemContent) MarshalJSON() ([]byte, error) {
	if c.Plain && len(c.Parts) == 1 && c.Parts[0].Text != nil {
		return json.Marshal(*c.Parts[0].Text)
	}
	if c.Parts == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(c.Parts)
}

// Text joins the text of the parts.
func (c *ItemContent) Text() string {
	if c == nil {
		return ""
	}
	var sb strings.Builder
	for _, p := range c.Parts {
		switch {
		case p.Text != nil:
			sb.WriteString(*p.Text)
		case p.Refusal != nil:
			sb.WriteString(*p.Refusal)
		}
	}
	return sb.String()
}

// hostedTools are OpenAI's built-in tools, which run on OpenAI's servers.
var hostedTools = map[string]string{
	"web_search": "web search", "web_search_preview": "web search", "web_search_2025_08_26": "web search",
	"web_search_preview_2025_03_11": "web search", "file_search": "file search", "code_interpreter": "the code interpreter",
	"computer_use_preview": "computer use", "computer_use": "computer use", "image_generation": "image generation",
	"mcp": "remote MCP servers", "local_shell": "the local shell", "shell": "the shell", "apply_patch": "apply_patch",
	"custom": "custom (free-form) tools", "tool_search": "tool search",
}

// DecodeResponseRequest parses and checks a request body, refusing unknown
// fields and naming the JSON path of what it refuses. It returns the input
// items (a string input becomes one user message).
//
// It also returns the body as read, which an idempotency key's fingerprint
// covers.
func DecodeResponseRequest(r io.Reader) (*ResponseRequest, []Item, []byte, *Error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, nil, decodeError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	type plain ResponseRequest // without the tools, decoded below
	var req ResponseRequest
	shell := struct {
		*plain
		Tools []json.RawMessage `json:"tools"`
	}{plain: (*plain)(&req)}
	if err := dec.Decode(&shell); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			typeErr.Field = strings.TrimPrefix(typeErr.Field, "plain.")
		}
		return nil, nil, nil, decodeError(err)
	}
	if dec.More() {
		return nil, nil, nil, InvalidRequest("", "The request body must be a single JSON object.")
	}
	req.Tools = make([]ResponseTool, len(shell.Tools))
	for i, raw := range shell.Tools {
		if err := json.Unmarshal(raw, &req.Tools[i]); err != nil {
			return nil, nil, nil, decodeError(atPath(fmt.Sprintf("tools[%d]", i), err))
		}
	}
	items, e := decodeInput(req.Input)
	if e != nil {
		return nil, nil, nil, e
	}
	if e := req.validate(items); e != nil {
		return nil, nil, nil, e
	}
	return &req, items, body, nil
}

func decodeInput(raw json.RawMessage) ([]Item, *Error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case !present(raw):
		return nil, InvalidRequest("input", "Missing required parameter: 'input'.")
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, decodeError(err)
		}
		return []Item{{Type: "message", Role: "user", Content: &ItemContent{Plain: true, Parts: []ItemPart{{Type: "input_text", Text: &s}}}}}, nil
	case raw[0] != '[':
		return nil, InvalidRequest("input", "Invalid type for 'input': expected a string or an array of input items.")
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, decodeError(err)
	}
	items := make([]Item, len(list))
	for i, r := range list {
		if err := strictUnmarshal(r, &items[i]); err != nil {
			return nil, decodeError(atPath(fmt.Sprintf("input[%d]", i), err))
		}
		if items[i].Type == "" && items[i].Role != "" {
			items[i].Type = "message"
		}
	}
	return items, nil
}

func (r *ResponseRequest) validate(items []Item) *Error {
	if r.Model == "" {
		return InvalidRequest("model", "Missing required parameter: 'model'.")
	}
	if len(items) == 0 {
		return InvalidRequest("input", "'input' must contain at least one item.")
	}
	for i, it := range items {
		if e := it.validate(fmt.Sprintf("input[%d]", i)); e != nil {
			return e
		}
	}
	for i, t := range r.Tools {
		param := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" {
			what, hosted := hostedTools[t.Type]
			if !hosted {
				return InvalidRequest(param+".type", "Invalid tool type %q; sluice serves only 'function' tools.", t.Type)
			}
			return InvalidRequest(param+".type", "The built-in tool %q (%s) is not available: sluice runs models on Amazon Bedrock, which has no hosted tools. Use a 'function' tool and run it yourself.", t.Type, what).WithCode("unsupported_tool")
		}
		if t.Name == "" {
			return InvalidRequest(param+".name", "Missing required parameter: '%s.name'.", param)
		}
	}
	if f := r.textFormat(); f != nil {
		switch f.Type {
		case "text", "json_object":
		case "json_schema":
			if f.Name == "" {
				return InvalidRequest("text.format.name", "Missing required parameter: 'text.format.name'.")
			}
			if !present(f.Schema) {
				return InvalidRequest("text.format.schema", "Missing required parameter: 'text.format.schema'.")
			}
		default:
			return InvalidRequest("text.format.type", "Invalid value: %q. Supported values are: 'text', 'json_object' and 'json_schema'.", f.Type)
		}
	}
	switch {
	case r.MaxOutputTokens != nil && *r.MaxOutputTokens < 1:
		return InvalidRequest("max_output_tokens", "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", *r.MaxOutputTokens)
	case r.Temperature != nil && (*r.Temperature < 0 || *r.Temperature > 2):
		return InvalidRequest("temperature", "Invalid 'temperature': expected a value between 0 and 2, got %g.", *r.Temperature)
	case r.TopP != nil && (*r.TopP < 0 || *r.TopP > 1):
		return InvalidRequest("top_p", "Invalid 'top_p': expected a value between 0 and 1, got %g.", *r.TopP)
	case r.TopLogprobs != nil && *r.TopLogprobs != 0:
		return InvalidRequest("top_logprobs", "Log probabilities are not available: Bedrock returns none.")
	case present(r.Conversation):
		return InvalidRequest("conversation", "Conversations are not served by sluice; chain responses with 'previous_response_id'.")
	case present(r.Prompt):
		return InvalidRequest("prompt", "Stored prompt templates live on OpenAI's servers; send 'instructions' and 'input' instead.")
	case present(r.ContextManagement):
		return InvalidRequest("context_management", "Server-side context compaction is not available on Bedrock.")
	case present(r.Moderation):
		return InvalidRequest("moderation", "OpenAI moderation is not available on Bedrock; configure a Bedrock guardrail instead.")
	case present(r.Image):
		return InvalidRequest("image", "Image generation is not available through sluice.")
	case present(r.AccessPrograms):
		return InvalidRequest("access_programs", "OpenAI access programs do not apply to Bedrock.")
	case r.PreviousResponseID != "" && !strings.HasPrefix(r.PreviousResponseID, "resp_"):
		return InvalidRequest("previous_response_id", "Invalid 'previous_response_id': %q is not a response id.", r.PreviousResponseID)
	case r.Background && !r.Stored():
		return InvalidRequest("background", "Background responses must be stored: 'background': true requires 'store' to be true (its default).")
	case r.StreamOptions != nil && !r.Stream:
		return InvalidRequest("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
	}
	if t := r.Text; t != nil {
		if e := oneOf("text.verbosity", t.Verbosity, "low", "medium", "high"); e != nil {
			return e
		}
	}
	if rs := r.Reasoning; rs != nil {
		if e := oneOf("reasoning.summary", rs.Summary, "auto", "concise", "detailed"); e != nil {
			return e
		}
	}
	if e := oneOf("truncation", r.Truncation, "auto", "disabled"); e != nil {
		return e
	}
	if o := r.PromptCacheOptions; o != nil {
		if e := oneOf("prompt_cache_options.mode", o.Mode, "implicit", "explicit"); e != nil {
			return e
		}
	}
	return oneOf("prompt_cache_retention", r.PromptCacheRetention, "in_memory", "in-memory", "24h")
}

func (r *ResponseRequest) textFormat() *TextFormat {
	if r.Text == nil {
		return nil
	}
	return r.Text.Format
}

// Stored tells whether the response is kept (store defaults to true).
func (r *ResponseRequest) Stored() bool { return r.Store == nil || *r.Store }

func (it *Item) validate(param string) *Error {
	switch it.Type {
	case "message":
		return it.validateMessage(param)
	case "function_call":
		switch {
		case it.CallID == "":
			return InvalidRequest(param+".call_id", "Missing required parameter: '%s.call_id'.", param)
		case it.Name == "":
			return InvalidRequest(param+".name", "Missing required parameter: '%s.name'.", param)
		case it.Arguments == nil:
			return InvalidRequest(param+".arguments", "Missing required parameter: '%s.arguments'.", param)
		}
	case "function_call_output":
		if it.CallID == "" {
			return InvalidRequest(param+".call_id", "Missing required parameter: '%s.call_id'.", param)
		}
		if _, e := it.OutputText(param); e != nil {
			return e
		}
	case "reasoning":
	case "item_reference":
		return InvalidRequest(param+".type", "Item references are not served; send the item itself, or chain with 'previous_response_id'.")
	case "":
		return InvalidRequest(param+".type", "Missing required parameter: '%s.type'.", param)
	default:
		return InvalidRequest(param+".type", "Invalid input item type %q; sluice takes 'message', 'function_call', 'function_call_output' and 'reasoning' items.", it.Type)
	}
	return nil
}

func (it *Item) validateMessage(param string) *Error {
	switch it.Role {
	case "user", "system", "developer", "assistant":
	case "":
		return InvalidRequest(param+".role", "Missing required parameter: '%s.role'.", param)
	default:
		return InvalidRequest(param+".role", "Invalid value: '%s'. Supported values are: 'user', 'assistant', 'system', and 'developer'.", it.Role)
	}
	if it.Content == nil {
		return InvalidRequest(param+".content", "Missing required parameter: '%s.content'.", param)
	}
	for j, p := range it.Content.Parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		switch p.Type {
		case "input_text", "output_text":
			if p.Text == nil {
				return InvalidRequest(pp+".text", "Missing required parameter: '%s.text'.", pp)
			}
		case "refusal":
			if it.Role != "assistant" {
				return InvalidRequest(pp+".type", "Refusal content is only allowed in assistant messages.")
			}
		case "input_image":
			switch {
			case it.Role != "user":
				return InvalidRequest(pp+".type", "Image content is only allowed in user messages.")
			case p.FileID != "":
				return InvalidRequest(pp+".file_id", "Images by file id are not served; send the image as a base64 data: URL in 'image_url'.")
			case p.ImageURL == "":
				return InvalidRequest(pp+".image_url", "Missing required parameter: '%s.image_url'.", pp)
			case !strings.HasPrefix(p.ImageURL, "data:"):
				return InvalidRequest(pp+".image_url", "Only base64 data: URLs are accepted for images; sluice never fetches URLs for a caller.").WithCode("invalid_image_url")
			}
		case "input_file":
			return InvalidRequest(pp+".type", "File inputs are not carried yet; send the text, or images as input_image data URLs.")
		case "input_audio":
			return InvalidRequest(pp+".type", "Audio input is not supported: Bedrock's Converse API takes no audio.")
		default:
			return InvalidRequest(pp+".type", "Invalid content part type %q.", p.Type)
		}
	}
	return nil
}

// OutputText is a function_call_output's output: a string, or text parts.
func (it *Item) OutputText(param string) (string, *Error) {
	raw := bytes.TrimSpace(it.Output)
	if !present(raw) {
		return "", InvalidRequest(param+".output", "Missing required parameter: '%s.output'.", param)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var c ItemContent
	if err := c.UnmarshalJSON(raw); err != nil {
		return "", InvalidRequest(param+".output", "Invalid value for '%s.output': expected a string or an array of input_text parts.", param)
	}
	for j, p := range c.Parts {
		if p.Type != "input_text" || p.Text == nil {
			return "", InvalidRequest(fmt.Sprintf("%s.output[%d].type", param, j), "Function call outputs carry text only.")
		}
	}
	return c.Text(), nil
}
