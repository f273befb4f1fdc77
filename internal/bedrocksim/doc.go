// Package bedrocksim simulates Amazon Bedrock Runtime (Converse,
// ConverseStream, and InvokeModel for embedding models) and STS
// (AssumeRole, GetCallerIdentity) closely enough that the real
// aws-sdk-go-v2 clients, pointed at it with BaseEndpoint, work unmodified.
// It adds per-account quotas that mirror Bedrock's accounting, a latency
// model, fault injection and statistics, so the rest of sluice can be
// tested locally.
//
// # Running it
//
// In-process: s, _ := bedrocksim.New(bedrocksim.Config{}); httptest.NewServer(s).
// The zero Config serves DefaultModels to one account (111111111111, also
// the default account) with no quotas, auth on and no latency. As a binary:
// go run ./cmd/bedrocksim [-config sim.yaml] [-listen addr]; it prints
// "bedrocksim listening on http://ADDR" on stdout. LoadConfig reads the YAML
// form of Config over DefaultConfig (200ms to first token, 10ms per token).
//
// # Wire contract
//
//   - POST /model/{modelId}/converse and /converse-stream: restJson1 with
//     Bedrock's member names; modelId may be URL-escaped or an ARN. Streams
//     are AWS event-stream frames (messageStart, contentBlockStart for tool
//     use only, contentBlockDelta per token, contentBlockStop, messageStop,
//     metadata); errors after the first byte are exception frames.
//   - POST /model/{modelId}/invoke for embedding models only: Titan Text
//     Embeddings ({"inputText","dimensions","normalize"} → {"embedding",
//     "inputTextTokenCount"}; v2 takes dimensions 256/512/1024, default
//     1024, normalized unless normalize=false) and Cohere Embed
//     ({"texts" (1–96),"input_type"} → {"embeddings","id","response_type":
//     "embeddings_floats","texts"}, or embeddings_by_type with
//     embedding_types). Unknown keys are refused, as the models do. Vectors
//     are Gaussian from a PRNG seeded by model and text, so deterministic.
//     Input tokens count as for Converse, per text; the X-Amzn-Bedrock-
//     Input-Token-Count header carries them. Directives in the texts
//     (fail, fail_times, ttft_ms) apply; the quota reserves and charges the
//     input tokens only.
//   - Errors: status + X-Amzn-Errortype + {"message"}, so the SDK returns
//     *types.ThrottlingException etc. Validation follows Bedrock (messages
//     present, start with user, alternate; maxTokens in [1, model max];
//     temperature/topP in [0,1]; toolConfig required with toolUse/
//     toolResult blocks; unknown model: ValidationException).
//   - POST / with Action=AssumeRole|GetCallerIdentity (awsQuery, XML).
//     AssumeRole needs a role ARN in a configured account and, if the
//     account has external_id, that ExternalId; otherwise AccessDenied.
//     Issued credentials (ASIA…, session token, expiry) map to the role's
//     account.
//   - Every call is SigV4-verified (auth: false turns this off): missing
//     → MissingAuthenticationTokenException, unknown key or wrong session
//     token → UnrecognizedClientException, bad signature →
//     InvalidSignatureException, expired → ExpiredTokenException (STS:
//     MissingAuthenticationToken, InvalidClientTokenId,
//     SignatureDoesNotMatch, ExpiredToken). The canonical path is
//     double-encoded as the AWS SDKs do, so curl --aws-sigv4 only works for
//     model ids without ':'. Base credentials sign STS calls; on Bedrock they
//     count against default_account (denied if there is none).
//   - GET /_sim/stats returns Stats as JSON; POST /_sim/reset clears
//     counters, fail_times memory, and refills buckets.
//   - POST /_sim/forget-sessions forgets every credential AssumeRole issued,
//     as a Bedrock-side reset would: calls signed with them get
//     UnrecognizedClientException until the caller assumes its role again.
//   - Each call's log line carries its requestMetadata, so a test can count
//     the calls that served one request.
//
// # Output and latency
//
// The answer is deterministic: words from a fixed vocabulary drawn by a PRNG
// seeded with a hash of system + messages, one word = one output token. Its
// length is default_output_tokens (or output_tokens=N), at least 1, capped
// by maxTokens (stopReason max_tokens); a stop sequence in the text cuts it
// there (stop_sequence). Input tokens = ceil(bytes of text in system,
// messages and tool specs, or of the JSON of non-text blocks / 4), at least
// 1; directive lines count like other text. Token i arrives at ttft +
// i×per_token; the call completes at ttft + n×per_token.
//
// # Directives
//
// A line "#sim: key=value …" in any user message's text (build it with
// Directive) controls that call; later lines override earlier ones:
//
//	output_tokens=N      answer length before the maxTokens cap
//	ttft_ms=N            time to first token
//	per_token_ms=N       time per token
//	fail=Code            answer with that error (ThrottlingException,
//	                     ValidationException, ServiceUnavailableException,
//	                     ModelTimeoutException, …); nothing is charged
//	fail_times=N         fail only the first N calls with the same system +
//	                     messages (any account, model or inferenceConfig), so
//	                     a retry succeeds; 0 or absent: always
//	stream_fail_after=N  produce N tokens, then fail with fail= (default
//	                     modelStreamErrorException in a stream,
//	                     ModelErrorException for Converse); the N tokens are
//	                     charged. Only the five ConverseStream exception
//	                     members come back typed from stream.Err().
//	stream_cut_after=N   end the stream's connection after N tokens, with
//	                     neither messageStop nor an exception: a cut-off
//	                     answer the reader sees end without an error.
//	tool=NAME            answer with a toolUse of that tool from toolConfig
//	                     (input generated from its JSON schema, streamed as
//	                     partial JSON in ~4-byte pieces, one token each;
//	                     stopReason tool_use), unless the last message
//	                     carries a toolResult, which gets a text answer
//
// # Structured output, tool choice, service tiers, prompt caching
//
//   - outputConfig.textFormat json_schema: the answer is JSON that follows
//     the schema (types, enum, const, required properties, $ref into $defs,
//     anyOf/oneOf, array bounds, string formats and lengths, number bounds),
//     in pieces of about 4 bytes, one token each; cut off at maxTokens.
//     The schema {"type":"object"} (how json_object arrives) gives an object.
//   - toolConfig.toolChoice any (the first tool) or tool (the named one)
//     forces a tool call, even after a tool result; auto leaves it to the
//     tool directive.
//   - serviceTier: default always; priority and flex where the model lists
//     them (service_tiers; gpt-oss and Nova Pro by default), else
//     ValidationException. The tier is echoed in the response and the stream's
//     metadata and counted per lane (ModelStats.ServiceTiers); all tiers
//     share the lane's quota, as Bedrock's on-demand quota is shared.
//   - cachePoint blocks (in tools, system, messages; at most 4; not on
//     models without prompt_cache_min_tokens; not after tools unless
//     prompt_cache_tools): a checkpoint whose prefix has at least the model's
//     minimum tokens is cached per (account, model) for cache_ttl (5m) after
//     its last use. A call reads the longest cached prefix
//     (cacheReadInputTokens) and writes up to its last eligible checkpoint
//     (cacheWriteInputTokens); inputTokens is the rest. The quota reserves
//     the whole input and settles to input + cache writes + output ×
//     burndown: cache reads are free.
//
// # Quotas
//
// Each (account, model) with a quota in the account's config has a TPM
// token bucket (capacity tpm, refilled continuously by tpm per window;
// window defaults to 1m and may be shortened to compress time), an optional
// RPM bucket and an optional tokens-per-day counter (a day is 1440 windows).
// A call reserves inputTokens + maxTokens (the model's max_output_tokens if
// unset) and one request; if a bucket cannot cover it the call gets
// ThrottlingException (429, "Too many tokens, please wait before trying
// again.") and nothing is charged. When the call ends, the reservation is
// replaced by inputTokens + ceil(outputTokens × burndown): the difference is
// refunded or further debited, and the bucket may go negative. A stream that
// fails or is abandoned settles the tokens it produced. Models without a
// quota are unlimited but still counted.
//
// # Stats
//
// Stats (JSON of /_sim/stats, or Server.Stats) has, per account and model:
// the configured quota, Totals (admitted, throttled, errors_injected,
// rejected, input/output/charged/reserved tokens, reserved_peak, in_flight),
// the TPM bucket level, first/last admission time, and a sparse series of
// fixed windows counted from start or reset (tokens are attributed to the
// window in which their call was admitted). It also counts STS calls and
// Bedrock auth failures.
package bedrocksim
