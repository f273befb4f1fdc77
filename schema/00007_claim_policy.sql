-- +goose Up
-- A queue message is a token: "a job of this alias and priority is waiting".
-- The worker that receives one claims the job to run next from this table,
-- by policy (tenant fair share, then earliest deadline), so the order of work
-- is decided here, where every waiting job is visible, not by SQS's arrival
-- order. See docs/ARCHITECTURE.md, "Choosing the next job".

ALTER TABLE jobs
    DROP CONSTRAINT jobs_state_check,
    ADD CONSTRAINT jobs_state_check
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
    -- When the caller stops waiting: a sync caller's stated timeout (less a
    -- margin to answer in), or an async job's horizon. NULL: no deadline.
    -- A job that cannot finish by its deadline is never started.
    ADD COLUMN deadline  timestamptz,
    -- A released job (transient error, graceful stop) is claimable again
    -- from this time on.
    ADD COLUMN run_after timestamptz NOT NULL DEFAULT now(),
    -- Quota the job is expected to reserve (input estimate + max tokens) and
    -- what its call was charged: the api estimates queue waits from both.
    ADD COLUMN cost      real NOT NULL DEFAULT 0,
    ADD COLUMN charged   real,
    -- The tenant's weight in fair sharing, from its API key.
    ADD COLUMN weight    real NOT NULL DEFAULT 1 CHECK (weight > 0);

-- The claim's scan: queued jobs of one alias and priority.
CREATE INDEX jobs_claim_idx ON jobs (model, priority, run_after) WHERE state = 'queued';
-- The sweeper's scans: expired leases, and recent calls for the service time.
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_model_finished_idx ON jobs (model, finished_at) WHERE state = 'succeeded';

-- Recent service per (alias, tenant), decaying exponentially: the claim
-- serves the tenant with the least recent service per unit of weight first,
-- so one tenant's backlog never holds up another tenant's work.
CREATE TABLE fair_shares (
    model  text NOT NULL,
    tenant text NOT NULL,
    usage  double precision NOT NULL,
    at     timestamptz NOT NULL,
    PRIMARY KEY (model, tenant)
);

ALTER TABLE api_keys ADD COLUMN weight real NOT NULL DEFAULT 1 CHECK (weight > 0);

-- Every ending of a job is announced from here, in the transaction that
-- makes it, so no code path can forget to (and none pays a statement for it).
-- +goose StatementBegin
CREATE FUNCTION jobs_announce_done() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sluice_job_done', NEW.id);
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER jobs_announce_done AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state
          AND NEW.state IN ('succeeded', 'failed', 'cancelled', 'expired'))
    EXECUTE FUNCTION jobs_announce_done();

-- A caller that hangs up now cancels its job outright (jobs.Store.Abandon):
-- the worker hears the ending on sluice_job_done and stops the call.
-- cancel_requested_at is no longer written; a later migration drops it.

-- Expired jobs raise webhook events like the other endings.
DROP TRIGGER jobs_webhook_event ON jobs;
CREATE TRIGGER jobs_webhook_event AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.callback_url IS NOT NULL AND OLD.state IS DISTINCT FROM NEW.state
          AND NEW.state IN ('succeeded', 'failed', 'cancelled', 'expired'))
    EXECUTE FUNCTION jobs_webhook_event();

-- +goose Down
DROP TRIGGER jobs_webhook_event ON jobs;
CREATE TRIGGER jobs_webhook_event AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.callback_url IS NOT NULL AND OLD.state IS DISTINCT FROM NEW.state
          AND NEW.state IN ('succeeded', 'failed', 'cancelled'))
    EXECUTE FUNCTION jobs_webhook_event();
DROP TRIGGER jobs_announce_done ON jobs;
DROP FUNCTION jobs_announce_done();
ALTER TABLE api_keys DROP COLUMN weight;
DROP TABLE fair_shares;
DROP INDEX jobs_model_finished_idx;
DROP INDEX jobs_lease_idx;
DROP INDEX jobs_claim_idx;
UPDATE jobs SET state = 'cancelled' WHERE state = 'expired';
ALTER TABLE jobs
    DROP COLUMN weight, DROP COLUMN charged, DROP COLUMN cost, DROP COLUMN run_after, DROP COLUMN deadline,
    DROP CONSTRAINT jobs_state_check,
    ADD CONSTRAINT jobs_state_check CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled'));
