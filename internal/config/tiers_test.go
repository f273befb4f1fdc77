package config

import (
	"slices"
	"strings"
	"testing"
)

func TestServiceTierAndCachingSettings(t *testing.T) {
	const accounts = "accounts:\n  - {name: a, region: us-east-1, models: {m: {tpm: 1}}}\n"
	cfg, _, err := Parse([]byte("models:\n  m: {bedrock_model_id: us.openai.gpt-oss-120b-1:0, service_tier: priority, batch_service_tier: flex}\n" + accounts))
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Models["m"]; !slices.Equal(m.ServiceTiers, []string{TierPriority, TierFlex}) || !m.OffersTier(TierFlex) || m.ServiceTier != TierPriority {
		t.Fatalf("gpt-oss alias: %+v", m)
	}
	cfg, _, err = Parse([]byte("models:\n  m: {bedrock_model_id: us.anthropic.claude-sonnet-4-20250514-v1:0, prompt_caching: auto}\n" + accounts))
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Models["m"]; m.PromptCacheMinTokens != 1024 || !m.Cache().Tools || m.OffersTier(TierFlex) {
		t.Fatalf("sonnet alias: %+v", m)
	}
	for _, tc := range []struct{ doc, want string }{
		{"m: {bedrock_model_id: us.anthropic.claude-sonnet-4-20250514-v1:0, batch_service_tier: flex}", `batch_service_tier "flex"`},
		{"m: {bedrock_model_id: amazon.nova-lite-v1:0, service_tier: priority}", `service_tier "priority"`},
		{"m: {bedrock_model_id: amazon.nova-pro-v1:0, service_tiers: [reserved]}", `service_tiers: "reserved"`},
		{"m: {bedrock_model_id: anthropic.claude-3-haiku-20240307-v1:0, prompt_caching: auto}", "has no prompt caching"},
		{"m: {bedrock_model_id: amazon.nova-lite-v1:0, prompt_caching: always}", `prompt_caching "always"`},
	} {
		_, _, err := Parse([]byte("models:\n  " + tc.doc + "\n" + accounts))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %s", tc.doc, err, tc.want)
		}
	}
	// A model sluice does not know can declare what it has.
	cfg, _, err = Parse([]byte("models:\n  m: {bedrock_model_id: vendor.new-model-v1:0, service_tiers: [flex], batch_service_tier: flex, prompt_caching: auto, prompt_cache_min_tokens: 512}\n" + accounts))
	if err != nil || cfg.Models["m"].Cache().MinTokens != 512 {
		t.Fatalf("declared tiers and cache: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	for id, want := range map[string]int{
		"us.anthropic.claude-sonnet-4-20250514-v1:0":      1024,
		"us.anthropic.claude-3-7-sonnet-20250219-v1:0":    1024,
		"anthropic.claude-3-5-haiku-20241022-v1:0":        2048,
		"global.anthropic.claude-haiku-4-5-20251001-v1:0": 4096,
		"us.amazon.nova-lite-v1:0":                        1000,
		"anthropic.claude-3-haiku-20240307-v1:0":          0,
		"meta.llama3-70b-instruct-v1:0":                   0,
	} {
		if got := DefaultPromptCache(id).MinTokens; got != want {
			t.Errorf("%s: min tokens %d, want %d", id, got, want)
		}
	}
	if DefaultPromptCache("us.amazon.nova-pro-v1:0").Tools {
		t.Error("Nova caches tools")
	}
	for _, id := range []string{"openai.gpt-oss-20b-1:0", "us.amazon.nova-premier-v1:0", "qwen.qwen3-32b-v1:0", "deepseek.v3-v1:0"} {
		if len(DefaultServiceTiers(id)) != 2 {
			t.Errorf("%s has no flex/priority tiers", id)
		}
	}
	if DefaultServiceTiers("us.anthropic.claude-sonnet-4-20250514-v1:0") != nil {
		t.Error("Claude has flex")
	}
}

func TestLiteLLMServiceTierAndCaching(t *testing.T) {
	cfg, warnings, err := FromLiteLLM([]byte(`
model_list:
  - model_name: oss
    litellm_params:
      model: bedrock/openai.gpt-oss-120b-1:0
      aws_region_name: us-east-1
      tpm: 1000
      service_tier: flex
  - model_name: sonnet
    litellm_params:
      model: bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0
      aws_region_name: us-east-1
      tpm: 1000
      cache_control_injection_points: [{location: message, role: system}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Models["oss"].ServiceTier != TierFlex || cfg.Models["sonnet"].PromptCaching != PromptCachingAuto {
		t.Fatalf("models %+v", cfg.Models)
	}
	if !slices.ContainsFunc(warnings, func(w string) bool {
		return strings.Contains(w, "cache_control_injection_points: sluice uses prompt_caching: auto")
	}) {
		t.Fatalf("warnings %q", warnings)
	}
}
