package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/batch"
	"github.com/sluice-broker/sluice/internal/budget"
	"github.com/sluice-broker/sluice/internal/jobs"
)

// The status page (/status, /status.json): what an operator watches, read
// from the same tables the worker's metrics are computed from (pool_health,
// budgets, jobs, batches), so any api replica can serve it. It is behind the
// master key, given as a Bearer header, or once as ?key= or through the login
// form; either sets an HttpOnly cookie that proves the key (an HMAC keyed
// with it, not the key itself) for statusCookieTTL.

const (
	statusCookie    = "sluice_status"
	statusCookieTTL = 12 * time.Hour
	// statusMinutes is how many minutes of job rates and latency the page shows.
	statusMinutes = 15
	// statusRefresh is how often the page reloads itself.
	statusRefresh = 5 * time.Second
)

// Status is the page's data, and the body of /status.json.
type Status struct {
	Object      string          `json:"object"` // "status"
	GeneratedAt int64           `json:"generated_at"`
	Pools       []PoolStatus    `json:"pools"`
	Queues      []QueueStatus   `json:"queues"`
	Minutes     []MinuteStatus  `json:"minutes"`
	Failures    []FailureStatus `json:"failures"`
	Batches     []BatchStatus   `json:"batches"`
}

// PoolStatus is one (account, alias) pool: GET /v1/accounts's view plus its
// budget.
type PoolStatus struct {
	Pool
	// BudgetTokens is what the bucket holds now, of BudgetCapacity at the
	// current backpressure factor BudgetFactor (1 = the whole quota).
	BudgetTokens   *float64 `json:"budget_tokens"`
	BudgetCapacity *float64 `json:"budget_capacity"`
	BudgetFactor   *float64 `json:"budget_factor"`
	LastThrottleAt *int64   `json:"last_throttle_at"`
	// Throttles counts the throttles of jobs that ended in the last
	// throttleSpan or are running.
	Throttles int `json:"throttles"`
}

// throttleSpan is how far back PoolStatus.Throttles looks.
const throttleSpan = 15 * time.Minute

// QueueStatus is one alias's queue of one priority.
type QueueStatus struct {
	Model         string  `json:"model"`
	Priority      string  `json:"priority"`
	Depth         int     `json:"depth"`
	OldestSeconds float64 `json:"oldest_age_seconds"`
}

// MinuteStatus is one minute of job endings.
type MinuteStatus struct {
	Start      int64   `json:"start"`
	Succeeded  int     `json:"succeeded"`
	Failed     int     `json:"failed"`
	Other      int     `json:"other"` // cancelled or expired
	P50Seconds float64 `json:"p50_seconds"`
	P95Seconds float64 `json:"p95_seconds"`
	P99Seconds float64 `json:"p99_seconds"`
}

// FailureStatus is one recently failed job.
type FailureStatus struct {
	ID         string `json:"id"`
	Tenant     string `json:"tenant"`
	Model      string `json:"model"`
	Account    string `json:"account"`
	FinishedAt int64  `json:"finished_at"`
	Error      string `json:"error"`
}

// BatchStatus is one batch that has not ended.
type BatchStatus struct {
	ID        string `json:"id"`
	Tenant    string `json:"tenant"`
	Model     string `json:"model"`
	Status    string `json:"status"`
	Total     int    `json:"total"`
	Completed int    `json:"completed"`
	Failed    int    `json:"failed"`
	CreatedAt int64  `json:"created_at"`
}

// readStatus gathers the page's data.
func (s *Server) readStatus(ctx context.Context) (*Status, error) {
	st := &Status{Object: "status", GeneratedAt: time.Now().Unix(), Queues: []QueueStatus{}, Failures: []FailureStatus{}, Batches: []BatchStatus{}}
	list, err := s.poolList(ctx)
	if err != nil {
		return nil, err
	}
	levels, err := budget.Levels(ctx, s.Store.Pool(), s.budgetLimits)
	if err != nil {
		return nil, err
	}
	byPool := map[[2]string]budget.Level{}
	for _, l := range levels {
		byPool[[2]string{l.Account, l.Model}] = l
	}
	throttles, err := s.Store.RecentThrottles(ctx, throttleSpan)
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		ps := PoolStatus{Pool: p, Throttles: throttles[[2]string{p.Account, p.Model}]}
		if l, ok := byPool[[2]string{p.Account, p.Model}]; ok {
			ps.BudgetTokens, ps.BudgetCapacity, ps.BudgetFactor = &l.Tokens, &l.Capacity, &l.Factor
			if !l.LastThrottle.IsZero() && l.LastThrottle.Year() > 1970 {
				ps.LastThrottleAt = unixPtr(&l.LastThrottle)
			}
		}
		st.Pools = append(st.Pools, ps)
	}

	backlogs, err := s.Store.Backlogs(ctx)
	if err != nil {
		return nil, err
	}
	queued := map[[2]string]jobs.Backlog{}
	for _, b := range backlogs {
		queued[[2]string{b.Model, string(b.Priority)}] = b
	}
	for _, alias := range s.Config.Aliases() {
		for _, prio := range []jobs.Priority{jobs.Interactive, jobs.BatchWork} {
			b := queued[[2]string{alias, string(prio)}]
			st.Queues = append(st.Queues, QueueStatus{Model: alias, Priority: string(prio), Depth: b.Jobs, OldestSeconds: b.Oldest.Seconds()})
		}
	}

	minutes, err := s.Store.RecentMinutes(ctx, statusMinutes)
	if err != nil {
		return nil, err
	}
	for _, m := range minutes {
		st.Minutes = append(st.Minutes, MinuteStatus{Start: m.Start.Unix(), Succeeded: m.Succeeded, Failed: m.Failed, Other: m.Other,
			P50Seconds: m.P50.Seconds(), P95Seconds: m.P95.Seconds(), P99Seconds: m.P99.Seconds()})
	}
	failures, err := s.Store.RecentFailures(ctx, 10)
	if err != nil {
		return nil, err
	}
	for _, f := range failures {
		st.Failures = append(st.Failures, FailureStatus{ID: f.ID, Tenant: f.Tenant, Model: f.Model, Account: f.Account,
			FinishedAt: f.FinishedAt.Unix(), Error: errorMessage(f.Error)})
	}
	bs := s.Batches
	if bs == nil {
		bs = batch.NewStore(s.Store.Pool())
	}
	batches, err := bs.Running(ctx, 20)
	if err != nil {
		return nil, err
	}
	for _, b := range batches {
		st.Batches = append(st.Batches, BatchStatus{ID: b.ID, Tenant: b.Tenant, Model: b.Model, Status: string(b.Status),
			Total: b.Total, Completed: b.Completed, Failed: b.Failed, CreatedAt: b.CreatedAt.Unix()})
	}
	return st, nil
}

// budgetLimits is the quota of a pool as the worker builds it.
func (s *Server) budgetLimits(account, model string) (budget.Limits, bool) {
	return budget.ForConfig(s.Config)(account, model)
}

// errorMessage is the message of a stored OpenAI error, or the raw JSON.
func errorMessage(raw json.RawMessage) string {
	var e struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Message != "" {
		if e.Code != "" {
			return e.Code + ": " + e.Message
		}
		return e.Message
	}
	return string(raw)
}

func (s *Server) statusJSON(c echo.Context) error {
	st, err := s.readStatus(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) statusPage(c echo.Context) error {
	st, err := s.readStatus(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return statusTemplate.ExecuteTemplate(c.Response(), "status", statusView{Status: st, Refresh: int(statusRefresh.Seconds())})
}

// statusAuth admits the master key as a Bearer header, as ?key= (answered
// with the cookie and a redirect to the same page without the key, so it
// does not stay in the address bar or the history), or as the cookie. Anyone
// else gets the login form (HTML) or a 401 (JSON).
func (s *Server) statusAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if key, ok := strings.CutPrefix(r.Header.Get(echo.HeaderAuthorization), "Bearer "); ok && s.isMaster(key) {
			return next(c)
		}
		if key := r.URL.Query().Get("key"); key != "" {
			if !s.isMaster(key) {
				return s.loginForm(c, http.StatusUnauthorized, "That is not the master key.")
			}
			s.setStatusCookie(c)
			return c.Redirect(http.StatusSeeOther, r.URL.Path)
		}
		if ck, err := r.Cookie(statusCookie); err == nil && s.validStatusCookie(ck.Value, time.Now()) {
			return next(c)
		}
		if strings.HasSuffix(r.URL.Path, ".json") {
			return unauthorizedStatus()
		}
		return s.loginForm(c, http.StatusUnauthorized, "")
	}
}

func unauthorizedStatus() error {
	return &echo.HTTPError{Code: http.StatusUnauthorized}
}

func (s *Server) isMaster(key string) bool {
	m := s.Config.Env.MasterKey
	return m != "" && subtle.ConstantTimeCompare([]byte(key), []byte(m)) == 1
}

// login is POST /status/login: the form's key, checked like ?key=.
func (s *Server) login(c echo.Context) error {
	if !s.isMaster(c.FormValue("key")) {
		return s.loginForm(c, http.StatusUnauthorized, "That is not the master key.")
	}
	s.setStatusCookie(c)
	return c.Redirect(http.StatusSeeOther, "/status")
}

func (s *Server) logout(c echo.Context) error {
	c.SetCookie(&http.Cookie{Name: statusCookie, Value: "", Path: "/status", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return c.Redirect(http.StatusSeeOther, "/status")
}

func (s *Server) loginForm(c echo.Context, status int, problem string) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return statusTemplate.ExecuteTemplate(c.Response(), "login", problem)
}

func (s *Server) setStatusCookie(c echo.Context) {
	exp := time.Now().Add(statusCookieTTL)
	r := c.Request()
	c.SetCookie(&http.Cookie{Name: statusCookie, Value: s.statusCookieValue(exp), Path: "/status", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"})
}

// statusCookieValue is "expiry.mac": an HMAC of the expiry keyed with the
// master key, so a new master key ends every session.
func (s *Server) statusCookieValue(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + s.statusMAC(e)
}

func (s *Server) statusMAC(exp string) string {
	m := hmac.New(sha256.New, []byte(s.Config.Env.MasterKey))
	m.Write([]byte("sluice status page\x00" + exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) validStatusCookie(v string, now time.Time) bool {
	if s.Config.Env.MasterKey == "" {
		return false
	}
	exp, mac, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > t {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(s.statusMAC(exp)))
}
