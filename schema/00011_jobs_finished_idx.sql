-- +goose NO TRANSACTION
-- +goose Up
-- Reads of recent endings (the status page's rates, latencies and failures;
-- GET /v1/accounts's recent use) by finished_at. Built concurrently: on a
-- large jobs table a plain CREATE INDEX would block inserts while it runs.
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS jobs_finished_idx;
