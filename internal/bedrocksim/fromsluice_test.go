package bedrocksim

import (
	"testing"

	"github.com/sluice-broker/sluice/internal/config"
)

// The LiteLLM shape: one alias over the process's own credentials
// and three roles, budgets from a merged anchor.
const litellmFourAccounts = `
model_defaults: &defaults
  model: bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0
  aws_region_name: us-east-1
  rpm: 5
  tpm: 20000
model_list:
  - model_name: claude
    litellm_params: {<<: *defaults}
  - model_name: claude
    litellm_params: {<<: *defaults, aws_role_name: "arn:aws:iam::222222222222:role/bedrock", aws_session_name: s2}
  - model_name: claude
    litellm_params: {<<: *defaults, aws_role_name: "arn:aws:iam::333333333333:role/bedrock", aws_session_name: s3, aws_external_id: ext-3}
  - model_name: claude
    litellm_params: {<<: *defaults, aws_role_name: "arn:aws:iam::444444444444:role/bedrock", aws_session_name: s4, aws_region_name: us-west-2}
`

func TestFromSluiceDerivesAccountsAndQuotas(t *testing.T) {
	cfg, _, err := config.Parse([]byte(litellmFourAccounts))
	if err != nil {
		t.Fatal(err)
	}
	models, accounts, def, err := FromSluice(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const sonnet = "us.anthropic.claude-sonnet-4-20250514-v1:0"
	if m, ok := models[sonnet]; !ok || m.Burndown != 5 || len(models) != 1 {
		t.Fatalf("models = %+v", models)
	}
	if def != DefaultAccountID {
		t.Fatalf("default account = %q, want %s for the entry without a role", def, DefaultAccountID)
	}
	want := map[string]string{DefaultAccountID: "", "222222222222": "", "333333333333": "ext-3", "444444444444": ""}
	if len(accounts) != len(want) {
		t.Fatalf("accounts = %+v", accounts)
	}
	for _, a := range accounts {
		ext, ok := want[a.ID]
		if !ok || a.ExternalID != ext {
			t.Errorf("account %s external id %q; want %v", a.ID, a.ExternalID, want)
		}
		if q := a.Quotas[sonnet]; q.TPM != 20000 || q.RPM != 5 {
			t.Errorf("account %s quota %+v, want tpm 20000 rpm 5", a.ID, q)
		}
	}
	// What it derives is a simulator that starts.
	sim, err := New(Config{Models: models, Accounts: accounts, DefaultAccount: def})
	if err != nil {
		t.Fatal(err)
	}
	_ = sim
}

// Two roles into one AWS account and region share its quota; the same
// account in two regions has a quota in each, which the simulator adds up.
// A role into the default account's id moves the process's own account.
func TestFromSluiceSharesQuotaPerAccountAndRegion(t *testing.T) {
	cfg, _, err := config.Parse([]byte(`
models:
  nova: {bedrock_model_id: amazon.nova-lite-v1:0}
accounts:
  - {name: a, region: us-east-1, role_arn: "arn:aws:iam::111111111111:role/one", models: {nova: {tpm: 1000, rpm: 10}}}
  - {name: b, region: us-east-1, role_arn: "arn:aws:iam::111111111111:role/two", models: {nova: {tpm: 3000}}}
  - {name: c, region: eu-west-1, role_arn: "arn:aws:iam::111111111111:role/one", models: {nova: {tpm: 500, rpm: 4}}}
  - {name: own, region: us-east-1, models: {nova: {tpm: 700}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, accounts, def, err := FromSluice(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if def == "" || def == "111111111111" {
		t.Fatalf("default account %q", def)
	}
	got := map[string]QuotaConfig{}
	for _, a := range accounts {
		got[a.ID] = a.Quotas["amazon.nova-lite-v1:0"]
	}
	// us-east-1: max(1000, 3000), rpm unlimited (b has none); eu-west-1: 500.
	if q := got["111111111111"]; q.TPM != 3500 || q.RPM != 0 {
		t.Errorf("shared account quota %+v, want tpm 3500 and no rpm", q)
	}
	if q := got[def]; q.TPM != 700 {
		t.Errorf("own account quota %+v", q)
	}
}
