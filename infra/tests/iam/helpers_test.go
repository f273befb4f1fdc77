package iam

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-broker/sluice/internal/devenv"
)

// policy is an IAM policy document as the task-policies module writes it.
type policy struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string         `json:"Sid,omitempty"`
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

func (p *policy) resources(sid string) []string {
	for _, s := range p.Statement {
		if s.Sid == sid {
			return slices.Clone(s.Resource)
		}
	}
	return nil
}

// grant is one action on one kind of resource within a statement. Grants are
// counted per kind (work queue, dead-letter queue, role), not per ARN: one
// job cannot visit every queue, but a permission on a kind of resource that
// no call needs is one the deployment must not give.
type grant struct {
	sid, action, kind string
	resources         []string
}

func (g grant) String() string {
	return fmt.Sprintf("%s on %s (statement %s)", g.action, g.kind, g.sid)
}

func (p *policy) grants() []grant {
	var out []grant
	for _, s := range p.Statement {
		byKind := map[string][]string{}
		for _, r := range s.Resource {
			byKind[kind(r)] = append(byKind[kind(r)], r)
		}
		for _, a := range s.Action {
			for k, rs := range byKind {
				out = append(out, grant{sid: s.Sid, action: a, kind: k, resources: rs})
			}
		}
	}
	return out
}

func kind(arn string) string {
	switch {
	case strings.HasPrefix(arn, "arn:aws:sqs:") && strings.HasSuffix(arn, "-dlq"):
		return "dead-letter queues"
	case strings.HasPrefix(arn, "arn:aws:sqs:"):
		return "work queues"
	case strings.HasPrefix(arn, "arn:aws:iam:") && strings.Contains(arn, ":role/"):
		return "roles"
	}
	return arn
}

// call is one request the binaries made to moto.
type call struct {
	proc, action, resource string
	status                 int
	denied                 bool
}

// recorder is a reverse proxy in front of moto that notes who called what
// on which resource, and with what result. The Host header is passed on
// unchanged, so SigV4 signatures still verify.
type recorder struct {
	t     *testing.T
	proxy *httputil.ReverseProxy

	mu    sync.Mutex
	procs map[string]string // access key id -> process
	calls []call
}

func newRecorder(t *testing.T, target string) *recorder {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{t: t, procs: map[string]string{}}
	r.proxy = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Host = pr.In.Host
	}, ErrorLog: log.New(io.Discard, "", 0)} // long polls cut short when a case ends
	return r
}

func (r *recorder) name(keyID, proc string) {
	r.mu.Lock()
	r.procs[keyID] = proc
	r.mu.Unlock()
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	c := call{action: action(req, body), resource: resource(req, body)}
	r.mu.Lock()
	c.proc = r.procs[accessKey(req)]
	r.mu.Unlock()
	rw := &capture{ResponseWriter: w}
	r.proxy.ServeHTTP(rw, req)
	c.status = rw.status
	c.denied = rw.status == http.StatusForbidden || bytes.Contains(rw.head, []byte("AccessDenied"))
	if c.proc != "" {
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.mu.Unlock()
	}
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}

// denied lists the calls moto refused.
func (r *recorder) denied() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		if c.denied {
			s := fmt.Sprintf("%s %s %s", c.proc, c.action, c.resource)
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// used tells whether proc made a successful call that g allows.
func (r *recorder) used(proc string, g grant) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		if c.proc != proc || c.status/100 != 2 || !strings.EqualFold(c.action, g.action) || kind(c.resource) != g.kind {
			continue
		}
		for _, pattern := range g.resources {
			if ok, _ := path.Match(pattern, c.resource); ok || pattern == c.resource {
				return true
			}
		}
	}
	return false
}

// action is the IAM action of an SQS (JSON protocol) or STS (query) request.
func action(req *http.Request, body []byte) string {
	if t := req.Header.Get("X-Amz-Target"); strings.HasPrefix(t, "AmazonSQS.") {
		a := strings.TrimPrefix(t, "AmazonSQS.")
		a = strings.TrimSuffix(a, "Batch") // SendMessageBatch is authorised as SendMessage, etc.
		return "sqs:" + a
	}
	form, _ := url.ParseQuery(string(body))
	if a := form.Get("Action"); a != "" {
		return "sts:" + a
	}
	return "?"
}

func resource(req *http.Request, body []byte) string {
	if strings.HasPrefix(req.Header.Get("X-Amz-Target"), "AmazonSQS.") {
		var in struct{ QueueUrl, QueueName string }
		_ = json.Unmarshal(body, &in)
		name := in.QueueName
		if in.QueueUrl != "" {
			name = in.QueueUrl[strings.LastIndex(in.QueueUrl, "/")+1:]
		}
		return "arn:aws:sqs:" + region + ":" + account + ":" + name
	}
	form, _ := url.ParseQuery(string(body))
	return form.Get("RoleArn")
}

func accessKey(req *http.Request) string {
	_, cred, ok := strings.Cut(req.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(cred, "/")
	return id
}

// capture keeps the status and the start of the body.
type capture struct {
	http.ResponseWriter
	status int
	head   []byte
}

func (c *capture) WriteHeader(code int) { c.status = code; c.ResponseWriter.WriteHeader(code) }

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if len(c.head) < 4096 {
		c.head = append(c.head, b[:min(len(b), 4096-len(c.head))]...)
	}
	return c.ResponseWriter.Write(b)
}

// proc is a running api or worker.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// start runs bin with env (and no other AWS or sluice settings) and waits
// until it listens on addr; if it exits first, its log is the error.
func start(ctx context.Context, t *testing.T, bin string, env []string, addr string) (*proc, error) {
	p := &proc{cmd: exec.Command(bin), out: &syncBuffer{}, done: make(chan struct{})}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") && name != "AWS_CA_BUNDLE" || strings.HasPrefix(name, "SLUICE_") || strings.HasPrefix(name, "PG") || name == "DATABASE_URL" {
			continue
		}
		p.cmd.Env = append(p.cmd.Env, kv)
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	up := make(chan error, 1)
	go func() { up <- devenv.WaitTCP(wctx, addr) }()
	select {
	case err := <-up:
		if err != nil {
			p.stop()
			return nil, fmt.Errorf("%s did not listen on %s: %w\n%s", bin, addr, err, p.log())
		}
		return p, nil
	case <-p.done:
		cancel()
		return nil, fmt.Errorf("%s exited at start: %v\n%s", bin, p.cmd.ProcessState, p.log())
	}
}

func (p *proc) log() string { return p.out.String() }

func (p *proc) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// startMoto runs moto_server.py (moto with GetQueueUrl authorised against
// the queue's ARN, as AWS does) on a free port. Enforcement starts off.
func startMoto(ctx context.Context, t *testing.T) (string, error) {
	port, err := devenv.FreePort()
	if err != nil {
		return "", err
	}
	python, err := motoPython()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(python, "moto_server.py", "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start moto_server.py: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := devenv.WaitTCP(wctx, fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		return "", fmt.Errorf("moto_server.py did not start (is moto installed for python3?): %w\n%s", err, out.String())
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port), nil
}

// motoPython is a Python that imports moto: python3, or the interpreter
// moto_server's script names (a pip install into another Python).
func motoPython() (string, error) {
	candidates := []string{"python3"}
	if script, err := exec.LookPath("moto_server"); err == nil {
		if raw, err := os.ReadFile(script); err == nil {
			first, _, _ := strings.Cut(string(raw), "\n")
			if interp, ok := strings.CutPrefix(first, "#!"); ok && strings.Contains(interp, "python") {
				candidates = append(candidates, strings.Fields(interp)[0])
			}
		}
	}
	for _, c := range candidates {
		if exec.Command(c, "-c", "import moto.server").Run() == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("no Python with moto (tried %v): pip install 'moto[server]'", candidates)
}
