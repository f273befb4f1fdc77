package devstack

import (
	"fmt"
	"os"
	"strings"

	"github.com/sluice-broker/sluice/internal/config"
)

// readConfig parses the sluice configuration the stack runs (sluice YAML or
// a LiteLLM proxy config).
func readConfig(path string) (*config.Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, _, err := config.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// exampleAlias picks an alias of the running configuration for the banner's
// example: the first chat alias, or the first alias.
func exampleAlias(cfg *config.Config) string {
	all := cfg.Aliases()
	for _, a := range all {
		if !cfg.Models[a].Embedding() {
			return a
		}
	}
	if len(all) == 0 {
		return ""
	}
	return all[0]
}

// exampleAccount is the AWS account id the banner's failover example makes
// refuse: the first account with a role that serves alias, else the account
// of the process's own credentials.
func exampleAccount(cfg *config.Config, alias, own string) string {
	for _, a := range cfg.Accounts {
		if _, serves := a.Models[alias]; !serves || a.RoleARN == "" {
			continue
		}
		if parts := strings.Split(a.RoleARN, ":"); len(parts) == 6 {
			return parts[4]
		}
	}
	return own
}

// Banner says where every part of the stack is, every metrics URL, and how
// to try it.
func (s *Stack) Banner() string {
	var b strings.Builder
	sqs := s.SQSURL
	if s.SQSKind != "" {
		sqs += "   (" + s.SQSKind + ")"
	}
	fmt.Fprintf(&b, `
sluice is up.
  API         %[1]s   (key: %[2]s)
  simulator   %[3]s
  SQS         %[4]s
  Postgres    %[5]s

Metrics:
  api         %[1]s/metrics
  worker      %[6]s
  simulator   %[3]s/_sim/stats

Aliases: %[7]s
Try:
  curl -s %[1]s/v1/chat/completions -H "Authorization: Bearer %[2]s" \
    -d '{"model":"%[8]s","messages":[{"role":"user","content":"hi"}]}'
`, s.APIURL, s.MasterKey, s.SimURL, sqs, s.DBURL, s.WorkerMetricsURL, strings.Join(s.Aliases, ", "), s.exampleAlias)
	if s.refuseAccount != "" {
		fmt.Fprintf(&b, `
Watch failover: make AWS account %[3]s refuse its model access (what=role: its
role), see its pools turn unhealthy while others serve, then heal it:
  curl -s -X POST '%[2]s/_sim/refuse?account=%[3]s&what=model'
  curl -s %[1]s/v1/accounts -H "Authorization: Bearer %[4]s"
  curl -s -X POST '%[2]s/_sim/heal?account=%[3]s'
`, s.APIURL, s.SimURL, s.refuseAccount, s.MasterKey)
	}
	fmt.Fprint(&b, `
Ctrl-C (or SIGTERM to this process) stops everything.
`)
	return b.String()
}
