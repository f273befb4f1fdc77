package bedrocksim

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

const (
	sonnet = "us.anthropic.claude-sonnet-4-20250514-v1:0"
	nova   = "amazon.nova-lite-v1:0"
)

// newSim starts the simulator in-process. cfg's zero latency keeps tests fast.
func newSim(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs.URL
}

func baseCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(DefaultBaseAccessKeyID, DefaultBaseSecretAccessKey, "")
}

func awsConfig(creds aws.CredentialsProvider) aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: creds, HTTPClient: http.DefaultClient}
}

// bedrockClient is the real SDK client pointed at the simulator, retries off.
func bedrockClient(url string, cfg aws.Config) *bedrockruntime.Client {
	return bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.BaseEndpoint = aws.String(url)
		o.RetryMaxAttempts = 1
	})
}

func stsClient(url string, cfg aws.Config) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.BaseEndpoint = aws.String(url)
		o.RetryMaxAttempts = 1
	})
}

func userText(lines ...string) types.Message {
	return types.Message{
		Role:    types.ConversationRoleUser,
		Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: strings.Join(lines, "\n")}},
	}
}

func converseInput(model string, maxTokens int32, msgs ...types.Message) *bedrockruntime.ConverseInput {
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: msgs}
	if maxTokens > 0 {
		in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(maxTokens)}
	}
	return in
}

func outputText(t *testing.T, out *bedrockruntime.ConverseOutput) string {
	t.Helper()
	msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		t.Fatalf("output is %T, want a message", out.Output)
	}
	var b strings.Builder
	for _, c := range msg.Value.Content {
		if tb, ok := c.(*types.ContentBlockMemberText); ok {
			b.WriteString(tb.Value)
		}
	}
	return b.String()
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// errorCode is the AWS error code of err, "" if it carries none.
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// streamResult is everything a ConverseStream produced, decoded by the SDK.
type streamResult struct {
	events     []string // event kinds in order
	text       string
	toolInput  string
	toolStart  *types.ToolUseBlockStart
	stopReason types.StopReason
	usage      *types.TokenUsage
	tier       *types.ServiceTier
	err        error
}

func readStream(t *testing.T, out *bedrockruntime.ConverseStreamOutput) streamResult {
	t.Helper()
	stream := out.GetStream()
	defer stream.Close()
	var r streamResult
	var text, input strings.Builder
	for ev := range stream.Events() {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			r.events = append(r.events, "messageStart")
		case *types.ConverseStreamOutputMemberContentBlockStart:
			r.events = append(r.events, "contentBlockStart")
			if tu, ok := v.Value.Start.(*types.ContentBlockStartMemberToolUse); ok {
				r.toolStart = &tu.Value
			}
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			r.events = append(r.events, "contentBlockDelta")
			switch d := v.Value.Delta.(type) {
			case *types.ContentBlockDeltaMemberText:
				text.WriteString(d.Value)
			case *types.ContentBlockDeltaMemberToolUse:
				input.WriteString(aws.ToString(d.Value.Input))
			default:
				t.Errorf("unexpected delta %T", d)
			}
		case *types.ConverseStreamOutputMemberContentBlockStop:
			r.events = append(r.events, "contentBlockStop")
		case *types.ConverseStreamOutputMemberMessageStop:
			r.events = append(r.events, "messageStop")
			r.stopReason = v.Value.StopReason
		case *types.ConverseStreamOutputMemberMetadata:
			r.events = append(r.events, "metadata")
			r.usage, r.tier = v.Value.Usage, v.Value.ServiceTier
		default:
			t.Errorf("unexpected event %T", ev)
		}
	}
	r.text, r.toolInput, r.err = text.String(), input.String(), stream.Err()
	return r
}

// streamWhole calls ConverseStream and reads the stream; a stream that ended
// without its closing metadata event is read once more. Under -race on a
// loaded machine the SDK's event-stream reader sometimes meets "use of closed
// network connection" and ends the events early without an error
// (aws-sdk-go-v2 #2737); what these tests check is what a whole stream says.
func streamWhole(t *testing.T, client *bedrockruntime.Client, in *bedrockruntime.ConverseStreamInput) streamResult {
	t.Helper()
	var r streamResult
	for try := 0; try < 2; try++ {
		out, err := client.ConverseStream(ctxTimeout(t), in)
		if err != nil {
			t.Fatal(err)
		}
		r = readStream(t, out)
		if slices.Contains(r.events, "metadata") {
			break
		}
	}
	return r
}
