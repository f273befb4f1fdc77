package batch

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// lineReader reads a JSONL stream one line at a time into one reused buffer,
// so memory is bounded by the longest line, never by the file. Blank lines
// are skipped; a line longer than max is reported as such, and reading goes
// on after it.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
	n   int // physical lines read, for 1-based line numbers
	eof bool
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next non-blank line (valid until the following call) and
// its line number in the file, or io.EOF. tooLong reports a line over max,
// whose content is dropped.
func (l *lineReader) next() (line []byte, num int, tooLong bool, err error) {
	for !l.eof {
		l.buf, tooLong = l.buf[:0], false
		for {
			frag, err := l.r.ReadSlice('\n')
			if !tooLong {
				if len(l.buf)+len(frag) > l.max {
					tooLong, l.buf = true, l.buf[:0]
				} else {
					l.buf = append(l.buf, frag...)
				}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				l.eof = true
				if len(frag) == 0 && len(l.buf) == 0 && !tooLong {
					return nil, 0, false, io.EOF
				}
				break
			}
			if err != nil {
				return nil, 0, false, err
			}
			break
		}
		l.n++
		if line = bytes.TrimSpace(l.buf); len(line) > 0 || tooLong {
			return line, l.n, tooLong, nil
		}
	}
	return nil, 0, false, io.EOF
}
