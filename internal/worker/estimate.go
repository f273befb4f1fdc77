package worker

import (
	"math"
	"slices"
	"sync"
	"time"
)

// estimator guesses a job's input tokens before Bedrock counts them, from the
// size of its stored request, and learns the ratio from what Bedrock reports.
// It errs high: an estimate below the truth lets the pool admit a call that
// Bedrock then throttles, while one above only leaves a little quota idle until
// the settlement returns it.
type estimator struct {
	mu sync.Mutex
	// perByte is input tokens per byte of stored request, with a margin.
	perByte float64
	// typical is a recent reservation, reserved before a message is received.
	typical float64
}

const (
	// About 2 bytes per token before anything is learned: a safe start for
	// English text and JSON; real text runs nearer 4.
	initialPerByte = 0.5
	estimateMargin = 1.05
	// Fixed per-call overhead Bedrock adds (role markers, tool schemas' wrapping).
	overheadTokens = 16
)

func newEstimator(typical float64) *estimator {
	return &estimator{perByte: initialPerByte, typical: typical}
}

func (e *estimator) input(requestBytes int) float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return math.Ceil(float64(requestBytes)*e.perByte) + overheadTokens
}

// observe corrects the ratio: upwards at once, downwards slowly, so that one
// unusually dense request is not forgotten by the next sparse one.
func (e *estimator) observe(requestBytes, inputTokens int) {
	if requestBytes <= 0 {
		return
	}
	seen := float64(inputTokens) / float64(requestBytes) * estimateMargin
	e.mu.Lock()
	defer e.mu.Unlock()
	if seen >= e.perByte {
		e.perByte = seen
	} else {
		e.perByte = 0.9*e.perByte + 0.1*seen
	}
}

func (e *estimator) reserved(cost float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.typical = 0.8*e.typical + 0.2*cost
}

func (e *estimator) typicalCost() float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.typical
}

// serviceTime learns how long a job takes from claim to answer (budget wait
// and call), so that a pool does not start a job that cannot finish before
// its caller stops waiting. It plans for the slow end of recent jobs: the
// 95th percentile of the last window of them, with a 20% margin. Starting a
// job that then misses its deadline wastes its quota; not starting one that
// would just have fitted only costs that job.
type serviceTime struct {
	mu     sync.Mutex
	recent []time.Duration // ring of the last serviceWindow
	next   int
}

const serviceWindow = 100

// observe records one job's service time.
func (s *serviceTime) observe(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recent) < serviceWindow {
		s.recent = append(s.recent, d)
		return
	}
	s.recent[s.next] = d
	s.next = (s.next + 1) % serviceWindow
}

// estimate is the service time to plan for; zero until a few jobs were seen,
// so that nothing is expired on a guess.
func (s *serviceTime) estimate() time.Duration {
	s.mu.Lock()
	sorted := slices.Clone(s.recent)
	s.mu.Unlock()
	if len(sorted) < 3 {
		return 0
	}
	slices.Sort(sorted)
	p95 := sorted[min(len(sorted)-1, len(sorted)*95/100)]
	return p95 * 6 / 5
}
