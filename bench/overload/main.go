// Command overload runs sluice's budget scenario for longer than the tests do:
// several accounts with a small quota each, and sync callers offering a
// multiple of what the quotas allow. It starts the whole local stack as
// separate processes and prints, per account, utilization (what Bedrock
// charged / what the budget allowed, over the windows where work was waiting),
// throttles at the simulator, client-visible errors, and queue wait p50/p99.
//
//	go run ./bench/overload -accounts 3 -tpm 3000 -window 2s -overload 3 -d 60s
//	go run ./bench/overload -client-timeout 30s    # callers who give up after 30 s
//
// With -client-timeout each caller sends its timeout as the OpenAI SDKs do
// (X-Stainless-Timeout) and gives up when it runs out. The run ends with
// key=value lines: ok, early_429 (refused at once with Retry-After),
// client_timeouts, bedrock_calls, wasted_calls (calls that finished after
// their caller had left), stopped_calls (calls stopped when their caller
// left), utilization_pct and throttles.
//
// moto, the local SQS server, scans a whole queue on every send and receive,
// so it slows as the backlog grows; with small requests a long overload makes
// moto, not the budget, the bottleneck. The default of 1,000 output tokens per
// request keeps the message rate (and the backlog) low enough that what is
// measured is the scheduler.
//
// -prefix N gives every request the same system prompt of N tokens; with
// -cache the alias has prompt_caching: auto, so that prefix is read from
// Bedrock's prompt cache, which the quota does not charge: the same budget
// then serves more requests. Compare
//
//	go run ./bench/overload -tpm 8000 -prefix 2000 -d 30s
//	go run ./bench/overload -tpm 8000 -prefix 2000 -d 30s -cache
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/devstack"
)

const modelID = "amazon.nova-lite-v1:0"

func main() {
	accounts := flag.Int("accounts", 3, "accounts serving the model")
	tpm := flag.Int("tpm", 3000, "each account's tokens per window")
	window := flag.Duration("window", 2*time.Second, "the quota window (a minute on AWS)")
	over := flag.Float64("overload", 3, "offered load as a multiple of the total budget")
	dur := flag.Duration("d", 60*time.Second, "how long to offer load")
	out := flag.Int("tokens", 1000, "output tokens per request (= max_tokens)")
	logs := flag.Bool("v", false, "show the stack's logs")
	patience := flag.Duration("client-timeout", 0, "how long each caller waits (0: as long as it takes)")
	admission := flag.Bool("admission", true, "answer early (429) when the queue cannot meet a caller's timeout")
	prefix := flag.Int("prefix", 0, "tokens of a system prompt every request shares")
	cache := flag.Bool("cache", false, "prompt_caching: auto on the alias (the shared prefix is read from the cache)")
	flag.Parse()
	if err := run(*accounts, *tpm, *window, *over, *dur, *out, *logs, *patience, *admission, *prefix, *cache); err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(1)
	}
}

func run(accounts, tpm int, window time.Duration, over float64, dur time.Duration, outTokens int, logs bool, patience time.Duration, admission bool, prefix int, cache bool) error {
	dir, err := os.MkdirTemp("", "sluice-overload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var cfg, sim strings.Builder
	caching := "off"
	if cache {
		caching = "auto"
	}
	fmt.Fprintf(&cfg, "models:\n  nova: {bedrock_model_id: %q, default_max_tokens: %d, max_output_tokens: 5000, burndown: 1, prompt_caching: %s}\naccounts:\n", modelID, outTokens, caching)
	fmt.Fprintf(&sim, "window: %s\nttft: 50ms\nper_token: 1ms\nmodels:\n  %q: {max_output_tokens: 5000, burndown: 1, prompt_cache_min_tokens: 1000}\naccounts:\n", window, modelID)
	ids := make([]string, accounts)
	for i := range ids {
		ids[i] = fmt.Sprintf("%012d", 100000000000+i)
		fmt.Fprintf(&cfg, "  - {name: acct%d, region: us-east-1, role_arn: \"arn:aws:iam::%s:role/bedrock-caller\", models: {nova: {tpm: %d}}}\n", i, ids[i], tpm)
		fmt.Fprintf(&sim, "  - id: %q\n    quotas: {%q: {tpm: %d}}\n", ids[i], modelID, tpm)
	}
	cfgPath, simPath := filepath.Join(dir, "sluice.yaml"), filepath.Join(dir, "sim.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(simPath, []byte(sim.String()), 0o644); err != nil {
		return err
	}
	logOut := io.Discard
	if logs {
		logOut = os.Stderr
	}
	ctx := context.Background()
	stack, err := devstack.Start(ctx, devstack.Options{
		SluiceConfig: cfgPath, SimConfig: simPath, Out: logOut,
		Env: []string{"SLUICE_QUOTA_WINDOW=" + window.String(), "SLUICE_LOG_LEVEL=warn", "SLUICE_SYNC_TIMEOUT=30m",
			fmt.Sprintf("SLUICE_ADMISSION=%v", admission)},
	})
	if err != nil {
		return err
	}
	defer stack.Stop()

	// A request costs about its input (~60 tokens and the shared prefix) +
	// its output, uncached: with -cache the offered load is the same.
	perRequest := float64(60 + prefix + outTokens)
	capacity := float64(accounts*tpm) / perRequest / window.Seconds()
	rate := capacity * over
	fmt.Printf("sluice overload benchmark: %d accounts × %d tokens per %s window, %.1f requests/s offered (%.1f× the ~%.1f/s the budgets allow uncached) for %s\n",
		accounts, tpm, window, rate, over, capacity, dur)
	if prefix > 0 {
		fmt.Printf("  every request shares a %d-token system prompt; prompt caching %s\n", prefix, caching)
	}
	system := strings.Repeat("abcd", prefix) // the simulator counts 4 bytes a token

	client := &http.Client{Timeout: 30 * time.Minute}
	if patience > 0 {
		client.Timeout = patience
	}
	var ok, failed, early429, timeouts atomic.Int64
	var mu sync.Mutex
	var waits429 []time.Duration
	var firstErr atomic.Value
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	end := time.Now().Add(dur)
	offered := 0
	for i := 0; time.Now().Before(end); i++ {
		offered++
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := fmt.Sprintf("request %d: %s\n%s", i, strings.Repeat("lorem ipsum ", 15), bedrocksim.Directive("output_tokens", fmt.Sprint(outTokens)))
			messages := []map[string]string{{"role": "user", "content": text}}
			if system != "" {
				messages = append([]map[string]string{{"role": "system", "content": system}}, messages...)
			}
			body, _ := json.Marshal(map[string]any{"model": "nova", "max_tokens": outTokens, "messages": messages})
			req, _ := http.NewRequest(http.MethodPost, stack.APIURL+"/v1/chat/completions", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+stack.MasterKey)
			if patience > 0 {
				// As the official OpenAI SDKs send it on every request.
				req.Header.Set("X-Stainless-Timeout", fmt.Sprint(int(patience.Seconds())))
			}
			sent := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
					timeouts.Add(1)
					return
				}
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "" {
				early429.Add(1)
				mu.Lock()
				waits429 = append(waits429, time.Since(sent))
				mu.Unlock()
				return
			}
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, b))
				return
			}
			ok.Add(1)
		}()
	}
	tick.Stop()
	fmt.Printf("  offered %d requests; waiting for the backlog to drain\n", offered)
	wg.Wait()

	stats, err := simStats(stack.SimURL)
	if err != nil {
		return err
	}
	fmt.Printf("  client results   %d ok, %d early 429s, %d client timeouts, %d other errors\n", ok.Load(), early429.Load(), timeouts.Load(), failed.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Printf("  first error      %s\n", e)
	}
	var calls int64
	var utilization float64
	minUtil, throttles := math.Inf(1), int64(0)
	for i, id := range ids {
		m := stats.Model(id, modelID)
		u, windows := m.SaturatedUtilization()
		fmt.Printf("  acct%d           %5d calls, utilization %6.2f%% over %d saturated windows, %d throttles at Bedrock\n",
			i, m.Totals.Admitted, 100*u, windows, m.Totals.Throttled)
		calls += m.Totals.Admitted
		utilization += u / float64(len(ids))
		minUtil, throttles = min(minUtil, u), throttles+m.Totals.Throttled
		if t := m.Totals; t.Admitted > 0 && prefix > 0 {
			fmt.Printf("                   %.0f tokens charged per call (cache: %d read, %d written); %.2f calls per saturated window\n",
				float64(t.ChargedTokens)/float64(t.Admitted), t.CacheRead, t.CacheWrite, callsPerWindow(m))
		}
	}
	waits, err := queueWaits(ctx, stack.DBURL)
	if err != nil {
		return err
	}
	fmt.Printf("  queue wait       p50 %s  p99 %s  max %s\n", pct(waits, 0.5), pct(waits, 0.99), pct(waits, 1))
	slices.Sort(waits429)
	fmt.Printf("  429 answered     p50 %s  p99 %s after the request\n", pct(waits429, 0.5), pct(waits429, 0.99))
	wasted, stopped, err := wastedCalls(ctx, stack.DBURL, patience)
	if err != nil {
		return err
	}
	fmt.Printf("ok=%d\nearly_429=%d\nclient_timeouts=%d\nother_errors=%d\nbedrock_calls=%d\nwasted_calls=%d\nstopped_calls=%d\nutilization_pct=%.2f\nthrottles=%d\n",
		ok.Load(), early429.Load(), timeouts.Load(), failed.Load(), calls, wasted, stopped, 100*utilization, throttles)
	// For scripts/bench's table.
	fmt.Printf("overload_min_utilization_pct=%.2f\noverload_throttles=%d\n", 100*minUtil, throttles)
	return nil
}

// wastedCalls counts the calls that finished after their caller had left
// (its timeout passed before the job ended), and the calls stopped part-way
// because their caller left. Without a client timeout nobody leaves.
func wastedCalls(ctx context.Context, dbURL string, patience time.Duration) (wasted, stopped int, err error) {
	if patience <= 0 {
		return 0, 0, nil
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state = 'succeeded' AND finished_at > created_at + $1::interval),
		       count(*) FILTER (WHERE state = 'cancelled' AND started_at IS NOT NULL)
		FROM jobs`, patience).Scan(&wasted, &stopped)
	return wasted, stopped, err
}

// callsPerWindow is how many calls the lane admitted per window while work
// was waiting (the windows SaturatedUtilization judges).
func callsPerWindow(m bedrocksim.ModelStats) float64 {
	w := m.Windows
	if len(w) < 4 {
		return 0
	}
	steady := w[2 : len(w)-1]
	var calls int64
	for _, win := range steady {
		calls += win.Admitted
	}
	return float64(calls) / float64(steady[len(steady)-1].Index-steady[0].Index+1)
}

func simStats(url string) (bedrocksim.Stats, error) {
	var st bedrocksim.Stats
	resp, err := http.Get(url + "/_sim/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func queueWaits(ctx context.Context, dbURL string) ([]time.Duration, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT extract(epoch FROM started_at - created_at) FROM jobs WHERE started_at IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	secs, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, len(secs))
	for i, s := range secs {
		out[i] = time.Duration(s * float64(time.Second))
	}
	slices.Sort(out)
	return out, nil
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))].Round(time.Millisecond)
}
