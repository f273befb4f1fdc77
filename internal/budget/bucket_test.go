package budget

import (
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
