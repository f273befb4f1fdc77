package faulttest_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-broker/sluice/internal/devenv"
	"github.com/sluice-broker/sluice/internal/queue"
)

// jobsPerDrill is the bounded load of each drill, half sync, half async.
const jobsPerDrill = 40

// kill -9 of the worker while calls are in flight: its jobs run again once
// their lease and message visibility run out, within 60 s.
func TestDrillWorkerKilledMidCall(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.drill("worker-kill", 2*time.Second, 60*time.Second, func(*load) time.Time {
		s.waitRunning(3, 30*time.Second)
		s.worker.kill()
		s.startWorker()
		return time.Now()
	})
}

// SIGTERM to the worker while calls are in flight, with a drain timeout
// shorter than the calls (SLUICE_DRAIN_TIMEOUT): the worker stops receiving,
// stops what is still running at the deadline and releases it to the queue
// at once, with a new token, and exits. A new worker runs the released jobs
// at once, not after their lease (30 s) lapses; no job runs to completion
// twice.
func TestDrillWorkerSIGTERMMidCall(t *testing.T) {
	s := newStack(t, stackOptions{Env: []string{"SLUICE_DRAIN_TIMEOUT=100ms"}})
	released := false
	s.drill("worker-sigterm", 2*time.Second, 20*time.Second, func(*load) time.Time {
		s.waitRunning(3, 30*time.Second)
		s.worker.signal(syscall.SIGTERM)
		select {
		case <-s.worker.done:
		case <-time.After(15 * time.Second):
			t.Fatal("the worker did not exit after SIGTERM")
		}
		released = strings.Contains(tail(s.worker.logPath, 1<<20), "job back to the queue")
		s.startWorker()
		return time.Now()
	})
	if !released {
		t.Error("the stopping worker released no job: the drill did not catch calls in flight")
	}
}

// kill -9 of the api while sync callers wait: nothing accepted is lost; the
// callers call again with their idempotency keys and get their answers.
func TestDrillAPIKilledMidWait(t *testing.T) {
	s := newStack(t, stackOptions{})
	f := s.drill("api-kill", 2*time.Second, 30*time.Second, func(*load) time.Time {
		s.waitRunning(2, 30*time.Second)
		s.api.kill()
		time.Sleep(time.Second)
		s.startAPI()
		return time.Now()
	})
	if f.ConnErrors == 0 {
		t.Errorf("no caller saw the api die: the drill did not hit a wait")
	}
}

// Postgres stopped in immediate mode (a crash) and started again while jobs
// run: callers get 503 with Retry-After meanwhile, results computed during
// the outage are kept, and every sync caller gets its answer once Postgres
// is back.
func TestDrillPostgresRestart(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.drill("pg-restart", 3*time.Second, 60*time.Second, func(*load) time.Time {
		s.waitRunning(3, 30*time.Second)
		if err := pg.Restart(context.Background(), envDuration("SLUICE_FAULT_PG_DOWN", 3*time.Second)); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	})
}

// The interactive queue deleted while messages wait in it (the worker is
// paused): it is created again, and every job still queued gets a message
// again within 30 s.
func TestDrillQueueDeleted(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.queueLoss("queue-deleted", func() { deleteQueue(t, s, queue.Interactive) })
}

// The SQS server restarted: every queue is gone, the DLQs too. Processes
// that create queues create them again, and queued jobs get messages again.
func TestDrillSQSRestart(t *testing.T) {
	ctx := context.Background()
	moto, err := devenv.StartMoto(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { moto.Stop() }()
	s := newStack(t, stackOptions{SQS: moto.Endpoint()})
	s.queueLoss("sqs-restart", func() {
		if moto, err = moto.Restart(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// queueLoss pauses the worker, lets the async half of the load reach the
// queue, loses the queue's messages, and resumes the worker: the janitor must
// send every queued job again.
func (s *stack) queueLoss(drill string, lose func()) {
	s.waitJanitor()
	s.worker.signal(syscall.SIGSTOP)
	s.drill(drill, time.Second, 30*time.Second, func(l *load) time.Time {
		l.wait0(s, jobsPerDrill/2) // the async half is accepted; sync callers wait
		lose()
		s.worker.signal(syscall.SIGCONT)
		return time.Now()
	})
	if !strings.Contains(tail(s.worker.logPath, 1<<20), "sent jobs again whose messages were lost") {
		s.t.Errorf("the janitor never sent lost messages again: the drill lost none")
	}
}

// The Bedrock simulator unreachable for 20 s (SLUICE_FAULT_BEDROCK_DOWN):
// transient faults are retried for time, not count, so no job fails. The
// restarted simulator no longer knows the sessions it issued, so this drill
// also needs credential faults to heal.
func TestDrillBedrockDown(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.drill("bedrock-down", 3*time.Second, 60*time.Second, func(*load) time.Time {
		s.waitRunning(2, 30*time.Second)
		s.sim.kill()
		time.Sleep(envDuration("SLUICE_FAULT_BEDROCK_DOWN", 20*time.Second))
		s.startSim()
		return time.Now()
	})
}

// The simulator forgets every session it issued (a Bedrock-side reset):
// calls get UnrecognizedClientException until the worker assumes its role
// again, which it does at once, at no cost to the jobs.
func TestDrillSessionsForgotten(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.drill("sessions-forgotten", 3*time.Second, 30*time.Second, func(*load) time.Time {
		s.waitRunning(2, 30*time.Second)
		resp, err := http.Post(s.simURL+"/_sim/forget-sessions", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return time.Now()
	})
}

// 200 sync callers hang up after 10 to 400 ms, some during the insert. No
// job is orphaned: each ends cancelled (its caller left before it started) or
// succeeded, and no hang-up is logged at ERROR.
func TestDrillSyncCallersHangUp(t *testing.T) {
	s := newStack(t, stackOptions{})
	const callers = 200
	drill := "hang-ups"
	var wg sync.WaitGroup
	var mu sync.Mutex
	serverErrors := 0
	start := time.Now()
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 5 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(10+(i*37)%390)*time.Millisecond)
			defer cancel()
			marker := fmt.Sprintf("%s-%03d", drill, i)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+"/v1/chat/completions", strings.NewReader(body(marker)))
			req.Header.Set("Authorization", "Bearer "+masterKey)
			resp, err := s.client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode >= 500 {
				mu.Lock()
				serverErrors++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	bound := 30 * time.Second
	states, took := s.settle(time.Now(), bound, 0)
	f := figures{Drill: drill, Submitted: callers, ServerErrors: serverErrors, Recovery: took, Bound: bound, jobStates: states}
	cancelled := 0
	for _, st := range states {
		f.Accepted++
		if terminal(st) {
			f.Terminal++
		} else {
			f.Lost++
		}
		if st == "failed" {
			f.Failed++
		}
		if st == "cancelled" {
			cancelled++
		}
	}
	for marker, n := range s.successfulCalls() {
		if strings.HasPrefix(marker, drill+"-") && n > 1 {
			f.Duplicated++
		}
	}
	// Callers that left before their job existed made no job: submitted
	// counts them, accepted does not.
	f.Submitted = f.Accepted
	t.Logf("%d of %d callers' jobs were accepted, %d cancelled by their hang-up, in %s", f.Accepted, callers, cancelled, time.Since(start).Round(time.Millisecond))
	if cancelled == 0 {
		t.Errorf("no job was cancelled by its caller hanging up")
	}
	if errs := errorLines(s.apiLogPth); len(errs) > 0 {
		t.Errorf("the api logged %d lines at ERROR, e.g. %s", len(errs), errs[0])
	}
	check(t, f)
}

// errorLines are a text log's lines at level ERROR.
func errorLines(path string) []string {
	var out []string
	for _, line := range strings.Split(tail(path, 1<<20), "\n") {
		if strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return out
}

// A hostile-input corpus against the api process, beside a valid load:
// every hostile request gets a 4xx OpenAI error, slow bodies are cut with 408
// and give their goroutines back, and valid requests see no 5xx.
func TestDrillHostileInput(t *testing.T) {
	s := newStack(t, stackOptions{})
	chat := func(content string) []byte {
		return []byte(`{"model":"claude-sonnet","messages":[{"role":"user","content":"` + content + `"}]}`)
	}
	ncut := s.drips(t, chat("slow"))
	var refused int
	s.drill("hostile", 3*time.Second, 30*time.Second, func(*load) time.Time {
		refused = s.hostileCorpus(t, chat)
		return time.Now()
	})
	t.Logf("%d hostile requests refused with a 4xx; %d of 100 dripping bodies cut with 408", refused, ncut)
}

// hostileCorpus sends requests no client should, and answers how many were
// refused with a 4xx OpenAI error (each must be).
func (s *stack) hostileCorpus(t *testing.T, chat func(string) []byte) int {
	type req struct {
		method, path string
		body         []byte
		header       []string
	}
	var corpus, odd []req // odd: strange but harmless; anything but a 5xx will do
	for i, id := range []string{"%00", "%FF", "job_%00x", "%C3%28", "..%2F..%2Fetc", strings.Repeat("a", 5000), "%27%3B--"} {
		add := func(rs ...req) { corpus = append(corpus, rs...) }
		if i >= 4 {
			// Valid text: unknown ids are 404s, odd filters match nothing.
			add = func(rs ...req) { odd = append(odd, rs...) }
		}
		add(
			req{"GET", "/v1/jobs/" + id, nil, nil}, req{"POST", "/v1/jobs/" + id + "/cancel", nil, nil},
			req{"GET", "/v1/jobs/" + id + "/webhooks", nil, nil}, req{"GET", "/v1/files/" + id, nil, nil},
			req{"GET", "/v1/files/" + id + "/content", nil, nil}, req{"DELETE", "/v1/files/" + id, nil, nil},
			req{"GET", "/v1/batches/" + id, nil, nil}, req{"POST", "/v1/batches/" + id + "/cancel", nil, nil},
			req{"GET", "/v1/models/" + id, nil, nil})
		for _, q := range []string{"after", "model", "status", "limit", "purpose", "order"} {
			add(req{"GET", "/v1/jobs?" + q + "=" + id, nil, nil}, req{"GET", "/v1/files?" + q + "=" + id, nil, nil},
				req{"GET", "/v1/batches?" + q + "=" + id, nil, nil})
		}
	}
	for _, b := range [][]byte{
		chat(`\u0000`), chat("caf\xe9"), chat(`a\u0000b`), chat(strings.Repeat("x", 21<<20)),
		[]byte(`{"model":"claude-sonnet","input":"\u0000"}`), []byte("{\"model\":\"claude-sonnet\",\"input\":[\"\xff\"]}"),
		[]byte(`{"model":"claude-sonnet\u0000","messages":[]}`), []byte(`{`), []byte(`[]`), []byte(`null`), []byte(``),
		[]byte(`{"model":"claude-sonnet","messages":[{"role":"user","content":"x"}],"max_tokens":-1}`),
		[]byte(`{"model":"claude-sonnet","messages":[{"role":"user","content":"x"}],"max_tokens":1e300}`),
		[]byte(`{"model":"claude-sonnet","messages":[{"role":"user","content":{"a":1}}]}`),
		[]byte(`{"model":"claude-sonnet","messages":[{"role":"\u0000","content":"x"}]}`),
		[]byte(`{"model":"claude-sonnet","metadata":{"k":"\u0000"},"messages":[{"role":"user","content":"x"}]}`),
		// Above every account's budget (1M tokens a window): at least 1.2M tokens.
		[]byte(`{"model":"claude-sonnet","messages":[{"role":"user","content":"` + strings.Repeat("lorem ", 1600000) + `"}]}`),
	} {
		for _, path := range []string{"/v1/chat/completions", "/v1/embeddings", "/v1/batches"} {
			corpus = append(corpus, req{"POST", path, b, nil})
		}
	}
	for _, h := range [][]string{{"Idempotency-Key", strings.Repeat("k", 300)}, {"X-Sluice-Callback-Url", "http://169.254.169.254/latest"},
		{"X-Sluice-Callback-Url", "not a url"}, {"Prefer", "respond-async"}} {
		corpus = append(corpus, req{"POST", "/v1/chat/completions", chat(`\u0000`), h})
	}
	// Multipart: a file name with byte 0xFF, a NUL, a field with a bad name.
	for _, name := range []string{"in\xff.jsonl", "in\x00.jsonl"} {
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		mw.WriteField("purpose", "batch")
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write([]byte("{}\n"))
		mw.Close()
		corpus = append(corpus, req{"POST", "/v1/files", form.Bytes(), []string{"Content-Type", mw.FormDataContentType()}})
	}
	for _, r := range odd {
		status, b, err := s.apiDo(r.method, r.path, r.body, r.header...)
		if err != nil || status >= 500 || (status >= 400 && !isOpenAIError(b)) {
			t.Errorf("%s %.80q: %d %.200s %v, want no 5xx and OpenAI error bodies", r.method, r.path, status, b, err)
		}
	}
	refused := 0
	for _, r := range corpus {
		status, b, err := s.apiDo(r.method, r.path, r.body, r.header...)
		if err != nil {
			t.Errorf("%s %.80q: %v", r.method, r.path, err)
			continue
		}
		if status < 400 || status >= 500 || !isOpenAIError(b) {
			t.Errorf("%s %.80q (body %.60q): %d %.200s, want a 4xx OpenAI error", r.method, r.path, r.body, status, b)
			continue
		}
		refused++
	}
	// Header bytes Go's client will not send, over raw connections.
	for _, h := range []string{"Idempotency-Key: k\xff", "X-Sluice-Callback-Url: https://example.com/\xff", "Prefer: \xc3\x28"} {
		status := s.raw(t, "POST /v1/chat/completions", chat("x"), h)
		if status < 400 || status >= 500 {
			t.Errorf("header %q: %d, want a 4xx", h, status)
			continue
		}
		refused++
	}

	return refused
}

// drips sends 100 bodies that drip a byte every 500 ms: each is cut with a
// 408 within the body deadline (2 s here), and the api's goroutines come back
// down. It answers how many were cut.
func (s *stack) drips(t *testing.T, body []byte) int {
	t.Helper()
	before, err := s.metric("go_goroutines")
	if err != nil {
		t.Fatal(err)
	}
	var drips sync.WaitGroup
	var cut, slow sync.Map
	for i := range 100 {
		drips.Add(1)
		go func() {
			defer drips.Done()
			status, took := s.drip(body)
			if status == http.StatusRequestTimeout && took < 5*time.Second {
				cut.Store(i, took)
			} else {
				slow.Store(i, fmt.Sprintf("%d after %s", status, took))
			}
		}()
	}
	drips.Wait()
	ncut := 0
	cut.Range(func(any, any) bool { ncut++; return true })
	slow.Range(func(k, v any) bool { t.Errorf("drip %v: %v, want 408 within 5 s", k, v); return true })
	var after float64
	for range 50 {
		if after, err = s.metric("go_goroutines"); err == nil && after <= before+5 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if after > before+5 {
		t.Errorf("the api holds %v goroutines after the drips ended, %v before", after, before)
	}
	t.Logf("goroutines of the api: %v before 100 dripping bodies, %v after", before, after)
	return ncut
}

// raw sends a request line, a body and extra headers over its own connection
// and answers the status.
func (s *stack) raw(t *testing.T, line string, body []byte, headers ...string) int {
	t.Helper()
	conn, err := net.Dial("tcp", s.apiAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", line, masterKey, len(body))
	for _, h := range headers {
		fmt.Fprintf(conn, "%s\r\n", h)
	}
	fmt.Fprintf(conn, "\r\n%s", body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// drip sends a body a byte every 500 ms and answers the status the api cut
// it with and when.
func (s *stack) drip(body []byte) (int, time.Duration) {
	conn, err := net.Dial("tcp", s.apiAddr)
	if err != nil {
		return 0, 0
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", masterKey, len(body))
	start := time.Now()
	answered := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answered <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	for i := range body {
		select {
		case status := <-answered:
			return status, time.Since(start)
		case <-time.After(500 * time.Millisecond):
		}
		if _, err := conn.Write(body[i : i+1]); err != nil {
			break
		}
	}
	select {
	case status := <-answered:
		return status, time.Since(start)
	case <-time.After(10 * time.Second):
		return 0, time.Since(start)
	}
}

// wait0 waits until n callers have their answers (the async ones), so the
// fault hits while their messages wait in the queue.
func (l *load) wait0(s *stack, n int) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		k := len(l.out)
		l.mu.Unlock()
		if k >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("fewer than %d callers answered within 30 s", n)
}

// waitJanitor waits for the worker's janitor to have swept once, so that it
// knows the queues as they were before the fault.
func (s *stack) waitJanitor() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + s.metricsAddr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), `sluice_queue_depth{model="`+alias+`",priority="interactive"}`) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatal("the worker's janitor did not sweep within 30 s")
}

// deleteQueue deletes one of the alias's queues behind sluice's back.
func deleteQueue(t *testing.T, s *stack, p queue.Priority) {
	t.Helper()
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	c := queue.NewClient(cfg, s.sqsURL)
	name := queue.New(c, s.prefix).Name(alias, p)
	out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("look up %s: %v", name, err)
	}
	if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
}
