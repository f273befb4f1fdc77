package api

import "github.com/labstack/echo/v4"

// operatorRoutes adds what operators use: the status page and its JSON
// (status.go), and the admin API for keys (adminkeys.go). v1 is the
// authenticated /v1 group.
func (s *Server) operatorRoutes(e *echo.Echo, v1 *echo.Group) {
	st := e.Group("/status")
	st.POST("/login", s.login)
	st.POST("/logout", s.logout)
	e.GET("/status", s.statusPage, s.statusAuth)
	e.GET("/status.json", s.statusJSON, s.statusAuth)

	admin := v1.Group("/admin", s.requireMaster)
	admin.POST("/keys", s.createKey)
	admin.GET("/keys", s.listKeys)
	admin.GET("/keys/:id", s.keyAction(getKeyOp, false))
	admin.DELETE("/keys/:id", s.keyAction(revokeKeyOp, false))
	admin.POST("/keys/:id/revoke", s.keyAction(revokeKeyOp, false))
	admin.POST("/keys/:id/rotate-webhook-secret", s.keyAction(rotateKeyOp, true))
}
