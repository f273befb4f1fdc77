package api

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/webhook"
)

// Headers a chat completion request may carry beyond OpenAI's.
const (
	// HeaderCallbackURL names the URL to call when the job ends; it overrides
	// the API key's default.
	HeaderCallbackURL = "X-Sluice-Callback-Url"
	// HeaderIdempotencyKey makes a retried submit return the job the first
	// one made (draft-ietf-httpapi-idempotency-key-header).
	HeaderIdempotencyKey = "Idempotency-Key"
	// MaxIdempotencyKey bounds an idempotency key's length.
	MaxIdempotencyKey = 255
)

// submission is what a chat completion request asks beyond its body.
type submission struct {
	async bool // Prefer: respond-async
	jobs.Submission
}

func (sub submission) mode() jobs.Mode {
	if sub.async {
		return jobs.Async
	}
	return jobs.Sync
}

// submission reads the request's headers. body is the request as stored: the
// idempotency fingerprint covers it and the callback URL, so a key reused for
// anything else is caught.
func (s *Server) submission(c echo.Context, body []byte) (submission, *openai.Error) {
	r := c.Request()
	sub := submission{async: prefersAsync(r.Header.Values("Prefer"))}
	var oerr *openai.Error
	if sub.APIKeyID, sub.CallbackURL, oerr = s.callback(c); oerr != nil {
		return sub, oerr
	}
	if key := r.Header.Get(HeaderIdempotencyKey); key != "" {
		if len(key) > MaxIdempotencyKey || strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			return sub, openai.InvalidRequest("", "The %s header must be 1 to %d visible ASCII characters.", HeaderIdempotencyKey, MaxIdempotencyKey).WithCode("invalid_idempotency_key")
		}
		sub.IdempotencyKey = key
	}
	if sub.IdempotencyKey != "" {
		h := sha256.New()
		h.Write(body)
		h.Write([]byte{0})
		h.Write([]byte(sub.CallbackURL))
		sub.Fingerprint = h.Sum(nil)
	}
	return sub, nil
}

// callback reads where a request wants its callback and which key will sign
// it: the X-Sluice-Callback-Url header, checked by the SSRF guard, or else the
// caller's key's default webhook URL (url is "" for none). Jobs and batches
// share it.
func (s *Server) callback(c echo.Context) (apiKeyID, url string, oerr *openai.Error) {
	r := c.Request()
	if k := callerKey(c); k != nil {
		apiKeyID, url = k.ID, k.WebhookURL
	}
	if raw := r.Header.Get(HeaderCallbackURL); raw != "" {
		guard := s.Guard
		if guard == nil {
			guard = webhook.NewGuard(false)
		}
		if err := guard.CheckURL(r.Context(), raw); err != nil {
			return "", "", openai.InvalidRequest("", "The %s header is not a usable callback URL: %s", HeaderCallbackURL, strings.TrimPrefix(err.Error(), webhook.ErrBadURL.Error()+": ")).WithCode("invalid_callback_url")
		}
		url = raw
	}
	if url != "" && apiKeyID == "" && s.Config.Env.WebhookSecret == "" {
		return "", "", openai.InvalidRequest("", "Callbacks of master-key requests are signed with SLUICE_WEBHOOK_SECRET, which this server does not have; use a managed API key or ask the operator to set it.").WithCode("callbacks_unavailable")
	}
	return apiKeyID, url, nil
}

// prefersAsync reports whether the Prefer headers (RFC 7240) ask for
// respond-async. Each header holds comma-separated preferences, each a token
// with an optional value and parameters; tokens are case-insensitive.
func prefersAsync(values []string) bool {
	for _, v := range values {
		for _, pref := range strings.Split(v, ",") {
			token, _, _ := strings.Cut(pref, ";")
			token, _, _ = strings.Cut(token, "=")
			if strings.EqualFold(strings.TrimSpace(token), "respond-async") {
				return true
			}
		}
	}
	return false
}

// submitError turns a failed Submit into the caller's answer.
func submitError(job *jobs.Job, sub submission, err error) error {
	if errors.Is(err, jobs.ErrIdempotencyMismatch) {
		// The IETF draft's answer to a key reused with another payload; a
		// replay would hand the caller a job for a request it did not send.
		e := &openai.Error{Status: http.StatusUnprocessableEntity, Type: "invalid_request_error",
			Message: fmt.Sprintf("The %s %q was already used for a different request; use a new key for a new request.", HeaderIdempotencyKey, sub.IdempotencyKey)}
		return e.WithCode("idempotency_key_reused")
	}
	return fmt.Errorf("accept chat completion %s: %w", job.ID, err)
}

// accepted answers an async submit: 202, the job, and where to poll it.
func accepted(c echo.Context, j *jobs.Job, replayed bool) error {
	h := c.Response().Header()
	h.Set(echo.HeaderLocation, "/v1/jobs/"+j.ID)
	h.Set("Preference-Applied", "respond-async")
	h.Set("X-Sluice-Job-Id", j.ID)
	if replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	return c.JSON(http.StatusAccepted, j.Resource())
}

// keepOnHangup is the echo context key that spares a sync job from being
// cancelled when its caller hangs up.
const keepOnHangup = "sluice.keep_on_hangup"
