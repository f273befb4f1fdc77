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
}

// Classify reads a Bedrock Runtime error. Codes are compared without case:
// in-stream exceptions arrive as throttlingException.
func Classify(err error) Classified {
	// Checked first: a failed AssumeRole carries STS's own API error, which
	// says nothing about the request.
	var signing *v4.SigningError
	if errors.As(err, &signing) {
		return Classified{Credentials, "CredentialsUnavailable", &openai.Error{Status: 502, Type: "server_error",
			Message: "The broker could not obtain credentials for its Bedrock account: " + err.Error()}}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code := api.ErrorCode()
		msg := api.ErrorMessage()
		switch strings.ToLower(code) {
		case "throttlingexception", "servicequotaexceededexception", "toomanyrequestsexception", "modelnotreadyexception":
			return Classified{Throttled, code, &openai.Error{Status: 429, Type: "rate_limit_error", Message: msg}}
		case "serviceunavailableexception", "internalserverexception", "modeltimeoutexception", "modelerrorexception", "modelstreamerrorexception":
			return Classified{Retryable, code, &openai.Error{Status: 502, Type: "server_error", Message: fmt.Sprintf("Bedrock %s: %s", code, msg)}}
		case "validationexception":
			return Classified{Permanent, code, openai.InvalidRequest("", "Bedrock rejected the request: %s", msg)}
		case "unrecognizedclientexception", "invalidsignatureexception", "expiredtokenexception", "missingauthenticationtokenexception",
			"invalidclienttokenid", "expiredtoken", "signaturedoesnotmatch", "requestexpired":
			return Classified{Credentials, code, &openai.Error{Status: 502, Type: "server_error", Message: fmt.Sprintf("The broker's Bedrock account credentials were refused (%s): %s", code, msg)}}
		case "accessdeniedexception":
			// IAM said no to a known identity: a policy, not a stale session.
			return Classified{Permanent, code, &openai.Error{Status: 502, Type: "server_error", Message: fmt.Sprintf("The broker's Bedrock account was refused (%s): %s", code, msg)}}
		case "resourcenotfoundexception":
			return Classified{Permanent, code, &openai.Error{Status: 502, Type: "server_error", Message: fmt.Sprintf("The Bedrock model behind this alias was not found (%s): %s", code, msg)}}
		}
		var fault interface{ ErrorFault() smithy.ErrorFault }
		if errors.As(err, &fault) && fault.ErrorFault() == smithy.FaultClient {
			return Classified{Permanent, code, openai.InvalidRequest("", "Bedrock rejected the request (%s): %s", code, msg)}
		}
		return Classified{Retryable, code, &openai.Error{Status: 502, Type: "server_error", Message: fmt.Sprintf("Bedrock %s: %s", code, msg)}}
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return Classified{Retryable, "NetworkError", &openai.Error{Status: 502, Type: "server_error", Message: "Bedrock could not be reached: " + err.Error()}}
	}
	return Classified{Retryable, "Unknown", &openai.Error{Status: 502, Type: "server_error", Message: "Bedrock call failed: " + err.Error()}}
}
