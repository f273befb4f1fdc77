package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/apikey"
	"github.com/sluice-broker/sluice/internal/openai"
	"github.com/sluice-broker/sluice/internal/webhook"
)

// The admin API for keys, with the master key (README, "Managing keys over
// HTTP"). The CLI (api keys …) runs the same apikey.Store operations.
//
//	POST   /v1/admin/keys                                create; the answer carries the secret, once
//	GET    /v1/admin/keys                                list, newest first, revoked ones included
//	GET    /v1/admin/keys/{id}                           one key
//	DELETE /v1/admin/keys/{id}                           revoke (also POST …/{id}/revoke)
//	POST   /v1/admin/keys/{id}/rotate-webhook-secret     a new webhook signing secret, shown once

// AdminKey is a managed key as the admin API shows it. Key and
// WebhookSecret are set only in the answers that make them.
type AdminKey struct {
	Object     string   `json:"object"` // "api_key"
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Tenant     string   `json:"tenant"`
	KeyHint    string   `json:"key_hint"`
	Weight     float64  `json:"weight"`
	Models     []string `json:"models"`
	RPMLimit   *int     `json:"rpm_limit"`
	TPMLimit   *int     `json:"tpm_limit"`
	WebhookURL *string  `json:"webhook_url"`
	CreatedAt  int64    `json:"created_at"`
	LastUsedAt *int64   `json:"last_used_at"`
	RevokedAt  *int64   `json:"revoked_at"`

	Key           string `json:"key,omitempty"`
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// CreateKeyRequest is the body of POST /v1/admin/keys.
type CreateKeyRequest struct {
	Name string `json:"name"`
	// Tenant shares an existing tenant's jobs; CreateTenant allows a new one.
	Tenant       string  `json:"tenant"`
	CreateTenant bool    `json:"create_tenant"`
	WebhookURL   string  `json:"webhook_url"`
	Weight       float64 `json:"weight"`
	// Models are the aliases the key may use; empty: all.
	Models   []string `json:"models"`
	RPMLimit int      `json:"rpm_limit"`
	TPMLimit int      `json:"tpm_limit"`
}

func adminKey(k *apikey.Key) AdminKey {
	a := AdminKey{Object: "api_key", ID: k.ID, Name: k.Name, Tenant: k.Tenant, KeyHint: k.Hint, Weight: k.Weight,
		Models: k.Models, CreatedAt: k.CreatedAt.Unix(), LastUsedAt: unixPtr(k.LastUsedAt), RevokedAt: unixPtr(k.RevokedAt)}
	if a.Models == nil {
		a.Models = []string{}
	}
	if k.RPM > 0 {
		a.RPMLimit = &k.RPM
	}
	if k.TPM > 0 {
		a.TPMLimit = &k.TPM
	}
	if k.WebhookURL != "" {
		a.WebhookURL = &k.WebhookURL
	}
	return a
}

// requireMaster refuses every caller but the master key, and answers 503 on
// a server built without a key store.
func (s *Server) requireMaster(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if tenant(c) != "master" {
			return (&openai.Error{Status: http.StatusForbidden, Type: "invalid_request_error",
				Message: "This endpoint needs the master key; managed API keys cannot manage keys."}).WithCode("master_key_required")
		}
		if s.Keys == nil {
			return openai.Unavailable("This server has no key store; managed keys are not available.")
		}
		return next(c)
	}
}

func (s *Server) createKey(c echo.Context) error {
	var req CreateKeyRequest
	if oerr := openai.DecodeStrict(http.MaxBytesReader(c.Response(), c.Request().Body, 1<<20), &req); oerr != nil {
		return oerr
	}
	if strings.TrimSpace(req.Name) == "" {
		return openai.InvalidRequest("name", "Missing required parameter: 'name'.")
	}
	if req.Weight < 0 || req.Weight > 1000 {
		return openai.InvalidRequest("weight", "weight must be above 0 and at most 1000 (0 or absent: 1), not %g.", req.Weight)
	}
	if req.RPMLimit < 0 || req.TPMLimit < 0 {
		return openai.InvalidRequest("rpm_limit", "rpm_limit and tpm_limit must be positive (0 or absent: no limit).")
	}
	for i, m := range req.Models {
		if _, ok := s.Config.Models[m]; !ok {
			return openai.InvalidRequest(fmt.Sprintf("models[%d]", i), "The model %q is not a configured alias; the aliases are %s.",
				m, strings.Join(s.Config.Aliases(), ", ")).WithCode("model_not_found")
		}
	}
	if req.WebhookURL != "" {
		guard := s.Guard
		if guard == nil {
			guard = webhook.NewGuard(false)
		}
		if err := guard.CheckURL(c.Request().Context(), req.WebhookURL); err != nil {
			return openai.InvalidRequest("webhook_url", "webhook_url is not a usable callback URL: %s",
				strings.TrimPrefix(err.Error(), webhook.ErrBadURL.Error()+": ")).WithCode("invalid_callback_url")
		}
	}
	k, secret, err := s.Keys.Create(c.Request().Context(), apikey.NewKey{Name: req.Name, Tenant: req.Tenant, CreateTenant: req.CreateTenant,
		WebhookURL: req.WebhookURL, Weight: req.Weight, Limits: apikey.Limits{Models: req.Models, RPM: req.RPMLimit, TPM: req.TPMLimit}})
	if errors.Is(err, apikey.ErrUnknownTenant) {
		return openai.InvalidRequest("tenant", "No key belongs to tenant %q; set create_tenant to make it.", req.Tenant).WithCode("unknown_tenant")
	}
	if err != nil {
		return err
	}
	a := adminKey(k)
	a.Key, a.WebhookSecret = secret, k.WebhookSecret
	return c.JSON(http.StatusCreated, a)
}

func (s *Server) listKeys(c echo.Context) error {
	keys, err := s.Keys.List(c.Request().Context())
	if err != nil {
		return err
	}
	list := openai.List[AdminKey]{Object: "list", Data: make([]AdminKey, 0, len(keys))}
	for _, k := range keys {
		list.Data = append(list.Data, adminKey(k))
	}
	return c.JSON(http.StatusOK, list)
}

// keyAction runs one store operation on the key named in the path.
func (s *Server) keyAction(op func(*apikey.Store) func(echo.Context, string) (*apikey.Key, error), reveal bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		k, err := op(s.Keys)(c, id)
		if errors.Is(err, apikey.ErrNotFound) {
			return openai.NotFound(fmt.Sprintf("No API key with id %q (a revoked key keeps its webhook secret).", id))
		}
		if err != nil {
			return err
		}
		a := adminKey(k)
		if reveal {
			a.WebhookSecret = k.WebhookSecret
		}
		return c.JSON(http.StatusOK, a)
	}
}

func getKeyOp(st *apikey.Store) func(echo.Context, string) (*apikey.Key, error) {
	return func(c echo.Context, id string) (*apikey.Key, error) { return st.Get(c.Request().Context(), id) }
}

func revokeKeyOp(st *apikey.Store) func(echo.Context, string) (*apikey.Key, error) {
	return func(c echo.Context, id string) (*apikey.Key, error) { return st.Revoke(c.Request().Context(), id) }
}

func rotateKeyOp(st *apikey.Store) func(echo.Context, string) (*apikey.Key, error) {
	return func(c echo.Context, id string) (*apikey.Key, error) {
		return st.RotateWebhookSecret(c.Request().Context(), id)
	}
}

// modelAllowed refuses an alias the caller's key is not allowed to use.
func modelAllowed(c echo.Context, alias string) *openai.Error {
	k := callerKey(c)
	if k == nil || k.Allows(alias) {
		return nil
	}
	models := slices.Clone(k.Models)
	slices.Sort(models)
	return (&openai.Error{Status: http.StatusForbidden, Type: "invalid_request_error", Param: ptrTo("model"),
		Message: fmt.Sprintf("This API key may not use the model %q; it may use: %s.", alias, strings.Join(models, ", "))}).WithCode("model_not_allowed")
}

func ptrTo[T any](v T) *T { return &v }
