-- The PostgreSQL claim before and after migration 4 on :rows rows (every :every-th pending), for
-- scripts/bench-scale (HOOKBR_BENCH_POSTGRES_URL): EXPLAIN ANALYZE of one 16-row claim each,
-- rolled back; then, on the schema after migration 4, every other query the worker, the
-- inspector and `hookbr inbox` run (as hookbr-store's postgres.rs writes them): the first list
-- page, the list of dead rows, stats, one prune batch (rolled back) and a get. Works in a
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
\echo prune batch
BEGIN;
EXPLAIN (ANALYZE, COSTS OFF) DELETE FROM hookbr_inbox WHERE id = ANY(ARRAY(SELECT id FROM hookbr_inbox
  WHERE state = 'done' AND received_at < 9e15::bigint ORDER BY id LIMIT 5000));
ROLLBACK;
\echo get
EXPLAIN (ANALYZE, COSTS OFF) SELECT id, endpoint, delivery_id, dedup_key, body, headers, matched_key, received_at, state, attempts, last_error, next_attempt_at, claim_token
  FROM hookbr_inbox WHERE id = 12345;
DROP SCHEMA bench_scale CASCADE;
