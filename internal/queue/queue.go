// Package queue carries job ids over SQS: one interactive and one batch queue
// per model alias, each with a dead-letter queue.
//
// A queue per alias lets every pool that serves an alias (one per account)
// drain exactly the work it can run, and lets SQS's own metrics show the
// backlog per model.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Priority names one of an alias's two queues.
type Priority string

// The two queues of an alias. Pools drain interactive before batch.
const (
	Interactive Priority = "interactive"
	Batch       Priority = "batch"
)

// Settings of the queues sluice creates locally; on AWS Terraform sets the same.
const (
	// VisibilityTimeout only matters for a token received and then lost (its
	// worker died before claiming with it, or a long poll's caller had gone):
	// a worker deletes a token as soon as it has claimed a job with it, so
	// the timeout bounds how long lost tokens stay away.
	VisibilityTimeout = 30 * time.Second
	// DefaultMaxReceiveCount is high because a token comes back whenever the
	// jobs it stands for are not yet due; a dead-lettered token is renewed.
	DefaultMaxReceiveCount = 100
	retention              = 14 * 24 * time.Hour
)

// Body is what a message carries. The job row holds everything else.
type Body struct {
	JobID string `json:"job_id"`
	Model string `json:"model"`
}

// Message is a received message.
type Message struct {
	Body
	Priority      Priority
	ReceiptHandle string
	ReceiveCount  int
	queueURL      string
}

// Queues resolves and uses the queues of a set of aliases.
type Queues struct {
	client *sqs.Client
	prefix string
	// MaxReceiveCount is the redrive policy of queues this process creates.
	MaxReceiveCount int

	mu   sync.RWMutex
	urls map[string]string // queue name -> URL
}

// New wraps an SQS client. Build the client once per process.
func New(client *sqs.Client, prefix string) *Queues {
	return &Queues{client: client, prefix: prefix, MaxReceiveCount: DefaultMaxReceiveCount, urls: map[string]string{}}
}

// Name is the queue name for an alias and priority. SQS names allow letters,
// digits, '-' and '_', so dots in an alias become '_'.
func (q *Queues) Name(alias string, p Priority) string {
	return fmt.Sprintf("%s-%s-%s", q.prefix, strings.ReplaceAll(alias, ".", "_"), p)
}

// DLQName is the dead-letter queue of a queue.
func DLQName(name string) string { return name + "-dlq" }

// Resolve looks up the URLs of both queues of every alias, creating missing
// queues (with their DLQs) when create is set.
func (q *Queues) Resolve(ctx context.Context, aliases []string, create bool) error {
	for _, alias := range aliases {
		for _, p := range []Priority{Interactive, Batch} {
			name := q.Name(alias, p)
			for _, n := range []string{DLQName(name), name} {
				if _, err := q.resolve(ctx, n, create); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (q *Queues) resolve(ctx context.Context, name string, create bool) (string, error) {
	q.mu.RLock()
	url, ok := q.urls[name]
	q.mu.RUnlock()
	if ok {
		return url, nil
	}
	out, err := q.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	switch {
	case err == nil:
		url = aws.ToString(out.QueueUrl)
	case isNotExist(err) && create:
		url, err = q.create(ctx, name)
		if err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("look up SQS queue %q: %w", name, err)
	}
	q.mu.Lock()
	q.urls[name] = url
	q.mu.Unlock()
	return url, nil
}

func (q *Queues) create(ctx context.Context, name string) (string, error) {
	attrs := map[string]string{
		string(types.QueueAttributeNameVisibilityTimeout):      strconv.Itoa(int(VisibilityTimeout.Seconds())),
		string(types.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(int(retention.Seconds())),
	}
	if !strings.HasSuffix(name, "-dlq") {
		dlqURL, err := q.resolve(ctx, DLQName(name), true)
		if err != nil {
			return "", err
		}
		arn, err := q.arn(ctx, dlqURL)
		if err != nil {
			return "", err
		}
		policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": arn, "maxReceiveCount": q.MaxReceiveCount})
		attrs[string(types.QueueAttributeNameRedrivePolicy)] = string(policy)
	}
	out, err := q.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("create SQS queue %q: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

func (q *Queues) arn(ctx context.Context, url string) (string, error) {
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("get ARN of queue %s: %w", url, err)
	}
	return out.Attributes[string(types.QueueAttributeNameQueueArn)], nil
}

func isNotExist(err error) bool {
	var notExist *types.QueueDoesNotExist
	return errors.As(err, &notExist)
}

// Send enqueues one job.
func (q *Queues) Send(ctx context.Context, p Priority, b Body) error {
	url, err := q.resolve(ctx, q.Name(b.Model, p), false)
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(b)
	if _, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(raw))}); err != nil {
		return fmt.Errorf("send job %s to %s: %w", b.JobID, q.Name(b.Model, p), err)
	}
	return nil
}

// MaxBatch is the most messages one SendMessageBatch call carries.
const MaxBatch = 10

// SendBatch enqueues up to MaxBatch jobs of one model alias in one call. SQS
// accepts or refuses each entry on its own: refused holds the bodies it
// refused, for the caller to retry. An error means the call itself failed and
// nothing was sent.
func (q *Queues) SendBatch(ctx context.Context, p Priority, bodies []Body) (refused []Body, err error) {
	if len(bodies) == 0 {
		return nil, nil
	}
	if len(bodies) > MaxBatch {
		return nil, fmt.Errorf("send %d jobs in one batch: SQS takes at most %d", len(bodies), MaxBatch)
	}
	model := bodies[0].Model
	url, err := q.resolve(ctx, q.Name(model, p), false)
	if err != nil {
		return nil, err
	}
	entries := make([]types.SendMessageBatchRequestEntry, len(bodies))
	for i, b := range bodies {
		if b.Model != model {
			return nil, fmt.Errorf("send a batch to %s: job %s is for model %q", q.Name(model, p), b.JobID, b.Model)
		}
		raw, _ := json.Marshal(b)
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(raw))}
	}
	out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("send %d jobs to %s: %w", len(bodies), q.Name(model, p), err)
	}
	for _, f := range out.Failed {
		i, err := strconv.Atoi(aws.ToString(f.Id))
		if err != nil || i < 0 || i >= len(bodies) {
			return nil, fmt.Errorf("send %d jobs to %s: SQS answered for unknown entry %q", len(bodies), q.Name(model, p), aws.ToString(f.Id))
		}
		refused = append(refused, bodies[i])
	}
	return refused, nil
}

// Receive takes up to max messages (1-10) from an alias's queue, long-polling
// for up to wait (at most 20 s).
func (q *Queues) Receive(ctx context.Context, alias string, p Priority, n int, wait time.Duration) ([]Message, error) {
	return q.receive(ctx, q.Name(alias, p), p, n, wait)
}

// ReceiveDead takes messages from the dead-letter queue of an alias's queue.
func (q *Queues) ReceiveDead(ctx context.Context, alias string, p Priority, n int, wait time.Duration) ([]Message, error) {
	return q.receive(ctx, DLQName(q.Name(alias, p)), p, n, wait)
}

func (q *Queues) receive(ctx context.Context, name string, p Priority, n int, wait time.Duration) ([]Message, error) {
	url, err := q.resolve(ctx, name, false)
	if err != nil {
		return nil, err
	}
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         int32(min(max(n, 1), 10)),
		WaitTimeSeconds:             int32(min(wait/time.Second, 20)),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", name, err)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msg := Message{Priority: p, ReceiptHandle: aws.ToString(m.ReceiptHandle), queueURL: url}
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &msg.Body); err != nil || msg.JobID == "" {
			// Not ours: leave it for the DLQ rather than guess.
			continue
		}
		msg.ReceiveCount, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// Delete removes a handled message.
func (q *Queues) Delete(ctx context.Context, m Message) error {
	_, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(m.queueURL), ReceiptHandle: aws.String(m.ReceiptHandle)})
	if err != nil {
		return fmt.Errorf("delete message of job %s: %w", m.JobID, err)
	}
	return nil
}

// Delay makes a message visible again after d (0 returns it at once). The
// visibility timeout runs from this call and SQS caps it at 12 hours.
func (q *Queues) Delay(ctx context.Context, m Message, d time.Duration) error {
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(m.queueURL), ReceiptHandle: aws.String(m.ReceiptHandle), VisibilityTimeout: int32(d / time.Second),
	})
	if err != nil {
		return fmt.Errorf("change visibility of job %s's message: %w", m.JobID, err)
	}
	return nil
}

// Depth is the approximate number of visible and in-flight messages.
func (q *Queues) Depth(ctx context.Context, alias string, p Priority) (visible, inFlight int, err error) {
	url, err := q.resolve(ctx, q.Name(alias, p), false)
	if err != nil {
		return 0, 0, err
	}
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("depth of %s: %w", q.Name(alias, p), err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight, nil
}

// NewClient builds the SQS client once per process; endpoint is empty on AWS.
func NewClient(base aws.Config, endpoint string) *sqs.Client {
	return sqs.NewFromConfig(base, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}
