package worker

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/sluice-broker/sluice/internal/config"
)

// A call is charged what Bedrock charges the quota: input and cache writes,
// plus output × burndown; cache reads are free. The estimator learns from
// the whole input, cache included, since the request's bytes are all of it.
func TestChargeCountsCacheWritesNotReads(t *testing.T) {
	p := &Pool{Model: config.Model{Burndown: 5}}
	charged, input := p.charge(&types.TokenUsage{
		InputTokens: aws.Int32(100), CacheReadInputTokens: aws.Int32(1500), CacheWriteInputTokens: aws.Int32(300), OutputTokens: aws.Int32(20),
	}, 9999)
	if charged != 100+300+5*20 {
		t.Errorf("charged %g, want 500", charged)
	}
	if input != 1900 {
		t.Errorf("input for the estimator %d, want 1900", input)
	}
	if charged, _ := p.charge(nil, 1234); charged != 1234 {
		t.Errorf("without usage the reservation stands: %g", charged)
	}
}
