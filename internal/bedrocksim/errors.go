package bedrocksim

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
)

// apiError is an error answer of either protocol. Code is the AWS error
// code exactly as the SDK matches it against its modeled error types.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message) }

func newError(code, format string, args ...any) *apiError {
	return &apiError{Status: errorStatus(code), Code: code, Message: fmt.Sprintf(format, args...)}
}

// bedrockErrorStatus is the HTTP status Bedrock Runtime uses for each error
// code (from the service model; the SDK picks the type from the code, the
// status decides whether its retryer retries).
var bedrockErrorStatus = map[string]int{
	"AccessDeniedException":         http.StatusForbidden,
	"ConflictException":             http.StatusBadRequest,
	"InternalServerException":       http.StatusInternalServerError,
	"ModelErrorException":           424,
	"ModelNotReadyException":        http.StatusTooManyRequests,
	"ModelStreamErrorException":     424,
	"ModelTimeoutException":         http.StatusRequestTimeout,
	"ResourceNotFoundException":     http.StatusNotFound,
	"ServiceQuotaExceededException": http.StatusBadRequest,
	"ServiceUnavailableException":   http.StatusServiceUnavailable,
	"ThrottlingException":           http.StatusTooManyRequests,
	"ValidationException":           http.StatusBadRequest,
	// Errors of the AWS front door, not modeled by the SDK.
	"UnrecognizedClientException":         http.StatusForbidden,
	"InvalidSignatureException":           http.StatusForbidden,
	"MissingAuthenticationTokenException": http.StatusForbidden,
	"ExpiredTokenException":               http.StatusForbidden,
	"UnknownOperationException":           http.StatusNotFound,
	// STS (awsQuery) codes.
	"AccessDenied":               http.StatusForbidden,
	"ValidationError":            http.StatusBadRequest,
	"InvalidAction":              http.StatusBadRequest,
	"InvalidClientTokenId":       http.StatusForbidden,
	"SignatureDoesNotMatch":      http.StatusForbidden,
	"MissingAuthenticationToken": http.StatusForbidden,
	"ExpiredToken":               http.StatusBadRequest,
}

func errorStatus(code string) int {
	if s, ok := bedrockErrorStatus[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// injectableCodes are the codes a fail= directive accepts: the errors
// Converse and ConverseStream can return.
var injectableCodes = map[string]bool{
	"AccessDeniedException":         true,
	"InternalServerException":       true,
	"ModelErrorException":           true,
	"ModelNotReadyException":        true,
	"ModelStreamErrorException":     true,
	"ModelTimeoutException":         true,
	"ResourceNotFoundException":     true,
	"ServiceQuotaExceededException": true,
	"ServiceUnavailableException":   true,
	"ThrottlingException":           true,
	"ValidationException":           true,
}

// writeJSONError answers in restJson1 form: the SDK takes the code from
// X-Amzn-Errortype and the message from the body's "message".
func writeJSONError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Errortype", e.Code)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": e.Message})
}

// writeQueryError answers in awsQuery (STS) form.
func writeQueryError(w http.ResponseWriter, e *apiError, requestID string) {
	type errBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type errorResponse struct {
		XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
		Error     errBody  `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}
	kind := "Sender"
	if e.Status >= 500 {
		kind = "Receiver"
	}
	writeXML(w, e.Status, errorResponse{Error: errBody{Type: kind, Code: e.Code, Message: e.Message}, RequestID: requestID})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
