-- +goose Up
-- Streamed completions travel from the worker to the waiting api process as
-- ordered chunks of server-sent events. NOTIFY carries each chunk (or, when
-- it is too large for a notification, just its number); this table is the
-- record an api reads when it missed notifications (listener reconnect, a gap
-- in the numbers). The api deletes a job's chunks once it has relayed them;
-- the rest go with their job.
CREATE TABLE job_chunks (
    job_id     text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq        integer NOT NULL CHECK (seq > 0),
    data       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, seq)
);

-- A caller that hangs up on a running stream asks its worker to stop; the
-- worker sees this when it next writes a chunk and ends the job cancelled.
ALTER TABLE jobs ADD COLUMN cancel_requested_at timestamptz;

-- +goose Down
ALTER TABLE jobs DROP COLUMN cancel_requested_at;
DROP TABLE job_chunks;
