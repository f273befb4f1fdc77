package stacktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/stacktest"
)

func novaBody(t *testing.T, text string, outTokens int) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": "nova", "max_tokens": outTokens, "messages": []map[string]string{
		{"role": "user", "content": text + "\n" + bedrocksim.Directive("output_tokens", strconv.Itoa(outTokens))}}})
	return string(body)
}

// Callers who wait a few seconds, offered several times what the quota
// serves in that time: each is answered before its timeout, either with its
// completion or, when the queue ahead of it cannot drain in time, with a 429
// and Retry-After at once. A refused request never becomes a job, a job that
// could no longer start in time expires without a call, and no call is made
// for a caller who has gone.
func TestCallersBeyondTheQuotaAreToldAtOnce(t *testing.T) {
	const tpm = 1500 // per second: about four 300-token calls
	s := stacktest.Start(t, stacktest.Options{
		Config: budgetConfig(tpm, map[string]string{"a1": "111111111111"}),
		Sim:    simWithQuota(tpm, "111111111111"),
		Window: time.Second, SyncTimeout: time.Minute, Tune: fastPools,
	})
	ctx := context.Background()
	const callers, patience = 60, 4 * time.Second
	type answer struct {
		status int
		took   time.Duration
		retry  string
		should string
	}
	answers := make(chan answer, callers)
	for i := range callers {
		time.Sleep(20 * time.Millisecond)
		go func() {
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/chat/completions", strings.NewReader(novaBody(t, fmt.Sprintf("caller %d", i), 300)))
			req.Header.Set("Authorization", "Bearer "+stacktest.Key)
			req.Header.Set("X-Sluice-Timeout", strconv.Itoa(int(patience.Seconds())))
			start := time.Now()
			resp, err := (&http.Client{Timeout: patience}).Do(req)
			if err != nil {
				answers <- answer{status: -1, took: time.Since(start)}
				return
			}
			resp.Body.Close()
			answers <- answer{resp.StatusCode, time.Since(start), resp.Header.Get("Retry-After"), resp.Header.Get("X-Should-Retry")}
		}()
	}
	count := map[int]int{}
	var slowest429 time.Duration
	var took429 []time.Duration
	for range callers {
		a := <-answers
		count[a.status]++
		switch a.status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			slowest429 = max(slowest429, a.took)
			took429 = append(took429, a.took)
			if secs, err := strconv.Atoi(a.retry); err != nil || secs < 1 || a.should != "true" {
				t.Errorf("429 with Retry-After %q and X-Should-Retry %q; want seconds and true", a.retry, a.should)
			}
		default:
			t.Errorf("a caller got %d after %s; want 200 or 429 before its %s timeout", a.status, a.took, patience)
		}
	}
	var jobs, succeeded, expired, expiredStarted int
	waitFor(t, "every job to end", func() bool {
		var open int
		s.DB.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')`).Scan(&open)
		return open == 0
	})
	s.DB.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state = 'expired'),
		count(*) FILTER (WHERE state = 'expired' AND started_at IS NOT NULL) FROM jobs`).Scan(&jobs, &succeeded, &expired, &expiredStarted)
	m := s.Sim.Stats().Model("111111111111", novaID)
	t.Logf("answers %v (slowest 429 after %s); %d jobs: %d succeeded, %d expired; %d calls", count, slowest429, jobs, succeeded, expired, m.Totals.Admitted)
	if count[http.StatusOK] < 10 || count[http.StatusTooManyRequests] < 10 {
		t.Fatalf("answers %v: want the quota's worth served and the rest refused", count)
	}
	// Most are refused at submit, at once; a job admitted on an estimate that
	// later proved too hopeful is expired and answered when that shows,
	// still before its caller's timeout (no caller timed out: see above).
	slices.Sort(took429)
	if median := took429[len(took429)/2]; median > patience/4 {
		t.Fatalf("the median 429 took %s; want most answered at once, well before the %s timeout", median, patience)
	}
	if refusedAtSubmit := callers - jobs; refusedAtSubmit < 10 {
		t.Fatalf("only %d requests were refused before becoming jobs", refusedAtSubmit)
	}
	if succeeded != count[http.StatusOK] || m.Totals.Admitted != int64(succeeded) || expiredStarted != 0 {
		t.Fatalf("%d answers, %d successes, %d calls, %d expired jobs started: a call was made for nobody",
			count[http.StatusOK], succeeded, m.Totals.Admitted, expiredStarted)
	}
	if m.Totals.Throttled != 0 {
		t.Fatalf("%d throttles", m.Totals.Throttled)
	}
}

// A caller that hangs up while its call runs stops the call: the job ends
// cancelled long before the model would have answered, sync or streamed.
func TestCallerWhoLeavesStopsTheRunningCall(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	ctx := context.Background()
	slow := func(what string) string {
		return what + "\n" + bedrocksim.Directive("ttft_ms", "8000", "output_tokens", "5")
	}
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			if _, err := s.DB.Exec(ctx, `DELETE FROM jobs`); err != nil {
				t.Fatal(err)
			}
			c := openai.NewClient(option.WithBaseURL(s.URL+"/v1"), option.WithAPIKey(stacktest.Key), option.WithMaxRetries(0),
				option.WithRequestTimeout(time.Second))
			params := openai.ChatCompletionNewParams{Model: "claude-sonnet", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(slow("slow"))}}
			start := time.Now()
			if stream {
				st := c.Chat.Completions.NewStreaming(ctx, params)
				for st.Next() {
				}
				if st.Err() == nil {
					t.Fatal("the stream finished; want the client's timeout")
				}
			} else if _, err := c.Chat.Completions.New(ctx, params); err == nil {
				t.Fatal("the call finished; want the client's timeout")
			}
			waitFor(t, "the job to be cancelled and the call stopped", func() bool {
				var state string
				s.DB.QueryRow(ctx, `SELECT state FROM jobs`).Scan(&state)
				return state == "cancelled" && sonnetTotals(s).InFlight == 0
			})
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("the call stopped after %s; the model would have answered at 8 s", took)
			}
		})
	}
}
