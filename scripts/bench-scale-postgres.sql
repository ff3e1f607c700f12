-- The PostgreSQL claim before and after migration 4 on :rows rows (every :every-th pending), for
-- scripts/bench-scale (HOOKBR_BENCH_POSTGRES_URL): EXPLAIN ANALYZE of one 16-row claim each,
-- rolled back; then, on the schema after migration 4, every other query the worker, the
-- inspector and `hookbr inbox` run (as hookbr-store's postgres.rs writes them): the first list
-- page, the list of dead rows, stats (a count of every row), migration 9 and stats after it
-- (trigger-kept counts), one prune batch (rolled back, with the counts' trigger) and a get. Works in a
-- schema of its own (bench_scale), dropped at the end.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench_scale CASCADE;
CREATE SCHEMA bench_scale;
SET search_path = bench_scale;
CREATE TABLE hookbr_inbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, endpoint TEXT NOT NULL,
    delivery_id TEXT NOT NULL, dedup_key BYTEA NOT NULL UNIQUE, body BYTEA NOT NULL,
    headers TEXT NOT NULL, matched_key TEXT NOT NULL, received_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight', 'done', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at BIGINT NOT NULL, lease_until BIGINT,
    last_error TEXT, completed_at BIGINT, claim_token BIGINT NOT NULL DEFAULT 0);
CREATE INDEX hookbr_inbox_due ON hookbr_inbox (state, next_attempt_at);
CREATE INDEX hookbr_inbox_received ON hookbr_inbox (received_at);
INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers, matched_key,
    received_at, next_attempt_at, state)
  SELECT 'bonifiq', 'fill-' || n, sha256(n::text::bytea), convert_to(repeat('x', 330), 'UTF8'),
    '[]', '#0', n, n, CASE WHEN n % :every = 0 THEN 'pending' ELSE 'done' END
  FROM generate_series(1, :rows) AS n;
ANALYZE hookbr_inbox;
\echo old claim
BEGIN;
EXPLAIN (ANALYZE, COSTS OFF) UPDATE hookbr_inbox SET state = 'in_flight', lease_until = 9e15::bigint,
  attempts = attempts + 1, claim_token = claim_token + 1 + floor(random() * 4294967296)::bigint
  WHERE id IN (SELECT id FROM hookbr_inbox WHERE (state = 'pending' AND next_attempt_at <= 9e15::bigint)
  OR (state = 'in_flight' AND lease_until <= 9e15::bigint) ORDER BY next_attempt_at LIMIT 16
  FOR UPDATE SKIP LOCKED) RETURNING id;
ROLLBACK;
\echo migration 4
DROP INDEX IF EXISTS hookbr_inbox_due;
CREATE INDEX hookbr_inbox_state ON hookbr_inbox (state, id);
CREATE INDEX hookbr_inbox_pending ON hookbr_inbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX hookbr_inbox_leased ON hookbr_inbox (lease_until, id) WHERE state = 'in_flight';
CREATE INDEX hookbr_inbox_open ON hookbr_inbox (received_at) WHERE state IN ('pending', 'in_flight');
ANALYZE hookbr_inbox;
\echo new claim
BEGIN;
EXPLAIN (ANALYZE, COSTS OFF) WITH due AS (SELECT id, next_attempt_at FROM hookbr_inbox
  WHERE state = 'pending' AND next_attempt_at <= 9e15::bigint ORDER BY next_attempt_at, id LIMIT 16 FOR UPDATE SKIP LOCKED),
  expired AS (SELECT id, next_attempt_at FROM hookbr_inbox WHERE state = 'in_flight' AND lease_until <= 9e15::bigint
  ORDER BY lease_until, id LIMIT 16 FOR UPDATE SKIP LOCKED),
  chosen AS (SELECT id FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) AS both_due ORDER BY next_attempt_at, id LIMIT 16)
  UPDATE hookbr_inbox SET state = 'in_flight', lease_until = 9e15::bigint, attempts = attempts + 1,
  claim_token = claim_token + 1 + floor(random() * 4294967296)::bigint WHERE id IN (SELECT id FROM chosen) RETURNING id;
ROLLBACK;
\echo list page
EXPLAIN (ANALYZE, COSTS OFF) SELECT id, endpoint, delivery_id, dedup_key, body, headers, matched_key, received_at, state, attempts, last_error, next_attempt_at, claim_token
  FROM hookbr_inbox ORDER BY id DESC LIMIT 100;
\echo list dead
EXPLAIN (ANALYZE, COSTS OFF) SELECT id, endpoint, delivery_id, dedup_key, body, headers, matched_key, received_at, state, attempts, last_error, next_attempt_at, claim_token
  FROM hookbr_inbox WHERE state = 'dead' ORDER BY id DESC LIMIT 100;
\echo stats
EXPLAIN (ANALYZE, COSTS OFF) SELECT COUNT(*) FILTER (WHERE state = 'pending'),
  COUNT(*) FILTER (WHERE state = 'in_flight'), COUNT(*) FILTER (WHERE state = 'done'),
  COUNT(*) FILTER (WHERE state = 'dead'),
  MIN(received_at) FILTER (WHERE state IN ('pending', 'in_flight')) FROM hookbr_inbox;
\echo migration 9 (trigger-kept counts: counting the existing rows, then the triggers)
\timing on
BEGIN;
LOCK TABLE hookbr_inbox IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE hookbr_inbox_counts (
    state TEXT    NOT NULL,
    slot  INTEGER NOT NULL,
    n     BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (state, slot)
);
INSERT INTO hookbr_inbox_counts (state, slot, n)
    SELECT state, slot, 0
    FROM unnest(ARRAY['pending', 'in_flight', 'done', 'dead']) AS state,
         generate_series(0, 63) AS slot;
UPDATE hookbr_inbox_counts AS c SET n = existing.n
    FROM (SELECT state, COUNT(*) AS n FROM hookbr_inbox GROUP BY state) AS existing
    WHERE c.state = existing.state AND c.slot = 0;
CREATE FUNCTION hookbr_inbox_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    own_slot INTEGER := pg_backend_pid() % 64;
    change RECORD;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR change IN SELECT state, COUNT(*) AS delta FROM new_rows
                      GROUP BY state ORDER BY state LOOP
            UPDATE hookbr_inbox_counts SET n = n + change.delta
                WHERE state = change.state AND slot = own_slot;
        END LOOP;
    ELSIF TG_OP = 'DELETE' THEN
        FOR change IN SELECT state, COUNT(*) AS delta FROM old_rows
                      GROUP BY state ORDER BY state LOOP
            UPDATE hookbr_inbox_counts SET n = n - change.delta
                WHERE state = change.state AND slot = own_slot;
        END LOOP;
    ELSE
        FOR change IN SELECT state, SUM(delta) AS delta
                      FROM (SELECT state, 1 AS delta FROM new_rows
                            UNION ALL SELECT state, -1 AS delta FROM old_rows) AS moved
                      GROUP BY state HAVING SUM(delta) <> 0 ORDER BY state LOOP
            UPDATE hookbr_inbox_counts SET n = n + change.delta
                WHERE state = change.state AND slot = own_slot;
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER hookbr_inbox_count_insert AFTER INSERT ON hookbr_inbox
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE PROCEDURE hookbr_inbox_count_rows();
CREATE TRIGGER hookbr_inbox_count_update AFTER UPDATE ON hookbr_inbox
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE PROCEDURE hookbr_inbox_count_rows();
CREATE TRIGGER hookbr_inbox_count_delete AFTER DELETE ON hookbr_inbox
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE PROCEDURE hookbr_inbox_count_rows();
COMMIT;
\timing off
\echo stats after migration 9
EXPLAIN (ANALYZE, COSTS OFF) SELECT COALESCE(SUM(n) FILTER (WHERE state = 'pending'), 0)::bigint,
  COALESCE(SUM(n) FILTER (WHERE state = 'in_flight'), 0)::bigint,
  COALESCE(SUM(n) FILTER (WHERE state = 'done'), 0)::bigint,
  COALESCE(SUM(n) FILTER (WHERE state = 'dead'), 0)::bigint,
  (SELECT MIN(received_at) FROM hookbr_inbox WHERE state IN ('pending', 'in_flight'))
  FROM hookbr_inbox_counts;
\echo prune batch
BEGIN;
EXPLAIN (ANALYZE, COSTS OFF) DELETE FROM hookbr_inbox WHERE id = ANY(ARRAY(SELECT id FROM hookbr_inbox
  WHERE state = 'done' AND received_at < 9e15::bigint ORDER BY id LIMIT 5000));
ROLLBACK;
\echo get
EXPLAIN (ANALYZE, COSTS OFF) SELECT id, endpoint, delivery_id, dedup_key, body, headers, matched_key, received_at, state, attempts, last_error, next_attempt_at, claim_token
  FROM hookbr_inbox WHERE id = 12345;
DROP SCHEMA bench_scale CASCADE;
