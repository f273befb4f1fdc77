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

-- +goose Down
DROP TABLE budget_leases;
