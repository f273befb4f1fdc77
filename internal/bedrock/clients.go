package bedrock

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sluice-broker/sluice/internal/config"
)

// Endpoints override AWS's endpoints, for the simulator. Empty means AWS.
type Endpoints struct {
	Bedrock string
	STS     string
}

// NewClient builds the Bedrock Runtime client for one account: credentials from
// AssumeRole on the account's role (cached and refreshed before expiry), the
// account's region, and no SDK retries, because the broker owns retries and
// budgets and a silent retry would spend quota and hold the queue message.
//
// base is loaded once per process: loading it reads AWS_CA_BUNDLE and the
// shared config files, which must not happen per request.
func NewClient(base aws.Config, acct config.Account, ep Endpoints) *bedrockruntime.Client {
	cfg := base.Copy()
	cfg.Region = acct.Region
	if acct.RoleARN != "" {
		stsClient := sts.NewFromConfig(base, func(o *sts.Options) {
			o.Region = acct.Region
			if ep.STS != "" {
				o.BaseEndpoint = aws.String(ep.STS)
			}
		})
		provider := stscreds.NewAssumeRoleProvider(stsClient, acct.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = acct.SessionName
			if acct.ExternalID != "" {
				o.ExternalID = aws.String(acct.ExternalID)
			}
			o.Duration = time.Hour
		})
		cfg.Credentials = aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = 5 * time.Minute
			o.ExpiryWindowJitterFrac = 0.1
		})
	}
	return bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.Retryer = aws.NopRetryer{}
		if ep.Bedrock != "" {
			o.BaseEndpoint = aws.String(ep.Bedrock)
		}
	})
}

// InvalidateCredentials drops the cached credentials of a client NewClient
// built, so that its next call assumes the account's role again. Call it on
// the Credentials verdict: after a Bedrock-side reset the cache would
// otherwise keep refused credentials until ~5 minutes before they expire.
// It reports whether there was a cache to drop (an account without a role
// uses the process's own credentials, which the SDK refreshes itself).
func InvalidateCredentials(c *bedrockruntime.Client) bool {
	cache, ok := c.Options().Credentials.(*aws.CredentialsCache)
	if ok {
		cache.Invalidate()
	}
	return ok
}

// LoadBase loads the process's AWS configuration once.
func LoadBase(ctx context.Context, region string) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config for region %s: %w", region, err)
	}
	return cfg, nil
}
