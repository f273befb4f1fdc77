package stacktest_test

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"golang.org/x/net/html"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/stacktest"
)

// chromium finds Debian's chromium; scripts/test installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SLUICE_REQUIRE_CHROMIUM") != "" {
		t.Fatal("chromium is not installed (apt-get install -y chromium); SLUICE_REQUIRE_CHROMIUM is set")
	}
	t.Skip("chromium is not installed: apt-get install -y chromium (scripts/test installs it) to run the status page's browser test")
	return ""
}

// headless runs chromium headless on url with a fresh profile and returns
// its standard output.
func headless(t *testing.T, bin, url string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	profile := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-proxy-server",
		"--user-data-dir=" + profile, "--window-size=1400,1000", "--hide-scrollbars"}, append(args, url)...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

// The status page, loaded in a real headless Chromium through the ?key=
// sign-in (a cookie and a redirect), shows the pool's health and budget, a
// queue held back by a rate-limited key, a failure with its error, a
// throttle, a running batch and the job rates; a screenshot is taken.
func TestStatusPageInChromium(t *testing.T) {
	bin := chromium(t)
	s := stacktest.Start(t, stacktest.Options{})
	ctx := context.Background()
	c := client(s)

	// Work of every kind: successes, a permanent failure, a throttled call.
	for range 4 {
		if status, body := s.Do(http.MethodPost, "/v1/chat/completions", chatBody("hello")); status != http.StatusOK {
			t.Fatalf("chat: %d %s", status, body)
		}
	}
	status, body := s.Do(http.MethodPost, "/v1/chat/completions", chatBody(bedrocksim.Directive("fail", "ValidationException")+"\nbroken"))
	if status != http.StatusBadRequest {
		t.Fatalf("failing chat: %d %s", status, body)
	}
	if status, body := s.Do(http.MethodPost, "/v1/chat/completions", chatBody(bedrocksim.Directive("fail", "ThrottlingException", "fail_times", "1")+"\nthrottled once")); status != http.StatusOK {
		t.Fatalf("throttled chat: %d %s", status, body)
	}
	// A key limited to one request a minute: two of its three jobs wait.
	limited := adminCreate(t, s, `{"name":"limited","rpm_limit":1}`)
	for range 3 {
		submitAsync(t, s, limited.Key, "limited")
	}
	// A batch whose calls take long stays in progress while the page loads.
	slow := bedrocksim.Directive("ttft_ms", "60000") + "\nslow"
	f := upload(t, c, chatLine("r1", slow), chatLine("r2", slow), chatLine("r3", slow))
	b := newBatch(t, c, f.ID)
	t.Cleanup(func() { c.Batches.Cancel(context.Background(), b.ID) })
	await(t, c, b.ID, "in progress", func(b *openai.Batch) bool { return b.Status == openai.BatchStatusInProgress })
	waitFor(t, "the limited key's first job", func() bool {
		var n int
		s.DB.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE tenant = $1 AND state = 'succeeded'`, limited.Tenant).Scan(&n)
		return n == 1
	})

	// Without the master key: the sign-in form, or 401 for the JSON.
	for _, path := range []string{"/status", "/status.json", "/status?key=wrong"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET %s without the master key: %d", path, resp.StatusCode)
		}
	}
	if status, body := s.Do(http.MethodGet, "/status.json", ""); status != http.StatusOK || !strings.Contains(string(body), `"object":"status"`) {
		t.Fatalf("status.json with the master key: %d %s", status, body)
	}
	if status, _, body := call(t, s, limited.Key, http.MethodGet, "/status.json", ""); status != http.StatusUnauthorized {
		t.Fatalf("status.json with a managed key: %d %s", status, body)
	}

	url := s.URL + "/status?key=" + stacktest.Key
	dom, err := html.Parse(bytes.NewReader(headless(t, bin, url, "--dump-dom")))
	if err != nil {
		t.Fatal(err)
	}
	rows := elements(dom, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "class") != "" })
	find := func(class string, kv ...string) *html.Node {
		t.Helper()
	next:
		for _, r := range rows {
			if attr(r, "class") != class {
				continue
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if attr(r, kv[i]) != kv[i+1] {
					continue next
				}
			}
			return r
		}
		t.Fatalf("the page has no %s row with %v:\n%s", class, kv, render(dom))
		return nil
	}
	pool := find("pool", "data-account", "a", "data-model", "claude-sonnet")
	if attr(pool, "data-status") != "healthy" || attr(pool, "data-throttles") != "1" {
		t.Fatalf("pool row: status %q, throttles %q; want healthy and 1", attr(pool, "data-status"), attr(pool, "data-throttles"))
	}
	if lvl := elements(pool, func(n *html.Node) bool { return strings.Contains(attr(n, "class"), "budget-level") }); len(lvl) != 1 || attr(lvl[0], "data-level") == "" {
		t.Fatal("pool row has no budget level")
	}
	if in := attr(pool, "data-in-flight"); in != "3" {
		t.Fatalf("pool in flight = %s; want the batch's 3 calls", in)
	}
	find("queue", "data-model", "claude-sonnet", "data-priority", "interactive", "data-depth", "2")
	find("batch", "data-id", b.ID, "data-status", "in_progress", "data-total", "3")
	failure := find("failure")
	if txt := text(failure); !strings.Contains(txt, "provided") && !strings.Contains(txt, "Validation") {
		t.Fatalf("failure row %q does not carry the error", txt)
	}
	totals := elements(dom, func(n *html.Node) bool { return attr(n, "id") == "totals" })
	if len(totals) != 1 || attr(totals[0], "data-succeeded") != "6" || attr(totals[0], "data-failed") != "1" {
		t.Fatalf("totals: %s", render(totals[0]))
	}
	if bars := elements(dom, func(n *html.Node) bool { return n.Data == "rect" && attr(n, "class") == "bad" }); len(bars) == 0 {
		t.Fatal("the rate chart shows no failure")
	}

	shot := filepath.Join(t.TempDir(), "status.png")
	headless(t, bin, url, "--screenshot="+shot)
	raw, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	colours := map[[3]uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 7 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 12, g >> 12, b >> 12}] = true
		}
	}
	// A sign-in form or an error page is nearly one colour; the status page
	// has its header, badges and charts.
	if img.Bounds().Dx() != 1400 || len(colours) < 12 {
		t.Fatalf("screenshot %v with %d colours: not the status page", img.Bounds(), len(colours))
	}
	if dst := os.Getenv("SLUICE_STATUS_SCREENSHOT"); dst != "" {
		if err := os.WriteFile(dst, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func elements(root *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for n := range root.Descendants() {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
	}
	return out
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

func render(n *html.Node) string {
	var b bytes.Buffer
	html.Render(&b, n)
	return b.String()
}
