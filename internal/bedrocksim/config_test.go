package bedrocksim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const exampleYAML = `
listen: 127.0.0.1:0
window: 2s
ttft: 0s
per_token: 5ms
default_output_tokens: 32
auth: true
base_access_key_id: AKIDSLUICELOCAL
base_secret_access_key: sluice-local-secret
default_account: "111111111111"
models:
  us.anthropic.claude-sonnet-4-20250514-v1:0: {max_output_tokens: 64000, burndown: 5}
  amazon.nova-lite-v1:0: {max_output_tokens: 5000, burndown: 1}
accounts:
  - id: "111111111111"
    external_id: ""
    quotas:
      us.anthropic.claude-sonnet-4-20250514-v1:0: {tpm: 400000, rpm: 0, tpd: 0}
  - id: "222222222222"
    external_id: ext
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sim.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfig(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, exampleYAML))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.Window != 2*time.Second || cfg.TTFT != 0 || cfg.PerToken != 5*time.Millisecond || cfg.DefaultOutputTokens != 32 || !cfg.authEnabled() {
		t.Errorf("scalars: %+v", cfg)
	}
	if m := cfg.Models[sonnet]; m.MaxOutputTokens != 64000 || m.Burndown != 5 || len(cfg.Models) != 2 {
		t.Errorf("models: %+v", cfg.Models)
	}
	if len(cfg.Accounts) != 2 || cfg.Accounts[0].Quotas[sonnet].TPM != 400000 || cfg.Accounts[1].ExternalID != "ext" {
		t.Errorf("accounts: %+v", cfg.Accounts)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if q := s.Stats().Model(DefaultAccountID, sonnet).Quota; q.TPM != 400000 || q.WindowMs != 2000 {
		t.Errorf("configured quota in stats: %+v", q)
	}
}

func TestLoadConfigDefaultsAndErrors(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, "listen: 127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TTFT != 200*time.Millisecond || cfg.PerToken != 10*time.Millisecond {
		t.Errorf("defaults not kept: ttft %s per_token %s", cfg.TTFT, cfg.PerToken)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eff := s.Config()
	if eff.DefaultAccount != DefaultAccountID || len(eff.Models) == 0 || eff.BaseAccessKeyID != DefaultBaseAccessKeyID {
		t.Errorf("effective defaults: %+v", eff)
	}

	if _, err := LoadConfig(writeConfig(t, "windoww: 1s\n")); err == nil {
		t.Error("unknown key accepted")
	}
	bad := map[string]Config{
		"short account id":        {Accounts: []AccountConfig{{ID: "123"}}},
		"quota for unknown model": {Accounts: []AccountConfig{{ID: DefaultAccountID, Quotas: map[string]QuotaConfig{"x": {TPM: 1}}}}},
		"default not an account":  {DefaultAccount: "999999999999"},
	}
	for name, c := range bad {
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), "bedrocksim config") {
			t.Errorf("%s: New err = %v", name, err)
		}
	}
}

func TestDirectiveLine(t *testing.T) {
	if got := Directive("fail", "ThrottlingException", "fail_times", "1"); got != "#sim: fail=ThrottlingException fail_times=1" {
		t.Errorf("Directive = %q", got)
	}
}
