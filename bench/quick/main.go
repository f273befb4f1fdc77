// Command quick measures sluice's per-job costs on a whole local stack
// (separate api, worker and simulator processes, Postgres, fauxqs) and ends
// with key=value lines that scripts/bench prints and the README records:
//
//	sync_overhead_p50_ms, sync_overhead_p99_ms  sync calls at a fixed rate, open
//	    loop (-rate, default 200/s): end to end minus the simulator's latency
//	worker_cpu_us_per_call  the worker process's CPU time (utime+stime from
//	    /proc) per Bedrock call, over the steady part of the sync phase
//	pg_commits_per_job  pg_stat_database xact_commit delta per job, same span
//	async_enqueue_per_s  accepted Prefer: respond-async requests per second,
//	    with the worker paused (SIGSTOP), -c concurrent clients
//
//	go run ./bench/quick            # about a minute
//	go run ./bench/quick -d 60s     # longer phases
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/devenv"
	"github.com/sluice-broker/sluice/internal/devstack"
)

const modelID = "amazon.nova-lite-v1:0"

type options struct {
	rate      float64
	dur       time.Duration
	asyncDur  time.Duration
	asyncConc int
	tokens    int
	ttft      time.Duration
	perToken  time.Duration
	sqs       string
	logs      bool
}

func main() {
	var o options
	flag.Float64Var(&o.rate, "rate", 200, "sync requests per second (open loop)")
	flag.DurationVar(&o.dur, "d", 25*time.Second, "length of the sync phase")
	flag.DurationVar(&o.asyncDur, "async-d", 10*time.Second, "length of the async enqueue phase")
	flag.IntVar(&o.asyncConc, "c", 32, "concurrent clients in the async enqueue phase")
	flag.IntVar(&o.tokens, "tokens", 50, "output tokens per completion")
	flag.DurationVar(&o.ttft, "ttft", 100*time.Millisecond, "simulated time to first token")
	flag.DurationVar(&o.perToken, "per-token", 2*time.Millisecond, "simulated time per output token")
	flag.StringVar(&o.sqs, "sqs", devenv.SQSFauxqs, "local SQS server: fauxqs or moto")
	flag.BoolVar(&o.logs, "v", false, "show the stack's logs")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "quick:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx := context.Background()
	// A quota far above the offered load: this measures sluice, not budgets.
	cfg := fmt.Sprintf("models:\n  nova: {bedrock_model_id: %q, default_max_tokens: %d, burndown: 1}\n"+
		"accounts:\n  - {name: a, region: us-east-1, role_arn: \"arn:aws:iam::111111111111:role/bedrock-caller\", models: {nova: {tpm: 1000000000}}}\n", modelID, o.tokens)
	sim := fmt.Sprintf("window: 1m\nttft: 50ms\nper_token: 1ms\nauth: true\nbase_access_key_id: AKIDSLUICELOCAL\nbase_secret_access_key: sluice-local-secret\n"+
		"models:\n  %q: {max_output_tokens: 5000, burndown: 1}\naccounts:\n  - id: \"111111111111\"\n    quotas: {%q: {tpm: 1000000000}}\n", modelID, modelID)
	out := io.Discard
	if o.logs {
		out = os.Stderr
	}
	stack, err := devstack.Start(ctx, devstack.Options{SluiceYAML: cfg, SimYAML: sim,
		SQS: o.sqs, Out: out, Env: []string{"SLUICE_LOG_LEVEL=warn"}})
	if err != nil {
		return err
	}
	defer stack.Stop()
	db, err := pgx.Connect(ctx, stack.DBURL)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	b := &bench{o: o, stack: stack, db: db, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}, Timeout: time.Minute}}

	fmt.Printf("sluice quick benchmark: SQS %s, simulated latency %s\n", cmp(stack.SQSKind, "external"), b.simLatency())
	for i := range 5 { // warm up: connections, role assumption
		if _, err := b.call(int64(-i), false); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	s, err := b.syncPhase()
	if err != nil {
		return err
	}
	fmt.Printf("  sync           %d requests at %.0f/s open loop, %d errors; end-to-end p50 %s p99 %s\n",
		s.n, o.rate, s.errors, ms(s.p50+b.simLatency()), ms(s.p99+b.simLatency()))
	if s.firstErr != "" {
		fmt.Printf("  first error    %s\n", s.firstErr)
	}
	fmt.Printf("  steady span    %d Bedrock calls, worker CPU %s, %d commits\n", s.calls, s.workerCPU, s.commits)
	rate, err := b.asyncPhase()
	if err != nil {
		return err
	}
	fmt.Printf("sync_overhead_p50_ms=%.1f\n", float64(s.p50.Microseconds())/1000)
	fmt.Printf("sync_overhead_p99_ms=%.1f\n", float64(s.p99.Microseconds())/1000)
	fmt.Printf("async_enqueue_per_s=%.0f\n", rate)
	fmt.Printf("worker_cpu_us_per_call=%.0f\n", float64(s.workerCPU.Microseconds())/float64(max(s.calls, 1)))
	fmt.Printf("pg_commits_per_job=%.2f\n", float64(s.commits)/float64(max(s.calls, 1)))
	return nil
}

type bench struct {
	o      options
	stack  *devstack.Stack
	db     *pgx.Conn
	client *http.Client
}

func (b *bench) simLatency() time.Duration {
	return b.o.ttft + time.Duration(b.o.tokens)*b.o.perToken
}

// call sends one completion and returns its end-to-end latency.
func (b *bench) call(i int64, async bool) (time.Duration, error) {
	directive := fmt.Sprintf("#sim: output_tokens=%d ttft_ms=%d per_token_ms=%d", b.o.tokens, b.o.ttft.Milliseconds(), b.o.perToken.Milliseconds())
	body, _ := json.Marshal(map[string]any{
		"model": "nova", "max_tokens": b.o.tokens,
		"messages": []map[string]string{{"role": "user", "content": fmt.Sprintf("request %d\n%s", i, directive)}},
	})
	req, _ := http.NewRequest(http.MethodPost, b.stack.APIURL+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+b.stack.MasterKey)
	want := http.StatusOK
	if async {
		req.Header.Set("Prefer", "respond-async")
		want = http.StatusAccepted
	}
	start := time.Now()
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return 0, fmt.Errorf("status %d: %.200s", resp.StatusCode, raw)
	}
	return time.Since(start), nil
}

type syncResult struct {
	n, errors int
	firstErr  string
	p50, p99  time.Duration // overhead
	calls     int64
	workerCPU time.Duration
	commits   int64
}

// syncPhase offers o.rate requests a second for o.dur, whatever the answers'
// latency (open loop), and meters the worker and Postgres over the middle of
// it, where the load is steady.
func (b *bench) syncPhase() (syncResult, error) {
	var (
		res  syncResult
		mu   sync.Mutex
		lats []time.Duration
		errs atomic.Int64
		wg   sync.WaitGroup
	)
	interval := time.Duration(float64(time.Second) / b.o.rate)
	start := time.Now()
	meterFrom, meterTo := start.Add(b.o.dur/5), start.Add(b.o.dur*4/5)
	var before, after meter
	metered := make(chan error, 2)
	go func() {
		time.Sleep(time.Until(meterFrom))
		var err error
		before, err = b.read()
		metered <- err
		time.Sleep(time.Until(meterTo))
		after, err = b.read()
		metered <- err
	}()
	var seq int64
	for next := start; next.Before(start.Add(b.o.dur)); next = next.Add(interval) {
		time.Sleep(time.Until(next))
		seq++
		wg.Add(1)
		go func(i int64) {
			defer wg.Done()
			d, err := b.call(i, false)
			if err != nil {
				if errs.Add(1) == 1 {
					mu.Lock()
					res.firstErr = err.Error()
					mu.Unlock()
				}
				return
			}
			mu.Lock()
			lats = append(lats, d-b.simLatency())
			mu.Unlock()
		}(seq)
	}
	for range 2 {
		if err := <-metered; err != nil {
			return res, err
		}
	}
	wg.Wait()
	slices.Sort(lats)
	q := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(float64(len(lats))*p))]
	}
	res.n, res.errors, res.p50, res.p99 = len(lats), int(errs.Load()), q(0.50), q(0.99)
	res.calls = after.calls - before.calls
	res.workerCPU = after.cpu - before.cpu
	res.commits = after.commits - before.commits
	return res, nil
}

type meter struct {
	calls   int64 // Bedrock calls admitted by the simulator
	cpu     time.Duration
	commits int64
}

func (b *bench) read() (meter, error) {
	var m meter
	resp, err := http.Get(b.stack.SimURL + "/_sim/stats")
	if err != nil {
		return m, err
	}
	var st bedrocksim.Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		return m, err
	}
	m.calls = st.Model("111111111111", modelID).Totals.Admitted
	if m.cpu, err = processCPU(b.stack.PID("worker")); err != nil {
		return m, err
	}
	// Statistics reach pg_stat_database when a backend reports them (at most
	// once a second when busy); the bench's own reads add one commit each.
	_, err = b.db.Exec(context.Background(), `SELECT pg_stat_clear_snapshot()`)
	if err == nil {
		err = b.db.QueryRow(context.Background(), `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&m.commits)
	}
	return m, err
}

// processCPU is a process's user and system CPU time, from /proc.
func processCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// asyncPhase pauses the worker, then sends async requests from o.asyncConc
// clients for o.asyncDur, and returns how many were accepted per second.
func (b *bench) asyncPhase() (float64, error) {
	worker := b.stack.PID("worker")
	if err := syscall.Kill(worker, syscall.SIGSTOP); err != nil {
		return 0, err
	}
	defer syscall.Kill(worker, syscall.SIGCONT)
	var (
		accepted, failed atomic.Int64
		seq              atomic.Int64
		wg               sync.WaitGroup
		firstErr         atomic.Value
	)
	start := time.Now()
	deadline := start.Add(b.o.asyncDur)
	for range b.o.asyncConc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := b.call(1_000_000+seq.Add(1), true); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	rate := float64(accepted.Load()) / elapsed.Seconds()
	fmt.Printf("  async enqueue  %d accepted in %s from %d clients (worker paused), %d failed\n",
		accepted.Load(), elapsed.Round(time.Millisecond), b.o.asyncConc, failed.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Printf("  first error    %s\n", e)
	}
	return rate, nil
}

func ms(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
