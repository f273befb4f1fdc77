package openai_test

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	sdk "github.com/openai/openai-go/v3"

	"github.com/sluice-broker/sluice/internal/openai"
)

// sdkChatPaths are the JSON paths of every field openai-go can send to
// POST /v1/chat/completions: its request params, and the assistant message
// the API returns, which clients push back into messages as it came.
func sdkChatPaths() []string {
	seen := map[string]bool{}
	walkSDK(reflect.TypeOf(sdk.ChatCompletionNewParams{}), "", seen, 0)
	walkSDK(reflect.TypeOf(sdk.ChatCompletionMessage{}), "messages[assistant]", seen, 0)
	seen["stream"] = true // NewStreaming adds it
	paths := make([]string, 0, len(seen))
	for p := range seen {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

// covers reports whether a ChatFields path covers an SDK path: the same
// path or one above it, [*] standing for any variant.
func covers(entry, path string) bool {
	pattern := regexp.QuoteMeta(entry)
	pattern = strings.ReplaceAll(pattern, `\[\*\]`, `\[[^\]]*\]`)
	return regexp.MustCompile(`^` + pattern + `($|\.|\[)`).MatchString(path)
}

// Every field of openai-go's chat request and message types has a decided
// treatment. A new SDK field fails this test until it is added to
// openai.ChatFields (mapped, ignored with a reason, or refused).
func TestEverySDKFieldHasATreatment(t *testing.T) {
	paths := sdkChatPaths()
	if len(paths) < 100 {
		t.Fatalf("walked only %d SDK paths; the walker is broken", len(paths))
	}
	for _, p := range paths {
		if !slices.ContainsFunc(openai.ChatFields, func(f openai.Field) bool { return covers(f.Path, p) }) {
			t.Errorf("openai-go sends %s, which openai.ChatFields does not list", p)
		}
	}
	// And no entry is stale: each covers something the SDK sends.
	for _, f := range openai.ChatFields {
		if !slices.ContainsFunc(paths, func(p string) bool { return covers(f.Path, p) }) {
			t.Errorf("ChatFields lists %s, which openai-go does not send", f.Path)
		}
		switch f.Treatment {
		case openai.Mapped, openai.Ignored, openai.Refused:
		default:
			t.Errorf("%s: treatment %q", f.Path, f.Treatment)
		}
		if f.Note == "" {
			t.Errorf("%s: no note says how or why", f.Path)
		}
	}
}

// The README's parameter table lists every field with its treatment.
func TestREADMEListsEveryField(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range openai.ChatFields {
		row := "| `" + f.Path + "` | " + string(f.Treatment) + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md has no row %q", row)
		}
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		entry, path string
		want        bool
	}{
		{"audio", "audio.voice.id", true},
		{"audio", "audio", true},
		{"audio", "audiobook", false},
		{"messages[*].name", "messages[user].name", true},
		{"messages[*].content[*].prompt_cache_breakpoint", "messages[system].content[].prompt_cache_breakpoint.ttl", true},
		{"messages[assistant].audio", "messages[user].audio", false},
		{"tools[function]", "tools[function].function.name", true},
		{"tools[function]", "tools[custom].type", false},
	} {
		if got := covers(tc.entry, tc.path); got != tc.want {
			t.Errorf("covers(%q, %q) = %v", tc.entry, tc.path, got)
		}
	}
}

// Type errors name the field's JSON path, at the top level and inside a
// message.
func TestTypeErrorParams(t *testing.T) {
	for body, want := range map[string]string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":"10"}`:                              "max_tokens",
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":"yes"}}`:       "stream_options.include_usage",
		`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"a","refusal":7}]}`: "messages[1].refusal",
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":5}]}]}`:                          "messages[0].content[0].text",
		`{"model":"m","messages":[{"role":"user","content":7}]}`:                                                   "messages[0].content",
	} {
		_, oerr := openai.DecodeChatCompletionRequest(strings.NewReader(body))
		if oerr == nil || oerr.Param == nil || *oerr.Param != want {
			t.Errorf("%s: %v, want param %s", body, oerr, want)
		}
	}
}
