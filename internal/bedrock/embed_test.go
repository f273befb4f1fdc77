package bedrock_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/sluice-broker/sluice/internal/bedrock"
	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/openai"
)

var (
	titan   = config.Model{BedrockModelID: "amazon.titan-embed-text-v2:0"}
	titanV1 = config.Model{BedrockModelID: "amazon.titan-embed-text-v1"}
	cohere  = config.Model{BedrockModelID: "cohere.embed-english-v3"}
	cohere4 = config.Model{BedrockModelID: "us.cohere.embed-v4:0"}
)

func embedRequest(t *testing.T, body string) *openai.EmbeddingRequest {
	t.Helper()
	req, oerr := openai.DecodeEmbeddingRequest(strings.NewReader(body))
	if oerr != nil {
		t.Fatalf("decode %s: %v", body, oerr)
	}
	return req
}

func TestEmbeddingCalls(t *testing.T) {
	texts := make([]string, 200)
	for i := range texts {
		texts[i] = fmt.Sprintf("text %d", i)
	}
	manyJSON, _ := json.Marshal(texts)
	cases := []struct {
		name   string
		body   string
		model  config.Model
		bodies []string // each call's body
		sizes  []int    // or, for long inputs, how many texts each call covers
	}{
		{"titan one text, normalized", `{"model":"e","input":"hello"}`, titan,
			[]string{`{"inputText":"hello","normalize":true}`}, nil},
		{"titan one call per text, with dimensions", `{"model":"e","input":["a","b"],"dimensions":512}`, titan,
			[]string{`{"dimensions":512,"inputText":"a","normalize":true}`, `{"dimensions":512,"inputText":"b","normalize":true}`}, nil},
		{"titan v1 takes only the text", `{"model":"e","input":"hello","dimensions":1536}`, titanV1,
			[]string{`{"inputText":"hello"}`}, nil},
		{"cohere batches of 96 documents", `{"model":"e","input":` + string(manyJSON) + `}`, cohere, nil, []int{96, 96, 8}},
		{"cohere v4 asks for floats and dimensions", `{"model":"e","input":["a"],"dimensions":256}`, cohere4,
			[]string{`{"embedding_types":["float"],"input_type":"search_document","output_dimension":256,"texts":["a"]}`}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls, oerr := bedrock.EmbeddingCalls(embedRequest(t, tc.body), tc.model)
			if oerr != nil {
				t.Fatalf("refused: %v", oerr)
			}
			next := 0
			for i, c := range calls {
				if aws.ToString(c.Input.ModelId) != tc.model.BedrockModelID || aws.ToString(c.Input.ContentType) != "application/json" {
					t.Fatalf("call %d: model %q, content type %q", i, aws.ToString(c.Input.ModelId), aws.ToString(c.Input.ContentType))
				}
				for _, idx := range c.Indexes {
					if idx != next {
						t.Fatalf("call %d covers input %d, want %d: inputs must be covered in order", i, idx, next)
					}
					next++
				}
				if tc.bodies != nil && (len(calls) != len(tc.bodies) || string(c.Input.Body) != tc.bodies[i]) {
					t.Fatalf("call %d of %d body %s, want %v", i, len(calls), c.Input.Body, tc.bodies)
				}
				if tc.sizes != nil && (len(calls) != len(tc.sizes) || len(c.Indexes) != tc.sizes[i]) {
					t.Fatalf("call %d of %d covers %d texts, want %v", i, len(calls), len(c.Indexes), tc.sizes)
				}
			}
		})
	}
}

func TestEmbeddingCallsRefusals(t *testing.T) {
	cases := []struct {
		name, body, param string
		model             config.Model
	}{
		{"a chat model", `{"model":"e","input":"x"}`, "model", sonnet},
		{"an unmapped embedding model", `{"model":"e","input":"x"}`, "model", config.Model{BedrockModelID: "amazon.nova-2-multimodal-embeddings-v1:0"}},
		{"titan v2 dimensions", `{"model":"e","input":"x","dimensions":300}`, "dimensions", titan},
		{"titan v1 dimensions", `{"model":"e","input":"x","dimensions":512}`, "dimensions", titanV1},
		{"cohere v3 dimensions", `{"model":"e","input":"x","dimensions":512}`, "dimensions", cohere},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, oerr := bedrock.EmbeddingCalls(embedRequest(t, tc.body), tc.model)
			if oerr == nil || oerr.Status != 400 || oerr.Param == nil || *oerr.Param != tc.param {
				t.Fatalf("error = %v, want a 400 on %q", oerr, tc.param)
			}
		})
	}
}

func TestEmbeddingVectors(t *testing.T) {
	call := func(model config.Model, body string) []bedrock.EmbeddingCall {
		calls, oerr := bedrock.EmbeddingCalls(embedRequest(t, body), model)
		if oerr != nil {
			t.Fatal(oerr)
		}
		return calls
	}
	titanCall := call(titan, `{"model":"e","input":"x"}`)[0]
	vs, tokens, err := titanCall.Vectors(&bedrockruntime.InvokeModelOutput{Body: []byte(`{"embedding":[0.5,-0.25],"inputTextTokenCount":3}`)})
	if err != nil || len(vs) != 1 || vs[0][1] != -0.25 || tokens != 3 {
		t.Fatalf("titan vectors = %v, %d, %v", vs, tokens, err)
	}

	cohereCall := call(cohere, `{"model":"e","input":["a","b"]}`)[0]
	vs, _, err = cohereCall.Vectors(&bedrockruntime.InvokeModelOutput{Body: []byte(`{"embeddings":[[1,2],[3,4]],"id":"x","response_type":"embeddings_floats","texts":["a","b"]}`)})
	if err != nil || len(vs) != 2 || vs[1][0] != 3 {
		t.Fatalf("cohere vectors = %v, %v", vs, err)
	}
	vs, _, err = cohereCall.Vectors(&bedrockruntime.InvokeModelOutput{Body: []byte(`{"embeddings":{"float":[[1,2],[3,4]]},"response_type":"embeddings_by_type"}`)})
	if err != nil || len(vs) != 2 || vs[1][1] != 4 {
		t.Fatalf("cohere by-type vectors = %v, %v", vs, err)
	}
	if _, _, err := cohereCall.Vectors(&bedrockruntime.InvokeModelOutput{Body: []byte(`{"embeddings":[[1,2]],"response_type":"embeddings_floats"}`)}); err == nil {
		t.Fatal("one vector for two texts was accepted")
	}
	if _, _, err := titanCall.Vectors(&bedrockruntime.InvokeModelOutput{Body: []byte(`{"message":"oops"}`)}); err == nil {
		t.Fatal("a response without an embedding was accepted")
	}
}

func TestEmbeddingList(t *testing.T) {
	vectors := [][]float32{{1, 0.5}, {-2, 0}}
	list := bedrock.EmbeddingList("titan-embed", "float", vectors, 7)
	got, _ := json.Marshal(list)
	want := `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1,0.5]},{"object":"embedding","index":1,"embedding":[-2,0]}],"model":"titan-embed","usage":{"prompt_tokens":7,"total_tokens":7}}`
	if string(got) != want {
		t.Fatalf("list = %s\nwant %s", got, want)
	}
	b64 := bedrock.EmbeddingList("titan-embed", "base64", vectors[:1], 7)
	// 1.0 and 0.5 as little-endian float32s.
	if b64.Data[0].Vector != "AACAPwAAAD8=" {
		t.Fatalf("base64 vector = %v", b64.Data[0].Vector)
	}
}
