package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"code.dny.dev/ssrf"

	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestCheckURL(t *testing.T) {
	g := NewGuard(false)
	// A resolver that always fails: the test needs no DNS, and a name that
	// does not resolve is refused.
	g.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		return nil, errors.New("no DNS in this test")
	}}
	ctx := context.Background()
	for _, ok := range []string{"https://93.184.215.14/hook", "http://93.184.215.14:8443/a?b=c", "https://[2606:4700::6810:84e5]/x"} {
		if err := g.CheckURL(ctx, ok); err != nil {
			t.Errorf("CheckURL(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{
		"", "not a url", "/relative", "ftp://93.184.215.14/", "https:///nohost", "https://u:p@93.184.215.14/", "https://93.184.215.14/#frag",
		"http://127.0.0.1/", "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
		"http://100.100.100.200/", "http://0.0.0.0/", "http://[::1]/", "http://[fd00:ec2::254]/", "http://[::ffff:10.0.0.1]/", "http://[fe80::1]/",
		"http://unresolvable.invalid/",
	} {
		if err := g.CheckURL(ctx, bad); !errors.Is(err, ErrBadURL) {
			t.Errorf("CheckURL(%q) = %v, want ErrBadURL", bad, err)
		}
	}
	// Allowing private addresses skips resolution but not the URL's form.
	open := NewGuard(true)
	if err := open.CheckURL(ctx, "http://127.0.0.1:9/"); err != nil {
		t.Errorf("allowed private: %v", err)
	}
	if err := open.CheckURL(ctx, "gopher://127.0.0.1/"); !errors.Is(err, ErrBadURL) {
		t.Errorf("allowed private accepted gopher: %v", err)
	}
}

// The dialer checks the address it actually connects to, so a name that
// resolved to a public address when the job was submitted and resolves to a
// private one at delivery (DNS rebinding) is still refused.
func TestClientRefusesPrivateAddressesAtDialTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	_, err := NewGuard(false).Client(5*time.Second).Post(srv.URL, "application/json", nil)
	if !errors.Is(err, ssrf.ErrProhibitedIP) {
		t.Fatalf("delivery to loopback: err = %v, want %v", err, ssrf.ErrProhibitedIP)
	}
	resp, err := NewGuard(true).Client(5*time.Second).Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatalf("delivery to loopback with private allowed: %v", err)
	}
	resp.Body.Close()
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/", http.StatusFound))
	defer srv.Close()
	resp, err := NewGuard(true).Client(5*time.Second).Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d: the redirect was followed", resp.StatusCode)
	}
}

func TestScheduleGrowsAndEnds(t *testing.T) {
	s := DefaultSchedule
	prev := time.Duration(0)
	for n := 1; n <= 6; n++ {
		d := s.Delay(n)
		nominal := float64(s.Initial)
		for range n - 1 {
			nominal *= s.Multiplier
		}
		if float64(d) < nominal*(1-s.Jitter) || float64(d) > nominal*(1+s.Jitter)+1 {
			t.Fatalf("delay %d = %s, want %s ± %.0f%%", n, d, time.Duration(nominal), s.Jitter*100)
		}
		if d <= prev/2 {
			t.Fatalf("delay %d = %s after %s: not growing", n, d, prev)
		}
		prev = d
	}
	if d := s.Delay(30); d > time.Duration(float64(s.MaxInterval)*(1+s.Jitter))+1 {
		t.Fatalf("delay 30 = %s, above the cap %s", d, s.MaxInterval)
	}
	// Replaying the schedule from a round's start: it gives up after MaxAge,
	// having tried about a dozen times.
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now, attempts := start, 1
	for {
		next, ok := s.Next(start, now, attempts)
		if !ok {
			break
		}
		now, attempts = next, attempts+1
	}
	if now.Sub(start) > s.MaxAge || now.Sub(start) < s.MaxAge/2 || attempts < 8 || attempts > 16 {
		t.Fatalf("the schedule ended after %d attempts over %s", attempts, now.Sub(start))
	}
}
