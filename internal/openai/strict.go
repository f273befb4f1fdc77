package openai

import (
	"bytes"
	"encoding/json"
	"io"
)

// DecodeStrict parses a request body into v as the OpenAI endpoints do:
// one JSON object, unknown fields refused, errors as 400s naming the field.
func DecodeStrict(r io.Reader, v any) *Error {
	body, oerr := readBody(r)
	if oerr != nil {
		return oerr
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return InvalidRequest("", "The request body must be a single JSON object.")
	}
	return nil
}
