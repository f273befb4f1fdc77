-- +goose Up
-- Per-key limits (issue 17). A key may be confined to some aliases, and to a
-- number of requests and of tokens per minute. A key over its rate limit is
-- not refused: its jobs wait in the queue, like any demand above quota, and
-- the claim (jobs.Store.ClaimNext) skips them until the key's bucket has
-- refilled. See docs/ARCHITECTURE.md, "Per-key limits".
ALTER TABLE api_keys
    ADD COLUMN models text[],                    -- allowed aliases; NULL: every alias
    ADD COLUMN rpm    integer CHECK (rpm > 0),   -- jobs started per minute; NULL: no limit
    ADD COLUMN tpm    integer CHECK (tpm > 0);   -- quota tokens (job cost) per minute; NULL: no limit

-- A key's two token buckets, kept as "theoretical arrival times" (GCRA): the
-- time at which the bucket is full again. Each started job moves it on by
-- 60/rpm seconds (and cost × 60/tpm seconds), from now if it lies in the past;
-- the bucket holds a minute's worth, so a key may start a job while the time
-- is less than a minute ahead. Keeping times rather than levels lets
-- concurrent claims charge with one relative UPDATE, with nothing to refill.
CREATE TABLE key_buckets (
    key_id      text PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
    requests_at timestamptz NOT NULL,
    tokens_at   timestamptz NOT NULL
);

-- What each limited key may still start now: requests (a count) and tokens
-- (a cost; a job starts while the key has any left, so one large job is not
-- held for ever). 'Infinity' where the key has no such limit.
CREATE VIEW key_allowance AS
SELECT k.id AS key_id,
       coalesce(k.rpm * (1 - greatest(extract(epoch FROM b.requests_at - now()), 0) / 60), 'Infinity')::float8 AS requests,
       coalesce(k.tpm * (1 - greatest(extract(epoch FROM b.tokens_at - now()), 0) / 60), 'Infinity')::float8 AS tokens
FROM api_keys k LEFT JOIN key_buckets b ON b.key_id = k.id
WHERE k.rpm IS NOT NULL OR k.tpm IS NOT NULL;

-- +goose Down
DROP VIEW key_allowance;
DROP TABLE key_buckets;
ALTER TABLE api_keys DROP COLUMN tpm, DROP COLUMN rpm, DROP COLUMN models;
