package faulttest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/devenv"
	"github.com/sluice-broker/sluice/internal/devstack"
	"github.com/sluice-broker/sluice/internal/testenv"
)

var (
	binDir string           // the built api, worker and bedrocksim
	pg     *devenv.Postgres // durable: fsync and synchronous_commit on
	dbSeq  int
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	var err error
	if binDir, err = os.MkdirTemp("", "sluice-faults-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	build := exec.Command("go", "build", "-o", binDir+"/", "./cmd/api", "./cmd/worker", "./cmd/bedrocksim")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the binaries: %v\n%s", err, out)
		return 1
	}
	if pg, err = devenv.StartPostgresWith(ctx, devenv.PostgresOptions{Durable: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	code := testenv.Run(m, func() { pg.Stop() })
	printFigures(os.Stdout)
	return code
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// envDuration reads a drill setting, so that CI can shrink it.
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

const (
	masterKey = "sk-faults"
	alias     = "claude-sonnet"
	sluiceCfg = `
models:
  claude-sonnet:
    bedrock_model_id: us.anthropic.claude-sonnet-4-20250514-v1:0
    default_max_tokens: 64
    max_output_tokens: 4096
accounts:
  - name: a
    region: us-east-1
    role_arn: arn:aws:iam::111111111111:role/bedrock-caller
    external_id: ext-a
    models:
      claude-sonnet: {tpm: 1000000}
`
	// Calls take about 200 ms + 24 × 10 ms: long enough to be caught mid-call.
	simCfg = `
window: 1m
ttft: 200ms
per_token: 10ms
default_output_tokens: 24
accounts:
  - id: "111111111111"
    external_id: ext-a
`
)

// proc is one child process; its output goes to a log file.
type proc struct {
	name    string
	bin     string
	args    []string
	env     []string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(p.done) }()
}

func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if !p.running() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop asks the process to end (SIGTERM) and kills it if it takes too long.
func (p *proc) stop() {
	if !p.running() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.kill()
	}
}

func (p *proc) signal(sig syscall.Signal) { _ = syscall.Kill(-p.cmd.Process.Pid, sig) }

// stack is one drill's sluice: its own database, queues and processes.
type stack struct {
	t                     *testing.T
	dir                   string
	dbURL                 string
	db                    *pgxpool.Pool
	prefix                string
	sqsURL                string
	simURL, apiURL        string
	sim, api, worker      *proc
	apiAddr, metricsAddr  string
	simAddr               string
	client                *http.Client
	simLogPath, apiLogPth string
}

type stackOptions struct {
	// SQS is the SQS endpoint; default the test run's moto.
	SQS string
	// Env is added to the api's and worker's environment.
	Env []string
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{t: t, dir: t.TempDir(), client: &http.Client{Timeout: 3 * time.Minute}}
	// A database of its own on the durable cluster.
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	dbSeq++
	name := fmt.Sprintf("faults_%d", dbSeq)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	s.dbURL = pg.URL(name)
	if s.db, err = pgxpool.New(ctx, s.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.db.Close)
	s.sqsURL = o.SQS
	if s.sqsURL == "" {
		s.sqsURL = testenv.SQSEndpoint(t)
	}
	s.prefix = testenv.QueuePrefix(t)

	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = devenv.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	s.simAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	s.apiAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	s.metricsAddr = fmt.Sprintf("127.0.0.1:%d", ports[2])
	s.simURL, s.apiURL = "http://"+s.simAddr, "http://"+s.apiAddr

	simPath := filepath.Join(s.dir, "sim.yaml")
	if err := os.WriteFile(simPath, []byte(simCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s.simLogPath = filepath.Join(s.dir, "bedrocksim.log")
	s.apiLogPth = filepath.Join(s.dir, "api.log")
	s.sim = &proc{name: "bedrocksim", bin: filepath.Join(binDir, "bedrocksim"), args: []string{"-config", simPath, "-listen", s.simAddr},
		env: devstack.CleanEnv(), logPath: s.simLogPath}
	env := append(devstack.CleanEnv(),
		"DATABASE_URL="+s.dbURL,
		"SLUICE_CONFIG_YAML="+sluiceCfg,
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID="+bedrocksim.DefaultBaseAccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+bedrocksim.DefaultBaseSecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"SLUICE_SQS_ENDPOINT="+s.sqsURL,
		"SLUICE_BEDROCK_ENDPOINT="+s.simURL,
		"SLUICE_STS_ENDPOINT="+s.simURL,
		"SLUICE_CREATE_QUEUES=true",
		"SLUICE_QUEUE_PREFIX="+s.prefix,
		"SLUICE_MASTER_KEY="+masterKey,
		"SLUICE_LISTEN_ADDR="+s.apiAddr,
		"SLUICE_METRICS_ADDR="+s.metricsAddr,
		"SLUICE_LOG_FORMAT=text",
		"SLUICE_SYNC_TIMEOUT=3m",
		// Shrunk for the drills: the janitor sweeps every second and sends an
		// unsent job after 3 s; a body must arrive within 2 s.
		"SLUICE_JANITOR_EVERY=1s",
		"SLUICE_JANITOR_GRACE=3s",
		"SLUICE_BODY_TIMEOUT=2s",
	)
	env = append(env, o.Env...)
	s.api = &proc{name: "api", bin: filepath.Join(binDir, "api"), env: env, logPath: s.apiLogPth}
	s.worker = &proc{name: "worker", bin: filepath.Join(binDir, "worker"), env: env, logPath: filepath.Join(s.dir, "worker.log")}
	t.Cleanup(func() {
		s.api.stop()
		s.worker.stop()
		s.sim.stop()
		if t.Failed() {
			for _, p := range []*proc{s.sim, s.worker, s.api} {
				t.Logf("--- last lines of %s's log:\n%s", p.name, tail(p.logPath, 40))
			}
		}
	})
	s.startSim()
	s.startWorker()
	s.startAPI()
	return s
}

func (s *stack) waitTCP(addr, what string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := devenv.WaitTCP(ctx, addr); err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
}

func (s *stack) startSim()    { s.sim.start(s.t); s.waitTCP(s.simAddr, "bedrocksim") }
func (s *stack) startWorker() { s.worker.start(s.t); s.waitTCP(s.metricsAddr, "worker") }
func (s *stack) startAPI() {
	s.api.start(s.t)
	s.waitTCP(s.apiAddr, "api")
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// --- load ---

// outcome is what one caller saw.
type outcome struct {
	marker    string
	status    int // final HTTP status; 0: no answer
	retried   int // 503s answered with Retry-After and retried
	connError bool
}

// load is a bounded mixed load: even-numbered jobs are sync, odd ones async.
type load struct {
	drill  string
	n      int
	mu     sync.Mutex
	out    []outcome
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

func (l *load) marker(i int) string { return fmt.Sprintf("%s-%03d", l.drill, i) }

// body is a valid chat completion tagged with its marker, which the worker
// passes to Bedrock as request metadata and the simulator logs per call.
func body(marker string) string {
	return `{"model":"` + alias + `","max_tokens":64,"metadata":{"drill_job":"` + marker + `"},"messages":[{"role":"user","content":"fault drill ` + marker + `"}]}`
}

// submit starts n callers spread over spread; each retries, as a careful
// client does, a 503 after its Retry-After and a refused connection (the api
// restarting), with its Idempotency-Key so that no retry makes a second job.
func (s *stack) submit(drill string, n int, spread time.Duration) *load {
	l := &load{drill: drill, n: n}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	s.t.Cleanup(l.cancel)
	for i := range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			time.Sleep(spread * time.Duration(i) / time.Duration(n))
			o := s.call(l.ctx, l.marker(i), i%2 == 1)
			l.mu.Lock()
			l.out = append(l.out, o)
			l.mu.Unlock()
		}()
	}
	return l
}

func (s *stack) call(ctx context.Context, marker string, async bool) outcome {
	o := outcome{marker: marker}
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+"/v1/chat/completions", strings.NewReader(body(marker)))
		req.Header.Set("Authorization", "Bearer "+masterKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", marker)
		if async {
			req.Header.Set("Prefer", "respond-async")
		}
		resp, err := s.client.Do(req)
		if err != nil {
			// The api is down or died mid-wait: call again, as the job is
			// found again by its key.
			o.connError = true
			time.Sleep(500 * time.Millisecond)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
				o.retried++
				time.Sleep(time.Duration(ra) * time.Second)
				continue
			}
		}
		o.status = resp.StatusCode
		return o
	}
	return o
}

// finish waits for the callers, at most within; callers still waiting then
// are stopped (their jobs are counted from the table, not from them).
func (l *load) finish(within time.Duration) {
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(within):
		l.cancel()
		<-done
	}
}

// --- counting ---

// figures are one drill's counts.
type figures struct {
	Drill                    string
	Submitted, Accepted      int
	Terminal, Failed, Lost   int
	Duplicated, ServerErrors int
	Retried503, ConnErrors   int
	Recovery, Bound          time.Duration
	jobStates                map[string]string
}

var (
	figMu   sync.Mutex
	results []figures
)

func record(f figures) {
	figMu.Lock()
	defer figMu.Unlock()
	results = append(results, f)
}

func printFigures(w io.Writer) {
	figMu.Lock()
	defer figMu.Unlock()
	if len(results) == 0 {
		return
	}
	fmt.Fprintln(w, "\nfault drills:")
	fmt.Fprintln(w, "| drill | submitted | terminal | failed | lost | duplicated | 5xx (valid) | 503 retried | recovery | bound |")
	fmt.Fprintln(w, "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |")
	for _, f := range results {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %d | %s | %s |\n", f.Drill, f.Submitted, f.Terminal, f.Failed, f.Lost,
			f.Duplicated, f.ServerErrors, f.Retried503, f.Recovery.Round(100*time.Millisecond), f.Bound)
	}
}

// jobStates maps each marker to its job's state.
func (s *stack) jobStates() (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := s.db.Query(ctx, `SELECT request->'metadata'->>'drill_job', state FROM jobs`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var marker *string
		var state string
		if err := rows.Scan(&marker, &state); err != nil {
			return nil, err
		}
		if marker == nil {
			continue
		}
		if prev, dup := out[*marker]; dup {
			out[*marker] = prev + "+" + state // two jobs for one caller: counted as lost
			continue
		}
		out[*marker] = state
	}
	return out, rows.Err()
}

func terminal(state string) bool {
	return state == "succeeded" || state == "failed" || state == "cancelled"
}

// settle waits until every job is terminal or bound has passed since from,
// and answers how long after from the last job ended.
func (s *stack) settle(from time.Time, bound time.Duration, expect int) (map[string]string, time.Duration) {
	s.t.Helper()
	var states map[string]string
	for {
		var err error
		states, err = s.jobStates()
		if err == nil {
			done := len(states) >= expect
			for _, st := range states {
				done = done && terminal(st)
			}
			if done {
				return states, time.Since(from)
			}
		}
		if time.Since(from) > bound+5*time.Second {
			return states, time.Since(from)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var converseLine = regexp.MustCompile(`msg=converse .*outcome=("[^"]*"|\S+).*metadata=map\[(?:[^\]]*\s)?drill_job:([^\]\s]+)`)

// successfulCalls counts, per marker, the calls the simulator completed and
// answered (not failed, not abandoned by a caller that went away).
func (s *stack) successfulCalls() map[string]int {
	f, err := os.Open(s.simLogPath)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	calls := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := converseLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		outcome := strings.Trim(m[1], `"`)
		if outcome == "client gone" || strings.HasPrefix(outcome, "injected") {
			continue
		}
		calls[m[2]]++
	}
	return calls
}

// count fills a drill's figures from the callers' outcomes, the job rows and
// the simulator's log.
func (s *stack) count(l *load, states map[string]string, recovery, bound time.Duration) figures {
	f := figures{Drill: l.drill, Submitted: l.n, Recovery: recovery, Bound: bound, jobStates: states}
	for _, o := range l.out {
		if o.status >= 500 {
			f.ServerErrors++
		}
		f.Retried503 += o.retried
		if o.connError {
			f.ConnErrors++
		}
	}
	for i := range l.n {
		st, ok := states[l.marker(i)]
		if !ok {
			continue
		}
		f.Accepted++
		switch {
		case strings.Contains(st, "+"):
			f.Lost++ // a second job for one caller: the key did not hold
		case !terminal(st):
			f.Lost++
		default:
			f.Terminal++
			if st == "failed" {
				f.Failed++
			}
		}
	}
	// A caller that got an answer from the api had its job accepted; one
	// without a row was lost before the job existed.
	for _, o := range l.out {
		if _, ok := states[o.marker]; !ok && (o.status == 200 || o.status == 202) {
			f.Lost++
		}
	}
	for marker, n := range s.successfulCalls() {
		if strings.HasPrefix(marker, l.drill+"-") && n > 1 {
			f.Duplicated++
		}
	}
	return f
}

// check asserts the figures every drill shares, records them and logs them.
func check(t *testing.T, f figures) {
	t.Helper()
	record(f)
	t.Logf("%s: submitted %d, accepted %d, terminal %d, failed %d, lost %d, duplicated %d, 5xx %d, 503 retried %d, connection errors %d, recovery %s (bound %s)",
		f.Drill, f.Submitted, f.Accepted, f.Terminal, f.Failed, f.Lost, f.Duplicated, f.ServerErrors, f.Retried503, f.ConnErrors, f.Recovery.Round(time.Millisecond), f.Bound)
	if f.Lost != 0 || f.Accepted != f.Submitted {
		var open []string
		for m, st := range f.jobStates {
			if !terminal(st) {
				open = append(open, m+"="+st)
			}
		}
		t.Errorf("%s: %d lost, %d of %d accepted; not terminal: %v", f.Drill, f.Lost, f.Accepted, f.Submitted, open)
	}
	if f.ServerErrors != 0 {
		t.Errorf("%s: %d 5xx answers to valid requests", f.Drill, f.ServerErrors)
	}
	if f.Duplicated != 0 {
		t.Errorf("%s: %d jobs had more than one successful Bedrock call", f.Drill, f.Duplicated)
	}
	if f.Failed != 0 {
		t.Errorf("%s: %d jobs failed", f.Drill, f.Failed)
	}
	if f.Recovery > f.Bound {
		t.Errorf("%s: recovered in %s, beyond the bound of %s", f.Drill, f.Recovery.Round(time.Millisecond), f.Bound)
	}
}

// drill runs one drill: a mixed load of jobsPerDrill jobs spread over
// spread, the fault (inject answers when recovery starts), then counts and
// checks with the recovery bound.
func (s *stack) drill(name string, spread, bound time.Duration, inject func(*load) time.Time) figures {
	s.t.Helper()
	l := s.submit(name, jobsPerDrill, spread)
	from := inject(l)
	states, took := s.settle(from, bound, jobsPerDrill)
	l.finish(10 * time.Second)
	f := s.count(l, states, took, bound)
	check(s.t, f)
	return f
}

// waitRunning waits until at least n jobs are running (calls in flight).
func (s *stack) waitRunning(n int, within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var k int
		if err := s.db.QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE state = 'running'`).Scan(&k); err == nil && k >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("fewer than %d jobs running after %s", n, within)
}

// apiDo sends one request to the api with the master key.
func (s *stack) apiDo(method, path string, body []byte, header ...string) (int, []byte, error) {
	req, err := http.NewRequest(method, s.apiURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+masterKey)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// isOpenAIError reports whether b is an OpenAI error body.
func isOpenAIError(b []byte) bool {
	var e struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	return json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Message != ""
}

var errNoMetric = errors.New("metric not found")

// metric reads one unlabelled gauge from the api's /metrics.
func (s *stack) metric(name string) (float64, error) {
	resp, err := http.Get(s.apiURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, errNoMetric
}
