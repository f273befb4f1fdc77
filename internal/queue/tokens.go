package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// A message is a token: "a job of this alias and priority is waiting". The
// worker that receives one claims whichever job the policy picks (see
// jobs.Store.ClaimNext); Body.JobID names the job the token was sent for,
// for logs and dead letters only. A queued job has at least one token out,
// so a token that finds nothing to claim is surplus and may be dropped.

// SendAfter enqueues a token that becomes visible after delay (SQS takes
// whole seconds, at most 15 minutes; the job's own run_after says exactly
// when it is due, so a token that comes early waits again).
func (q *Queues) SendAfter(ctx context.Context, p Priority, b Body, delay time.Duration) error {
	url, err := q.resolve(ctx, q.Name(b.Model, p), false)
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(b)
	secs := int32(min(max((delay+time.Second-1)/time.Second, 0), 900))
	if _, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(raw)), DelaySeconds: secs}); err != nil {
		return fmt.Errorf("send token for job %s to %s: %w", b.JobID, q.Name(b.Model, p), err)
	}
	return nil
}

// DeleteMany removes handled messages of one queue in batches of MaxBatch.
// It returns the first error; messages it could not delete come back after
// their visibility timeout, as surplus tokens.
func (q *Queues) DeleteMany(ctx context.Context, ms []Message) error {
	var first error
	for len(ms) > 0 {
		n := min(len(ms), MaxBatch)
		batch := ms[:n]
		ms = ms[n:]
		entries := make([]types.DeleteMessageBatchRequestEntry, len(batch))
		for i, m := range batch {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.ReceiptHandle)}
		}
		out, err := q.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(batch[0].queueURL), Entries: entries})
		if err == nil && len(out.Failed) > 0 {
			err = fmt.Errorf("%s: %s", aws.ToString(out.Failed[0].Code), aws.ToString(out.Failed[0].Message))
		}
		if err != nil && first == nil {
			first = fmt.Errorf("delete %d messages: %w", len(batch), err)
		}
	}
	return first
}
