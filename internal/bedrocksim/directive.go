package bedrocksim

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DirectivePrefix starts a directive line in a user message.
const DirectivePrefix = "#sim:"

// Directive builds a directive line from key/value pairs, for example
// Directive("fail", "ThrottlingException", "fail_times", "1") returns
// "#sim: fail=ThrottlingException fail_times=1". Put it on a line of its own
// in the text of a user message. It panics on an odd number of arguments.
func Directive(kv ...string) string {
	if len(kv)%2 != 0 {
		panic("bedrocksim.Directive: odd number of arguments")
	}
	var b strings.Builder
	b.WriteString(DirectivePrefix)
	for i := 0; i < len(kv); i += 2 {
		b.WriteString(" " + kv[i] + "=" + kv[i+1])
	}
	return b.String()
}

// directives are the per-request overrides found in user messages. Pointer
// fields are nil when not given, since zero is a meaningful value.
type directives struct {
	OutputTokens    *int
	TTFT            *time.Duration
	PerToken        *time.Duration
	Fail            string // error code to answer with
	FailTimes       int    // 0: every call fails
	StreamFailAfter *int   // tokens to produce before failing
	// StreamCutAfter ends a stream's connection after that many tokens,
	// with neither messageStop nor an exception: a cut-off answer.
	StreamCutAfter *int
	Tool           string // tool to call
}

// parseDirectives collects directive lines from the text of all user
// messages, in order, so a later line overrides an earlier one.
func parseDirectives(msgs []message) (directives, error) {
	var d directives
	for i, m := range msgs {
		if m.Role != "user" {
			continue
		}
		for _, block := range m.Content {
			if block.Text == nil {
				continue
			}
			for _, line := range strings.Split(*block.Text, "\n") {
				rest, ok := strings.CutPrefix(strings.TrimSpace(line), DirectivePrefix)
				if !ok {
					continue
				}
				if err := d.apply(rest); err != nil {
					return d, fmt.Errorf("bedrocksim: directive in messages.%d: %w", i, err)
				}
			}
		}
	}
	if d.Fail != "" && !injectableCodes[d.Fail] {
		return d, fmt.Errorf("bedrocksim: fail=%s is not an error code Converse returns", d.Fail)
	}
	return d, nil
}

func (d *directives) apply(line string) error {
	for _, field := range strings.Fields(line) {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return fmt.Errorf("%q is not key=value", field)
		}
		switch key {
		case "fail":
			d.Fail = value
			continue
		case "tool":
			d.Tool = value
			continue
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return fmt.Errorf("%s=%q: want a non-negative integer", key, value)
		}
		switch key {
		case "output_tokens":
			d.OutputTokens = &n
		case "ttft_ms":
			t := time.Duration(n) * time.Millisecond
			d.TTFT = &t
		case "per_token_ms":
			t := time.Duration(n) * time.Millisecond
			d.PerToken = &t
		case "fail_times":
			d.FailTimes = n
		case "stream_fail_after":
			d.StreamFailAfter = &n
		case "stream_cut_after":
			d.StreamCutAfter = &n
		default:
			return fmt.Errorf("unknown key %q (known: output_tokens ttft_ms per_token_ms fail fail_times stream_fail_after stream_cut_after tool)", key)
		}
	}
	return nil
}

// failCounter remembers how often each request carrying fail_times has been
// seen, so that a retry of the same request eventually succeeds.
type failCounter struct {
	mu   sync.Mutex
	seen map[uint64]int
}

// shouldFail records one more call of the request with hash key and says
// whether this call is one of the first `times` (always, if times is 0).
func (f *failCounter) shouldFail(key uint64, times int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = make(map[uint64]int)
	}
	n := f.seen[key]
	f.seen[key] = n + 1
	return times == 0 || n < times
}

func (f *failCounter) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = nil
}
