package config

import "testing"

func TestDefaultBurndown(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want float64
	}{
		// Claude 3.7 Sonnet and the 4.x models, in both spellings Bedrock uses.
		{"anthropic.claude-3-7-sonnet-20250219-v1:0", 5},
		{"anthropic.claude-sonnet-4-20250514-v1:0", 5},
		{"anthropic.claude-sonnet-4-5-20250929-v1:0", 5},
		{"anthropic.claude-opus-4-20250514-v1:0", 5},
		{"anthropic.claude-opus-4-1-20250805-v1:0", 5},
		{"anthropic.claude-opus-4-5-20251101-v1:0", 5},
		{"anthropic.claude-haiku-4-5-20251001-v1:0", 5},
		{"anthropic.claude-sonnet-4-6", 5},
		{"anthropic.claude-opus-4-7-v1", 5},
		// Cross-region inference profiles and ARNs.
		{"us.anthropic.claude-3-7-sonnet-20250219-v1:0", 5},
		{"eu.anthropic.claude-sonnet-4-20250514-v1:0", 5},
		{"apac.anthropic.claude-sonnet-4-20250514-v1:0", 5},
		{"global.anthropic.claude-sonnet-4-5-20250929-v1:0", 5},
		{"US.Anthropic.Claude-Sonnet-4-20250514-V1:0", 5},
		{"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-4-20250514-v1:0", 5},
		{"arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0", 5},
		// A later generation than AWS lists errs on the side of not being throttled.
		{"anthropic.claude-sonnet-5", 5},
		// Earlier Claude models count output once.
		{"anthropic.claude-3-5-sonnet-20240620-v1:0", 1},
		{"anthropic.claude-3-5-sonnet-20241022-v2:0", 1},
		{"us.anthropic.claude-3-5-haiku-20241022-v1:0", 1},
		{"anthropic.claude-3-haiku-20240307-v1:0", 1},
		{"anthropic.claude-3-opus-20240229-v1:0", 1},
		{"anthropic.claude-v2:1", 1},
		{"anthropic.claude-instant-v1", 1},
		// Other providers.
		{"amazon.nova-lite-v1:0", 1},
		{"us.amazon.nova-pro-v1:0", 1},
		{"meta.llama3-1-70b-instruct-v1:0", 1},
		{"mistral.mistral-large-2407-v1:0", 1},
		{"amazon.titan-text-express-v1", 1},
		{"cohere.command-r-plus-v1:0", 1},
		// Application inference profiles do not name their model.
		{"arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/a1b2c3d4e5f6", 1},
		{"", 1},
	} {
		if got := DefaultBurndown(tc.id); got != tc.want {
			t.Errorf("DefaultBurndown(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
