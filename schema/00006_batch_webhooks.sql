-- +goose Up
-- Batches raise webhook events too (batch.completed, batch.failed,
-- batch.cancelled, batch.expired). A batch keeps the callback URL it was
-- created with and the key that created it, whose secret signs its events,
-- as jobs do (00003_async.sql).
ALTER TABLE batches
    ADD COLUMN api_key_id   text REFERENCES api_keys (id) ON DELETE SET NULL,
    ADD COLUMN callback_url text;

-- An outbox event belongs to a job or to a batch, never both. Batch events
-- are written by batch.Runner's Events in the transaction that ends the
-- batch (webhook.BatchEvents), not by a trigger: a batch's ending is one
-- UPDATE among several that touch its status.
ALTER TABLE webhook_events
    ALTER COLUMN job_id DROP NOT NULL,
    ADD COLUMN batch_id text REFERENCES batches (id) ON DELETE CASCADE,
    ADD CONSTRAINT webhook_events_one_subject CHECK (num_nonnulls(job_id, batch_id) = 1);

CREATE INDEX webhook_events_batch_idx ON webhook_events (batch_id) WHERE batch_id IS NOT NULL;

-- +goose Down
DROP INDEX webhook_events_batch_idx;
-- Batch events cannot be kept without their column; job events are untouched.
DELETE FROM webhook_events WHERE batch_id IS NOT NULL;
ALTER TABLE webhook_events
    DROP CONSTRAINT webhook_events_one_subject,
    DROP COLUMN batch_id,
    ALTER COLUMN job_id SET NOT NULL;
ALTER TABLE batches DROP COLUMN callback_url, DROP COLUMN api_key_id;
