package config

import (
	"fmt"
	"slices"
	"strings"
)

// Bedrock service tiers (serviceTier.type in Converse).
const (
	TierDefault  = "default"
	TierFlex     = "flex"
	TierPriority = "priority"
)

// tieredModels are the model families that offer the priority and flex
// tiers besides the default one (Bedrock user guide, "Service tiers for
// optimizing performance and cost", service-tiers-inference.html, as of
// 2026-11; the launch named gpt-oss, DeepSeek V3.1, Qwen3, Nova Pro and Nova
// Premier, Nova 2 Lite followed). Claude models have no flex or priority
// tier on Bedrock. Matched as substrings of the model id, so that inference
// profiles (us., global.) and ARNs match too.
var tieredModels = []string{
	"openai.gpt-oss", "deepseek.v3", "qwen.qwen3", "amazon.nova-pro", "amazon.nova-premier", "amazon.nova-2-lite",
}

// DefaultServiceTiers is the tiers a Bedrock model offers besides default,
// by model id.
func DefaultServiceTiers(bedrockModelID string) []string {
	id := strings.ToLower(bedrockModelID)
	for _, m := range tieredModels {
		if strings.Contains(id, m) {
			return []string{TierPriority, TierFlex}
		}
	}
	return nil
}

// OffersTier reports whether the alias's model serves tier.
func (m Model) OffersTier(tier string) bool {
	return tier == TierDefault || slices.Contains(m.ServiceTiers, tier)
}

// PromptCache is what a model's prompt cache needs (Bedrock user guide,
// "Prompt caching for faster model inference", prompt-caching.html).
type PromptCache struct {
	// MinTokens is the minimum prefix length of a cache checkpoint: a
	// checkpoint before it is accepted but caches nothing. 0: the model has
	// no prompt caching.
	MinTokens int
	// Tools tells whether the tool definitions can be cached (Claude), or
	// only system and messages (Nova).
	Tools bool
}

// MaxCachePoints is how many cache checkpoints one request may carry.
const MaxCachePoints = 4

// DefaultPromptCache is the prompt cache of a Bedrock model, by model id:
// Claude 3.7 Sonnet and the Claude 4 family (1,024 tokens per checkpoint;
// Claude Haiku 4.5 and Opus 4.5 4,096), Claude 3.5 Haiku (2,048), and the
// Nova models (1,000; system and messages only). Others have none.
func DefaultPromptCache(bedrockModelID string) PromptCache {
	id := strings.ToLower(bedrockModelID)
	switch {
	case strings.Contains(id, "claude-haiku-4-5"), strings.Contains(id, "claude-opus-4-5"):
		return PromptCache{MinTokens: 4096, Tools: true}
	case strings.Contains(id, "claude-3-5-haiku"):
		return PromptCache{MinTokens: 2048, Tools: true}
	case strings.Contains(id, "claude-3-7-sonnet"), strings.Contains(id, "claude-sonnet-4"), strings.Contains(id, "claude-opus-4"):
		return PromptCache{MinTokens: 1024, Tools: true}
	case strings.Contains(id, "amazon.nova-"):
		return PromptCache{MinTokens: 1000}
	}
	return PromptCache{}
}

// Prompt caching settings of an alias.
const (
	PromptCachingOff  = "off"
	PromptCachingAuto = "auto"
)

// validateTiersAndCaching fills the defaults of the service tier and prompt
// caching settings and checks them against what the model offers.
func (m *Model) validateTiersAndCaching(alias string) error {
	if m.ServiceTiers == nil {
		m.ServiceTiers = DefaultServiceTiers(m.BedrockModelID)
	}
	for _, t := range m.ServiceTiers {
		if t != TierFlex && t != TierPriority {
			return fmt.Errorf("config: model %q: service_tiers: %q; list the tiers beyond default the model offers: %q, %q", alias, t, TierPriority, TierFlex)
		}
	}
	for _, s := range []struct{ key, tier string }{{"service_tier", m.ServiceTier}, {"batch_service_tier", m.BatchServiceTier}} {
		if s.tier != "" && !m.OffersTier(s.tier) {
			return fmt.Errorf("config: model %q: %s %q: %s offers %s", alias, s.key, s.tier, m.BedrockModelID, strings.Join(append([]string{TierDefault}, m.ServiceTiers...), ", "))
		}
	}
	switch m.PromptCaching {
	case "", PromptCachingOff:
	case PromptCachingAuto:
		if m.PromptCacheMinTokens == 0 {
			m.PromptCacheMinTokens = DefaultPromptCache(m.BedrockModelID).MinTokens
		}
		if m.PromptCacheMinTokens <= 0 {
			return fmt.Errorf("config: model %q: prompt_caching: auto, but %s has no prompt caching on Bedrock (set prompt_cache_min_tokens if it has)", alias, m.BedrockModelID)
		}
	default:
		return fmt.Errorf("config: model %q: prompt_caching %q: use %q or %q", alias, m.PromptCaching, PromptCachingAuto, PromptCachingOff)
	}
	return nil
}

// Cache is the prompt cache sluice may use for the alias: the model's, with
// the configured minimum; zero when the model has none.
func (m Model) Cache() PromptCache {
	c := DefaultPromptCache(m.BedrockModelID)
	if m.PromptCacheMinTokens > 0 {
		c.MinTokens = m.PromptCacheMinTokens
	}
	return c
}
