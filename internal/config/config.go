// Package config holds sluice's settings: the model aliases clients may ask for,
// the AWS accounts whose Bedrock quota serves them, and the endpoints and secrets
// that differ between a laptop and AWS.
//
// The YAML file describes what sluice brokers (models, accounts, budgets); the
// environment says where the parts live. Values in the YAML may reference the
// environment as ${NAME}, so secrets never need to be written into the file.
package config

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Config is the whole of sluice's configuration.
type Config struct {
	// Models maps an alias that clients send as "model" to the Bedrock model behind it.
	Models map[string]Model `yaml:"models"`
	// Accounts are the AWS accounts whose quota sluice spends; each (account, model)
	// pair is one worker pool with its own budget.
	Accounts []Account `yaml:"accounts"`

	Env Env `yaml:"-"`
}

// Model is one alias clients can ask for.
type Model struct {
	BedrockModelID string `yaml:"bedrock_model_id"`
	// DefaultMaxTokens bounds the output when the caller sets no limit. Bedrock
	// reserves maxTokens against the quota at call start, and without a bound it
	// reserves the model's maximum output, so sluice always sends one.
	DefaultMaxTokens int `yaml:"default_max_tokens"`
	// MaxOutputTokens is the largest max_tokens a caller may ask for.
	MaxOutputTokens int `yaml:"max_output_tokens"`
	// Burndown is how many quota tokens one output token costs (5 for Claude 3.7+).
	Burndown float64 `yaml:"burndown"`
	// Kind is what the alias serves: "chat" (/v1/chat/completions, Converse)
	// or "embedding" (/v1/embeddings, InvokeModel). Empty: inferred from the
	// model id (see Model.Embedding).
	Kind string `yaml:"kind"`
	// ServiceTier is the Bedrock service tier (default, flex, priority) of
	// requests that ask for none or for "auto". Empty: default.
	ServiceTier string `yaml:"service_tier"`
	// BatchServiceTier is the tier of batch requests that ask for none or
	// for "auto", chosen when the batch is accepted: flex runs batches at
	// Bedrock's discount without any caller asking.
	BatchServiceTier string `yaml:"batch_service_tier"`
	// ServiceTiers are the tiers beyond default the model offers. Default:
	// by model id (DefaultServiceTiers).
	ServiceTiers []string `yaml:"service_tiers"`
	// PromptCaching "auto" inserts Bedrock cache points where they pay off:
	// after the tools and the system prompt, and at the last stable turns.
	PromptCaching string `yaml:"prompt_caching"`
	// PromptCacheMinTokens is the model's minimum tokens per cache
	// checkpoint. Default: by model id (DefaultPromptCache).
	PromptCacheMinTokens int `yaml:"prompt_cache_min_tokens"`
	// Fallbacks are aliases, in order of preference, that serve a request
	// of this alias when none of its accounts can (at submit), and, with
	// FallbackAfter, when a job has waited in the queue that long. A job
	// moves once; it keeps the alias it was asked for (requested_model).
	Fallbacks []string `yaml:"fallbacks"`
	// FallbackAfter is how long a queued job waits before it moves to the
	// first fallback that has a healthy account; 0: only at submit.
	FallbackAfter time.Duration `yaml:"fallback_after"`
}

// Account is one AWS account whose Bedrock quota sluice spends.
type Account struct {
	Name        string `yaml:"name"`
	Region      string `yaml:"region"`
	RoleARN     string `yaml:"role_arn"`
	ExternalID  string `yaml:"external_id"`
	SessionName string `yaml:"session_name"`
	// Models maps a model alias to this account's budget for it.
	Models map[string]Budget `yaml:"models"`
}

// Budget is an account's quota for one model, as Bedrock enforces it.
type Budget struct {
	TPM int `yaml:"tpm"` // tokens per minute (window)
	RPM int `yaml:"rpm"` // requests per minute (window); 0 means unlimited
	TPD int `yaml:"tpd"` // tokens per day; 0 means unlimited
}

// Env is the part of the configuration that comes from the process environment.
type Env struct {
	DatabaseURL     string
	Region          string
	QueuePrefix     string
	SQSEndpoint     string
	BedrockEndpoint string
	STSEndpoint     string
	CreateQueues    bool
	ListenAddr      string
	MetricsAddr     string
	MasterKey       string
	// Accounts limits a worker to these account names; empty means all.
	Accounts []string
	// SyncTimeout is how long a synchronous caller waits before it is told to poll.
	SyncTimeout time.Duration
	// Window is the length of a quota "minute". It is a minute on AWS; tests and
	// the local simulator compress it so that budgets can be observed quickly.
	Window time.Duration
	// WebhookSecret (whsec_…) signs callbacks of jobs submitted with the
	// master key; managed keys have secrets of their own.
	WebhookSecret string
	// WebhookAllowPrivate lets callbacks reach loopback, private and
	// link-local addresses (tests, private deployments). Off by default:
	// callbacks are a way into the broker's own network.
	WebhookAllowPrivate bool
	// WebhookTimeout bounds one delivery attempt.
	WebhookTimeout time.Duration
	// Retention is how long finished jobs (requests, results, webhook logs)
	// are kept.
	Retention time.Duration
	// Lease is how long a worker's claim on a job holds without a
	// heartbeat: a killed worker's jobs run again about this long after.
	Lease time.Duration
	// RetryHorizon is how long transient Bedrock faults are retried before a
	// job fails (never past the job's deadline).
	RetryHorizon time.Duration
	// DrainTimeout is how long a stopping worker lets calls in flight finish
	// before it releases them to the queue; keep it below the orchestrator's
	// stop timeout (ECS stopTimeout is at most 120 s).
	DrainTimeout time.Duration
	// FairWindow is how long a tenant's past service counts against it when
	// the next job is chosen.
	FairWindow time.Duration
	// Admission turns on early answers: a sync request whose deadline the
	// queue cannot meet gets a 429 with Retry-After at once.
	Admission bool
	// BudgetLeases makes each pool replica reserve from a leased slice of its
	// bucket rather than the shared row (budget.Lease). Off by default until
	// its quota fidelity matches the row's under load (docs/ARCHITECTURE.md).
	BudgetLeases bool
	// BodyTimeout and UploadTimeout bound how long the api waits for a request
	// body (a file upload) to arrive; MaxConnections bounds its open
	// connections. Slow or numerous clients then cannot pin its goroutines.
	BodyTimeout, UploadTimeout time.Duration
	MaxConnections             int
	// JanitorEvery is how often a worker's janitor sweeps; JanitorGrace how
	// old a job whose message was never sent must be before it sends it.
	JanitorEvery, JanitorGrace time.Duration
}

// webhookSecret is a Standard Webhooks secret: whsec_ and base64 of 24 to 64 bytes.
var webhookSecret = regexp.MustCompile(`^whsec_[A-Za-z0-9+/]{32,88}={0,2}$`)

var aliasPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,48}$`)

// Load reads the YAML named by SLUICE_CONFIG (a path) or SLUICE_CONFIG_YAML (the
// document itself) and the environment. The warnings name settings of the file
// that sluice does not use (see Parse).
func Load() (*Config, []string, error) {
	env, err := loadEnv()
	if err != nil {
		return nil, nil, err
	}
	var doc []byte
	switch {
	case os.Getenv("SLUICE_CONFIG_YAML") != "":
		doc = []byte(os.Getenv("SLUICE_CONFIG_YAML"))
	case os.Getenv("SLUICE_CONFIG") != "":
		path := os.Getenv("SLUICE_CONFIG")
		doc, err = os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("read SLUICE_CONFIG %q: %w", path, err)
		}
	default:
		return nil, nil, fmt.Errorf("no configuration: set SLUICE_CONFIG to a YAML file or SLUICE_CONFIG_YAML to its contents")
	}
	cfg, warnings, err := Parse(doc)
	if err != nil {
		return nil, nil, err
	}
	cfg.Env = env
	return cfg, warnings, nil
}

// Parse reads a YAML document, expanding ${NAME} references from the environment,
// and checks it. A LiteLLM proxy config (one with a top-level model_list) is
// converted by FromLiteLLM, whose warnings Parse returns; sluice's own format,
// strictly checked, has none.
func Parse(doc []byte) (*Config, []string, error) {
	expanded, err := expandEnv(string(doc))
	if err != nil {
		return nil, nil, err
	}
	if isLiteLLM([]byte(expanded)) {
		return FromLiteLLM([]byte(expanded))
	}
	var cfg Config
	if err := yaml.UnmarshalWithOptions([]byte(expanded), &cfg, yaml.Strict()); err != nil {
		return nil, nil, fmt.Errorf("parse config: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	return &cfg, nil, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func expandEnv(s string) (string, error) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("config references unset environment variables: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

func (c *Config) validate() error {
	if len(c.Models) == 0 {
		return fmt.Errorf("config: no models")
	}
	for alias, m := range c.Models {
		if !aliasPattern.MatchString(alias) {
			return fmt.Errorf("config: model alias %q: use 1-48 letters, digits, '.', '_' or '-' (it names SQS queues)", alias)
		}
		if m.BedrockModelID == "" {
			return fmt.Errorf("config: model %q: bedrock_model_id is required", alias)
		}
		if m.DefaultMaxTokens <= 0 {
			m.DefaultMaxTokens = 4096
		}
		if m.MaxOutputTokens <= 0 {
			m.MaxOutputTokens = max(m.DefaultMaxTokens, 8192)
		}
		if m.DefaultMaxTokens > m.MaxOutputTokens {
			return fmt.Errorf("config: model %q: default_max_tokens %d exceeds max_output_tokens %d", alias, m.DefaultMaxTokens, m.MaxOutputTokens)
		}
		if m.Burndown <= 0 {
			m.Burndown = DefaultBurndown(m.BedrockModelID)
		}
		if m.Kind != "" && m.Kind != KindChat && m.Kind != KindEmbedding {
			return fmt.Errorf("config: model %q: kind %q: use %q or %q", alias, m.Kind, KindChat, KindEmbedding)
		}
		if err := m.validateTiersAndCaching(alias); err != nil {
			return err
		}
		c.Models[alias] = m
	}
	if err := c.validateFallbacks(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		if a.Name == "" {
			return fmt.Errorf("config: account %d has no name", i)
		}
		if seen[a.Name] {
			return fmt.Errorf("config: account %q appears twice", a.Name)
		}
		seen[a.Name] = true
		if a.Region == "" {
			return fmt.Errorf("config: account %q: region is required", a.Name)
		}
		if a.SessionName == "" {
			a.SessionName = "sluice-" + a.Name
		}
		if len(a.Models) == 0 {
			return fmt.Errorf("config: account %q serves no models", a.Name)
		}
		for alias, b := range a.Models {
			if _, ok := c.Models[alias]; !ok {
				return fmt.Errorf("config: account %q: unknown model alias %q", a.Name, alias)
			}
			if b.TPM <= 0 || b.RPM < 0 || b.TPD < 0 {
				return fmt.Errorf("config: account %q model %q: tpm must be positive, rpm and tpd zero (unlimited) or positive", a.Name, alias)
			}
		}
	}
	return nil
}

// validateFallbacks checks that every fallback names another alias of the
// same kind, once.
func (c *Config) validateFallbacks() error {
	for alias, m := range c.Models {
		if m.FallbackAfter < 0 {
			return fmt.Errorf("config: model %q: fallback_after %s is negative", alias, m.FallbackAfter)
		}
		if m.FallbackAfter > 0 && len(m.Fallbacks) == 0 {
			return fmt.Errorf("config: model %q: fallback_after is set but fallbacks lists no alias to fall back to", alias)
		}
		seen := map[string]bool{}
		for _, fb := range m.Fallbacks {
			to, ok := c.Models[fb]
			switch {
			case !ok:
				return fmt.Errorf("config: model %q: fallback %q is not a model alias of this configuration", alias, fb)
			case fb == alias:
				return fmt.Errorf("config: model %q: falls back to itself", alias)
			case seen[fb]:
				return fmt.Errorf("config: model %q: fallback %q listed twice", alias, fb)
			case to.Embedding() != m.Embedding():
				return fmt.Errorf("config: model %q: fallback %q serves another kind of request (chat vs embedding)", alias, fb)
			}
			seen[fb] = true
		}
	}
	return nil
}

// Aliases returns the model aliases in a stable order.
func (c *Config) Aliases() []string {
	out := make([]string, 0, len(c.Models))
	for alias := range c.Models {
		out = append(out, alias)
	}
	sort.Strings(out)
	return out
}

// LoadEnv reads only the environment, for commands that need no YAML
// configuration (api keys).
func LoadEnv() (Env, error) { return loadEnv() }

func loadEnv() (Env, error) {
	e := Env{
		DatabaseURL:     os.Getenv("DATABASE_URL"),
		Region:          getenv("AWS_REGION", "us-east-1"),
		QueuePrefix:     getenv("SLUICE_QUEUE_PREFIX", "sluice"),
		SQSEndpoint:     os.Getenv("SLUICE_SQS_ENDPOINT"),
		BedrockEndpoint: os.Getenv("SLUICE_BEDROCK_ENDPOINT"),
		STSEndpoint:     os.Getenv("SLUICE_STS_ENDPOINT"),
		ListenAddr:      getenv("SLUICE_LISTEN_ADDR", ":8080"),
		MetricsAddr:     getenv("SLUICE_METRICS_ADDR", ":9090"),
		MasterKey:       os.Getenv("SLUICE_MASTER_KEY"),
	}
	if v := os.Getenv("SLUICE_ACCOUNTS"); v != "" {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				e.Accounts = append(e.Accounts, name)
			}
		}
	}
	var err error
	if e.CreateQueues, err = parseBool("SLUICE_CREATE_QUEUES", false); err != nil {
		return e, err
	}
	if e.SyncTimeout, err = parseDuration("SLUICE_SYNC_TIMEOUT", 10*time.Minute); err != nil {
		return e, err
	}
	if e.Window, err = parseDuration("SLUICE_QUOTA_WINDOW", time.Minute); err != nil {
		return e, err
	}
	e.WebhookSecret = os.Getenv("SLUICE_WEBHOOK_SECRET")
	if e.WebhookSecret != "" && !webhookSecret.MatchString(e.WebhookSecret) {
		return e, fmt.Errorf("SLUICE_WEBHOOK_SECRET: want whsec_ followed by base64 (at least 24 bytes), as `openssl rand -base64 24` makes")
	}
	if e.WebhookAllowPrivate, err = parseBool("SLUICE_WEBHOOK_ALLOW_PRIVATE", false); err != nil {
		return e, err
	}
	if e.WebhookTimeout, err = parseDuration("SLUICE_WEBHOOK_TIMEOUT", 15*time.Second); err != nil {
		return e, err
	}
	if e.Retention, err = parseDuration("SLUICE_RETENTION", 7*24*time.Hour); err != nil {
		return e, err
	}
	if e.Lease, err = parseDuration("SLUICE_LEASE", 30*time.Second); err != nil {
		return e, err
	}
	if e.RetryHorizon, err = parseDuration("SLUICE_RETRY_HORIZON", 10*time.Minute); err != nil {
		return e, err
	}
	if e.DrainTimeout, err = parseDuration("SLUICE_DRAIN_TIMEOUT", 100*time.Second); err != nil {
		return e, err
	}
	if e.FairWindow, err = parseDuration("SLUICE_FAIR_WINDOW", time.Minute); err != nil {
		return e, err
	}
	if e.Admission, err = parseBool("SLUICE_ADMISSION", true); err != nil {
		return e, err
	}
	if e.BudgetLeases, err = parseBool("SLUICE_BUDGET_LEASES", false); err != nil {
		return e, err
	}
	if e.BodyTimeout, err = parseDuration("SLUICE_BODY_TIMEOUT", 30*time.Second); err != nil {
		return e, err
	}
	if e.UploadTimeout, err = parseDuration("SLUICE_UPLOAD_TIMEOUT", 10*time.Minute); err != nil {
		return e, err
	}
	if e.JanitorEvery, err = parseDuration("SLUICE_JANITOR_EVERY", 5*time.Second); err != nil {
		return e, err
	}
	if e.JanitorGrace, err = parseDuration("SLUICE_JANITOR_GRACE", 30*time.Second); err != nil {
		return e, err
	}
	e.MaxConnections = 4096
	if v := os.Getenv("SLUICE_MAX_CONNECTIONS"); v != "" {
		if e.MaxConnections, err = strconv.Atoi(v); err != nil || e.MaxConnections < 1 {
			return e, fmt.Errorf("SLUICE_MAX_CONNECTIONS=%q: want a positive integer", v)
		}
	}
	if e.DatabaseURL == "" {
		return e, fmt.Errorf("DATABASE_URL is not set")
	}
	return e, nil
}

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseBool(name string, def bool) (bool, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: %w", name, v, err)
	}
	return b, nil
}

func parseDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 30s", name, v)
	}
	return d, nil
}
