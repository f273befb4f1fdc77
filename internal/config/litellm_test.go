package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sonnet45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"

// setLiteLLMEnv sets what testdata/litellm.yaml reads from the environment.
func setLiteLLMEnv(t *testing.T) {
	t.Setenv("TEAM_A_ROLE", "arn:aws:iam::111111111111:role/bedrock-caller")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPROCESSKEY")
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	doc, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestFromLiteLLM(t *testing.T) {
	setLiteLLMEnv(t)
	cfg, warnings, err := FromLiteLLM(readTestdata(t, "litellm.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	wantModels := map[string]Model{
		"claude-sonnet": {BedrockModelID: sonnet45, DefaultMaxTokens: 4096, MaxOutputTokens: 8192, Burndown: 5},
		"nova-lite":     {BedrockModelID: "amazon.nova-lite-v1:0", DefaultMaxTokens: 2048, MaxOutputTokens: 5000, Burndown: 1},
	}
	if !reflect.DeepEqual(cfg.Models, wantModels) {
		t.Errorf("models:\n got %+v\nwant %+v", cfg.Models, wantModels)
	}

	wantAccounts := []Account{
		{
			Name:        "111111111111-bedrock-caller-us-east-1",
			Region:      "us-east-1",
			RoleARN:     "arn:aws:iam::111111111111:role/bedrock-caller",
			SessionName: "litellm-team-a",
			Models: map[string]Budget{
				"claude-sonnet": {TPM: 400000 + 50000, RPM: 50 + 50},
				"nova-lite":     {TPM: 1000000, RPM: 50},
			},
		},
		{
			Name:        "222222222222-bedrock-caller-us-east-1",
			Region:      "us-east-1",
			RoleARN:     "arn:aws:iam::222222222222:role/bedrock/bedrock-caller",
			ExternalID:  "team-b-external",
			SessionName: "sluice-222222222222-bedrock-caller-us-east-1",
			Models:      map[string]Budget{"claude-sonnet": {TPM: 200000, RPM: 50}},
		},
		{
			Name:        "us-west-2",
			Region:      "us-west-2",
			SessionName: "sluice-us-west-2",
			Models:      map[string]Budget{"claude-sonnet": {TPM: 100000}},
		},
	}
	if !reflect.DeepEqual(cfg.Accounts, wantAccounts) {
		t.Errorf("accounts:\n got %+v\nwant %+v", cfg.Accounts, wantAccounts)
	}

	wantWarnings := []string{
		"model_list[0].litellm_params.timeout: not used by sluice",
		"model_list[1].litellm_params.timeout: not used by sluice",
		"model_list[2].litellm_params.aws_access_key_id: not used by sluice; sluice uses its own AWS credentials",
		"model_list[2].litellm_params.aws_secret_access_key: not used by sluice; sluice uses its own AWS credentials",
		"model_list[2].litellm_params.api_base: not used by sluice; set SLUICE_BEDROCK_ENDPOINT instead",
		"model_list[3].litellm_params.timeout: not used by sluice",
		"model_list[4].litellm_params.timeout: not used by sluice",
		"model_list[4].model_info.base_model: not used by sluice",
		"litellm_settings.drop_params: not used by sluice",
		"router_settings.routing_strategy: not used by sluice",
		"router_settings.num_retries: not used by sluice",
		"general_settings.master_key: not used by sluice; set SLUICE_MASTER_KEY instead",
		"environment_variables.REDIS_HOST: not used by sluice; sluice does not set its own environment from the file",
	}
	equalLines(t, "warnings", warnings, wantWarnings)
}

// Parse recognises a LiteLLM config by its model_list and converts it.
func TestParseLiteLLM(t *testing.T) {
	setLiteLLMEnv(t)
	doc := readTestdata(t, "litellm.yaml")
	want, wantWarnings, err := FromLiteLLM(doc)
	if err != nil {
		t.Fatal(err)
	}
	got, warnings, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(warnings, wantWarnings) {
		t.Errorf("Parse differs from FromLiteLLM:\n got %+v %q\nwant %+v %q", got, warnings, want, wantWarnings)
	}
}

// Parse hands a document with a top-level model_list to FromLiteLLM whatever
// is inside it, so that the errors are about LiteLLM's format, not sluice's.
func TestParseLiteLLMErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"x: &x {tpm: 1}\nmodel_list:\n  - model_name: m\n    litellm_params: {<<: [*x], model: openai/gpt-4o}\n", "is not a Bedrock model"},
		{"model_list:\n", "model_list: want a list of models, got nothing"},
		{"model_list: []\n", "config: no models"},
	} {
		if _, _, err := Parse([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error %v, want one containing %q", tc.doc, err, tc.want)
		}
	}
}

func TestLoadLiteLLM(t *testing.T) {
	setLiteLLMEnv(t)
	t.Setenv("SLUICE_CONFIG_YAML", "")
	t.Setenv("SLUICE_CONFIG", "testdata/litellm.yaml")
	t.Setenv("DATABASE_URL", "postgres://localhost/sluice")
	cfg, warnings, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Accounts) != 3 || len(warnings) == 0 || cfg.Env.DatabaseURL != "postgres://localhost/sluice" {
		t.Errorf("Load: %d accounts, %d warnings, env %+v", len(cfg.Accounts), len(warnings), cfg.Env)
	}
}

// Smaller documents, each about one rule of the conversion.
func TestFromLiteLLMRules(t *testing.T) {
	for _, tc := range []struct {
		name         string
		env          map[string]string
		doc          string
		wantModels   map[string]Model // checked when set
		wantAccounts []Account        // checked when set
		wantWarnings []string
	}{
		{
			name: "sequence merge: own keys win, then the earlier mapping",
			doc: `
x-a: &a {aws_region_name: eu-west-1, tpm: 1000}
x-b: &b {aws_region_name: us-east-1, tpm: 2000, rpm: 7}
model_list:
  - model_name: m
    litellm_params:
      <<: [*a, *b]
      model: bedrock/amazon.nova-lite-v1:0
      tpm: 3000
`,
			wantAccounts: []Account{{Name: "eu-west-1", Region: "eu-west-1", SessionName: "sluice-eu-west-1",
				Models: map[string]Budget{"m": {TPM: 3000, RPM: 7}}}},
		},
		{
			name: "region from an ARN model id, bare id with custom_llm_provider",
			doc: `
model_list:
  - model_name: arn-model
    litellm_params:
      model: bedrock/arn:aws:bedrock:eu-central-1:111111111111:inference-profile/eu.anthropic.claude-sonnet-4-20250514-v1:0
      tpm: 1000
  - model_name: bare
    litellm_params:
      model: amazon.nova-lite-v1:0
      custom_llm_provider: bedrock
      aws_region_name: eu-central-1
      tpm: 2000
`,
			wantModels: map[string]Model{
				"arn-model": {BedrockModelID: "arn:aws:bedrock:eu-central-1:111111111111:inference-profile/eu.anthropic.claude-sonnet-4-20250514-v1:0",
					DefaultMaxTokens: 4096, MaxOutputTokens: 8192, Burndown: 5},
				"bare": {BedrockModelID: "amazon.nova-lite-v1:0", DefaultMaxTokens: 4096, MaxOutputTokens: 8192, Burndown: 1},
			},
			wantAccounts: []Account{{Name: "eu-central-1", Region: "eu-central-1", SessionName: "sluice-eu-central-1",
				Models: map[string]Budget{"arn-model": {TPM: 1000}, "bare": {TPM: 2000}}}},
		},
		{
			name: "region from the environment, as LiteLLM falls back",
			env:  map[string]string{"AWS_REGION_NAME": "", "AWS_REGION": "ap-northeast-1"},
			doc: `
model_list:
  - model_name: m
    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, tpm: 1000}
`,
			wantAccounts: []Account{{Name: "ap-northeast-1", Region: "ap-northeast-1", SessionName: "sluice-ap-northeast-1",
				Models: map[string]Budget{"m": {TPM: 1000}}}},
			wantWarnings: []string{"model_list[0].litellm_params: no aws_region_name; using AWS_REGION=ap-northeast-1 from the environment"},
		},
		{
			name: "same account summed; one entry without rpm leaves it unlimited; smaller output bound wins",
			doc: `
model_list:
  - model_name: m
    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-east-1, tpm: 1000, rpm: 10, max_tokens: 1000}
  - model_name: m
    litellm_params: {model: bedrock/converse/amazon.nova-lite-v1:0, aws_region_name: us-east-1, tpm: 2000, max_tokens: 500}
`,
			wantModels: map[string]Model{"m": {BedrockModelID: "amazon.nova-lite-v1:0", DefaultMaxTokens: 500, MaxOutputTokens: 8192, Burndown: 1}},
			wantAccounts: []Account{{Name: "us-east-1", Region: "us-east-1", SessionName: "sluice-us-east-1",
				Models: map[string]Budget{"m": {TPM: 3000}}}},
		},
		{
			name: "one role with two external ids; two roles into one AWS account",
			env:  map[string]string{"ROLE": "arn:aws:iam::111111111111:role/caller"},
			doc: `
x-p: &p {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-east-1, tpm: 1000}
model_list:
  - model_name: m
    litellm_params: {<<: *p, aws_role_name: os.environ/ROLE, aws_external_id: one}
  - model_name: m
    litellm_params: {<<: *p, aws_role_name: os.environ/ROLE, aws_external_id: two}
  - model_name: m
    litellm_params: {<<: *p, aws_role_name: "arn:aws:iam::111111111111:role/other+role", aws_session_name: s1}
  - model_name: m
    litellm_params: {<<: *p, aws_role_name: "arn:aws:iam::111111111111:role/other+role", aws_session_name: s2}
`,
			wantAccounts: []Account{
				{Name: "111111111111-caller-us-east-1", Region: "us-east-1", RoleARN: "arn:aws:iam::111111111111:role/caller", ExternalID: "one",
					SessionName: "sluice-111111111111-caller-us-east-1", Models: map[string]Budget{"m": {TPM: 1000}}},
				{Name: "111111111111-caller-us-east-1-2", Region: "us-east-1", RoleARN: "arn:aws:iam::111111111111:role/caller", ExternalID: "two",
					SessionName: "sluice-111111111111-caller-us-east-1-2", Models: map[string]Budget{"m": {TPM: 1000}}},
				{Name: "111111111111-other-role-us-east-1", Region: "us-east-1", RoleARN: "arn:aws:iam::111111111111:role/other+role",
					SessionName: "s1", Models: map[string]Budget{"m": {TPM: 2000}}},
			},
			wantWarnings: []string{
				`model_list[3].litellm_params.aws_session_name: "s2" differs from "s1" set earlier for the same role; sluice uses "s1"`,
				"accounts 111111111111-caller-us-east-1, 111111111111-caller-us-east-1-2, 111111111111-other-role-us-east-1 are all AWS account 111111111111 in us-east-1: Bedrock quotas are per account and region, so their budgets share one quota",
			},
		},
		{
			name: "static key from an unset variable, without a role: ambient credentials, as in LiteLLM",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKIAPROCESSKEY"},
			doc: `
model_list:
  - model_name: m
    litellm_params:
      model: bedrock/amazon.nova-lite-v1:0
      aws_region_name: us-east-1
      aws_access_key_id: os.environ/SLUICE_TEST_UNSET_KEY
      tpm: 1000
`,
			wantAccounts: []Account{{Name: "us-east-1", Region: "us-east-1", SessionName: "sluice-us-east-1",
				Models: map[string]Budget{"m": {TPM: 1000}}}},
			wantWarnings: []string{"model_list[0].litellm_params.aws_access_key_id: not used by sluice; sluice uses its own AWS credentials"},
		},
		{
			name: "credentials beside a role, invoke route, settings ignored without a role, unknown entry keys",
			doc: `
model_list:
  - model_name: m
    litellm_params:
      model: bedrock/invoke/amazon.nova-lite-v1:0
      aws_region_name: us-east-1
      aws_role_name: arn:aws:iam::111111111111:role/caller
      aws_profile_name: litellm
      tpm: 1000
    tpm: 5
  - model_name: n
    litellm_params:
      model: bedrock/amazon.nova-micro-v1:0
      aws_region_name: us-east-1
      aws_external_id: forgotten
      tpm: 1000
    model_info: [not, a, mapping]
`,
			wantWarnings: []string{
				`model_list[0].litellm_params.model: sluice calls "amazon.nova-lite-v1:0" with the Converse API, not InvokeModel as bedrock/invoke/ asked`,
				"model_list[0].litellm_params.aws_profile_name: not used by sluice; sluice assumes aws_role_name with its own AWS credentials",
				"model_list[0].tpm: not used by sluice",
				"model_list[1].litellm_params.aws_external_id: ignored without aws_role_name",
				"model_list[1].model_info: not used by sluice",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, warnings, err := FromLiteLLM([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantModels != nil && !reflect.DeepEqual(cfg.Models, tc.wantModels) {
				t.Errorf("models:\n got %+v\nwant %+v", cfg.Models, tc.wantModels)
			}
			if tc.wantAccounts != nil && !reflect.DeepEqual(cfg.Accounts, tc.wantAccounts) {
				t.Errorf("accounts:\n got %+v\nwant %+v", cfg.Accounts, tc.wantAccounts)
			}
			equalLines(t, "warnings", warnings, tc.wantWarnings)
		})
	}
}

func TestFromLiteLLMErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		doc  string
		want string
	}{
		{
			name: "unset environment variable",
			doc: `
model_list:
  - model_name: m
    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-east-1, tpm: 1000, aws_role_name: os.environ/SLUICE_TEST_UNSET_ROLE}
`,
			want: `model_list[0].litellm_params.aws_role_name: environment variable SLUICE_TEST_UNSET_ROLE is not set (referenced as "os.environ/SLUICE_TEST_UNSET_ROLE")`,
		},
		{
			name: "one alias, two Bedrock models",
			doc: `
model_list:
  - model_name: claude
    litellm_params: {model: bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0, aws_region_name: us-east-1, tpm: 1000}
  - model_name: claude
    litellm_params: {model: bedrock/eu.anthropic.claude-sonnet-4-20250514-v1:0, aws_region_name: eu-west-1, tpm: 1000}
`,
			want: `model_list[1]: model_name "claude" is Bedrock model "eu.anthropic.claude-sonnet-4-20250514-v1:0" here but "us.anthropic.claude-sonnet-4-20250514-v1:0" in model_list[0]`,
		},
		{
			name: "another provider",
			doc: `
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY, tpm: 1000}
`,
			want: `model_list[0].litellm_params.model: "openai/gpt-4o" (provider "openai") is not a Bedrock model`,
		},
		{
			name: "bedrock prefix under another custom_llm_provider",
			doc: `
model_list:
  - model_name: m
    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, custom_llm_provider: bedrock_mantle, tpm: 1000}
`,
			want: `(provider "bedrock_mantle") is not a Bedrock model`,
		},
		{
			name: "unsupported Bedrock route",
			doc: `
model_list:
  - model_name: m
    litellm_params: {model: "bedrock/llama/arn:aws:bedrock:us-east-1:111111111111:imported-model/abc", tpm: 1000}
`,
			want: "uses LiteLLM's bedrock/llama/ route",
		},
		{
			name: "no tpm",
			doc: `
model_list:
  - model_name: m
    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-east-1, rpm: 10}
`,
			want: "model_list[0].litellm_params.tpm: sluice needs the deployment's tokens-per-minute quota to pace it, got nothing",
		},
		{
			name: "tpm not a number",
			env:  map[string]string{"TPM": "lots"},
			doc: `
model_list:
  - model_name: m
    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-east-1, tpm: os.environ/TPM}
`,
			want: `model_list[0].litellm_params.tpm: want a whole number, got "lots"`,
		},
		{
			name: "role that is not an ARN",
			doc: `
model_list:
  - model_name: m
    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-east-1, tpm: 1000, aws_role_name: bedrock-caller}
`,
			want: `aws_role_name: "bedrock-caller" is not an IAM role ARN`,
		},
		{
			name: "another account's keys without a role",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKIAPROCESSKEY", "OTHER_KEY": "AKIAOTHERKEY"},
			doc: `
model_list:
  - model_name: m
    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-east-1, tpm: 1000, aws_access_key_id: os.environ/OTHER_KEY}
`,
			want: "model_list[0].litellm_params.aws_access_key_id: without aws_role_name these credentials decide which AWS account's quota the entry spends",
		},
		{
			name: "a profile without a role",
			doc: `
model_list:
  - model_name: m
    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-east-1, tpm: 1000, aws_profile_name: prod}
`,
			want: "model_list[0].litellm_params.aws_profile_name: without aws_role_name",
		},
		{
			name: "no region anywhere",
			env:  map[string]string{"AWS_REGION_NAME": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": ""},
			doc: `
model_list:
  - model_name: m
    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, tpm: 1000}
`,
			want: "model_list[0].litellm_params: no aws_region_name, and none of AWS_REGION_NAME, AWS_REGION, AWS_DEFAULT_REGION is set",
		},
		{
			name: "model_name sluice cannot use as an alias",
			doc: `
model_list:
  - model_name: anthropic/claude
    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-east-1, tpm: 1000}
`,
			want: `config: model alias "anthropic/claude": use 1-48 letters`,
		},
		{
			name: "duplicate key",
			doc: `
model_list:
  - model_name: m
    litellm_params:
      model: bedrock/amazon.nova-lite-v1:0
      tpm: 1000
      tpm: 2000
`,
			want: `mapping key "tpm" already defined`,
		},
		{
			name: "alias without anchor",
			doc: `
model_list:
  - model_name: m
    litellm_params:
      <<: *missing
      tpm: 1000
`,
			want: "missing",
		},
		{
			name: "model_list not a list",
			doc:  "model_list: {model_name: m}\n",
			want: "model_list: want a list of models, got a mapping",
		},
		{
			name: "entry without litellm_params",
			doc:  "model_list:\n  - model_name: m\n",
			want: "model_list[0].litellm_params: want a mapping, got nothing",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, _, err := FromLiteLLM([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

const nativeDoc = `
models:
  claude-sonnet:
    bedrock_model_id: us.anthropic.claude-sonnet-4-20250514-v1:0
    default_max_tokens: 1024
    max_output_tokens: 64000
  nova-lite:
    bedrock_model_id: amazon.nova-lite-v1:0
  claude-35:
    bedrock_model_id: anthropic.claude-3-5-sonnet-20240620-v1:0
    burndown: 2
accounts:
  - name: local
    region: us-east-1
    role_arn: ${SLUICE_TEST_ROLE}
    external_id: sluice-local
    models:
      claude-sonnet: {tpm: 400000, rpm: 100}
      nova-lite: {tpm: 1000000, tpd: 50000000}
      claude-35: {tpm: 1000}
`

func TestParseNative(t *testing.T) {
	t.Setenv("SLUICE_TEST_ROLE", "arn:aws:iam::111111111111:role/bedrock-caller")
	cfg, warnings, err := Parse([]byte(nativeDoc))
	if err != nil {
		t.Fatal(err)
	}
	if warnings != nil {
		t.Errorf("warnings %q for sluice's own format", warnings)
	}
	wantModels := map[string]Model{
		// burndown unset: DefaultBurndown of the model.
		"claude-sonnet": {BedrockModelID: "us.anthropic.claude-sonnet-4-20250514-v1:0", DefaultMaxTokens: 1024, MaxOutputTokens: 64000, Burndown: 5},
		"nova-lite":     {BedrockModelID: "amazon.nova-lite-v1:0", DefaultMaxTokens: 4096, MaxOutputTokens: 8192, Burndown: 1},
		// burndown set: kept.
		"claude-35": {BedrockModelID: "anthropic.claude-3-5-sonnet-20240620-v1:0", DefaultMaxTokens: 4096, MaxOutputTokens: 8192, Burndown: 2},
	}
	if !reflect.DeepEqual(cfg.Models, wantModels) {
		t.Errorf("models:\n got %+v\nwant %+v", cfg.Models, wantModels)
	}
	wantAccounts := []Account{{
		Name: "local", Region: "us-east-1", RoleARN: "arn:aws:iam::111111111111:role/bedrock-caller",
		ExternalID: "sluice-local", SessionName: "sluice-local",
		Models: map[string]Budget{
			"claude-sonnet": {TPM: 400000, RPM: 100},
			"nova-lite":     {TPM: 1000000, TPD: 50000000},
			"claude-35":     {TPM: 1000},
		},
	}}
	if !reflect.DeepEqual(cfg.Accounts, wantAccounts) {
		t.Errorf("accounts:\n got %+v\nwant %+v", cfg.Accounts, wantAccounts)
	}
	if got, want := cfg.Aliases(), []string{"claude-35", "claude-sonnet", "nova-lite"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Aliases() = %q, want %q", got, want)
	}
}

// The local stack's own configuration must keep parsing.
func TestParseDeployLocal(t *testing.T) {
	doc, err := os.ReadFile("../../deploy/local/sluice.yaml")
	if err != nil {
		t.Skip("no deploy/local/sluice.yaml:", err)
	}
	cfg, _, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if b := cfg.Models["claude-sonnet"].Burndown; b != 5 {
		t.Errorf("claude-sonnet burndown %v, want 5", b)
	}
}

func TestParseNativeErrors(t *testing.T) {
	const model = "models:\n  m: {bedrock_model_id: amazon.nova-lite-v1:0}\n"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{
			name: "account names an unknown alias",
			doc:  model + "accounts:\n  - {name: a, region: us-east-1, models: {other: {tpm: 1}}}\n",
			want: `config: account "a": unknown model alias "other"`,
		},
		{
			name: "alias with characters SQS queue names cannot have",
			doc:  "models:\n  \"claude sonnet\": {bedrock_model_id: amazon.nova-lite-v1:0}\n",
			want: `config: model alias "claude sonnet": use 1-48 letters, digits, '.', '_' or '-'`,
		},
		{
			name: "account without region",
			doc:  model + "accounts:\n  - {name: a, models: {m: {tpm: 1}}}\n",
			want: `config: account "a": region is required`,
		},
		{
			name: "unset ${VAR}",
			doc:  model + "accounts:\n  - {name: a, region: us-east-1, role_arn: \"${SLUICE_TEST_UNSET_A}\", external_id: \"${SLUICE_TEST_UNSET_B}\", models: {m: {tpm: 1}}}\n",
			want: "config references unset environment variables: SLUICE_TEST_UNSET_A, SLUICE_TEST_UNSET_B",
		},
		{
			name: "unknown field",
			doc:  model + "acounts: []\n",
			want: "parse config:",
		},
		{
			name: "no models",
			doc:  "accounts: []\n",
			want: "config: no models",
		},
		{
			name: "model without id",
			doc:  "models:\n  m: {default_max_tokens: 10}\n",
			want: `config: model "m": bedrock_model_id is required`,
		},
		{
			name: "default above max",
			doc:  "models:\n  m: {bedrock_model_id: x, default_max_tokens: 100, max_output_tokens: 10}\n",
			want: `config: model "m": default_max_tokens 100 exceeds max_output_tokens 10`,
		},
		{
			name: "account twice",
			doc:  model + "accounts:\n  - {name: a, region: us-east-1, models: {m: {tpm: 1}}}\n  - {name: a, region: us-west-2, models: {m: {tpm: 1}}}\n",
			want: `config: account "a" appears twice`,
		},
		{
			name: "account without name",
			doc:  model + "accounts:\n  - {region: us-east-1, models: {m: {tpm: 1}}}\n",
			want: "config: account 0 has no name",
		},
		{
			name: "account serving nothing",
			doc:  model + "accounts:\n  - {name: a, region: us-east-1}\n",
			want: `config: account "a" serves no models`,
		},
		{
			name: "negative budget",
			doc:  model + "accounts:\n  - {name: a, region: us-east-1, models: {m: {tpm: 1, rpm: -1}}}\n",
			want: `config: account "a" model "m": tpm must be positive`,
		},
		{
			name: "no tpm",
			doc:  model + "accounts:\n  - {name: a, region: us-east-1, models: {m: {rpm: 10}}}\n",
			want: `config: account "a" model "m": tpm must be positive`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadWithoutConfig(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://localhost/sluice")
	t.Setenv("SLUICE_CONFIG", "")
	t.Setenv("SLUICE_CONFIG_YAML", "")
	if _, _, err := Load(); err == nil || !strings.Contains(err.Error(), "no configuration") {
		t.Errorf("Load() error %v, want no configuration", err)
	}
}

// equalLines compares string lists one line each, so a failure shows which differ.
func equalLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if reflect.DeepEqual(got, want) || len(got) == 0 && len(want) == 0 {
		return
	}
	t.Errorf("%s:\n got:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
}

// router_settings.fallbacks (a list of {model_name: [fallbacks]}) become the
// aliases' fallbacks, in order, and are not reported as unused.
func TestLiteLLMFallbacks(t *testing.T) {
	doc := `
model_list:
  - {model_name: a, litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-east-1, tpm: 100}}
  - {model_name: b, litellm_params: {model: bedrock/amazon.nova-pro-v1:0, aws_region_name: us-east-1, tpm: 100}}
  - {model_name: c, litellm_params: {model: bedrock/amazon.nova-micro-v1:0, aws_region_name: us-east-1, tpm: 100}}
router_settings:
  routing_strategy: least-busy
  fallbacks: [{a: [c, b]}, {b: c}]
`
	cfg, warnings, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Models["a"].Fallbacks; !reflect.DeepEqual(got, []string{"c", "b"}) {
		t.Errorf("a falls back to %v, want [c b]", got)
	}
	if got := cfg.Models["b"].Fallbacks; !reflect.DeepEqual(got, []string{"c"}) {
		t.Errorf("b falls back to %v, want [c]", got)
	}
	equalLines(t, "warnings", warnings, []string{"router_settings.routing_strategy: not used by sluice"})

	for _, bad := range []struct{ fallbacks, want string }{
		{"[{a: [zz]}]", `fallback "zz" is not a model alias`},
		{"[{zz: [a]}]", `"zz" is not a model_name`},
		{"[{a: [a]}]", "falls back to itself"},
		{"{a: [b]}", "want a list of {model_name: [fallbacks]}"},
	} {
		doc := strings.Replace(doc, "fallbacks: [{a: [c, b]}, {b: c}]", "fallbacks: "+bad.fallbacks, 1)
		if _, _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("fallbacks %s: err %v, want %q", bad.fallbacks, err, bad.want)
		}
	}
}

// sluice's own format: fallbacks and fallback_after per alias.
func TestNativeFallbacks(t *testing.T) {
	base := `
models:
  a: {bedrock_model_id: amazon.nova-lite-v1:0, fallbacks: [b], fallback_after: 30s}
  b: {bedrock_model_id: amazon.nova-pro-v1:0}
  e: {bedrock_model_id: amazon.titan-embed-text-v2:0}
accounts:
  - {name: x, region: us-east-1, models: {a: {tpm: 10}, b: {tpm: 10}, e: {tpm: 10}}}
`
	cfg, _, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Models["a"]; !reflect.DeepEqual(a.Fallbacks, []string{"b"}) || a.FallbackAfter != 30*time.Second {
		t.Fatalf("a: fallbacks %v after %s", a.Fallbacks, a.FallbackAfter)
	}
	for _, bad := range []struct{ from, to, want string }{
		{"fallbacks: [b]", "fallbacks: [e]", "another kind of request"},
		{"fallbacks: [b]", "fallbacks: [b, b]", "listed twice"},
		{"fallbacks: [b], fallback_after: 30s", "fallback_after: 30s", "lists no alias"},
	} {
		doc := strings.Replace(base, bad.from, bad.to, 1)
		if _, _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err %v, want %q", bad.to, err, bad.want)
		}
	}
}
