package bedrocksim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sigv4Auth is a parsed "Authorization: AWS4-HMAC-SHA256 ..." header.
type sigv4Auth struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

const (
	sigv4Algorithm  = "AWS4-HMAC-SHA256"
	amzDateFormat   = "20060102T150405Z"
	maxSigningSkew  = 15 * time.Minute // what AWS tolerates between X-Amz-Date and now
	scopeTerminator = "aws4_request"
)

// parseSigV4 parses the Authorization header. ok is false when the header
// is missing or is not SigV4 at all.
func parseSigV4(header string) (a sigv4Auth, ok bool, err error) {
	if header == "" {
		return a, false, nil
	}
	rest, found := strings.CutPrefix(header, sigv4Algorithm+" ")
	if !found {
		return a, false, fmt.Errorf("authorization header is not %s", sigv4Algorithm)
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != scopeTerminator {
				return a, true, fmt.Errorf("malformed credential scope %q", v)
			}
			a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	if a.AccessKeyID == "" || len(a.SignedHeaders) == 0 || a.Signature == "" {
		return a, true, fmt.Errorf("authorization header lacks Credential, SignedHeaders or Signature")
	}
	return a, true, nil
}

// verifySigV4 recomputes the signature of r (whose body is body) with
// secret and compares it with the one the client sent. It follows the SigV4
// specification as the AWS SDKs implement it for non-S3 services: the
// canonical URI is the request's escaped path, escaped once more.
func verifySigV4(r *http.Request, body []byte, a sigv4Auth, secret string, now time.Time) error {
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return fmt.Errorf("X-Amz-Date %q is not a SigV4 timestamp", amzDate)
	}
	if !strings.HasPrefix(amzDate, a.Date) {
		return fmt.Errorf("credential scope date %s does not match X-Amz-Date %s", a.Date, amzDate)
	}
	if skew := now.Sub(signedAt); skew > maxSigningSkew || skew < -maxSigningSkew {
		return fmt.Errorf("signature expired: %s is now earlier than %s", amzDate, now.UTC().Add(-maxSigningSkew).Format(amzDateFormat))
	}
	if !slices.Contains(a.SignedHeaders, "host") {
		return fmt.Errorf("SignedHeaders must include host")
	}

	var canonicalHeaders strings.Builder
	for _, name := range a.SignedHeaders {
		var values []string
		switch name {
		case "host":
			values = []string{r.Host}
		case "content-length":
			values = slices.Clone(r.Header.Values(name))
			if len(values) == 0 {
				values = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		default:
			values = slices.Clone(r.Header.Values(name)) // trimmed below; the request stays as sent
		}
		for i, v := range values {
			values[i] = strings.Join(strings.Fields(v), " ")
		}
		canonicalHeaders.WriteString(name + ":" + strings.Join(values, ",") + "\n")
	}

	payloadHash := sha256.Sum256(body)
	canonicalRequest := strings.Join([]string{
		r.Method,
		uriEscape(r.URL.EscapedPath(), false),
		canonicalQuery(r.URL.Query()),
		canonicalHeaders.String(),
		strings.Join(a.SignedHeaders, ";"),
		hex.EncodeToString(payloadHash[:]),
	}, "\n")
	canonicalHash := sha256.Sum256([]byte(canonicalRequest))
	scope := strings.Join([]string{a.Date, a.Region, a.Service, scopeTerminator}, "/")
	stringToSign := strings.Join([]string{sigv4Algorithm, amzDate, scope, hex.EncodeToString(canonicalHash[:])}, "\n")

	key := []byte("AWS4" + secret)
	for _, part := range []string{a.Date, a.Region, a.Service, scopeTerminator} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return fmt.Errorf("the request signature we calculated does not match the signature you provided")
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// canonicalQuery encodes each name and value, then sorts (SigV4 sorts after
// encoding).
func canonicalQuery(q url.Values) string {
	var pairs [][2]string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, [2]string{uriEscape(k, true), uriEscape(v, true)})
		}
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p[0] + "=" + p[1]
	}
	return strings.Join(parts, "&")
}

// uriEscape escapes every byte except the RFC 3986 unreserved characters
// (and '/', unless escapeSlash).
func uriEscape(s string, escapeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		unreserved := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
		if unreserved || (c == '/' && !escapeSlash) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
