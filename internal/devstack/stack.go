// Package devstack runs the whole local stack as separate processes: Postgres,
// a local SQS server (fauxqs, or moto), the Bedrock simulator, the api and the worker. scripts/dev and
// the benchmarks use it; each process is the same binary that runs on AWS.
package devstack

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/devenv"
)

// Options tune a stack. Zero values give the README's local stack.
type Options struct {
	// Root is the repository root; default: found from the working directory.
	Root string
	// APIAddr is where the api (and its /metrics) listens; default: a free
	// port (cmd/devstack's -addr defaults to 127.0.0.1:8080).
	APIAddr string
	// MetricsAddr is where the worker serves /metrics; default: a free port.
	MetricsAddr string
	// SimAddr is where the simulator listens; default: a free port.
	SimAddr string
	// SQS is the local SQS server: "fauxqs" (default) or "moto". Ignored
	// when SLUICE_SQS_ENDPOINT is set.
	SQS string
	// MasterKey is the api key; default sk-sluice-local.
	MasterKey string
	// SluiceConfig is sluice's YAML (or a LiteLLM proxy config); default
	// deploy/local/sluice.yaml.
	SluiceConfig string
	// SimConfig is the simulator's YAML. Default: deploy/local/bedrocksim.yaml
	// with the models, accounts and quotas derived from SluiceConfig
	// (bedrocksim.FromSluice), so any configuration is served as it is.
	SimConfig string
	// SluiceYAML and SimYAML, when set, are the YAML documents themselves,
	// in place of SluiceConfig and SimConfig (benchmarks make their own).
	SluiceYAML, SimYAML string
	// SimOverrides are top-level keys replaced in the simulator's YAML.
	SimOverrides map[string]any
	// NoWorker leaves the worker out: jobs stay queued (for benchmarks of
	// the api alone). The api then creates the queues.
	NoWorker bool
	// Env is added to the api's and worker's environment.
	Env []string
	// Out receives the children's logs, each line prefixed with its name.
	Out io.Writer
}

// Stack is a running local stack.
type Stack struct {
	APIURL    string
	MasterKey string
	// WorkerMetricsURL is the worker's Prometheus endpoint (the api's is
	// APIURL/metrics, the simulator's SimURL/_sim/stats).
	WorkerMetricsURL string
	SimURL           string
	SQSURL           string
	// SQSKind is the local SQS server's kind, or "" for one given by
	// SLUICE_SQS_ENDPOINT.
	SQSKind string
	DBURL   string
	// Aliases are the running configuration's model aliases.
	Aliases      []string
	exampleAlias string
	// refuseAccount is the AWS account the banner's failover example uses.
	refuseAccount string

	dir   string
	pg    *devenv.Postgres
	sqs   devenv.SQSServer
	procs []*proc
}

// PortTakenError reports an address of the stack that something else holds.
type PortTakenError struct {
	Part, Addr string
	// Flag is cmd/devstack's flag that moves it.
	Flag string
	Err  error
}

func (e *PortTakenError) Error() string {
	return fmt.Sprintf("%s: %s is already in use (choose another with %s): %v", e.Part, e.Addr, e.Flag, e.Err)
}

func (e *PortTakenError) Unwrap() error { return e.Err }

// checkFree fails with a PortTakenError if addr cannot be bound now.
func checkFree(part, addr, flagName string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &PortTakenError{Part: part, Addr: addr, Flag: flagName, Err: err}
	}
	return ln.Close()
}

// freeAddr returns addr, or a free loopback address when addr is empty.
func freeAddr(addr string) (string, error) {
	if addr != "" {
		return addr, nil
	}
	port, err := devenv.FreePort()
	return fmt.Sprintf("127.0.0.1:%d", port), err
}

// simServes is what the simulator serves when derived from the sluice
// configuration.
type simServes struct {
	derived        bool
	models         map[string]bedrocksim.ModelConfig
	accounts       []bedrocksim.AccountConfig
	defaultAccount string
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start builds the binaries and starts everything, and returns once every
// part answers: Postgres takes a session, SQS an HTTP request, the simulator
// serves its stats, the worker its metrics and the api /healthz. Call Stop
// when done, also after an error.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.Root == "" {
		if o.Root, err = repoRoot(); err != nil {
			return nil, err
		}
	}
	if o.MasterKey == "" {
		o.MasterKey = "sk-sluice-local"
	}
	if o.SluiceConfig == "" {
		o.SluiceConfig = filepath.Join(o.Root, "deploy/local/sluice.yaml")
	}
	// Without a simulator configuration of its own, the simulator serves
	// what the sluice configuration names.
	deriveSim := o.SimConfig == "" && o.SimYAML == ""
	if o.SimConfig == "" {
		o.SimConfig = filepath.Join(o.Root, "deploy/local/bedrocksim.yaml")
	}
	if o.Out == nil {
		o.Out = os.Stderr
	}
	// Taken ports fail now, with the flag that moves them, rather than as a
	// child's exit after everything else has started.
	if o.APIAddr, err = freeAddr(o.APIAddr); err != nil {
		return nil, err
	}
	if o.MetricsAddr, err = freeAddr(o.MetricsAddr); err != nil {
		return nil, err
	}
	if o.SimAddr, err = freeAddr(o.SimAddr); err != nil {
		return nil, err
	}
	for _, c := range []struct{ part, addr, flag string }{
		{"api", o.APIAddr, "-addr"}, {"worker metrics", o.MetricsAddr, "-metrics-addr"}, {"simulator", o.SimAddr, "-sim-addr"},
	} {
		if err := checkFree(c.part, c.addr, c.flag); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "sluice-devstack-")
	if err != nil {
		return nil, err
	}
	for _, doc := range []struct {
		yaml, name string
		path       *string
	}{{o.SluiceYAML, "sluice-given.yaml", &o.SluiceConfig}, {o.SimYAML, "sim-given.yaml", &o.SimConfig}} {
		if doc.yaml == "" {
			continue
		}
		*doc.path = filepath.Join(dir, doc.name)
		if err := os.WriteFile(*doc.path, []byte(doc.yaml), 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	s = &Stack{APIURL: "http://" + o.APIAddr, MasterKey: o.MasterKey, WorkerMetricsURL: "http://" + o.MetricsAddr + "/metrics",
		SimURL: "http://" + o.SimAddr, dir: dir}
	// A configuration that does not parse is left to the worker to report,
	// with the simulator on its defaults meanwhile.
	var sim simServes
	if cfg, err := readConfig(o.SluiceConfig); err == nil {
		s.Aliases, s.exampleAlias = cfg.Aliases(), exampleAlias(cfg)
		if deriveSim {
			if sim.models, sim.accounts, sim.defaultAccount, err = bedrocksim.FromSluice(cfg); err != nil {
				os.RemoveAll(dir)
				return nil, fmt.Errorf("derive the simulator from %s: %w", o.SluiceConfig, err)
			}
			sim.derived = true
			s.refuseAccount = exampleAccount(cfg, s.exampleAlias, sim.defaultAccount)
		}
	}
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()

	fmt.Fprintln(o.Out, "devstack: building api, worker and bedrocksim")
	build := exec.CommandContext(ctx, "go", "build", "-o", dir+"/", "./cmd/api", "./cmd/worker", "./cmd/bedrocksim")
	build.Dir = o.Root
	if out, err := build.CombinedOutput(); err != nil {
		return s, fmt.Errorf("go build: %w\n%s", err, out)
	}

	if s.DBURL = os.Getenv("DATABASE_URL"); s.DBURL == "" {
		fmt.Fprintln(o.Out, "devstack: starting a throwaway Postgres cluster")
		if s.pg, err = devenv.StartPostgres(ctx); err != nil {
			return s, err
		}
		s.DBURL = s.pg.URL("postgres")
	}
	if s.SQSURL = os.Getenv("SLUICE_SQS_ENDPOINT"); s.SQSURL == "" {
		s.SQSKind = cmp.Or(o.SQS, devenv.SQSFauxqs)
		fmt.Fprintf(o.Out, "devstack: starting %s (SQS)\n", s.SQSKind)
		if s.sqs, err = devenv.StartSQS(ctx, s.SQSKind); err != nil {
			return s, err
		}
		s.SQSURL = s.sqs.Endpoint()
	}
	if err := s.waitHTTP(ctx, "SQS", s.SQSURL, false); err != nil {
		return s, err
	}

	simCfg, err := rewriteYAML(o.SimConfig, filepath.Join(dir, "bedrocksim.yaml"), func(doc map[string]any) {
		doc["listen"] = o.SimAddr
		if sim.derived {
			doc["models"], doc["accounts"] = sim.models, sim.accounts
			delete(doc, "default_account")
			if sim.defaultAccount != "" {
				doc["default_account"] = sim.defaultAccount
			}
		}
		for k, v := range o.SimOverrides {
			doc[k] = v
		}
	})
	if err != nil {
		return s, err
	}
	if err := s.start(ctx, o.Out, "bedrocksim", []string{"-config", simCfg}, nil); err != nil {
		return s, err
	}
	if err := s.waitHTTP(ctx, "bedrocksim", s.SimURL+"/_sim/stats", true); err != nil {
		return s, err
	}

	env := append([]string{
		"DATABASE_URL=" + s.DBURL,
		"SLUICE_CONFIG=" + o.SluiceConfig,
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDSLUICELOCAL",
		"AWS_SECRET_ACCESS_KEY=sluice-local-secret",
		"SLUICE_SQS_ENDPOINT=" + s.SQSURL,
		"SLUICE_BEDROCK_ENDPOINT=" + s.SimURL,
		"SLUICE_STS_ENDPOINT=" + s.SimURL,
		"SLUICE_CREATE_QUEUES=true",
		"SLUICE_LISTEN_ADDR=" + o.APIAddr,
		"SLUICE_MASTER_KEY=" + o.MasterKey,
		"SLUICE_METRICS_ADDR=" + o.MetricsAddr,
		"SLUICE_LOG_FORMAT=text",
		// Locally, webhook receivers run on this machine, and master-key
		// callbacks need a signing secret (a fixed one: this is not AWS).
		"SLUICE_WEBHOOK_ALLOW_PRIVATE=true",
		"SLUICE_WEBHOOK_SECRET=whsec_c2x1aWNlLWxvY2FsLXdlYmhvb2stc2VjcmV0LTMyYg==",
	}, o.Env...)
	// The worker creates the queues before it serves metrics; start it first
	// so the api finds them.
	if !o.NoWorker {
		if err := s.start(ctx, o.Out, "worker", nil, env); err != nil {
			return s, err
		}
		if err := s.waitHTTP(ctx, "worker", "http://"+o.MetricsAddr+"/healthz", true); err != nil {
			return s, err
		}
	}
	if err := s.start(ctx, o.Out, "api", nil, env); err != nil {
		return s, err
	}
	if err := s.waitHTTP(ctx, "api", s.APIURL+"/healthz", true); err != nil {
		return s, err
	}
	return s, nil
}

// waitHTTP waits until url answers (with 200 if ok200), or until the part
// called name exits, or a minute passes.
func (s *Stack) waitHTTP(ctx context.Context, name, url string, ok200 bool) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var exited <-chan struct{}
	for _, p := range s.procs {
		if p.name == name {
			exited = p.done
		}
	}
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if !ok200 || resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-exited:
			return fmt.Errorf("%s exited before it answered on %s (its log is above)", name, url)
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer on %s: %w", name, url, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Stack) start(ctx context.Context, out io.Writer, name string, args, env []string) error {
	cmd := exec.Command(filepath.Join(s.dir, name), args...)
	// Its own process group: Ctrl-C reaches only devstack, which then stops
	// the children in order (api first, so callers get answers).
	// Pdeathsig: if devstack itself is killed, the children go too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Env = append(CleanEnv(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go prefixLines(out, name, pr)
	go func() {
		err := cmd.Wait()
		pw.Close()
		select {
		case <-ctx.Done():
		default:
			if err != nil {
				fmt.Fprintf(out, "devstack: %s exited: %v\n", name, err)
			}
		}
		close(p.done)
	}()
	s.procs = append(s.procs, p)
	return nil
}

// PID is the process id of a child ("api", "worker", "bedrocksim"), or 0.
func (s *Stack) PID(name string) int {
	for _, p := range s.procs {
		if p.name == name {
			return p.cmd.Process.Pid
		}
	}
	return 0
}

// Exited is closed when any child exits.
func (s *Stack) Exited() <-chan string {
	ch := make(chan string, len(s.procs))
	for _, p := range s.procs {
		go func() { <-p.done; ch <- p.name }()
	}
	return ch
}

// Stop ends the children in reverse order of start, then Postgres and moto.
func (s *Stack) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(40 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	if s.sqs != nil {
		s.sqs.Stop()
	}
	if s.pg != nil {
		s.pg.Stop()
	}
	os.RemoveAll(s.dir)
}

var prefixMu sync.Mutex

func prefixLines(out io.Writer, name string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		prefixMu.Lock()
		fmt.Fprintf(out, "%-10s | %s\n", name, sc.Text())
		prefixMu.Unlock()
	}
	io.Copy(io.Discard, r)
}

// CleanEnv is this process's environment without the AWS and sluice settings
// that would point children at a real account or another stack.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") && name != "AWS_CA_BUNDLE" || strings.HasPrefix(name, "SLUICE_") || name == "DATABASE_URL" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func rewriteYAML(src, dst string, edit func(map[string]any)) (string, error) {
	raw, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return "", fmt.Errorf("parse %s: %w", src, err)
	}
	edit(doc)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", err
	}
	return dst, os.WriteFile(dst, out, 0o644)
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the sluice repository")
	}
	return filepath.Dir(gomod), nil
}

// Services starts only Postgres and a local SQS server of the given kind
// ("fauxqs" or "moto"), and returns the environment that points at them and a
// function that stops them.
func Services(ctx context.Context, sqsKind string) (env []string, stop func(), err error) {
	pg, err := devenv.StartPostgres(ctx)
	if err != nil {
		return nil, nil, err
	}
	sqs, err := devenv.StartSQS(ctx, sqsKind)
	if err != nil {
		pg.Stop()
		return nil, nil, err
	}
	env = []string{"DATABASE_URL=" + pg.URL("postgres"), "SLUICE_SQS_ENDPOINT=" + sqs.Endpoint()}
	return env, func() { sqs.Stop(); pg.Stop() }, nil
}
