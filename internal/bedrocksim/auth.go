package bedrocksim

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// principal is who signed a request, and the account its calls count against.
type principal struct {
	AccessKeyID string
	Account     string // empty: base credentials with no default account
	ARN         string
	UserID      string
}

// issuedCredential is a temporary credential handed out by AssumeRole.
type issuedCredential struct {
	Secret    string
	Token     string
	Expires   time.Time
	Principal principal
}

// credentialStore knows the base credential and every issued one.
type credentialStore struct {
	baseKeyID, baseSecret string
	basePrincipal         principal

	mu     sync.Mutex
	issued map[string]issuedCredential // by access key id
}

func newCredentialStore(cfg Config) *credentialStore {
	acct := cfg.DefaultAccount
	arnAccount := acct
	if arnAccount == "" {
		arnAccount = "000000000000"
	}
	return &credentialStore{
		baseKeyID:  cfg.BaseAccessKeyID,
		baseSecret: cfg.BaseSecretAccessKey,
		basePrincipal: principal{
			AccessKeyID: cfg.BaseAccessKeyID,
			Account:     acct,
			ARN:         "arn:aws:iam::" + arnAccount + ":user/sluice-local",
			UserID:      "AIDA" + randomToken(13),
		},
		issued: make(map[string]issuedCredential),
	}
}

// issue mints a temporary credential for p, valid for d.
func (cs *credentialStore) issue(p principal, d time.Duration, now time.Time) (keyID string, cred issuedCredential) {
	keyID = "ASIA" + randomToken(16)
	p.AccessKeyID = keyID
	cred = issuedCredential{
		Secret:    randomSecret(30),
		Token:     randomSecret(120),
		Expires:   now.Add(d).UTC().Truncate(time.Second),
		Principal: p,
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for id, c := range cs.issued { // forget long-expired credentials so the map stays small
		if now.Sub(c.Expires) > time.Hour {
			delete(cs.issued, id)
		}
	}
	cs.issued[keyID] = cred
	return keyID, cred
}

// forget drops every issued credential and answers how many there were.
func (cs *credentialStore) forget() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := len(cs.issued)
	clear(cs.issued)
	return n
}

// authFailure is why a request was not authenticated; each protocol names
// these differently (see bedrockError and stsError).
type authFailure struct {
	kind   authFailureKind
	detail string
}

type authFailureKind int

const (
	authMissing authFailureKind = iota + 1
	authUnknownKey
	authBadSignature
	authExpired
)

func (f *authFailure) bedrockError() *apiError {
	switch f.kind {
	case authMissing:
		return newError("MissingAuthenticationTokenException", "Missing Authentication Token")
	case authUnknownKey:
		return newError("UnrecognizedClientException", "The security token included in the request is invalid.")
	case authExpired:
		return newError("ExpiredTokenException", "The security token included in the request is expired")
	default:
		return newError("InvalidSignatureException", "%s", f.detail)
	}
}

func (f *authFailure) stsError() *apiError {
	switch f.kind {
	case authMissing:
		return newError("MissingAuthenticationToken", "Request is missing Authentication Token")
	case authUnknownKey:
		return newError("InvalidClientTokenId", "The security token included in the request is invalid.")
	case authExpired:
		return newError("ExpiredToken", "The security token included in the request is expired")
	default:
		return newError("SignatureDoesNotMatch", "%s", f.detail)
	}
}

// authenticate finds the principal that signed r and, when verify is set,
// checks the signature, the session token and the credential's expiry.
// service is the SigV4 signing name the endpoint expects ("bedrock", "sts").
// With verify off, a recognisable access key still selects its principal
// (so assumed-role calls keep their account), anything else is the base
// principal.
func (cs *credentialStore) authenticate(r *http.Request, body []byte, service string, verify bool, now time.Time) (principal, *authFailure) {
	a, present, err := parseSigV4(r.Header.Get("Authorization"))
	if !verify {
		if err == nil && present {
			if p, _, _, ok := cs.lookup(a.AccessKeyID); ok {
				return p, nil
			}
		}
		return cs.basePrincipal, nil
	}
	if !present {
		return principal{}, &authFailure{kind: authMissing}
	}
	if err != nil {
		return principal{}, &authFailure{kind: authBadSignature, detail: err.Error()}
	}
	p, secret, cred, ok := cs.lookup(a.AccessKeyID)
	if !ok {
		return principal{}, &authFailure{kind: authUnknownKey}
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if cred == nil && token != "" || cred != nil && token != cred.Token {
		// A session token that does not belong to the key makes the whole
		// credential unrecognised, as in AWS.
		return principal{}, &authFailure{kind: authUnknownKey}
	}
	if cred != nil && !now.Before(cred.Expires) {
		return principal{}, &authFailure{kind: authExpired}
	}
	if a.Service != service {
		return principal{}, &authFailure{kind: authBadSignature,
			detail: fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service)}
	}
	if err := verifySigV4(r, body, a, secret, now); err != nil {
		return principal{}, &authFailure{kind: authBadSignature, detail: err.Error()}
	}
	return p, nil
}

// lookup returns the principal and secret of an access key; cred is nil for
// the base credential.
func (cs *credentialStore) lookup(keyID string) (p principal, secret string, cred *issuedCredential, ok bool) {
	if keyID == cs.baseKeyID {
		return cs.basePrincipal, cs.baseSecret, nil, true
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.issued[keyID]
	if !ok {
		return principal{}, "", nil, false
	}
	return c.Principal, c.Secret, &c, true
}

// randomToken is n characters of [A-Z2-7], the alphabet of AWS key ids.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(base32.StdEncoding.EncodeToString(b))[:n]
}

func randomSecret(nBytes int) string {
	b := make([]byte, nBytes)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
