package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CheckText refuses a JSON body whose text Postgres could not store or that
// would change on the way to Bedrock, before a job exists:
//
//   - invalid UTF-8 anywhere: JSON text must be UTF-8 (RFC 8259 §8.1), and a
//     decoder that replaces bad bytes with U+FFFD silently changes a prompt;
//   - NUL (U+0000, "\u0000") in any string, key or value: jobs store requests
//     as jsonb, which cannot hold it, and no model input needs it.
//
// Both are 400s naming where the fault is. A body that is not JSON at all is
// left to the decoder, which says why.
func CheckText(body []byte) *Error {
	if !utf8.Valid(body) {
		off := invalidUTF8Offset(body)
		return InvalidRequest("", "The request body is not valid UTF-8 (first invalid byte at offset %d); JSON text must be UTF-8.", off).WithCode("invalid_encoding")
	}
	if !bytes.Contains(body, []byte(`\u0000`)) {
		// Raw control characters are a JSON syntax error the decoder reports;
		// an escaped NUL always contains this text.
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var path []string
	var inArray []int // per open container: -1 for an object, else the next array index
	key := true
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error the real decode will name
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if v == '{' {
					inArray = append(inArray, -1)
					path = append(path, "")
				} else {
					inArray = append(inArray, 0)
					path = append(path, "0")
				}
				key = v == '{'
				continue
			default:
				inArray = inArray[:len(inArray)-1]
				path = path[:len(path)-1]
			}
		case string:
			if key && len(inArray) > 0 && inArray[len(inArray)-1] == -1 {
				if strings.ContainsRune(v, 0) {
					return nulError(path, v)
				}
				path[len(path)-1] = v
				key = false
				continue
			}
			if strings.ContainsRune(v, 0) {
				return nulError(path, "")
			}
		}
		// A value ended: the next token in an object is a key, in an array the next index.
		if n := len(inArray); n > 0 {
			if inArray[n-1] >= 0 {
				inArray[n-1]++
				path[n-1] = strconv.Itoa(inArray[n-1])
			} else {
				key = true
			}
		}
	}
}

func nulError(path []string, badKey string) *Error {
	var b strings.Builder
	for _, p := range path {
		if p == "" {
			continue
		}
		if _, err := strconv.Atoi(p); err == nil {
			fmt.Fprintf(&b, "[%s]", p)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	param := b.String()
	if badKey != "" {
		return InvalidRequest(param, "A key in the request body contains a NUL character (\\u0000), which is not accepted.").WithCode("invalid_encoding")
	}
	return InvalidRequest(param, "'%s' contains a NUL character (\\u0000), which is not accepted; remove it.", param).WithCode("invalid_encoding")
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// ValidText reports whether s is valid UTF-8 without NUL: what Postgres text
// columns can store, and what ids, query parameters, file names and headers
// that sluice stores must be.
func ValidText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// BodyTimeout is the error for a request body that did not arrive within the
// server's read deadline.
func BodyTimeout() *Error {
	return (&Error{Status: http.StatusRequestTimeout, Type: "invalid_request_error",
		Message: "The request body did not arrive in time; send it at once."}).WithCode("request_timeout")
}

// IsReadTimeout reports whether err is a read deadline passing.
func IsReadTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// readBody reads a JSON request body whole and checks its text.
func readBody(r io.Reader) ([]byte, *Error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, decodeError(err)
	}
	if e := CheckText(body); e != nil {
		return nil, e
	}
	return body, nil
}
