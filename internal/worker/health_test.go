package worker

import (
	"errors"
	"log/slog"
	"testing"
	"time"
)

// A pool goes down on an account fault, checks again after a backoff that
// grows while checks or trials fail, and is up after a call works.
func TestHealthStates(t *testing.T) {
	h := newHealth("a", "m", 4*time.Second, slog.Default())
	if h.wait() != 0 || !h.row().Healthy {
		t.Fatal("a new pool must be healthy")
	}
	h.fail("AccessDeniedException", errors.New("no access"))
	if w := h.wait(); w <= 0 || w > time.Second {
		t.Fatalf("wait after the first fault = %s, want up to the first backoff (1 s)", w)
	}
	if h.row().Healthy || h.checkDue() {
		t.Fatal("down, and no check due yet")
	}
	h.retryAt = time.Now() // the backoff has passed
	if !h.checkDue() {
		t.Fatal("check due after the backoff")
	}
	h.checked(nil) // credentials fine: on trial
	if h.wait() != 0 || !h.row().Healthy {
		t.Fatal("a pool on trial receives")
	}
	h.fail("AccessDeniedException", errors.New("still no access"))
	if h.backoff != 2*time.Second {
		t.Fatalf("backoff after a failed trial = %s, want 2s", h.backoff)
	}
	h.fail("AccessDeniedException", errors.New("again"))
	h.fail("AccessDeniedException", errors.New("again"))
	if h.backoff != 4*time.Second {
		t.Fatalf("backoff = %s, want capped at 4s", h.backoff)
	}
	h.retryAt = time.Now()
	h.checked(nil)
	h.ok()
	if h.wait() != 0 || !h.row().Healthy || h.backoff != healthMinBackoff {
		t.Fatalf("after a call worked: healthy %v, backoff %s", h.row().Healthy, h.backoff)
	}
	if r := h.row(); r.LastErrorCode == nil || *r.LastErrorCode != "AccessDeniedException" {
		t.Fatalf("the last error is kept for operators: %+v", r)
	}
}
