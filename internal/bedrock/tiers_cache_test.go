package bedrock_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/config"
)

var oss = config.Model{BedrockModelID: "openai.gpt-oss-120b-1:0", DefaultMaxTokens: 256, MaxOutputTokens: 4096, Burndown: 1,
	ServiceTiers: config.DefaultServiceTiers("openai.gpt-oss-120b-1:0")}

func TestServiceTierMapping(t *testing.T) {
	priorityAlias := oss
	priorityAlias.ServiceTier = "priority"
	for _, tc := range []struct {
		name  string
		extra string
		model config.Model
		want  string // "" for none sent
		param string // refused
	}{
		{"flex where offered", `"service_tier":"flex"`, oss, "flex", ""},
		{"priority where offered", `"service_tier":"priority"`, oss, "priority", ""},
		{"default sends none", `"service_tier":"default"`, oss, "", ""},
		{"auto takes the alias's tier", `"service_tier":"auto"`, priorityAlias, "priority", ""},
		{"none takes the alias's tier", ``, priorityAlias, "priority", ""},
		{"an explicit default beats the alias's", `"service_tier":"default"`, priorityAlias, "", ""},
		{"flex on Claude", `"service_tier":"flex"`, sonnet, "", "service_tier"},
		{"OpenAI's scale tier", `"service_tier":"scale"`, oss, "", "service_tier"},
	} {
		in, oerr := translate(t, request(tc.extra), tc.model)
		if tc.param != "" {
			if oerr == nil || *oerr.Param != tc.param {
				t.Errorf("%s: %v, want refused at %s", tc.name, oerr, tc.param)
			}
			continue
		}
		if oerr != nil {
			t.Errorf("%s: %v", tc.name, oerr)
			continue
		}
		got := ""
		if in.ServiceTier != nil {
			got = string(in.ServiceTier.Type)
		}
		if got != tc.want {
			t.Errorf("%s: serviceTier %q, want %q", tc.name, got, tc.want)
		}
		if s := bedrock.StreamInput(in).ServiceTier; s != in.ServiceTier {
			t.Errorf("%s: the stream input lost the tier", tc.name)
		}
	}
}

func TestServiceTierEchoed(t *testing.T) {
	out := &bedrockruntime.ConverseOutput{
		Output:      &types.ConverseOutputMemberMessage{Value: types.Message{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}},
		StopReason:  types.StopReasonEndTurn,
		ServiceTier: &types.ServiceTier{Type: types.ServiceTierTypeFlex},
		Usage:       &types.TokenUsage{InputTokens: aws.Int32(10), OutputTokens: aws.Int32(2), CacheReadInputTokens: aws.Int32(1500), CacheWriteInputTokens: aws.Int32(30)},
	}
	cc := bedrock.ChatCompletion(out, "chatcmpl-1", "oss", 1)
	if cc.ServiceTier != "flex" {
		t.Fatalf("service_tier %q", cc.ServiceTier)
	}
	if u := cc.Usage; u.PromptTokens != 1540 || u.PromptTokensDetails.CachedTokens != 1500 || u.TotalTokens != 1542 {
		t.Fatalf("usage %+v", u)
	}
	out.ServiceTier = nil
	if cc := bedrock.ChatCompletion(out, "chatcmpl-1", "oss", 1); cc.ServiceTier != "default" {
		t.Fatalf("no tier reported: service_tier %q", cc.ServiceTier)
	}
}

// cachePoints lists where a request carries cache points: "tools",
// "system", or the index of the Bedrock message they end.
func cachePoints(in *bedrockruntime.ConverseInput) []string {
	var at []string
	if in.ToolConfig != nil {
		for _, t := range in.ToolConfig.Tools {
			if _, ok := t.(*types.ToolMemberCachePoint); ok {
				at = append(at, "tools")
			}
		}
	}
	for _, b := range in.System {
		if _, ok := b.(*types.SystemContentBlockMemberCachePoint); ok {
			at = append(at, "system")
		}
	}
	for i, m := range in.Messages {
		for _, b := range m.Content {
			if _, ok := b.(*types.ContentBlockMemberCachePoint); ok {
				at = append(at, string(rune('0'+i)))
			}
		}
	}
	return at
}

func TestPromptCachePoints(t *testing.T) {
	long := strings.Repeat("word ", 1200) // ~1,500 tokens at 4 bytes a token
	auto := sonnet
	auto.PromptCaching = config.PromptCachingAuto
	sys := `{"role":"system","content":"` + long + `"}`
	conversation := []string{sys, user(`"q1"`), `{"role":"assistant","content":"a1"}`, user(`"q2"`), `{"role":"assistant","content":"a2"}`, user(`"q3"`)}
	bigTool := `"tools":[{"type":"function","function":{"name":"f","description":"` + long + `"}}]`
	haiku3 := config.Model{BedrockModelID: "anthropic.claude-3-haiku-20240307-v1:0", DefaultMaxTokens: 256, MaxOutputTokens: 4096, Burndown: 1}
	breakpoint := func(text string) string {
		return user(`[{"type":"text","text":"` + text + `","prompt_cache_breakpoint":{"mode":"explicit"}}]`)
	}
	for _, tc := range []struct {
		name  string
		body  string
		model config.Model
		want  string
	}{
		{"off by default", request("", conversation...), sonnet, ""},
		{"system and the two last stable turns", request("", conversation...), auto, "system 1 3"},
		{"tools first", request(bigTool, conversation...), auto, "tools system 1 3"},
		{"a short prefix is not worth a point", request("", user(`"q1"`), `{"role":"assistant","content":"a1"}`, user(`"q2"`)), auto, ""},
		{"one turn: the system prompt only", request("", sys, user(`"q1"`)), auto, "system"},
		{"explicit mode keeps the caller's points only", request(`"prompt_cache_options":{"mode":"explicit"}`, sys, breakpoint("q1")), auto, "0"},
		{"the caller's points count toward four", request("", append(conversation[:5:5], breakpoint("q3"))...), auto, "system 1 3 4"},
		{"at most four, the latest kept", request("", breakpoint("1"), `{"role":"assistant","content":"a"}`, breakpoint("2"), `{"role":"assistant","content":"a"}`, breakpoint("3"), `{"role":"assistant","content":"a"}`, breakpoint("4"), `{"role":"assistant","content":"a"}`, breakpoint("5")), auto, "2 4 6 8"},
		{"a model without a cache drops the caller's points", request("", breakpoint("q")), haiku3, ""},
		{"Anthropic's cache_control is a breakpoint too", request("", user(`[{"type":"text","text":"q","cache_control":{"type":"ephemeral"}}]`)), sonnet, "0"},
	} {
		in, oerr := translate(t, tc.body, tc.model)
		if oerr != nil {
			t.Errorf("%s: %v", tc.name, oerr)
			continue
		}
		if got := strings.Join(cachePoints(in), " "); got != tc.want {
			t.Errorf("%s: cache points at %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRefusalAndSafetyIdentifier(t *testing.T) {
	in, oerr := translate(t, request(`"safety_identifier":"h-1","user":"u-1"`, user(`"hi"`), `{"role":"assistant","content":null,"refusal":"I can't."}`, user(`"why?"`)), sonnet)
	if oerr != nil {
		t.Fatal(oerr)
	}
	if got := text(in.Messages[1].Content[0]); got != "I can't." {
		t.Fatalf("the refusal became %q", got)
	}
	if md := in.RequestMetadata; md["safety_identifier"] != "h-1" || md["user"] != "u-1" {
		t.Fatalf("requestMetadata %v", md)
	}
}
