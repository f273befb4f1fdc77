// Command sync drives sluice's synchronous chat path at a fixed concurrency for
// a fixed time, against a whole local stack it starts (separate api, worker and
// simulator processes, real Postgres and fauxqs), and prints throughput, the
// latency sluice adds on top of the simulator's own, and the api's memory.
//
//	go run ./bench/sync -c 32 -d 30s
//	go run ./bench/sync -stream -c 8 -d 10s   # streamed: also time to first byte
//
// Every request carries a simulator directive that fixes its model latency
// (ttft + tokens × per-token), so overhead = end-to-end − that latency.
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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-broker/sluice/internal/devstack"
)

func main() {
	conc := flag.Int("c", 32, "concurrent callers")
	dur := flag.Duration("d", 20*time.Second, "how long to send")
	tokens := flag.Int("tokens", 50, "output tokens per completion")
	ttft := flag.Duration("ttft", 100*time.Millisecond, "simulated time to first token")
	perToken := flag.Duration("per-token", 2*time.Millisecond, "simulated time per output token")
	model := flag.String("model", "nova-lite", "model alias")
	logs := flag.Bool("v", false, "show the stack's logs")
	stream := flag.Bool("stream", false, "stream the completions (SSE) and measure time to first byte")
	flag.Parse()

	ctx := context.Background()
	out := io.Discard
	if *logs {
		out = os.Stderr
	}
	stack, err := devstack.Start(ctx, devstack.Options{Out: out, Env: []string{"SLUICE_LOG_LEVEL=warn"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer stack.Stop()

	simLatency := *ttft + time.Duration(*tokens)**perToken
	directive := fmt.Sprintf("#sim: output_tokens=%d ttft_ms=%d per_token_ms=%d", *tokens, ttft.Milliseconds(), perToken.Milliseconds())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc}, Timeout: 2 * time.Minute}
	// send returns the request's end-to-end latency and its time to the
	// first byte of the body (for a stream, the first chunk of content).
	send := func(i int64) (total, ttfb time.Duration, err error) {
		body, _ := json.Marshal(map[string]any{
			"model":    *model,
			"messages": []map[string]string{{"role": "user", "content": fmt.Sprintf("request %d\n%s", i, directive)}},
			"stream":   *stream,
		})
		req, _ := http.NewRequest(http.MethodPost, stack.APIURL+"/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+stack.MasterKey)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, err
		}
		first := make([]byte, 1)
		n, _ := io.ReadFull(resp.Body, first)
		ttfb = time.Since(start)
		rest, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b := append(first[:n], rest...)
		if resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
		}
		if *stream && !bytes.HasSuffix(b, []byte("data: [DONE]\n\n")) {
			return 0, 0, fmt.Errorf("stream did not end with [DONE]: %.200q", b)
		}
		return time.Since(start), ttfb, nil
	}
	// Warm up: the first requests pay for connections and role assumption.
	for i := range 3 {
		if _, _, err := send(int64(-i)); err != nil {
			fmt.Fprintln(os.Stderr, "bench: warm-up:", err)
			os.Exit(1)
		}
	}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		firsts    []time.Duration
		errs      atomic.Int64
		seq       atomic.Int64
		firstErr  atomic.Value
	)
	deadline := time.Now().Add(*dur)
	start := time.Now()
	var wg sync.WaitGroup
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				d, first, err := send(seq.Add(1))
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mu.Lock()
				latencies = append(latencies, d)
				firsts = append(firsts, first)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	slices.Sort(latencies)
	slices.Sort(firsts)
	quantile := func(ds []time.Duration, p float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		return ds[min(len(ds)-1, int(float64(len(ds))*p))]
	}
	pct := func(p float64) time.Duration { return quantile(latencies, p) }
	rss, hwm := memory(stack.PID("api"))
	fmt.Printf("sluice sync benchmark: %d callers for %s, model %s, simulated latency %s (%s)\n", *conc, *dur, *model, simLatency, directive)
	fmt.Printf("  completed      %d requests, %d errors\n", len(latencies), errs.Load())
	fmt.Printf("  throughput     %.1f requests/s\n", float64(len(latencies))/elapsed.Seconds())
	fmt.Printf("  end-to-end     p50 %s  p99 %s\n", pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond))
	fmt.Printf("  overhead       p50 %s  p99 %s   (end-to-end minus the simulator's %s)\n",
		(pct(0.50) - simLatency).Round(time.Millisecond), (pct(0.99) - simLatency).Round(time.Millisecond), simLatency)
	if *stream {
		fmt.Printf("  first byte     p50 %s  p99 %s\n", quantile(firsts, 0.50).Round(time.Millisecond), quantile(firsts, 0.99).Round(time.Millisecond))
		fmt.Printf("  TTFB overhead  p50 %s  p99 %s   (time to first byte minus the simulator's ttft %s)\n",
			(quantile(firsts, 0.50) - *ttft).Round(time.Millisecond), (quantile(firsts, 0.99) - *ttft).Round(time.Millisecond), *ttft)
	}
	fmt.Printf("  api memory     RSS %s, peak %s\n", rss, hwm)
	if e := firstErr.Load(); e != nil {
		fmt.Printf("  first error    %s\n", e)
	}
	// For scripts/bench's table.
	fmt.Printf("sync_closed_requests_per_s=%.1f\nsync_closed_overhead_p50_ms=%d\nsync_closed_overhead_p99_ms=%d\n",
		float64(len(latencies))/elapsed.Seconds(), (pct(0.50) - simLatency).Milliseconds(), (pct(0.99) - simLatency).Milliseconds())
}

// memory reads the current and peak resident set of a process.
func memory(pid int) (rss, peak string) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?", "?"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			peak = strings.TrimSpace(v)
		}
	}
	return rss, peak
}
