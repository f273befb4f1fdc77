package config

// LiteLLM migration: sluice reads a LiteLLM proxy config as it is, so that a
// team moving from LiteLLM points SLUICE_CONFIG at the file it already has.
//
// How the file maps onto sluice:
//
//   - Each model_list entry is one deployment. Its model_name is the sluice
//     alias; entries sharing a model_name become one alias served by every
//     account they name. litellm_params.model must be "bedrock/<id>" (also
//     "bedrock/converse/<id>", "bedrock/invoke/<id>", or a bare id with
//     custom_llm_provider: bedrock); <id> may be an inference profile or an ARN.
//     Entries for other providers are errors, not skipped: dropping a model
//     would change what clients can call, which a log line is too quiet for.
//     Entries of one alias must name the same Bedrock model id.
//   - Each distinct (aws_role_name, region, aws_external_id) is one sluice
//     account. The region is aws_region_name, else the region of an ARN model
//     id, else AWS_REGION_NAME, AWS_REGION or AWS_DEFAULT_REGION, as LiteLLM
//     falls back. See accountName for how accounts are named.
//   - tpm (required: sluice paces by it) and rpm (optional) are that account's
//     budget for the alias; the same account listed twice for one alias gets
//     the sum. max_tokens becomes default_max_tokens and
//     model_info.max_output_tokens max_output_tokens; burndown is
//     DefaultBurndown of the model id. service_tier becomes the alias's
//     service_tier; cache_control_injection_points turns on prompt_caching:
//     auto (sluice places the cache points itself, with a warning saying so).
//   - "os.environ/NAME" values are looked up in the file's
//     environment_variables section, then in the process environment; an
//     unset variable is an error naming it. Only values sluice reads are
//     resolved, so a variable missing for a setting sluice ignores is harmless.
//     YAML anchors, aliases and "<<" merge keys work, with the YAML merge rule
//     that a mapping's own keys win over merged ones.
//
// Every other key, at any depth sluice reads, comes back as a warning naming
// its path ("model_list[2].litellm_params.api_base: not used by sluice"),
// except these, which are harmless and ignored: top-level keys starting with
// "x-" (the conventional place for anchors), model_info.id (LiteLLM's
// deployment id), and litellm_settings set_verbose and json_logs (sluice's
// logging is set by SLUICE_LOG_LEVEL).
//
// Credential settings (static keys, aws_profile_name, aws_web_identity_token,
// litellm_credential_name, api_key) are warned about, because sluice signs
// with its own AWS credentials, or with aws_role_name assumed from them. An
// entry without aws_role_name whose credentials differ from the process's is
// an error: it spends another account's quota, which sluice cannot reach.

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// isLiteLLM reports whether a document is a LiteLLM proxy config: one with a
// top-level model_list, which sluice's own format never has. It looks only at
// the top-level keys, so that what is inside is left to FromLiteLLM to judge.
// A document that does not parse at all is left to the caller's decoding,
// which says what is wrong with it.
func isLiteLLM(doc []byte) bool {
	f, err := parser.ParseBytes(doc, 0)
	if err != nil || len(f.Docs) != 1 {
		return false
	}
	var pairs []*ast.MappingValueNode
	switch body := f.Docs[0].Body.(type) {
	case *ast.MappingNode:
		pairs = body.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{body}
	}
	for _, p := range pairs {
		if tok := p.Key.GetToken(); tok != nil && tok.Value == "model_list" {
			return true
		}
	}
	return false
}

// FromLiteLLM converts a LiteLLM proxy config into sluice's configuration,
// validated and with defaults applied. The warnings name every setting of the
// file that sluice does not carry over.
func FromLiteLLM(doc []byte) (*Config, []string, error) {
	root, err := parseTree(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("parse LiteLLM config: %w", err)
	}
	top, ok := root.(*ymap)
	if !ok {
		return nil, nil, fmt.Errorf("LiteLLM config: want a mapping at the top, got %s", describe(root))
	}
	im := &litellmImport{
		aliases:  map[string]*aliasImport{},
		byKey:    map[accountKey]*accountImport{},
		envUsed:  map[string]bool{},
		envNames: map[string]string{},
	}
	if err := im.readEnvSection(top); err != nil {
		return nil, nil, err
	}

	list, _ := top.get("model_list")
	entries, ok := list.([]any)
	if !ok {
		return nil, nil, fmt.Errorf("LiteLLM config: model_list: want a list of models, got %s", describe(list))
	}
	for i, e := range entries {
		if err := im.entry(i, e); err != nil {
			return nil, nil, err
		}
	}

	for _, k := range top.keys {
		switch {
		case k == "model_list", k == "environment_variables":
		case strings.HasPrefix(k, "x-"):
			// Anchor holders, as in docker-compose files.
		case k == "litellm_settings", k == "router_settings":
			if err := im.settings(k, top.vals[k]); err != nil {
				return nil, nil, err
			}
		case k == "general_settings":
			im.warnAll(k, top.vals[k])
		default:
			im.warn(k)
		}
	}
	// Last, since only now is it known which variables os.environ/ referenced.
	for _, name := range im.envOrder {
		if !im.envUsed[name] {
			im.warnHint("environment_variables."+name, "sluice does not set its own environment from the file")
		}
	}

	cfg := im.config()
	for alias, to := range im.fallbacks {
		m, ok := cfg.Models[alias]
		if !ok {
			return nil, nil, fmt.Errorf("LiteLLM config: fallbacks: %q is not a model_name of model_list", alias)
		}
		m.Fallbacks = to
		cfg.Models[alias] = m
	}
	if err := cfg.validate(); err != nil {
		return nil, nil, err // already "config: …", naming aliases and accounts
	}
	return cfg, im.warnings, nil
}

// litellmImport accumulates one LiteLLM document's models and accounts.
type litellmImport struct {
	aliases  map[string]*aliasImport
	accounts []*accountImport // in order of first appearance, for stable names
	byKey    map[accountKey]*accountImport
	warnings []string

	// The environment_variables section: values by name, in document order,
	// and which of them an os.environ/ reference read.
	envNames map[string]string
	envOrder []string
	envUsed  map[string]bool

	// fallbacks are router_settings.fallbacks (or litellm_settings'), by
	// model_name.
	fallbacks map[string][]string
}

type aliasImport struct {
	model Model
	entry int // the model_list index that set model, named in conflicts
}

// accountKey is what tells two LiteLLM deployments' AWS identities apart.
type accountKey struct {
	roleARN, region, externalID string
}

type accountImport struct {
	key         accountKey
	sessionName string
	budgets     map[string]*budgetImport // by alias
}

type budgetImport struct {
	Budget
	// rpmUnset records that some deployment summed here has no rpm limit, so
	// the sum has none either.
	rpmUnset bool
}

// Keys of a model_list entry's litellm_params that pick the credentials
// LiteLLM signs with. sluice signs with its own.
var credentialKeys = []string{
	"aws_access_key_id", "aws_secret_access_key", "aws_session_token",
	"aws_profile_name", "aws_web_identity_token", "litellm_credential_name", "api_key",
}

// Hints appended to the warnings for settings that have a sluice equivalent
// elsewhere, keyed by the last part of the path.
var settingHints = map[string]string{
	"master_key":                   "set SLUICE_MASTER_KEY instead",
	"database_url":                 "set DATABASE_URL instead",
	"api_base":                     "set SLUICE_BEDROCK_ENDPOINT instead",
	"aws_bedrock_runtime_endpoint": "set SLUICE_BEDROCK_ENDPOINT instead",
	"aws_sts_endpoint":             "set SLUICE_STS_ENDPOINT instead",
	"include":                      "sluice reads one file: copy the included model_list entries into it",
}

// Settings that are harmless to drop, by path with list indexes removed.
var ignoredSettings = map[string]bool{
	"model_list[].model_info.id":   true,
	"litellm_settings.set_verbose": true,
	"litellm_settings.json_logs":   true,
}

var listIndex = regexp.MustCompile(`\[\d+\]`)

func (im *litellmImport) warn(path string) {
	im.warnHint(path, settingHints[path[strings.LastIndex(path, ".")+1:]])
}

func (im *litellmImport) warnHint(path, hint string) {
	if ignoredSettings[listIndex.ReplaceAllString(path, "[]")] {
		return
	}
	w := path + ": not used by sluice"
	if hint != "" {
		w += "; " + hint
	}
	im.warnings = append(im.warnings, w)
}

// warnAll warns about each key of a settings section, or about the section
// itself when it is not a mapping. An empty section says nothing.
func (im *litellmImport) warnAll(path string, v any) {
	switch v := v.(type) {
	case nil:
	case *ymap:
		for _, k := range v.keys {
			im.warn(path + "." + k)
		}
	default:
		im.warn(path)
	}
}

// settings reads a settings section (router_settings, litellm_settings):
// fallbacks become the aliases' fallbacks, every other key is reported.
func (im *litellmImport) settings(path string, v any) error {
	m, ok := v.(*ymap)
	if !ok {
		im.warnAll(path, v)
		return nil
	}
	for _, k := range m.keys {
		if k != "fallbacks" {
			im.warn(path + "." + k)
			continue
		}
		if err := im.readFallbacks(path+".fallbacks", m.vals[k]); err != nil {
			return err
		}
	}
	return nil
}

// readFallbacks reads LiteLLM's fallbacks: a list of {model_name: [fallback
// model_names]}. sluice takes a fallback when no account of the alias can
// serve (see Model.Fallbacks), where LiteLLM takes it after a failed call.
func (im *litellmImport) readFallbacks(path string, v any) error {
	list, ok := v.([]any)
	if !ok && v != nil {
		return fmt.Errorf("LiteLLM config: %s: want a list of {model_name: [fallbacks]}, got %s", path, describe(v))
	}
	if im.fallbacks == nil {
		im.fallbacks = map[string][]string{}
	}
	for i, item := range list {
		m, ok := item.(*ymap)
		if !ok {
			return fmt.Errorf("LiteLLM config: %s[%d]: want {model_name: [fallbacks]}, got %s", path, i, describe(item))
		}
		for _, alias := range m.keys {
			to, ok := m.vals[alias].([]any)
			if !ok {
				to = []any{m.vals[alias]} // a single fallback written bare
			}
			for _, t := range to {
				name, err := scalarString(t)
				if err != nil || name == "" {
					return fmt.Errorf("LiteLLM config: %s[%d].%s: want model_names, got %s", path, i, alias, describe(t))
				}
				if !slices.Contains(im.fallbacks[alias], name) {
					im.fallbacks[alias] = append(im.fallbacks[alias], name)
				}
			}
		}
	}
	return nil
}

func (im *litellmImport) readEnvSection(top *ymap) error {
	v, _ := top.get("environment_variables")
	switch v := v.(type) {
	case nil:
		return nil
	case *ymap:
		for _, name := range v.keys {
			s, err := scalarString(v.vals[name])
			if err != nil {
				return fmt.Errorf("LiteLLM config: environment_variables.%s: %w", name, err)
			}
			im.envNames[name] = s
			im.envOrder = append(im.envOrder, name)
		}
		return nil
	default:
		return fmt.Errorf("LiteLLM config: environment_variables: want a mapping, got %s", describe(v))
	}
}

// lookupEnv finds a variable the way LiteLLM's proxy does: it first exports
// the file's environment_variables into the process environment, except those
// that are os.environ/ references to unset variables.
func (im *litellmImport) lookupEnv(name string) (string, bool) {
	if v, ok := im.envNames[name]; ok {
		ref, isRef := strings.CutPrefix(v, "os.environ/")
		if !isRef {
			im.envUsed[name] = true
			return v, true
		}
		if v, ok := os.LookupEnv(ref); ok {
			im.envUsed[name] = true
			return v, true
		}
	}
	return os.LookupEnv(name)
}

// entry imports model_list[i].
func (im *litellmImport) entry(i int, v any) error {
	path := fmt.Sprintf("model_list[%d]", i)
	e, ok := v.(*ymap)
	if !ok {
		return fmt.Errorf("LiteLLM config: %s: want a mapping with model_name and litellm_params, got %s", path, describe(v))
	}
	alias, ok := e.vals["model_name"].(string)
	if !ok || alias == "" {
		return fmt.Errorf("LiteLLM config: %s.model_name: want the model's name, got %s", path, describe(e.vals["model_name"]))
	}
	pm, ok := e.vals["litellm_params"].(*ymap)
	if !ok {
		return fmt.Errorf("LiteLLM config: %s.litellm_params: want a mapping, got %s", path, describe(e.vals["litellm_params"]))
	}
	p := &params{im: im, path: path + ".litellm_params", m: pm, used: map[string]bool{}}

	model, err := im.model(p)
	if err != nil {
		return err
	}
	key, session, err := im.identity(p, model.BedrockModelID)
	if err != nil {
		return err
	}
	tpm, ok, err := p.int("tpm")
	if err != nil {
		return err
	}
	if !ok || tpm <= 0 {
		return fmt.Errorf("LiteLLM config: %s.tpm: sluice needs the deployment's tokens-per-minute quota to pace it, got %s", p.path, describe(pm.vals["tpm"]))
	}
	rpm, hasRPM, err := p.int("rpm")
	if err != nil {
		return err
	}

	for _, k := range pm.keys {
		if !p.used[k] {
			im.warn(p.path + "." + k)
		}
	}
	for _, k := range e.keys {
		switch k {
		case "model_name", "litellm_params", "model_info":
		default:
			im.warn(path + "." + k)
		}
	}
	if err := im.modelInfo(path, e.vals["model_info"], &model); err != nil {
		return err
	}

	if err := im.addAlias(i, alias, model); err != nil {
		return err
	}
	im.addBudget(p.path, key, session, alias, Budget{TPM: tpm, RPM: rpm}, !hasRPM)
	return nil
}

// model reads the Bedrock model an entry calls and its output limit.
func (im *litellmImport) model(p *params) (Model, error) {
	name, err := p.str("model")
	if err != nil {
		return Model{}, err
	}
	provider, err := p.str("custom_llm_provider")
	if err != nil {
		return Model{}, err
	}
	id, route, ok := bedrockModel(name, provider)
	if !ok {
		return Model{}, fmt.Errorf("LiteLLM config: %s.model: %q (provider %q) is not a Bedrock model, and sluice brokers only Amazon Bedrock: remove the entry", p.path, name, providerOf(name, provider))
	}
	switch route {
	case "", "converse":
	case "invoke":
		im.warnings = append(im.warnings, fmt.Sprintf("%s.model: sluice calls %q with the Converse API, not InvokeModel as bedrock/invoke/ asked", p.path, id))
	default:
		return Model{}, fmt.Errorf("LiteLLM config: %s.model: %q uses LiteLLM's bedrock/%s/ route, which sluice does not support: it calls the Converse API with a model id or ARN", p.path, name, route)
	}
	if id == "" {
		return Model{}, fmt.Errorf("LiteLLM config: %s.model: %q names no Bedrock model id", p.path, name)
	}
	m := Model{BedrockModelID: id, Burndown: DefaultBurndown(id)}
	if m.DefaultMaxTokens, _, err = p.int("max_tokens"); err != nil {
		return Model{}, err
	}
	// LiteLLM passes service_tier on to Bedrock's serviceTier: it is the
	// alias's default tier.
	if m.ServiceTier, err = p.str("service_tier"); err != nil {
		return Model{}, err
	}
	// cache_control_injection_points asks LiteLLM to add cache points at
	// named places; sluice places them itself where they pay off.
	if _, ok := p.m.get("cache_control_injection_points"); ok {
		p.used["cache_control_injection_points"] = true
		m.PromptCaching = PromptCachingAuto
		im.warnings = append(im.warnings, fmt.Sprintf("%s.cache_control_injection_points: sluice uses prompt_caching: auto, which places cache points after the tools, the system prompt and the last stable turns", p.path))
	}
	return m, nil
}

// modelInfo reads the one model_info field sluice uses; the rest is LiteLLM's
// bookkeeping (pricing, context windows, tags) and is reported.
func (im *litellmImport) modelInfo(entryPath string, v any, m *Model) error {
	path := entryPath + ".model_info"
	info, ok := v.(*ymap)
	if !ok {
		im.warnAll(path, v)
		return nil
	}
	p := &params{im: im, path: path, m: info, used: map[string]bool{}}
	var err error
	if m.MaxOutputTokens, _, err = p.int("max_output_tokens"); err != nil {
		return err
	}
	for _, k := range info.keys {
		if !p.used[k] {
			im.warn(path + "." + k)
		}
	}
	return nil
}

// identity works out which AWS account and region an entry spends quota in.
func (im *litellmImport) identity(p *params, modelID string) (accountKey, string, error) {
	var k accountKey
	var err error
	if k.roleARN, err = p.str("aws_role_name"); err != nil {
		return k, "", err
	}
	var session string
	if k.roleARN == "" {
		// Both qualify assuming a role; LiteLLM ignores them without one too.
		for _, name := range []string{"aws_external_id", "aws_session_name"} {
			if p.m.has(name) {
				p.used[name] = true
				im.warnings = append(im.warnings, fmt.Sprintf("%s.%s: ignored without aws_role_name", p.path, name))
			}
		}
	} else {
		if _, _, ok := splitRoleARN(k.roleARN); !ok {
			return k, "", fmt.Errorf("LiteLLM config: %s.aws_role_name: %q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", p.path, k.roleARN)
		}
		if k.externalID, err = p.str("aws_external_id"); err != nil {
			return k, "", err
		}
		if session, err = p.str("aws_session_name"); err != nil {
			return k, "", err
		}
	}
	if k.region, err = im.region(p, modelID); err != nil {
		return k, "", err
	}
	if err := im.credentials(p, k.roleARN != ""); err != nil {
		return k, "", err
	}
	return k, session, nil
}

// region follows LiteLLM's order: the entry's own setting, the region of an
// ARN model id, then the environment. LiteLLM's last resort, boto's configured
// region or us-west-2, is not followed: sluice would be guessing.
func (im *litellmImport) region(p *params, modelID string) (string, error) {
	region, err := p.str("aws_region_name")
	if err != nil || region != "" {
		return region, err
	}
	if parts := strings.Split(modelID, ":"); len(parts) >= 6 && parts[0] == "arn" && parts[3] != "" {
		return parts[3], nil
	}
	for _, name := range []string{"AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v, ok := im.lookupEnv(name); ok && v != "" {
			im.warnings = append(im.warnings, fmt.Sprintf("%s: no aws_region_name; using %s=%s from the environment", p.path, name, v))
			return v, nil
		}
	}
	return "", fmt.Errorf("LiteLLM config: %s: no aws_region_name, and none of AWS_REGION_NAME, AWS_REGION, AWS_DEFAULT_REGION is set", p.path)
}

// credentials reports the credential settings sluice does not use, and refuses
// those that, without a role to assume, would decide which account pays.
func (im *litellmImport) credentials(p *params, hasRole bool) error {
	hint := "sluice assumes aws_role_name with its own AWS credentials"
	if !hasRole {
		hint = "sluice uses its own AWS credentials"
	}
	for _, k := range credentialKeys {
		if !p.m.has(k) {
			continue
		}
		p.used[k] = true
		im.warnHint(p.path+"."+k, hint)
		if hasRole || k == "aws_secret_access_key" || k == "aws_session_token" {
			continue
		}
		if k == "aws_access_key_id" {
			// Commonly os.environ/AWS_ACCESS_KEY_ID: the process's own key,
			// which sluice signs with too. Unset, it leaves LiteLLM on its
			// ambient credentials, as sluice is.
			if id, err := p.str(k); err != nil || id == os.Getenv("AWS_ACCESS_KEY_ID") {
				continue
			}
		}
		return fmt.Errorf("LiteLLM config: %s.%s: without aws_role_name these credentials decide which AWS account's quota the entry spends, and sluice signs with its own: add aws_role_name, or remove %s to use sluice's credentials", p.path, k, k)
	}
	return nil
}

func (im *litellmImport) addAlias(entry int, alias string, m Model) error {
	a, ok := im.aliases[alias]
	if !ok {
		im.aliases[alias] = &aliasImport{model: m, entry: entry}
		return nil
	}
	if a.model.BedrockModelID != m.BedrockModelID {
		return fmt.Errorf("LiteLLM config: model_list[%d]: model_name %q is Bedrock model %q here but %q in model_list[%d]; a sluice alias is one model, so give one of them another model_name",
			entry, alias, m.BedrockModelID, a.model.BedrockModelID, a.entry)
	}
	// Deployments of one alias may bound output differently; sluice has one
	// bound per alias and takes the smaller, which reserves less quota.
	a.model.DefaultMaxTokens = smallerLimit(a.model.DefaultMaxTokens, m.DefaultMaxTokens)
	a.model.MaxOutputTokens = smallerLimit(a.model.MaxOutputTokens, m.MaxOutputTokens)
	return nil
}

// smallerLimit is the smaller of two limits where 0 means unset.
func smallerLimit(a, b int) int {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

func (im *litellmImport) addBudget(path string, key accountKey, session, alias string, b Budget, rpmUnset bool) {
	acct, ok := im.byKey[key]
	if !ok {
		acct = &accountImport{key: key, sessionName: session, budgets: map[string]*budgetImport{}}
		im.byKey[key] = acct
		im.accounts = append(im.accounts, acct)
	}
	if session != "" && acct.sessionName == "" {
		acct.sessionName = session
	} else if session != "" && session != acct.sessionName {
		im.warnings = append(im.warnings, fmt.Sprintf("%s.aws_session_name: %q differs from %q set earlier for the same role; sluice uses %q", path, session, acct.sessionName, acct.sessionName))
	}
	sum, ok := acct.budgets[alias]
	if !ok {
		acct.budgets[alias] = &budgetImport{Budget: b, rpmUnset: rpmUnset}
		return
	}
	sum.TPM += b.TPM
	sum.RPM += b.RPM
	sum.rpmUnset = sum.rpmUnset || rpmUnset
}

// config assembles the imported models and accounts, naming the accounts.
func (im *litellmImport) config() *Config {
	cfg := &Config{Models: map[string]Model{}}
	for alias, a := range im.aliases {
		cfg.Models[alias] = a.model
	}
	taken := map[string]bool{}
	sameAWSAccount := map[string][]string{} // "<account id> <region>" → sluice account names
	var sameOrder []string
	for _, a := range im.accounts {
		name := accountName(a.key)
		for n := 2; taken[name]; n++ {
			name = fmt.Sprintf("%s-%d", accountName(a.key), n)
		}
		taken[name] = true
		if id, _, ok := splitRoleARN(a.key.roleARN); ok {
			k := id + " " + a.key.region
			if sameAWSAccount[k] == nil {
				sameOrder = append(sameOrder, k)
			}
			sameAWSAccount[k] = append(sameAWSAccount[k], name)
		}
		acct := Account{
			Name:        name,
			Region:      a.key.region,
			RoleARN:     a.key.roleARN,
			ExternalID:  a.key.externalID,
			SessionName: a.sessionName,
			Models:      map[string]Budget{},
		}
		for alias, b := range a.budgets {
			if b.rpmUnset {
				b.RPM = 0
			}
			acct.Models[alias] = b.Budget
		}
		cfg.Accounts = append(cfg.Accounts, acct)
	}
	// Bedrock quotas belong to an AWS account and region, not to a role, so
	// two roles into one account spend one quota between them.
	for _, k := range sameOrder {
		if names := sameAWSAccount[k]; len(names) > 1 {
			id, region, _ := strings.Cut(k, " ")
			im.warnings = append(im.warnings, fmt.Sprintf("accounts %s are all AWS account %s in %s: Bedrock quotas are per account and region, so their budgets share one quota", strings.Join(names, ", "), id, region))
		}
	}
	return cfg
}

// accountName names an account readably and the same way on every run: after
// the role, "<aws account id>-<role name>-<region>" (e.g.
// "111111111111-bedrock-caller-us-east-1"), and after the region alone for the
// process's own credentials ("us-east-1"). Characters other than letters,
// digits, '.', '_' and '-' become '-', so names stay usable in SLUICE_ACCOUNTS
// and in logs; config appends "-2", "-3"… where two accounts would share a name.
func accountName(k accountKey) string {
	if k.roleARN == "" {
		return k.region
	}
	id, role, _ := splitRoleARN(k.roleARN)
	return unsafeNameChars.ReplaceAllString(id+"-"+role+"-"+k.region, "-")
}

var unsafeNameChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// splitRoleARN returns the account id and the role's name (without its path)
// from arn:<partition>:iam::<account>:role/<path/><name>.
func splitRoleARN(arn string) (accountID, role string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || len(parts[4]) != 12 || strings.Trim(parts[4], "0123456789") != "" {
		return "", "", false
	}
	resource, ok := strings.CutPrefix(parts[5], "role/")
	if !ok {
		return "", "", false
	}
	role = resource[strings.LastIndex(resource, "/")+1:]
	return parts[4], role, role != ""
}

// bedrockModel returns the Bedrock model id a LiteLLM model string calls and
// the LiteLLM route it names ("converse" in "bedrock/converse/<id>"), or
// ok=false when the entry is for another provider. An explicit
// custom_llm_provider overrides the model's prefix, as in LiteLLM.
func bedrockModel(model, provider string) (id, route string, ok bool) {
	rest, prefixed := strings.CutPrefix(model, "bedrock/")
	switch {
	case provider != "" && provider != "bedrock":
		return "", "", false
	case provider == "bedrock" && !prefixed:
		rest = model
	case !prefixed:
		return "", "", false
	}
	if strings.HasPrefix(rest, "arn:") { // ARNs contain '/' themselves
		return rest, "", true
	}
	route, id, hasRoute := strings.Cut(rest, "/")
	if !hasRoute {
		return rest, "", true
	}
	return id, route, true
}

// providerOf names the provider LiteLLM would call, for messages.
func providerOf(model, provider string) string {
	if provider != "" {
		return provider
	}
	if p, _, ok := strings.Cut(model, "/"); ok {
		return p
	}
	return "openai" // LiteLLM's guess for a bare model name
}

// params is one mapping of a model_list entry with its path for messages. It
// records which keys sluice read, so that the others can be reported.
type params struct {
	im   *litellmImport
	path string
	m    *ymap
	used map[string]bool
}

// str reads a string setting, "" when absent, resolving os.environ/NAME.
func (p *params) str(key string) (string, error) {
	v, ok := p.m.get(key)
	p.used[key] = true
	if !ok || v == nil {
		return "", nil
	}
	s, err := scalarString(v)
	if err != nil {
		return "", fmt.Errorf("LiteLLM config: %s.%s: %w", p.path, key, err)
	}
	ref, isRef := strings.CutPrefix(s, "os.environ/")
	if !isRef {
		return s, nil
	}
	s, ok = p.im.lookupEnv(ref)
	if !ok {
		return "", fmt.Errorf("LiteLLM config: %s.%s: environment variable %s is not set (referenced as %q)", p.path, key, ref, "os.environ/"+ref)
	}
	return s, nil
}

// int reads a whole-number setting; ok is false when it is absent.
func (p *params) int(key string) (n int, ok bool, err error) {
	s, err := p.str(key)
	if err != nil || s == "" {
		return 0, false, err
	}
	// YAML may write a number as 1e6 or 400000.0; both are whole.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != float64(int(f)) {
		return 0, false, fmt.Errorf("LiteLLM config: %s.%s: want a whole number, got %q", p.path, key, s)
	}
	return int(f), true, nil
}

// scalarString renders a YAML scalar as the text LiteLLM would see.
func scalarString(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case *ymap, []any:
		return "", fmt.Errorf("want a single value, got %s", describe(v))
	default:
		return fmt.Sprint(v), nil
	}
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case *ymap:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return strconv.Quote(v)
	default:
		return fmt.Sprint(v)
	}
}

// ymap is a YAML mapping with its keys in document order, merge keys applied.
type ymap struct {
	keys []string
	vals map[string]any
}

func (m *ymap) get(k string) (any, bool) {
	v, ok := m.vals[k]
	return v, ok
}

func (m *ymap) has(k string) bool {
	_, ok := m.vals[k]
	return ok
}

func (m *ymap) set(k string, v any) {
	if _, ok := m.vals[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.vals[k] = v
}

// parseTree decodes a YAML document into *ymap, []any and scalars. It walks the
// syntax tree itself because the library's decoding lets a merged key
// override a key the mapping sets itself when the key comes before the "<<",
// where YAML says the mapping's own keys win.
func parseTree(doc []byte) (any, error) {
	f, err := parser.ParseBytes(doc, 0)
	if err != nil {
		return nil, err
	}
	if len(f.Docs) != 1 {
		return nil, fmt.Errorf("want one YAML document, found %d", len(f.Docs))
	}
	t := &tree{anchors: map[string]ast.Node{}}
	return t.value(f.Docs[0])
}

type tree struct {
	anchors map[string]ast.Node
}

func (t *tree) value(n ast.Node) (any, error) {
	switch n := n.(type) {
	case nil:
		return nil, nil
	case *ast.DocumentNode:
		return t.value(n.Body)
	case *ast.CommentGroupNode:
		return nil, nil
	case *ast.AnchorNode:
		v, err := t.value(n.Value)
		// Registered after its value, so an anchor cannot refer to itself.
		t.anchors[n.Name.GetToken().Value] = n.Value
		return v, err
	case *ast.AliasNode:
		name := n.Value.GetToken().Value
		target, ok := t.anchors[name]
		if !ok {
			return nil, fmt.Errorf("line %d: alias *%s has no anchor &%s before it", line(n), name, name)
		}
		return t.value(target)
	case *ast.MappingNode:
		return t.mapping(n.Values)
	case *ast.MappingValueNode:
		return t.mapping([]*ast.MappingValueNode{n})
	case *ast.SequenceNode:
		out := make([]any, 0, len(n.Values))
		for _, item := range n.Values {
			v, err := t.value(item)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *ast.TagNode:
		switch n.Value.(type) {
		case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
			return t.value(n.Value)
		}
	}
	var v any
	if err := yaml.NodeToValue(n, &v); err != nil {
		return nil, fmt.Errorf("line %d: %w", line(n), err)
	}
	return v, nil
}

// mapping applies YAML's merge-key rule: the mapping's own keys win over
// merged ones wherever the "<<" stands, and of several merged mappings the
// earlier wins. Merged keys take the place of the "<<" in the key order.
func (t *tree) mapping(pairs []*ast.MappingValueNode) (*ymap, error) {
	// The parser has already refused a key the mapping sets twice.
	own := map[string]bool{}
	for _, p := range pairs {
		if !p.Key.IsMergeKey() {
			k, err := t.key(p.Key)
			if err != nil {
				return nil, err
			}
			own[k] = true
		}
	}
	out := &ymap{vals: map[string]any{}}
	for _, p := range pairs {
		if !p.Key.IsMergeKey() {
			k, _ := t.key(p.Key)
			v, err := t.value(p.Value)
			if err != nil {
				return nil, err
			}
			out.set(k, v)
			continue
		}
		v, err := t.value(p.Value)
		if err != nil {
			return nil, err
		}
		sources, ok := v.([]any)
		if !ok {
			sources = []any{v}
		}
		for _, src := range sources {
			m, ok := src.(*ymap)
			if !ok {
				return nil, fmt.Errorf("line %d: << merges mappings, not %s", line(p.Key), describe(src))
			}
			for _, k := range m.keys {
				if !out.has(k) && !own[k] {
					out.set(k, m.vals[k])
				}
			}
		}
	}
	return out, nil
}

func (t *tree) key(n ast.MapKeyNode) (string, error) {
	var node ast.Node = n
	if k, ok := n.(*ast.MappingKeyNode); ok { // "? key" syntax
		node = k.Value
	}
	v, err := t.value(node)
	if err != nil {
		return "", err
	}
	s, err := scalarString(v)
	if err != nil {
		return "", fmt.Errorf("line %d: mapping key: %w", line(n), err)
	}
	return s, nil
}

func line(n ast.Node) int {
	if tok := n.GetToken(); tok != nil && tok.Position != nil {
		return tok.Position.Line
	}
	return 0
}
