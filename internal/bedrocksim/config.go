package bedrocksim

import (
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"time"

	"github.com/goccy/go-yaml"
)

// Default base credentials: the identity that signs STS calls (and, unless
// configured otherwise, Bedrock calls of the default account).
const (
	DefaultBaseAccessKeyID     = "AKIDSLUICELOCAL"
	DefaultBaseSecretAccessKey = "sluice-local-secret"
	DefaultAccountID           = "111111111111"
)

// Config configures a Server. The zero value works: New fills in the
// defaults described on each field. DefaultConfig (and LoadConfig, which
// starts from it) additionally sets a realistic latency model; a zero
// TTFT/PerToken in a Config given to New means "no latency", which is what
// most tests want.
type Config struct {
	// Listen is the address the binary listens on (not used by New).
	Listen string `yaml:"listen"`
	// Window is the length of a quota "minute". Shorten it to compress time
	// in tests: with 2s, a TPM budget refills fully every 2 seconds and a
	// "day" (for TPD) lasts 1440 windows. Default 1m.
	Window time.Duration `yaml:"window"`
	// TTFT is the time to first token; PerToken the time per further output
	// token. Both can be overridden per request with directives.
	TTFT     time.Duration `yaml:"ttft"`
	PerToken time.Duration `yaml:"per_token"`
	// DefaultOutputTokens is the length of a response when no directive sets
	// it, before the maxTokens cap. Default 64.
	DefaultOutputTokens int `yaml:"default_output_tokens"`
	// Auth turns SigV4 verification on or off. nil means on.
	Auth *bool `yaml:"auth"`
	// BaseAccessKeyID/BaseSecretAccessKey are the long-lived credentials
	// that may call STS (and Bedrock, for DefaultAccount).
	BaseAccessKeyID     string `yaml:"base_access_key_id"`
	BaseSecretAccessKey string `yaml:"base_secret_access_key"`
	// DefaultAccount is the account Bedrock calls signed with the base
	// credentials are attributed to. Empty: such calls are denied, unless no
	// accounts are configured at all (then the default account
	// 111111111111 is created and used).
	DefaultAccount string `yaml:"default_account"`
	// Models the simulator serves, by model id. Empty: DefaultModels().
	Models map[string]ModelConfig `yaml:"models"`
	// Accounts that roles can be assumed in, with their quotas.
	Accounts []AccountConfig `yaml:"accounts"`
	// CacheTTL is how long a prompt cache entry lives after its last use.
	// Default 5m, Bedrock's.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// Logger receives one line per call. nil: slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// ModelConfig describes one served model.
type ModelConfig struct {
	// MaxOutputTokens bounds inferenceConfig.maxTokens, and is the
	// reservation when maxTokens is unset (as Bedrock does). Default 4096.
	MaxOutputTokens int `yaml:"max_output_tokens"`
	// Burndown is how many quota tokens one output token costs (5 for
	// Claude Sonnet 4 and later, 1 for most others). Default 1.
	Burndown float64 `yaml:"burndown"`
	// ServiceTiers are the serviceTier types the model serves besides
	// default (priority, flex); others get ValidationException.
	ServiceTiers []string `yaml:"service_tiers"`
	// PromptCacheMinTokens is the minimum prefix of a cache checkpoint;
	// 0: the model has no prompt caching, and cachePoint blocks get
	// ValidationException.
	PromptCacheMinTokens int `yaml:"prompt_cache_min_tokens"`
	// PromptCacheTools tells whether cache points may follow the tools.
	PromptCacheTools bool `yaml:"prompt_cache_tools"`
}

// AccountConfig is an AWS account whose roles can be assumed.
type AccountConfig struct {
	ID string `yaml:"id"`
	// ExternalID, when set, must be passed to AssumeRole.
	ExternalID string `yaml:"external_id"`
	// Quotas per model id. Models without an entry are unlimited.
	Quotas map[string]QuotaConfig `yaml:"quotas"`
}

// QuotaConfig is one (account, model) budget. Zero means unlimited.
type QuotaConfig struct {
	TPM int64 `yaml:"tpm"` // tokens per window
	RPM int64 `yaml:"rpm"` // requests per window
	TPD int64 `yaml:"tpd"` // tokens per 1440 windows
}

// DefaultModels is what the simulator serves when no models are configured.
func DefaultModels() map[string]ModelConfig {
	return map[string]ModelConfig{
		// Prompt caching and service tiers as the Bedrock user guide lists
		// them (prompt-caching, service-tiers-inference).
		"us.anthropic.claude-sonnet-4-20250514-v1:0":   {MaxOutputTokens: 64000, Burndown: 5, PromptCacheMinTokens: 1024, PromptCacheTools: true},
		"us.anthropic.claude-3-7-sonnet-20250219-v1:0": {MaxOutputTokens: 64000, Burndown: 5, PromptCacheMinTokens: 1024, PromptCacheTools: true},
		"anthropic.claude-3-haiku-20240307-v1:0":       {MaxOutputTokens: 4096, Burndown: 1},
		"amazon.nova-lite-v1:0":                        {MaxOutputTokens: 5000, Burndown: 1, PromptCacheMinTokens: 1000},
		"amazon.nova-pro-v1:0":                         {MaxOutputTokens: 5000, Burndown: 1, PromptCacheMinTokens: 1000, ServiceTiers: []string{"priority", "flex"}},
		"openai.gpt-oss-120b-1:0":                      {MaxOutputTokens: 8192, Burndown: 1, ServiceTiers: []string{"priority", "flex"}},
		// Embedding models, served by InvokeModel only.
		"amazon.titan-embed-text-v2:0": {Burndown: 1},
		"cohere.embed-english-v3":      {Burndown: 1},
	}
}

// DefaultConfig is the configuration of the binary without a config file:
// the default models and account, no quotas, auth on, and a latency model
// of 200ms to first token plus 10ms per token.
func DefaultConfig() Config {
	return Config{
		Listen:              "127.0.0.1:9700",
		Window:              time.Minute,
		TTFT:                200 * time.Millisecond,
		PerToken:            10 * time.Millisecond,
		DefaultOutputTokens: 64,
		BaseAccessKeyID:     DefaultBaseAccessKeyID,
		BaseSecretAccessKey: DefaultBaseSecretAccessKey,
	}
}

// LoadConfig reads a YAML file over DefaultConfig.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read bedrocksim config %s: %w", path, err)
	}
	if err := yaml.UnmarshalWithOptions(data, &cfg, yaml.Strict()); err != nil {
		return Config{}, fmt.Errorf("parse bedrocksim config %s: %w", path, err)
	}
	return cfg, nil
}

var accountIDPattern = regexp.MustCompile(`^\d{12}$`)

// withDefaults fills zero fields and checks the configuration for
// contradictions, so that New fails early instead of serving nonsense.
func (c Config) withDefaults() (Config, error) {
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.TTFT < 0 || c.PerToken < 0 {
		return c, fmt.Errorf("bedrocksim config: negative latency (ttft %s, per_token %s)", c.TTFT, c.PerToken)
	}
	if c.DefaultOutputTokens <= 0 {
		c.DefaultOutputTokens = 64
	}
	if c.CacheTTL <= 0 {
		c.CacheTTL = 5 * time.Minute
	}
	if c.BaseAccessKeyID == "" {
		c.BaseAccessKeyID = DefaultBaseAccessKeyID
	}
	if c.BaseSecretAccessKey == "" {
		c.BaseSecretAccessKey = DefaultBaseSecretAccessKey
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}

	models := DefaultModels()
	if len(c.Models) > 0 {
		models = make(map[string]ModelConfig, len(c.Models))
		for id, m := range c.Models {
			if m.MaxOutputTokens <= 0 {
				m.MaxOutputTokens = 4096
			}
			if m.Burndown <= 0 {
				m.Burndown = 1
			}
			models[id] = m
		}
	}
	c.Models = models

	if len(c.Accounts) == 0 {
		c.Accounts = []AccountConfig{{ID: DefaultAccountID}}
		if c.DefaultAccount == "" {
			c.DefaultAccount = DefaultAccountID
		}
	}
	seen := make(map[string]bool)
	for _, a := range c.Accounts {
		if !accountIDPattern.MatchString(a.ID) {
			return c, fmt.Errorf("bedrocksim config: account id %q is not 12 digits", a.ID)
		}
		if seen[a.ID] {
			return c, fmt.Errorf("bedrocksim config: account %s listed twice", a.ID)
		}
		seen[a.ID] = true
		for model, q := range a.Quotas {
			if _, ok := c.Models[model]; !ok {
				return c, fmt.Errorf("bedrocksim config: account %s has a quota for model %q, which is not served", a.ID, model)
			}
			if q.TPM < 0 || q.RPM < 0 || q.TPD < 0 {
				return c, fmt.Errorf("bedrocksim config: account %s model %s: negative quota %+v", a.ID, model, q)
			}
		}
	}
	if c.DefaultAccount != "" && !seen[c.DefaultAccount] {
		return c, fmt.Errorf("bedrocksim config: default_account %s is not among the accounts", c.DefaultAccount)
	}
	return c, nil
}

func (c Config) authEnabled() bool { return c.Auth == nil || *c.Auth }

func (c Config) account(id string) (AccountConfig, bool) {
	for _, a := range c.Accounts {
		if a.ID == id {
			return a, true
		}
	}
	return AccountConfig{}, false
}
