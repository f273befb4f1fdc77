package batch

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestLineReader(t *testing.T) {
	in := "one\n\n  \r\ntwo\r\n" + strings.Repeat("x", 100) + "\nthree"
	r := newLineReader(strings.NewReader(in), 50)
	type got struct {
		line    string
		num     int
		tooLong bool
	}
	var lines []got
	for {
		l, num, tooLong, err := r.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, got{string(l), num, tooLong})
	}
	want := []got{{"one", 1, false}, {"two", 4, false}, {"", 5, true}, {"three", 6, false}}
	if len(lines) != len(want) {
		t.Fatalf("lines = %+v", lines)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("line %d = %+v, want %+v", i, lines[i], want[i])
		}
	}
}

// A line longer than the read buffer comes back whole.
func TestLineReaderLongLine(t *testing.T) {
	long := strings.Repeat("y", 200_000)
	r := newLineReader(strings.NewReader(long+"\n"+long), 250_000)
	for i := range 2 {
		l, num, tooLong, err := r.next()
		if err != nil || string(l) != long || num != i+1 || tooLong {
			t.Fatalf("line %d: %d bytes, num %d, tooLong %v, err %v", i+1, len(l), num, tooLong, err)
		}
	}
	if _, _, _, err := r.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last line: %v", err)
	}
}
