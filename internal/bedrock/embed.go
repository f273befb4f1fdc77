package bedrock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/openai"
)

// embedFamily is the InvokeModel body format of an embedding model.
type embedFamily int

const (
	titanV1  embedFamily = iota + 1 // amazon.titan-embed-text-v1: one text, 1536 dimensions
	titanV2                         // amazon.titan-embed-text-v2:0: one text, 256/512/1024 dimensions
	cohereV3                        // cohere.embed-english-v3, -multilingual-v3: up to 96 texts, 1024 dimensions
	cohereV4                        // cohere.embed-v4:0: up to 96 texts, 256/512/1024/1536 dimensions
)

// cohereBatch is how many texts Cohere's models embed in one call.
const cohereBatch = 96

func familyOf(modelID string) (embedFamily, bool) {
	id := strings.ToLower(modelID)
	switch {
	case strings.Contains(id, "titan-embed-text-v2"):
		return titanV2, true
	case strings.Contains(id, "titan-embed-text-v1"), strings.Contains(id, "titan-embed-g1-text"):
		return titanV1, true
	case strings.Contains(id, "cohere.embed-v4"):
		return cohereV4, true
	case strings.Contains(id, "cohere.embed-"):
		return cohereV3, true
	}
	return 0, false
}

// EmbeddingCall is one InvokeModel call of an embeddings request and the
// positions of the caller's inputs it embeds.
type EmbeddingCall struct {
	Input   *bedrockruntime.InvokeModelInput
	Indexes []int
	family  embedFamily
}

// EmbeddingCalls builds the InvokeModel calls for req against model: one per
// text for Titan, one per 96 texts for Cohere. Like ConverseRequest it
// refuses what the model cannot honour.
func EmbeddingCalls(req *openai.EmbeddingRequest, model config.Model) ([]EmbeddingCall, *openai.Error) {
	if !model.Embedding() {
		return nil, openai.InvalidRequest("model", "%q is a chat model; send it to /v1/chat/completions.", req.Model)
	}
	family, ok := familyOf(model.BedrockModelID)
	if !ok {
		return nil, openai.InvalidRequest("model", "The Bedrock model behind %q (%s) has no embedding mapping in sluice; Titan Text Embeddings and Cohere Embed are supported.", req.Model, model.BedrockModelID)
	}
	dims := 0
	if req.Dimensions != nil {
		dims = *req.Dimensions
		allowed := map[embedFamily][]int{titanV1: {1536}, titanV2: {256, 512, 1024}, cohereV3: {1024}, cohereV4: {256, 512, 1024, 1536}}[family]
		if !slices.Contains(allowed, dims) {
			return nil, openai.InvalidRequest("dimensions", "%s supports dimensions %s; got %d.", model.BedrockModelID, joinInts(allowed), dims)
		}
	}
	var calls []EmbeddingCall
	add := func(body any, indexes []int) *openai.Error {
		raw, err := json.Marshal(body)
		if err != nil {
			return openai.ServerError("encode an InvokeModel body: " + err.Error())
		}
		calls = append(calls, EmbeddingCall{family: family, Indexes: indexes, Input: &bedrockruntime.InvokeModelInput{
			ModelId: aws.String(model.BedrockModelID), Body: raw,
			ContentType: aws.String("application/json"), Accept: aws.String("application/json"),
		}})
		return nil
	}
	texts := req.Input.Texts
	switch family {
	case titanV1, titanV2:
		for i, t := range texts {
			body := map[string]any{"inputText": t}
			if family == titanV2 {
				// OpenAI's embeddings have unit length; so do Titan's when asked.
				body["normalize"] = true
				if dims != 0 {
					body["dimensions"] = dims
				}
			}
			if e := add(body, []int{i}); e != nil {
				return nil, e
			}
		}
	case cohereV3, cohereV4:
		for start := 0; start < len(texts); start += cohereBatch {
			end := min(start+cohereBatch, len(texts))
			// OpenAI has no input_type; embedding documents is what its
			// callers mostly do (a query embedded as a document still matches).
			body := map[string]any{"texts": texts[start:end], "input_type": "search_document"}
			if family == cohereV4 {
				body["embedding_types"] = []string{"float"}
				if dims != 0 {
					body["output_dimension"] = dims
				}
			}
			indexes := make([]int, 0, end-start)
			for i := start; i < end; i++ {
				indexes = append(indexes, i)
			}
			if e := add(body, indexes); e != nil {
				return nil, e
			}
		}
	}
	return calls, nil
}

// InputTokenHeader is the response header in which Bedrock reports the input
// tokens of an InvokeModel call.
const InputTokenHeader = "X-Amzn-Bedrock-Input-Token-Count"

// Vectors reads an InvokeModel response: one vector per index of the call,
// and the input tokens Bedrock counted.
func (c EmbeddingCall) Vectors(out *bedrockruntime.InvokeModelOutput) ([][]float32, int, error) {
	tokens := 0
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		tokens, _ = strconv.Atoi(raw.Header.Get(InputTokenHeader))
	}
	dec := json.NewDecoder(bytes.NewReader(out.Body))
	var vectors [][]float32
	switch c.family {
	case titanV1, titanV2:
		var body struct {
			Embedding           []float32 `json:"embedding"`
			InputTextTokenCount int       `json:"inputTextTokenCount"`
		}
		if err := dec.Decode(&body); err != nil {
			return nil, 0, fmt.Errorf("decode Titan embedding response: %w", err)
		}
		vectors = [][]float32{body.Embedding}
		if body.InputTextTokenCount > 0 {
			tokens = body.InputTextTokenCount
		}
	case cohereV3, cohereV4:
		var body struct {
			Embeddings   json.RawMessage `json:"embeddings"`
			ResponseType string          `json:"response_type"`
		}
		if err := dec.Decode(&body); err != nil {
			return nil, 0, fmt.Errorf("decode Cohere embedding response: %w", err)
		}
		if body.ResponseType == "embeddings_by_type" {
			var byType struct {
				Float [][]float32 `json:"float"`
			}
			if err := json.Unmarshal(body.Embeddings, &byType); err != nil {
				return nil, 0, fmt.Errorf("decode Cohere embeddings_by_type: %w", err)
			}
			vectors = byType.Float
		} else if err := json.Unmarshal(body.Embeddings, &vectors); err != nil {
			return nil, 0, fmt.Errorf("decode Cohere embeddings (%s): %w", body.ResponseType, err)
		}
	}
	if len(vectors) != len(c.Indexes) {
		return nil, 0, fmt.Errorf("%s returned %d embeddings for %d texts", aws.ToString(c.Input.ModelId), len(vectors), len(c.Indexes))
	}
	for i, v := range vectors {
		if len(v) == 0 {
			return nil, 0, fmt.Errorf("%s returned an empty embedding for text %d", aws.ToString(c.Input.ModelId), c.Indexes[i])
		}
	}
	return vectors, tokens, nil
}

// EmbeddingList is the OpenAI response for vectors in the caller's order.
func EmbeddingList(alias, encoding string, vectors [][]float32, tokens int) *openai.EmbeddingList {
	list := &openai.EmbeddingList{Object: "list", Model: alias, Data: make([]openai.Embedding, len(vectors)),
		Usage: openai.EmbeddingUsage{PromptTokens: tokens, TotalTokens: tokens}}
	for i, v := range vectors {
		list.Data[i] = openai.Embedding{Object: "embedding", Index: i, Vector: openai.EncodeVector(v, encoding)}
	}
	return list
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
