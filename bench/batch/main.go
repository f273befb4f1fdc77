// Command batch measures sluice's Batch API against a whole local stack it
// starts (separate api, worker and simulator processes; real Postgres and
// moto), in two parts:
//
//  1. Ingest: generate a batch input file (50,000 lines by default), upload
//     it, create a batch, and time how long the api takes to accept, validate
//     and enqueue it, phase by phase, with the api process's peak memory
//     (VmHWM). A worker runs the batch meanwhile (on a budget that never
//     binds, with calls the simulator answers at once) and the batch ends
//     completed, with its output file. With -worker=false nothing drains the
//     batch; once enqueued it is cancelled, which times the bulk cancel and
//     the writing of the error file.
//
//  2. Mix: interactive callers on a model whose budget binds, first alone,
//     then beside a batch on the same model: their latency with and without
//     the batch, the batch's completion rate, and how much of the budget each
//     used (from the simulator's own accounting).
//
// Run it as:
//
//	go run ./bench/batch -lines 2000                                          # both parts on moto
//	go run ./bench/batch -sqs null -worker=false -mix=false                   # 50,000 lines, SQS a sink
//	go run ./bench/batch -sqs null -worker=false -mix=false -line-bytes 4000  # 200 MB
//
// The local SQS server (moto) is slow, and slower the deeper a queue is: it
// scans the whole queue on every send and receive, so a queue of 50,000
// messages takes hours to fill and drain. -sqs null swaps it for a sink that
// accepts every message (see nullSQS). Either way the report separates
// sluice's own time (reading, checking, inserting) from the time spent in SQS.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/devstack"
)

const (
	modelID     = "amazon.nova-lite-v1:0"
	account     = "111111111111"
	bulkAccount = "222222222222"
)

type options struct {
	lines, lineBytes int
	ingest, mix      bool
	worker           bool
	sqs              string
	conc             int
	dur              time.Duration
	mixLines         int
	tpm              int
	window           time.Duration
	tokens           int
	logs             bool
}

func main() {
	var o options
	flag.IntVar(&o.lines, "lines", 50_000, "lines of the ingest batch")
	flag.IntVar(&o.lineBytes, "line-bytes", 1000, "approximate bytes per line (4000 makes a 200 MB file of 50,000 lines)")
	flag.BoolVar(&o.ingest, "ingest", true, "run the ingest part")
	flag.BoolVar(&o.mix, "mix", true, "run the interactive-beside-batch part")
	flag.BoolVar(&o.worker, "worker", true, "in the ingest part, let a worker run the batch (instant simulated calls); false: nothing drains it, and it is cancelled once enqueued")
	flag.IntVar(&o.conc, "c", 2, "interactive callers in the mix")
	flag.DurationVar(&o.dur, "d", 20*time.Second, "length of each mix phase")
	flag.IntVar(&o.mixLines, "batch-lines", 600, "lines of the mix batch (more than the phase can finish)")
	flag.IntVar(&o.tpm, "tpm", 4_000, "tokens per quota window of the mix model")
	flag.DurationVar(&o.window, "window", 2*time.Second, "the quota window (a minute on AWS)")
	flag.IntVar(&o.tokens, "tokens", 40, "output tokens per request (= max_tokens)")
	flag.StringVar(&o.sqs, "sqs", "moto", "the SQS server: moto, or null (accepts every message, delivers none: the ingest part alone, with -worker=false -mix=false)")
	flag.BoolVar(&o.logs, "v", false, "show the stack's logs")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "sluice-bench-batch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The ingest batch runs on "fast" (a budget that never binds, calls the
	// simulator answers at once) or, with -worker=false, on "idle" (no account:
	// nothing drains it). The mix runs on "shared", whose budget binds. The
	// two accounts are separate lanes at the simulator.
	cfg := fmt.Sprintf(`models:
  idle: {bedrock_model_id: %[1]q, default_max_tokens: %[2]d, max_output_tokens: 5000, burndown: 1}
  fast: {bedrock_model_id: %[1]q, default_max_tokens: %[2]d, max_output_tokens: 5000, burndown: 1}
  shared: {bedrock_model_id: %[1]q, default_max_tokens: %[2]d, max_output_tokens: 5000, burndown: 1}
accounts:
  - {name: local, region: us-east-1, role_arn: "arn:aws:iam::%[3]s:role/bedrock-caller", models: {shared: {tpm: %[4]d}}}
  - {name: bulk, region: us-east-1, role_arn: "arn:aws:iam::%[5]s:role/bedrock-caller", models: {fast: {tpm: 1000000000}}}
`, modelID, o.tokens, account, o.tpm, bulkAccount)
	sim := fmt.Sprintf("window: %s\nttft: 50ms\nper_token: 1ms\nmodels:\n  %q: {max_output_tokens: 5000, burndown: 1}\naccounts:\n  - id: %q\n    quotas: {%q: {tpm: %d}}\n  - id: %q\n",
		o.window, modelID, account, modelID, o.tpm, bulkAccount)
	cfgPath, simPath := filepath.Join(dir, "sluice.yaml"), filepath.Join(dir, "sim.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(simPath, []byte(sim), 0o644); err != nil {
		return err
	}
	logOut := io.Discard
	if o.logs {
		logOut = os.Stderr
	}
	switch o.sqs {
	case "moto":
	case "null":
		if o.worker || o.mix {
			return errors.New("-sqs null delivers no message: use it with -worker=false -mix=false")
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go http.Serve(ln, &nullSQS{})
		os.Setenv("SLUICE_SQS_ENDPOINT", "http://"+ln.Addr().String())
	default:
		return fmt.Errorf("-sqs %q: want moto or null", o.sqs)
	}
	ctx := context.Background()
	stack, err := devstack.Start(ctx, devstack.Options{
		SluiceConfig: cfgPath, SimConfig: simPath, Out: logOut,
		Env: []string{"SLUICE_QUOTA_WINDOW=" + o.window.String(), "SLUICE_LOG_LEVEL=info", "SLUICE_SYNC_TIMEOUT=30m"},
	})
	if err != nil {
		return err
	}
	defer stack.Stop()
	db, err := pgxpool.New(ctx, stack.DBURL)
	if err != nil {
		return err
	}
	defer db.Close()
	b := &bench{stack: stack, db: db, o: o, http: &http.Client{Timeout: 30 * time.Minute}}
	if o.ingest {
		if err := b.ingest(ctx); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
	}
	if o.mix {
		if err := b.mix(ctx); err != nil {
			return fmt.Errorf("mix: %w", err)
		}
	}
	return nil
}

type bench struct {
	stack *devstack.Stack
	db    *pgxpool.Pool
	o     options
	http  *http.Client
}

// line is one batch input line of about size bytes.
func line(i int, model string, size, tokens int, directive string, rng *rand.Rand) []byte {
	var text strings.Builder
	fmt.Fprintf(&text, "request %d: ", i)
	for text.Len() < size-250 {
		text.WriteString(words[rng.IntN(len(words))])
		text.WriteByte(' ')
	}
	text.WriteString("\n" + directive)
	raw, _ := json.Marshal(map[string]any{
		"custom_id": fmt.Sprintf("req-%d", i), "method": "POST", "url": "/v1/chat/completions",
		"body": map[string]any{"model": model, "max_tokens": tokens, "messages": []map[string]string{{"role": "user", "content": text.String()}}},
	})
	return append(raw, '\n')
}

var words = strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu")

// upload streams a generated file to POST /v1/files, never holding it whole.
func (b *bench) upload(ctx context.Context, n int, model string, size, tokens int, directive string) (id string, bytes int64, err error) {
	pr, pw := io.Pipe()
	form := multipart.NewWriter(pw)
	go func() {
		part, err := form.CreateFormFile("file", "batch.jsonl")
		if err == nil {
			w := bufio.NewWriterSize(part, 1<<20)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < n && err == nil; i++ {
				_, err = w.Write(line(i, model, size, tokens, directive, rng))
			}
			if err == nil {
				err = w.Flush()
			}
		}
		if err == nil {
			err = form.WriteField("purpose", "batch")
		}
		if err == nil {
			err = form.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.stack.APIURL+"/v1/files", pr)
	req.Header.Set("Content-Type", form.FormDataContentType())
	var f struct {
		ID    string `json:"id"`
		Bytes int64  `json:"bytes"`
	}
	if err := b.do(req, &f); err != nil {
		return "", 0, err
	}
	return f.ID, f.Bytes, nil
}

func (b *bench) do(req *http.Request, into any) error {
	req.Header.Set("Authorization", "Bearer "+b.stack.MasterKey)
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(body))
	}
	if into != nil {
		return json.Unmarshal(body, into)
	}
	return nil
}

type batchObject struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	ErrorFileID   string `json:"error_file_id"`
	RequestCounts struct {
		Total, Completed, Failed int
	} `json:"request_counts"`
	Errors *struct {
		Data []struct{ Code, Message string }
	} `json:"errors"`
}

func (b *bench) createBatch(ctx context.Context, fileID string) (*batchObject, error) {
	body := fmt.Sprintf(`{"input_file_id":%q,"endpoint":"/v1/chat/completions","completion_window":"24h"}`, fileID)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.stack.APIURL+"/v1/batches", strings.NewReader(body))
	var out batchObject
	return &out, b.do(req, &out)
}

func (b *bench) batch(ctx context.Context, id, action string) (*batchObject, error) {
	method, path := http.MethodGet, "/v1/batches/"+id
	if action != "" {
		method, path = http.MethodPost, path+"/"+action
	}
	req, _ := http.NewRequestWithContext(ctx, method, b.stack.APIURL+path, nil)
	var out batchObject
	return &out, b.do(req, &out)
}

// progress is a batch's ingestion as the database sees it.
func (b *bench) progress(ctx context.Context, id string) (ingested, total, enqueued int, err error) {
	err = b.db.QueryRow(ctx, `SELECT ingested, total,
		(SELECT count(*) FROM jobs WHERE batch_id = $1 AND enqueued_at IS NOT NULL) FROM batches WHERE id = $1`, id).Scan(&ingested, &total, &enqueued)
	return
}

func (b *bench) ingest(ctx context.Context) error {
	o := b.o
	model, tokens := "fast", 5
	if !o.worker {
		model = "idle"
	}
	directive := bedrocksim.Directive("output_tokens", strconv.Itoa(tokens), "ttft_ms", "0", "per_token_ms", "0")
	pid := b.stack.PID("api")
	rssBefore, _ := memory(pid)
	start := time.Now()
	fileID, size, err := b.upload(ctx, o.lines, model, o.lineBytes, tokens, directive)
	if err != nil {
		return err
	}
	uploaded := time.Since(start)
	_, hwmUpload := memory(pid)

	start = time.Now()
	bo, err := b.createBatch(ctx, fileID)
	if err != nil {
		return err
	}
	accepted := time.Since(start)
	var validated, ingested, enqueued, ended time.Duration
	var peakRSS int64
	var final *batchObject
	lastReport := time.Now()
	for ended == 0 && (o.worker || enqueued == 0) {
		if rss, _ := memory(pid); rss > peakRSS {
			peakRSS = rss
		}
		got, err := b.batch(ctx, bo.ID, "")
		if err != nil {
			return err
		}
		if got.Status == "failed" {
			return fmt.Errorf("batch failed validation: %+v", got.Errors)
		}
		in, total, sent, err := b.progress(ctx, bo.ID)
		if err != nil {
			return err
		}
		now := time.Since(start)
		if validated == 0 && got.Status != "validating" {
			validated = now
		}
		if ingested == 0 && total > 0 && in == total {
			ingested = now
		}
		if enqueued == 0 && total > 0 && sent == total {
			enqueued = now
		}
		if got.Status == "completed" {
			ended, final = now, got
		}
		if time.Since(lastReport) > 30*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(os.Stderr, "  ... %s: %s, %d of %d lines are jobs, %d sent, %d done\n",
				now.Round(time.Second), got.Status, in, total, sent, got.RequestCounts.Completed+got.RequestCounts.Failed)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, hwm := memory(pid)
	phases, err := b.phases()
	if err != nil {
		return err
	}
	own := phases["validate"] + phases["read"] + phases["insert"]
	fmt.Printf("\nsluice batch ingest: %d lines, %.1f MB, model %q, SQS %s\n", o.lines, float64(size)/1e6, model, o.sqs)
	fmt.Printf("  upload          %6.1f s   POST /v1/files, streamed into Postgres (%.0f MB/s)\n", uploaded.Seconds(), float64(size)/1e6/uploaded.Seconds())
	fmt.Printf("  accept          %6.0f ms  POST /v1/batches answered, status validating\n", float64(accepted.Microseconds())/1000)
	fmt.Printf("  validated       %6.1f s   after accept: every line parsed and checked (status in_progress)\n", validated.Seconds())
	fmt.Printf("  all jobs        %6.1f s   after accept: every line a job (COPY, chunks of 1,000)\n", ingested.Seconds())
	fmt.Printf("  all enqueued    %6.1f s   after accept: every job sent to SQS (SendMessageBatch of 10)\n", enqueued.Seconds())
	if final != nil {
		fmt.Printf("  completed       %6.1f s   after accept: every request answered, output file written (%d lines)\n", ended.Seconds(), final.RequestCounts.Completed)
	}
	fmt.Printf("  phases (the api's sluice_batch_phase_seconds):\n")
	fmt.Printf("    validate      %6.1f s   first read: parse + validate every line\n", phases["validate"])
	fmt.Printf("    read          %6.1f s   second read: parse lines into jobs\n", phases["read"])
	fmt.Printf("    insert        %6.1f s   COPY into jobs\n", phases["insert"])
	fmt.Printf("    sluice's own  %6.1f s   validate + read + insert\n", own)
	fmt.Printf("    send          %6.1f s   SQS SendMessageBatch (%.0f messages/s)\n", phases["send"], float64(o.lines)/phases["send"])
	if final != nil {
		fmt.Printf("    finalize      %6.1f s   output file of %d lines\n", phases["finalize"], final.RequestCounts.Completed)
	}
	fmt.Printf("  api memory      RSS %s before upload; peak (VmHWM) %s after upload, %s at the end; highest RSS sampled meanwhile %s\n",
		kb(rssBefore), kb(hwmUpload), kb(hwm), kb(peakRSS))
	if final != nil {
		return nil
	}

	start = time.Now()
	if _, err := b.batch(ctx, bo.ID, "cancel"); err != nil {
		return err
	}
	cancelled := time.Since(start)
	for {
		if final, err = b.batch(ctx, bo.ID, ""); err != nil {
			return err
		}
		if final.Status == "cancelled" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	ended = time.Since(start)
	_, hwm = memory(pid)
	if phases, err = b.phases(); err != nil {
		return err
	}
	fmt.Printf("  cancel          %6.0f ms  POST /v1/batches/{id}/cancel: %d queued jobs cancelled in one transaction\n", float64(cancelled.Microseconds())/1000, o.lines)
	fmt.Printf("  cancelled       %6.1f s   until status cancelled; error file of %d lines written in %.1f s; api peak now %s\n",
		ended.Seconds(), final.RequestCounts.Failed, phases["finalize"], kb(hwm))
	return nil
}

// phases reads the api's sluice_batch_phase_seconds sums.
func (b *bench) phases() (map[string]float64, error) {
	resp, err := http.Get(b.stack.APIURL + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), `sluice_batch_phase_seconds_sum{phase="`)
		if !ok {
			continue
		}
		name, value, _ := strings.Cut(rest, `"} `)
		out[name], _ = strconv.ParseFloat(value, 64)
	}
	return out, sc.Err()
}

// mix runs interactive callers alone, then beside a batch on the same model.
func (b *bench) mix(ctx context.Context) error {
	o := b.o
	perWindow := float64(o.tpm)
	fmt.Printf("\nsluice interactive beside batch: model with a budget of %d tokens per %s window (%.0f tokens/s); %d interactive callers; requests of %d output tokens\n",
		o.tpm, o.window, perWindow/o.window.Seconds(), o.conc, o.tokens)
	// Warm up: role assumption and connections.
	if _, err := b.interactive(ctx, 1, 2*time.Second); err != nil {
		return err
	}
	simBefore, err := b.charged()
	if err != nil {
		return err
	}
	aloneStart := time.Now()
	alone, err := b.interactive(ctx, o.conc, o.dur)
	if err != nil {
		return err
	}
	aloneWait, err := b.waits(ctx, aloneStart)
	if err != nil {
		return err
	}
	simAlone, err := b.charged()
	if err != nil {
		return err
	}

	fileID, _, err := b.upload(ctx, o.mixLines, "shared", 300, o.tokens, bedrocksim.Directive("output_tokens", strconv.Itoa(o.tokens)))
	if err != nil {
		return err
	}
	bo, err := b.createBatch(ctx, fileID)
	if err != nil {
		return err
	}
	// Start measuring once the batch has a backlog on the queue.
	for {
		_, total, sent, err := b.progress(ctx, bo.ID)
		if err != nil {
			return err
		}
		if total > 0 && sent >= min(total, 1000) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	before, err := b.batch(ctx, bo.ID, "")
	if err != nil {
		return err
	}
	simStart, err := b.charged()
	if err != nil {
		return err
	}
	besideStart := time.Now()
	beside, err := b.interactive(ctx, o.conc, o.dur)
	if err != nil {
		return err
	}
	besideWait, err := b.waits(ctx, besideStart)
	if err != nil {
		return err
	}
	after, err := b.batch(ctx, bo.ID, "")
	if err != nil {
		return err
	}
	simEnd, err := b.charged()
	if err != nil {
		return err
	}
	if _, err := b.batch(ctx, bo.ID, "cancel"); err != nil {
		return err
	}

	budget := perWindow / o.window.Seconds() * o.dur.Seconds()
	done := after.RequestCounts.Completed - before.RequestCounts.Completed
	fmt.Printf("  %-22s %8s %8s %10s %14s %12s\n", "", "p50", "p99", "requests/s", "budget used", "throttles")
	fmt.Printf("  %-22s %8s %8s %10.1f %13.0f%% %12d\n", "interactive alone", alone.pct(0.5), alone.pct(0.99), alone.rate(),
		100*float64(simAlone.charged-simBefore.charged)/budget, simAlone.throttled-simBefore.throttled)
	fmt.Printf("  %-22s %8s %8s %10.1f %13.0f%% %12d\n", "interactive + batch", beside.pct(0.5), beside.pct(0.99), beside.rate(),
		100*float64(simEnd.charged-simStart.charged)/budget, simEnd.throttled-simStart.throttled)
	fmt.Printf("  batch completion       %.1f requests/s (%d requests in %s, while interactive ran)\n", float64(done)/o.dur.Seconds(), done, o.dur)
	fmt.Printf("  interactive queue wait (job created → a worker starts it) p50/p99: alone %s/%s, beside the batch %s/%s\n",
		aloneWait[0], aloneWait[1], besideWait[0], besideWait[1])
	if alone.errors+beside.errors > 0 {
		fmt.Printf("  interactive errors     %d alone, %d beside the batch; first: %s\n", alone.errors, beside.errors, firstOf(alone.first, beside.first))
	}
	return nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type latencies struct {
	d       []time.Duration
	elapsed time.Duration
	errors  int
	first   string
}

func (l latencies) pct(p float64) string {
	if len(l.d) == 0 {
		return "-"
	}
	return l.d[min(len(l.d)-1, int(float64(len(l.d))*p))].Round(time.Millisecond).String()
}

func (l latencies) rate() float64 { return float64(len(l.d)) / l.elapsed.Seconds() }

// interactive runs conc synchronous callers for dur.
func (b *bench) interactive(ctx context.Context, conc int, dur time.Duration) (latencies, error) {
	var mu sync.Mutex
	var out latencies
	var seq atomic.Int64
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := seq.Add(1)
				text := fmt.Sprintf("interactive %d\n%s", i, bedrocksim.Directive("output_tokens", strconv.Itoa(b.o.tokens)))
				body, _ := json.Marshal(map[string]any{"model": "shared", "max_tokens": b.o.tokens, "messages": []map[string]string{{"role": "user", "content": text}}})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.stack.APIURL+"/v1/chat/completions", bytes.NewReader(body))
				t := time.Now()
				err := b.do(req, nil)
				d := time.Since(t)
				mu.Lock()
				if err != nil {
					out.errors++
					if out.first == "" {
						out.first = err.Error()
					}
				} else {
					out.d = append(out.d, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	slices.Sort(out.d)
	if len(out.d) == 0 {
		return out, errors.New("no interactive request succeeded: " + out.first)
	}
	return out, nil
}

// waits is the p50 and p99 of how long the interactive jobs made since
// since waited between the api's insert and a worker's claim.
func (b *bench) waits(ctx context.Context, since time.Time) ([2]time.Duration, error) {
	var p50, p99 float64
	err := b.db.QueryRow(ctx, `SELECT
		coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)), 0),
		coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)), 0)
		FROM jobs WHERE priority = 'interactive' AND created_at >= $1 AND started_at IS NOT NULL`, since).Scan(&p50, &p99)
	sec := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)).Round(time.Millisecond) }
	return [2]time.Duration{sec(p50), sec(p99)}, err
}

type simTotals struct{ charged, throttled int64 }

// charged reads what the simulator charged the mix model's account so far.
func (b *bench) charged() (simTotals, error) {
	resp, err := http.Get(b.stack.SimURL + "/_sim/stats")
	if err != nil {
		return simTotals{}, err
	}
	defer resp.Body.Close()
	var s bedrocksim.Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return simTotals{}, err
	}
	t := s.Model(account, modelID).Totals
	return simTotals{charged: t.ChargedTokens, throttled: t.Throttled}, nil
}

// memory reads the current and peak resident set of a process, in kB.
func memory(pid int) (rss, peak int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			rss, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			peak, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return rss, peak
}

func kb(v int64) string { return fmt.Sprintf("%.0f MB", float64(v)/1024) }
