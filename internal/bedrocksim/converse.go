package bedrocksim

import (
	"encoding/json"
	"net/http"
	"time"
)

// Response shapes of Converse (restJson1, member names as on the wire).

type converseResponse struct {
	Output      converseOutput `json:"output"`
	StopReason  string         `json:"stopReason"`
	Usage       tokenUsage     `json:"usage"`
	Metrics     latencyMetrics `json:"metrics"`
	ServiceTier serviceTier    `json:"serviceTier"`
}

type converseOutput struct {
	Message outputMessage `json:"message"`
}

type outputMessage struct {
	Role    string        `json:"role"`
	Content []outputBlock `json:"content"`
}

type outputBlock struct {
	Text    *string        `json:"text,omitempty"`
	ToolUse *toolUseOutput `json:"toolUse,omitempty"`
}

type toolUseOutput struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

type tokenUsage struct {
	InputTokens           int `json:"inputTokens"`
	OutputTokens          int `json:"outputTokens"`
	TotalTokens           int `json:"totalTokens"`
	CacheReadInputTokens  int `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokens int `json:"cacheWriteInputTokens,omitempty"`
}

type latencyMetrics struct {
	LatencyMs int64 `json:"latencyMs"`
}

// handleConverse is POST /model/{modelId}/converse: wait for the latency
// model, then answer in one piece.
func (s *Server) handleConverse(w http.ResponseWriter, r *http.Request) {
	c := s.startCall(w, r, false)
	if c == nil {
		return
	}
	a := c.answer

	if c.failAfter >= 0 {
		// The model fails after producing failAfter tokens, which are charged.
		sleepUntil(r.Context(), c.tokenTime(c.failAfter))
		s.finish(c, c.failAfter, "injected "+c.failCode)
		writeJSONError(w, newError(c.failCode, "bedrocksim: injected %s after %d tokens", c.failCode, c.failAfter))
		return
	}

	// If the client hangs up, the call is still charged in full: Bedrock
	// does not learn of it before the model is done.
	if !sleepUntil(r.Context(), c.tokenTime(a.OutputTokens)) {
		s.finish(c, a.OutputTokens, "client gone")
		return
	}
	s.finish(c, a.OutputTokens, a.StopReason)

	var block outputBlock
	if a.Tool != nil {
		block.ToolUse = &toolUseOutput{ToolUseID: a.Tool.ID, Name: a.Tool.Name, Input: a.Tool.Input}
	} else {
		text := a.Text()
		block.Text = &text
	}
	resp := converseResponse{
		Output:      converseOutput{Message: outputMessage{Role: "assistant", Content: []outputBlock{block}}},
		StopReason:  a.StopReason,
		Usage:       c.usage(a.OutputTokens),
		Metrics:     latencyMetrics{LatencyMs: time.Since(c.started).Milliseconds()},
		ServiceTier: serviceTier{Type: c.tier},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}
