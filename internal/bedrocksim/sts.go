package bedrocksim

import (
	"encoding/xml"
	"hash/fnv"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

var (
	roleARNPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

// handleSTS answers the awsQuery protocol of STS: a form-encoded POST to /
// whose Action selects the operation.
func (s *Server) handleSTS(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	w.Header().Set("X-Amzn-Requestid", requestID)
	fail := func(e *apiError) {
		s.ledger.stsDenied()
		s.log.Info("sts error", "request_id", requestID, "code", e.Code, "message", e.Message)
		writeQueryError(w, e, requestID)
	}

	body, err := readBody(r)
	if err != nil {
		fail(newError("ValidationError", "read request body: %v", err))
		return
	}
	p, authErr := s.creds.authenticate(r, body, "sts", s.cfg.authEnabled(), time.Now())
	if authErr != nil {
		fail(authErr.stsError())
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		fail(newError("ValidationError", "malformed form body: %v", err))
		return
	}
	if v := form.Get("Version"); v != "2011-06-15" {
		fail(newError("InvalidAction", "Could not find operation %s for version %s", form.Get("Action"), v))
		return
	}
	switch action := form.Get("Action"); action {
	case "AssumeRole":
		resp, e := s.assumeRole(p, form, time.Now())
		if e != nil {
			fail(e)
			return
		}
		resp.Metadata.RequestID = requestID
		s.ledger.stsAssumeRole()
		s.log.Info("sts AssumeRole", "request_id", requestID, "caller", p.ARN, "role", resp.Result.User.ARN)
		writeXML(w, http.StatusOK, resp)
	case "GetCallerIdentity":
		s.ledger.stsGetCallerIdentity()
		account := p.Account
		if account == "" {
			account = "000000000000"
		}
		writeXML(w, http.StatusOK, getCallerIdentityResponse{
			Result:   callerIdentity{Account: account, ARN: p.ARN, UserID: p.UserID},
			Metadata: responseMetadata{RequestID: requestID},
		})
	default:
		fail(newError("InvalidAction", "Could not find operation %s for version 2011-06-15", action))
	}
}

// assumeRole checks an AssumeRole request against the configured accounts
// and issues credentials that map to the role's account.
func (s *Server) assumeRole(caller principal, form url.Values, now time.Time) (assumeRoleResponse, *apiError) {
	roleARN := form.Get("RoleArn")
	session := form.Get("RoleSessionName")
	m := roleARNPattern.FindStringSubmatch(roleARN)
	if m == nil {
		return assumeRoleResponse{}, newError("ValidationError", "%s is invalid", strconv.Quote(roleARN))
	}
	if !sessionNamePattern.MatchString(session) {
		return assumeRoleResponse{}, newError("ValidationError",
			"1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and match [\\w+=,.@-]*", session)
	}
	duration := time.Hour // the STS API default
	if v := form.Get("DurationSeconds"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 900 || secs > 43200 {
			return assumeRoleResponse{}, newError("ValidationError",
				"1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200", v)
		}
		duration = time.Duration(secs) * time.Second
	}

	accountID, roleName := m[1], m[2]
	denied := newError("AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, roleARN)
	acct, ok := s.cfg.account(accountID)
	if !ok || s.refusals.refuses(accountID, RefuseRole) {
		return assumeRoleResponse{}, denied
	}
	if acct.ExternalID != "" && form.Get("ExternalId") != acct.ExternalID {
		return assumeRoleResponse{}, denied
	}

	roleID := "AROA" + stableToken(roleARN, 17)
	assumed := principal{
		Account: accountID,
		ARN:     "arn:aws:sts::" + accountID + ":assumed-role/" + roleName + "/" + session,
		UserID:  roleID + ":" + session,
	}
	keyID, cred := s.creds.issue(assumed, duration, now)
	return assumeRoleResponse{
		Result: assumeRoleResult{
			User: assumedRoleUser{ARN: assumed.ARN, AssumedRoleID: assumed.UserID},
			Credentials: stsCredentials{
				AccessKeyID:     keyID,
				SecretAccessKey: cred.Secret,
				SessionToken:    cred.Token,
				Expiration:      cred.Expires.Format(time.RFC3339),
			},
		},
	}, nil
}

// stableToken derives n characters of [A-Z0-9] from s, so that the same role
// always gets the same role id.
func stableToken(s string, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	h := fnv.New64a()
	h.Write([]byte(s))
	x := h.Sum64()
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[x%uint64(len(alphabet))]
		x = x*6364136223846793005 + 1442695040888963407
	}
	return string(out)
}

// XML shapes of the STS responses, as the SDK's awsQuery deserializer reads
// them (it looks for the <ActionResult> element).

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type assumeRoleResponse struct {
	XMLName  xml.Name         `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Result   assumeRoleResult `xml:"AssumeRoleResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type assumeRoleResult struct {
	User        assumedRoleUser `xml:"AssumedRoleUser"`
	Credentials stsCredentials  `xml:"Credentials"`
}

type assumedRoleUser struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	ARN           string `xml:"Arn"`
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type getCallerIdentityResponse struct {
	XMLName  xml.Name         `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Result   callerIdentity   `xml:"GetCallerIdentityResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type callerIdentity struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	ARN     string `xml:"Arn"`
}
