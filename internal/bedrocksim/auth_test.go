package bedrocksim

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

const roleAccount = "222222222222"

func twoAccounts() Config {
	return Config{
		DefaultAccount: DefaultAccountID,
		Accounts: []AccountConfig{
			{ID: DefaultAccountID},
			{ID: roleAccount, ExternalID: "ext-222"},
		},
	}
}

func assumeRole(url, roleARN, externalID string) aws.CredentialsProvider {
	stsc := stsClient(url, awsConfig(baseCreds()))
	p := stscreds.NewAssumeRoleProvider(stsc, roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "sluice-test"
		if externalID != "" {
			o.ExternalID = aws.String(externalID)
		}
		o.Duration = time.Hour
	})
	return aws.NewCredentialsCache(p)
}

func TestAssumeRoleCallsCountAgainstTheRolesAccount(t *testing.T) {
	s, url := newSim(t, twoAccounts())
	ctx := ctxTimeout(t)
	creds := assumeRole(url, "arn:aws:iam::"+roleAccount+":role/sluice-bedrock", "ext-222")

	got, err := creds.Retrieve(ctx)
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	if !strings.HasPrefix(got.AccessKeyID, "ASIA") || got.SessionToken == "" || !got.CanExpire || time.Until(got.Expires) < 50*time.Minute {
		t.Errorf("credentials %+v: want an ASIA key, a session token, ~1h expiry", got)
	}

	client := bedrockClient(url, awsConfig(creds))
	for range 2 {
		if _, err := client.Converse(ctx, converseInput(sonnet, 10, userText("as the role"))); err != nil {
			t.Fatalf("Converse with assumed-role credentials: %v", err)
		}
	}
	st := s.Stats()
	if n := st.Model(roleAccount, sonnet).Totals.Admitted; n != 2 {
		t.Errorf("role account admitted %d calls, want 2", n)
	}
	if n := st.Model(DefaultAccountID, sonnet).Totals.Admitted; n != 0 {
		t.Errorf("default account admitted %d calls, want 0", n)
	}
	if st.STS.AssumeRole != 1 {
		t.Errorf("sts.assume_role = %d, want 1 (credentials are cached)", st.STS.AssumeRole)
	}

	id, err := stsClient(url, awsConfig(creds)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if aws.ToString(id.Account) != roleAccount || !strings.Contains(aws.ToString(id.Arn), ":assumed-role/sluice-bedrock/sluice-test") {
		t.Errorf("caller identity %s %s", aws.ToString(id.Account), aws.ToString(id.Arn))
	}
}

func TestAssumeRoleDenied(t *testing.T) {
	_, url := newSim(t, twoAccounts())
	ctx := ctxTimeout(t)
	cases := map[string]aws.CredentialsProvider{
		"wrong external id":   assumeRole(url, "arn:aws:iam::"+roleAccount+":role/r", "nope"),
		"missing external id": assumeRole(url, "arn:aws:iam::"+roleAccount+":role/r", ""),
		"unknown account":     assumeRole(url, "arn:aws:iam::333333333333:role/r", ""),
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := p.Retrieve(ctx)
			if code := errorCode(err); code != "AccessDenied" {
				t.Fatalf("err = %v (code %q), want AccessDenied", err, code)
			}
		})
	}
	_, err := assumeRole(url, "not-an-arn", "").Retrieve(ctx)
	if code := errorCode(err); code != "ValidationError" {
		t.Fatalf("bad role ARN: err = %v, want ValidationError", err)
	}
}

// rewritingClient changes each signed request before sending it.
type rewritingClient func(*http.Request)

func (f rewritingClient) Do(r *http.Request) (*http.Response, error) {
	f(r)
	return http.DefaultClient.Do(r)
}

// tamper flips the last hex digit of the signature.
func tamper(r *http.Request) {
	auth := r.Header.Get("Authorization")
	last := "0"
	if strings.HasSuffix(auth, "0") {
		last = "1"
	}
	r.Header.Set("Authorization", auth[:len(auth)-1]+last)
}

// unsign removes the signature. (aws.AnonymousCredentials would not do:
// the Bedrock client then falls back to bearer-token auth.)
func unsign(r *http.Request) {
	r.Header.Del("Authorization")
	r.Header.Del("X-Amz-Date")
}

func withHTTPClient(cfg aws.Config, c aws.HTTPClient) aws.Config {
	cfg.HTTPClient = c
	return cfg
}

func TestBedrockAuthRejections(t *testing.T) {
	s, url := newSim(t, twoAccounts())
	ctx := ctxTimeout(t)
	tampered := withHTTPClient(awsConfig(baseCreds()), rewritingClient(tamper))

	cases := []struct {
		name string
		cfg  aws.Config
		code string
	}{
		{"unsigned", withHTTPClient(awsConfig(baseCreds()), rewritingClient(unsign)), "MissingAuthenticationTokenException"},
		{"unknown key", awsConfig(credentials.NewStaticCredentialsProvider("AKIDUNKNOWN", "x", "")), "UnrecognizedClientException"},
		{"wrong secret", awsConfig(credentials.NewStaticCredentialsProvider(DefaultBaseAccessKeyID, "wrong", "")), "InvalidSignatureException"},
		{"tampered signature", tampered, "InvalidSignatureException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bedrockClient(url, tc.cfg).Converse(ctx, converseInput(sonnet, 10, userText("x")))
			if code := errorCode(err); code != tc.code {
				t.Fatalf("err = %v (code %q), want %s", err, code, tc.code)
			}
		})
	}

	// An issued key without its session token is not recognised.
	issued, err := assumeRole(url, "arn:aws:iam::"+roleAccount+":role/r", "ext-222").Retrieve(ctx)
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	noToken := credentials.NewStaticCredentialsProvider(issued.AccessKeyID, issued.SecretAccessKey, "")
	_, err = bedrockClient(url, awsConfig(noToken)).Converse(ctx, converseInput(sonnet, 10, userText("x")))
	if code := errorCode(err); code != "UnrecognizedClientException" {
		t.Fatalf("issued key without token: err = %v, want UnrecognizedClientException", err)
	}
	if n := s.Stats().AuthFailures; n != int64(len(cases)+1) {
		t.Errorf("auth_failures = %d, want %d", n, len(cases)+1)
	}

	// STS names the same failures its own way.
	_, err = stsClient(url, awsConfig(credentials.NewStaticCredentialsProvider("AKIDUNKNOWN", "x", ""))).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code := errorCode(err); code != "InvalidClientTokenId" {
		t.Fatalf("STS unknown key: err = %v, want InvalidClientTokenId", err)
	}
	_, err = stsClient(url, tampered).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code := errorCode(err); code != "SignatureDoesNotMatch" {
		t.Fatalf("STS tampered: err = %v, want SignatureDoesNotMatch", err)
	}
}

func TestBaseCredentialsWithoutDefaultAccountAreDenied(t *testing.T) {
	_, url := newSim(t, Config{Accounts: []AccountConfig{{ID: roleAccount}}})
	_, err := bedrockClient(url, awsConfig(baseCreds())).Converse(ctxTimeout(t), converseInput(sonnet, 10, userText("x")))
	var ade *types.AccessDeniedException
	if !errors.As(err, &ade) {
		t.Fatalf("err = %v, want *types.AccessDeniedException", err)
	}
}

func TestAuthDisabled(t *testing.T) {
	off := false
	_, url := newSim(t, Config{Auth: &off})
	_, err := bedrockClient(url, withHTTPClient(awsConfig(baseCreds()), rewritingClient(unsign))).Converse(context.Background(), converseInput(sonnet, 10, userText("x")))
	if err != nil {
		t.Fatalf("unsigned call with auth off: %v", err)
	}
}

func TestExpiredCredentialsAndBaseIdentity(t *testing.T) {
	s, url := newSim(t, twoAccounts())
	ctx := ctxTimeout(t)

	// Issued an hour ago for a second: expired.
	keyID, cred := s.creds.issue(principal{Account: roleAccount, ARN: "arn:aws:sts::" + roleAccount + ":assumed-role/r/s"}, time.Second, time.Now().Add(-time.Hour))
	expired := credentials.NewStaticCredentialsProvider(keyID, cred.Secret, cred.Token)
	_, err := bedrockClient(url, awsConfig(expired)).Converse(ctx, converseInput(sonnet, 10, userText("x")))
	if code := errorCode(err); code != "ExpiredTokenException" {
		t.Fatalf("expired credentials: err = %v, want ExpiredTokenException", err)
	}

	id, err := stsClient(url, awsConfig(baseCreds())).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if aws.ToString(id.Account) != DefaultAccountID || !strings.HasSuffix(aws.ToString(id.Arn), ":user/sluice-local") {
		t.Errorf("base identity %s %s", aws.ToString(id.Account), aws.ToString(id.Arn))
	}
}

// Forgetting issued sessions (a Bedrock-side reset) refuses the cached
// credentials with UnrecognizedClientException; a fresh AssumeRole works.
func TestForgetSessions(t *testing.T) {
	_, url := newSim(t, twoAccounts())
	ctx := ctxTimeout(t)
	roleARN := "arn:aws:iam::" + roleAccount + ":role/sluice-bedrock"
	creds := assumeRole(url, roleARN, "ext-222").(*aws.CredentialsCache)
	client := bedrockClient(url, awsConfig(creds))
	if _, err := client.Converse(ctx, converseInput(sonnet, 10, userText("before"))); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url+"/_sim/forget-sessions", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("forget-sessions: %s", resp.Status)
	}
	_, err = client.Converse(ctx, converseInput(sonnet, 10, userText("forgotten")))
	if code := errorCode(err); code != "UnrecognizedClientException" {
		t.Fatalf("forgotten session: err = %v, want UnrecognizedClientException", err)
	}
	creds.Invalidate()
	if _, err := client.Converse(ctx, converseInput(sonnet, 10, userText("assumed again"))); err != nil {
		t.Fatalf("after assuming the role again: %v", err)
	}
	// The base credential is not a session: it still works.
	if _, err := stsClient(url, awsConfig(baseCreds())).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("base credential after forgetting sessions: %v", err)
	}
}
