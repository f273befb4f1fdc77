package bedrocksim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sync"
	"time"
)

// Prompt caching. A cachePoint block marks the end of a prefix (tools,
// then system, then messages, in that order) that Bedrock may cache. A
// checkpoint caches only if its prefix has at least the model's minimum
// tokens; at most four per request. A request reads the longest of its
// prefixes that is cached, and writes what lies between that and its last
// eligible checkpoint. Entries live CacheTTL after their last use, per
// (account, model): caches are not shared across accounts.

// checkpoint is a cache point of a request: the prefix before it.
type checkpoint struct {
	tokens int    // prefix length in tokens, as inputTokens counts
	hash   uint64 // identity of the prefix
	tools  bool   // the point follows the tool definitions
}

// checkpoints lists the request's cache points in order.
func (req *converseRequest) checkpoints() []checkpoint {
	var cps []checkpoint
	h := fnv.New64a()
	n := 0 // bytes so far
	mark := func(tools bool) {
		cps = append(cps, checkpoint{tokens: (n + 3) / 4, hash: h.Sum64(), tools: tools})
	}
	if req.ToolConfig != nil {
		for _, t := range req.ToolConfig.Tools {
			if t.CachePoint != nil {
				mark(true)
				continue
			}
			spec, _ := json.Marshal(t.ToolSpec)
			h.Write(spec)
			n += t.ToolSpec.size()
		}
	}
	blocks := func(bs []contentBlock) {
		for _, b := range bs {
			if b.CachePoint != nil {
				mark(false)
				continue
			}
			h.Write(canonicalJSON(b.Raw))
			n += b.size()
		}
	}
	h.Write([]byte("\x00system\x00"))
	blocks(req.System)
	for _, m := range req.Messages {
		fmt.Fprintf(h, "\x00%s\x00", m.Role)
		blocks(m.Content)
	}
	return cps
}

// checkCachePoints answers what Bedrock refuses: cache points on a model
// without caching, after the tools of a model that cannot cache them, or
// more than four.
func checkCachePoints(cps []checkpoint, model ModelConfig) *apiError {
	if len(cps) == 0 {
		return nil
	}
	if model.PromptCacheMinTokens <= 0 {
		return newError("ValidationException", "You invoked an unsupported model or your request did not allow prompt caching. See the documentation for more information.")
	}
	if len(cps) > 4 {
		return newError("ValidationException", "A maximum of 4 blocks with cache_control may be provided. Found %d.", len(cps))
	}
	for _, cp := range cps {
		if cp.tools && !model.PromptCacheTools {
			return newError("ValidationException", "This model does not support cache points in toolConfig.")
		}
	}
	return nil
}

type cacheKey struct {
	account, model string
	hash           uint64
}

// promptCache holds the cached prefixes and when each expires.
type promptCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[cacheKey]time.Time
}

func newPromptCache(ttl time.Duration) *promptCache {
	return &promptCache{ttl: ttl, entries: make(map[cacheKey]time.Time)}
}

// use looks the request's checkpoints up and stores them: it returns the
// tokens read from the cache (the longest cached prefix) and written to it
// (the last eligible checkpoint's prefix beyond that). Hits are refreshed.
func (pc *promptCache) use(account, model string, cps []checkpoint, minTokens int, now time.Time) (read, write int) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	last := 0
	for _, cp := range cps {
		if cp.tokens < minTokens {
			continue // accepted, but caches nothing
		}
		k := cacheKey{account, model, cp.hash}
		if exp, ok := pc.entries[k]; ok && now.Before(exp) {
			read = max(read, cp.tokens)
		}
		pc.entries[k] = now.Add(pc.ttl)
		last = max(last, cp.tokens)
	}
	return read, max(0, last-read)
}

func (pc *promptCache) reset() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	clear(pc.entries)
}
