package devstack

import (
	"fmt"
	"os"
	"strings"

	"github.com/sluice-broker/sluice/internal/config"
)

// exampleAlias picks an alias of the running configuration for the banner's
// example: the first chat alias, or the first alias.
func exampleAlias(path string) (alias string, all []string, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	cfg, _, err := config.Parse(raw)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	all = cfg.Aliases()
	for _, a := range all {
		if !cfg.Models[a].Embedding() {
			return a, all, nil
		}
	}
	if len(all) == 0 {
		return "", nil, fmt.Errorf("%s: no models", path)
	}
	return all[0], all, nil
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

Ctrl-C (or SIGTERM to this process) stops everything.
`, s.APIURL, s.MasterKey, s.SimURL, sqs, s.DBURL, s.WorkerMetricsURL, strings.Join(s.Aliases, ", "), s.exampleAlias)
	return b.String()
}
