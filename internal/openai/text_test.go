package openai_test

import (
	"strings"
	"testing"

	"github.com/sluice-broker/sluice/internal/openai"
)

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		body  string
		param string // "" with ok: accepted
		ok    bool
	}{
		{`{"model":"m","messages":[{"role":"user","content":"plain ünïcode ✓"}]}`, "", true},
		{`{"model":"m","messages":[{"role":"user","content":"a\\u0000b"}]}`, "", true}, // an escaped backslash, then text
		{`{"model":"m","messages":[{"role":"user","content":"a\u0000b"}]}`, "messages[0].content", false},
		{`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"x"},{"type":"text","text":"\u0000"}]}]}`, "messages[1].content[1].text", false},
		{`{"model":"m","input":["ok","x\u0000"]}`, "input[1]", false},
		{`{"model":"m","input":"x\u0000"}`, "input", false},
		{`{"metadata":{"k\u0000":"v"}}`, "metadata", false},
		{"{\"model\":\"m\xff\"}", "", false},
		{`{"model": not json \u0000`, "", true}, // left to the decoder
	} {
		e := openai.CheckText([]byte(c.body))
		if c.ok {
			if e != nil {
				t.Errorf("CheckText(%s) = %v, want nil", c.body, e)
			}
			continue
		}
		if e == nil {
			t.Errorf("CheckText(%q) accepted it", c.body)
			continue
		}
		if e.Status != 400 {
			t.Errorf("CheckText(%q) status %d, want 400", c.body, e.Status)
		}
		got := ""
		if e.Param != nil {
			got = *e.Param
		}
		if got != c.param {
			t.Errorf("CheckText(%q) param %q, want %q (%s)", c.body, got, c.param, e.Message)
		}
	}
}

func TestDecodeRefusesBadText(t *testing.T) {
	_, e := openai.DecodeChatCompletionRequest(strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"\u0000"}]}`))
	if e == nil || e.Status != 400 {
		t.Fatalf("chat with NUL: %v", e)
	}
	_, e = openai.DecodeEmbeddingRequest(strings.NewReader("{\"model\":\"m\",\"input\":\"\xc3\x28\"}"))
	if e == nil || e.Status != 400 || !strings.Contains(e.Message, "UTF-8") {
		t.Fatalf("embeddings with invalid UTF-8: %v", e)
	}
}
