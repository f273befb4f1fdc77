package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// MaxURLLength bounds a callback URL.
const MaxURLLength = 2048

// Guard keeps callbacks away from the broker's own network: a callback URL
// that resolves to a loopback, private, link-local (cloud metadata lives at
// 169.254.169.254), shared, reserved or otherwise non-public address is
// refused, unless AllowPrivate is set (for tests and private deployments).
//
// A URL is checked twice: when it is submitted, so that the caller hears of a
// bad URL at once, and on every connection, by the dialer, so that a name
// that resolved to a public address at submit time and to a private one later
// (DNS rebinding) is still refused.
type Guard struct {
	AllowPrivate bool
	// Resolver resolves host names at submit time; nil means net.DefaultResolver.
	Resolver *net.Resolver

	// The address lists are IANA's special-purpose registries, kept current
	// by the ssrf library. Any port is allowed: receivers listen where they like.
	g *ssrf.Guardian
}

// NewGuard makes a guard.
func NewGuard(allowPrivate bool) *Guard {
	return &Guard{AllowPrivate: allowPrivate, g: ssrf.New(ssrf.WithAnyPort())}
}

// ErrBadURL wraps every reason CheckURL refuses a URL.
var ErrBadURL = errors.New("bad callback URL")

// CheckURL reports why raw is not an acceptable callback URL, or nil.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := ParseURL(raw)
	if err != nil {
		return err
	}
	if g.AllowPrivate {
		return nil
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		r := g.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		addrs, err = r.LookupNetIP(rctx, "ip", host)
		if err != nil {
			return fmt.Errorf("%w: host %q does not resolve: %v", ErrBadURL, host, err)
		}
	}
	for _, a := range addrs {
		// An IPv4 address may come in its IPv6-mapped form (::ffff:a.b.c.d);
		// judge the IPv4 address, as the dialer will connect to it.
		if err := g.allowed(a.Unmap(), port); err != nil {
			return fmt.Errorf("%w: %q resolves to %s, which callbacks may not reach: %v", ErrBadURL, host, a, err)
		}
	}
	return nil
}

func (g *Guard) allowed(a netip.Addr, port string) error {
	network := "tcp6"
	if a.Is4() {
		network = "tcp4"
	}
	return g.g.Safe(network, net.JoinHostPort(a.String(), port), nil)
}

// Control is a net.Dialer Control hook: it runs after name resolution, on the
// address actually being dialed.
func (g *Guard) Control(network, address string, c syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	return g.g.Safe(network, address, c)
}

// Client is an HTTP client for deliveries: every connection passes the guard,
// no proxy is used (a proxy would dial for us, past the guard), and redirects
// are not followed (a receiver answers; it does not send us elsewhere).
func (g *Guard) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: g.Control}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ParseURL checks a callback URL's form: absolute http or https, a host, no
// credentials, no fragment.
func ParseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: it is empty", ErrBadURL)
	}
	if len(raw) > MaxURLLength {
		return nil, fmt.Errorf("%w: it is longer than %d characters", ErrBadURL, MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: %q is not an http or https URL", ErrBadURL, raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: %q has no host", ErrBadURL, raw)
	case u.User != nil:
		return nil, fmt.Errorf("%w: credentials in the URL are not allowed; deliveries are signed instead", ErrBadURL)
	case u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return nil, fmt.Errorf("%w: %q has a fragment", ErrBadURL, raw)
	}
	return u, nil
}
