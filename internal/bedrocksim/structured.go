package bedrocksim

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
)

// generateStructured answers a request with outputConfig.textFormat: JSON
// text that follows the schema (json_object requests arrive as the schema
// {"type":"object"}). It is deterministic like any answer, streamed in
// pieces of about 4 bytes, one token each; past maxTokens it is cut off
// (stopReason max_tokens), as a real model's would be.
func generateStructured(schemaText string, seed uint64, maxTokens int) (completion, *apiError) {
	var schema map[string]any
	if err := json.Unmarshal([]byte(schemaText), &schema); err != nil {
		return completion{}, newError("ValidationException", "The provided JSON schema is invalid: %v", err)
	}
	rng := rand.New(rand.NewPCG(seed, 0x15011))
	v := newSampler(schema, rng).value(schema, 0)
	if _, isObject := v.(map[string]any); !isObject && schema["type"] == nil {
		v = map[string]any{}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return completion{}, newError("ValidationException", "bedrocksim: cannot answer the schema: %v", err)
	}
	pieces := tokenPieces(string(raw))
	c := completion{Deltas: pieces, OutputTokens: len(pieces), StopReason: "end_turn"}
	if len(pieces) > maxTokens {
		c.Deltas, c.OutputTokens, c.StopReason = pieces[:maxTokens], maxTokens, "max_tokens"
	}
	return c, nil
}

// sampler produces values of the shape a JSON schema describes: types,
// enum and const, nested objects (every property, so required ones are
// there), arrays within minItems/maxItems, anyOf/oneOf/allOf (the first
// branch), $ref into $defs or definitions, string lengths and the common
// formats, number bounds.
type sampler struct {
	root map[string]any
	rng  *rand.Rand
}

func newSampler(root map[string]any, rng *rand.Rand) *sampler {
	return &sampler{root: root, rng: rng}
}

func (s *sampler) value(schema map[string]any, depth int) any {
	if depth > 8 || schema == nil {
		return nil
	}
	if ref, ok := schema["$ref"].(string); ok {
		return s.value(s.resolve(ref), depth+1)
	}
	if c, ok := schema["const"]; ok {
		return c
	}
	if enum, ok := schema["enum"].([]any); ok && len(enum) > 0 {
		return enum[s.rng.IntN(len(enum))]
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf"} {
		if branches, ok := schema[key].([]any); ok && len(branches) > 0 {
			// The first branch that is not null: nullable fields are written
			// as anyOf [T, {"type":"null"}].
			for _, b := range branches {
				if bm, _ := b.(map[string]any); bm != nil && bm["type"] != "null" {
					return s.value(bm, depth+1)
				}
			}
			return nil
		}
	}
	typ, _ := schema["type"].(string)
	if types, ok := schema["type"].([]any); ok && len(types) > 0 {
		typ, _ = types[0].(string)
	}
	props, hasProps := schema["properties"].(map[string]any)
	switch {
	case typ == "object" || (typ == "" && hasProps):
		out := map[string]any{}
		// Sorted, so the PRNG is consumed in the same order every time.
		for _, name := range slices.Sorted(maps.Keys(props)) {
			sub, _ := props[name].(map[string]any)
			out[name] = s.value(sub, depth+1)
		}
		return out
	case typ == "array":
		items, _ := schema["items"].(map[string]any)
		n := max(1, intOf(schema["minItems"]))
		if hi, ok := schema["maxItems"]; ok {
			n = min(n, intOf(hi))
		}
		out := make([]any, 0, n)
		for range n {
			out = append(out, s.value(items, depth+1))
		}
		return out
	case typ == "integer":
		lo, hi := bounds(schema, 0, 99)
		return int(lo) + s.rng.IntN(int(hi-lo)+1)
	case typ == "number":
		lo, hi := bounds(schema, 0, 100)
		return lo + float64(s.rng.IntN(int((hi-lo)*100)+1))/100
	case typ == "boolean":
		return s.rng.IntN(2) == 1
	case typ == "null":
		return nil
	}
	return s.str(schema)
}

func (s *sampler) str(schema map[string]any) string {
	switch schema["format"] {
	case "date-time":
		return fmt.Sprintf("2026-%02d-%02dT%02d:00:00Z", 1+s.rng.IntN(12), 1+s.rng.IntN(28), s.rng.IntN(24))
	case "date":
		return fmt.Sprintf("2026-%02d-%02d", 1+s.rng.IntN(12), 1+s.rng.IntN(28))
	case "email":
		return vocabulary[s.rng.IntN(len(vocabulary))] + "@example.com"
	case "uuid":
		return fmt.Sprintf("%08x-0000-4000-8000-%012x", s.rng.Uint32(), s.rng.Uint64()&0xffffffffffff)
	case "uri":
		return "https://example.com/" + vocabulary[s.rng.IntN(len(vocabulary))]
	}
	word := vocabulary[s.rng.IntN(len(vocabulary))]
	if lo := intOf(schema["minLength"]); len(word) < lo {
		word += strings.Repeat("x", lo-len(word))
	}
	if hi, ok := schema["maxLength"]; ok && len(word) > intOf(hi) {
		word = word[:intOf(hi)]
	}
	return word
}

// resolve follows a local $ref (#/$defs/Name, #/definitions/Name, #).
func (s *sampler) resolve(ref string) map[string]any {
	path, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil
	}
	node := s.root
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		if part == "" {
			continue
		}
		next, _ := node[part].(map[string]any)
		if next == nil {
			return nil
		}
		node = next
	}
	return node
}

func intOf(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// bounds reads minimum/maximum (and their exclusive forms) around defaults.
func bounds(schema map[string]any, lo, hi float64) (float64, float64) {
	if v, ok := schema["minimum"].(float64); ok {
		lo = v
	}
	if v, ok := schema["exclusiveMinimum"].(float64); ok {
		lo = v + 1
	}
	if v, ok := schema["maximum"].(float64); ok {
		hi = v
	}
	if v, ok := schema["exclusiveMaximum"].(float64); ok {
		hi = v - 1
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}
