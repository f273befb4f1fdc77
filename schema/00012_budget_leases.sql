-- +goose Up
-- Each worker pool replica holds a slice of its (account, model) bucket in
-- memory (budget.Lease). The slices count against the bucket: the row
-- refills only into the room the live slices leave. A slice not renewed by
-- expires_at belongs to a replica that stopped; it is dropped.
CREATE TABLE budget_leases (
    account    text NOT NULL,
    model      text NOT NULL,
    holder     text NOT NULL,
    tokens     double precision NOT NULL,
    requests   double precision NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (account, model, holder),
    FOREIGN KEY (account, model) REFERENCES budgets (account, model) ON DELETE CASCADE
);

-- The janitor's scan for jobs whose queue token was never sent: queued ones,
-- and ones another job's token claimed (tokens are fungible), which owe the
-- queue a token.
CREATE INDEX jobs_tokenless_idx ON jobs (created_at) WHERE enqueued_at IS NULL;

-- +goose Down
DROP INDEX jobs_tokenless_idx;
DROP TABLE budget_leases;
