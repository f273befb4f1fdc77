package bedrocksim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode/utf8"
)

// vocabulary is what generated answers are made of; one word is one token.
var vocabulary = strings.Fields(`
	the queue drains steadily while workers wait for budget and every request
	finds its turn model tokens flow through accounts across regions quietly
	latency stays low when throttling never happens because reservations settle
	against usage reported by bedrock streams carry deltas until the message stops
	retries back off politely jobs complete results return callers smile again
	batches soak spare capacity interactive traffic goes first nothing is lost`)

// completion is what the simulated model produces for one request, decided
// up front so that streaming and non-streaming calls agree.
type completion struct {
	// Deltas are the text pieces of a text answer (one per token, the last
	// possibly cut by a stop sequence), or the partial JSON pieces of a tool
	// call's input.
	Deltas       []string
	Tool         *toolCall // nil for a text answer
	OutputTokens int
	StopReason   string
}

type toolCall struct {
	ID    string
	Name  string
	Input json.RawMessage
}

// Text is the whole text answer.
func (c completion) Text() string { return strings.Join(c.Deltas, "") }

// generate decides the answer: a tool call when the tool directive names a
// tool of the request (and the conversation is not already returning a tool
// result), else deterministic text drawn from the vocabulary with a PRNG
// seeded by the conversation's hash.
func generate(req *converseRequest, model ModelConfig, d directives, defaultTokens int) (completion, *apiError) {
	seed := req.contentHash()
	// toolChoice any or tool forces a call, even right after a tool
	// result, as the models do; the tool directive only asks for one.
	if forced := req.ToolConfig.forcedTool(); forced != "" || d.Tool != "" && !req.lastMessageHasToolResult() {
		name := d.Tool
		if forced != "" {
			name = forced
		}
		spec := req.ToolConfig.find(name)
		if spec == nil {
			return completion{}, newError("ValidationException", "bedrocksim: tool %s is not in toolConfig", name)
		}
		return generateToolCall(spec, seed), nil
	}
	if schema := req.schema(); schema != "" {
		return generateStructured(schema, seed, req.maxTokens(model))
	}

	want := defaultTokens
	if d.OutputTokens != nil {
		want = *d.OutputTokens
	}
	want = max(want, 1)
	limit := req.maxTokens(model)
	n, stop := want, "end_turn"
	if want > limit {
		n, stop = limit, "max_tokens"
	}
	var stopSequences []string
	if req.InferenceConfig != nil {
		stopSequences = req.InferenceConfig.StopSequences
	}

	rng := rand.New(rand.NewPCG(seed, 0x511CE))
	c := completion{StopReason: stop}
	var text strings.Builder
	for i := 0; i < n; i++ {
		delta := vocabulary[rng.IntN(len(vocabulary))]
		if i == 0 {
			delta = strings.ToUpper(delta[:1]) + delta[1:]
		} else {
			delta = " " + delta
		}
		if i == n-1 && stop == "end_turn" {
			delta += "."
		}
		before := text.Len()
		text.WriteString(delta)
		c.OutputTokens++
		if cut, ok := firstStop(text.String(), stopSequences); ok {
			// The model generated the stop sequence: it is counted but not
			// returned, and the text ends where the sequence began.
			if cut > before {
				c.Deltas = append(c.Deltas, delta[:cut-before])
			} else {
				c.Deltas = trimDeltas(c.Deltas, cut)
			}
			c.StopReason = "stop_sequence"
			return c, nil
		}
		c.Deltas = append(c.Deltas, delta)
	}
	return c, nil
}

// firstStop returns where the earliest stop sequence starts in text.
func firstStop(text string, stops []string) (int, bool) {
	at := -1
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	}
	return at, at >= 0
}

// trimDeltas shortens deltas so that their concatenation has length n.
func trimDeltas(deltas []string, n int) []string {
	total := 0
	for i, d := range deltas {
		if total+len(d) >= n {
			out := slices.Clone(deltas[:i])
			if rest := deltas[i][:n-total]; rest != "" {
				out = append(out, rest)
			}
			return out
		}
		total += len(d)
	}
	return deltas
}

// generateToolCall builds a tool input that follows the tool's JSON schema
// (types, enums, nesting), deterministically. Its JSON is streamed in
// pieces of about 4 bytes, each counted as one output token.
func generateToolCall(spec *toolSpec, seed uint64) completion {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", seed, spec.Name)
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x7001))

	var schema map[string]any
	_ = json.Unmarshal(spec.InputSchema.JSON, &schema)
	input, ok := newSampler(schema, rng).value(schema, 0).(map[string]any)
	if !ok {
		input = map[string]any{}
	}
	raw, _ := json.Marshal(input)
	chunks := tokenPieces(string(raw))
	return completion{
		Deltas:       chunks,
		Tool:         &toolCall{ID: "tooluse_" + stableToken(fmt.Sprint(h.Sum64()), 22), Name: spec.Name, Input: raw},
		OutputTokens: len(chunks),
		StopReason:   "tool_use",
	}
}

// tokenPieces cuts JSON text into pieces of about 4 bytes, one token each.
func tokenPieces(text string) []string {
	var chunks []string
	for rest := text; rest != ""; {
		n := 0
		for n < 4 && n < len(rest) {
			_, size := utf8.DecodeRuneInString(rest[n:])
			n += size
		}
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	return chunks
}
