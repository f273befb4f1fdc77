package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// MaxEmbeddingInputs is OpenAI's bound on the inputs of one embeddings request.
const MaxEmbeddingInputs = 2048

// EmbeddingRequest is the body of POST /v1/embeddings.
type EmbeddingRequest struct {
	Model          string         `json:"model"`
	Input          EmbeddingInput `json:"input"`
	EncodingFormat string         `json:"encoding_format,omitempty"`
	Dimensions     *int           `json:"dimensions,omitempty"`
	User           string         `json:"user,omitempty"`
}

// EmbeddingInput is OpenAI's "string, array of strings, array of tokens, or
// array of token arrays". Bedrock's embedding models take text only, so token
// arrays are recognised (to refuse them by name) but not kept.
type EmbeddingInput struct {
	Texts []string
	// Tokens records that the input was given as token ids.
	Tokens bool
}

var errEmbeddingInput = errors.New("input must be a string or an array of strings")

// UnmarshalJSON accepts a string or an array of strings, and recognises
// arrays of token ids.
func (in *EmbeddingInput) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*in = EmbeddingInput{Texts: []string{s}}
		return nil
	}
	var items []json.RawMessage
	if len(b) == 0 || b[0] != '[' || json.Unmarshal(b, &items) != nil {
		return errEmbeddingInput
	}
	texts := make([]string, 0, len(items))
	for _, item := range items {
		item = bytes.TrimSpace(item)
		if len(item) > 0 && (item[0] == '[' || item[0] == '-' || (item[0] >= '0' && item[0] <= '9')) {
			*in = EmbeddingInput{Tokens: true}
			return nil
		}
		var s string
		if err := json.Unmarshal(item, &s); err != nil {
			return errEmbeddingInput
		}
		texts = append(texts, s)
	}
	*in = EmbeddingInput{Texts: texts}
	return nil
}

// MarshalJSON writes the texts as an array.
func (in EmbeddingInput) MarshalJSON() ([]byte, error) {
	if in.Texts == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(in.Texts)
}

// DecodeEmbeddingRequest parses and checks a request body; unknown fields
// are refused, as for chat completions.
func DecodeEmbeddingRequest(r io.Reader) (*EmbeddingRequest, *Error) {
	body, oerr := readBody(r)
	if oerr != nil {
		return nil, oerr
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req EmbeddingRequest
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, errEmbeddingInput) {
			return nil, InvalidRequest("input", "'input' must be a string or an array of strings.")
		}
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, InvalidRequest("", "The request body must be a single JSON object.")
	}
	if e := req.Validate(); e != nil {
		return nil, e
	}
	return &req, nil
}

// Validate checks what can be checked without knowing the model.
func (r *EmbeddingRequest) Validate() *Error {
	if r.Model == "" {
		return InvalidRequest("model", "you must provide a model parameter")
	}
	if r.Input.Tokens {
		return InvalidRequest("input", "Token arrays are not supported: Bedrock's embedding models take text, so send 'input' as a string or an array of strings.")
	}
	if len(r.Input.Texts) == 0 {
		return InvalidRequest("input", "'input' must not be empty.")
	}
	if len(r.Input.Texts) > MaxEmbeddingInputs {
		return InvalidRequest("input", "'input' has %d items; at most %d are allowed per request.", len(r.Input.Texts), MaxEmbeddingInputs)
	}
	for i, t := range r.Input.Texts {
		if t == "" {
			return InvalidRequest(fmt.Sprintf("input[%d]", i), "'input[%d]' is an empty string; every input must contain text.", i)
		}
	}
	switch r.EncodingFormat {
	case "", "float", "base64":
	default:
		return InvalidRequest("encoding_format", "Invalid 'encoding_format' %q: use 'float' or 'base64'.", r.EncodingFormat)
	}
	if r.Dimensions != nil && *r.Dimensions < 1 {
		return InvalidRequest("dimensions", "Invalid 'dimensions': expected a value >= 1, got %d.", *r.Dimensions)
	}
	return nil
}

// EmbeddingList is the response of POST /v1/embeddings.
type EmbeddingList struct {
	Object string         `json:"object"` // always list
	Data   []Embedding    `json:"data"`
	Model  string         `json:"model"`
	Usage  EmbeddingUsage `json:"usage"`
}

// Embedding is one input's vector. Vector is a []float32, or its base64
// form (little-endian float32s) when the caller asked for encoding_format
// base64.
type Embedding struct {
	Object string `json:"object"` // always embedding
	Index  int    `json:"index"`
	Vector any    `json:"embedding"`
}

// EmbeddingUsage counts the input tokens; embeddings have no output.
type EmbeddingUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// EncodeVector is v as the caller asked for it: the floats, or their bytes
// in base64, which is about a third the size of the JSON numbers.
func EncodeVector(v []float32, format string) any {
	if format != "base64" {
		return v
	}
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(raw)
}
