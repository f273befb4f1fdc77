package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/openai"
)

// Limits of an input file's lines.
const (
	// MaxLineBytes bounds one line: the synchronous path's body limit
	// (api.MaxBodyBytes) plus room for the line's envelope.
	MaxLineBytes = 20<<20 + 64<<10
	// MaxCustomID bounds a custom_id, which every output line repeats.
	MaxCustomID = 512
	// MaxErrors is how many errors a failed batch lists.
	MaxErrors = 100
)

// Codes of a batch's validation errors (errors.data[].code).
const (
	CodeInvalidJSON    = "invalid_json_line"
	CodeInvalidRequest = "invalid_request"
	CodeMissingParam   = "missing_required_parameter"
	CodeInvalidMethod  = "invalid_method"
	CodeInvalidURL     = "invalid_url"
	CodeDuplicateID    = "duplicate_custom_id"
	CodeModelNotFound  = "model_not_found"
	// CodeModelNotAllowed: the batch's API key may not use the line's model.
	CodeModelNotAllowed = "model_not_allowed"
	CodeTooManyLines    = "too_many_requests_in_batch"
	CodeLineTooLong     = "line_too_long"
	CodeFileTooLarge    = "file_too_large"
	CodeEmptyFile       = "empty_file"
	CodeFileNotFound    = "file_not_found"
	CodeTooManyErrors   = "too_many_errors"
)

// line is a valid line of an input file, ready to be a job.
type line struct {
	CustomID string
	Model    string
	// Request is the decoded body marshalled again: the same form the
	// synchronous path stores, which the worker reads.
	Request []byte
}

// parseLine checks one line exactly as POST /v1/chat/completions checks a
// request body (openai.DecodeChatCompletionRequest, then the model, then
// bedrock.ConverseRequest), so that a batch line is refused for the same
// reasons and with the same messages as the same request sent alone. A
// refused line still returns what could be read of it (its custom_id).
func parseLine(cfg *config.Config, raw []byte) (line, *openai.BatchError) {
	var in openai.BatchRequestInput
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return line{}, lineDecodeError(err)
	}
	if dec.More() {
		return line{}, lineError(CodeInvalidJSON, "", "The line holds more than one JSON value; each line must be one JSON object.")
	}
	l := line{CustomID: in.CustomID}
	switch {
	case in.CustomID == "":
		return l, lineError(CodeMissingParam, "custom_id", "Missing required parameter: 'custom_id'.")
	case len(in.CustomID) > MaxCustomID:
		return l, lineError(CodeInvalidRequest, "custom_id", fmt.Sprintf("The custom_id is %d bytes long; at most %d are allowed.", len(in.CustomID), MaxCustomID))
	case in.Method == "":
		return l, lineError(CodeMissingParam, "method", "Missing required parameter: 'method'.")
	case in.Method != "POST":
		return l, lineError(CodeInvalidMethod, "method", fmt.Sprintf("Invalid method %q; a batch request must use 'POST'.", in.Method))
	case in.URL == "":
		return l, lineError(CodeMissingParam, "url", "Missing required parameter: 'url'.")
	case in.URL != Endpoint:
		return l, lineError(CodeInvalidURL, "url", fmt.Sprintf("The url %q does not match the batch's endpoint %q.", in.URL, Endpoint))
	case len(in.Body) == 0 || string(in.Body) == "null":
		return l, lineError(CodeMissingParam, "body", "Missing required parameter: 'body'.")
	}
	req, oerr := openai.DecodeChatCompletionRequest(bytes.NewReader(in.Body))
	if oerr != nil {
		return l, bodyError(oerr)
	}
	l.Model = req.Model
	model, ok := cfg.Models[req.Model]
	if !ok {
		return l, bodyError(openai.ModelNotFound(req.Model))
	}
	if req.Stream {
		return l, bodyError(openai.InvalidRequest("stream", "Streaming is not available in a batch; remove 'stream' or set it to false."))
	}
	if (req.ServiceTier == "" || req.ServiceTier == "auto") && model.BatchServiceTier != "" {
		// The alias runs batches at its batch tier (flex: Bedrock's
		// discount). Chosen now and stored with the request, so the worker
		// runs it as it runs any request.
		req.ServiceTier = model.BatchServiceTier
	}
	if _, oerr := bedrock.ConverseRequest(req, model); oerr != nil {
		return l, bodyError(oerr)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return l, lineError(CodeInvalidRequest, "body", "The body could not be stored: "+err.Error())
	}
	l.Request = body
	return l, nil
}

func lineError(code, param, msg string) *openai.BatchError {
	e := &openai.BatchError{Code: code, Message: msg}
	if param != "" {
		e.Param = &param
	}
	return e
}

// bodyError is a refusal of the request in a line's body, with its param
// placed under body.
func bodyError(e *openai.Error) *openai.BatchError {
	code := CodeInvalidRequest
	if e.Code != nil {
		code = *e.Code
	}
	param := "body"
	if e.Param != nil {
		param += "." + *e.Param
	}
	return lineError(code, param, e.Message)
}

func lineDecodeError(err error) *openai.BatchError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return lineError(CodeInvalidRequest, typeErr.Field, fmt.Sprintf("Invalid type for '%s': expected %s, got a JSON %s.", typeErr.Field, typeErr.Type, typeErr.Value))
	case errors.As(err, &syntaxErr):
		return lineError(CodeInvalidJSON, "", fmt.Sprintf("The line is not valid JSON: %s at offset %d.", syntaxErr, syntaxErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return lineError(CodeInvalidJSON, "", "The line is not valid JSON: it ends early.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return lineError(CodeInvalidRequest, field, fmt.Sprintf("Unrecognized field %q; a line has custom_id, method, url and body.", field))
	}
	return lineError(CodeInvalidJSON, "", "The line is not valid JSON: "+err.Error())
}

// errorList collects a batch's validation errors, keeping the first
// MaxErrors and counting the rest.
type errorList struct {
	data []openai.BatchError
	more int
}

func (l *errorList) add(num int, e *openai.BatchError) {
	if len(l.data) >= MaxErrors {
		l.more++
		return
	}
	if num > 0 {
		e.Line = &num
	}
	l.data = append(l.data, *e)
}

func (l *errorList) result() *openai.BatchErrors {
	if len(l.data) == 0 {
		return nil
	}
	data := l.data
	if l.more > 0 {
		data = append(data, openai.BatchError{Code: CodeTooManyErrors,
			Message: fmt.Sprintf("%d more lines have errors; only the first %d are listed.", l.more, MaxErrors)})
	}
	return &openai.BatchErrors{Object: "list", Data: data}
}
