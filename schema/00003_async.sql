-- +goose Up
-- Managed API keys. Only a SHA-256 hash of the secret is kept: the secret is
-- shown once, when the key is made. A key's tenant scopes what it sees; keys
-- that share a tenant (a rotated key and its successor) see the same jobs.
CREATE TABLE api_keys (
    id             text PRIMARY KEY,             -- key_…
    tenant         text NOT NULL,
    name           text NOT NULL,
    hash           bytea NOT NULL UNIQUE,        -- sha256(secret)
    prefix         text NOT NULL,                -- the secret's first characters, to recognise it by
    webhook_url    text,                         -- default callback URL for the key's jobs
    -- Standard Webhooks signing secret (whsec_…). It must be kept readable:
    -- the signature is an HMAC, so signer and receiver share the secret.
    webhook_secret text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz,
    revoked_at     timestamptz
);

ALTER TABLE jobs
    ADD COLUMN api_key_id      text REFERENCES api_keys (id) ON DELETE SET NULL,
    ADD COLUMN idempotency_key text,
    -- sha256 of what the caller asked for, so that a reused key with a
    -- different request is refused rather than answered with the wrong job.
    ADD COLUMN idempotency_fp  bytea,
    ADD COLUMN callback_url    text;

CREATE UNIQUE INDEX jobs_idempotency_idx ON jobs (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- The webhook outbox: one event per job that ended while it had a callback
-- URL. The trigger below writes it in the transaction that ends the job, so an
-- event exists exactly when the ending was committed.
CREATE TABLE webhook_events (
    id               text PRIMARY KEY,            -- msg_…: the webhook-id header, the same on every attempt
    job_id           text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    tenant           text NOT NULL,
    type             text NOT NULL,               -- job.succeeded | job.failed | job.cancelled
    url              text NOT NULL,
    host             text NOT NULL,               -- url's host[:port]: in-flight deliveries are bounded per host
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    -- attempts counts every attempt ever made and fences a dispatcher whose
    -- claim ran out: its late result is refused. round_* mark where the
    -- current retry schedule began (creation, or the last redelivery).
    attempts         integer NOT NULL DEFAULT 0,
    round_attempts   integer NOT NULL DEFAULT 0,
    round_started_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);

CREATE INDEX webhook_events_due_idx ON webhook_events (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_events_job_idx ON webhook_events (job_id);

-- The delivery log: one row per attempt.
CREATE TABLE webhook_deliveries (
    id          text PRIMARY KEY,                 -- whd_…
    event_id    text NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    status_code integer,                          -- NULL when no response came
    error       text,
    duration_ms integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id, attempt);

-- +goose StatementBegin
CREATE FUNCTION jobs_webhook_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_events (id, job_id, tenant, type, url, host)
    VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.id, NEW.tenant, 'job.' || NEW.state,
            NEW.callback_url, lower(substring(NEW.callback_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)')));
    PERFORM pg_notify('sluice_webhook', NEW.id);
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- Every way a job ends (a worker's result, a cancel, a dead letter, code not
-- written yet) goes through an UPDATE of state, so the outbox cannot miss one.
CREATE TRIGGER jobs_webhook_event AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.callback_url IS NOT NULL AND OLD.state IS DISTINCT FROM NEW.state
          AND NEW.state IN ('succeeded', 'failed', 'cancelled'))
    EXECUTE FUNCTION jobs_webhook_event();

-- +goose Down
DROP TRIGGER jobs_webhook_event ON jobs;
DROP FUNCTION jobs_webhook_event();
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP INDEX jobs_idempotency_idx;
ALTER TABLE jobs DROP COLUMN api_key_id, DROP COLUMN idempotency_key, DROP COLUMN idempotency_fp, DROP COLUMN callback_url;
DROP TABLE api_keys;
