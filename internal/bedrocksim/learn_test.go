package bedrocksim

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const structuredSchema = `{"type":"object","properties":{
  "id":{"type":"string","format":"uuid"},
  "when":{"type":"string","format":"date-time"},
  "score":{"type":"number","minimum":1,"maximum":5},
  "tags":{"type":"array","items":{"type":"string","maxLength":4},"minItems":3,"maxItems":3},
  "owner":{"$ref":"#/$defs/person"},
  "note":{"anyOf":[{"type":"null"},{"type":"string","minLength":12}]},
  "kind":{"const":"report"}},
 "required":["id","when","score","tags","owner","note","kind"],"additionalProperties":false,
 "$defs":{"person":{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","exclusiveMinimum":17,"maximum":99}},"required":["name","age"],"additionalProperties":false}}}`

func jsonSchemaOutput(schema string) *types.OutputConfig {
	return &types.OutputConfig{TextFormat: &types.OutputFormat{
		Type:      types.OutputFormatTypeJsonSchema,
		Structure: &types.OutputFormatStructureMemberJsonSchema{Value: types.JsonSchemaDefinition{Name: aws.String("x"), Schema: aws.String(schema)}},
	}}
}

func TestStructuredOutputFollowsTheSchema(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	var schemaDoc any
	_ = json.Unmarshal([]byte(structuredSchema), &schemaDoc)
	c := jsonschema.NewCompiler()
	if err := c.AddResource("s.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	c.AssertFormat()
	validator, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, prompt := range []string{"one", "two", "three", "four"} {
		in := converseInput(sonnet, 1000, userText(prompt))
		in.OutputConfig = jsonSchemaOutput(structuredSchema)
		out, err := client.Converse(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		text := outputText(t, out)
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		if err != nil {
			t.Fatalf("%q is not JSON", text)
		}
		if err := validator.Validate(doc); err != nil {
			t.Fatalf("%s does not follow the schema: %v", text, err)
		}
		if got := int(aws.ToInt32(out.Usage.OutputTokens)); got != (len(text)+3)/4 {
			t.Errorf("output tokens %d for %d bytes of JSON", got, len(text))
		}
		if r := streamWhole(t, client, streamInput(in)); r.text != text {
			t.Fatalf("streamed %q, whole %q", r.text, text)
		}
	}

	// json_object arrives as an open object schema: the answer is an object.
	in := converseInput(nova, 1000, userText("anything"))
	in.OutputConfig = jsonSchemaOutput(`{"type":"object"}`)
	out, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(outputText(t, out)), &obj); err != nil {
		t.Fatalf("json_object answer %q: %v", outputText(t, out), err)
	}
	// Too few tokens cut the JSON off, as a model's would be.
	in = converseInput(sonnet, 5, userText("short"))
	in.OutputConfig = jsonSchemaOutput(structuredSchema)
	if out, err = client.Converse(ctx, in); err != nil || out.StopReason != types.StopReasonMaxTokens || json.Valid([]byte(outputText(t, out))) {
		t.Fatalf("cut off: %v %s %q", err, out.StopReason, outputText(t, out))
	}
}

func TestToolChoiceForcesACall(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	spec := func(name string) types.Tool {
		return &types.ToolMemberToolSpec{Value: types.ToolSpecification{Name: aws.String(name),
			InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "object", "properties": map[string]any{"q": map[string]any{"type": "string"}}})}}}
	}
	for _, tc := range []struct {
		choice types.ToolChoice
		want   string
	}{
		{&types.ToolChoiceMemberAny{}, "first"},
		{&types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String("second")}}, "second"},
		{&types.ToolChoiceMemberAuto{}, ""},
		{nil, ""},
	} {
		in := converseInput(sonnet, 100, userText("hello"))
		in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{spec("first"), spec("second")}, ToolChoice: tc.choice}
		out, err := client.Converse(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		msg := out.Output.(*types.ConverseOutputMemberMessage).Value
		use, isTool := msg.Content[0].(*types.ContentBlockMemberToolUse)
		switch {
		case tc.want == "" && (isTool || out.StopReason != types.StopReasonEndTurn):
			t.Errorf("%T: a tool call without being forced", tc.choice)
		case tc.want != "" && (!isTool || aws.ToString(use.Value.Name) != tc.want || out.StopReason != types.StopReasonToolUse):
			t.Errorf("%T: %+v, want a call of %s", tc.choice, msg.Content[0], tc.want)
		}
	}
}

func TestServiceTiersPerModel(t *testing.T) {
	s, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	const oss = "openai.gpt-oss-120b-1:0"
	for _, tc := range []struct {
		model, tier string
		ok          bool
	}{
		{oss, "flex", true}, {oss, "priority", true}, {oss, "default", true}, {oss, "reserved", false},
		{sonnet, "flex", false}, {sonnet, "default", true},
	} {
		in := converseInput(tc.model, 50, userText("hi"))
		in.ServiceTier = &types.ServiceTier{Type: types.ServiceTierType(tc.tier)}
		out, err := client.Converse(ctx, in)
		switch {
		case tc.ok && (err != nil || out.ServiceTier == nil || string(out.ServiceTier.Type) != tc.tier):
			t.Errorf("%s at %s: %v %+v", tc.model, tc.tier, err, out)
		case !tc.ok && errorCode(err) != "ValidationException":
			t.Errorf("%s at %s: %v, want ValidationException", tc.model, tc.tier, err)
		}
		if !tc.ok {
			continue
		}
		r := streamWhole(t, client, streamInput(in))
		if r.err != nil || r.tier == nil || string(r.tier.Type) != tc.tier {
			t.Errorf("%s streamed at %s: tier %+v, usage %+v, events %v", tc.model, tc.tier, r.tier, r.usage, r.events)
		}
	}
	if got := s.Stats().Model(DefaultAccountID, oss).ServiceTiers; got["flex"] < 2 || got["priority"] < 2 || got["default"] < 2 {
		t.Errorf("tiers counted %v", got)
	}
}

func TestPromptCacheReadsWritesAndCharges(t *testing.T) {
	s, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	system := strings.Repeat("abcd", 1100) // 1,100 tokens, over Sonnet's 1,024
	in := func(question string, points ...types.SystemContentBlock) *types.TokenUsage {
		t.Helper()
		req := converseInput(sonnet, 10, userText(question))
		req.System = append([]types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: system}}, points...)
		out, err := client.Converse(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return out.Usage
	}
	point := &types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}}
	u := in("one?", point)
	if aws.ToInt32(u.CacheWriteInputTokens) != 1100 || aws.ToInt32(u.CacheReadInputTokens) != 0 {
		t.Fatalf("first: %+v", u)
	}
	u = in("two?", point)
	if aws.ToInt32(u.CacheReadInputTokens) != 1100 || aws.ToInt32(u.CacheWriteInputTokens) != 0 || aws.ToInt32(u.InputTokens) != 1 {
		t.Fatalf("second: read %d write %d input %d", aws.ToInt32(u.CacheReadInputTokens), aws.ToInt32(u.CacheWriteInputTokens), aws.ToInt32(u.InputTokens))
	}
	if aws.ToInt32(u.TotalTokens) != 1100+1+aws.ToInt32(u.OutputTokens) {
		t.Fatalf("total %d", aws.ToInt32(u.TotalTokens))
	}
	u = in("three?") // no cache point: nothing read or written
	if aws.ToInt32(u.CacheReadInputTokens) != 0 || aws.ToInt32(u.InputTokens) != 1102 {
		t.Fatalf("without a point: %+v", u)
	}
	tot := s.Stats().Model(DefaultAccountID, sonnet).Totals
	if tot.CacheRead != 1100 || tot.CacheWrite != 1100 || tot.ChargedTokens != tot.InputTokens+tot.CacheWrite+5*tot.OutputTokens {
		t.Fatalf("totals %+v: cache reads must not be charged", tot)
	}

	// Models without a cache refuse cache points; Nova refuses them after tools.
	req := converseInput("anthropic.claude-3-haiku-20240307-v1:0", 10, userText("hi"))
	req.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "s"}, point}
	if _, err := client.Converse(ctx, req); errorCode(err) != "ValidationException" {
		t.Fatalf("cache point on Claude 3 Haiku: %v", err)
	}
	req = converseInput(nova, 10, userText("hi"))
	req.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{
		&types.ToolMemberToolSpec{Value: types.ToolSpecification{Name: aws.String("f"), InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "object"})}}},
		&types.ToolMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}},
	}}
	if _, err := client.Converse(ctx, req); errorCode(err) != "ValidationException" {
		t.Fatalf("cache point after Nova's tools: %v", err)
	}
}
