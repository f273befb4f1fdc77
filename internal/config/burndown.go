package config

import (
	"strconv"
	"strings"
)

// Bedrock counts some models' output tokens several times against the
// tokens-per-minute quota (the "burndown rate"): 5× for Claude 3.7 Sonnet and
// the Claude 4 models, 1× for everything else. Getting it wrong in the low
// direction makes sluice send more than the quota admits and get throttled, so
// Claude generations newer than those AWS lists are counted at 5× as well.
const claudeBurndown = 5

// DefaultBurndown is the output burndown factor for a Bedrock model id, used
// when the configuration does not set one. It accepts plain ids
// ("anthropic.claude-sonnet-4-20250514-v1:0"), cross-region inference profiles
// ("us.", "eu.", "apac.", "global." …) and ARNs of foundation models and
// system-defined inference profiles. Application inference profiles have opaque
// ids that do not name the model; they get 1 and need burndown set explicitly.
func DefaultBurndown(bedrockModelID string) float64 {
	major, minor, ok := claudeVersion(bedrockModelID)
	if ok && (major > 3 || major == 3 && minor >= 7) {
		return claudeBurndown
	}
	return 1
}

// claudeVersion finds the generation in a Claude model id. Bedrock has spelled
// it two ways: "claude-3-7-sonnet-20250219-v1:0" (version first) and
// "claude-opus-4-1-20250805-v1:0" or "claude-sonnet-4-6" (family first). In
// both, the version is the first one- or two-digit dash-separated number, and
// the minor version, if any, is the number right after it; the eight-digit
// date that often follows is not a minor version. Ids with no such number
// ("claude-v2:1", "claude-instant-v1") are the pre-3 models.
func claudeVersion(id string) (major, minor int, ok bool) {
	id = strings.ToLower(id)
	i := strings.Index(id, "claude-")
	if i < 0 {
		return 0, 0, false
	}
	parts := strings.Split(id[i+len("claude-"):], "-")
	for j, p := range parts {
		n, isVersion := versionNumber(p)
		if !isVersion {
			continue
		}
		if j+1 < len(parts) {
			minor, _ = versionNumber(parts[j+1])
		}
		return n, minor, true
	}
	return 0, 0, false
}

// versionNumber parses a one- or two-digit number, the only lengths a Claude
// version part has.
func versionNumber(s string) (int, bool) {
	if len(s) == 0 || len(s) > 2 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
