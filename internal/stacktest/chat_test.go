package stacktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func client(s *stacktest.Stack) openai.Client {
	return openai.NewClient(option.WithBaseURL(s.URL+"/v1"), option.WithAPIKey(stacktest.Key), option.WithMaxRetries(0))
}

// The spine: the official OpenAI SDK → api → Postgres + SQS → worker → STS +
// Bedrock (simulated) → Postgres NOTIFY → api → SDK.
func TestChatCompletionEndToEnd(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	c := client(s)
	ctx := context.Background()

	resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are terse."),
			openai.UserMessage("hi\n" + bedrocksim.Directive("output_tokens", "12")),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Object != "chat.completion" || resp.Model != "claude-sonnet" || len(resp.Choices) != 1 {
		t.Fatalf("response = %+v", resp)
	}
	choice := resp.Choices[0]
	if choice.FinishReason != "stop" || choice.Message.Role != "assistant" {
		t.Fatalf("choice = %+v", choice)
	}
	if words := strings.Fields(choice.Message.Content); len(words) != 12 {
		t.Fatalf("content %q has %d words, want the 12 tokens the simulator was asked for", choice.Message.Content, len(words))
	}
	if resp.Usage.CompletionTokens != 12 || resp.Usage.PromptTokens <= 0 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+12 {
		t.Fatalf("usage = %+v", resp.Usage)
	}
	if !strings.HasPrefix(resp.ID, "chatcmpl-") {
		t.Fatalf("id = %q", resp.ID)
	}

	// The call reached the simulator signed with credentials assumed in the account's role.
	stats := s.Sim.Stats()
	if stats.STS.AssumeRole < 1 {
		t.Fatalf("no AssumeRole call recorded: %+v", stats.STS)
	}
	m := stats.Model("111111111111", "us.anthropic.claude-sonnet-4-20250514-v1:0")
	if m.Totals.Admitted != 1 || m.Totals.OutputTokens != 12 || int64(resp.Usage.PromptTokens) != m.Totals.InputTokens {
		t.Fatalf("simulator totals = %+v; response usage = %+v", m.Totals, resp.Usage)
	}

	// The same request gives the same deterministic answer.
	again, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are terse."),
			openai.UserMessage("hi\n" + bedrocksim.Directive("output_tokens", "12")),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if again.Choices[0].Message.Content != choice.Message.Content {
		t.Fatalf("same request, different answers: %q vs %q", again.Choices[0].Message.Content, choice.Message.Content)
	}
}

func TestModels(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1})
	c := client(s)
	page, err := c.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != "claude-sonnet" || page.Data[0].Object != "model" {
		t.Fatalf("models = %+v", page.Data)
	}
	m, err := c.Models.Get(context.Background(), "claude-sonnet")
	if err != nil || m.ID != "claude-sonnet" {
		t.Fatalf("get model = %+v, %v", m, err)
	}
	_, err = c.Models.Get(context.Background(), "gpt-9")
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown model err = %v", err)
	}
}

// Every kind of bad input gets a 4xx with an OpenAI error body, and creates no job.
func TestBadInput(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Workers: -1})
	huge := `{"model":"claude-sonnet","messages":[{"role":"user","content":"` + strings.Repeat("x", 21<<20) + `"}]}`
	cases := []struct {
		name, body string
		header     []string
		status     int
		param      string
	}{
		{"malformed JSON", `{"model":`, nil, 400, ""},
		{"not an object", `[1,2]`, nil, 400, ""},
		{"empty body", ``, nil, 400, ""},
		{"wrong type", `{"model":"claude-sonnet","messages":"hi"}`, nil, 400, "messages"},
		{"wrong nested type", `{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"max_tokens":"ten"}`, nil, 400, "max_tokens"},
		{"missing model", `{"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "model"},
		{"missing messages", `{"model":"claude-sonnet"}`, nil, 400, "messages"},
		{"empty messages", `{"model":"claude-sonnet","messages":[]}`, nil, 400, "messages"},
		{"unknown model", `{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}`, nil, 404, "model"},
		{"unknown role", `{"model":"claude-sonnet","messages":[{"role":"wizard","content":"hi"}]}`, nil, 400, "messages[0].role"},
		{"missing content", `{"model":"claude-sonnet","messages":[{"role":"user"}]}`, nil, 400, "messages[0].content"},
		{"unknown field", `{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"frobnicate":1}`, nil, 400, "frobnicate"},
		{"n above 1", `{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"n":2}`, nil, 400, "n"},
		{"max_tokens too large", `{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"max_tokens":100000}`, nil, 400, "max_tokens"},
		{"max_tokens zero", `{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, nil, 400, "max_tokens"},
		{"temperature above 2", `{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"temperature":3}`, nil, 400, "temperature"},
		{"remote image", `{"model":"claude-sonnet","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://169.254.169.254/x.png"}}]}]}`, nil, 400, "messages[0].content[0].image_url.url"},
		{"only system", `{"model":"claude-sonnet","messages":[{"role":"system","content":"hi"}]}`, nil, 400, "messages"},
		{"oversized body", huge, nil, 413, ""},
		{"no key", `{}`, []string{"Authorization", ""}, 401, ""},
		{"wrong key", `{}`, []string{"Authorization", "Bearer sk-nope"}, 401, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := s.Do(http.MethodPost, "/v1/chat/completions", tc.body, tc.header...)
			if status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", status, tc.status, body)
			}
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
				t.Fatalf("not an OpenAI error body: %s", body)
			}
			if tc.param != "" && (e.Error.Param == nil || *e.Error.Param != tc.param) {
				t.Fatalf("param = %v, want %q (%s)", e.Error.Param, tc.param, e.Error.Message)
			}
		})
	}
	status, _ := s.Do(http.MethodGet, "/v1/nowhere", "")
	if status != 404 {
		t.Fatalf("unknown route status = %d", status)
	}
	var n int
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("bad input created %d jobs (err %v)", n, err)
	}
}

// Bedrock's permanent refusals fail the job with a mapped OpenAI error;
// transient faults are retried until they pass.
func TestBedrockErrors(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	c := client(s)
	ctx := context.Background()

	_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi\n" + bedrocksim.Directive("fail", "ValidationException"))},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Type != "invalid_request_error" {
		t.Fatalf("validation error surfaced as %v", err)
	}

	resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "claude-sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi\n" + bedrocksim.Directive("fail", "ServiceUnavailableException", "fail_times", "1"))},
	})
	if err != nil {
		t.Fatalf("a transient error was not retried: %v", err)
	}
	if resp.Choices[0].Message.Content == "" {
		t.Fatal("empty content after retry")
	}
	// The fault is waited out in the worker: the job keeps its one claim,
	// and the simulator saw the failed call and the one that passed.
	var attempts int
	if err := s.DB.QueryRow(ctx, `SELECT attempts FROM jobs WHERE state = 'succeeded'`).Scan(&attempts); err != nil || attempts != 1 {
		t.Fatalf("attempts = %d (err %v), want 1", attempts, err)
	}
	if got := sonnetTotals(s); got.ErrorsInjected != 2 || got.Admitted != 1 {
		t.Fatalf("simulator totals %+v: want the validation error and the transient one injected, and the retry admitted", got)
	}
}

// A sync caller whose deadline passes is told which job to poll; the job
// finishes anyway and can be read.
func TestSyncTimeoutNamesTheJob(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{SyncTimeout: 300 * time.Millisecond})
	status, body := s.Do(http.MethodPost, "/v1/chat/completions",
		`{"model":"claude-sonnet","messages":[{"role":"user","content":"slow\n`+bedrocksim.Directive("ttft_ms", "1500")+`"}]}`)
	if status != http.StatusGatewayTimeout {
		t.Fatalf("status = %d, body %s", status, body)
	}
	var e struct {
		Error struct{ Message, Code string } `json:"error"`
	}
	json.Unmarshal(body, &e)
	i := strings.Index(e.Error.Message, "job_")
	if i < 0 || e.Error.Code != "job_pending" {
		t.Fatalf("timeout error does not name the job: %s", body)
	}
	id := strings.Fields(e.Error.Message[i:])[0]
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body = s.Do(http.MethodGet, "/v1/jobs/"+id, "")
		var j struct {
			Status string          `json:"status"`
			Result json.RawMessage `json:"result"`
		}
		json.Unmarshal(body, &j)
		if status == 200 && j.Status == "succeeded" && strings.Contains(string(j.Result), "chat.completion") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s never succeeded: %d %s", id, status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sonnetTotals are the simulator's counters for claude-sonnet in the default
// account.
func sonnetTotals(s *stacktest.Stack) bedrocksim.Totals {
	return s.Sim.Stats().Model("111111111111", "us.anthropic.claude-sonnet-4-20250514-v1:0").Totals
}
