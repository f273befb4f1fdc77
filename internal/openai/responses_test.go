package openai

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeResponseRequestRefusesByPath(t *testing.T) {
	img := `{"type":"input_image","image_url":"https://example.com/a.png"}`
	for _, tc := range []struct{ body, param string }{
		{`{"input":"hi"}`, "model"},
		{`{"model":"m"}`, "input"},
		{`{"model":"m","input":[]}`, "input"},
		{`{"model":"m","input":5}`, "input"},
		{`{"model":"m","input":"hi","bogus":1}`, "bogus"},
		{`{"model":"m","input":[{"role":"user","content":"a","colour":1}]}`, "input[0].colour"},
		{`{"model":"m","input":[{"role":"robot","content":"a"}]}`, "input[0].role"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"},` + img + `]}]}`, "input[0].content[1].image_url"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"file_1"}]}]}`, "input[0].content[0].file_id"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"file_1"}]}]}`, "input[0].content[0].type"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]}`, "input[0].content[0].text"},
		{`{"model":"m","input":[{"role":"user","content":"a"},{"type":"function_call","call_id":"c","name":"f"}]}`, "input[1].arguments"},
		{`{"model":"m","input":[{"type":"function_call_output","output":"x"}]}`, "input[0].call_id"},
		{`{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0].type"},
		{`{"model":"m","input":[{"type":"computer_call_output","call_id":"c"}]}`, "input[0].type"},
		{`{"model":"m","input":"hi","tools":[{"type":"web_search"}]}`, "tools[0].type"},
		{`{"model":"m","input":"hi","tools":[{"type":"code_interpreter","container":{"type":"auto"}}]}`, "tools[0].type"},
		{`{"model":"m","input":"hi","tools":[{"type":"file_search","vector_store_ids":["vs_1"]}]}`, "tools[0].type"},
		{`{"model":"m","input":"hi","tools":[{"type":"image_generation"}]}`, "tools[0].type"},
		{`{"model":"m","input":"hi","tools":[{"type":"computer_use_preview","display_width":1,"display_height":1,"environment":"linux"}]}`, "tools[0].type"},
		{`{"model":"m","input":"hi","tools":[{"type":"function"}]}`, "tools[0].name"},
		{`{"model":"m","input":"hi","tools":[{"type":"function","name":"f","colour":1}]}`, "tools[0].colour"},
		{`{"model":"m","input":"hi","tools":[{"type":"function","name":"f","strict":"yes"}]}`, "tools[0].strict"},
		{`{"model":"m","input":"hi","tools":{}}`, "tools"},
		{`{"model":"m","input":"hi","text":{"format":{"type":"json_schema","schema":{}}}}`, "text.format.name"},
		{`{"model":"m","input":"hi","text":{"format":{"type":"yaml"}}}`, "text.format.type"},
		{`{"model":"m","input":"hi","max_output_tokens":0}`, "max_output_tokens"},
		{`{"model":"m","input":"hi","temperature":3}`, "temperature"},
		{`{"model":"m","input":"hi","top_logprobs":3}`, "top_logprobs"},
		{`{"model":"m","input":"hi","conversation":"conv_1"}`, "conversation"},
		{`{"model":"m","input":"hi","background":true,"store":false}`, "background"},
		{`{"model":"m","input":"hi","previous_response_id":"chatcmpl-1"}`, "previous_response_id"},
		{`{"model":"m","input":"hi","stream_options":{"include_obfuscation":false}}`, "stream_options"},
		{`{"model":"m","input":"hi","reasoning":{"summary":"long"}}`, "reasoning.summary"},
	} {
		_, _, _, e := DecodeResponseRequest(strings.NewReader(tc.body))
		if e == nil || e.Status != 400 || e.Param == nil || *e.Param != tc.param {
			t.Errorf("%s: got %v, want a 400 about %s", tc.body, e, tc.param)
		}
	}
}

func TestResponseRequestRunsAsChat(t *testing.T) {
	body := `{"model":"m","instructions":"Be brief.","max_output_tokens":50,"temperature":0.5,"reasoning":{"effort":"low","summary":"auto"},
		"text":{"format":{"type":"json_schema","name":"city","schema":{"type":"object"},"strict":true}},
		"tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"tool_choice":{"type":"function","name":"f"},
		"input":[{"role":"user","content":"weather?"},
		         {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Let me look.","annotations":[]}]},
		         {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
		         {"type":"reasoning","summary":[]},
		         {"type":"function_call_output","call_id":"c1","output":[{"type":"input_text","text":"sunny"}]}]}`
	req, items, raw, e := DecodeResponseRequest(strings.NewReader(body))
	if e != nil {
		t.Fatal(e)
	}
	if string(raw) != body {
		t.Fatal("the body as read differs from the body sent")
	}
	chat, origins, e := req.ChatRequest(nil, items)
	if e != nil {
		t.Fatal(e)
	}
	roles := []string{}
	for _, m := range chat.Messages {
		roles = append(roles, m.Role)
	}
	if got := strings.Join(roles, " "); got != "system user assistant tool" {
		t.Fatalf("roles %s", got)
	}
	if !reflect.DeepEqual(origins, []string{"instructions", "input[0]", "input[1]", "input[4]"}) {
		t.Fatalf("origins %v", origins)
	}
	asst := chat.Messages[2]
	if asst.Content.Text() != "Let me look." || len(asst.ToolCalls) != 1 || asst.ToolCalls[0].ID != "c1" {
		t.Fatalf("the function call did not join the assistant message: %+v", asst)
	}
	if chat.Messages[3].ToolCallID != "c1" || chat.Messages[3].Content.Text() != "sunny" {
		t.Fatalf("tool result %+v", chat.Messages[3])
	}
	if *chat.MaxCompletionTokens != 50 || chat.ReasoningEffort != "low" || chat.ResponseFormat.JSONSchema.Name != "city" ||
		!bytes.Contains(chat.ToolChoice, []byte(`"function":{"name":"f"}`)) {
		t.Fatalf("chat request %+v", chat)
	}

	// A refusal of the chat request names the caller's item.
	e = RetargetError(InvalidRequest("messages[3].content[0].image_url.url", "bad messages[3].content[0].image_url.url"), origins)
	if *e.Param != "input[4].content[0].image_url" || !strings.Contains(e.Message, "input[4]") {
		t.Fatalf("retargeted %v", e)
	}
	if e = RetargetError(InvalidRequest("max_completion_tokens", "too many"), origins); *e.Param != "max_output_tokens" {
		t.Fatalf("retargeted %v", e)
	}
}

// events parses a stream into its events.
func events(t *testing.T, b []byte) []ResponseEvent {
	t.Helper()
	var out []ResponseEvent
	for _, block := range bytes.Split(b, []byte("\n\n")) {
		lines := bytes.Split(block, []byte("\n"))
		if len(lines) != 2 {
			continue
		}
		var ev ResponseEvent
		if err := json.Unmarshal(bytes.TrimPrefix(lines[1], []byte("data: ")), &ev); err != nil {
			t.Fatal(err)
		}
		if string(bytes.TrimPrefix(lines[0], []byte("event: "))) != ev.Type {
			t.Fatalf("event line %s for %s", lines[0], ev.Type)
		}
		out = append(out, ev)
	}
	return out
}

func TestResponseStreamMatchesTheFinalResponse(t *testing.T) {
	text, thought := "Hello there", "Hmm, weather."
	cc := &ChatCompletion{ID: "chatcmpl-x", Choices: []Choice{{Message: ResponseMessage{Role: "assistant", Content: &text, ReasoningContent: &thought,
		ToolCalls: []ToolCall{{ID: "call_1", Type: "function", Function: ToolCallFunction{Name: "f", Arguments: `{"a":1}`}}}}, FinishReason: "tool_calls"}},
		Usage: &Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}}
	req := &ResponseRequest{Model: "m"}
	final := req.NewResponse("resp_abc", 1, "in_progress")
	final.Complete(cc, "abc", 2)

	// Live: the chunks as the worker writes them, split at odd places.
	var stored []byte
	for _, piece := range []Delta{{Role: "assistant"}, {ReasoningContent: ptr("Hmm, ")}, {ReasoningContent: ptr("weather.")}, {Content: ptr("Hel")}, {Content: ptr("lo there")},
		{ToolCalls: []ToolCallDelta{{Index: 0, ID: "call_1", Type: "function", Function: ToolCallFunctionDelta{Name: "f"}}}},
		{ToolCalls: []ToolCallDelta{{Index: 0, Function: ToolCallFunctionDelta{Arguments: `{"a":`}}}},
		{ToolCalls: []ToolCallDelta{{Index: 0, Function: ToolCallFunctionDelta{Arguments: `1}`}}}}} {
		var err error
		if stored, err = AppendEvent(stored, ChatCompletionChunk{Choices: []ChunkChoice{{Delta: piece}}}); err != nil {
			t.Fatal(err)
		}
	}
	live := &ResponseStream{Base: "abc"}
	var out []byte
	for _, step := range []func() ([]byte, error){
		func() ([]byte, error) { return live.Start(final) },
		func() ([]byte, error) { return live.Chunks(stored) },
		func() ([]byte, error) { return live.Finish(final) },
	} {
		b, err := step()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	replay := &ResponseStream{Base: "abc"}
	start, _ := replay.Start(final)
	rest, _ := replay.Finish(final)

	for name, evs := range map[string][]ResponseEvent{"live": events(t, out), "replay": events(t, append(start, rest...))} {
		var done []Item
		text, args, summary := "", "", ""
		for i, ev := range evs {
			if ev.SequenceNumber != i {
				t.Fatalf("%s: event %d has sequence_number %d", name, i, ev.SequenceNumber)
			}
			switch ev.Type {
			case "response.output_item.done":
				done = append(done, *ev.Item)
			case "response.output_text.delta":
				text += *ev.Delta
			case "response.function_call_arguments.delta":
				args += *ev.Delta
			case "response.reasoning_summary_text.delta":
				summary += *ev.Delta
			}
		}
		got, _ := json.Marshal(done)
		want, _ := json.Marshal(final.Output)
		if !bytes.Equal(got, want) || text != "Hello there" || args != `{"a":1}` || summary != thought || done[0].Type != "reasoning" {
			t.Fatalf("%s: items %s, want %s; text %q args %q", name, got, want, text, args)
		}
		if last := evs[len(evs)-1]; last.Type != "response.completed" || last.Response.OutputText != "Hello there" {
			t.Fatalf("%s: last event %+v", name, last)
		}
	}

	// A resumed replay starts after the caller's last event, numbered as before.
	resumed := &ResponseStream{Base: "abc", Skip: 4}
	a, _ := resumed.Start(final)
	b, _ := resumed.Finish(final)
	evs := events(t, append(a, b...))
	if evs[0].SequenceNumber != 4 || len(evs) != len(events(t, append(start, rest...)))-4 {
		t.Fatalf("resumed from %d with %d events", evs[0].SequenceNumber, len(evs))
	}
}
