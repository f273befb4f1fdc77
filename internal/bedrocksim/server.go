package bedrocksim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxBodyBytes bounds request bodies; Bedrock's own limit is of this order.
const maxBodyBytes = 25 << 20

// Server is the simulator, an http.Handler serving Bedrock Runtime
// (Converse, ConverseStream), STS (AssumeRole, GetCallerIdentity) and the
// /_sim control endpoints.
type Server struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	creds  *credentialStore
	ledger *ledger
	fails  failCounter
	cache  *promptCache
	// refusals make accounts refuse their role or their model access.
	refusals refusals
}

// New builds a Server from cfg, filling defaults (see Config).
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		mux:    http.NewServeMux(),
		creds:  newCredentialStore(cfg),
		ledger: newLedger(cfg, time.Now()),
		cache:  newPromptCache(cfg.CacheTTL),
	}
	s.mux.HandleFunc("POST /model/{modelId}/converse", s.handleConverse)
	s.mux.HandleFunc("POST /model/{modelId}/converse-stream", s.handleConverseStream)
	s.mux.HandleFunc("POST /model/{modelId}/invoke", s.handleInvoke)
	s.mux.HandleFunc("POST /{$}", s.handleSTS)
	s.mux.HandleFunc("GET /_sim/stats", s.handleStats)
	s.mux.HandleFunc("POST /_sim/reset", s.handleReset)
	s.mux.HandleFunc("POST /_sim/forget-sessions", s.handleForgetSessions)
	s.mux.HandleFunc("POST /_sim/refuse", s.handleRefuse(true))
	s.mux.HandleFunc("POST /_sim/heal", s.handleRefuse(false))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, newError("UnknownOperationException", "bedrocksim does not serve %s %s", r.Method, r.URL.Path))
	})
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Config returns the effective configuration, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Stats returns the current statistics (what GET /_sim/stats serves).
func (s *Server) Stats() Stats { return s.ledger.snapshot(time.Now()) }

// Reset clears all counters, fail_times memory and the prompt cache, and refills every bucket
// (what POST /_sim/reset does). Issued credentials stay valid.
func (s *Server) Reset() {
	s.ledger.reset(time.Now())
	s.fails.reset()
	s.cache.reset()
}

// ForgetSessions forgets every credential AssumeRole issued, as a Bedrock-side
// reset would (what POST /_sim/forget-sessions does): calls signed with them
// get UnrecognizedClientException until the caller assumes its role again.
// The base credential stays valid. It answers how many were forgotten.
func (s *Server) ForgetSessions() int { return s.creds.forget() }

func (s *Server) handleForgetSessions(w http.ResponseWriter, r *http.Request) {
	n := s.ForgetSessions()
	s.log.Info("issued sessions forgotten", "sessions", n)
	writeJSON(w, http.StatusOK, map[string]int{"forgotten": n})
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) {
	s.Reset()
	s.log.Info("stats reset")
	w.WriteHeader(http.StatusNoContent)
}

// call is a Converse or ConverseStream request that passed authentication,
// validation, fault injection and the quota check, and now runs.
type call struct {
	requestID  string
	started    time.Time
	account    string
	modelID    string
	req        converseRequest
	directives directives
	answer     completion
	// input is the input tokens neither read from nor written to the
	// prompt cache (Converse's inputTokens); cacheRead and cacheWrite the
	// rest.
	input, cacheRead, cacheWrite int
	tier                         string // the service tier serving the call
	ttft                         time.Duration
	perToken                     time.Duration
	// failAfter >= 0 makes the call fail with failCode after producing that
	// many tokens (stream_fail_after).
	failAfter int
	// cutAfter >= 0 ends a stream after that many tokens with neither
	// messageStop nor an exception (stream_cut_after).
	cutAfter int
	failCode string
	lease    *lease
}

// startCall does everything before the model "runs". On failure it has
// already written the error response and returns nil.
func (s *Server) startCall(w http.ResponseWriter, r *http.Request, streaming bool) *call {
	c := &call{requestID: newRequestID(), started: time.Now(), modelID: normalizeModelID(r.PathValue("modelId")), failAfter: -1, cutAfter: -1}
	w.Header().Set("X-Amzn-Requestid", c.requestID)
	log := s.log.With("request_id", c.requestID, "model", c.modelID, "stream", streaming)
	fail := func(e *apiError) *call {
		log.Info("converse error", "account", c.account, "code", e.Code, "message", e.Message)
		writeJSONError(w, e)
		return nil
	}

	body, err := readBody(r)
	if err != nil {
		return fail(newError("ValidationException", "read request body: %v", err))
	}
	p, authErr := s.creds.authenticate(r, body, "bedrock", s.cfg.authEnabled(), c.started)
	if authErr != nil {
		s.ledger.recordAuthFailure()
		return fail(authErr.bedrockError())
	}
	if p.Account == "" {
		s.ledger.recordAuthFailure()
		return fail(newError("AccessDeniedException", "User: %s is not authorized to perform: bedrock:InvokeModel (bedrocksim: base credentials have no default_account)", p.ARN))
	}
	c.account = p.Account
	if s.refusals.refuses(c.account, RefuseModel) {
		return fail(modelRefused())
	}

	model, ok := s.cfg.Models[c.modelID]
	if !ok {
		return fail(newError("ValidationException", "The provided model identifier is invalid."))
	}
	if err := json.Unmarshal(body, &c.req); err != nil {
		s.ledger.recordRejected(c.account, c.modelID, c.started)
		return fail(newError("ValidationException", "Malformed input request: %v", err))
	}
	if e := c.req.validate(model); e != nil {
		s.ledger.recordRejected(c.account, c.modelID, c.started)
		return fail(e)
	}
	c.directives, err = parseDirectives(c.req.Messages)
	if err != nil {
		s.ledger.recordRejected(c.account, c.modelID, c.started)
		return fail(newError("ValidationException", "%v", err))
	}
	c.tier = "default"
	if st := c.req.ServiceTier; st != nil && st.Type != "default" {
		if !slices.Contains(model.ServiceTiers, st.Type) {
			s.ledger.recordRejected(c.account, c.modelID, c.started)
			return fail(newError("ValidationException", "The provided service tier (%s) is not supported for model %s.", st.Type, c.modelID))
		}
		c.tier = st.Type
	}
	checkpoints := c.req.checkpoints()
	if e := checkCachePoints(checkpoints, model); e != nil {
		s.ledger.recordRejected(c.account, c.modelID, c.started)
		return fail(e)
	}
	d := c.directives
	if d.Tool != "" && c.req.ToolConfig == nil {
		s.ledger.recordRejected(c.account, c.modelID, c.started)
		return fail(newError("ValidationException", "bedrocksim: directive tool=%s needs a toolConfig in the request", d.Tool))
	}

	// Fault injection without stream_fail_after replaces the whole call, so
	// it happens before admission and nothing is charged.
	if d.Fail != "" && d.StreamFailAfter == nil && s.fails.shouldFail(c.req.contentHash(), d.FailTimes) {
		s.ledger.recordInjected(c.account, c.modelID, c.started)
		return fail(newError(d.Fail, "bedrocksim: injected %s", d.Fail))
	}

	answer, e := generate(&c.req, model, d, s.cfg.DefaultOutputTokens)
	if e != nil {
		s.ledger.recordRejected(c.account, c.modelID, c.started)
		return fail(e)
	}
	c.answer = answer
	c.input = c.req.inputTokens()
	c.ttft, c.perToken = s.cfg.TTFT, s.cfg.PerToken
	if d.TTFT != nil {
		c.ttft = *d.TTFT
	}
	if d.PerToken != nil {
		c.perToken = *d.PerToken
	}

	// The reservation counts the whole input; cache reads are refunded at
	// settlement.
	reservation := int64(c.input + c.req.maxTokens(model))
	c.lease, e = s.ledger.admit(c.account, c.modelID, reservation, c.started)
	if e != nil {
		return fail(e)
	}
	c.lease.recordTier(c.tier)
	c.cacheRead, c.cacheWrite = s.cache.use(c.account, c.modelID, checkpoints, model.PromptCacheMinTokens, c.started)
	c.input -= c.cacheRead + c.cacheWrite
	if d.StreamCutAfter != nil {
		c.cutAfter = min(*d.StreamCutAfter, answer.OutputTokens)
	}
	// A part-way failure (stream_fail_after) needs an admitted call; a
	// throttled one must not use up fail_times.
	if d.StreamFailAfter != nil && s.fails.shouldFail(c.req.contentHash(), d.FailTimes) {
		c.failAfter, c.failCode = min(*d.StreamFailAfter, answer.OutputTokens), d.Fail
		if c.failCode == "" {
			c.failCode = "ModelErrorException"
			if streaming {
				c.failCode = "ModelStreamErrorException"
			}
		}
	}
	log.Debug("converse admitted", "account", c.account, "input_tokens", c.input, "reserved", reservation,
		"output_tokens", answer.OutputTokens, "fail_after", c.failAfter)
	return c
}

// finish settles the call's reservation against what it produced.
func (s *Server) finish(c *call, produced int, outcome string) {
	charged := c.lease.settle(usage{input: c.input, cacheRead: c.cacheRead, cacheWrite: c.cacheWrite, output: produced}, time.Now())
	if c.failAfter >= 0 {
		s.ledger.recordInjected(c.account, c.modelID, time.Now())
	}
	s.log.Info("converse", "request_id", c.requestID, "account", c.account, "model", c.modelID,
		"outcome", outcome, "input_tokens", c.input, "cache_read", c.cacheRead, "cache_write", c.cacheWrite,
		"output_tokens", produced, "charged", charged, "tier", c.tier,
		"latency", time.Since(c.started).Round(time.Millisecond), "metadata", c.req.RequestMetadata)
}

// tokenTime is when token i (0-based) is produced: the first after TTFT,
// each further one per_token later. tokenTime(n) is when a call of n
// tokens completes: latency = ttft + n × per_token.
func (c *call) tokenTime(i int) time.Time {
	return c.started.Add(c.ttft + time.Duration(i)*c.perToken)
}

// sleepUntil waits for t or the end of ctx, and reports whether t came.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// normalizeModelID accepts a model ARN (foundation-model/…,
// inference-profile/…) as well as a bare id, as Bedrock does.
func normalizeModelID(id string) string {
	if strings.HasPrefix(id, "arn:") {
		if i := strings.LastIndex(id, "/"); i >= 0 {
			return id[i+1:]
		}
	}
	return id
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, fmt.Errorf("body exceeds %d bytes", tooBig.Limit)
	}
	return body, err
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// usage is the call's tokenUsage for the response, with produced output
// tokens: totalTokens counts the cached input too.
func (c *call) usage(produced int) tokenUsage {
	return tokenUsage{
		InputTokens: c.input, OutputTokens: produced,
		CacheReadInputTokens: c.cacheRead, CacheWriteInputTokens: c.cacheWrite,
		TotalTokens: c.input + c.cacheRead + c.cacheWrite + produced,
	}
}
