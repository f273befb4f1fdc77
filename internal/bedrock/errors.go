package bedrock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"

	"github.com/sluice-broker/sluice/internal/openai"
)

// Verdict says what the broker should do after a failed Bedrock call.
type Verdict int

const (
	// Throttled: the account is out of quota now. The job goes back to the
	// queue and the pool's budget shrinks; the caller never sees a 429.
	Throttled Verdict = iota + 1
	// Retryable: a transient fault. The job goes back to the queue with backoff.
	Retryable
	// Permanent: retrying cannot help. The job fails with Error.
	Permanent
	// Credentials: the account's credentials were refused (a session Bedrock
	// no longer knows, an expired token, a bad signature) or could not be
	// obtained. Not the job's fault: drop the account's cached credentials
	// (Client.InvalidateCredentials), assume the role again and retry, without
	// costing the job an attempt.
	Credentials
)

func (v Verdict) String() string {
	switch v {
	case Throttled:
		return "throttled"
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case Credentials:
		return "credentials"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Classified is a Bedrock error with the broker's verdict and the OpenAI error
// a caller gets if the job fails because of it.
type Classified struct {
	Verdict Verdict
	Code    string
	Error   *openai.Error
	// Account is set when the fault is the account's, not the job's nor a
	// passing one: its role cannot be assumed, its credentials are refused,
	// it has no access to the model, the model is not offered in its region
	// or needs an inference profile. Such a fault never fails a job: the job
	// goes to another account. Renew is set when new credentials (assuming
	// the role again) may cure it.
	Account, Renew bool
}

// accountScope tells an account's fault by its code (and, for a
// ValidationException, its message), and whether renewed credentials may
// cure it.
func accountScope(code, msg string) (account, renew bool) {
	switch strings.ToLower(code) {
	case "unrecognizedclientexception", "invalidsignatureexception", "expiredtokenexception", "expiredtoken":
		return true, true // Bedrock or STS refused the session
	case "accessdenied", "accessdeniedexception", // STS refused the role; model access not granted
		"invalidclienttokenid", "regiondisabledexception", "resourcenotfoundexception":
		return true, false
	case "validationexception":
		msg = strings.ToLower(msg)
		// The model needs an inference profile: the alias's configuration,
		// not the request, is wrong for this account.
		return strings.Contains(msg, "on-demand throughput") && strings.Contains(msg, "supported"), false
	}
	return false, false
}

// Classify reads a Bedrock Runtime error. Codes are compared without case:
// in-stream exceptions arrive as throttlingException.
func Classify(err error) Classified {
	c := classify(err)
	var api smithy.APIError
	if errors.As(err, &api) {
		c.Account, c.Renew = accountScope(api.ErrorCode(), api.ErrorMessage())
	}
	return c
}

func classify(err error) Classified {
	// Checked first: a failed AssumeRole carries STS's own API error, which
	// says nothing about the request.
	var signing *v4.SigningError
	if errors.As(err, &signing) {
		return Classified{Credentials, "CredentialsUnavailable", &openai.Error{Status: 502, Type: "server_error",
			Message: "The broker could not obtain credentials for its Bedrock account: " + err.Error()}, false, false}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code := api.ErrorCode()
		msg := api.ErrorMessage()
		switch strings.ToLower(code) {
		case "throttlingexception", "servicequotaexceededexception", "toomanyrequestsexception", "modelnotreadyexception":
			return Classified{Throttled, code, &openai.Error{Status: 429, Type: "rate_limit_error", Message: msg}, false, false}
		case "serviceunavailableexception", "internalserverexception", "modeltimeoutexception", "modelerrorexception", "modelstreamerrorexception":
			return Classified{Retryable, code, &openai.Error{Status: 502, Type: "server_error", Message: fmt.Sprintf("Bedrock %s: %s", code, msg)}, false, false}
		case "validationexception":
			return Classified{Permanent, code, openai.InvalidRequest("", "Bedrock rejected the request: %s", msg), false, false}
		case "unrecognizedclientexception", "invalidsignatureexception", "expiredtokenexception", "missingauthenticationtokenexception",
			"invalidclienttokenid", "expiredtoken", "signaturedoesnotmatch", "requestexpired":
			return Classified{Credentials, code, &openai.Error{Status: 502, Type: "server_error", Message: fmt.Sprintf("The broker's Bedrock account credentials were refused (%s): %s", code, msg)}, false, false}
		case "accessdeniedexception":
			// IAM said no to a known identity: a policy, not a stale session.
			return Classified{Permanent, code, &openai.Error{Status: 502, Type: "server_error", Message: fmt.Sprintf("The broker's Bedrock account was refused (%s): %s", code, msg)}, false, false}
		case "resourcenotfoundexception":
			return Classified{Permanent, code, &openai.Error{Status: 502, Type: "server_error", Message: fmt.Sprintf("The Bedrock model behind this alias was not found (%s): %s", code, msg)}, false, false}
		}
		var fault interface{ ErrorFault() smithy.ErrorFault }
		if errors.As(err, &fault) && fault.ErrorFault() == smithy.FaultClient {
			return Classified{Permanent, code, openai.InvalidRequest("", "Bedrock rejected the request (%s): %s", code, msg), false, false}
		}
		return Classified{Retryable, code, &openai.Error{Status: 502, Type: "server_error", Message: fmt.Sprintf("Bedrock %s: %s", code, msg)}, false, false}
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return Classified{Retryable, "NetworkError", &openai.Error{Status: 502, Type: "server_error", Message: "Bedrock could not be reached: " + err.Error()}, false, false}
	}
	return Classified{Retryable, "Unknown", &openai.Error{Status: 502, Type: "server_error", Message: "Bedrock call failed: " + err.Error()}, false, false}
}
