package stacktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/stacktest"
	"github.com/sluice-broker/sluice/internal/worker"
)

// batchEvent waits for the one signed event of a batch, checks that its data
// is the batch as GET /v1/batches/{id} shows it, and that nothing else about
// the batch (or its jobs, which have no callback of their own) was sent.
func batchEvent(t *testing.T, s *stacktest.Stack, recv *receiver, c openai.Client, b *openai.Batch, want string) {
	t.Helper()
	waitFor(t, "the "+want+" callback of "+b.ID, func() bool { _, ok := recv.deliveryFor(b.ID); return ok })
	waitFor(t, "the delivery in the outbox", func() bool {
		var state string
		err := s.DB.QueryRow(context.Background(), `SELECT state FROM webhook_events WHERE batch_id = $1`, b.ID).Scan(&state)
		return err == nil && state == "delivered"
	})
	d, _ := recv.deliveryFor(b.ID)
	if d.Type != want || d.Status != strings.TrimPrefix(want, "batch.") || !strings.HasPrefix(d.ID, "msg_") {
		t.Fatalf("delivery = %+v", d)
	}
	var p struct {
		Type      string
		Timestamp time.Time
		Data      openai.Batch
	}
	if err := json.Unmarshal(d.Body, &p); err != nil || p.Timestamp.IsZero() {
		t.Fatalf("payload %s: %v", d.Body, err)
	}
	got, err := c.Batches.Get(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Data.ID != got.ID || p.Data.Object != "batch" || p.Data.Status != got.Status || p.Data.OutputFileID != got.OutputFileID ||
		p.Data.RequestCounts.RawJSON() != got.RequestCounts.RawJSON() || p.Data.Metadata["purpose"] != "test" {
		t.Fatalf("payload data %s, batch %s", d.Body, got.RawJSON())
	}
	if all := recv.deliveries(); len(all) != 1 {
		t.Fatalf("%d deliveries, want the batch's one: %+v", len(all), all)
	}
	var events int
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM webhook_events`).Scan(&events); err != nil || events != 1 {
		t.Fatalf("%d outbox events (err %v), want 1", events, err)
	}
}

// A batch created with a callback URL sends one signed batch.* event when it
// ends: a completed one, signed with SLUICE_WEBHOOK_SECRET, to the URL the
// header named; a cancelled one, signed with its key's secret, to the key's
// default URL.
func TestBatchWebhooks(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Tune: func(p *worker.Pool) { p.Concurrency = 1 }})
	c := client(s)

	t.Run("completed", func(t *testing.T) {
		recv := newReceiver(t, stacktest.WebhookSecret)
		f := upload(t, c, chatLine("a", "one"), chatLine("b", "two"))
		b, err := c.Batches.New(context.Background(), openai.BatchNewParams{
			InputFileID: f.ID, Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions,
			CompletionWindow: openai.BatchNewParamsCompletionWindow24h, Metadata: map[string]string{"purpose": "test"},
		}, option.WithHeader("X-Sluice-Callback-Url", recv.URL+"/batches"))
		if err != nil {
			t.Fatal(err)
		}
		b = await(t, c, b.ID, "ended", ended)
		if b.Status != openai.BatchStatusCompleted {
			t.Fatalf("batch = %s", b.RawJSON())
		}
		batchEvent(t, s, recv, c, b, "batch.completed")
		if _, err := s.DB.Exec(context.Background(), `DELETE FROM webhook_events`); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		recv := newReceiver(t, "")
		k := createKey(t, s, "--name", "batcher", "--webhook-url", recv.URL+"/default")
		recv.mu.Lock()
		recv.secret = k.webhookSecret
		recv.mu.Unlock()
		kc := openai.NewClient(option.WithBaseURL(s.URL+"/v1"), option.WithAPIKey(k.secret), option.WithMaxRetries(0))
		var lines []string
		for i := range 6 {
			lines = append(lines, chatLine(fmt.Sprintf("req-%d", i), fmt.Sprintf("request %d\n%s", i, bedrocksim.Directive("ttft_ms", "500"))))
		}
		b := newBatch(t, kc, upload(t, kc, lines...).ID)
		await(t, kc, b.ID, "in progress", func(b *openai.Batch) bool { return b.Status == openai.BatchStatusInProgress })
		if _, err := kc.Batches.Cancel(context.Background(), b.ID); err != nil {
			t.Fatal(err)
		}
		b = await(t, kc, b.ID, "ended", ended)
		if b.Status != openai.BatchStatusCancelled {
			t.Fatalf("batch = %s", b.RawJSON())
		}
		batchEvent(t, s, recv, kc, b, "batch.cancelled")
	})

	// The callback header is vetted as for chat completions.
	status, _, body := call(t, s, stacktest.Key, http.MethodPost, "/v1/batches",
		`{"input_file_id":"file-nope","endpoint":"/v1/chat/completions","completion_window":"24h"}`, "X-Sluice-Callback-Url", "ftp://example.com/")
	if status != http.StatusBadRequest || !strings.Contains(string(body), "invalid_callback_url") {
		t.Fatalf("bad callback URL: %d %s", status, body)
	}
}
