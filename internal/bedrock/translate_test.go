package bedrock_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/openai"
)

var sonnet = config.Model{BedrockModelID: "us.anthropic.claude-sonnet-4-20250514-v1:0", DefaultMaxTokens: 256, MaxOutputTokens: 4096, Burndown: 5}

// png1x1 is a 1×1 PNG, base64.
const png1x1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

func translate(t *testing.T, body string, model config.Model) (*bedrockruntime.ConverseInput, *openai.Error) {
	t.Helper()
	req, oerr := openai.DecodeChatCompletionRequest(strings.NewReader(body))
	if oerr != nil {
		return nil, oerr
	}
	return bedrock.ConverseRequest(req, model)
}

func user(content string) string {
	return `{"role":"user","content":` + content + `}`
}

func request(extra string, messages ...string) string {
	if len(messages) == 0 {
		messages = []string{user(`"hi"`)}
	}
	body := `{"model":"claude-sonnet","messages":[` + strings.Join(messages, ",") + `]`
	if extra != "" {
		body += "," + extra
	}
	return body + "}"
}

func text(b types.ContentBlock) string {
	if t, ok := b.(*types.ContentBlockMemberText); ok {
		return t.Value
	}
	return ""
}

func docJSON(t *testing.T, d interface{ MarshalSmithyDocument() ([]byte, error) }) string {
	t.Helper()
	raw, err := d.MarshalSmithyDocument()
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// Requests sluice can translate, and what Bedrock gets for them.
func TestConverseRequestMapping(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		check func(t *testing.T, in *bedrockruntime.ConverseInput)
	}{
		{"system and developer become system blocks", request("",
			`{"role":"system","content":"Be terse."}`, `{"role":"developer","content":[{"type":"text","text":"Use SI units."}]}`, user(`"hi"`)),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				if len(in.System) != 2 || in.System[1].(*types.SystemContentBlockMemberText).Value != "Use SI units." {
					t.Fatalf("system = %#v", in.System)
				}
				if len(in.Messages) != 1 || text(in.Messages[0].Content[0]) != "hi" {
					t.Fatalf("messages = %#v", in.Messages)
				}
			}},
		{"multi-part text and a data URL image", request("",
			user(`[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,`+png1x1+`","detail":"high"}}]`)),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				blocks := in.Messages[0].Content
				img, ok := blocks[1].(*types.ContentBlockMemberImage)
				if len(blocks) != 2 || text(blocks[0]) != "look" || !ok || img.Value.Format != types.ImageFormatPng {
					t.Fatalf("blocks = %#v", blocks)
				}
				if b := img.Value.Source.(*types.ImageSourceMemberBytes).Value; !bytes.HasPrefix(b, []byte("\x89PNG")) {
					t.Fatalf("image bytes %q are not the decoded PNG", b[:8])
				}
			}},
		{"consecutive turns of one role merge", request("", user(`"one"`), user(`"two"`)),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				if len(in.Messages) != 1 || len(in.Messages[0].Content) != 2 {
					t.Fatalf("messages = %#v", in.Messages)
				}
			}},
		{"tool calls and results", request(`"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true}}],"tool_choice":"required"`,
			user(`"weather?"`),
			`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]}`,
			`{"role":"tool","tool_call_id":"call_1","content":"21 C"}`,
			user(`"and tomorrow?"`)),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				if len(in.Messages) != 3 {
					t.Fatalf("%d messages, want user, assistant, user (tool result + text)", len(in.Messages))
				}
				use := in.Messages[1].Content[0].(*types.ContentBlockMemberToolUse).Value
				if aws.ToString(use.ToolUseId) != "call_1" || aws.ToString(use.Name) != "get_weather" || docJSON(t, use.Input) != `{"city":"Oslo"}` {
					t.Fatalf("toolUse = %#v", use)
				}
				res := in.Messages[2].Content[0].(*types.ContentBlockMemberToolResult).Value
				if in.Messages[2].Role != types.ConversationRoleUser || aws.ToString(res.ToolUseId) != "call_1" || len(in.Messages[2].Content) != 2 {
					t.Fatalf("tool result turn = %#v", in.Messages[2])
				}
				spec := in.ToolConfig.Tools[0].(*types.ToolMemberToolSpec).Value
				if aws.ToString(spec.Name) != "get_weather" || aws.ToString(spec.Description) != "Weather" || !aws.ToBool(spec.Strict) {
					t.Fatalf("toolSpec = %#v", spec)
				}
				if _, ok := in.ToolConfig.ToolChoice.(*types.ToolChoiceMemberAny); !ok {
					t.Fatalf("tool_choice required → %#v, want any", in.ToolConfig.ToolChoice)
				}
			}},
		{"tool_choice auto", request(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto"`),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				if _, ok := in.ToolConfig.ToolChoice.(*types.ToolChoiceMemberAuto); !ok {
					t.Fatalf("tool_choice = %#v", in.ToolConfig.ToolChoice)
				}
			}},
		{"tool_choice names a function", request(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}}`),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				if c, ok := in.ToolConfig.ToolChoice.(*types.ToolChoiceMemberTool); !ok || aws.ToString(c.Value.Name) != "f" {
					t.Fatalf("tool_choice = %#v", in.ToolConfig.ToolChoice)
				}
			}},
		{"json_schema", request(`"response_format":{"type":"json_schema","json_schema":{"name":"city","schema":{"type":"object"},"strict":true}}`),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				def := in.OutputConfig.TextFormat.Structure.(*types.OutputFormatStructureMemberJsonSchema).Value
				if in.OutputConfig.TextFormat.Type != types.OutputFormatTypeJsonSchema || aws.ToString(def.Name) != "city" || aws.ToString(def.Schema) != `{"type":"object"}` {
					t.Fatalf("outputConfig = %#v", in.OutputConfig)
				}
			}},
		{"json_object is an open object schema", request(`"response_format":{"type":"json_object"}`),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				def := in.OutputConfig.TextFormat.Structure.(*types.OutputFormatStructureMemberJsonSchema).Value
				if aws.ToString(def.Schema) != `{"type":"object"}` {
					t.Fatalf("schema = %q", aws.ToString(def.Schema))
				}
			}},
		{"inference settings", request(`"stop":["END","",";"],"temperature":0.5,"top_p":0.9,"max_tokens":100,"max_completion_tokens":50`),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				ic := in.InferenceConfig
				if strings.Join(ic.StopSequences, "|") != "END|;" || aws.ToFloat32(ic.Temperature) != 0.5 || aws.ToFloat32(ic.TopP) != 0.9 || aws.ToInt32(ic.MaxTokens) != 50 {
					t.Fatalf("inferenceConfig = %+v (max_completion_tokens wins over max_tokens; empty stops are dropped)", ic)
				}
			}},
		{"stop as one string", request(`"stop":"END"`),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				if strings.Join(in.InferenceConfig.StopSequences, "|") != "END" {
					t.Fatalf("stop = %v", in.InferenceConfig.StopSequences)
				}
			}},
		{"maxTokens is always bounded", request(""),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				if aws.ToInt32(in.InferenceConfig.MaxTokens) != 256 {
					t.Fatalf("maxTokens = %d, want the alias default 256", aws.ToInt32(in.InferenceConfig.MaxTokens))
				}
			}},
		{"reasoning_effort minimal is Bedrock's low", request(`"reasoning_effort":"minimal"`),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				if aws.ToString(in.OutputConfig.Effort) != "low" {
					t.Fatalf("effort = %v", in.OutputConfig.Effort)
				}
			}},
		{"reasoning_effort high beside json_schema", request(`"reasoning_effort":"high","response_format":{"type":"json_object"}`),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				if aws.ToString(in.OutputConfig.Effort) != "high" || in.OutputConfig.TextFormat == nil {
					t.Fatalf("outputConfig = %#v", in.OutputConfig)
				}
			}},
		{"reasoning_effort none sends no effort", request(`"reasoning_effort":"none"`),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				if in.OutputConfig != nil {
					t.Fatalf("outputConfig = %#v", in.OutputConfig)
				}
			}},
		{"metadata and user tag the invocation log", request(`"metadata":{"team":"search","run":"42"},"user":"user-7"`),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				md := in.RequestMetadata
				if len(md) != 3 || md["team"] != "search" || md["run"] != "42" || md["user"] != "user-7" {
					t.Fatalf("requestMetadata = %v", md)
				}
			}},
		{"accepted and ignored: seed, store, n=1, logprobs false, zero penalties, default tier, parallel tool calls", request(`"seed":7,"store":true,"n":1,"logprobs":false,"presence_penalty":0,"frequency_penalty":0,"service_tier":"auto","parallel_tool_calls":true`),
			func(t *testing.T, in *bedrockruntime.ConverseInput) {
				if in.ServiceTier != nil || in.RequestMetadata != nil {
					t.Fatalf("input = %#v", in)
				}
			}},
		{"parallel_tool_calls false without tools", request(`"parallel_tool_calls":false`), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, oerr := translate(t, tc.body, sonnet)
			if oerr != nil {
				t.Fatalf("refused: %v", oerr)
			}
			if aws.ToString(in.ModelId) != sonnet.BedrockModelID {
				t.Fatalf("modelId = %q", aws.ToString(in.ModelId))
			}
			if tc.check != nil {
				tc.check(t, in)
			}
		})
	}
}

// What Bedrock cannot honour is refused with a 400 naming the parameter.
func TestConverseRequestRefusals(t *testing.T) {
	tools := `"tools":[{"type":"function","function":{"name":"f"}}]`
	many := make([]string, 17)
	for i := range many {
		many[i] = `"k` + string(rune('a'+i)) + `":"v"`
	}
	cases := []struct {
		name, body, param string
		model             config.Model
	}{
		{"n above 1", request(`"n":2`), "n", sonnet},
		{"logprobs", request(`"logprobs":true`), "logprobs", sonnet},
		{"top_logprobs", request(`"top_logprobs":2`), "top_logprobs", sonnet},
		{"presence_penalty", request(`"presence_penalty":0.5`), "presence_penalty", sonnet},
		{"frequency_penalty", request(`"frequency_penalty":-0.5`), "frequency_penalty", sonnet},
		{"logit_bias", request(`"logit_bias":{"50256":-100}`), "logit_bias", sonnet},
		{"temperature above 1", request(`"temperature":1.5`), "temperature", sonnet},
		{"max_completion_tokens above the model's", request(`"max_completion_tokens":5000`), "max_completion_tokens", sonnet},
		{"max_tokens above the model's", request(`"max_tokens":5000`), "max_tokens", sonnet},
		{"parallel_tool_calls false", request(tools + `,"parallel_tool_calls":false`), "parallel_tool_calls", sonnet},
		{"service_tier priority", request(`"service_tier":"priority"`), "service_tier", sonnet},
		{"unknown reasoning_effort", request(`"reasoning_effort":"extreme"`), "reasoning_effort", sonnet},
		{"tool_choice none", request(tools + `,"tool_choice":"none"`), "tool_choice", sonnet},
		{"tool_choice without tools", request(`"tool_choice":"required"`), "tool_choice", sonnet},
		{"tool_choice unnamed function", request(tools + `,"tool_choice":{"type":"function"}`), "tool_choice.function.name", sonnet},
		{"tool of another type", request(`"tools":[{"type":"code_interpreter","function":{"name":"f"}}]`), "tools[0].type", sonnet},
		{"tool without a name", request(`"tools":[{"type":"function","function":{"name":""}}]`), "tools[0].function.name", sonnet},
		{"tool arguments not JSON", request("", user(`"hi"`), `{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]}`), "messages[1].tool_calls[0].function.arguments", sonnet},
		{"tool history without tools", request("", user(`"hi"`), `{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}`, `{"role":"tool","tool_call_id":"c","content":"ok"}`), "tools", sonnet},
		{"json_schema without a schema", request(`"response_format":{"type":"json_schema","json_schema":{"name":"x"}}`), "response_format.json_schema.schema", sonnet},
		{"unknown response_format", request(`"response_format":{"type":"yaml"}`), "response_format.type", sonnet},
		{"remote image", request("", user(`[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]`)), "messages[0].content[0].image_url.url", sonnet},
		{"image not base64", request("", user(`[{"type":"image_url","image_url":{"url":"data:image/png;base64,%%%"}}]`)), "messages[0].content[0].image_url.url", sonnet},
		{"image type Bedrock lacks", request("", user(`[{"type":"image_url","image_url":{"url":"data:image/tiff;base64,AAAA"}}]`)), "messages[0].content[0].image_url.url", sonnet},
		{"empty user message", request("", user(`[]`)), "messages[0].content", sonnet},
		{"only system", request("", `{"role":"system","content":"hi"}`), "messages", sonnet},
		{"assistant first", request("", `{"role":"assistant","content":"hi"}`, user(`"hi"`)), "messages", sonnet},
		{"empty system message", request("", `{"role":"system","content":""}`, user(`"hi"`)), "messages[0].content", sonnet},
		{"metadata value not a string", request(`"metadata":{"n":1}`), "metadata.n", sonnet},
		{"metadata Bedrock would refuse", request(`"metadata":{"q":"what?"}`), "metadata.q", sonnet},
		{"more than 16 metadata entries", request(`"metadata":{` + strings.Join(many, ",") + `}`), "metadata", sonnet},
		{"an embedding model", request(""), "model", config.Model{BedrockModelID: "amazon.titan-embed-text-v2:0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, oerr := translate(t, tc.body, tc.model)
			if oerr == nil {
				t.Fatalf("accepted: %#v", in)
			}
			if oerr.Status != 400 || oerr.Type != "invalid_request_error" || oerr.Message == "" {
				t.Fatalf("error = %+v, want a 400 invalid_request_error", oerr)
			}
			if oerr.Param == nil || *oerr.Param != tc.param {
				t.Fatalf("param = %v, want %q (%s)", oerr.Param, tc.param, oerr.Message)
			}
		})
	}
}

func TestStreamInputCarriesTheWholeRequest(t *testing.T) {
	in, oerr := translate(t, request(`"tools":[{"type":"function","function":{"name":"f"}}],"reasoning_effort":"low","user":"u","temperature":0.2`), sonnet)
	if oerr != nil {
		t.Fatal(oerr)
	}
	s := bedrock.StreamInput(in)
	if s.ModelId != in.ModelId || s.InferenceConfig != in.InferenceConfig || s.ToolConfig != in.ToolConfig || s.OutputConfig != in.OutputConfig ||
		len(s.Messages) != len(in.Messages) || s.RequestMetadata["user"] != "u" {
		t.Fatalf("stream input %#v differs from %#v", s, in)
	}
}
