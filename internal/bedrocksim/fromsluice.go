package bedrocksim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-broker/sluice/internal/config"
)

// FromSluice derives what the simulator serves from a sluice configuration
// (sluice YAML or a LiteLLM proxy config, as config.Parse reads either): every
// Bedrock model an alias names, every AWS account a role names (with its
// external id), and each account's quotas as the configuration states them.
// Accounts without a role sign with the process's own credentials; they are
// the simulator's default account, so the base credentials reach Bedrock. The
// simulator answers for every region, so regions need no entry.
//
// Bedrock's quotas belong to an AWS account and region: two sluice accounts
// that are roles into one AWS account in one region share one quota (the
// larger of their budgets), while budgets in different regions add up, since
// the simulator does not tell regions apart.
func FromSluice(cfg *config.Config) (models map[string]ModelConfig, accounts []AccountConfig, defaultAccount string, err error) {
	known := DefaultModels()
	models = map[string]ModelConfig{}
	for _, alias := range cfg.Aliases() {
		m := cfg.Models[alias]
		mc, ok := known[m.BedrockModelID]
		if !ok {
			mc = ModelConfig{ServiceTiers: m.ServiceTiers, PromptCacheMinTokens: m.Cache().MinTokens, PromptCacheTools: m.Cache().Tools}
		}
		if m.MaxOutputTokens > 0 {
			mc.MaxOutputTokens = max(mc.MaxOutputTokens, m.MaxOutputTokens)
		}
		if m.Burndown > 0 {
			mc.Burndown = m.Burndown
		}
		if prev, ok := models[m.BedrockModelID]; ok {
			mc.MaxOutputTokens = max(mc.MaxOutputTokens, prev.MaxOutputTokens)
		}
		models[m.BedrockModelID] = mc
	}

	roleIDs := map[string]bool{}
	for _, a := range cfg.Accounts {
		if id, ok := accountOfRole(a.RoleARN); ok {
			roleIDs[id] = true
		} else if a.RoleARN != "" {
			return nil, nil, "", fmt.Errorf("account %q: role_arn %q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", a.Name, a.RoleARN)
		}
	}
	// The process's own credentials: a 12-digit id no role names.
	own := DefaultAccountID
	for n := 9; roleIDs[own]; n-- {
		own = strings.Repeat(fmt.Sprint(n), 12)
	}

	type regionQuota struct{ account, region, model string }
	perRegion := map[regionQuota]QuotaConfig{}
	byID := map[string]*AccountConfig{}
	var order []string
	for _, a := range cfg.Accounts {
		id, hasRole := accountOfRole(a.RoleARN)
		if !hasRole {
			id, defaultAccount = own, own
		}
		acct, ok := byID[id]
		if !ok {
			acct = &AccountConfig{ID: id, Quotas: map[string]QuotaConfig{}}
			byID[id] = acct
			order = append(order, id)
		}
		if hasRole && acct.ExternalID == "" {
			acct.ExternalID = a.ExternalID
		} else if hasRole && a.ExternalID != "" && a.ExternalID != acct.ExternalID {
			return nil, nil, "", fmt.Errorf("account %q: external id %q differs from %q of another role into AWS account %s; the simulator keeps one per account", a.Name, a.ExternalID, acct.ExternalID, id)
		}
		for alias, b := range a.Models {
			k := regionQuota{id, a.Region, cfg.Models[alias].BedrockModelID}
			mine := QuotaConfig{TPM: int64(b.TPM), RPM: int64(b.RPM), TPD: int64(b.TPD)}
			if q, ok := perRegion[k]; ok {
				mine = QuotaConfig{TPM: max(q.TPM, mine.TPM), RPM: maxLimit(q.RPM, mine.RPM), TPD: maxLimit(q.TPD, mine.TPD)}
			}
			perRegion[k] = mine
		}
	}
	keys := make([]regionQuota, 0, len(perRegion))
	for k := range perRegion {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b regionQuota) int {
		return strings.Compare(a.account+a.region+a.model, b.account+b.region+b.model)
	})
	for _, k := range keys {
		q, acct := perRegion[k], byID[k.account]
		sum, ok := acct.Quotas[k.model]
		if !ok {
			acct.Quotas[k.model] = q
			continue
		}
		acct.Quotas[k.model] = QuotaConfig{TPM: sum.TPM + q.TPM, RPM: addLimit(sum.RPM, q.RPM), TPD: addLimit(sum.TPD, q.TPD)}
	}
	for _, id := range order {
		accounts = append(accounts, *byID[id])
	}
	return models, accounts, defaultAccount, nil
}

// maxLimit and addLimit combine quotas where 0 means unlimited.
func maxLimit(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	return max(a, b)
}

func addLimit(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a + b
}

// accountOfRole is the AWS account id of a role ARN.
func accountOfRole(arn string) (string, bool) {
	m := roleARNPattern.FindStringSubmatch(arn)
	if m == nil {
		return "", false
	}
	return m[1], true
}
