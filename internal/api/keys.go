package api

import (
	"errors"
	"fmt"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/apikey"
	"github.com/sluice-broker/sluice/internal/openai"
)

// authenticateManaged admits a live managed key and sets the caller's tenant
// to the key's. An unknown or revoked key is as wrong as a mistyped one.
func (s *Server) authenticateManaged(c echo.Context, secret string) error {
	if s.Keys == nil {
		return openai.Unauthorized("Incorrect API key provided.")
	}
	k, err := s.Keys.Lookup(c.Request().Context(), secret)
	if errors.Is(err, apikey.ErrNotFound) {
		return openai.Unauthorized("Incorrect API key provided.")
	}
	if err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	c.Set("tenant", k.Tenant)
	c.Set("apikey", k)
	return nil
}

// weight is the caller's fair share: its key's weight, 1 for the master key.
func weight(c echo.Context) float64 {
	if k := callerKey(c); k != nil && k.Weight > 0 {
		return k.Weight
	}
	return 1
}

// callerKey is the managed key of the request; nil for the master key.
func callerKey(c echo.Context) *apikey.Key {
	k, _ := c.Get("apikey").(*apikey.Key)
	return k
}
