package openai_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var sonnet = config.Model{BedrockModelID: "us.anthropic.claude-sonnet-4-20250514-v1:0", DefaultMaxTokens: 256, MaxOutputTokens: 4096, Burndown: 5}

// chatSeeds are request bodies as clients send them, valid and not.
var chatSeeds = []string{
	`{"model":"claude-sonnet","messages":[{"role":"user","content":"Hello!"}]}`,
	`{"model":"claude-sonnet","messages":[{"role":"system","content":"You are terse."},{"role":"developer","content":[{"type":"text","text":"Use SI units."}]},{"role":"user","content":"hi"}],"max_completion_tokens":100,"temperature":0.2,"top_p":0.9,"stop":["\n\n","END"]}`,
	`{"model":"claude-sonnet","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==","detail":"low"}}]}]}`,
	`{"model":"claude-sonnet","messages":[{"role":"user","content":"Weather in Oslo?"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}}],"tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":true}`,
	`{"model":"claude-sonnet","messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"21 C"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}`,
	`{"model":"claude-sonnet","messages":[{"role":"user","content":"A city as JSON"}],"response_format":{"type":"json_schema","json_schema":{"name":"city","schema":{"type":"object","properties":{"name":{"type":"string"}}},"strict":true}}}`,
	`{"model":"claude-sonnet","messages":[{"role":"user","content":"JSON please"}],"response_format":{"type":"json_object"},"reasoning_effort":"low","seed":42,"user":"user-1","metadata":{"team":"search"}}`,
	`{"model":"claude-sonnet","messages":[{"role":"user","content":"stream"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":50,"stop":"END"}`,
	`{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"n":2,"logprobs":true,"top_logprobs":3,"logit_bias":{"50256":-100},"presence_penalty":1}`,
	`{"model":"claude-sonnet","messages":[{"role":"assistant","content":"first"},{"role":"user","content":""}],"tool_choice":"none","service_tier":"flex"}`,
	`{"model":"claude-sonnet","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}`,
	`{"model":"claude-sonnet","messages":[{"role":"tool","content":"x"}],"temperature":3,"max_tokens":0}`,
	`{"model":"claude-sonnet","messages":"hi"}`,
	`{"model":"claude-sonnet","messages":[]} {}`,
	`{"model":"claude-sonnet","messages":[{"role":"user","content":"hi","name":"ada"},{"role":"assistant","content":"yo","refusal":null,"annotations":[],"audio":null,"function_call":null},{"role":"user","content":[{"type":"text","text":"more","prompt_cache_breakpoint":{"mode":"explicit"}}]}],"safety_identifier":"h","prompt_cache_key":"k","service_tier":"default","verbosity":"low","prompt_cache_options":{"mode":"explicit"}}`,
	`{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"refusal","refusal":"no"}],"audio":{"id":"a"}},{"role":"function","name":"f","content":"x"}],"modalities":["audio"]}`,
	`[1,2]`,
	``,
}

// FuzzDecodeChatCompletionRequest checks that no body makes request parsing
// or translation panic, that every refusal is a 4xx with a message, and that
// a request the api accepts survives being stored: the worker reads the
// stored JSON back and must translate it the same way.
func FuzzDecodeChatCompletionRequest(f *testing.F) {
	for _, s := range chatSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, oerr := openai.DecodeChatCompletionRequest(bytes.NewReader(body))
		if oerr != nil {
			checkRefusal(t, oerr)
			return
		}
		in, terr := bedrock.ConverseRequest(req, sonnet)
		if terr != nil {
			checkRefusal(t, terr)
		}
		stored, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("an accepted request does not marshal: %v", err)
		}
		var again openai.ChatCompletionRequest
		if err := json.Unmarshal(stored, &again); err != nil {
			t.Fatalf("the stored request %s does not read back: %v", stored, err)
		}
		in2, terr2 := bedrock.ConverseRequest(&again, sonnet)
		if (terr == nil) != (terr2 == nil) {
			t.Fatalf("translation before storing: %v; after: %v (stored %s)", terr, terr2, stored)
		}
		if terr == nil && (len(in.Messages) != len(in2.Messages) || len(in.System) != len(in2.System) || !reflect.DeepEqual(in.InferenceConfig, in2.InferenceConfig)) {
			t.Fatalf("translation changed after storing %s", stored)
		}
	})
}

var embeddingSeeds = []string{
	`{"model":"titan-embed","input":"The queue drains steadily."}`,
	`{"model":"titan-embed","input":["alpha","beta"],"dimensions":256,"encoding_format":"base64","user":"u"}`,
	`{"model":"titan-embed","input":[[1,2,3],[4]]}`,
	`{"model":"titan-embed","input":[1,2,3]}`,
	`{"model":"titan-embed","input":["a",""],"encoding_format":"int8"}`,
	`{"model":"titan-embed","input":[]}`,
	`{"model":"titan-embed","input":{"text":"x"}}`,
}

func FuzzDecodeEmbeddingRequest(f *testing.F) {
	for _, s := range embeddingSeeds {
		f.Add([]byte(s))
	}
	titan := config.Model{BedrockModelID: "amazon.titan-embed-text-v2:0"}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, oerr := openai.DecodeEmbeddingRequest(bytes.NewReader(body))
		if oerr != nil {
			checkRefusal(t, oerr)
			return
		}
		calls, terr := bedrock.EmbeddingCalls(req, titan)
		if terr != nil {
			checkRefusal(t, terr)
			return
		}
		if len(calls) != len(req.Input.Texts) {
			t.Fatalf("%d Titan calls for %d texts", len(calls), len(req.Input.Texts))
		}
		stored, _ := json.Marshal(req)
		var again openai.EmbeddingRequest
		if err := json.Unmarshal(stored, &again); err != nil || !reflect.DeepEqual(again.Input.Texts, req.Input.Texts) {
			t.Fatalf("the stored request %s reads back as %+v (%v)", stored, again, err)
		}
	})
}

func checkRefusal(t *testing.T, e *openai.Error) {
	t.Helper()
	if e.Status < 400 || e.Status > 499 || e.Message == "" || e.Type == "" {
		t.Fatalf("refusal %+v is not a 4xx OpenAI error", e)
	}
}
