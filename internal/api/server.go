// Package api is sluice's HTTP front end: the OpenAI-compatible endpoints, the
// job resources behind them, health and metrics.
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-broker/sluice/internal/admission"
	"github.com/sluice-broker/sluice/internal/apikey"
	"github.com/sluice-broker/sluice/internal/batch"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/enqueue"
	"github.com/sluice-broker/sluice/internal/files"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/queue"
	"github.com/sluice-broker/sluice/internal/responses"
	"github.com/sluice-broker/sluice/internal/webhook"
)

// MaxBodyBytes bounds a request body. Bedrock's own request limit is far
// below this for text; images make bodies large.
const MaxBodyBytes = 20 << 20

// Enqueuer sends a job's id to its queue.
type Enqueuer interface {
	Send(ctx context.Context, p queue.Priority, b queue.Body) error
}

// Server holds what the handlers need.
type Server struct {
	Config *config.Config
	Store  *jobs.Store
	Hub    *jobs.Hub
	Queue  Enqueuer
	Log    *slog.Logger
	// SyncTimeout is how long a synchronous caller waits before getting a 504
	// that names the job to poll.
	SyncTimeout time.Duration
	// Keys are the managed API keys; nil admits only the master key.
	Keys *apikey.Store
	// Guard vets callback URLs; nil refuses callbacks to non-public addresses.
	Guard *webhook.Guard
	// Files stores uploaded and batch output files; nil: Postgres (files.PG).
	Files files.Store
	// Batches is the batch store; nil: one over Store's pool.
	Batches *batch.Store
	// BatchWindow is how long a batch may run before it expires; 0: 24h.
	BatchWindow time.Duration
	// MaxFileBytes bounds an upload; 0: files.MaxBatchBytes (200 MB).
	MaxFileBytes int64
	// Tokens sends new jobs' queue tokens in batches; nil sends each at once.
	Tokens *enqueue.Batcher
	// Responses keeps what the Responses API adds to a job; nil: one over
	// Store's pool.
	Responses *responses.Store
	// Admission refuses at once, with 429 and Retry-After, the sync requests
	// the queue cannot answer before their stated deadline; nil admits all.
	Admission *admission.Controller
	// BodyTimeout and UploadTimeout bound how long a request body (a file
	// upload) may take to arrive; SubmitTimeout bounds a new job's insert and
	// send. 0: the Default… constants (harden.go).
	BodyTimeout, UploadTimeout, SubmitTimeout time.Duration
}

// Handler builds the HTTP routes.
func (s *Server) Handler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Pre(checkRequestText)
	e.Use(s.recoverPanics())
	e.Use(s.responseHeaders) // headers.go
	e.Use(s.logRequests)

	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/readyz", s.ready)
	e.GET("/metrics", echo.WrapHandler(promhttp.Handler()))

	v1 := e.Group("/v1", s.authenticate)
	v1.GET("/models", s.listModels)
	v1.GET("/models/:model", s.getModel)
	v1.POST("/chat/completions", s.chatCompletions)
	v1.POST("/embeddings", s.embeddings)
	v1.GET("/accounts", s.listAccounts)
	v1.GET("/jobs", s.listJobs)
	v1.GET("/jobs/:id", s.getJob)
	v1.POST("/jobs/:id/cancel", s.cancelJob)
	v1.GET("/jobs/:id/webhooks", s.listJobWebhooks)
	v1.POST("/jobs/:id/webhooks/:event/redeliver", s.redeliverJobWebhook)

	if s.Files == nil {
		s.Files = files.NewPG(s.Store.Pool())
	}
	if s.Batches == nil {
		s.Batches = batch.NewStore(s.Store.Pool())
	}
	if s.Responses == nil && s.Store != nil {
		s.Responses = responses.NewStore(s.Store.Pool())
	}
	v1.POST("/responses", s.createResponse)
	v1.GET("/responses/:id", s.getResponse)
	v1.DELETE("/responses/:id", s.deleteResponse)
	v1.POST("/responses/:id/cancel", s.cancelResponse)
	v1.GET("/responses/:id/input_items", s.listInputItems)

	v1.POST("/files", s.createFile)
	v1.GET("/files", s.listFiles)
	v1.GET("/files/:id", s.getFile)
	v1.GET("/files/:id/content", s.fileContent)
	v1.DELETE("/files/:id", s.deleteFile)
	v1.POST("/batches", s.createBatch)
	v1.GET("/batches", s.listBatches)
	v1.GET("/batches/:id", s.getBatch)
	v1.POST("/batches/:id/cancel", s.cancelBatch)
	s.operatorRoutes(e, v1) // operate.go: /status, /v1/admin/keys
	return s.withBodyDeadline(e)
}

type tenantKey struct{}

// authenticate admits the master key (tenant "master") and live managed keys
// (their own tenant). The caller's tenant scopes what it sees.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		auth := c.Request().Header.Get(echo.HeaderAuthorization)
		key, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || key == "" {
			return openai.Unauthorized("You didn't provide an API key. Send it in the Authorization header as 'Bearer YOUR_KEY'.")
		}
		if s.Config.Env.MasterKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.Config.Env.MasterKey)) == 1 {
			c.Set("tenant", "master")
			return next(c)
		}
		if err := s.authenticateManaged(c, key); err != nil {
			return err
		}
		return next(c)
	}
}

func tenant(c echo.Context) string { return c.Get("tenant").(string) }

func (s *Server) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Pool().Ping(ctx); err != nil {
		return openai.Unavailable("database unreachable: " + err.Error())
	}
	return c.String(http.StatusOK, "ready")
}

// errorHandler renders every error as an OpenAI error body.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var oe *openai.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &oe):
	case errors.As(err, &he):
		oe = &openai.Error{Status: he.Code, Type: "invalid_request_error", Message: http.StatusText(he.Code)}
		switch he.Code {
		case http.StatusNotFound:
			oe.Message = "Unknown request URL: " + c.Request().Method + " " + c.Request().URL.Path + "."
		case http.StatusMethodNotAllowed:
			oe.Message = "Method " + c.Request().Method + " is not allowed on " + c.Request().URL.Path + "."
		case http.StatusRequestEntityTooLarge:
			oe.Message = "The request body is too large."
		}
		if he.Code >= 500 {
			oe.Type = "server_error"
		}
	case clientGone(c):
		// The caller hung up; whatever failed after that is no fault to alert on.
		s.Log.InfoContext(c.Request().Context(), "client closed the connection", "method", c.Request().Method, "path", c.Path(), "err", err)
		// 499, nginx's "client closed request": nobody reads it, and it keeps
		// hang-ups out of the 5xx figures.
		oe = &openai.Error{Status: 499, Type: "invalid_request_error", Message: "The client closed the connection."}
	case dbUnavailable(err):
		s.Log.WarnContext(c.Request().Context(), "database unavailable", "method", c.Request().Method, "path", c.Path(), "err", err)
		oe = openai.Unavailable("The service is briefly unavailable (its database cannot be reached); retry shortly.")
	default:
		s.Log.ErrorContext(c.Request().Context(), "request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
		oe = openai.ServerError("The server had an error while processing your request.")
	}
	if oe.Status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", retryAfterSeconds)
	}
	if err := c.JSON(oe.Status, openai.ErrorBody{Error: oe}); err != nil {
		s.Log.DebugContext(c.Request().Context(), "write error response", "err", err)
	}
}

func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		req := c.Request()
		// Server errors log at warn: CloudWatch counts them from the log
		// (all but the designed 504 sync timeouts) for the 5xx alarm.
		level := slog.LevelDebug
		if c.Response().Status >= 500 {
			level = slog.LevelWarn
		}
		s.Log.Log(req.Context(), level, "http", "method", req.Method, "path", req.URL.Path, "status", c.Response().Status, "dur", time.Since(start),
			"request_id", c.Get("request_id"), "client_request_id", c.Response().Header().Get(HeaderClientRequestID))
		return nil
	}
}
