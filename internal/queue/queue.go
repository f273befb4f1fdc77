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
	"github.com/aws/smithy-go"
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

	mu      sync.RWMutex
	urls    map[string]string // queue name -> URL
	creates bool              // this process creates missing queues (Resolve with create)
	lost    map[string]*outage
	epochs  map[string]int // queue name -> times it was found missing and re-resolved
}

// outage is the backoff state of a queue found missing.
type outage struct {
	failures int
	next     time.Time
	last     error
}

// New wraps an SQS client. Build the client once per process.
func New(client *sqs.Client, prefix string) *Queues {
	return &Queues{client: client, prefix: prefix, MaxReceiveCount: DefaultMaxReceiveCount, urls: map[string]string{},
		lost: map[string]*outage{}, epochs: map[string]int{}}
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
//
// A process that resolves with create also recreates queues that vanish
// later (deleted, or an SQS server restarted): see do.
func (q *Queues) Resolve(ctx context.Context, aliases []string, create bool) error {
	if create {
		q.mu.Lock()
		q.creates = true
		q.mu.Unlock()
	}
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
		arn, err := q.dlqARN(ctx, DLQName(name))
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

// dlqARN resolves (creating it if need be) a dead-letter queue and reads its
// ARN. A cached URL may name a queue that has since vanished with its main
// queue: it is then looked up afresh once.
func (q *Queues) dlqARN(ctx context.Context, name string) (string, error) {
	for try := 0; ; try++ {
		url, err := q.resolve(ctx, name, true)
		if err != nil {
			return "", err
		}
		arn, err := q.arn(ctx, url)
		if err != nil && isNotExist(err) && try == 0 {
			q.forget(name)
			continue
		}
		return arn, err
	}
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

// isNotExist reports whether SQS said the queue does not exist. The SDK types
// the error as QueueDoesNotExist for the JSON protocol; the query protocol's
// code is AWS.SimpleQueueService.NonExistentQueue.
func isNotExist(err error) bool {
	var notExist *types.QueueDoesNotExist
	if errors.As(err, &notExist) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "NonExistentQueue":
			return true
		}
	}
	return false
}

// IsNotExist reports whether err says a queue does not exist (now).
func IsNotExist(err error) bool { return isNotExist(err) }

// forget drops a queue's cached URL, so the next use looks it up again.
func (q *Queues) forget(name string) {
	q.mu.Lock()
	delete(q.urls, name)
	q.mu.Unlock()
}

// Backoff of re-resolving a vanished queue: each failed attempt doubles the
// wait before the next, from minBackoff up to maxBackoff. Calls made during
// the wait fail at once with the last error instead of hammering SQS.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// do runs op against the URL of queue name. When SQS says the queue does not
// exist, the cached URL is dropped and the queue looked up again (and
// recreated, in a process that creates queues), with backoff; op is then
// retried once. A queue found again after it vanished bumps its epoch, which
// tells the janitor its messages may be lost.
func (q *Queues) do(ctx context.Context, name string, op func(url string) error) error {
	url, err := q.recover(ctx, name)
	if err != nil {
		return err
	}
	err = op(url)
	if err == nil || !isNotExist(err) {
		return err
	}
	q.forget(name)
	q.mu.Lock()
	if q.lost[name] == nil {
		q.lost[name] = &outage{}
	}
	q.mu.Unlock()
	if url, err = q.recover(ctx, name); err != nil {
		return err
	}
	return op(url)
}

// recover resolves name, honouring the backoff of a queue found missing.
func (q *Queues) recover(ctx context.Context, name string) (string, error) {
	q.mu.RLock()
	o, create := q.lost[name], q.creates
	q.mu.RUnlock()
	if o == nil {
		return q.resolve(ctx, name, create)
	}
	q.mu.Lock()
	if wait := time.Until(o.next); wait > 0 && o.last != nil {
		err := o.last
		q.mu.Unlock()
		return "", fmt.Errorf("queue %s is missing; next look-up in %s: %w", name, wait.Round(time.Millisecond), err)
	}
	q.mu.Unlock()
	url, err := q.resolve(ctx, name, create)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		o.failures++
		o.last = err
		o.next = time.Now().Add(min(minBackoff<<min(o.failures-1, 10), maxBackoff))
		return "", err
	}
	delete(q.lost, name)
	q.epochs[name]++
	return url, nil
}

// Epoch counts how often this process found queue name (see Name and
// DLQName) missing and then usable again. Messages sent before a change may
// be gone with the old queue.
func (q *Queues) Epoch(name string) int {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.epochs[name]
}

// CreatedAt is when SQS created the queue of an alias and priority. A change
// means the queue was deleted and created again, by any process, and the
// messages of the old one are gone.
func (q *Queues) CreatedAt(ctx context.Context, alias string, p Priority) (time.Time, error) {
	name := q.Name(alias, p)
	var created time.Time
	err := q.do(ctx, name, func(url string) error {
		out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameCreatedTimestamp},
		})
		if err != nil {
			return fmt.Errorf("creation time of %s: %w", name, err)
		}
		// Whole seconds on AWS; moto adds a fraction.
		raw := out.Attributes[string(types.QueueAttributeNameCreatedTimestamp)]
		secs, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("creation time of %s: %q is not a Unix time", name, raw)
		}
		created = time.UnixMilli(int64(secs * 1000))
		return nil
	})
	return created, err
}

// Send enqueues one job.
func (q *Queues) Send(ctx context.Context, p Priority, b Body) error {
	name := q.Name(b.Model, p)
	raw, _ := json.Marshal(b)
	return q.do(ctx, name, func(url string) error {
		if _, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(raw))}); err != nil {
			return fmt.Errorf("send job %s to %s: %w", b.JobID, name, err)
		}
		return nil
	})
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
	entries := make([]types.SendMessageBatchRequestEntry, len(bodies))
	for i, b := range bodies {
		if b.Model != model {
			return nil, fmt.Errorf("send a batch to %s: job %s is for model %q", q.Name(model, p), b.JobID, b.Model)
		}
		raw, _ := json.Marshal(b)
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(raw))}
	}
	var out *sqs.SendMessageBatchOutput
	err = q.do(ctx, q.Name(model, p), func(url string) (err error) {
		out, err = q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		return err
	})
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
	var out *sqs.ReceiveMessageOutput
	var url string
	err := q.do(ctx, name, func(u string) (err error) {
		url = u
		out, err = q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(url),
			MaxNumberOfMessages:         int32(min(max(n, 1), 10)),
			WaitTimeSeconds:             int32(min(wait/time.Second, 20)),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		})
		return err
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

// ErrMessageGone says a message's queue vanished with it: there is nothing
// left to delete or delay. The job row is the truth, and the janitor sends
// every job still queued for a queue that came back.
var ErrMessageGone = errors.New("the message's queue no longer exists")

// Delete removes a handled message. A message whose queue vanished is gone
// already, which is what Delete wanted: that is no error.
func (q *Queues) Delete(ctx context.Context, m Message) error {
	_, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(m.queueURL), ReceiptHandle: aws.String(m.ReceiptHandle)})
	if err != nil && q.vanished(m, err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete message of job %s: %w", m.JobID, err)
	}
	return nil
}

// Delay makes a message visible again after d (0 returns it at once). The
// visibility timeout runs from this call and SQS caps it at 12 hours; d is
// rounded up to whole seconds, SQS's unit. A message whose queue vanished
// answers ErrMessageGone.
func (q *Queues) Delay(ctx context.Context, m Message, d time.Duration) error {
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(m.queueURL), ReceiptHandle: aws.String(m.ReceiptHandle), VisibilityTimeout: int32((d + time.Second - 1) / time.Second),
	})
	if err != nil && q.vanished(m, err) {
		return fmt.Errorf("change visibility of job %s's message: %w", m.JobID, ErrMessageGone)
	}
	if err != nil {
		return fmt.Errorf("change visibility of job %s's message: %w", m.JobID, err)
	}
	return nil
}

// vanished reports whether err says m's queue is gone, and if so marks the
// queue for re-resolution: its receipt handles died with it, so the call is
// not retried on the new queue.
func (q *Queues) vanished(m Message, err error) bool {
	if !isNotExist(err) {
		return false
	}
	name := q.Name(m.Model, m.Priority)
	q.mu.Lock()
	defer q.mu.Unlock()
	for n, url := range q.urls {
		if url == m.queueURL {
			name = n
		}
	}
	delete(q.urls, name)
	if q.lost[name] == nil {
		q.lost[name] = &outage{}
	}
	return true
}

// NewClient builds the SQS client once per process; endpoint is empty on AWS.
func NewClient(base aws.Config, endpoint string) *sqs.Client {
	return sqs.NewFromConfig(base, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}
