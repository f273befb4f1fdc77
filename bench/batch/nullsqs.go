package main

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// nullSQS speaks enough of SQS's JSON protocol for sluice to run against it:
// it accepts every message and delivers none. With it, the ingest part
// measures sluice's own work and the SQS client's, without moto, whose cost
// per call grows with the depth of the queue (a 50,000-message queue would
// take hours to fill).
type nullSQS struct{ sent atomic.Int64 }

func (n *nullSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		QueueName       string
		QueueUrl        string
		MessageBody     string
		WaitTimeSeconds int
		Entries         []struct{ Id, MessageBody string }
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	name := in.QueueName
	if name == "" {
		name = in.QueueUrl[strings.LastIndex(in.QueueUrl, "/")+1:]
	}
	var out any
	switch action := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS."); action {
	case "GetQueueUrl", "CreateQueue":
		out = map[string]string{"QueueUrl": "http://" + r.Host + "/000000000000/" + name}
	case "GetQueueAttributes":
		out = map[string]any{"Attributes": map[string]string{"QueueArn": "arn:aws:sqs:us-east-1:000000000000:" + name,
			"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}}
	case "SendMessage":
		n.sent.Add(1)
		out = map[string]string{"MessageId": uuid.NewString(), "MD5OfMessageBody": md5Hex(in.MessageBody)}
	case "SendMessageBatch":
		ok := make([]map[string]string, len(in.Entries))
		for i, e := range in.Entries {
			ok[i] = map[string]string{"Id": e.Id, "MessageId": uuid.NewString(), "MD5OfMessageBody": md5Hex(e.MessageBody)}
		}
		n.sent.Add(int64(len(in.Entries)))
		out = map[string]any{"Successful": ok, "Failed": []any{}}
	case "ReceiveMessage":
		select {
		case <-r.Context().Done():
		case <-time.After(time.Duration(min(in.WaitTimeSeconds, 20)) * time.Second):
		}
		out = map[string]any{"Messages": []any{}}
	case "DeleteMessage", "ChangeMessageVisibility":
		out = map[string]any{}
	default:
		w.Header().Set("X-Amzn-Query-Error", "InvalidAction;Sender")
		w.WriteHeader(http.StatusBadRequest)
		out = map[string]string{"__type": "com.amazonaws.sqs#InvalidAction", "message": "nullSQS does not do " + action}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
