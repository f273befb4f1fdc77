package api

import (
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// Response headers the OpenAI SDKs read.
const (
	// HeaderRequestID identifies the response: the SDKs expose it as the
	// request id (openai-go: the header of the *http.Response; Node:
	// completion._request_id; Python: completion._request_id).
	HeaderRequestID = "X-Request-Id"
	// HeaderClientRequestID carries the id a caller chose for its request.
	HeaderClientRequestID = "X-Client-Request-Id"
	// HeaderShouldRetry overrides the SDKs' own retry rules (they retry
	// 408, 409, 429 and 5xx) when it says "true" or "false".
	HeaderShouldRetry = "X-Should-Retry"
	// HeaderJobID names the job behind a response, where there is one.
	HeaderJobID = "X-Sluice-Job-Id"
)

// responseHeaders sets, just before the status line goes out, the headers
// clients rely on:
//
//   - X-Request-Id on every response: the job's id when the response is about
//     a job (the same id GET /v1/jobs/{id} takes, so a request id from a log
//     leads straight to the job), else a fresh one. sluice never echoes a
//     caller's X-Request-Id as its own: the id must name sluice's record, and
//     a caller's could collide with another's. A caller's id (sent as
//     X-Client-Request-Id, or X-Request-Id) comes back as
//     X-Client-Request-Id and is logged with sluice's.
//   - X-Should-Retry: false on errors a retry cannot fix or that sluice has
//     already retried: every 4xx except 408 and 429, and every error of a job
//     (its worker retried throttles and transient Bedrock faults before
//     failing it; a retry would be a new job doing the same again, and a
//     sync wait that timed out leaves a job to poll rather than repeat).
//   - Retry-After on 503: a dependency is down; come back shortly.
func (s *Server) responseHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req, res := c.Request(), c.Response()
		client := req.Header.Get(HeaderClientRequestID)
		if client == "" {
			client = req.Header.Get(HeaderRequestID)
		}
		if len(client) > 512 {
			client = client[:512]
		}
		c.Set("request_id", "req_"+strings.ReplaceAll(uuid.NewString(), "-", ""))
		res.Before(func() {
			h := res.Header()
			id := h.Get(HeaderJobID)
			if id == "" {
				id, _ = c.Get("request_id").(string)
			}
			c.Set("request_id", id)
			h.Set(HeaderRequestID, id)
			if client != "" {
				h.Set(HeaderClientRequestID, client)
			}
			// A handler that set it knows better (a 429 with Retry-After says when to retry).
			if status := res.Status; status >= 400 && h.Get(HeaderShouldRetry) == "" && noRetry(status, h.Get(HeaderJobID) != "") {
				h.Set(HeaderShouldRetry, "false")
			}
			if res.Status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
				h.Set("Retry-After", retryAfterSeconds)
			}
		})
		return next(c)
	}
}

// noRetry tells an error a client should not retry: see responseHeaders.
func noRetry(status int, ofJob bool) bool {
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		// The queue could not meet the caller's deadline, or no account can
		// serve now: Retry-After says when to try again.
		return false
	}
	if ofJob {
		return true
	}
	return status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}
