// Package stacktest runs a whole sluice in one test process, on real parts: a
// real Postgres, fauxqs (or moto) over the real SQS API, and the Bedrock simulator over
// Bedrock's wire protocol, reached through the real AWS SDK clients. The api
// and worker are the same code the binaries run, wired the same way.
package stacktest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-broker/sluice/internal/api"
	"github.com/sluice-broker/sluice/internal/batch"
	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/devenv"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/queue"
	"github.com/sluice-broker/sluice/internal/testenv"
	"github.com/sluice-broker/sluice/internal/webhook"
	"github.com/sluice-broker/sluice/internal/worker"
	"github.com/sluice-broker/sluice/schema"
)

// Key is the master key of a test stack.
const Key = "sk-test-master"

// DefaultConfig serves claude-sonnet from one account with a large budget.
const DefaultConfig = `
models:
  claude-sonnet:
    bedrock_model_id: us.anthropic.claude-sonnet-4-20250514-v1:0
    default_max_tokens: 256
    max_output_tokens: 4096
    burndown: 5
accounts:
  - name: a
    region: us-east-1
    role_arn: arn:aws:iam::111111111111:role/bedrock-caller
    external_id: ext-a
    models:
      claude-sonnet: {tpm: 10000000}
`

// DefaultSim is the simulator for DefaultConfig: no latency, no quota.
func DefaultSim() bedrocksim.Config {
	return bedrocksim.Config{
		Accounts: []bedrocksim.AccountConfig{{ID: "111111111111", ExternalID: "ext-a"}},
	}
}

// Options shape a stack.
type Options struct {
	Config      string             // sluice YAML; default DefaultConfig
	Sim         *bedrocksim.Config // default DefaultSim()
	Window      time.Duration      // quota window; default 1m
	SyncTimeout time.Duration      // default 1m
	// Workers is the number of worker replicas started with the stack; -1 for none.
	Workers int
	// Tune adjusts every worker pool.
	Tune func(*worker.Pool)
	// Env adjusts the environment's settings before anything starts.
	Env func(*config.Env)
	// MaxReceiveCount of the queues; default queue.DefaultMaxReceiveCount.
	MaxReceiveCount int
	// BlockPrivateCallbacks refuses callbacks to loopback and private
	// addresses, as production does; by default tests allow them, since
	// their receivers listen on loopback.
	BlockPrivateCallbacks bool
	// Webhooks adjusts every worker's webhook dispatcher, after the test
	// defaults (fast polling, a retry schedule of milliseconds).
	Webhooks func(*webhook.Dispatcher)
	// BatchWindow is how long a batch may run before it expires; default 24h.
	BatchWindow time.Duration
	// MaxFileBytes bounds an upload; default 200 MB.
	MaxFileBytes int64
	// Batches adjusts the api's batch runner, after the test default of
	// polling every 100 ms.
	Batches func(*batch.Runner)
	// API adjusts the api server before it starts.
	API func(*api.Server)
}

// WebhookSecret signs the callbacks of master-key jobs in a test stack.
const WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// Stack is a running in-process sluice.
type Stack struct {
	URL    string // the api
	SimURL string
	Sim    *bedrocksim.Server
	Config *config.Config
	DB     *pgxpool.Pool
	Store  *jobs.Store
	Queues *queue.Queues
	AWS    aws.Config

	t    testing.TB
	o    Options
	ctx  context.Context
	mu   sync.Mutex
	stop []func()
}

// Start builds and starts a stack; it stops when the test ends.
func Start(t testing.TB, o Options) *Stack {
	t.Helper()
	if o.Config == "" {
		o.Config = DefaultConfig
	}
	if o.Sim == nil {
		sim := DefaultSim()
		o.Sim = &sim
	}
	if o.Window == 0 {
		o.Window = time.Minute
	}
	if o.SyncTimeout == 0 {
		o.SyncTimeout = time.Minute
	}
	if o.Workers == 0 {
		o.Workers = 1
	}
	o.Sim.Window = o.Window
	if o.Sim.Logger == nil {
		o.Sim.Logger = quietLogger()
	}

	sim, err := bedrocksim.New(*o.Sim)
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)

	cfg, _, err := config.Parse([]byte(o.Config))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.Env = config.Env{
		DatabaseURL:     testenv.DatabaseURL(t),
		Region:          "us-east-1",
		QueuePrefix:     testenv.QueuePrefix(t),
		SQSEndpoint:     testenv.SQSEndpoint(t),
		BedrockEndpoint: simSrv.URL,
		STSEndpoint:     simSrv.URL,
		CreateQueues:    true,
		MasterKey:       Key,
		SyncTimeout:     o.SyncTimeout,
		Window:          o.Window,

		WebhookSecret:       WebhookSecret,
		WebhookAllowPrivate: !o.BlockPrivateCallbacks,
		WebhookTimeout:      5 * time.Second,

		Lease:        30 * time.Second,
		RetryHorizon: 10 * time.Minute,
		DrainTimeout: 10 * time.Second,
		FairWindow:   time.Minute,
		Admission:    true,
	}
	if o.Env != nil {
		o.Env(&cfg.Env)
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Stack{SimURL: simSrv.URL, Sim: sim, Config: cfg, t: t, o: o, ctx: ctx}
	t.Cleanup(func() {
		cancel()
		s.mu.Lock()
		stops := s.stop
		s.mu.Unlock()
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	})

	s.DB, err = pgxpool.New(ctx, cfg.Env.DatabaseURL)
	if err != nil {
		t.Fatalf("database: %v", err)
	}
	s.onStop(s.DB.Close)
	s.AWS, err = awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(bedrocksim.DefaultBaseAccessKeyID, bedrocksim.DefaultBaseSecretAccessKey, "")))
	if err != nil {
		t.Fatalf("AWS config: %v", err)
	}
	s.Queues = queue.New(queue.NewClient(s.AWS, cfg.Env.SQSEndpoint), cfg.Env.QueuePrefix)
	if o.MaxReceiveCount > 0 {
		s.Queues.MaxReceiveCount = o.MaxReceiveCount
	}
	if err := schema.Migrate(ctx, s.DB); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := s.Queues.Resolve(ctx, cfg.Aliases(), true); err != nil {
		t.Fatalf("queues: %v", err)
	}
	s.Store = jobs.NewStore(s.DB)

	// The api process, as cmd/api runs it, on a free port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.URL = "http://" + ln.Addr().String()
	listen := func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, cfg.Env.DatabaseURL) }
	apiSvc := &api.Service{Config: cfg, DB: s.DB, Store: s.Store, Queues: s.Queues, Log: quietLogger(), Listen: listen,
		Listener: ln, ShutdownTimeout: time.Second,
		Tune: func(srv *api.Server, runner *batch.Runner) {
			srv.SyncTimeout = o.SyncTimeout
			srv.BatchWindow, srv.MaxFileBytes = o.BatchWindow, o.MaxFileBytes
			if srv.Admission != nil {
				srv.Admission.Every, srv.Admission.Shed = 100*time.Millisecond, 500*time.Millisecond
			}
			runner.Poll = 100 * time.Millisecond
			if o.Batches != nil {
				o.Batches(runner)
			}
			if o.API != nil {
				o.API(srv)
			}
		}}
	actx, acancel := context.WithCancel(ctx)
	apiDone := make(chan struct{})
	go func() {
		defer close(apiDone)
		if err := apiSvc.Run(actx); err != nil && actx.Err() == nil {
			t.Errorf("api: %v", err)
		}
	}()
	s.onStop(func() { acancel(); <-apiDone })
	if err := devenv.WaitTCP(ctx, ln.Addr().String()); err != nil {
		t.Fatalf("api: %v", err)
	}

	for range max(o.Workers, 0) {
		s.StartWorker()
	}
	return s
}

// StartWorker starts one more worker replica and returns a function that
// stops it (waiting for its calls in flight).
func (s *Stack) StartWorker() (stop func()) {
	ctx, cancel := context.WithCancel(s.ctx)
	listen := func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, s.Config.Env.DatabaseURL) }
	svc := &worker.Service{Config: s.Config, DB: s.DB, Store: s.Store, Queues: s.Queues, AWS: s.AWS, Log: quietLogger(), Tune: s.o.Tune, Listen: listen,
		TuneWebhooks: func(d *webhook.Dispatcher) {
			d.Poll = 100 * time.Millisecond
			d.Schedule = webhook.Schedule{Initial: 20 * time.Millisecond, Multiplier: 2, MaxInterval: 200 * time.Millisecond, Jitter: 0.2, MaxAge: time.Minute}
			if s.o.Webhooks != nil {
				s.o.Webhooks(d)
			}
		}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := svc.Run(ctx); err != nil && ctx.Err() == nil {
			s.t.Errorf("worker: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	s.onStop(stop)
	return stop
}

func (s *Stack) onStop(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop = append(s.stop, f)
}

// Do sends a request to the api with the master key and returns the status
// and body.
func (s *Stack) Do(method, path string, body string, header ...string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewBufferString(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+Key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func quietLogger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("SLUICE_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
