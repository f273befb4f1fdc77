package openai

// Treatment is what sluice does with a request field.
type Treatment string

const (
	// Mapped: carried to Bedrock (some values may still be refused, as the
	// note says).
	Mapped Treatment = "mapped"
	// Ignored: accepted and dropped, for the reason given.
	Ignored Treatment = "ignored"
	// Refused: a 400 whose param is the field's JSON path, unless the value
	// is the field's default (null, false, empty).
	Refused Treatment = "refused"
)

// Field is one field of a chat completion request as the official SDKs send
// it, and its treatment.
type Field struct {
	// Path is the JSON path: [role] or [type] names the variant of a message
	// or content part, [*] any variant. A path covers the fields below it.
	Path      string
	Treatment Treatment
	Note      string
}

// ChatFields lists every field of POST /v1/chat/completions that openai-go
// and the Node SDK send, including the fields of an assistant message as the
// API returns it (clients push it back into the history). A test walks the
// SDK's types and fails on any field missing here, so that a new SDK field
// is decided on, not silently refused; the README's parameter table is this
// list.
var ChatFields = []Field{
	{"model", Mapped, "a configured alias; unknown aliases are 404 `model_not_found`"},
	{"messages[*].role", Mapped, "system and developer become Bedrock `system`; user, assistant and tool become turns (a tool result goes back in a user turn)"},
	{"messages[system].content", Mapped, "text, or text parts"},
	{"messages[developer].content", Mapped, "text, or text parts"},
	{"messages[user].content", Mapped, "text and base64 `data:` image parts (png, jpeg, gif, webp); remote image URLs are refused (the broker never fetches URLs for a caller)"},
	{"messages[user].content[image_url].image_url.detail", Ignored, "Bedrock has no image detail setting"},
	{"messages[user].content[input_audio]", Refused, "Converse takes no audio input"},
	{"messages[user].content[file]", Refused, "file parts (PDFs) are not carried yet"},
	{"messages[assistant].content", Mapped, "text and refusal parts become the assistant's text"},
	{"messages[assistant].refusal", Mapped, "null is ignored; a refusal's text is what the assistant said, so it becomes the turn's text"},
	{"messages[assistant].tool_calls[*].id", Mapped, "the Bedrock `toolUseId`"},
	{"messages[assistant].tool_calls[*].type", Mapped, "`function`; a `custom` call is refused"},
	{"messages[assistant].tool_calls[*].function", Mapped, "a Bedrock `toolUse` block (the arguments must be a JSON object)"},
	{"messages[assistant].tool_calls[*].custom", Refused, "Bedrock has no custom (free-form) tools"},
	{"messages[assistant].annotations", Ignored, "citations describe the assistant's earlier output; the model does not read them"},
	{"messages[assistant].audio", Refused, "null is accepted; sluice never returns audio, so an audio reference cannot be resolved"},
	{"messages[assistant].function_call", Refused, "null is accepted; the deprecated functions API is not served; use tools"},
	{"messages[tool].content", Mapped, "the text of a Bedrock `toolResult`"},
	{"messages[tool].tool_call_id", Mapped, "the `toolUseId` of the result"},
	{"messages[function]", Refused, "the deprecated function role; send tool results as role `tool`"},
	{"messages[*].name", Ignored, "Bedrock has no participant names; the text is sent unchanged"},
	{"messages[*].content[*].prompt_cache_breakpoint", Mapped, "a Bedrock `cachePoint` after the part where the model has prompt caching (whatever the alias's `prompt_caching`); ignored elsewhere"},
	{"frequency_penalty", Refused, "0 is accepted; Converse has no penalties"},
	{"presence_penalty", Refused, "0 is accepted; Converse has no penalties"},
	{"logit_bias", Refused, "an empty map is accepted; Bedrock has no logit bias"},
	{"logprobs", Refused, "false is accepted; Bedrock returns no log probabilities"},
	{"top_logprobs", Refused, "Bedrock returns no log probabilities"},
	{"n", Refused, "1 is accepted; Bedrock returns one choice per request"},
	{"max_completion_tokens", Mapped, "`maxTokens` (wins over `max_tokens`); always sent, the alias's `default_max_tokens` when unset, because Bedrock reserves it against the quota"},
	{"max_tokens", Mapped, "`maxTokens`, as `max_completion_tokens`"},
	{"temperature", Mapped, "`temperature`; above 1 is refused (Bedrock's range is 0–1)"},
	{"top_p", Mapped, "`topP`"},
	{"stop", Mapped, "`stopSequences`"},
	{"stream", Mapped, "ConverseStream, relayed as `chat.completion.chunk` events"},
	{"stream_options.include_usage", Mapped, "a last chunk with `usage` and no choices"},
	{"stream_options.include_obfuscation", Ignored, "obfuscation pads chunks against length side channels; sluice's chunks are coalesced every 50 ms instead of per token"},
	{"seed", Ignored, "OpenAI promises only best-effort determinism for it, and Bedrock has no seed"},
	{"store", Ignored, "sluice keeps every job anyway (`GET /v1/jobs/{id}`)"},
	{"user", Mapped, "Bedrock `requestMetadata.user` (invocation logs)"},
	{"safety_identifier", Mapped, "Bedrock `requestMetadata.safety_identifier` (invocation logs), the successor of `user`"},
	{"metadata", Mapped, "Bedrock `requestMetadata` (string values, Bedrock's character set, at most 16 entries with user)"},
	{"prompt_cache_key", Ignored, "a routing hint for OpenAI's cache servers; Bedrock matches cached prefixes exactly and needs no key"},
	{"prompt_cache_retention", Ignored, "Bedrock keeps cache entries 5 minutes from their last use; there is no longer retention to ask for"},
	{"prompt_cache_options.mode", Mapped, "`explicit` turns off the cache points sluice adds for `prompt_caching: auto`, leaving the caller's breakpoints"},
	{"prompt_cache_options.ttl", Ignored, "Bedrock's cache lifetime is 5 minutes from the last use"},
	{"parallel_tool_calls", Refused, "true is accepted; Converse cannot stop a model from calling several tools at once"},
	{"audio", Refused, "Converse produces no audio output"},
	{"modalities", Refused, "`[\"text\"]` is accepted; Converse produces text only"},
	{"moderation", Refused, "OpenAI moderation cannot run on Bedrock; use a Bedrock guardrail on the account"},
	{"reasoning_effort", Mapped, "Bedrock `outputConfig.effort` (`minimal` becomes low, `none` sends none)"},
	{"service_tier", Mapped, "Bedrock `serviceTier` (`auto`: the alias's `service_tier`; `default`, `flex`, `priority` where the model has them); the tier used is echoed in the response"},
	{"verbosity", Ignored, "a style hint for OpenAI's GPT-5 models; Bedrock has no equivalent and the answer is still complete"},
	{"function_call", Refused, "the deprecated functions API; use `tool_choice`"},
	{"functions", Refused, "the deprecated functions API; use `tools`"},
	{"prediction", Ignored, "predicted outputs only speed OpenAI's generation up; the answer is the same without them"},
	{"response_format[text]", Mapped, "plain text (the default)"},
	{"response_format[json_object]", Mapped, "Bedrock structured output with an open object schema"},
	{"response_format[json_schema]", Mapped, "Bedrock `outputConfig.textFormat` json_schema (name, description, schema, strict)"},
	{"tool_choice", Mapped, "`auto` → auto, `required` → any, a named function → tool; `none` is refused (omit the tools instead)"},
	{"tool_choice[allowed_tools]", Refused, "Bedrock cannot restrict a call to a subset of the tools"},
	{"tool_choice[custom]", Refused, "Bedrock has no custom tools"},
	{"tools[function]", Mapped, "Bedrock `toolSpec` (name, description, parameters as the input schema, strict)"},
	{"tools[custom]", Refused, "Bedrock has no custom (free-form) tools"},
	{"web_search_options", Refused, "sluice has no web search"},
}
