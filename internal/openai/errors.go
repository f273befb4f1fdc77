package openai

import (
	"fmt"
	"net/http"
)

// Error is an OpenAI-style error. It renders as {"error": {...}} with the HTTP
// status that OpenAI would use for the same failure, so that SDKs raise the
// exception their users already handle.
type Error struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// ErrorBody is the JSON envelope of an Error.
type ErrorBody struct {
	Error *Error `json:"error"`
}

func (e *Error) Error() string {
	if e.Param != nil {
		return fmt.Sprintf("%s (%d, param %s): %s", e.Type, e.Status, *e.Param, e.Message)
	}
	return fmt.Sprintf("%s (%d): %s", e.Type, e.Status, e.Message)
}

// WithCode sets the machine-readable code.
func (e *Error) WithCode(code string) *Error {
	e.Code = &code
	return e
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// InvalidRequest is a 400 about one parameter (param may be empty).
func InvalidRequest(param, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: ptr(param), Message: fmt.Sprintf(format, args...)}
}

// Unauthorized is a 401.
func Unauthorized(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Type: "invalid_request_error", Message: msg, Code: ptr("invalid_api_key")}
}

// NotFound is a 404.
func NotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Type: "invalid_request_error", Message: msg, Code: ptr("not_found")}
}

// ModelNotFound is OpenAI's answer to an unknown model.
func ModelNotFound(model string) *Error {
	return &Error{Status: http.StatusNotFound, Type: "invalid_request_error", Param: ptr("model"), Code: ptr("model_not_found"),
		Message: fmt.Sprintf("The model %q does not exist or you do not have access to it.", model)}
}

// ServerError is a 500 that tells the caller nothing internal.
func ServerError(msg string) *Error {
	return &Error{Status: http.StatusInternalServerError, Type: "server_error", Message: msg}
}

// Unavailable is a 503: a dependency is down; the caller may retry.
func Unavailable(msg string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Type: "server_error", Message: msg, Code: ptr("service_unavailable")}
}

// Timeout is a 504 for a synchronous wait that ran out; the job goes on.
func Timeout(msg string) *Error {
	return &Error{Status: http.StatusGatewayTimeout, Type: "timeout", Message: msg, Code: ptr("timeout")}
}

// Record is an Error as kept in a job row: the body's fields plus the status,
// so that a caller who collects the result later gets the same answer.
type Record struct {
	Error
	HTTPStatus int `json:"status"`
}

// Record returns the storable form of e.
func (e *Error) Record() Record { return Record{Error: *e, HTTPStatus: e.Status} }

// Err returns the Error a Record holds.
func (r Record) Err() *Error {
	e := r.Error
	e.Status = r.HTTPStatus
	if e.Status == 0 {
		e.Status = http.StatusInternalServerError
	}
	return &e
}
