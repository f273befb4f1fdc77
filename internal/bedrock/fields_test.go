package bedrock_test

import (
	"testing"

	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/openai"
)

// fieldExample is a request that sets one field of openai.ChatFields, and,
// for a refused field, the param its 400 names.
type fieldExample struct {
	body  string
	param string
}

const (
	asst = `{"role":"assistant","content":"earlier answer"}`
	ask2 = `{"role":"user","content":"and?"}`
	call = `{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]}`
	tool = `"tools":[{"type":"function","function":{"name":"f"}}]`
)

// fieldExamples sets every ChatFields entry as the SDKs would send it.
var fieldExamples = map[string]fieldExample{
	"model":                       {body: request("")},
	"messages[*].role":            {body: request("", `{"role":"developer","content":"be brief"}`, user(`"hi"`))},
	"messages[system].content":    {body: request("", `{"role":"system","content":[{"type":"text","text":"be brief"}]}`, user(`"hi"`))},
	"messages[developer].content": {body: request("", `{"role":"developer","content":"be brief"}`, user(`"hi"`))},
	"messages[user].content":      {body: request("", user(`[{"type":"text","text":"what is it?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,`+png1x1+`"}}]`))},
	"messages[user].content[image_url].image_url.detail": {body: request("", user(`[{"type":"image_url","image_url":{"url":"data:image/png;base64,`+png1x1+`","detail":"high"}}]`))},
	"messages[user].content[input_audio]":                {body: request("", user(`[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]`)), param: "messages[0].content[0].type"},
	"messages[user].content[file]":                       {body: request("", user(`[{"type":"file","file":{"file_data":"data:application/pdf;base64,AAAA","filename":"a.pdf"}}]`)), param: "messages[0].content[0].type"},
	"messages[assistant].content":                        {body: request("", user(`"hi"`), `{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"refusal","refusal":"no"}]}`, ask2)},
	"messages[assistant].refusal":                        {body: request("", user(`"hi"`), `{"role":"assistant","content":null,"refusal":"I can't help with that."}`, ask2)},
	"messages[assistant].tool_calls[*].id":               {body: request(tool, user(`"hi"`), call, `{"role":"tool","tool_call_id":"call_1","content":"ok"}`)},
	"messages[assistant].tool_calls[*].type":             {body: request(tool, user(`"hi"`), call, `{"role":"tool","tool_call_id":"call_1","content":"ok"}`)},
	"messages[assistant].tool_calls[*].function":         {body: request(tool, user(`"hi"`), call, `{"role":"tool","tool_call_id":"call_1","content":"ok"}`)},
	"messages[assistant].tool_calls[*].custom":           {body: request(tool, user(`"hi"`), `{"role":"assistant","tool_calls":[{"id":"c","type":"custom","custom":{"name":"g","input":"x"}}]}`, ask2), param: "messages[1].tool_calls[0].custom"},
	"messages[assistant].annotations":                    {body: request("", user(`"hi"`), `{"role":"assistant","content":"see [1]","annotations":[{"type":"url_citation","url_citation":{"url":"https://example.com","title":"t","start_index":4,"end_index":7}}]}`, ask2)},
	"messages[assistant].audio":                          {body: request("", user(`"hi"`), `{"role":"assistant","content":"x","audio":{"id":"audio_1"}}`, ask2), param: "messages[1].audio"},
	"messages[assistant].function_call":                  {body: request("", user(`"hi"`), `{"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}}`, ask2), param: "messages[1].function_call"},
	"messages[tool].content":                             {body: request(tool, user(`"hi"`), call, `{"role":"tool","tool_call_id":"call_1","content":[{"type":"text","text":"ok"}]}`)},
	"messages[tool].tool_call_id":                        {body: request(tool, user(`"hi"`), call, `{"role":"tool","tool_call_id":"call_1","content":"ok"}`)},
	"messages[function]":                                 {body: request("", user(`"hi"`), `{"role":"function","name":"f","content":"ok"}`), param: "messages[1].role"},
	"messages[*].name":                                   {body: request("", `{"role":"user","name":"ada","content":"hi"}`, `{"role":"assistant","name":"bot","content":"yo","refusal":null,"audio":null,"function_call":null,"annotations":[]}`, ask2)},
	"messages[*].content[*].prompt_cache_breakpoint":     {body: request("", `{"role":"system","content":[{"type":"text","text":"long","prompt_cache_breakpoint":{"mode":"explicit","ttl":"30m"}}]}`, user(`[{"type":"text","text":"hi","prompt_cache_breakpoint":{"mode":"explicit"}}]`))},
	"frequency_penalty":                                  {body: request(`"frequency_penalty":0.5`), param: "frequency_penalty"},
	"presence_penalty":                                   {body: request(`"presence_penalty":0.5`), param: "presence_penalty"},
	"logit_bias":                                         {body: request(`"logit_bias":{"50256":-100}`), param: "logit_bias"},
	"logprobs":                                           {body: request(`"logprobs":true`), param: "logprobs"},
	"top_logprobs":                                       {body: request(`"top_logprobs":2`), param: "top_logprobs"},
	"n":                                                  {body: request(`"n":2`), param: "n"},
	"max_completion_tokens":                              {body: request(`"max_completion_tokens":100`)},
	"max_tokens":                                         {body: request(`"max_tokens":100`)},
	"temperature":                                        {body: request(`"temperature":0.3`)},
	"top_p":                                              {body: request(`"top_p":0.9`)},
	"stop":                                               {body: request(`"stop":["END"]`)},
	"stream":                                             {body: request(`"stream":true`)},
	"stream_options.include_usage":                       {body: request(`"stream":true,"stream_options":{"include_usage":true}`)},
	"stream_options.include_obfuscation":                 {body: request(`"stream":true,"stream_options":{"include_obfuscation":false}`)},
	"seed":                                               {body: request(`"seed":7`)},
	"store":                                              {body: request(`"store":true`)},
	"user":                                               {body: request(`"user":"u-1"`)},
	"safety_identifier":                                  {body: request(`"safety_identifier":"hash-1"`)},
	"metadata":                                           {body: request(`"metadata":{"team":"search"}`)},
	"prompt_cache_key":                                   {body: request(`"prompt_cache_key":"tenant-1"`)},
	"prompt_cache_retention":                             {body: request(`"prompt_cache_retention":"24h"`)},
	"prompt_cache_options.mode":                          {body: request(`"prompt_cache_options":{"mode":"explicit"}`)},
	"prompt_cache_options.ttl":                           {body: request(`"prompt_cache_options":{"ttl":"30m"}`)},
	"parallel_tool_calls":                                {body: request(`"parallel_tool_calls":false,` + tool), param: "parallel_tool_calls"},
	"audio":                                              {body: request(`"audio":{"format":"mp3","voice":"alloy"}`), param: "audio"},
	"modalities":                                         {body: request(`"modalities":["text","audio"]`), param: "modalities[1]"},
	"moderation":                                         {body: request(`"moderation":{"model":"omni-moderation-latest"}`), param: "moderation"},
	"reasoning_effort":                                   {body: request(`"reasoning_effort":"low"`)},
	"service_tier":                                       {body: request(`"service_tier":"default"`)},
	"verbosity":                                          {body: request(`"verbosity":"low"`)},
	"function_call":                                      {body: request(`"function_call":"auto"`), param: "function_call"},
	"functions":                                          {body: request(`"functions":[{"name":"f"}]`), param: "functions"},
	"prediction":                                         {body: request(`"prediction":{"type":"content","content":"draft"}`)},
	"response_format[text]":                              {body: request(`"response_format":{"type":"text"}`)},
	"response_format[json_object]":                       {body: request(`"response_format":{"type":"json_object"}`)},
	"response_format[json_schema]":                       {body: request(`"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"},"strict":true}}`)},
	"tool_choice":                                        {body: request(`"tool_choice":"required",` + tool)},
	"tool_choice[allowed_tools]":                         {body: request(`"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[]}},` + tool), param: "tool_choice.type"},
	"tool_choice[custom]":                                {body: request(`"tool_choice":{"type":"custom","custom":{"name":"g"}},` + tool), param: "tool_choice.type"},
	"tools[function]":                                    {body: request(tool)},
	"tools[custom]":                                      {body: request(`"tools":[{"type":"custom","custom":{"name":"g"}}]`), param: "tools[0].type"},
	"web_search_options":                                 {body: request(`"web_search_options":{"search_context_size":"low"}`), param: "web_search_options"},
}

// Every field the SDKs send is handled as ChatFields says: mapped and
// ignored ones translate, refused ones are a 400 naming the field's path.
func TestEveryFieldIsHandledAsDocumented(t *testing.T) {
	model := sonnet
	model.PromptCaching = config.PromptCachingAuto
	for _, f := range openai.ChatFields {
		ex, ok := fieldExamples[f.Path]
		if !ok {
			t.Errorf("%s: no example request", f.Path)
			continue
		}
		_, oerr := translate(t, ex.body, model)
		switch {
		case f.Treatment == openai.Refused && (oerr == nil || oerr.Status != 400 || oerr.Param == nil || *oerr.Param != ex.param):
			t.Errorf("%s is refused, but the example got %v (want a 400 with param %s)", f.Path, oerr, ex.param)
		case f.Treatment != openai.Refused && oerr != nil:
			t.Errorf("%s is %s, but the example was refused: %v", f.Path, f.Treatment, oerr)
		}
	}
	if len(fieldExamples) != len(openai.ChatFields) {
		t.Errorf("%d examples for %d fields", len(fieldExamples), len(openai.ChatFields))
	}
}
