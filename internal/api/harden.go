package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/sluice-broker/sluice/internal/openai"
)

// Defaults of the limits on how a request arrives.
const (
	// DefaultBodyTimeout bounds how long a request body may take to arrive,
	// from the end of its headers. A body that drips in is cut off with a 408,
	// so it cannot hold a goroutine and a connection for ever.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultUploadTimeout is the same bound for file uploads (up to 200 MB).
	DefaultUploadTimeout = 10 * time.Minute
	// DefaultSubmitTimeout bounds the insert and send of a new job, which run
	// on a context detached from the request (see submitContext).
	DefaultSubmitTimeout = 15 * time.Second
	// RetryAfter is what a 503 asks the caller to wait.
	RetryAfter = 2 * time.Second
)

// withBodyDeadline sets a read deadline for the request body: BodyTimeout,
// or UploadTimeout for POST /v1/files. The deadline is lifted once the body
// has been read to its end, so a sync caller's long wait afterwards is not cut
// short (net/http's Server.ReadTimeout would cancel the request's context
// there, which sluice reads as the caller hanging up).
func (s *Server) withBodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		d := s.BodyTimeout
		if d <= 0 {
			d = DefaultBodyTimeout
		}
		if r.Method == http.MethodPost && r.URL.Path == "/v1/files" {
			d = s.UploadTimeout
			if d <= 0 {
				d = DefaultUploadTimeout
			}
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
			// Not a net/http connection (a test recorder): no deadline to set.
			next.ServeHTTP(w, r)
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the connection's read deadline when the body ends.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.lifted {
		b.lifted = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// checkRequestText refuses, before routing, a URL path, query or stored
// header that holds NUL or invalid UTF-8: no id, filter or cursor can contain
// them, and Postgres text columns cannot store them.
func checkRequestText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !openai.ValidText(r.URL.Path) {
			return openai.InvalidRequest("", "The request path contains a NUL character or invalid UTF-8.").WithCode("invalid_encoding")
		}
		for name, values := range r.URL.Query() {
			if !openai.ValidText(name) {
				return openai.InvalidRequest("", "A query parameter name contains a NUL character or invalid UTF-8.").WithCode("invalid_encoding")
			}
			for _, v := range values {
				if !openai.ValidText(v) {
					return openai.InvalidRequest(name, "The query parameter '%s' contains a NUL character or invalid UTF-8.", name).WithCode("invalid_encoding")
				}
			}
		}
		for _, h := range []string{HeaderCallbackURL, HeaderIdempotencyKey, "Prefer"} {
			for _, v := range r.Header.Values(h) {
				if !openai.ValidText(v) {
					return openai.InvalidRequest("", "The %s header contains a NUL character or invalid UTF-8.", h).WithCode("invalid_encoding")
				}
			}
		}
		return next(c)
	}
}

// recoverPanics turns a panic in a handler into an OpenAI 500 for that
// request, with the stack in the log; the process lives on.
func (s *Server) recoverPanics() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			r := c.Request()
			s.Log.ErrorContext(r.Context(), "panic in request", "method", r.Method, "path", c.Path(), "err", err, "stack", string(stack))
			return openai.ServerError("The server had an error while processing your request.")
		},
	})
}

// dbUnavailable reports whether err says the database cannot be reached or
// is not accepting work now (restarting, too many connections): the caller
// should retry, so it gets a 503 with Retry-After, not a 500.
func dbUnavailable(err error) bool {
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// 08: connection exceptions; 57P01-03: admin shutdown, crash
		// shutdown, cannot connect now; 53300: too many connections.
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03" || pg.Code == "53300"
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	return strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool")
}

// submitContext is the context of a new job's insert and first send:
// detached from the request, so a caller hanging up cannot cancel the insert
// half-way (the row would be committed while the handler saw an error and
// never cancelled it), and bounded by SubmitTimeout. A caller gone by the
// time the job exists cancels it as usual, in awaitResult.
func (s *Server) submitContext(c echo.Context) (context.Context, context.CancelFunc) {
	d := s.SubmitTimeout
	if d <= 0 {
		d = DefaultSubmitTimeout
	}
	return context.WithTimeout(context.WithoutCancel(c.Request().Context()), d)
}

// clientGone reports whether the caller hung up.
func clientGone(c echo.Context) bool { return c.Request().Context().Err() != nil }

// retryAfterSeconds is RetryAfter as the header's value.
var retryAfterSeconds = fmt.Sprint(int(RetryAfter.Seconds()))
