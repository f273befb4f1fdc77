package bedrock

import (
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/sluice-broker/sluice/internal/config"
	"github.com/sluice-broker/sluice/internal/openai"
)

// Prompt caching. OpenAI caches prompt prefixes by itself; Bedrock caches a
// prefix only up to a cachePoint block the request carries, at most four
// per request, each worth it only once the prefix before it reaches the
// model's minimum (a checkpoint before that is accepted but caches nothing).
// Bedrock reads the prefix in the order tools, system, messages.
//
// With prompt_caching: auto, sluice adds cache points where the next request
// of the same conversation will find them: after the tools (Claude only),
// after the system prompt, at the last stable turn (the assistant turn
// before the newest user turn, which the next request repeats) and, if a
// point is left, at the stable turn before it, which the previous request
// wrote, so that models that look only at the request's own checkpoints
// (Nova) read it back. A caller's own prompt_cache_breakpoint parts become
// cache points too and come first; prompt_cache_options.mode "explicit"
// keeps only those.

func cachePointBlock() types.CachePointBlock {
	return types.CachePointBlock{Type: types.CachePointTypeDefault}
}

func cachePoint() types.ContentBlock {
	return &types.ContentBlockMemberCachePoint{Value: cachePointBlock()}
}

// breakpoint tells whether a message's content asks for a cache point.
func breakpoint(c openai.Content) bool {
	for _, p := range c.Parts {
		if p.Breakpoint() {
			return true
		}
	}
	return false
}

// addCachePoints applies the alias's prompt caching to a translated request:
// it removes the caller's cache points when the model has no cache, keeps at
// most the last MaxCachePoints of them, and adds sluice's own for
// prompt_caching: auto.
func addCachePoints(in *bedrockruntime.ConverseInput, req *openai.ChatCompletionRequest, model config.Model) {
	cache := model.Cache()
	if cache.MinTokens <= 0 {
		stripCachePoints(in, config.MaxCachePoints+1)
		return
	}
	count := countCachePoints(in)
	if count > config.MaxCachePoints {
		stripCachePoints(in, count-config.MaxCachePoints)
		count = config.MaxCachePoints
	}
	if model.PromptCaching != config.PromptCachingAuto || !req.AutoCachePoints() {
		return
	}
	free := config.MaxCachePoints - count
	tokens := 0
	// Tools first: their definitions are the most stable prefix.
	if in.ToolConfig != nil {
		for _, t := range in.ToolConfig.Tools {
			tokens += estimateTokens(t)
		}
		if cache.Tools && free > 0 && tokens >= cache.MinTokens && !endsWithCachePoint(in.ToolConfig.Tools) {
			in.ToolConfig.Tools = append(in.ToolConfig.Tools, &types.ToolMemberCachePoint{Value: cachePointBlock()})
			free--
		}
	}
	for _, b := range in.System {
		tokens += estimateTokens(b)
	}
	if n := len(in.System); free > 0 && n > 0 && tokens >= cache.MinTokens && !endsWithCachePoint(in.System) {
		in.System = append(in.System, &types.SystemContentBlockMemberCachePoint{Value: cachePointBlock()})
		free--
	}
	// The stable turns: assistant turns followed by a user turn, newest
	// first, as long as the prefix up to them is long enough.
	ends := make([]int, len(in.Messages)) // prefix tokens through message i
	for i, m := range in.Messages {
		for _, b := range m.Content {
			tokens += estimateTokens(b)
		}
		ends[i] = tokens
	}
	placed := 0
	for i := len(in.Messages) - 2; i >= 0 && free > 0 && placed < 2; i-- {
		m := &in.Messages[i]
		if m.Role != types.ConversationRoleAssistant || ends[i] < cache.MinTokens {
			continue
		}
		if !endsWithCachePoint(m.Content) {
			m.Content = append(m.Content, cachePoint())
			free--
		}
		placed++
	}
}

// estimateTokens is a block's size in tokens, at four bytes of its JSON a
// token: near enough to tell a prefix worth caching from one too short.
func estimateTokens(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b) / 4
}

func isCachePoint(v any) bool {
	switch v.(type) {
	case *types.ContentBlockMemberCachePoint, *types.SystemContentBlockMemberCachePoint, *types.ToolMemberCachePoint:
		return true
	}
	return false
}

func endsWithCachePoint[T any](blocks []T) bool {
	return len(blocks) > 0 && isCachePoint(blocks[len(blocks)-1])
}

func countCachePoints(in *bedrockruntime.ConverseInput) int {
	n := 0
	each(in, func(v any) {
		if isCachePoint(v) {
			n++
		}
	})
	return n
}

// stripCachePoints removes the first n cache points, in Bedrock's order
// (tools, system, messages): the earliest are the ones a request would
// write last, and OpenAI too writes only the latest breakpoints.
func stripCachePoints(in *bedrockruntime.ConverseInput, n int) {
	keep := func(v any) bool {
		if n > 0 && isCachePoint(v) {
			n--
			return false
		}
		return true
	}
	if in.ToolConfig != nil {
		in.ToolConfig.Tools = filter(in.ToolConfig.Tools, keep)
	}
	in.System = filter(in.System, keep)
	for i := range in.Messages {
		in.Messages[i].Content = filter(in.Messages[i].Content, keep)
	}
}

func filter[T any](blocks []T, keep func(any) bool) []T {
	out := blocks[:0]
	for _, b := range blocks {
		if keep(b) {
			out = append(out, b)
		}
	}
	return out
}

// each visits the request's tools, system blocks and message blocks in order.
func each(in *bedrockruntime.ConverseInput, visit func(any)) {
	if in.ToolConfig != nil {
		for _, t := range in.ToolConfig.Tools {
			visit(t)
		}
	}
	for _, b := range in.System {
		visit(b)
	}
	for _, m := range in.Messages {
		for _, b := range m.Content {
			visit(b)
		}
	}
}
