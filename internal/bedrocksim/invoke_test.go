package bedrocksim

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const (
	titan  = "amazon.titan-embed-text-v2:0"
	cohere = "cohere.embed-english-v3"
)

func invokeInput(model string, body any) *bedrockruntime.InvokeModelInput {
	raw, _ := json.Marshal(body)
	return &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: raw,
		ContentType: aws.String("application/json"), Accept: aws.String("application/json")}
}

type titanResponse struct {
	Embedding           []float64 `json:"embedding"`
	InputTextTokenCount int       `json:"inputTextTokenCount"`
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func TestInvokeTitanEmbedding(t *testing.T) {
	s, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)

	embed := func(body map[string]any) (titanResponse, *bedrockruntime.InvokeModelOutput) {
		t.Helper()
		out, err := client.InvokeModel(ctx, invokeInput(titan, body))
		if err != nil {
			t.Fatalf("InvokeModel %v: %v", body, err)
		}
		var r titanResponse
		if err := json.Unmarshal(out.Body, &r); err != nil {
			t.Fatalf("response %s: %v", out.Body, err)
		}
		return r, out
	}
	text := "the queue drains steadily"
	a, out := embed(map[string]any{"inputText": text})
	if len(a.Embedding) != 1024 || math.Abs(norm(a.Embedding)-1) > 1e-4 {
		t.Fatalf("default embedding has %d dimensions and norm %g, want 1024 and 1", len(a.Embedding), norm(a.Embedding))
	}
	wantTokens := (len(text) + 3) / 4
	if a.InputTextTokenCount != wantTokens {
		t.Errorf("inputTextTokenCount = %d, want %d", a.InputTextTokenCount, wantTokens)
	}
	raw := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	if got := raw.Header.Get("X-Amzn-Bedrock-Input-Token-Count"); got != strconv.Itoa(wantTokens) {
		t.Errorf("token count header = %q, want %d", got, wantTokens)
	}

	again, _ := embed(map[string]any{"inputText": text})
	other, _ := embed(map[string]any{"inputText": text + "!"})
	if a.Embedding[0] != again.Embedding[0] || a.Embedding[1023] != again.Embedding[1023] {
		t.Error("the same text gave different vectors")
	}
	if a.Embedding[0] == other.Embedding[0] {
		t.Error("different texts gave the same vector")
	}
	small, _ := embed(map[string]any{"inputText": text, "dimensions": 256, "normalize": false})
	if len(small.Embedding) != 256 || math.Abs(norm(small.Embedding)-1) < 1e-3 {
		t.Errorf("dimensions=256 normalize=false gave %d dimensions of norm %g", len(small.Embedding), norm(small.Embedding))
	}

	tot := s.Stats().Model(DefaultAccountID, titan).Totals
	if tot.Admitted != 4 || tot.OutputTokens != 0 || tot.InputTokens != tot.ChargedTokens || tot.InputTokens != int64(4*wantTokens) {
		t.Errorf("totals %+v: want 4 calls charging their input tokens only", tot)
	}
}

func TestInvokeCohereEmbedding(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)

	texts := []string{"one", "two", "three"}
	out, err := client.InvokeModel(ctx, invokeInput(cohere, map[string]any{"texts": texts, "input_type": "search_document"}))
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	var r struct {
		Embeddings   [][]float64 `json:"embeddings"`
		ID           string      `json:"id"`
		ResponseType string      `json:"response_type"`
		Texts        []string    `json:"texts"`
	}
	if err := json.Unmarshal(out.Body, &r); err != nil {
		t.Fatalf("response %s: %v", out.Body, err)
	}
	if len(r.Embeddings) != 3 || len(r.Embeddings[2]) != 1024 || r.ResponseType != "embeddings_floats" || r.ID == "" || strings.Join(r.Texts, ",") != "one,two,three" {
		t.Fatalf("response: %d embeddings, type %q, id %q, texts %v", len(r.Embeddings), r.ResponseType, r.ID, r.Texts)
	}
	if r.Embeddings[0][0] == r.Embeddings[1][0] {
		t.Error("different texts gave the same vector")
	}
}

func TestInvokeRefusesWhatTheModelsRefuse(t *testing.T) {
	_, url := newSim(t, Config{})
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	many := make([]string, 97)
	for i := range many {
		many[i] = "x"
	}
	cases := []struct {
		name, model string
		body        any
	}{
		{"titan without inputText", titan, map[string]any{"text": "hi"}},
		{"titan empty text", titan, map[string]any{"inputText": ""}},
		{"titan bad dimensions", titan, map[string]any{"inputText": "hi", "dimensions": 300}},
		{"cohere without input_type", cohere, map[string]any{"texts": []string{"hi"}}},
		{"cohere too many texts", cohere, map[string]any{"texts": many, "input_type": "search_query"}},
		{"a chat model", nova, map[string]any{"inputText": "hi"}},
		{"unknown model", "amazon.titan-embed-text-v9", map[string]any{"inputText": "hi"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.InvokeModel(ctx, invokeInput(tc.model, tc.body))
			var ve *types.ValidationException
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want ValidationException", err)
			}
		})
	}
}

func TestInvokeQuotaAndFaults(t *testing.T) {
	// A long window keeps refill negligible during the test.
	s, url := newSim(t, quotaConfig(30*time.Second, titan, QuotaConfig{TPM: 40}))
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)

	flaky := "embed me\n" + Directive("fail", "ThrottlingException", "fail_times", "1")
	spent := (len(flaky) + 3) / 4 // 13 of the 40 tokens
	_, err := client.InvokeModel(ctx, invokeInput(titan, map[string]any{"inputText": flaky}))
	if !isThrottled(err) {
		t.Fatalf("first call: err = %v, want the injected ThrottlingException", err)
	}
	if _, err := client.InvokeModel(ctx, invokeInput(titan, map[string]any{"inputText": flaky})); err != nil {
		t.Fatalf("second call, after fail_times=1: %v", err)
	}
	// 30 more tokens do not fit in what is left.
	_, err = client.InvokeModel(ctx, invokeInput(titan, map[string]any{"inputText": strings.Repeat("x", 120)}))
	if !isThrottled(err) {
		t.Fatalf("a 30-token call with 25 left: err = %v, want ThrottlingException", err)
	}
	tot := s.Stats().Model(DefaultAccountID, titan).Totals
	if tot.Admitted != 1 || tot.Throttled != 1 || tot.ErrorsInjected != 1 || tot.ChargedTokens != int64(spent) {
		t.Errorf("totals %+v", tot)
	}
}
