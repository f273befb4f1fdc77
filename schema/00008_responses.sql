-- +goose Up
-- A response of the Responses API is a job underneath (its request is the
-- chat completion it runs as); this row keeps what the Responses API adds:
-- the request's own fields, to render the Response object, and its input
-- items and the items of the responses it continues, so that a later
-- previous_response_id needs no history resent. The id is the job's with
-- the prefix resp_ instead of job_. Retention deletes the job, and the row
-- with it.
CREATE TABLE responses (
    id                   text PRIMARY KEY,                  -- resp_…
    job_id               text NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
    tenant               text NOT NULL,
    -- store: false keeps no items and is not retrievable; the row still
    -- names the job a response, for its webhook events.
    stored               boolean NOT NULL,
    request              json NOT NULL,                     -- the request without its input
    input                json NOT NULL,                     -- this request's input items
    history              json NOT NULL,                     -- the items of the responses before it
    previous_response_id text,
    created_at           timestamptz NOT NULL DEFAULT now()
);

-- A response's webhook events are OpenAI's: response.completed (or
-- .incomplete when the output was cut short), .failed, .cancelled. An
-- expired response (it could not start before its caller's deadline) failed.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION jobs_webhook_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind text := 'job.' || NEW.state;
BEGIN
    IF EXISTS (SELECT 1 FROM responses WHERE job_id = NEW.id) THEN
        kind := 'response.' || CASE
            WHEN NEW.state = 'succeeded' AND (NEW.response -> 'choices' -> 0 ->> 'finish_reason') IN ('length', 'content_filter') THEN 'incomplete'
            WHEN NEW.state = 'succeeded' THEN 'completed'
            WHEN NEW.state = 'cancelled' THEN 'cancelled'
            ELSE 'failed' END;
    END IF;
    INSERT INTO webhook_events (id, job_id, tenant, type, url, host)
    VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.id, NEW.tenant, kind,
            NEW.callback_url, lower(substring(NEW.callback_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)')));
    PERFORM pg_notify('sluice_webhook', NEW.id);
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION jobs_webhook_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_events (id, job_id, tenant, type, url, host)
    VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.id, NEW.tenant, 'job.' || NEW.state,
            NEW.callback_url, lower(substring(NEW.callback_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)')));
    PERFORM pg_notify('sluice_webhook', NEW.id);
    RETURN NEW;
END
$$;
-- +goose StatementEnd
DROP TABLE responses;
