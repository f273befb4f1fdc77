-- +goose Up
-- One token bucket per (account, model alias), shared by every worker replica
-- that serves it. See internal/budget.
CREATE TABLE budgets (
    account       text NOT NULL,
    model         text NOT NULL,
    tokens        double precision NOT NULL,
    requests      double precision NOT NULL,
    at            timestamptz NOT NULL,
    day_start     timestamptz NOT NULL,
    day_used      double precision NOT NULL DEFAULT 0,
    factor        double precision NOT NULL DEFAULT 1,
    last_throttle timestamptz NOT NULL DEFAULT 'epoch',
    PRIMARY KEY (account, model)
);

-- +goose Down
DROP TABLE budgets;
