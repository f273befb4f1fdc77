package bedrocksim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
)

// converseRequest is the part of a Converse/ConverseStream body the
// simulator reads. Unknown fields are accepted and ignored, as Bedrock
// ignores fields a model does not use.
type converseRequest struct {
	Messages        []message        `json:"messages"`
	System          []contentBlock   `json:"system"`
	InferenceConfig *inferenceConfig `json:"inferenceConfig"`
	ToolConfig      *toolConfig      `json:"toolConfig"`
	OutputConfig    *outputConfig    `json:"outputConfig"`
	ServiceTier     *serviceTier     `json:"serviceTier"`
	// RequestMetadata tags the call in invocation logs; the simulator logs
	// it with each call, so a test can tell which request a call served.
	RequestMetadata map[string]string `json:"requestMetadata"`
}

type serviceTier struct {
	Type string `json:"type"`
}

// outputConfig asks for structured output: a text answer that is JSON
// following textFormat's schema (a JSON schema, itself sent as a string).
type outputConfig struct {
	TextFormat *struct {
		Type      string `json:"type"`
		Structure struct {
			JSONSchema *struct {
				Schema string `json:"schema"`
				Name   string `json:"name"`
			} `json:"jsonSchema"`
		} `json:"structure"`
	} `json:"textFormat"`
}

// schema is the JSON schema the answer must follow, "" for free text.
func (req *converseRequest) schema() string {
	if oc := req.OutputConfig; oc != nil && oc.TextFormat != nil && oc.TextFormat.Structure.JSONSchema != nil {
		return oc.TextFormat.Structure.JSONSchema.Schema
	}
	return ""
}

type message struct {
	Role    string         `json:"role"`
	Content []contentBlock `json:"content"`
}

// contentBlock is one member of the ContentBlock (or SystemContentBlock)
// union. Raw keeps the block's JSON, to count tokens of non-text blocks.
type contentBlock struct {
	Text       *string         `json:"text"`
	ToolUse    json.RawMessage `json:"toolUse"`
	ToolResult json.RawMessage `json:"toolResult"`
	CachePoint json.RawMessage `json:"cachePoint"`
	Raw        json.RawMessage `json:"-"`
}

func (b *contentBlock) UnmarshalJSON(data []byte) error {
	type plain contentBlock // without this method
	if err := json.Unmarshal(data, (*plain)(b)); err != nil {
		return err
	}
	b.Raw = append(json.RawMessage(nil), data...)
	return nil
}

type inferenceConfig struct {
	MaxTokens     *int     `json:"maxTokens"`
	StopSequences []string `json:"stopSequences"`
	Temperature   *float64 `json:"temperature"`
	TopP          *float64 `json:"topP"`
}

type toolConfig struct {
	Tools []struct {
		ToolSpec   *toolSpec       `json:"toolSpec"`
		CachePoint json.RawMessage `json:"cachePoint"`
	} `json:"tools"`
	ToolChoice *struct {
		Auto *struct{} `json:"auto"`
		Any  *struct{} `json:"any"`
		Tool *struct {
			Name string `json:"name"`
		} `json:"tool"`
	} `json:"toolChoice"`
}

// forcedTool is the tool toolChoice makes the model call: the named one
// ({"tool":{"name"}}), or for {"any":{}} the first tool; "" when the model
// may answer with text.
func (tc *toolConfig) forcedTool() string {
	if tc == nil || tc.ToolChoice == nil {
		return ""
	}
	switch {
	case tc.ToolChoice.Tool != nil:
		return tc.ToolChoice.Tool.Name
	case tc.ToolChoice.Any != nil:
		for _, t := range tc.Tools {
			if t.ToolSpec != nil {
				return t.ToolSpec.Name
			}
		}
	}
	return ""
}

type toolSpec struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	InputSchema struct {
		JSON json.RawMessage `json:"json"`
	} `json:"inputSchema"`
}

func (tc *toolConfig) find(name string) *toolSpec {
	if tc == nil {
		return nil
	}
	for _, t := range tc.Tools {
		if t.ToolSpec != nil && t.ToolSpec.Name == name {
			return t.ToolSpec
		}
	}
	return nil
}

// validate applies the checks Bedrock makes before running a model, with
// Bedrock's messages.
func (req *converseRequest) validate(model ModelConfig) *apiError {
	if len(req.Messages) == 0 {
		return newError("ValidationException", "A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	usesTools := false
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return newError("ValidationException", "1 validation error detected: Value '%s' at 'messages.%d.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]", m.Role, i+1)
		}
		if i == 0 && m.Role != "user" {
			return newError("ValidationException", "A conversation must start with a user message. Try again with a conversation that starts with a user message.")
		}
		if i > 0 && m.Role == req.Messages[i-1].Role {
			return newError("ValidationException", "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		}
		if len(m.Content) == 0 {
			return newError("ValidationException", "The content field in the Message object at messages.%d is empty. Add a ContentBlock object to the content field and try again.", i)
		}
		for _, b := range m.Content {
			if b.ToolUse != nil || b.ToolResult != nil {
				usesTools = true
			}
		}
	}
	if usesTools && req.ToolConfig == nil {
		return newError("ValidationException", "The toolConfig field must be defined when using toolUse and toolResult content blocks.")
	}
	if req.ToolConfig != nil && len(req.ToolConfig.Tools) == 0 {
		return newError("ValidationException", "1 validation error detected: Value '[]' at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if ic := req.InferenceConfig; ic != nil {
		if ic.MaxTokens != nil && *ic.MaxTokens < 1 {
			return newError("ValidationException", "1 validation error detected: Value '%d' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1", *ic.MaxTokens)
		}
		if ic.MaxTokens != nil && *ic.MaxTokens > model.MaxOutputTokens {
			return newError("ValidationException", "The maximum tokens you requested exceeds the model limit of %d. Try again with a maximum tokens value that is lower than %d.", model.MaxOutputTokens, model.MaxOutputTokens)
		}
		if t := ic.Temperature; t != nil && (*t < 0 || *t > 1) {
			return newError("ValidationException", "1 validation error detected: Value '%g' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1", *t)
		}
		if p := ic.TopP; p != nil && (*p < 0 || *p > 1) {
			return newError("ValidationException", "1 validation error detected: Value '%g' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value less than or equal to 1", *p)
		}
	}
	return nil
}

// maxTokens is the output cap, and the output part of the quota
// reservation: the request's maxTokens, else the model's maximum.
func (req *converseRequest) maxTokens(model ModelConfig) int {
	if req.InferenceConfig != nil && req.InferenceConfig.MaxTokens != nil {
		return *req.InferenceConfig.MaxTokens
	}
	return model.MaxOutputTokens
}

// inputTokens is the simulator's token count: a quarter of the bytes of all
// text (system, messages, tool specs; the JSON of non-text blocks), rounded
// up, at least 1. Directive lines are text like any other.
func (req *converseRequest) inputTokens() int {
	n := 0
	count := func(blocks []contentBlock) {
		for _, b := range blocks {
			n += b.size()
		}
	}
	count(req.System)
	for _, m := range req.Messages {
		count(m.Content)
	}
	if req.ToolConfig != nil {
		for _, t := range req.ToolConfig.Tools {
			n += t.ToolSpec.size()
		}
	}
	return max(1, (n+3)/4)
}

// size is the bytes a block counts for: its text, or its JSON; a cache
// point is a marker and counts nothing.
func (b contentBlock) size() int {
	switch {
	case b.CachePoint != nil:
		return 0
	case b.Text != nil:
		return len(*b.Text)
	}
	return len(b.Raw)
}

func (t *toolSpec) size() int {
	if t == nil {
		return 0
	}
	return len(t.Name) + len(t.Description) + len(t.InputSchema.JSON)
}

// contentHash identifies the conversation (system and messages): it seeds
// the generated answer and keys fail_times. Blocks are hashed in canonical
// JSON (sorted keys), because clients may serialize documents such as tool
// inputs with map keys in any order.
func (req *converseRequest) contentHash() uint64 {
	// Cache points are left out: caching does not change the answer.
	h := fnv.New64a()
	for _, b := range req.System {
		if b.CachePoint == nil {
			h.Write(canonicalJSON(b.Raw))
		}
	}
	for _, m := range req.Messages {
		fmt.Fprintf(h, "\x00%s\x00", m.Role)
		for _, b := range m.Content {
			if b.CachePoint == nil {
				h.Write(canonicalJSON(b.Raw))
			}
		}
	}
	return h.Sum64()
}

func canonicalJSON(raw json.RawMessage) []byte {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw
	}
	out, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return out
}

// lastMessageHasToolResult tells whether the model is being handed a tool's
// result, in which case it answers with text instead of calling a tool again.
func (req *converseRequest) lastMessageHasToolResult() bool {
	last := req.Messages[len(req.Messages)-1]
	for _, b := range last.Content {
		if b.ToolResult != nil {
			return true
		}
	}
	return false
}
