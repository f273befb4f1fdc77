package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/admission"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
)

// Headers that state how long a caller waits.
const (
	// HeaderTimeout is sluice's own: seconds (a decimal number) the caller
	// waits for the answer; on an async request, how long the job may wait
	// to start before it expires.
	HeaderTimeout = "X-Sluice-Timeout"
	// HeaderStainlessTimeout is sent by the official OpenAI and Anthropic
	// SDKs on every request: their client timeout, in seconds.
	HeaderStainlessTimeout = "X-Stainless-Timeout"
	// maxTimeout bounds a stated timeout.
	maxTimeout = 24 * time.Hour
)

// waitPlan is how long a caller waits, and what that makes the job's deadline.
type waitPlan struct {
	// wait is how long the api holds a sync caller.
	wait time.Duration
	// deadline is the job's deadline in the table: when its answer must be
	// ready. Nil when the caller stated none: the job then runs however long
	// it waits, and a sync caller who times out can poll for it.
	deadline *time.Time
	// format writes the result in the submitting API's form; nil: a chat
	// completion (formats.go).
	format resultFormat
}

// stated reports whether the caller stated a deadline.
func (p waitPlan) stated() bool { return p.deadline != nil }

// plan reads how long the caller waits: X-Sluice-Timeout, else (sync only)
// the SDK's X-Stainless-Timeout, else the server's SLUICE_SYNC_TIMEOUT with
// no deadline. A stated timeout is answered a little before it runs out
// (5%, at most a second), so that the answer reaches the caller in time.
func (s *Server) plan(c echo.Context, async bool) (waitPlan, *openai.Error) {
	start := time.Now()
	h := c.Request().Header
	timeout, oerr := parseTimeout(h.Get(HeaderTimeout))
	if oerr != nil {
		return waitPlan{}, oerr
	}
	if timeout == 0 && !async {
		// The SDKs' own header is taken as it comes; a value we cannot read is ignored.
		timeout, _ = parseTimeout(h.Get(HeaderStainlessTimeout))
	}
	if timeout == 0 {
		return waitPlan{wait: s.SyncTimeout}, nil
	}
	margin := min(timeout/20, time.Second)
	deadline := start.Add(timeout - margin)
	if async {
		deadline = start.Add(timeout)
	}
	return waitPlan{wait: time.Until(deadline), deadline: &deadline}, nil
}

func parseTimeout(v string) (time.Duration, *openai.Error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(secs) || secs <= 0 || secs > maxTimeout.Seconds() {
		return 0, openai.InvalidRequest("", "The %s header must be a number of seconds above 0 and at most %d.", HeaderTimeout, int(maxTimeout.Seconds())).WithCode("invalid_timeout")
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// estimateCost is the quota a job is expected to reserve: its input, at a
// conservative two bytes per token, and the output Bedrock reserves.
func estimateCost(body []byte, maxOutput int) float64 {
	return float64(len(body))/2 + 16 + float64(maxOutput)
}

// admit refuses at once a sync job that no account can serve now (503), or
// that the queue cannot start and finish before its stated deadline (429).
func (s *Server) admit(c echo.Context, job *jobs.Job, p waitPlan) error {
	if s.Admission == nil {
		return nil
	}
	// No account can serve the model now: say so, naming each account's
	// error, rather than hold the caller until its timeout.
	if why, down := s.Admission.Unavailable(job.Model); down {
		return admission.UnavailableError(job.Model, why)
	}
	if !p.stated() {
		return nil
	}
	d := s.Admission.Admit(job.Model, job.Cost, *p.deadline)
	if d.Admit {
		return nil
	}
	return tooBusy(c, job.Model, d.Wait, d.Wait+d.Service-time.Until(*p.deadline))
}

// tooBusy is the 429 for a caller the queue cannot serve in time: wait is the
// estimated queue wait, short how much longer the caller would have to wait.
// The body is OpenAI's rate-limit error, so SDKs back off as they do for
// OpenAI; Retry-After (and the SDKs' Retry-After-Ms) say when the queue
// will have drained enough, and X-Should-Retry agrees with them.
func tooBusy(c echo.Context, alias string, wait, short time.Duration) *openai.Error {
	retry := max(time.Second, wait.Round(time.Second))
	h := c.Response().Header()
	h.Set("Retry-After", strconv.Itoa(int(retry.Seconds())))
	h.Set("Retry-After-Ms", strconv.FormatInt(retry.Milliseconds(), 10))
	h.Set("X-Should-Retry", "true")
	msg := fmt.Sprintf("Model %s is at its quota: the queue ahead of this request takes about %s to drain, and the request would not be answered before its timeout", alias, wait.Round(time.Second))
	if short > 0 {
		msg += fmt.Sprintf(" (it would need about %s more)", short.Round(time.Second))
	}
	msg += fmt.Sprintf(". Retry after %d s, or send a longer %s.", int(retry.Seconds()), HeaderTimeout)
	return &openai.Error{Status: http.StatusTooManyRequests, Type: "rate_limit_error", Message: msg, Code: ptr("rate_limit_exceeded")}
}

func ptr(s string) *string { return &s }
