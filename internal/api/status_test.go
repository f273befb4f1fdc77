package api

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/config"
)

// The status page's cookie proves the master key until it expires, and
// proves nothing once tampered with, expired, or the master key changed.
func TestStatusCookie(t *testing.T) {
	srv := func(key string) *Server { return &Server{Config: &config.Config{Env: config.Env{MasterKey: key}}} }
	s := srv("sk-master")
	now := time.Now()
	v := s.statusCookieValue(now.Add(time.Hour))
	if strings.Contains(v, "sk-master") {
		t.Fatalf("cookie %q carries the key", v)
	}
	if !s.validStatusCookie(v, now) {
		t.Fatal("a fresh cookie is refused")
	}
	if s.validStatusCookie(v, now.Add(2*time.Hour)) {
		t.Fatal("an expired cookie is accepted")
	}
	exp, mac, _ := strings.Cut(v, ".")
	later := s.statusCookieValue(now.Add(48 * time.Hour))
	laterExp, _, _ := strings.Cut(later, ".")
	for _, bad := range []string{laterExp + "." + mac, exp + "." + mac[:len(mac)-1] + "A", exp, "", "x.y"} {
		if bad != v && s.validStatusCookie(bad, now) {
			t.Fatalf("tampered cookie %q accepted", bad)
		}
	}
	if srv("sk-other").validStatusCookie(v, now) {
		t.Fatal("a cookie survives a new master key")
	}
	if srv("").validStatusCookie(srv("").statusCookieValue(now.Add(time.Hour)), now) {
		t.Fatal("a server without a master key accepts a cookie")
	}
}
