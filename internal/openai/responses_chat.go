package openai

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ChatRequest is the chat completion a response request runs as: history
// (the items of the responses it continues) and input become messages, and
// instructions a first system message. Origins names, for each message, the
// JSON path of the item it came from, so that a refusal of the chat request
// (messages[3].content[0]) can name the caller's own field (input[1].content[0]).
func (r *ResponseRequest) ChatRequest(history, input []Item) (*ChatCompletionRequest, []string, *Error) {
	req := &ChatCompletionRequest{
		Model: r.Model, MaxCompletionTokens: r.MaxOutputTokens, Temperature: r.Temperature, TopP: r.TopP,
		Stream: r.Stream, Metadata: r.Metadata, ServiceTier: r.ServiceTier, ParallelToolCalls: r.ParallelToolCalls,
		User: r.User, SafetyIdentifier: r.SafetyIdentifier, PromptCacheOptions: r.PromptCacheOptions,
	}
	if r.Text != nil {
		req.Verbosity = r.Text.Verbosity
	}
	if r.Reasoning != nil {
		req.ReasoningEffort = r.Reasoning.Effort
	}
	var origins []string
	if r.Instructions != "" {
		req.Messages = append(req.Messages, Message{Role: "system", Content: Content{Parts: []ContentPart{{Type: "text", Text: r.Instructions}}}})
		origins = append(origins, "instructions")
	}
	add := func(items []Item, prefix string) *Error {
		for i, it := range items {
			param := fmt.Sprintf("%s[%d]", prefix, i)
			n := len(req.Messages)
			var e *Error
			if req.Messages, e = appendItem(req.Messages, it, param); e != nil {
				return e
			}
			if len(req.Messages) > n {
				origins = append(origins, param)
			}
		}
		return nil
	}
	if e := add(history, "previous_response_id"); e != nil {
		return nil, nil, e
	}
	if e := add(input, "input"); e != nil {
		return nil, nil, e
	}
	for _, t := range r.Tools {
		req.Tools = append(req.Tools, Tool{Type: "function", Function: ToolFunction{Name: t.Name, Description: t.Description, Parameters: t.Parameters, Strict: t.Strict}})
	}
	if present(r.ToolChoice) {
		tc, e := chatToolChoice(r.ToolChoice)
		if e != nil {
			return nil, nil, e
		}
		req.ToolChoice = tc
	}
	if f := r.textFormat(); f != nil && f.Type != "text" {
		req.ResponseFormat = &ResponseFormat{Type: f.Type}
		if f.Type == "json_schema" {
			req.ResponseFormat.JSONSchema = &JSONSchema{Name: f.Name, Description: f.Description, Schema: f.Schema, Strict: f.Strict}
		}
	}
	if e := req.Validate(); e != nil {
		return nil, nil, RetargetError(e, origins)
	}
	return req, origins, nil
}

// appendItem adds one item to a conversation. Function calls join the
// assistant message before them, as the tool_calls of one chat message.
func appendItem(msgs []Message, it Item, param string) ([]Message, *Error) {
	switch it.Type {
	case "message":
		m := Message{Role: it.Role}
		for _, p := range it.Content.Parts {
			switch p.Type {
			case "input_text", "output_text":
				m.Content.Parts = append(m.Content.Parts, ContentPart{Type: "text", Text: *p.Text, CacheBreakpoint: p.CacheBreakpoint})
			case "refusal":
				m.Content.Parts = append(m.Content.Parts, ContentPart{Type: "refusal", Refusal: p.Refusal})
			case "input_image":
				m.Content.Parts = append(m.Content.Parts, ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: p.ImageURL, Detail: p.Detail}, CacheBreakpoint: p.CacheBreakpoint})
			}
		}
		if m.Content.Parts == nil {
			if it.Role != "assistant" {
				return msgs, InvalidRequest(param+".content", "'%s.content' must not be empty.", param)
			}
			return msgs, nil // an empty assistant turn says nothing
		}
		return append(msgs, m), nil
	case "function_call":
		call := ToolCall{ID: it.CallID, Type: "function", Function: ToolCallFunction{Name: it.Name, Arguments: *it.Arguments}}
		if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" {
			msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, call)
			return msgs, nil
		}
		return append(msgs, Message{Role: "assistant", Content: Content{IsNull: true}, ToolCalls: []ToolCall{call}}), nil
	case "function_call_output":
		out, e := it.OutputText(param)
		if e != nil {
			return msgs, e
		}
		return append(msgs, Message{Role: "tool", ToolCallID: it.CallID, Content: Content{Parts: []ContentPart{{Type: "text", Text: out}}}}), nil
	}
	return msgs, nil // reasoning: not carried to Bedrock
}

// chatToolChoice maps a Responses tool_choice to the chat form.
func chatToolChoice(raw json.RawMessage) (json.RawMessage, *Error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if e := oneOf("tool_choice", s, "auto", "required", "none"); e != nil {
			return nil, e
		}
		return raw, nil
	}
	var obj struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, InvalidRequest("tool_choice", "Invalid 'tool_choice': expected a string or an object with a 'type'.")
	}
	switch {
	case obj.Type == "function" && obj.Name != "":
		b, _ := json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": obj.Name}})
		return b, nil
	case obj.Type == "function":
		return nil, InvalidRequest("tool_choice.name", "Missing required parameter: 'tool_choice.name'.")
	case obj.Type == "allowed_tools":
		return nil, InvalidRequest("tool_choice.type", "Bedrock cannot restrict a call to a subset of the tools; send only those tools.")
	}
	return nil, InvalidRequest("tool_choice.type", "Invalid 'tool_choice' type %q: only function tools are available.", obj.Type)
}

// RetargetError names the caller's own field in an error about the chat
// request a response runs as: messages[k] becomes the item message k came
// from, and chat-only parameter names become their Responses names.
func RetargetError(e *Error, origins []string) *Error {
	if e == nil || e.Param == nil {
		return e
	}
	p := *e.Param
	renamed := map[string]string{"max_completion_tokens": "max_output_tokens", "reasoning_effort": "reasoning.effort",
		"response_format": "text.format", "response_format.json_schema": "text.format"}
	for from, to := range renamed {
		if p == from || strings.HasPrefix(p, from+".") {
			p = to + strings.TrimPrefix(p, from)
			break
		}
	}
	if rest, ok := strings.CutPrefix(p, "messages["); ok {
		var k int
		if _, err := fmt.Sscanf(rest, "%d]", &k); err == nil && k < len(origins) {
			tail := rest[strings.IndexByte(rest, ']')+1:]
			// A chat content part is the item's part of the same index;
			// image_url.url is the item's image_url.
			tail = strings.Replace(tail, ".image_url.url", ".image_url", 1)
			p = origins[k] + tail
		}
	}
	out := *e
	if p != *e.Param {
		out.Message = strings.ReplaceAll(out.Message, *e.Param, p)
	}
	out.Param = &p
	return &out
}

// AssistantItems are the output items of a chat completion: a message with
// its text, then one function_call item per tool call. Item ids derive from
// base (the response id without its prefix), so every rendering of one
// response, streamed or not, names its items the same.
func AssistantItems(cc *ChatCompletion, base string) []Item {
	if len(cc.Choices) == 0 {
		return []Item{}
	}
	m := cc.Choices[0].Message
	items := []Item{}
	if m.ReasoningContent != nil && *m.ReasoningContent != "" {
		items = append(items, ReasoningItem(base, *m.ReasoningContent))
	}
	if m.Content != nil && (*m.Content != "" || len(m.ToolCalls) == 0) || m.Refusal != nil {
		var part ItemPart
		if m.Refusal != nil {
			part = ItemPart{Type: "refusal", Refusal: m.Refusal}
		} else {
			part = outputText(*m.Content)
		}
		items = append(items, Item{Type: "message", ID: MessageItemID(base), Status: "completed", Role: "assistant",
			Content: &ItemContent{Parts: []ItemPart{part}}})
	}
	for i, tc := range m.ToolCalls {
		args := tc.Function.Arguments
		items = append(items, Item{Type: "function_call", ID: CallItemID(base, i), Status: "completed", CallID: tc.ID, Name: tc.Function.Name, Arguments: &args})
	}
	return items
}

func outputText(s string) ItemPart {
	return ItemPart{Type: "output_text", Text: &s, Annotations: json.RawMessage("[]"), Logprobs: json.RawMessage("[]")}
}

// ReasoningItem is the reasoning Bedrock returned, as a reasoning item with
// one summary part: Bedrock's reasoning text is what the model shows of its
// thinking (Claude 4 returns it summarized).
func ReasoningItem(base, text string) Item {
	summary, _ := json.Marshal([]summaryPart{{Type: "summary_text", Text: text}})
	return Item{Type: "reasoning", ID: "rs_" + base, Status: "completed", Summary: summary}
}

type summaryPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// reasoningText is the text of a reasoning item's summary.
func (it *Item) reasoningText() string {
	var parts []summaryPart
	_ = json.Unmarshal(it.Summary, &parts)
	var sb strings.Builder
	for _, p := range parts {
		sb.WriteString(p.Text)
	}
	return sb.String()
}

// MessageItemID is the id of a response's output message.
func MessageItemID(base string) string { return "msg_" + base }

// CallItemID is the id of a response's i-th function call item.
func CallItemID(base string, i int) string { return fmt.Sprintf("fc_%s_%d", base, i) }

// ResponseUsage is a response's token usage.
type ResponseUsage struct {
	InputTokens         int                 `json:"input_tokens"`
	InputTokensDetails  InputTokensDetails  `json:"input_tokens_details"`
	OutputTokens        int                 `json:"output_tokens"`
	OutputTokensDetails OutputTokensDetails `json:"output_tokens_details"`
	TotalTokens         int                 `json:"total_tokens"`
}

// InputTokensDetails breaks input tokens down.
type InputTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// OutputTokensDetails breaks output tokens down.
type OutputTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// ResponseUsageOf converts a chat completion's usage.
func ResponseUsageOf(u *Usage) *ResponseUsage {
	if u == nil {
		return nil
	}
	r := &ResponseUsage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if u.PromptTokensDetails != nil {
		r.InputTokensDetails.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	return r
}

// Response is the Response object: the body of POST and GET
// /v1/responses/{id}, and the response of stream events.
type Response struct {
	ID                 string             `json:"id"`
	Object             string             `json:"object"` // response
	CreatedAt          int64              `json:"created_at"`
	CompletedAt        *int64             `json:"completed_at"`
	Status             string             `json:"status"`
	Background         bool               `json:"background"`
	Error              *ResponseError     `json:"error"`
	IncompleteDetails  *IncompleteDetails `json:"incomplete_details"`
	Instructions       *string            `json:"instructions"`
	MaxOutputTokens    *int               `json:"max_output_tokens"`
	Model              string             `json:"model"`
	Output             []Item             `json:"output"`
	ParallelToolCalls  bool               `json:"parallel_tool_calls"`
	PreviousResponseID *string            `json:"previous_response_id"`
	Reasoning          Reasoning          `json:"reasoning"`
	ServiceTier        string             `json:"service_tier"`
	Store              bool               `json:"store"`
	Temperature        *float64           `json:"temperature"`
	Text               ResponseText       `json:"text"`
	ToolChoice         json.RawMessage    `json:"tool_choice"`
	Tools              []ResponseTool     `json:"tools"`
	TopP               *float64           `json:"top_p"`
	Truncation         string             `json:"truncation"`
	Usage              *ResponseUsage     `json:"usage"`
	User               *string            `json:"user"`
	Metadata           map[string]any     `json:"metadata"`
	// OutputText is the SDKs' convenience: the text of the output messages.
	OutputText string `json:"output_text,omitempty"`
}

// ResponseError is a failed response's error.
type ResponseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// IncompleteDetails says why a response is incomplete.
type IncompleteDetails struct {
	Reason string `json:"reason"`
}

// NewResponse renders the Response object of req before it has output
// (status queued or in_progress).
func (r *ResponseRequest) NewResponse(id string, createdAt int64, status string) *Response {
	resp := &Response{
		ID: id, Object: "response", CreatedAt: createdAt, Status: status, Background: r.Background,
		MaxOutputTokens: r.MaxOutputTokens, Model: r.Model, Output: []Item{}, ParallelToolCalls: r.ParallelToolCalls == nil || *r.ParallelToolCalls,
		Store: r.Stored(), Temperature: r.Temperature, TopP: r.TopP, Truncation: "disabled", Tools: r.Tools,
		Metadata: map[string]any{}, ServiceTier: "auto", ToolChoice: json.RawMessage(`"auto"`),
	}
	if resp.Tools == nil {
		resp.Tools = []ResponseTool{}
	}
	if r.Instructions != "" {
		resp.Instructions = &r.Instructions
	}
	if r.PreviousResponseID != "" {
		resp.PreviousResponseID = &r.PreviousResponseID
	}
	if r.User != "" {
		resp.User = &r.User
	}
	if r.Reasoning != nil {
		resp.Reasoning = *r.Reasoning
	}
	if r.Text != nil {
		resp.Text = *r.Text
	}
	if resp.Text.Format == nil {
		resp.Text.Format = &TextFormat{Type: "text"}
	}
	if r.Metadata != nil {
		resp.Metadata = r.Metadata
	}
	if r.ServiceTier != "" {
		resp.ServiceTier = r.ServiceTier
	}
	if present(r.ToolChoice) {
		resp.ToolChoice = r.ToolChoice
	}
	return resp
}

// Complete fills in a response from its chat completion: the output, the
// usage, and completed or incomplete by the finish reason.
func (resp *Response) Complete(cc *ChatCompletion, base string, completedAt int64) {
	resp.Output = AssistantItems(cc, base)
	resp.Usage = ResponseUsageOf(cc.Usage)
	if cc.ServiceTier != "" {
		resp.ServiceTier = cc.ServiceTier
	}
	resp.Status = "completed"
	if len(cc.Choices) > 0 {
		switch cc.Choices[0].FinishReason {
		case "length":
			resp.Status, resp.IncompleteDetails = "incomplete", &IncompleteDetails{Reason: "max_output_tokens"}
		case "content_filter":
			resp.Status, resp.IncompleteDetails = "incomplete", &IncompleteDetails{Reason: "content_filter"}
		}
	}
	if resp.Status == "completed" {
		resp.CompletedAt = &completedAt
	}
	var sb strings.Builder
	for _, it := range resp.Output {
		if it.Type == "message" {
			sb.WriteString(it.Content.Text())
		}
	}
	resp.OutputText = sb.String()
}

// Fail marks a response failed (or cancelled) with the error its job ended with.
func (resp *Response) Fail(status string, e *Error) {
	resp.Status = status
	code := "server_error"
	if e.Code != nil {
		code = *e.Code
	}
	resp.Error = &ResponseError{Code: code, Message: e.Message}
}
