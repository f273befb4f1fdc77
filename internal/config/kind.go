package config

import "strings"

// Kinds of model alias.
const (
	KindChat      = "chat"
	KindEmbedding = "embedding"
)

// Embedding reports whether the alias serves embeddings rather than chat:
// its kind says so, or, without a kind, its Bedrock model id names an
// embedding model (amazon.titan-embed-…, cohere.embed-…), as every Bedrock
// embedding model id does.
func (m Model) Embedding() bool {
	if m.Kind != "" {
		return m.Kind == KindEmbedding
	}
	return strings.Contains(strings.ToLower(m.BedrockModelID), "embed")
}
