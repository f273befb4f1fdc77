package bedrocksim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// InvokeModel serves the embedding models only: their bodies are small,
// documented formats, and they are what sluice sends through InvokeModel.
// Chat models are served through Converse.

// embedModel is the body format of an embedding model.
type embedModel int

const (
	titanV1 embedModel = iota + 1
	titanV2
	cohereV3
	cohereV4
)

func embedModelOf(modelID string) (embedModel, bool) {
	switch {
	case strings.Contains(modelID, "titan-embed-text-v2"):
		return titanV2, true
	case strings.Contains(modelID, "titan-embed-text-v1"), strings.Contains(modelID, "titan-embed-g1-text"):
		return titanV1, true
	case strings.Contains(modelID, "cohere.embed-v4"):
		return cohereV4, true
	case strings.Contains(modelID, "cohere.embed-"):
		return cohereV3, true
	}
	return 0, false
}

// embedRequest is an InvokeModel body of any embedding model, read strictly
// (Titan and Cohere refuse unknown keys).
type embedRequest struct {
	// Titan
	InputText  *string `json:"inputText"`
	Dimensions *int    `json:"dimensions"`
	Normalize  *bool   `json:"normalize"`
	// Cohere
	Texts           []string `json:"texts"`
	InputType       string   `json:"input_type"`
	Truncate        string   `json:"truncate"`
	EmbeddingTypes  []string `json:"embedding_types"`
	OutputDimension *int     `json:"output_dimension"`
}

var titanKeys = map[embedModel][]string{titanV1: {"inputText"}, titanV2: {"inputText", "dimensions", "normalize", "embeddingTypes"}}

// parse reads and checks a body as model does, and returns the texts to
// embed, the vector length and whether to normalize.
func (m embedModel) parse(body []byte) (texts []string, dims int, normalize bool, e *apiError) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil {
		return nil, 0, false, newError("ValidationException", "Malformed input request: %v, please reformat your input and try again.", err)
	}
	allowed := titanKeys[m]
	if m == cohereV3 || m == cohereV4 {
		allowed = []string{"texts", "input_type", "truncate", "embedding_types", "output_dimension", "images", "max_tokens"}
	}
	for k := range keys {
		if !slices.Contains(allowed, k) {
			return nil, 0, false, newError("ValidationException", "Malformed input request: #: extraneous key [%s] is not permitted, please reformat your input and try again.", k)
		}
	}
	var req embedRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, 0, false, newError("ValidationException", "Malformed input request: %v, please reformat your input and try again.", err)
	}
	switch m {
	case titanV1, titanV2:
		if req.InputText == nil {
			return nil, 0, false, newError("ValidationException", "Malformed input request: #: required key [inputText] not found, please reformat your input and try again.")
		}
		if *req.InputText == "" {
			return nil, 0, false, newError("ValidationException", "Malformed input request: #/inputText: expected minLength: 1, actual: 0, please reformat your input and try again.")
		}
		dims, normalize = 1536, false
		if m == titanV2 {
			dims, normalize = 1024, true
			if d := req.Dimensions; d != nil {
				if *d != 256 && *d != 512 && *d != 1024 {
					return nil, 0, false, newError("ValidationException", "Malformed input request: #/dimensions: %d is not a valid enum value, please reformat your input and try again.", *d)
				}
				dims = *d
			}
			if req.Normalize != nil {
				normalize = *req.Normalize
			}
		}
		return []string{*req.InputText}, dims, normalize, nil
	default:
		if len(req.Texts) == 0 || len(req.Texts) > 96 {
			return nil, 0, false, newError("ValidationException", "Malformed input request: #/texts: expected between 1 and 96 items, got %d, please reformat your input and try again.", len(req.Texts))
		}
		switch req.InputType {
		case "search_document", "search_query", "classification", "clustering":
		case "":
			return nil, 0, false, newError("ValidationException", "Malformed input request: #: required key [input_type] not found, please reformat your input and try again.")
		default:
			return nil, 0, false, newError("ValidationException", "Malformed input request: #/input_type: %s is not a valid enum value, please reformat your input and try again.", req.InputType)
		}
		dims = 1024
		if m == cohereV4 {
			dims = 1536
			if d := req.OutputDimension; d != nil {
				if !slices.Contains([]int{256, 512, 1024, 1536}, *d) {
					return nil, 0, false, newError("ValidationException", "Malformed input request: #/output_dimension: %d is not a valid enum value, please reformat your input and try again.", *d)
				}
				dims = *d
			}
		}
		return req.Texts, dims, true, nil
	}
}

// handleInvoke is POST /model/{modelId}/invoke for embedding models: the
// same authentication, directives (in the texts), fault injection and quota
// accounting as Converse, with input tokens only (an embedding has no
// output), and deterministic vectors.
func (s *Server) handleInvoke(w http.ResponseWriter, r *http.Request) {
	requestID, started := newRequestID(), time.Now()
	modelID := normalizeModelID(r.PathValue("modelId"))
	w.Header().Set("X-Amzn-Requestid", requestID)
	log := s.log.With("request_id", requestID, "model", modelID, "operation", "InvokeModel")
	account := ""
	fail := func(e *apiError) {
		log.Info("invoke error", "account", account, "code", e.Code, "message", e.Message)
		writeJSONError(w, e)
	}

	body, err := readBody(r)
	if err != nil {
		fail(newError("ValidationException", "read request body: %v", err))
		return
	}
	p, authErr := s.creds.authenticate(r, body, "bedrock", s.cfg.authEnabled(), started)
	if authErr != nil {
		s.ledger.recordAuthFailure()
		fail(authErr.bedrockError())
		return
	}
	if p.Account == "" {
		s.ledger.recordAuthFailure()
		fail(newError("AccessDeniedException", "User: %s is not authorized to perform: bedrock:InvokeModel (bedrocksim: base credentials have no default_account)", p.ARN))
		return
	}
	account = p.Account
	if s.refusals.refuses(account, RefuseModel) {
		fail(modelRefused())
		return
	}
	if _, ok := s.cfg.Models[modelID]; !ok {
		fail(newError("ValidationException", "The provided model identifier is invalid."))
		return
	}
	model, ok := embedModelOf(modelID)
	if !ok {
		s.ledger.recordRejected(account, modelID, started)
		fail(newError("ValidationException", "bedrocksim serves InvokeModel for embedding models only (Titan Text Embeddings, Cohere Embed); call Converse for %s", modelID))
		return
	}
	texts, dims, normalize, e := model.parse(body)
	if e != nil {
		s.ledger.recordRejected(account, modelID, started)
		fail(e)
		return
	}

	// Directives ride in the texts, as they ride in user messages.
	msg := message{Role: "user"}
	for i := range texts {
		msg.Content = append(msg.Content, contentBlock{Text: &texts[i]})
	}
	d, err := parseDirectives([]message{msg})
	if err != nil {
		s.ledger.recordRejected(account, modelID, started)
		fail(newError("ValidationException", "%v", err))
		return
	}
	if d.Fail != "" && s.fails.shouldFail(hashTexts(texts), d.FailTimes) {
		s.ledger.recordInjected(account, modelID, started)
		fail(newError(d.Fail, "bedrocksim: injected %s", d.Fail))
		return
	}

	input := 0
	for _, t := range texts {
		input += max(1, (len(t)+3)/4)
	}
	lease, e := s.ledger.admit(account, modelID, int64(input), started)
	if e != nil {
		fail(e)
		return
	}
	ttft := s.cfg.TTFT
	if d.TTFT != nil {
		ttft = *d.TTFT
	}
	// Input is charged whether or not the caller waits for the answer.
	done := sleepUntil(r.Context(), started.Add(ttft))
	charged := lease.settle(usage{input: input}, time.Now())
	log.Info("invoke", "account", account, "texts", len(texts), "input_tokens", input, "charged", charged,
		"client_gone", !done, "latency", time.Since(started).Round(time.Millisecond))
	if !done {
		return
	}

	vectors := make([][]float32, len(texts))
	for i, t := range texts {
		vectors[i] = embedVector(modelID, t, dims, normalize)
	}
	var resp any
	switch model {
	case titanV1, titanV2:
		resp = map[string]any{"embedding": vectors[0], "inputTextTokenCount": input}
	default:
		var req embedRequest
		_ = json.Unmarshal(body, &req)
		resp = map[string]any{"id": requestID, "texts": texts, "embeddings": vectors, "response_type": "embeddings_floats"}
		if len(req.EmbeddingTypes) > 0 {
			resp = map[string]any{"id": requestID, "texts": texts, "embeddings": map[string]any{"float": vectors}, "response_type": "embeddings_by_type"}
		}
	}
	// Bedrock reports the counts of every InvokeModel call in headers.
	w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(input))
	w.Header().Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(time.Since(started).Milliseconds(), 10))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// embedVector is a deterministic vector for text: Gaussian components from a
// PRNG seeded by the model and the text, of unit length if normalize.
func embedVector(modelID, text string, dims int, normalize bool) []float32 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s", modelID, text)
	rng := rand.New(rand.NewPCG(h.Sum64(), uint64(dims)))
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		x := rng.NormFloat64()
		v[i] = float32(x)
		norm += x * x
	}
	if normalize && norm > 0 {
		scale := 1 / math.Sqrt(norm)
		for i := range v {
			v[i] = float32(float64(v[i]) * scale)
		}
	}
	return v
}

func hashTexts(texts []string) uint64 {
	h := fnv.New64a()
	for _, t := range texts {
		h.Write([]byte(t))
		h.Write([]byte{0})
	}
	return h.Sum64()
}
