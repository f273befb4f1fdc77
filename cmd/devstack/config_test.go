package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// litellmConfig is the shape the issue brought: four deployments of one
// model_name, one on the container's own credentials and three roles with
// session names, rpm and tpm merged in from an anchor, and router settings.
const litellmConfig = `
model_defaults: &model_defaults
  model: bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0
  aws_region_name: us-east-1
  max_tokens: 256
  rpm: 5
  tpm: 20000
model_list:
  - model_name: team-claude
    litellm_params:
      <<: *model_defaults
  - model_name: team-claude
    litellm_params:
      <<: *model_defaults
      aws_role_name: arn:aws:iam::222222222222:role/bedrock-invoke
      aws_session_name: sluice-b
  - model_name: team-claude
    litellm_params:
      <<: *model_defaults
      aws_role_name: arn:aws:iam::333333333333:role/bedrock-invoke
      aws_session_name: sluice-c
  - model_name: team-claude
    litellm_params:
      <<: *model_defaults
      aws_role_name: arn:aws:iam::444444444444:role/bedrock-invoke
      aws_session_name: sluice-d
  - model_name: team-nova
    litellm_params:
      model: bedrock/amazon.nova-lite-v1:0
      aws_region_name: us-east-1
      tpm: 100000
router_settings:
  routing_strategy: least-busy
  timeout: 60
  num_retries: 2
  fallbacks: [{team-claude: [team-nova]}]
`

// TestDevServesALiteLLMConfig boots scripts/dev on a LiteLLM config alone:
// the simulator learns the accounts, roles and models from it, the banner
// shows its alias and how to make an account refuse, and the alias answers.
func TestDevServesALiteLLMConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	tmp := t.TempDir()
	path := filepath.Join(tmp, "litellm.yaml")
	if err := os.WriteFile(path, []byte(litellmConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, tmp, "-config", path)
	defer func() {
		syscall.Kill(d.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(90 * time.Second):
			d.cmd.Process.Kill()
			t.Errorf("devstack still running 90 s after SIGTERM")
		}
	}()
	banner := d.output()
	api, sim := "http://"+d.addrs["-addr"], "http://"+d.addrs["-sim-addr"]
	for _, want := range []string{`"model":"team-claude"`, "Aliases: team-claude, team-nova", sim + "/_sim/refuse?account=222222222222&what=model", sim + "/_sim/heal?account=222222222222"} {
		if !strings.Contains(banner, want) {
			t.Fatalf("banner lacks %q:\n%s", want, banner)
		}
	}

	do := func(method, url, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk-sluice-local")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// Every account of the alias answers: the three roles are assumed (with
	// their session names) and the container's own credentials reach
	// Bedrock, in the simulator's default account.
	var accounts struct {
		Data []struct {
			Account, Model, Status string
		}
	}
	healthy := 0
	for deadline := time.Now().Add(30 * time.Second); healthy < 4 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		status, body := do(http.MethodGet, api+"/v1/accounts", "")
		if status != http.StatusOK {
			t.Fatalf("GET /v1/accounts: %d %s", status, body)
		}
		if err := json.Unmarshal(body, &accounts); err != nil {
			t.Fatal(err)
		}
		healthy = 0
		for _, p := range accounts.Data {
			if p.Model == "team-claude" && p.Status == "healthy" {
				healthy++
			}
		}
	}
	if healthy != 4 {
		t.Fatalf("%d of 4 team-claude pools healthy: %+v", healthy, accounts.Data)
	}
	for i := range 3 {
		status, body := do(http.MethodPost, api+"/v1/chat/completions", `{"model":"team-claude","messages":[{"role":"user","content":"hi"}]}`)
		if status != http.StatusOK {
			t.Fatalf("completion %d: %d %s\n%s", i, status, body, d.output())
		}
	}
	// The banner's failover switch: the account refuses its model access,
	// and the alias is still served by the others.
	if status, body := do(http.MethodPost, sim+"/_sim/refuse?account=222222222222&what=model", ""); status != http.StatusOK {
		t.Fatalf("refuse: %d %s", status, body)
	}
	for i := range 4 {
		status, body := do(http.MethodPost, api+"/v1/chat/completions", `{"model":"team-claude","messages":[{"role":"user","content":"after the refusal"}]}`)
		if status != http.StatusOK {
			t.Fatalf("completion %d with account 222222222222 refusing: %d %s\n%s", i, status, body, d.output())
		}
	}
	// router_settings.fallbacks is imported, not reported as unused.
	if out := d.output(); strings.Contains(out, "router_settings.fallbacks") {
		t.Errorf("router_settings.fallbacks reported as unused:\n%s", out)
	}
}
