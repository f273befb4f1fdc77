-- +goose Up
-- A job is one chat completion request and everything that happened to it.
-- The queue carries only job ids; this row is the truth.
CREATE TABLE jobs (
    id               text PRIMARY KEY,
    tenant           text NOT NULL,
    model            text NOT NULL,                 -- the alias the caller asked for
    priority         text NOT NULL CHECK (priority IN ('interactive', 'batch')),
    mode             text NOT NULL CHECK (mode IN ('sync', 'async', 'batch')),
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    request          jsonb NOT NULL,
    response         json,          -- json keeps the bytes the caller will get, in order
    error            jsonb,
    usage            jsonb,
    -- attempts counts claims; it also fences a worker whose lease expired and
    -- whose job was claimed again: its late result is refused.
    attempts         integer NOT NULL DEFAULT 0,
    throttles        integer NOT NULL DEFAULT 0,
    account          text,
    lease_expires_at timestamptz,
    enqueued_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Jobs whose SQS message was never sent (the api died between INSERT and
-- SendMessage, or SQS refused): the sweeper sends them.
CREATE INDEX jobs_unenqueued_idx ON jobs (created_at) WHERE state = 'queued' AND enqueued_at IS NULL;
CREATE INDEX jobs_tenant_created_idx ON jobs (tenant, created_at DESC, id DESC);
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- +goose Down
DROP TABLE jobs;
