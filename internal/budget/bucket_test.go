package budget

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestReserveRefillAndSettle(t *testing.T) {
	l := Limits{TPM: 1000, Window: time.Minute}
	s := Full(l, t0)
	if ok, _ := s.TryReserve(l, t0, 600, 1); !ok {
		t.Fatal("first reservation refused")
	}
	ok, wait := s.TryReserve(l, t0, 600, 1)
	if ok {
		t.Fatal("reservation beyond the bucket admitted")
	}
	// 200 tokens short at 1000/60 per second: 12 s.
	if wait != 12*time.Second {
		t.Fatalf("wait = %s, want 12s", wait)
	}
	if ok, _ := s.TryReserve(l, t0.Add(12*time.Second), 600, 1); !ok {
		t.Fatal("refused after the bucket refilled")
	}
	// The first call used 100 of its 600: 500 come back.
	s.Return(l, t0.Add(12*time.Second), 500, 0)
	if s.Tokens != 500 {
		t.Fatalf("tokens after settlement = %g, want 500", s.Tokens)
	}
	// A call that used more than it reserved drives the bucket below zero.
	s.Return(l, t0.Add(12*time.Second), -700, 0)
	if s.Tokens != -200 {
		t.Fatalf("tokens = %g, want -200", s.Tokens)
	}
	// Refill never passes capacity.
	s.refill(l, t0.Add(time.Hour))
	if s.Tokens != 1000 {
		t.Fatalf("tokens after an hour = %g, want capacity 1000", s.Tokens)
	}
}

func TestRequestsPerWindow(t *testing.T) {
	l := Limits{TPM: 1e9, RPM: 2, Window: time.Second}
	s := Full(l, t0)
	for i := range 2 {
		if ok, _ := s.TryReserve(l, t0, 1, 1); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, wait := s.TryReserve(l, t0, 1, 1)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("third request: ok=%v wait=%s, want refused for 500ms", ok, wait)
	}
	// A reservation that never reached Bedrock gives its request back.
	s.Return(l, t0, 1, 1)
	if ok, _ := s.TryReserve(l, t0, 1, 1); !ok {
		t.Fatal("returned request not reusable")
	}
}

func TestTokensPerDay(t *testing.T) {
	l := Limits{TPM: 100, TPD: 150, Window: time.Second}
	s := Full(l, t0)
	if ok, _ := s.TryReserve(l, t0, 100, 1); !ok {
		t.Fatal("refused")
	}
	ok, wait := s.TryReserve(l, t0.Add(10*time.Second), 100, 1)
	if ok {
		t.Fatal("admitted past the daily quota")
	}
	if want := 1440*time.Second - 10*time.Second; wait != want {
		t.Fatalf("wait = %s, want until the day ends (%s)", wait, want)
	}
	if ok, _ := s.TryReserve(l, t0.Add(1440*time.Second), 100, 1); !ok {
		t.Fatal("refused on a new day")
	}
}

func TestThrottleShrinksThenRecovers(t *testing.T) {
	l := Limits{TPM: 1000, Window: time.Second}
	s := Full(l, t0)
	s.Throttled(l, t0)
	if s.Factor != shrink || s.Tokens != 0 {
		t.Fatalf("after throttle: factor=%g tokens=%g", s.Factor, s.Tokens)
	}
	// Throttles from calls that were in flight together count once.
	s.Throttled(l, t0.Add(10*time.Millisecond))
	if s.Factor < shrink {
		t.Fatalf("burst shrank twice: factor=%g", s.Factor)
	}
	s.refill(l, t0.Add(time.Second))
	if s.Factor <= shrink || s.Factor >= 1 {
		t.Fatalf("factor one window later = %g, want between %g and 1", s.Factor, shrink)
	}
	if s.Tokens > l.TPM*s.Factor {
		t.Fatalf("tokens %g above shrunk capacity %g", s.Tokens, l.TPM*s.Factor)
	}
	s.refill(l, t0.Add(10*time.Second))
	if s.Factor != 1 {
		t.Fatalf("factor after recovery = %g, want 1", s.Factor)
	}
}

// bedrockRequests is Bedrock's request bucket as the simulator keeps it: RPM
// per window, refilled continuously, holding at most RPM.
type bedrockRequests struct {
	rpm, level float64
	window     time.Duration
	at         time.Time
}

func (b *bedrockRequests) admit(now time.Time) bool {
	b.level = min(b.rpm, b.level+now.Sub(b.at).Seconds()/b.window.Seconds()*b.rpm)
	b.at = now
	if b.level < 1 {
		return false
	}
	b.level--
	return true
}

// rpmThrottles runs an endless backlog through a pool's request bucket for
// 200 windows. Each reserved call reaches Bedrock after a delay drawn from
// delays (in turn), as a Postgres commit and an HTTP round trip take; it
// returns the calls Bedrock refused and the most it admitted in one window
// after the first (which also spends the bucket's initial fill).
func rpmThrottles(l Limits, delays []time.Duration) (throttles, most int) {
	s := Full(l, t0)
	bed := &bedrockRequests{rpm: l.RPM, level: l.RPM, window: l.Window, at: t0}
	var arrivals []time.Time
	now, end := t0, t0.Add(200*l.Window)
	for i := 0; now.Before(end); i++ {
		ok, wait := s.TryReserve(l, now, 1, 1)
		if !ok {
			now = now.Add(wait + time.Nanosecond)
			continue
		}
		arrivals = append(arrivals, now.Add(delays[i%len(delays)]))
	}
	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	perWindow := map[int64]int{}
	for _, a := range arrivals {
		if !bed.admit(a) {
			throttles++
			continue
		}
		w := int64(a.Sub(t0) / l.Window)
		if perWindow[w]++; w > 0 {
			most = max(most, perWindow[w])
		}
	}
	return throttles, most
}

// A pool with rpm 5 under an endless backlog never sends Bedrock a request
// its bucket lacks, however the calls' travel times vary within the quarter
// second the slack covers; without the slack, a slow call followed by a fast
// one finds Bedrock's bucket short.
func TestRequestSlackKeepsBedrockFromThrottling(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	delays := make([]time.Duration, 1000)
	for i := range delays {
		delays[i] = time.Duration(rng.Int64N(int64(240 * time.Millisecond)))
	}
	for _, window := range []time.Duration{time.Minute, 5 * time.Second} {
		l := NewLimits(1e9, 5, 0, window)
		if throttles, most := rpmThrottles(l, delays); throttles != 0 || most > 5 {
			t.Errorf("window %s: %d throttles, up to %d requests in one window", window, throttles, most)
		}
		bare := l
		bare.RequestSlack = 0
		if throttles, _ := rpmThrottles(bare, delays); throttles == 0 {
			t.Errorf("window %s: no throttles without the slack either; the test does not exercise it", window)
		}
	}
}

// The slack never makes a request impossible: at rpm 1 the bucket still holds
// one whole request.
func TestRequestSlackLeavesOneRequest(t *testing.T) {
	for _, rpm := range []float64{1, 1.02, 2, 5, 1000} {
		l := NewLimits(1e9, rpm, 0, time.Minute)
		s := Full(l, t0)
		if ok, _ := s.TryReserve(l, t0, 1, 1); !ok {
			t.Errorf("rpm %g: a full bucket refuses one request (capacity %g)", rpm, l.requestCapacity(1))
		}
		if l.RequestSlack <= 0 && rpm >= 2 {
			t.Errorf("rpm %g: no request slack", rpm)
		}
	}
}
