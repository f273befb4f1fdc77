package worker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-broker/sluice/internal/budget"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/queue"
)

// The tests below drive Pool.handle, the decisions a pool makes about one
// claimed job, with in-process fakes of its store, queues, budget, watcher
// and Bedrock client: pure logic, no stack.

type fakeStore struct {
	mu       sync.Mutex
	finished []jobs.Outcome
	released []time.Duration
	failures int // Finish errors before it works
}

func (f *fakeStore) ClaimNext(context.Context, jobs.ClaimParams) (jobs.Claimed, error) {
	return jobs.Claimed{}, jobs.ErrNoJob
}
func (f *fakeStore) Pending(context.Context, string, jobs.Priority) (int, time.Time, error) {
	return 0, time.Time{}, nil
}
func (f *fakeStore) ExtendLease(context.Context, string, int, time.Duration) error { return nil }
func (f *fakeStore) NoteThrottle(context.Context, string, int) error               { return nil }
func (f *fakeStore) HasChunks(context.Context, string) (bool, error)               { return false, nil }
func (f *fakeStore) AppendChunk(context.Context, string, int, int, []byte) error   { return nil }
func (f *fakeStore) Finish(_ context.Context, _ string, _ int, o jobs.Outcome) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		return errors.New("conn closed")
	}
	f.finished = append(f.finished, o)
	return nil
}
func (f *fakeStore) Release(_ context.Context, _ string, _ int, delay time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, delay)
	return nil
}

type fakeQueues struct {
	mu   sync.Mutex
	sent int
}

func (q *fakeQueues) Receive(context.Context, string, queue.Priority, int, time.Duration) ([]queue.Message, error) {
	return nil, nil
}
func (q *fakeQueues) DeleteMany(context.Context, []queue.Message) error         { return nil }
func (q *fakeQueues) Delay(context.Context, queue.Message, time.Duration) error { return nil }
func (q *fakeQueues) SendAfter(context.Context, queue.Priority, queue.Body, time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent++
	return nil
}

type fakeBudget struct {
	mu       sync.Mutex
	reserved float64 // outstanding
}

func (b *fakeBudget) Limits() budget.Limits { return budget.Limits{TPM: 1e6, Window: time.Minute} }
func (b *fakeBudget) Capacity() float64     { return 1e6 }
func (b *fakeBudget) Room(context.Context, float64) (float64, time.Duration, error) {
	return 1e6, 0, nil
}
func (b *fakeBudget) Reserve(ctx context.Context, tokens float64, _ int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved += tokens
	return nil
}
func (b *fakeBudget) Return(_ context.Context, tokens float64, _ int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved -= tokens
	return nil
}
func (b *fakeBudget) Throttled(context.Context) error { return nil }
func (b *fakeBudget) Snapshot(context.Context) (budget.State, error) {
	return budget.State{Factor: 1}, nil
}

type fakeWatch struct{ ended chan *jobs.Job }

func (w fakeWatch) Watch(string) (<-chan *jobs.Job, func()) { return w.ended, func() {} }

// fakeBedrock answers each Converse call with the next of its scripted
// errors (nil: a completion), or runs block.
type fakeBedrock struct {
	mu     sync.Mutex
	script []error
	calls  int
	block  bool
	panics bool
}

func (f *fakeBedrock) Converse(ctx context.Context, _ *bedrockruntime.ConverseInput, _ ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error) {
	f.mu.Lock()
	f.calls++
	var err error
	if len(f.script) > 0 {
		err, f.script = f.script[0], f.script[1:]
	}
	block, panics := f.block, f.panics
	f.mu.Unlock()
	if panics {
		panic("a bug in the call")
	}
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return &bedrockruntime.ConverseOutput{
		Output:     &types.ConverseOutputMemberMessage{Value: types.Message{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello"}}}},
		StopReason: types.StopReasonEndTurn,
		Usage:      &types.TokenUsage{InputTokens: aws.Int32(5), OutputTokens: aws.Int32(3), TotalTokens: aws.Int32(8)},
	}, nil
}
func (f *fakeBedrock) ConverseStream(context.Context, *bedrockruntime.ConverseStreamInput, ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseStreamOutput, error) {
	return nil, errors.New("not scripted")
}
func (f *fakeBedrock) InvokeModel(context.Context, *bedrockruntime.InvokeModelInput, ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, error) {
	return nil, errors.New("not scripted")
}

type fixture struct {
	pool   *Pool
	store  *fakeStore
	queues *fakeQueues
	budget *fakeBudget
	llm    *fakeBedrock
	ended  chan *jobs.Job
	checks int
}

func newFixture(script ...error) *fixture {
	f := &fixture{store: &fakeStore{}, queues: &fakeQueues{}, budget: &fakeBudget{}, llm: &fakeBedrock{script: script}, ended: make(chan *jobs.Job, 1)}
	f.pool = &Pool{Account: "a", Alias: "m", Client: f.llm, Budget: f.budget, Store: f.store, Queues: f.queues, Watch: fakeWatch{f.ended},
		Model: config.Model{BedrockModelID: "amazon.nova-lite-v1:0", DefaultMaxTokens: 100, MaxOutputTokens: 1000, Burndown: 1},
		Log:   slog.New(slog.DiscardHandler), Check: func(context.Context) error { f.checks++; return nil },
		RetryHorizon: time.Minute}
	f.pool.defaults()
	return f
}

func (f *fixture) run(t *testing.T) {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"model": "m", "messages": []map[string]string{{"role": "user", "content": "hi"}}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.pool.handle(context.Background(), queue.Interactive, &jobs.Job{ID: "job_1", Model: "m", Mode: jobs.Sync, Attempts: 1, Request: req})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("handle did not return")
	}
}

func apiErr(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }

func TestHandleSucceedsAndSettles(t *testing.T) {
	f := newFixture()
	f.run(t)
	if len(f.store.finished) != 1 || f.store.finished[0].State != jobs.Succeeded {
		t.Fatalf("finished = %+v, want one success", f.store.finished)
	}
	if got := f.budget.reserved; got != 8 { // 5 input + 3 output × burndown 1 stay charged
		t.Fatalf("tokens left reserved = %g, want 8 (what the call was charged)", got)
	}
	if f.store.finished[0].Charged != 8 {
		t.Fatalf("charged recorded = %g, want 8", f.store.finished[0].Charged)
	}
}

func TestHandleRetriesTransientFaultsInProcess(t *testing.T) {
	f := newFixture(apiErr("ServiceUnavailableException"), apiErr("InternalServerException"))
	f.run(t)
	if f.llm.calls != 3 || len(f.store.finished) != 1 || f.store.finished[0].State != jobs.Succeeded || len(f.store.released) != 0 {
		t.Fatalf("calls %d, finished %+v, released %v: want the third call to succeed, within the claim", f.llm.calls, f.store.finished, f.store.released)
	}
	if f.budget.reserved != 8 {
		t.Fatalf("failed calls left %g tokens reserved", f.budget.reserved-8)
	}
}

func TestHandleGivesUpAfterTheRetryHorizon(t *testing.T) {
	f := newFixture(apiErr("ServiceUnavailableException"), apiErr("ServiceUnavailableException"), apiErr("ServiceUnavailableException"),
		apiErr("ServiceUnavailableException"), apiErr("ServiceUnavailableException"), apiErr("ServiceUnavailableException"))
	f.pool.RetryHorizon = 250 * time.Millisecond
	f.run(t)
	if len(f.store.finished) != 1 || f.store.finished[0].State != jobs.Failed {
		t.Fatalf("finished = %+v, want failed with the last error", f.store.finished)
	}
	if f.budget.reserved != 0 {
		t.Fatalf("%g tokens left reserved", f.budget.reserved)
	}
}

func TestHandleFailsWhatBedrockRefuses(t *testing.T) {
	f := newFixture(apiErr("ValidationException"))
	f.run(t)
	if f.llm.calls != 1 || len(f.store.finished) != 1 || f.store.finished[0].State != jobs.Failed {
		t.Fatalf("calls %d, finished %+v: want one call, failed", f.llm.calls, f.store.finished)
	}
}

// An account fault is not the job's: it goes back to the queue at once, with
// a new token, for another account, and the pool goes down.
func TestHandleReleasesOnAccountFaults(t *testing.T) {
	f := newFixture(apiErr("AccessDeniedException"))
	f.run(t)
	if len(f.store.finished) != 0 || len(f.store.released) != 1 || f.store.released[0] != 0 || f.queues.sent != 1 {
		t.Fatalf("finished %+v, released %v, tokens sent %d: want released at once with a token", f.store.finished, f.store.released, f.queues.sent)
	}
	if f.pool.health.row().Healthy {
		t.Fatal("the pool is still up after an account fault")
	}
}

// A refused session is cured by assuming the role again, at no cost to the job.
func TestHandleRenewsARefusedSession(t *testing.T) {
	f := newFixture(apiErr("UnrecognizedClientException"))
	f.run(t)
	if f.checks != 1 || f.llm.calls != 2 || len(f.store.finished) != 1 || f.store.finished[0].State != jobs.Succeeded {
		t.Fatalf("checks %d, calls %d, finished %+v: want the role assumed again and the call retried", f.checks, f.llm.calls, f.store.finished)
	}
}

// A job ended by its caller stops its call; nothing is recorded and the
// reservation comes back.
func TestHandleStopsWhenTheCallerLeaves(t *testing.T) {
	f := newFixture()
	f.llm.block = true
	go func() {
		time.Sleep(50 * time.Millisecond)
		f.ended <- &jobs.Job{ID: "job_1", State: jobs.Cancelled}
	}()
	f.run(t)
	if len(f.store.finished) != 0 || len(f.store.released) != 0 || f.budget.reserved != 0 {
		t.Fatalf("finished %+v, released %v, reserved %g: want nothing recorded and the tokens back", f.store.finished, f.store.released, f.budget.reserved)
	}
}

// A computed result survives a database that refuses it for a while.
func TestHandleKeepsTheResultUntilItIsRecorded(t *testing.T) {
	f := newFixture()
	f.store.failures = 3
	f.run(t)
	if f.llm.calls != 1 || len(f.store.finished) != 1 || f.store.finished[0].State != jobs.Succeeded {
		t.Fatalf("calls %d, finished %+v: want one call, its result recorded after the database came back", f.llm.calls, f.store.finished)
	}
}

// A panic in one job fails that job and leaves the pool running.
func TestHandleRecoversFromAPanic(t *testing.T) {
	f := newFixture()
	f.llm.panics = true
	f.run(t)
	if len(f.store.finished) != 1 || f.store.finished[0].State != jobs.Failed {
		t.Fatalf("finished = %+v, want the job failed with an internal error", f.store.finished)
	}
}

// Stopping past the drain timeout releases the job at once, with a token.
func TestHandleReleasesOnDrain(t *testing.T) {
	f := newFixture()
	f.llm.block = true
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := json.Marshal(map[string]any{"model": "m", "messages": []map[string]string{{"role": "user", "content": "hi"}}})
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	f.pool.handle(ctx, queue.Interactive, &jobs.Job{ID: "job_1", Model: "m", Mode: jobs.Sync, Attempts: 1, Request: req})
	if len(f.store.finished) != 0 || len(f.store.released) != 1 || f.store.released[0] != 0 || f.queues.sent != 1 || f.budget.reserved != 0 {
		t.Fatalf("finished %+v, released %v, tokens %d, reserved %g: want released at once, tokens back", f.store.finished, f.store.released, f.queues.sent, f.budget.reserved)
	}
}
