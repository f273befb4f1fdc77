// Command waiters measures what sync callers cost the api while they wait:
// it opens N concurrent chat completions against a local stack without a
// worker (so every job stays queued and every caller waits), reads the api
// process's resident memory once all N jobs exist, then hangs up on all of
// them and reads it again as the callers leave.
//
//	go run ./bench/waiters -n 10000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-broker/sluice/internal/devstack"
)

func main() {
	n := flag.Int("n", 10000, "concurrent sync callers")
	logs := flag.Bool("v", false, "show the stack's logs")
	var env envList
	flag.Var(&env, "env", "NAME=VALUE for the api's environment (GOMEMLIMIT=250MiB, GODEBUG=…); repeatable")
	flag.Parse()
	if err := run(*n, *logs, env); err != nil {
		fmt.Fprintln(os.Stderr, "waiters:", err)
		os.Exit(1)
	}
}

type envList []string

func (e *envList) String() string     { return strings.Join(*e, " ") }
func (e *envList) Set(v string) error { *e = append(*e, v); return nil }

func run(n int, logs bool, env []string) error {
	ctx := context.Background()
	out := io.Discard
	if logs {
		out = os.Stderr
	}
	stack, err := devstack.Start(ctx, devstack.Options{NoWorker: true, Out: out,
		Env: append([]string{"SLUICE_LOG_LEVEL=error", "SLUICE_SYNC_TIMEOUT=1h"}, env...)})
	if err != nil {
		return err
	}
	defer stack.Stop()
	pid := stack.PID("api")
	idle := rss(pid)

	db, err := pgx.Connect(ctx, stack.DBURL)
	if err != nil {
		return err
	}
	defer db.Close(ctx)

	// One connection per caller, as separate clients would have.
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: -1,
		DialContext: (&net.Dialer{Timeout: 30 * time.Second}).DialContext}}
	body, _ := json.Marshal(map[string]any{"model": "nova-lite", "messages": []map[string]string{{"role": "user", "content": strings.Repeat("a question of ordinary length. ", 20)}}})
	callers, hangUp := context.WithCancel(ctx)
	defer hangUp()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(callers, http.MethodPost, stack.APIURL+"/v1/chat/completions", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+stack.MasterKey)
			resp, err := client.Do(req)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				err = fmt.Errorf("answered before hanging up: %d %.200s", resp.StatusCode, b)
			}
			if callers.Err() == nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
			}
		}()
	}
	// All callers wait once all their jobs exist (and have been sent).
	var jobs int
	for time.Since(start) < 5*time.Minute {
		if err := db.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE enqueued_at IS NOT NULL`).Scan(&jobs); err != nil {
			return err
		}
		mu.Lock()
		failed := len(failures)
		mu.Unlock()
		if jobs+failed >= n {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	submitted := time.Since(start)
	time.Sleep(2 * time.Second) // the last ones reach the hub
	waiting, peak := rss(pid), hwm(pid)
	goroutines := gauge(stack.APIURL+"/metrics", "go_goroutines")
	mem := goMemory(stack.APIURL)

	leave := time.Now()
	hangUp()
	wg.Wait()
	var after []string
	for _, d := range []time.Duration{time.Second, 5 * time.Second, 15 * time.Second} {
		time.Sleep(time.Until(leave.Add(d)))
		after = append(after, fmt.Sprintf("%s after: %d MB (%s goroutines)", d, rss(pid)>>20, gauge(stack.APIURL+"/metrics", "go_goroutines")))
	}

	fmt.Printf("sluice sync waiters: %d concurrent callers, no worker (every job stays queued) %s\n", n, strings.Join(env, " "))
	fmt.Printf("  submitted      %d jobs in %s, %d callers failed\n", jobs, submitted.Round(time.Millisecond), len(failures))
	fmt.Printf("  api RSS        idle %d MB, with %d waiters %d MB (%.1f KB per waiter), peak %d MB\n",
		idle>>20, n, waiting>>20, float64(waiting-idle)/1024/float64(n), peak>>20)
	fmt.Printf("  goroutines     %s\n", goroutines)
	fmt.Printf("  Go memory      %s\n", mem)
	fmt.Printf("  after leaving  %s\n", strings.Join(after, ", "))
	fmt.Printf("  Go memory      %s (15 s after leaving)\n", goMemory(stack.APIURL))
	if len(failures) > 0 {
		fmt.Printf("  first failure  %s\n", failures[0])
	}
	key := "waiters_rss_mb"
	for _, kv := range env {
		if strings.HasPrefix(kv, "GOMEMLIMIT=") {
			key = "waiters_rss_mb_gomemlimit" // a second row in scripts/bench's table
		}
	}
	fmt.Printf("%s=%d\n", key, waiting>>20)
	return nil
}

func status(pid int, field string) int64 {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func rss(pid int) int64 { return status(pid, "VmRSS") }
func hwm(pid int) int64 { return status(pid, "VmHWM") }

// goMemory summarises the Go runtime's memory from the api's metrics.
func goMemory(apiURL string) string {
	var mem []string
	for _, g := range []string{"go_memstats_stack_inuse_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_memstats_heap_released_bytes"} {
		v, _ := strconv.ParseFloat(gauge(apiURL+"/metrics", g), 64)
		mem = append(mem, fmt.Sprintf("%s %d MB", strings.TrimSuffix(strings.TrimPrefix(g, "go_memstats_"), "_bytes"), int64(v)>>20))
	}
	return strings.Join(mem, ", ")
}

// gauge reads one unlabelled value from a Prometheus text endpoint.
func gauge(url, name string) string {
	resp, err := http.Get(url)
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return "?"
}
