// Package bedrock translates between OpenAI chat completions and Bedrock's
// Converse API, classifies Bedrock's errors for the broker, and builds one
// Bedrock Runtime client per account.
package bedrock

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/openai"
)

// ConverseRequest builds the Converse input for req against model. It refuses
// what Bedrock cannot honour rather than dropping it, so that a caller never
// gets an answer to a different question than the one asked.
func ConverseRequest(req *openai.ChatCompletionRequest, model config.Model) (*bedrockruntime.ConverseInput, *openai.Error) {
	if model.Embedding() {
		return nil, openai.InvalidRequest("model", "%q is an embedding model; send it to /v1/embeddings.", req.Model)
	}
	if e := unsupported(req); e != nil {
		return nil, e
	}
	maxTokens, e := OutputTokens(req, model)
	if e != nil {
		return nil, e
	}
	in := &bedrockruntime.ConverseInput{
		ModelId: aws.String(model.BedrockModelID),
		InferenceConfig: &types.InferenceConfiguration{
			MaxTokens: aws.Int32(int32(maxTokens)),
		},
	}
	if req.Temperature != nil {
		if *req.Temperature > 1 {
			return nil, openai.InvalidRequest("temperature", "Bedrock models accept a temperature between 0 and 1; got %g.", *req.Temperature)
		}
		in.InferenceConfig.Temperature = aws.Float32(float32(*req.Temperature))
	}
	if req.TopP != nil {
		in.InferenceConfig.TopP = aws.Float32(float32(*req.TopP))
	}
	for _, s := range req.Stop {
		if s != "" {
			in.InferenceConfig.StopSequences = append(in.InferenceConfig.StopSequences, s)
		}
	}
	for i, m := range req.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer":
			text := m.Content.Text()
			if text == "" {
				return nil, openai.InvalidRequest(param+".content", "A %s message must contain text.", m.Role)
			}
			in.System = append(in.System, &types.SystemContentBlockMemberText{Value: text})
			if breakpoint(m.Content) {
				in.System = append(in.System, &types.SystemContentBlockMemberCachePoint{Value: cachePointBlock()})
			}
		case "user":
			blocks, e := userContent(param, m.Content)
			if e != nil {
				return nil, e
			}
			in.Messages = appendMessage(in.Messages, types.ConversationRoleUser, blocks)
		case "assistant":
			blocks, e := assistantContent(param, m)
			if e != nil {
				return nil, e
			}
			in.Messages = appendMessage(in.Messages, types.ConversationRoleAssistant, blocks)
		case "tool":
			// Bedrock has no tool role: a result goes back in a user turn.
			blocks := []types.ContentBlock{&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
				ToolUseId: aws.String(m.ToolCallID),
				Content:   []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: m.Content.Text()}},
			}}}
			if breakpoint(m.Content) {
				blocks = append(blocks, cachePoint())
			}
			in.Messages = appendMessage(in.Messages, types.ConversationRoleUser, blocks)
		}
	}
	if len(in.Messages) == 0 {
		return nil, openai.InvalidRequest("messages", "The conversation needs at least one user message besides system messages.")
	}
	if in.Messages[0].Role != types.ConversationRoleUser {
		return nil, openai.InvalidRequest("messages", "The first non-system message must come from the user.")
	}
	tc, e := toolConfig(req)
	if e != nil {
		return nil, e
	}
	if tc == nil && usesTools(in.Messages) {
		// Bedrock refuses toolUse and toolResult blocks without a toolConfig.
		// Inventing a placeholder tool (as some gateways do) would let the
		// model call it, so the caller is asked for the real ones.
		return nil, openai.InvalidRequest("tools", "The conversation has tool calls or tool results; Bedrock needs the tools they used, so send them in 'tools'.")
	}
	in.ToolConfig = tc
	if rf := req.ResponseFormat; rf != nil {
		oc, e := outputConfig(rf)
		if e != nil {
			return nil, e
		}
		in.OutputConfig = oc
	}
	effort, e := reasoningEffort(req.ReasoningEffort)
	if e != nil {
		return nil, e
	}
	if effort != "" {
		if in.OutputConfig == nil {
			in.OutputConfig = &types.OutputConfig{}
		}
		in.OutputConfig.Effort = aws.String(effort)
	}
	if in.RequestMetadata, e = requestMetadata(req); e != nil {
		return nil, e
	}
	tier, e := ServiceTier(req, model)
	if e != nil {
		return nil, e
	}
	if tier != "" && tier != config.TierDefault {
		in.ServiceTier = &types.ServiceTier{Type: types.ServiceTierType(tier)}
	}
	addCachePoints(in, req, model)
	return in, nil
}

// ServiceTier is the Bedrock service tier a request runs at: the one it asks
// for, or for "auto" and none the alias's service_tier. A tier the model
// does not offer is refused here, where Bedrock would answer
// ValidationException. Bedrock's on-demand quota is shared by all tiers
// (service-tiers-inference), so budgets need no change for them.
func ServiceTier(req *openai.ChatCompletionRequest, model config.Model) (string, *openai.Error) {
	switch req.ServiceTier {
	case "", "auto":
		return model.ServiceTier, nil
	case config.TierDefault, config.TierFlex, config.TierPriority:
		if !model.OffersTier(req.ServiceTier) {
			return "", openai.InvalidRequest("service_tier", "service_tier %q is not available for model %q: %s offers %s.",
				req.ServiceTier, req.Model, model.BedrockModelID, strings.Join(append([]string{config.TierDefault}, model.ServiceTiers...), ", "))
		}
		return req.ServiceTier, nil
	}
	return "", openai.InvalidRequest("service_tier", "Invalid service_tier %q; Bedrock offers 'auto', 'default', 'flex' and 'priority'.", req.ServiceTier)
}

// usesTools reports whether a conversation carries tool calls or results.
func usesTools(msgs []types.Message) bool {
	for _, m := range msgs {
		for _, b := range m.Content {
			switch b.(type) {
			case *types.ContentBlockMemberToolUse, *types.ContentBlockMemberToolResult:
				return true
			}
		}
	}
	return false
}

// OutputTokens is the maxTokens sluice sends: the caller's bound, or the
// alias's default. Bedrock reserves this many tokens against the quota at call
// start, so sending none would reserve the model's maximum.
func OutputTokens(req *openai.ChatCompletionRequest, model config.Model) (int, *openai.Error) {
	n := req.OutputLimit()
	if n == 0 {
		return model.DefaultMaxTokens, nil
	}
	if n > model.MaxOutputTokens {
		param := "max_tokens"
		if req.MaxCompletionTokens != nil {
			param = "max_completion_tokens"
		}
		return 0, openai.InvalidRequest(param, "%s is too large: %d. This model supports at most %d completion tokens.", param, n, model.MaxOutputTokens)
	}
	return n, nil
}

func unsupported(req *openai.ChatCompletionRequest) *openai.Error {
	switch {
	case req.N != nil && *req.N != 1:
		return openai.InvalidRequest("n", "n=%d is not supported: Bedrock returns one choice per request.", *req.N)
	case req.Logprobs != nil && *req.Logprobs:
		return openai.InvalidRequest("logprobs", "logprobs are not available from Bedrock.")
	case req.TopLogprobs != nil:
		return openai.InvalidRequest("top_logprobs", "top_logprobs are not available from Bedrock.")
	case req.PresencePenalty != nil && *req.PresencePenalty != 0:
		return openai.InvalidRequest("presence_penalty", "presence_penalty is not supported by Bedrock's Converse API.")
	case req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return openai.InvalidRequest("frequency_penalty", "frequency_penalty is not supported by Bedrock's Converse API.")
	case len(req.LogitBias) > 0:
		return openai.InvalidRequest("logit_bias", "logit_bias is not supported by Bedrock.")
	case req.ParallelToolCalls != nil && !*req.ParallelToolCalls && len(req.Tools) > 0:
		// Converse cannot forbid several tool calls in one turn.
		return openai.InvalidRequest("parallel_tool_calls", "parallel_tool_calls=false is not supported: Bedrock's Converse API cannot stop a model from calling several tools at once.")
	}
	// seed is accepted and ignored: OpenAI promises only best-effort
	// determinism for it, and Bedrock has no seed. store is accepted and
	// ignored: sluice keeps every job anyway (GET /v1/jobs/{id}).
	return nil
}

// reasoningEffort maps OpenAI's reasoning_effort to Converse's
// outputConfig.effort. "none" asks for no reasoning, which is what sending no
// effort gives; "minimal" has no Bedrock level and becomes the lowest.
func reasoningEffort(effort string) (string, *openai.Error) {
	switch effort {
	case "", "none":
		return "", nil
	case "minimal":
		return "low", nil
	case "low", "medium", "high", "xhigh":
		return effort, nil
	}
	return "", openai.InvalidRequest("reasoning_effort", "Invalid reasoning_effort %q; use 'none', 'minimal', 'low', 'medium', 'high' or 'xhigh'.", effort)
}

// metadataPattern is what Bedrock accepts in requestMetadata keys and values.
var metadataPattern = regexp.MustCompile(`^[a-zA-Z0-9\s:_@$#=/+,\-.]*$`)

// requestMetadata carries metadata, user and safety_identifier to Converse's
// requestMetadata,
// which tags the call in Bedrock's invocation logs. Entries Bedrock would
// refuse are refused here, where the caller can still fix them.
func requestMetadata(req *openai.ChatCompletionRequest) (map[string]string, *openai.Error) {
	if len(req.Metadata) == 0 && req.User == "" && req.SafetyIdentifier == "" {
		return nil, nil
	}
	md := make(map[string]string, len(req.Metadata)+1)
	for _, k := range slices.Sorted(maps.Keys(req.Metadata)) {
		v, ok := req.Metadata[k].(string)
		param := "metadata." + k
		switch {
		case !ok:
			return nil, openai.InvalidRequest(param, "metadata values must be strings.")
		case k == "" || len(k) > 256 || len(v) > 256:
			return nil, openai.InvalidRequest(param, "Bedrock accepts metadata keys of 1 to 256 characters and values of at most 256.")
		case !metadataPattern.MatchString(k) || !metadataPattern.MatchString(v):
			return nil, openai.InvalidRequest(param, "Bedrock accepts only letters, digits, spaces and :_@$#=/+,-. in metadata keys and values.")
		}
		md[k] = v
	}
	for _, id := range []struct{ key, value string }{{"user", req.User}, {"safety_identifier", req.SafetyIdentifier}} {
		if _, taken := md[id.key]; id.value == "" || taken {
			continue
		}
		if len(id.value) > 256 || !metadataPattern.MatchString(id.value) {
			return nil, openai.InvalidRequest(id.key, "Bedrock accepts a %s of at most 256 letters, digits, spaces and :_@$#=/+,-. characters.", id.key)
		}
		md[id.key] = id.value
	}
	if len(md) > 16 {
		return nil, openai.InvalidRequest("metadata", "Bedrock accepts at most 16 metadata entries (user and safety_identifier count as one each); got %d.", len(md))
	}
	return md, nil
}

// appendMessage merges consecutive turns of the same role, which Bedrock
// requires to alternate.
func appendMessage(msgs []types.Message, role types.ConversationRole, blocks []types.ContentBlock) []types.Message {
	if n := len(msgs); n > 0 && msgs[n-1].Role == role {
		msgs[n-1].Content = append(msgs[n-1].Content, blocks...)
		return msgs
	}
	return append(msgs, types.Message{Role: role, Content: blocks})
}

func userContent(param string, c openai.Content) ([]types.ContentBlock, *openai.Error) {
	var blocks []types.ContentBlock
	for j, p := range c.Parts {
		switch p.Type {
		case "text":
			if p.Text == "" {
				continue
			}
			blocks = append(blocks, &types.ContentBlockMemberText{Value: p.Text})
		case "image_url":
			img, e := dataURLImage(fmt.Sprintf("%s.content[%d].image_url.url", param, j), p.ImageURL.URL)
			if e != nil {
				return nil, e
			}
			blocks = append(blocks, img)
		}
		if p.Breakpoint() {
			blocks = append(blocks, cachePoint())
		}
	}
	if len(blocks) == 0 {
		return nil, openai.InvalidRequest(param+".content", "A user message must not be empty.")
	}
	return blocks, nil
}

// dataURLImage accepts only data: URLs. Fetching remote URLs would let any
// caller make the broker issue requests inside its network.
func dataURLImage(param, url string) (types.ContentBlock, *openai.Error) {
	rest, ok := strings.CutPrefix(url, "data:")
	if !ok {
		return nil, openai.InvalidRequest(param, "Only base64 data URLs (data:image/png;base64,...) are accepted for images; remote image URLs are not fetched.")
	}
	mediaType, payload, ok := strings.Cut(rest, ";base64,")
	if !ok {
		return nil, openai.InvalidRequest(param, "The image data URL must be base64-encoded (data:image/png;base64,...).")
	}
	format, ok := map[string]types.ImageFormat{
		"image/png": types.ImageFormatPng, "image/jpeg": types.ImageFormatJpeg, "image/jpg": types.ImageFormatJpeg,
		"image/gif": types.ImageFormatGif, "image/webp": types.ImageFormatWebp,
	}[mediaType]
	if !ok {
		return nil, openai.InvalidRequest(param, "Unsupported image type %q; use png, jpeg, gif or webp.", mediaType)
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return nil, openai.InvalidRequest(param, "The image data is not valid base64: %v", err)
	}
	return &types.ContentBlockMemberImage{Value: types.ImageBlock{Format: format, Source: &types.ImageSourceMemberBytes{Value: data}}}, nil
}

func assistantContent(param string, m openai.Message) ([]types.ContentBlock, *openai.Error) {
	var blocks []types.ContentBlock
	text := m.Content.Text()
	if text == "" && m.Refusal != nil {
		// A refusal is what the assistant said in that turn.
		text = *m.Refusal
	}
	if text != "" {
		blocks = append(blocks, &types.ContentBlockMemberText{Value: text})
		if breakpoint(m.Content) {
			blocks = append(blocks, cachePoint())
		}
	}
	for k, call := range m.ToolCalls {
		var input any
		args := call.Function.Arguments
		if strings.TrimSpace(args) == "" {
			args = "{}"
		}
		if err := json.Unmarshal([]byte(args), &input); err != nil {
			return nil, openai.InvalidRequest(fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, k), "Tool call arguments must be a JSON object: %v", err)
		}
		blocks = append(blocks, &types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{
			ToolUseId: aws.String(call.ID),
			Name:      aws.String(call.Function.Name),
			Input:     document.NewLazyDocument(input),
		}})
	}
	if len(blocks) == 0 {
		return nil, openai.InvalidRequest(param+".content", "An assistant message needs content or tool_calls.")
	}
	return blocks, nil
}

func toolConfig(req *openai.ChatCompletionRequest) (*types.ToolConfiguration, *openai.Error) {
	if len(req.Tools) == 0 {
		if len(req.ToolChoice) > 0 && string(req.ToolChoice) != `"none"` && string(req.ToolChoice) != "null" {
			return nil, openai.InvalidRequest("tool_choice", "tool_choice is set but no tools are given.")
		}
		return nil, nil
	}
	tc := &types.ToolConfiguration{}
	for i, t := range req.Tools {
		param := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" {
			return nil, openai.InvalidRequest(param+".type", "Only function tools are supported; got %q.", t.Type)
		}
		if t.Function.Name == "" {
			return nil, openai.InvalidRequest(param+".function.name", "Missing required parameter: '%s.function.name'.", param)
		}
		var schema any = map[string]any{"type": "object", "properties": map[string]any{}}
		if len(t.Function.Parameters) > 0 {
			if err := json.Unmarshal(t.Function.Parameters, &schema); err != nil {
				return nil, openai.InvalidRequest(param+".function.parameters", "parameters must be a JSON schema object: %v", err)
			}
		}
		spec := types.ToolSpecification{Name: aws.String(t.Function.Name), InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(schema)}}
		if t.Function.Description != "" {
			spec.Description = aws.String(t.Function.Description)
		}
		spec.Strict = t.Function.Strict
		tc.Tools = append(tc.Tools, &types.ToolMemberToolSpec{Value: spec})
	}
	if len(req.ToolChoice) == 0 {
		return tc, nil
	}
	var choice any
	if err := json.Unmarshal(req.ToolChoice, &choice); err != nil {
		return nil, openai.InvalidRequest("tool_choice", "tool_choice is not valid JSON: %v", err)
	}
	switch v := choice.(type) {
	case string:
		switch v {
		case "auto":
			tc.ToolChoice = &types.ToolChoiceMemberAuto{}
		case "required":
			tc.ToolChoice = &types.ToolChoiceMemberAny{}
		case "none":
			return nil, openai.InvalidRequest("tool_choice", "tool_choice 'none' has no Bedrock equivalent; omit the tools instead.")
		default:
			return nil, openai.InvalidRequest("tool_choice", "Invalid tool_choice %q; use 'auto', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}.", v)
		}
	case map[string]any:
		if typ, _ := v["type"].(string); typ != "" && typ != "function" {
			return nil, openai.InvalidRequest("tool_choice.type", "tool_choice type %q is not supported: Bedrock can only force one named function ('function'), any tool ('required') or let the model choose ('auto').", typ)
		}
		fn, _ := v["function"].(map[string]any)
		name, _ := fn["name"].(string)
		if name == "" {
			return nil, openai.InvalidRequest("tool_choice.function.name", "tool_choice must name a function.")
		}
		tc.ToolChoice = &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String(name)}}
	default:
		return nil, openai.InvalidRequest("tool_choice", "tool_choice must be a string or an object.")
	}
	return tc, nil
}

func outputConfig(rf *openai.ResponseFormat) (*types.OutputConfig, *openai.Error) {
	switch rf.Type {
	case "text", "":
		return nil, nil
	case "json_schema":
		if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
			return nil, openai.InvalidRequest("response_format.json_schema.schema", "A json_schema response format needs a schema.")
		}
		def := types.JsonSchemaDefinition{Schema: aws.String(string(rf.JSONSchema.Schema))}
		if rf.JSONSchema.Name != "" {
			def.Name = aws.String(rf.JSONSchema.Name)
		}
		if rf.JSONSchema.Description != "" {
			def.Description = aws.String(rf.JSONSchema.Description)
		}
		return &types.OutputConfig{TextFormat: &types.OutputFormat{
			Type:      types.OutputFormatTypeJsonSchema,
			Structure: &types.OutputFormatStructureMemberJsonSchema{Value: def},
		}}, nil
	case "json_object":
		// Bedrock has no schema-free JSON mode; an open object schema asks for the same.
		return &types.OutputConfig{TextFormat: &types.OutputFormat{
			Type: types.OutputFormatTypeJsonSchema,
			Structure: &types.OutputFormatStructureMemberJsonSchema{Value: types.JsonSchemaDefinition{
				Name: aws.String("json_object"), Schema: aws.String(`{"type":"object"}`),
			}},
		}}, nil
	}
	return nil, openai.InvalidRequest("response_format.type", "Invalid response_format type %q; use 'text', 'json_object' or 'json_schema'.", rf.Type)
}
