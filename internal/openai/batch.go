package openai

import (
	"bytes"
	"encoding/json"
	"io"
)

// FileObject is OpenAI's file object.
type FileObject struct {
	ID        string `json:"id"`
	Object    string `json:"object"` // "file"
	Bytes     int64  `json:"bytes"`
	CreatedAt int64  `json:"created_at"`
	ExpiresAt *int64 `json:"expires_at"`
	Filename  string `json:"filename"`
	Purpose   string `json:"purpose"`
	// Status is deprecated by OpenAI; a file sluice shows is always "processed".
	Status        string  `json:"status"`
	StatusDetails *string `json:"status_details"`
}

// FileDeleted is the answer to DELETE /v1/files/{id}.
type FileDeleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // "file"
	Deleted bool   `json:"deleted"`
}

// ExpiresAfter is an expiration policy: seconds after the anchor, which is
// always "created_at".
type ExpiresAfter struct {
	Anchor  string `json:"anchor"`
	Seconds int64  `json:"seconds"`
}

// CreateBatchRequest is the body of POST /v1/batches.
type CreateBatchRequest struct {
	InputFileID        string            `json:"input_file_id"`
	Endpoint           string            `json:"endpoint"`
	CompletionWindow   string            `json:"completion_window"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	OutputExpiresAfter *ExpiresAfter     `json:"output_expires_after,omitempty"`
}

// DecodeCreateBatchRequest parses and checks the body of POST /v1/batches;
// unknown fields are refused, as for chat completions.
func DecodeCreateBatchRequest(r io.Reader) (*CreateBatchRequest, *Error) {
	body, oerr := readBody(r)
	if oerr != nil {
		return nil, oerr
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req CreateBatchRequest
	if err := dec.Decode(&req); err != nil {
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, InvalidRequest("", "The request body must be a single JSON object.")
	}
	for _, f := range []struct{ name, value string }{
		{"input_file_id", req.InputFileID}, {"endpoint", req.Endpoint}, {"completion_window", req.CompletionWindow},
	} {
		if f.value == "" {
			return nil, InvalidRequest(f.name, "Missing required parameter: '%s'.", f.name)
		}
	}
	if e := ValidateMetadata(req.Metadata); e != nil {
		return nil, e
	}
	if e := req.OutputExpiresAfter.Validate("output_expires_after"); e != nil {
		return nil, e
	}
	return &req, nil
}

// ValidateMetadata applies OpenAI's limits on metadata: at most 16 pairs,
// keys of at most 64 characters and values of at most 512.
func ValidateMetadata(m map[string]string) *Error {
	if len(m) > 16 {
		return InvalidRequest("metadata", "Invalid 'metadata': at most 16 key-value pairs are allowed, got %d.", len(m))
	}
	for k, v := range m {
		if len(k) > 64 {
			return InvalidRequest("metadata", "Invalid 'metadata': the key %q is longer than 64 characters.", k)
		}
		if len(v) > 512 {
			return InvalidRequest("metadata", "Invalid 'metadata': the value of %q is longer than 512 characters.", k)
		}
	}
	return nil
}

// Validate checks an expiration policy named param; nil is no policy.
func (e *ExpiresAfter) Validate(param string) *Error {
	if e == nil {
		return nil
	}
	if e.Anchor != "created_at" {
		return InvalidRequest(param+".anchor", "Invalid '%s.anchor': %q; the only supported anchor is 'created_at'.", param, e.Anchor)
	}
	if e.Seconds < 3600 || e.Seconds > 2592000 {
		return InvalidRequest(param+".seconds", "Invalid '%s.seconds': %d; expected a value between 3600 (1 hour) and 2592000 (30 days).", param, e.Seconds)
	}
	return nil
}

// Batch is OpenAI's batch object.
type Batch struct {
	ID               string             `json:"id"`
	Object           string             `json:"object"` // "batch"
	Endpoint         string             `json:"endpoint"`
	Model            string             `json:"model,omitempty"`
	Errors           *BatchErrors       `json:"errors"`
	InputFileID      string             `json:"input_file_id"`
	CompletionWindow string             `json:"completion_window"`
	Status           string             `json:"status"`
	OutputFileID     *string            `json:"output_file_id"`
	ErrorFileID      *string            `json:"error_file_id"`
	CreatedAt        int64              `json:"created_at"`
	InProgressAt     *int64             `json:"in_progress_at"`
	ExpiresAt        *int64             `json:"expires_at"`
	FinalizingAt     *int64             `json:"finalizing_at"`
	CompletedAt      *int64             `json:"completed_at"`
	FailedAt         *int64             `json:"failed_at"`
	ExpiredAt        *int64             `json:"expired_at"`
	CancellingAt     *int64             `json:"cancelling_at"`
	CancelledAt      *int64             `json:"cancelled_at"`
	RequestCounts    BatchRequestCounts `json:"request_counts"`
	Usage            *BatchUsage        `json:"usage,omitempty"`
	Metadata         map[string]string  `json:"metadata"`
}

// BatchErrors lists why a batch failed validation.
type BatchErrors struct {
	Object string       `json:"object"` // "list"
	Data   []BatchError `json:"data"`
}

// BatchError is one reason a batch failed validation, usually one line of
// its input file.
type BatchError struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
	Line    *int    `json:"line"`
}

// BatchRequestCounts counts a batch's requests. In sluice completed counts the
// lines of the output file and failed those of the error file, so once the
// batch has ended completed + failed = total.
type BatchRequestCounts struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

// BatchUsage sums the token usage of a batch's requests.
type BatchUsage struct {
	InputTokens         int                   `json:"input_tokens"`
	InputTokensDetails  BatchInputTokensInfo  `json:"input_tokens_details"`
	OutputTokens        int                   `json:"output_tokens"`
	OutputTokensDetails BatchOutputTokensInfo `json:"output_tokens_details"`
	TotalTokens         int                   `json:"total_tokens"`
}

// BatchInputTokensInfo breaks input tokens down.
type BatchInputTokensInfo struct {
	CachedTokens int `json:"cached_tokens"`
}

// BatchOutputTokensInfo breaks output tokens down.
type BatchOutputTokensInfo struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// BatchRequestInput is one line of a batch input file.
type BatchRequestInput struct {
	CustomID string          `json:"custom_id"`
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Body     json.RawMessage `json:"body"`
}

// BatchRequestOutput is one line of a batch's output or error file. A request
// that was answered (successfully or with an error status) has Response; a
// request that never ran (the batch was cancelled or expired) has Error.
type BatchRequestOutput struct {
	ID       string             `json:"id"`
	CustomID string             `json:"custom_id"`
	Response *BatchResponse     `json:"response"`
	Error    *BatchRequestError `json:"error"`
}

// BatchResponse is the HTTP answer a request of a batch got.
type BatchResponse struct {
	StatusCode int             `json:"status_code"`
	RequestID  string          `json:"request_id"`
	Body       json.RawMessage `json:"body"`
}

// BatchRequestError says why a request of a batch never ran.
type BatchRequestError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
