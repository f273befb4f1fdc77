-- +goose Up
-- Files of the OpenAI Files API (internal/files). The row is the metadata; the
-- content is in file_chunks. A file is invisible until its upload commits
-- (status 'processed'); an upload whose process died stays 'uploading' until
-- the batch runner's sweep deletes it.
CREATE TABLE files (
    id         text PRIMARY KEY,                  -- file-…
    tenant     text NOT NULL,
    purpose    text NOT NULL,                     -- batch | batch_output; '' while uploading
    filename   text NOT NULL,
    bytes      bigint NOT NULL DEFAULT 0,
    status     text NOT NULL DEFAULT 'uploading' CHECK (status IN ('uploading', 'processed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);

CREATE INDEX files_tenant_idx ON files (tenant, id) WHERE status = 'processed';
CREATE INDEX files_uploading_idx ON files (updated_at) WHERE status = 'uploading';
CREATE INDEX files_expires_idx ON files (expires_at) WHERE expires_at IS NOT NULL;

-- Content in pieces of up to files.ChunkSize bytes, so that no statement and
-- no process ever holds a whole file. bytea over a large object: a row goes
-- away with its file (ON DELETE CASCADE) and needs no lo_unlink bookkeeping.
CREATE TABLE file_chunks (
    file_id text NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    seq     integer NOT NULL,
    data    bytea NOT NULL,
    PRIMARY KEY (file_id, seq)
);

-- Batches of the OpenAI Batch API (internal/batch).
CREATE TABLE batches (
    id                text PRIMARY KEY,           -- batch_…
    tenant            text NOT NULL,
    status            text NOT NULL DEFAULT 'validating'
                      CHECK (status IN ('validating', 'failed', 'in_progress', 'finalizing',
                                        'completed', 'expired', 'cancelling', 'cancelled')),
    endpoint          text NOT NULL,
    completion_window text NOT NULL,
    input_file_id     text NOT NULL,
    output_file_id    text,
    error_file_id     text,
    -- seconds after their creation at which the output and error files expire; NULL: never
    output_expires_after integer,
    metadata          jsonb,
    errors            jsonb,                      -- {"object":"list","data":[…]} of a failed validation
    model             text,                       -- the alias of every line, when they share one
    -- total is the number of lines, known once validation passes; ingested is
    -- how many of them are jobs yet. They are inserted in order, a chunk per
    -- transaction, so a runner that takes over an ingestion resumes after line
    -- number ingested.
    total             integer NOT NULL DEFAULT 0,
    ingested          integer NOT NULL DEFAULT 0,
    -- request_counts and usage, frozen when the batch ends; while it runs
    -- they are counted from its jobs.
    completed         integer,
    failed            integer,
    usage             jsonb,
    -- The runner working on the batch (validating, ingesting or finalizing),
    -- and until when; a lease that ran out means its runner died.
    lease_owner       text,
    lease_expires_at  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    in_progress_at    timestamptz,
    finalizing_at     timestamptz,
    completed_at      timestamptz,
    failed_at         timestamptz,
    expired_at        timestamptz,
    cancelling_at     timestamptz,
    cancelled_at      timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX batches_tenant_idx ON batches (tenant, id);
CREATE INDEX batches_active_idx ON batches (created_at)
    WHERE status IN ('validating', 'in_progress', 'finalizing', 'cancelling');
CREATE INDEX batches_input_file_idx ON batches (input_file_id);

-- A batch's lines are jobs like any other (mode 'batch', priority 'batch'),
-- tagged with their batch and custom_id.
ALTER TABLE jobs
    ADD COLUMN batch_id  text REFERENCES batches (id),
    ADD COLUMN custom_id text;

-- request_counts: jobs of a batch by state. Output files: jobs of a batch in id order.
CREATE INDEX jobs_batch_state_idx ON jobs (batch_id, state) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_batch_id_idx ON jobs (batch_id, id) WHERE batch_id IS NOT NULL;

-- +goose Down
DROP INDEX jobs_batch_id_idx;
DROP INDEX jobs_batch_state_idx;
ALTER TABLE jobs DROP COLUMN custom_id, DROP COLUMN batch_id;
DROP TABLE batches;
DROP TABLE file_chunks;
DROP TABLE files;
