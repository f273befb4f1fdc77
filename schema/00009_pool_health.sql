-- +goose Up
-- What each worker pool knows of its (account, alias): whether the account
-- can serve it now, and the error that says why not. Pools write it when the
-- state changes and every few seconds (seen_at), so the api can tell callers
-- at once when no account can serve a model, and list the pools
-- (GET /v1/accounts). Several replicas of a pool share a row: the newest
-- word wins, and a replica that stops writing ages out of it.
CREATE TABLE pool_health (
    account        text NOT NULL,
    model          text NOT NULL,
    healthy        boolean NOT NULL,
    last_error     text,
    last_error_code text,
    last_error_at  timestamptz,
    changed_at     timestamptz NOT NULL DEFAULT now(),
    seen_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, model)
);

-- Which alias a job was asked for, when a fallback alias served it.
ALTER TABLE jobs ADD COLUMN requested_model text;

-- +goose Down
ALTER TABLE jobs DROP COLUMN requested_model;
DROP TABLE pool_health;
