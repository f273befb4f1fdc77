package bedrock_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/config"
)

func TestClassifyVerdicts(t *testing.T) {
	api := func(code string, fault smithy.ErrorFault) error {
		return &smithy.OperationError{ServiceID: "Bedrock Runtime", OperationName: "Converse",
			Err: &smithy.GenericAPIError{Code: code, Message: "m", Fault: fault}}
	}
	for _, c := range []struct {
		err  error
		want bedrock.Verdict
	}{
		{api("ThrottlingException", smithy.FaultClient), bedrock.Throttled},
		{api("throttlingException", smithy.FaultClient), bedrock.Throttled},
		{api("ServiceUnavailableException", smithy.FaultServer), bedrock.Retryable},
		{api("ValidationException", smithy.FaultClient), bedrock.Permanent},
		{api("AccessDeniedException", smithy.FaultClient), bedrock.Permanent},
		// Credential faults: a Bedrock-side reset, an expired session, a bad
		// signature, and STS's names for the same.
		{api("UnrecognizedClientException", smithy.FaultClient), bedrock.Credentials},
		{api("ExpiredTokenException", smithy.FaultClient), bedrock.Credentials},
		{api("InvalidSignatureException", smithy.FaultClient), bedrock.Credentials},
		{api("MissingAuthenticationTokenException", smithy.FaultClient), bedrock.Credentials},
		{api("InvalidClientTokenId", smithy.FaultClient), bedrock.Credentials},
		{api("ExpiredToken", smithy.FaultClient), bedrock.Credentials},
		{api("SignatureDoesNotMatch", smithy.FaultClient), bedrock.Credentials},
		// AssumeRole refused: STS's AccessDenied inside a signing error is
		// about the broker's credentials, not the caller's request.
		{&smithy.OperationError{ServiceID: "Bedrock Runtime", OperationName: "Converse",
			Err: &v4.SigningError{Err: api("AccessDenied", smithy.FaultClient)}}, bedrock.Credentials},
		{context.DeadlineExceeded, bedrock.Retryable},
		{errors.New("something else"), bedrock.Retryable},
	} {
		got := bedrock.Classify(c.err)
		if got.Verdict != c.want {
			t.Errorf("Classify(%v) = %v (%s), want %v", c.err, got.Verdict, got.Code, c.want)
		}
		if got.Error == nil || got.Error.Status < 400 {
			t.Errorf("Classify(%v) has no caller error: %+v", c.err, got.Error)
		}
		if got.Verdict == bedrock.Credentials && got.Error.Status < 500 {
			t.Errorf("a credential fault blames the caller: %+v", got.Error)
		}
	}
}

// A session the simulator forgot (a Bedrock-side reset) is a Credentials
// fault; after InvalidateCredentials the client assumes its role again and
// the next call succeeds.
func TestInvalidateCredentialsAssumesTheRoleAgain(t *testing.T) {
	sim, err := bedrocksim.New(bedrocksim.Config{Accounts: []bedrocksim.AccountConfig{{ID: "111111111111", ExternalID: "ext-a"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	base := aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(bedrocksim.DefaultBaseAccessKeyID, bedrocksim.DefaultBaseSecretAccessKey, "")}
	acct := config.Account{Name: "a", Region: "us-east-1", RoleARN: "arn:aws:iam::111111111111:role/bedrock", ExternalID: "ext-a", SessionName: "sluice-test"}
	client := bedrock.NewClient(base, acct, bedrock.Endpoints{Bedrock: srv.URL, STS: srv.URL})
	ctx := context.Background()
	call := func() error {
		_, err := client.Converse(ctx, &bedrockruntime.ConverseInput{
			ModelId: aws.String("us.anthropic.claude-sonnet-4-20250514-v1:0"),
			Messages: []types.Message{{Role: types.ConversationRoleUser,
				Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}},
			InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(16)},
		})
		return err
	}
	if err := call(); err != nil {
		t.Fatal(err)
	}
	sim.ForgetSessions()
	err = call()
	if c := bedrock.Classify(err); c.Verdict != bedrock.Credentials {
		t.Fatalf("call with a forgotten session: %v classified %v, want credentials", err, c.Verdict)
	}
	// Without invalidation the cache keeps the refused credentials.
	if err := call(); err == nil {
		t.Fatal("the cached, refused credentials worked again")
	}
	if !bedrock.InvalidateCredentials(client) {
		t.Fatal("a role account's client has no credentials cache")
	}
	if err := call(); err != nil {
		t.Fatalf("after invalidating: %v", err)
	}
	if n := sim.Stats().STS.AssumeRole; n != 2 {
		t.Fatalf("AssumeRole calls = %d, want 2 (start, and after the reset)", n)
	}
}

// A fault's scope: an account's never fails a job (it goes to another
// account); a refused session may be cured by assuming the role again.
func TestAccountFaultScopes(t *testing.T) {
	api := func(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }
	for _, tc := range []struct {
		err            error
		account, renew bool
	}{
		{api("AccessDenied", "not authorized to perform: sts:AssumeRole"), true, false},
		{api("AccessDeniedException", "You don't have access to the model with the specified model ID."), true, false},
		{api("ResourceNotFoundException", "model not found"), true, false},
		{api("UnrecognizedClientException", "The security token included in the request is invalid."), true, true},
		{api("ValidationException", "Invocation of model ID x with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile."), true, false},
		{api("ValidationException", "messages: at least one message is required"), false, false},
		{api("ThrottlingException", "Too many tokens"), false, false},
		{api("ServiceUnavailableException", "busy"), false, false},
		{errors.New("dial tcp: connection refused"), false, false},
	} {
		if c := bedrock.Classify(tc.err); c.Account != tc.account || c.Renew != tc.renew {
			t.Errorf("Classify(%v): account %v renew %v, want %v %v", tc.err, c.Account, c.Renew, tc.account, tc.renew)
		}
	}
}
