use std::{fmt, sync::Arc, time::Duration};

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use hookbr_core::{
    DedupKey, Provider, StoreError,
    dedup::StoreFuture,
    drift::{ChangeKind, DriftRecord, DriftState, KindShape, MAX_RECORDS},
    inbox::{
        BodyRemoved, BodyRemovedReason, EntityDelivery, EntityMark, Erasure, Inbox, InboxRecord,
        InboxRow, InboxStats, Inserted, ListFilter, RowOutcome, RowState, index_entries, now_ms,
        overflow_marker,
    },
    ledger::{BodyFingerprint, Seen},
    ordering::{StoredPosition, Verdict, judge_stored},
    privacy::{Subject, subjects},
};
use tokio_postgres::{IsolationLevel, Row};

use crate::{
    crypt::{InboxKeys, PLAINTEXT_KEY_ID, Rekeyed, open_listed, open_row},
    postgres_insert::{EntityColumns, InsertQueue, RowToInsert},
    postgres_tls::{self, HandshakeFailed},
};

/// Schema migrations, applied in order; `hookbr_schema_version` records which ran.
const MIGRATIONS: [&str; 9] = [
    r"
CREATE TABLE hookbr_inbox (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint        TEXT    NOT NULL,
    delivery_id     TEXT    NOT NULL,
    dedup_key       BYTEA   NOT NULL UNIQUE,
    body            BYTEA   NOT NULL,
    headers         TEXT    NOT NULL,
    matched_key     TEXT    NOT NULL,
    received_at     BIGINT  NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'in_flight', 'done', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    completed_at    BIGINT
);
CREATE INDEX hookbr_inbox_due ON hookbr_inbox (state, next_attempt_at);
CREATE INDEX hookbr_inbox_received ON hookbr_inbox (received_at);
",
    // 2: the claim token that fences `complete`/`fail`/`renew` to the current lease holder.
    "ALTER TABLE hookbr_inbox ADD COLUMN claim_token BIGINT NOT NULL DEFAULT 0;",
    // 3: the signature ledger (Grafeno): the first body fingerprint seen per delivery key,
    // kept until `expires_at` whatever happens to the inbox rows.
    r"
CREATE TABLE hookbr_signature_ledger (
    dedup_key   BYTEA  PRIMARY KEY,
    fingerprint BYTEA  NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX hookbr_signature_ledger_expiry ON hookbr_signature_ledger (expires_at);
",
    // 4: indexes that serve each query in its own order, so that no query scans or sorts
    // every row as the inbox grows: the claim reads due rows from `hookbr_inbox_pending` and
    // expired leases from `hookbr_inbox_leased`, each stopping at its `LIMIT`; lists by state
    // walk `hookbr_inbox_state`; the oldest open row is the first entry of `hookbr_inbox_open`.
    r"
DROP INDEX IF EXISTS hookbr_inbox_due;
CREATE INDEX hookbr_inbox_state ON hookbr_inbox (state, id);
CREATE INDEX hookbr_inbox_pending ON hookbr_inbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX hookbr_inbox_leased ON hookbr_inbox (lease_until, id) WHERE state = 'in_flight';
CREATE INDEX hookbr_inbox_open ON hookbr_inbox (received_at)
    WHERE state IN ('pending', 'in_flight');
",
    // 5: the schema-drift watch (`hookbr_core::drift`): the field paths seen per provider and
    // kind with their JSON type bits, and the change records (examples are masked).
    r"
CREATE TABLE hookbr_drift_paths (
    provider TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    path     TEXT    NOT NULL,
    types    INTEGER NOT NULL,
    PRIMARY KEY (provider, kind, path)
);
CREATE TABLE hookbr_drift_changes (
    provider   TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    change     TEXT   NOT NULL,
    detail     TEXT   NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    count      BIGINT NOT NULL,
    example    TEXT   NOT NULL,
    PRIMARY KEY (provider, kind, change, detail)
);
",
    // 6: entities (`hookbr_core::entity`, docs/ENTITIES.md): each stored delivery's entity and
    // position, written with the row and removed with it (the timeline reads the index on
    // the entity, never the bodies), and the ordering guard's latest position per entity
    // (pruned with the rows: an entity not seen for the retention is forgotten).
    r"
CREATE TABLE hookbr_entity_rows (
    row_id    BIGINT   PRIMARY KEY REFERENCES hookbr_inbox (id) ON DELETE CASCADE,
    kind      TEXT     NOT NULL,
    entity_id TEXT     NOT NULL,
    at_ms     BIGINT,
    rank      SMALLINT,
    terminal  BOOLEAN  NOT NULL DEFAULT FALSE,
    mark      TEXT
);
CREATE INDEX hookbr_entity_rows_entity ON hookbr_entity_rows (kind, entity_id, row_id);
CREATE TABLE hookbr_entity_latest (
    kind       TEXT     NOT NULL,
    entity_id  TEXT     NOT NULL,
    at_ms      BIGINT,
    rank       SMALLINT,
    terminal   BOOLEAN  NOT NULL,
    updated_at BIGINT   NOT NULL,
    PRIMARY KEY (kind, entity_id)
);
CREATE INDEX hookbr_entity_latest_updated ON hookbr_entity_latest (updated_at);
",
    // 7: encryption at rest (`crate::crypt`): the key each row's body and headers are sealed
    // under (`none`: stored in clear), indexed for the start-up check and `rekey`; and a
    // check value per key id, so a different key under a known id is refused at start-up.
    r"
ALTER TABLE hookbr_inbox ADD COLUMN key_id TEXT NOT NULL DEFAULT 'none';
CREATE INDEX hookbr_inbox_key ON hookbr_inbox (key_id, id);
CREATE TABLE hookbr_inbox_keys (
    key_id      TEXT   PRIMARY KEY,
    check_value BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL
);
",
    // 8: personal data (issue 19), as in SQLite: the subject index (HMAC-SHA-256 of each CPF,
    // CNPJ and e-mail address a row names, under this inbox's random salt; 244 random bits
    // from two `gen_random_uuid()`, a strong random source), rows stored before it indexed by
    // the first erasure (`unindexed_below`), and bodies removed before their row.
    r"
ALTER TABLE hookbr_inbox ADD COLUMN body_removed_at BIGINT, ADD COLUMN body_removed_why TEXT;
CREATE TABLE hookbr_inbox_subjects (
    subject BYTEA  NOT NULL,
    row_id  BIGINT NOT NULL REFERENCES hookbr_inbox (id) ON DELETE CASCADE,
    PRIMARY KEY (subject, row_id)
);
CREATE INDEX hookbr_inbox_subjects_row ON hookbr_inbox_subjects (row_id);
CREATE TABLE hookbr_inbox_meta (
    name   TEXT PRIMARY KEY,
    bytes  BYTEA,
    number BIGINT
);
INSERT INTO hookbr_inbox_meta (name, bytes) VALUES ('subject_salt',
    decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
INSERT INTO hookbr_inbox_meta (name, number)
    SELECT 'unindexed_below', COALESCE(MAX(id), 0) + 1 FROM hookbr_inbox;
CREATE INDEX hookbr_inbox_bodies ON hookbr_inbox (received_at)
    WHERE state = 'done' AND body_removed_at IS NULL;
",
    // 9: the rows per state, kept by triggers so that `stats` reads 256 small rows instead of
    // counting the inbox (4.7 s at 10 M rows). The counts are sharded by connection
    // (`pg_backend_pid() % 64`): each statement adds its change to its own connection's rows,
    // so concurrent writers rarely wait on one another. Inserts, updates and deletes add their
    // net change per state once per statement, from the transition tables, locking the rows in
    // state order (one inbox statement per transaction: no deadlock). A row trigger on inserts
    // would update one counts row once per inserted row: quadratic for a bulk insert in one
    // statement (every update of the same row in one transaction walks its version chain). The
    // inbox is locked against writers while the existing rows are counted and the triggers
    // created, so the counts start exact.
    r"
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
",
];

/// A stored position from its columns.
fn stored_position(
    at_ms: Option<i64>,
    rank: Option<i16>,
    terminal: bool,
) -> Option<StoredPosition> {
    StoredPosition::new(
        at_ms,
        rank.and_then(|rank| u8::try_from(rank).ok()),
        terminal,
    )
}

/// The claim: the first `$3` due rows by `next_attempt_at` and the first `$3` expired leases
/// by `lease_until`, each an index walk that stops at its limit and locks what it returns
/// (`SKIP LOCKED`: rows another worker is claiming are passed over), then the oldest due `$3`
/// of both. A single `WHERE (pending ...) OR (in_flight ...) ORDER BY` would read, sort and
/// lock-check every due row.
const CLAIM: &str = "WITH due AS (SELECT id, next_attempt_at FROM hookbr_inbox \
     WHERE state = 'pending' AND next_attempt_at <= $1 \
     ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED), \
     expired AS (SELECT id, next_attempt_at FROM hookbr_inbox \
     WHERE state = 'in_flight' AND lease_until <= $1 \
     ORDER BY lease_until, id LIMIT $3 FOR UPDATE SKIP LOCKED), \
     chosen AS (SELECT id FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) AS both_due \
     ORDER BY next_attempt_at, id LIMIT $3) \
     UPDATE hookbr_inbox SET state = 'in_flight', lease_until = $2, attempts = attempts + 1, \
     claim_token = claim_token + 1 + floor(random() * 4294967296)::bigint \
     WHERE id IN (SELECT id FROM chosen) RETURNING ";

/// [`Inbox::settle_many`] in one statement: the outcomes arrive as parallel arrays (id, claim
/// token, new state, next attempt, error), joined to their rows by primary key (`id =
/// ANY($1)` keeps that an index lookup); each row changes only while it is in flight under
/// that token, and the ids that changed come back. A completion keeps `next_attempt_at` and
/// `last_error`, as [`Inbox::complete`] does.
///
/// The fences on a row looked up by id say `state IS NOT DISTINCT FROM 'in_flight'` (the same
/// as `=` on this `NOT NULL` column) so that the planner cannot prove the predicate of the
/// partial index `hookbr_inbox_leased` from them: with the statistics of a table that grows
/// faster than autovacuum analyzes it, it otherwise ANDs a scan of that whole index (every
/// entry of every row in flight since the last vacuum) with the primary key lookup, and each
/// settlement costs more as the inbox grows (docs/BENCHMARKS.md, "Session 8").
const SETTLE_MANY: &str = "UPDATE hookbr_inbox AS h SET state = o.state, \
     completed_at = CASE WHEN o.state = 'done' THEN $6 ELSE h.completed_at END, \
     next_attempt_at = CASE WHEN o.state = 'done' THEN h.next_attempt_at ELSE o.next_at END, \
     last_error = CASE WHEN o.state = 'done' THEN h.last_error ELSE o.error END, \
     lease_until = NULL \
     FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[]) \
     AS o(id, claim, state, next_at, error) \
     WHERE h.id = ANY($1::bigint[]) AND h.id = o.id AND h.claim_token = o.claim \
     AND h.state IS NOT DISTINCT FROM 'in_flight' RETURNING h.id, h.claim_token";

/// [`Inbox::renew_many`] in one statement, fenced as [`Inbox::renew`].
const RENEW_MANY: &str = "UPDATE hookbr_inbox AS h SET lease_until = $3 \
     FROM unnest($1::bigint[], $2::bigint[]) AS o(id, claim) \
     WHERE h.id = ANY($1::bigint[]) AND h.id = o.id AND h.claim_token = o.claim \
     AND h.state IS NOT DISTINCT FROM 'in_flight' RETURNING h.id, h.claim_token";

/// Which of the `(id, claim)` pairs are among the rows a batch statement `changed` (it returns
/// each changed row's id and claim token), in order; a pair given twice counts once (the
/// first), as two updates one after the other would.
fn matched(
    ids: &[i64],
    claims: &[i64],
    changed: &[Row],
    operation: &'static str,
) -> Result<Vec<bool>, StoreError> {
    let mut changed = changed
        .iter()
        .map(|row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, i64>(1)?)))
        .collect::<Result<std::collections::HashSet<(i64, i64)>, tokio_postgres::Error>>()
        .map_err(failed(operation))?;
    Ok(ids
        .iter()
        .zip(claims)
        .map(|(&id, &claim)| changed.remove(&(id, claim)))
        .collect())
}

/// Completed rows to prune, a batch at a time (oldest id first).
/// `= ANY(ARRAY(...))`: the ids are looked up by primary key (`IN (SELECT ...)` may be planned
/// as a hash join over a scan of the whole table).
const PRUNE_BATCH: &str = "DELETE FROM hookbr_inbox WHERE id = ANY(ARRAY(SELECT id FROM hookbr_inbox \
     WHERE state = 'done' AND received_at < $1 ORDER BY id LIMIT $2))";

/// Rows deleted per statement by [`Inbox::prune`]: short transactions, so that a prune of
/// millions of rows neither holds locks for long nor builds one huge transaction.
const PRUNE_BATCH_ROWS: i64 = 5_000;

/// First key of the migration lock (`pg_advisory_xact_lock(int4, int4)`); the second is a
/// hash of the schema the tables live in, so inboxes in different schemas migrate
/// independently.
const MIGRATION_LOCK: i32 = 0x6862_7278; // "hbrx"

/// Connections per process by default.
const DEFAULT_POOL_SIZE: usize = 16;

/// Tasks that write queued inserts (`postgres_insert`), each holding a connection of the pool
/// while it writes a batch; at most the pool's size.
const INSERT_COMMITTERS: usize = 4;

/// How long a request waits for a free connection, or for a new one to be opened, before it
/// is refused (`503`, the provider retries). Well under the providers' own timeouts (10 s).
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// Completed rows whose body and headers to remove, a batch per statement
/// (`hookbr_inbox_bodies`), with their subject index entries.
const DROP_BODIES_BATCH: &str = "WITH dropped AS (UPDATE hookbr_inbox SET body = ''::bytea, \
     headers = '[]', key_id = 'none', body_removed_at = $3, \
     body_removed_why = 'retention' \
     WHERE id = ANY(ARRAY(SELECT id FROM hookbr_inbox WHERE state = 'done' \
     AND body_removed_at IS NULL AND received_at < $1 ORDER BY received_at LIMIT $2)) \
     RETURNING id), \
     unindexed AS (DELETE FROM hookbr_inbox_subjects \
     WHERE row_id = ANY(ARRAY(SELECT id FROM dropped))) \
     SELECT count(*) FROM dropped";

const COLUMNS: &str = "id, endpoint, delivery_id, dedup_key, body, headers, matched_key, \
                       received_at, state, attempts, last_error, next_attempt_at, claim_token, \
                       key_id, body_removed_at, body_removed_why";

/// The durable inbox on PostgreSQL: one database shared by many instances behind a load
/// balancer, each running its own receivers and [`Worker`](crate::worker::Worker)s.
///
/// * **Durability**: every statement runs in its own (autocommit) transaction, and
///   [`Inbox::insert`] resolves only after the server has answered the commit
///   (`ReadyForQuery`), with `synchronous_commit` on: the commit record is flushed to the
///   server's WAL on disk first, so a row acknowledged with `200` survives a crash of hookbr,
///   a crash of PostgreSQL and a power loss of its host (given `fsync = on` and disks that do
///   not lie). With synchronous replication configured, it is on the standby too.
///   [`connect`](Self::connect) refuses a session where `synchronous_commit` is `off`, which
///   would acknowledge commits that a crash can still lose. If the connection breaks before
///   the answer arrives the insert fails (`503`) even if the row was committed; the provider's
///   retry is then answered as a duplicate.
/// * **Group commit**: inserts that arrive while earlier ones are being written are queued and
///   written together, by one statement in one transaction (up to 256 rows and 16 MiB of
///   bodies; four committer tasks, at most the pool's size, take turns), so they share one
///   round trip and one WAL flush; a lone insert is written at once. Nothing is answered
///   before the commit; an insert not committed within 8 s is refused (`503`). If the
///   statement fails, each of its rows is written again on its own, so a row PostgreSQL
///   refuses costs only its own request. Copies of one delivery queued together are stored
///   once (the others are answered as duplicates). Rows written together get their ids in
///   key order, not arrival order (they arrived concurrently). The committers run on the
///   tokio runtime that called [`connect`](Self::connect): use the inbox while it runs.
/// * **Deduplication**: `INSERT ... ON CONFLICT (dedup_key) DO NOTHING`. A copy that arrives
///   while the first insert is still uncommitted waits for it, so a duplicate is only ever
///   answered from a committed row.
/// * **Concurrency**: [`Inbox::claim_due`] is one statement, `WITH ... (SELECT ... FOR UPDATE
///   SKIP LOCKED) UPDATE ... RETURNING ...`: workers in any number of processes claim
///   disjoint rows without waiting on each other, and each claim sets a lease. Due rows and
///   expired leases are read by two index walks (partial indexes per state) that stop at the
///   limit, so a claim costs the same with a backlog of millions; [`Inbox::prune`] deletes
///   5,000 rows per statement. [`Inbox::stats`] reads the counts per state that triggers keep
///   (migration 9), not the rows. A worker that dies leaves its rows in flight until the
///   lease expires; any worker then claims them again (the attempt counts). Times (`received_at`, `next_attempt_at`, leases) come from the
///   clock of the instance that writes them: keep the instances' clocks synchronised (NTP);
///   a skewed clock shifts its leases and retries by the skew.
/// * **Fencing**: each claim sets a new `claim_token`; `complete`, `fail` and `renew` carry it
///   in their `WHERE` (with the row in flight), so a worker whose lease expired and whose
///   row another instance claimed again changes nothing (they return `false`), and a `done`
///   row is never moved back.
/// * **Schema**: created and migrated on [`connect`](Self::connect), in a transaction holding
///   `pg_advisory_xact_lock`, so instances that start together migrate once; versions are
///   recorded in `hookbr_schema_version`. Tables are created in the connection's
///   `current_schema()`: to keep several inboxes in one database, give each URL its own
///   `search_path`, e.g. `postgres://hookbr@db/app?options=-csearch_path%3Dhookbr_shop1` (the
///   schema must exist).
/// * **Signature ledger** ([`Inbox::remember_body`], Grafeno): `hookbr_signature_ledger` keeps
///   the first body fingerprint of each delivery key for the time the pipeline asks (400
///   days), shared by every instance; one `INSERT ... ON CONFLICT` decides which of two bodies
///   presented at once is first. [`Inbox::prune`] removes expired entries, never because their
///   inbox row was pruned.
/// * **Pooling**: a [`deadpool_postgres`] pool per process (16 connections unless
///   [`connect_with_pool_size`](Self::connect_with_pool_size)). A single `tokio-postgres`
///   connection would serialise every commit of the process on one server backend, and it
///   dies with the server: the pool lets concurrent requests commit in parallel (PostgreSQL
///   then shares WAL flushes between them) and replaces broken connections after a database
///   restart. A request that cannot get a connection within 5 s is refused (`503`).
/// * **Errors** name the operation and the failure class (`postgres: insert: server error
///   57P01 (operator intervention)`), never bound values.
///
/// * **TLS**: libpq's `sslmode` (`disable`, `prefer` (the default, as libpq), `require`,
///   `verify-ca`, `verify-full`) and `sslrootcert` (a PEM CA file, or `system`) in the URL, on
///   rustls: `postgres://hookbr@db.example/hookbr?sslmode=verify-full` for a managed database.
///   A refused certificate fails the connection with `TLS handshake with db.example:5432
///   failed: certificate not trusted (unknown issuer)`.
///
/// Bodies are stored as received: a Foody body contains the trigger's token, so protect the
/// database as you protect the configuration.
///
/// ```no_run
/// use std::sync::Arc;
/// use hookbr_core::{Endpoint, Receiver, Secret, verify::HeaderSecretVerifier};
/// use hookbr_store::PostgresInbox;
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let inbox = Arc::new(PostgresInbox::connect("postgres://hookbr@127.0.0.1/hookbr").await?);
/// let receiver = Receiver::builder(
///     Endpoint::Bonifiq,
///     HeaderSecretVerifier::bonifiq([Secret::new("s3cr3t")?])?,
/// )
/// .inbox(inbox)
/// .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresInbox {
    pool: Pool,
    /// Group commit of the inserts (`postgres_insert`).
    inserts: InsertQueue,
    keys: Option<Arc<InboxKeys>>,
    /// The subject index's salt (`hookbr_inbox_meta`).
    salt: std::sync::Arc<[u8]>,
}

impl fmt::Debug for PostgresInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresInbox")
            .field("pool_size", &status.max_size)
            .field("connections", &status.size)
            .finish_non_exhaustive()
    }
}

/// The SQLSTATE class name (the first two characters of the code), as in PostgreSQL's
/// appendix A.
fn sqlstate_class(code: &str) -> &'static str {
    match code.get(..2).unwrap_or("") {
        "08" => "connection exception",
        "22" => "data exception",
        "23" => "integrity constraint violation",
        "25" => "invalid transaction state",
        "28" => "invalid authorization",
        "3D" => "invalid catalog name",
        "3F" => "invalid schema name",
        "40" => "transaction rollback",
        "42" => "syntax error or access rule violation",
        "53" => "insufficient resources",
        "54" => "program limit exceeded",
        "55" => "object not in prerequisite state",
        "57" => "operator intervention",
        "58" => "system error",
        "XX" => "internal error",
        _ => "database error",
    }
}

pub(crate) fn pg_error(operation: &str, error: &tokio_postgres::Error) -> StoreError {
    let category = if let Some(db) = error.as_db_error() {
        // The server's message and detail may quote values (a conflicting key, an invalid
        // input): only the code is kept.
        let code = db.code().code();
        format!("server error {code} ({})", sqlstate_class(code))
    } else if error.is_closed() {
        "connection closed".to_owned()
    } else if let Some(handshake) =
        std::error::Error::source(error).and_then(|cause| cause.downcast_ref::<HandshakeFailed>())
    {
        // Names the server and the reason; no need for tokio-postgres's generic prefix.
        handshake.to_string()
    } else {
        // Client-side errors (connect, I/O, protocol, type conversion) name the failure and
        // its cause, never a bound value.
        match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        }
    };
    StoreError::new(format!("postgres: {operation}: {category}"))
}

pub(crate) fn pool_error(operation: &str, error: &PoolError) -> StoreError {
    match error {
        PoolError::Backend(error) => pg_error(operation, error),
        PoolError::Timeout(_) => StoreError::new(format!(
            "postgres: {operation}: no connection available within {} s",
            POOL_TIMEOUT.as_secs()
        )),
        PoolError::Closed => StoreError::new(format!("postgres: {operation}: the pool is closed")),
        PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => {
            StoreError::new(format!("postgres: {operation}: cannot open a connection"))
        }
    }
}

/// `map_err` for the statements of `operation`.
pub(crate) fn failed(operation: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |error| pg_error(operation, &error)
}

impl PostgresInbox {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/database`,
    /// with libpq-style query options, `sslmode` and `sslrootcert` included), checks that
    /// commits are durable, and creates or migrates the schema.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the URL is invalid, the server cannot be reached, the session has
    /// `synchronous_commit = off`, or the migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_pool_size(url, DEFAULT_POOL_SIZE).await
    }

    /// [`connect`](Self::connect) with at most `size` connections in this process (at least
    /// 1). Keep `size` × instances under the server's `max_connections`.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub async fn connect_with_pool_size(url: &str, size: usize) -> Result<Self, StoreError> {
        let (url, ssl_mode, tls) = postgres_tls::split(url)?;
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|_| StoreError::new("postgres: connect: invalid connection URL"))?;
        config.ssl_mode(ssl_mode);
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|_| StoreError::new("postgres: connect: cannot build the pool"))?;
        let mut inbox = Self {
            inserts: InsertQueue::start(&pool, INSERT_COMMITTERS.min(size.max(1))),
            pool,
            keys: None,
            salt: std::sync::Arc::from(Vec::new()),
        };
        let mut client = inbox.client("connect").await?;
        let synchronous_commit: String = client
            .query_one("SELECT current_setting('synchronous_commit')", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(failed("connect"))?;
        if synchronous_commit == "off" {
            return Err(StoreError::new(
                "postgres: connect: synchronous_commit is off, so an acknowledged row could be \
                 lost in a crash; turn it on for this role or database",
            ));
        }
        migrate(&mut client).await.map_err(failed("migrate"))?;
        let salt: Vec<u8> = client
            .query_one(
                "SELECT bytes FROM hookbr_inbox_meta WHERE name = 'subject_salt'",
                &[],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(failed("connect"))?;
        inbox.salt = salt.into();
        drop(client);
        Ok(inbox)
    }

    async fn client(&self, operation: &'static str) -> Result<Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|error| pool_error(operation, &error))
    }
}

async fn migrate(client: &mut Object) -> Result<(), tokio_postgres::Error> {
    // READ COMMITTED whatever the server's default: each statement after the lock must see
    // what a process that migrated before us committed.
    let transaction = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await?;
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock($1::int4, hashtext(coalesce(current_schema(), '')))",
            &[&MIGRATION_LOCK],
        )
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS hookbr_schema_version (\
             version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await?;
    let current: i32 = transaction
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM hookbr_schema_version",
            &[],
        )
        .await?
        .try_get(0)?;
    // A database migrated by a newer hookbr (a rolling upgrade) has nothing left to apply.
    let applied = usize::try_from(current).unwrap_or(0);
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        transaction.batch_execute(migration).await?;
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        transaction
            .execute(
                "INSERT INTO hookbr_schema_version (version, applied_at) VALUES ($1, $2)",
                &[&version, &now_ms()],
            )
            .await?;
    }
    transaction.commit().await
}

fn inbox_row(row: &Row) -> Result<InboxRow, tokio_postgres::Error> {
    let key: Vec<u8> = row.try_get(3)?;
    let mut key_bytes = [0u8; 16];
    for (slot, byte) in key_bytes.iter_mut().zip(key) {
        *slot = byte;
    }
    let headers: String = row.try_get(5)?;
    let state: String = row.try_get(8)?;
    let attempts: i32 = row.try_get(9)?;
    let record = InboxRecord::new(
        row.try_get(1)?,
        row.try_get(2)?,
        DedupKey::from_bytes(key_bytes),
        row.try_get(4)?,
        serde_json::from_str(&headers).unwrap_or_default(),
        row.try_get(6)?,
        row.try_get(7)?,
    );
    let mut inbox_row = InboxRow::new(row.try_get(0)?, record);
    inbox_row.state = RowState::from_text(&state).unwrap_or(RowState::Pending);
    inbox_row.attempts = u32::try_from(attempts).unwrap_or(0);
    inbox_row.last_error = row.try_get(10)?;
    inbox_row.next_attempt_at_ms = row.try_get(11)?;
    inbox_row.claim = row.try_get(12)?;
    let removed_at: Option<i64> = row.try_get(14)?;
    let removed_why: Option<String> = row.try_get(15)?;
    inbox_row.body_removed = removed_at.map(|at| {
        let reason = removed_why
            .as_deref()
            .and_then(BodyRemovedReason::from_text)
            .unwrap_or(BodyRemovedReason::Retention);
        BodyRemoved::new(at, reason)
    });
    Ok(inbox_row)
}

/// A row as stored, with the id of the key it is sealed under.
fn sealed_row(row: &Row) -> Result<(InboxRow, String), tokio_postgres::Error> {
    Ok((inbox_row(row)?, row.try_get(13)?))
}

/// Reads and opens listed `rows` ([`open_listed`]).
fn inbox_rows(
    operation: &'static str,
    keys: Option<&InboxKeys>,
    rows: &[Row],
) -> Result<Vec<InboxRow>, StoreError> {
    rows.iter()
        .map(|row| {
            let (row, key_id) = sealed_row(row).map_err(failed(operation))?;
            Ok(open_listed(keys, row, &key_id))
        })
        .collect()
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Rows indexed per transaction when an inbox created before the subject index is indexed.
const LEGACY_BATCH: i64 = 500;

/// Indexes the next batch of rows stored before migration 8 (highest id first); `false` once
/// none is left. Instances erasing at once each take the meta row's lock in turn.
async fn index_legacy_rows(
    client: &mut Object,
    salt: &[u8],
) -> Result<bool, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    let below: i64 = transaction
        .query_one(
            "SELECT number FROM hookbr_inbox_meta WHERE name = 'unindexed_below' FOR UPDATE",
            &[],
        )
        .await?
        .try_get(0)?;
    if below <= 1 {
        return Ok(false);
    }
    let rows = transaction
        .query(
            "SELECT id, body FROM hookbr_inbox WHERE id < $1 ORDER BY id DESC LIMIT $2",
            &[&below, &LEGACY_BATCH],
        )
        .await?;
    let mut next = 0i64;
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        let body: Vec<u8> = row.try_get(1)?;
        let hashes = index_entries(&body, salt);
        let hashes: Vec<&[u8]> = hashes.iter().map(<[u8; 32]>::as_slice).collect();
        transaction
            .execute(
                "INSERT INTO hookbr_inbox_subjects (subject, row_id) \
                 SELECT DISTINCT s, $2::bigint FROM unnest($1::bytea[]) AS s ON CONFLICT DO NOTHING",
                &[&hashes, &id],
            )
            .await?;
        next = id;
    }
    transaction
        .execute(
            "UPDATE hookbr_inbox_meta SET number = $1 WHERE name = 'unindexed_below'",
            &[&next],
        )
        .await?;
    transaction.commit().await?;
    Ok(next > 1)
}

/// [`Inbox::erase_subject`] in one transaction.
async fn erase_in(
    client: &mut Object,
    subject: &Subject,
    salt: &[u8],
) -> Result<Erasure, tokio_postgres::Error> {
    let hash = subject.hash(salt);
    let mut erasure = Erasure::new(hash);
    let transaction = client.transaction().await?;
    let mut ids: Vec<i64> = transaction
        .query(
            "SELECT row_id FROM hookbr_inbox_subjects WHERE subject = $1",
            &[&hash.as_slice()],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    // Rows naming more subjects than the index keeps: read those bodies.
    let marker = overflow_marker(salt);
    for row in transaction
        .query(
            "SELECT h.id, h.body FROM hookbr_inbox_subjects AS s \
             JOIN hookbr_inbox AS h ON h.id = s.row_id WHERE s.subject = $1",
            &[&marker.as_slice()],
        )
        .await?
    {
        let body: Vec<u8> = row.try_get(1)?;
        if subjects(&body).contains(subject) {
            ids.push(row.try_get(0)?);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    // The state each row had, then the rows blanked and marked done, and their index entries.
    let before = transaction
        .query(
            "SELECT state FROM hookbr_inbox WHERE id = ANY($1) FOR UPDATE",
            &[&ids],
        )
        .await?;
    for row in &before {
        let state: String = row.try_get(0)?;
        erasure.count(RowState::from_text(&state).unwrap_or(RowState::Done));
    }
    let now = now_ms();
    transaction
        .execute(
            "UPDATE hookbr_inbox SET body = ''::bytea, headers = '[]', key_id = 'none', \
             body_removed_at = $2, body_removed_why = 'erased', state = 'done', lease_until = NULL, \
             completed_at = COALESCE(completed_at, $2) WHERE id = ANY($1)",
            &[&ids, &now],
        )
        .await?;
    transaction
        .execute(
            "DELETE FROM hookbr_inbox_subjects WHERE row_id = ANY($1)",
            &[&ids],
        )
        .await?;
    for spelling in subject.spellings() {
        erasure.drift_examples += transaction
            .execute(
                "UPDATE hookbr_drift_changes SET example = $2 \
                 WHERE strpos(lower(example), $1) > 0",
                &[&spelling, &hookbr_core::drift::ERASED_EXAMPLE],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(erasure)
}

impl Inbox for PostgresInbox {
    fn insert(&self, record: InboxRecord) -> StoreFuture<'_, Inserted> {
        Box::pin(async move {
            // The entity, its position and the subject index are read from the clear body,
            // before it is sealed.
            let entity = record
                .entity_note()
                .map(|(entity, position)| EntityColumns {
                    kind: entity.kind.to_owned(),
                    entity_id: entity.id,
                    at_ms: position.and_then(|p| p.at_ms),
                    rank: position.and_then(|p| p.rank).map(i16::from),
                    terminal: position.is_some_and(|p| p.terminal),
                });
            let subjects = index_entries(&record.body, &self.salt);
            let (key_id, body, headers) = match self.keys.as_deref() {
                Some(keys) => {
                    let (key_id, body) = keys.seal(&record)?;
                    (key_id, body, String::new())
                }
                None => (
                    PLAINTEXT_KEY_ID.to_owned(),
                    record.body,
                    serde_json::to_string(&record.headers).unwrap_or_else(|_| "[]".into()),
                ),
            };
            self.inserts
                .insert(RowToInsert {
                    endpoint: record.endpoint,
                    delivery_id: record.delivery_id,
                    dedup_key: record.key.as_bytes().to_vec(),
                    body,
                    headers,
                    matched_key: record.matched_key,
                    received_at_ms: record.received_at_ms,
                    key_id,
                    subjects,
                    entity,
                })
                .await
        })
    }

    fn claim_due(&self, limit: usize, lease: Duration) -> StoreFuture<'_, Vec<InboxRow>> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Box::pin(async move {
            let client = self.client("claim").await?;
            let statement = client
                .prepare_cached(&format!("{CLAIM}{COLUMNS}"))
                .await
                .map_err(failed("claim"))?;
            let now = now_ms();
            let rows = client
                .query(&statement, &[&now, &now.saturating_add(lease_ms), &limit])
                .await
                .map_err(failed("claim"))?;
            // A row that does not open (key not configured, ciphertext altered) is not handed
            // out: it is dead-lettered with the reason as its error.
            let mut opened = Vec::with_capacity(rows.len());
            for row in &rows {
                let (row, key_id) = sealed_row(row).map_err(failed("claim"))?;
                let (id, claim) = (row.id, row.claim);
                match open_row(self.keys.as_deref(), row, &key_id) {
                    Ok(row) => opened.push(row),
                    Err(error) => {
                        self.fail(id, claim, error.to_string(), None).await?;
                    }
                }
            }
            // RETURNING has no order: hand the rows out oldest due first, as SQLite does.
            let mut rows = opened;
            rows.sort_by_key(|row| (row.next_attempt_at_ms, row.id));
            Ok(rows)
        })
    }

    fn complete(&self, id: i64, claim: i64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let client = self.client("complete").await?;
            let statement = client
                .prepare_cached(
                    "UPDATE hookbr_inbox SET state = 'done', completed_at = $3, \
                     lease_until = NULL \
                     WHERE id = $1 AND claim_token = $2 AND state IS NOT DISTINCT FROM 'in_flight'",
                )
                .await
                .map_err(failed("complete"))?;
            let changed = client
                .execute(&statement, &[&id, &claim, &now_ms()])
                .await
                .map_err(failed("complete"))?;
            Ok(changed == 1)
        })
    }

    fn fail(
        &self,
        id: i64,
        claim: i64,
        error: String,
        retry_at_ms: Option<i64>,
    ) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let (state, next) = match retry_at_ms {
                Some(at) => ("pending", at),
                None => ("dead", now_ms()),
            };
            let client = self.client("fail").await?;
            let statement = client
                .prepare_cached(
                    "UPDATE hookbr_inbox SET state = $3, next_attempt_at = $4, last_error = $5, \
                     lease_until = NULL \
                     WHERE id = $1 AND claim_token = $2 AND state IS NOT DISTINCT FROM 'in_flight'",
                )
                .await
                .map_err(failed("fail"))?;
            let changed = client
                .execute(&statement, &[&id, &claim, &state, &next, &error])
                .await
                .map_err(failed("fail"))?;
            Ok(changed == 1)
        })
    }

    fn renew(&self, id: i64, claim: i64, lease: Duration) -> StoreFuture<'_, bool> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        Box::pin(async move {
            let client = self.client("renew").await?;
            let statement = client
                .prepare_cached(
                    "UPDATE hookbr_inbox SET lease_until = $3 \
                     WHERE id = $1 AND claim_token = $2 AND state IS NOT DISTINCT FROM 'in_flight'",
                )
                .await
                .map_err(failed("renew"))?;
            let changed = client
                .execute(
                    &statement,
                    &[&id, &claim, &now_ms().saturating_add(lease_ms)],
                )
                .await
                .map_err(failed("renew"))?;
            Ok(changed == 1)
        })
    }

    /// One statement, one round trip and one commit for the whole batch.
    fn settle_many(&self, outcomes: Vec<RowOutcome>) -> StoreFuture<'_, Vec<bool>> {
        Box::pin(async move {
            if outcomes.is_empty() {
                return Ok(Vec::new());
            }
            let now = now_ms();
            let mut ids = Vec::with_capacity(outcomes.len());
            let mut claims = Vec::with_capacity(outcomes.len());
            let mut states = Vec::with_capacity(outcomes.len());
            let mut next = Vec::with_capacity(outcomes.len());
            let mut errors: Vec<Option<&str>> = Vec::with_capacity(outcomes.len());
            for outcome in &outcomes {
                ids.push(outcome.id());
                claims.push(outcome.claim());
                match outcome {
                    RowOutcome::Completed { .. } => {
                        states.push("done");
                        next.push(None);
                        errors.push(None);
                    }
                    RowOutcome::Failed {
                        error, retry_at_ms, ..
                    } => {
                        states.push(if retry_at_ms.is_some() {
                            "pending"
                        } else {
                            "dead"
                        });
                        next.push(Some(retry_at_ms.unwrap_or(now)));
                        errors.push(Some(error.as_str()));
                    }
                }
            }
            let client = self.client("settle").await?;
            let statement = client
                .prepare_cached(SETTLE_MANY)
                .await
                .map_err(failed("settle"))?;
            let changed = client
                .query(&statement, &[&ids, &claims, &states, &next, &errors, &now])
                .await
                .map_err(failed("settle"))?;
            matched(&ids, &claims, &changed, "settle")
        })
    }

    /// One statement for the whole batch.
    fn renew_many(&self, rows: &[(i64, i64)], lease: Duration) -> StoreFuture<'_, Vec<bool>> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let (ids, claims): (Vec<i64>, Vec<i64>) = rows.iter().copied().unzip();
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let client = self.client("renew").await?;
            let statement = client
                .prepare_cached(RENEW_MANY)
                .await
                .map_err(failed("renew"))?;
            let until = now_ms().saturating_add(lease_ms);
            let changed = client
                .query(&statement, &[&ids, &claims, &until])
                .await
                .map_err(failed("renew"))?;
            matched(&ids, &claims, &changed, "renew")
        })
    }

    fn list(&self, filter: ListFilter) -> StoreFuture<'_, Vec<InboxRow>> {
        Box::pin(async move {
            let limit = if filter.limit == 0 { 100 } else { filter.limit };
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let state = filter.state.map(RowState::as_str);
            let client = self.client("list").await?;
            // Only the filters given (a `$1 IS NULL OR ...` form keeps the planner from walking
            // `hookbr_inbox_state`). A provider matches its own endpoint (`bonifiq`) and its
            // qualified ones (`foody:<name>`), as in SQLite (here without LIKE's wildcards).
            let mut conditions = Vec::new();
            let mut values: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
            if let Some(state) = &state {
                values.push(state);
                conditions.push(format!("state = ${}", values.len()));
            }
            if let Some(provider) = &filter.provider {
                values.push(provider);
                let n = values.len();
                conditions.push(format!(
                    "(endpoint = ${n} OR starts_with(endpoint, ${n} || ':'))"
                ));
            }
            if let Some(since) = &filter.since_ms {
                values.push(since);
                conditions.push(format!("received_at >= ${}", values.len()));
            }
            values.push(&limit);
            let condition = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {} ", conditions.join(" AND "))
            };
            let statement = client
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM hookbr_inbox {condition}ORDER BY id DESC LIMIT ${}",
                    values.len()
                ))
                .await
                .map_err(failed("list"))?;
            let rows = client
                .query(&statement, &values)
                .await
                .map_err(failed("list"))?;
            inbox_rows("list", self.keys.as_deref(), &rows)
        })
    }

    fn get(&self, id: i64) -> StoreFuture<'_, Option<InboxRow>> {
        Box::pin(async move {
            let client = self.client("get").await?;
            let statement = client
                .prepare_cached(&format!("SELECT {COLUMNS} FROM hookbr_inbox WHERE id = $1"))
                .await
                .map_err(failed("get"))?;
            let row = client
                .query_opt(&statement, &[&id])
                .await
                .map_err(failed("get"))?;
            row.as_ref()
                .map(|row| {
                    let (row, key_id) = sealed_row(row).map_err(failed("get"))?;
                    open_row(self.keys.as_deref(), row, &key_id)
                })
                .transpose()
        })
    }

    fn replay(&self, id: i64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let client = self.client("replay").await?;
            let statement = client
                .prepare_cached(
                    "UPDATE hookbr_inbox SET state = 'pending', attempts = 0, \
                     next_attempt_at = $2 WHERE id = $1 AND state = 'dead'",
                )
                .await
                .map_err(failed("replay"))?;
            let changed = client
                .execute(&statement, &[&id, &now_ms()])
                .await
                .map_err(failed("replay"))?;
            Ok(changed == 1)
        })
    }

    fn replay_dead(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let client = self.client("replay").await?;
            let statement = client
                .prepare_cached(
                    "UPDATE hookbr_inbox SET state = 'pending', attempts = 0, \
                     next_attempt_at = $1 WHERE state = 'dead'",
                )
                .await
                .map_err(failed("replay"))?;
            client
                .execute(&statement, &[&now_ms()])
                .await
                .map_err(failed("replay"))
        })
    }

    fn prune(&self, before_ms: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let client = self.client("prune").await?;
            let statement = client
                .prepare_cached(PRUNE_BATCH)
                .await
                .map_err(failed("prune"))?;
            let mut deleted = 0;
            loop {
                let batch = client
                    .execute(&statement, &[&before_ms, &PRUNE_BATCH_ROWS])
                    .await
                    .map_err(failed("prune"))?;
                deleted += batch;
                if batch < u64::try_from(PRUNE_BATCH_ROWS).unwrap_or(u64::MAX) {
                    break;
                }
            }
            // The ledger outlives the rows: only its own expiry removes an entry.
            client
                .execute(
                    "DELETE FROM hookbr_signature_ledger WHERE expires_at <= $1",
                    &[&now_ms()],
                )
                .await
                .map_err(failed("prune"))?;
            // Entity rows went with their inbox rows; the guard forgets entities not seen
            // since.
            client
                .execute(
                    "DELETE FROM hookbr_entity_latest WHERE updated_at < $1",
                    &[&before_ms],
                )
                .await
                .map_err(failed("prune"))?;
            Ok(deleted)
        })
    }

    fn drop_bodies(&self, before_ms: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let client = self.client("drop bodies").await?;
            let statement = client
                .prepare_cached(DROP_BODIES_BATCH)
                .await
                .map_err(failed("drop bodies"))?;
            let mut dropped = 0u64;
            loop {
                let batch: i64 = client
                    .query_one(&statement, &[&before_ms, &PRUNE_BATCH_ROWS, &now_ms()])
                    .await
                    .and_then(|row| row.try_get(0))
                    .map_err(failed("drop bodies"))?;
                dropped += count(batch);
                if batch < PRUNE_BATCH_ROWS {
                    break;
                }
            }
            Ok(dropped)
        })
    }

    fn erase_subject(&self, subject: Subject) -> StoreFuture<'_, Option<Erasure>> {
        Box::pin(async move {
            let mut client = self.client("erase").await?;
            for _ in 0..u32::MAX {
                if !index_legacy_rows(&mut client, &self.salt)
                    .await
                    .map_err(failed("erase"))?
                {
                    break;
                }
            }
            let erasure = erase_in(&mut client, &subject, &self.salt)
                .await
                .map_err(failed("erase"))?;
            Ok(Some(erasure))
        })
    }

    fn remember_body(
        &self,
        key: DedupKey,
        fingerprint: BodyFingerprint,
        keep: Duration,
    ) -> StoreFuture<'_, Option<Seen>> {
        let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        Box::pin(async move {
            let client = self.client("remember body").await?;
            let now = now_ms();
            // New key (or an expired entry): this body is remembered and returned; otherwise
            // the update does not apply and the stored fingerprint is read. A concurrent
            // first insert of the same key is waited for, so exactly one body is first.
            let statement = client
                .prepare_cached(
                    "INSERT INTO hookbr_signature_ledger (dedup_key, fingerprint, expires_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (dedup_key) DO UPDATE SET \
                     fingerprint = EXCLUDED.fingerprint, expires_at = EXCLUDED.expires_at \
                     WHERE hookbr_signature_ledger.expires_at <= $4 RETURNING 1",
                )
                .await
                .map_err(failed("remember body"))?;
            let key_bytes = key.as_bytes().as_slice();
            let presented = fingerprint.as_bytes().as_slice();
            let inserted = client
                .query_opt(
                    &statement,
                    &[&key_bytes, &presented, &now.saturating_add(keep_ms), &now],
                )
                .await
                .map_err(failed("remember body"))?;
            if inserted.is_some() {
                return Ok(Some(Seen::First));
            }
            let stored: Vec<u8> = client
                .query_one(
                    "SELECT fingerprint FROM hookbr_signature_ledger WHERE dedup_key = $1",
                    &[&key_bytes],
                )
                .await
                .map_err(failed("remember body"))?
                .get(0);
            Ok(Some(if stored.as_slice() == presented {
                Seen::Same
            } else {
                Seen::Different
            }))
        })
    }

    fn judge_entity(&self, id: i64) -> StoreFuture<'_, Option<Verdict>> {
        Box::pin(async move {
            let operation = "judge entity";
            let mut client = self.client(operation).await?;
            let transaction = client.transaction().await.map_err(failed(operation))?;
            let note = transaction
                .query_opt(
                    "SELECT kind, entity_id, at_ms, rank, terminal FROM hookbr_entity_rows \
                     WHERE row_id = $1",
                    &[&id],
                )
                .await
                .map_err(failed(operation))?;
            let Some(note) = note else {
                return Ok(Some(Verdict::Untracked));
            };
            let read = |note: &Row| -> Result<_, tokio_postgres::Error> {
                Ok((
                    note.try_get::<_, String>(0)?,
                    note.try_get::<_, String>(1)?,
                    stored_position(note.try_get(2)?, note.try_get(3)?, note.try_get(4)?),
                ))
            };
            let (kind, entity, position) = read(&note).map_err(failed(operation))?;
            let Some(position) = position else {
                return Ok(Some(Verdict::Untracked));
            };
            // One judge at a time per entity, across workers and instances, until the commit.
            transaction
                .execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 6))",
                    &[&kind, &entity],
                )
                .await
                .map_err(failed(operation))?;
            let latest = transaction
                .query_opt(
                    "SELECT at_ms, rank, terminal FROM hookbr_entity_latest \
                     WHERE kind = $1 AND entity_id = $2",
                    &[&kind, &entity],
                )
                .await
                .map_err(failed(operation))?
                .map(|row| -> Result<_, tokio_postgres::Error> {
                    Ok(stored_position(
                        row.try_get(0)?,
                        row.try_get(1)?,
                        row.try_get(2)?,
                    ))
                })
                .transpose()
                .map_err(failed(operation))?
                .flatten();
            let (verdict, advance) = judge_stored(latest.as_ref(), &position);
            let now = now_ms();
            if advance {
                transaction
                    .execute(
                        "INSERT INTO hookbr_entity_latest (kind, entity_id, at_ms, rank, \
                         terminal, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (kind, entity_id) DO UPDATE SET at_ms = EXCLUDED.at_ms, \
                         rank = EXCLUDED.rank, terminal = EXCLUDED.terminal, \
                         updated_at = EXCLUDED.updated_at",
                        &[
                            &kind,
                            &entity,
                            &position.at_ms,
                            &position.rank.map(i16::from),
                            &position.terminal,
                            &now,
                        ],
                    )
                    .await
                    .map_err(failed(operation))?;
            } else {
                transaction
                    .execute(
                        "UPDATE hookbr_entity_latest SET updated_at = $3 \
                         WHERE kind = $1 AND entity_id = $2",
                        &[&kind, &entity, &now],
                    )
                    .await
                    .map_err(failed(operation))?;
            }
            let mark = if verdict == Verdict::Stale {
                EntityMark::Stale
            } else {
                EntityMark::Passed
            };
            transaction
                .execute(
                    "UPDATE hookbr_entity_rows SET mark = $2 WHERE row_id = $1",
                    &[&id, &mark.as_str()],
                )
                .await
                .map_err(failed(operation))?;
            transaction.commit().await.map_err(failed(operation))?;
            Ok(Some(verdict))
        })
    }

    fn hold_entity(&self, id: i64, claim: i64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let operation = "hold entity";
            let client = self.client(operation).await?;
            // One statement: the attempt is given back and the row marked held together.
            let changed = client
                .query(
                    "WITH given AS (UPDATE hookbr_inbox SET attempts = GREATEST(attempts - 1, 0) \
                     WHERE id = $1 AND claim_token = $2 AND state IS NOT DISTINCT FROM 'in_flight' RETURNING id) \
                     UPDATE hookbr_entity_rows SET mark = 'held' \
                     WHERE row_id IN (SELECT id FROM given) RETURNING row_id",
                    &[&id, &claim],
                )
                .await
                .map_err(failed(operation))?;
            Ok(!changed.is_empty())
        })
    }

    fn entity_deliveries(
        &self,
        kind: String,
        id: String,
        limit: usize,
    ) -> StoreFuture<'_, Vec<EntityDelivery>> {
        Box::pin(async move {
            let operation = "entity deliveries";
            let client = self.client(operation).await?;
            let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
            let columns = COLUMNS
                .split(", ")
                .map(|column| format!("i.{}", column.trim()))
                .collect::<Vec<_>>()
                .join(", ");
            let rows = client
                .query(
                    &format!(
                        "SELECT {columns}, e.at_ms, e.rank, e.terminal, e.mark \
                         FROM hookbr_entity_rows AS e JOIN hookbr_inbox AS i ON i.id = e.row_id \
                         WHERE e.kind = $1 AND e.entity_id = $2 ORDER BY e.row_id DESC LIMIT $3"
                    ),
                    &[&kind, &id, &limit],
                )
                .await
                .map_err(failed(operation))?;
            let mut deliveries = rows
                .iter()
                .map(|r| -> Result<_, tokio_postgres::Error> {
                    let mark: Option<String> = r.try_get(19)?;
                    let (row, key_id) = sealed_row(r)?;
                    Ok(EntityDelivery::new(
                        open_listed(self.keys.as_deref(), row, &key_id),
                        stored_position(r.try_get(16)?, r.try_get(17)?, r.try_get(18)?),
                        mark.as_deref().and_then(EntityMark::from_text),
                    ))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(failed(operation))?;
            EntityDelivery::sort(&mut deliveries);
            Ok(deliveries)
        })
    }

    fn save_drift(&self, state: DriftState) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let mut client = self.client("save drift").await?;
            let transaction = client.transaction().await.map_err(failed("save drift"))?;
            let path = transaction
                .prepare_cached(
                    "INSERT INTO hookbr_drift_paths (provider, kind, path, types) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (provider, kind, path) \
                     DO UPDATE SET types = hookbr_drift_paths.types | EXCLUDED.types",
                )
                .await
                .map_err(failed("save drift"))?;
            for shape in &state.shapes {
                for (name, types) in &shape.paths {
                    transaction
                        .execute(
                            &path,
                            &[
                                &shape.provider.as_str(),
                                &shape.kind,
                                name,
                                &i32::from(*types),
                            ],
                        )
                        .await
                        .map_err(failed("save drift"))?;
                }
            }
            let change = transaction
                .prepare_cached(
                    "INSERT INTO hookbr_drift_changes (provider, kind, change, detail, \
                     first_seen, last_seen, count, example) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (provider, kind, change, detail) DO UPDATE SET \
                     first_seen = LEAST(hookbr_drift_changes.first_seen, EXCLUDED.first_seen), \
                     last_seen = GREATEST(hookbr_drift_changes.last_seen, EXCLUDED.last_seen), \
                     count = hookbr_drift_changes.count + EXCLUDED.count",
                )
                .await
                .map_err(failed("save drift"))?;
            for record in &state.records {
                let count = i64::try_from(record.count).unwrap_or(i64::MAX);
                transaction
                    .execute(
                        &change,
                        &[
                            &record.provider.as_str(),
                            &record.kind,
                            &record.change.as_str(),
                            &record.detail,
                            &record.first_seen_ms,
                            &record.last_seen_ms,
                            &count,
                            &record.example,
                        ],
                    )
                    .await
                    .map_err(failed("save drift"))?;
            }
            transaction.commit().await.map_err(failed("save drift"))?;
            Ok(true)
        })
    }

    fn load_drift(&self) -> StoreFuture<'_, Option<DriftState>> {
        Box::pin(async move {
            let client = self.client("load drift").await?;
            let rows = client
                .query(
                    "SELECT provider, kind, path, types FROM hookbr_drift_paths \
                     ORDER BY provider, kind",
                    &[],
                )
                .await
                .map_err(failed("load drift"))?;
            let mut shapes: Vec<KindShape> = Vec::new();
            for row in rows {
                let (provider, kind, path, types): (String, String, String, i32) = (
                    row.try_get(0).map_err(failed("load drift"))?,
                    row.try_get(1).map_err(failed("load drift"))?,
                    row.try_get(2).map_err(failed("load drift"))?,
                    row.try_get(3).map_err(failed("load drift"))?,
                );
                let Ok(provider) = provider.parse::<Provider>() else {
                    continue;
                };
                let types = u8::try_from(types & 0xff).unwrap_or(0);
                match shapes.last_mut() {
                    Some(shape) if shape.provider == provider && shape.kind == kind => {
                        shape.paths.push((path, types));
                    }
                    _ => shapes.push(KindShape::new(provider, kind, vec![(path, types)])),
                }
            }
            let limit = i64::try_from(MAX_RECORDS).unwrap_or(i64::MAX);
            let rows = client
                .query(
                    "SELECT provider, kind, change, detail, first_seen, last_seen, count, example \
                     FROM hookbr_drift_changes ORDER BY last_seen DESC LIMIT $1",
                    &[&limit],
                )
                .await
                .map_err(failed("load drift"))?;
            let mut records = Vec::new();
            for row in rows {
                let record =
                    (|| {
                        let provider: String = row.try_get(0)?;
                        let change: String = row.try_get(2)?;
                        let count: i64 = row.try_get(6)?;
                        Ok::<_, tokio_postgres::Error>(
                        provider.parse::<Provider>().ok().zip(ChangeKind::from_text(&change)).map(
                            |(provider, change)| -> Result<DriftRecord, tokio_postgres::Error> {
                                Ok(DriftRecord::new(
                                    provider,
                                    row.try_get::<_, String>(1)?,
                                    change,
                                    row.try_get::<_, String>(3)?,
                                    row.try_get::<_, i64>(4)?,
                                    row.try_get::<_, i64>(5)?,
                                    u64::try_from(count).unwrap_or(0),
                                    row.try_get::<_, String>(7)?,
                                ))
                            },
                        ),
                    )
                    })()
                    .map_err(failed("load drift"))?;
                if let Some(record) = record {
                    records.push(record.map_err(failed("load drift"))?);
                }
            }
            Ok(Some(DriftState::new(shapes, records)))
        })
    }

    fn stats(&self) -> StoreFuture<'_, InboxStats> {
        Box::pin(async move {
            let client = self.client("stats").await?;
            // One statement: the counts and the oldest row come from one snapshot. The counts
            // are the trigger-kept shards of migration 9 (256 rows), the oldest open row the
            // first entry of `hookbr_inbox_open`: no scan of the inbox.
            let statement = client
                .prepare_cached(
                    "SELECT COALESCE(SUM(n) FILTER (WHERE state = 'pending'), 0)::bigint, \
                     COALESCE(SUM(n) FILTER (WHERE state = 'in_flight'), 0)::bigint, \
                     COALESCE(SUM(n) FILTER (WHERE state = 'done'), 0)::bigint, \
                     COALESCE(SUM(n) FILTER (WHERE state = 'dead'), 0)::bigint, \
                     (SELECT MIN(received_at) FROM hookbr_inbox \
                      WHERE state IN ('pending', 'in_flight')) \
                     FROM hookbr_inbox_counts",
                )
                .await
                .map_err(failed("stats"))?;
            let row = client
                .query_one(&statement, &[])
                .await
                .map_err(failed("stats"))?;
            let column = |index: usize| row.try_get::<_, i64>(index).map(count);
            let mut stats = InboxStats::default();
            (|| {
                stats.pending = column(0)?;
                stats.in_flight = column(1)?;
                stats.done = column(2)?;
                stats.dead = column(3)?;
                stats.oldest_pending_ms = row.try_get(4)?;
                Ok(())
            })()
            .map_err(failed("stats"))?;
            Ok(stats)
        })
    }

    fn oldest_open_by_provider(
        &self,
        scan: usize,
    ) -> StoreFuture<'_, Option<Vec<(hookbr_core::Provider, i64)>>> {
        Box::pin(async move {
            let limit = i64::try_from(scan).unwrap_or(i64::MAX);
            let client = self.client("oldest open rows").await?;
            // A walk of `hookbr_inbox_open` (received_at, open rows only) that stops at the limit.
            let statement = client
                .prepare_cached(
                    "SELECT endpoint, received_at FROM hookbr_inbox \
                     WHERE state IN ('pending', 'in_flight') ORDER BY received_at LIMIT $1",
                )
                .await
                .map_err(failed("oldest open rows"))?;
            let rows = client
                .query(&statement, &[&limit])
                .await
                .map_err(failed("oldest open rows"))?;
            let rows = rows
                .iter()
                .map(|row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, i64>(1)?)))
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()
                .map_err(failed("oldest open rows"))?;
            Ok(Some(hookbr_core::inbox::oldest_per_provider(rows)))
        })
    }
}

/// One statement and its parameters, run by [`PostgresInbox::complete_with`] (and
/// [`PostgresDatabase::transaction`](crate::PostgresDatabase::transaction)).
pub type Statement<'a> = (&'a str, &'a [&'a (dyn tokio_postgres::types::ToSql + Sync)]);

impl PostgresInbox {
    /// [`Inbox::complete`] and the caller's `statements` in one transaction: the row is marked
    /// `done` (fenced by `claim`, as `complete` is) first, then each statement runs, then the
    /// transaction commits. When the row is no longer in flight under `claim` (the lease was
    /// lost and another worker claimed it again) nothing runs and `Ok(false)` is returned:
    /// the caller's writes happen exactly when the done mark does.
    ///
    /// This is how a sink writing into the inbox's own database (hookbr's `type = "postgres"`
    /// table sink) makes its insert and the done mark one commit. A handler that used it tells
    /// the worker with [`Delivered::completed_by_handler`](crate::worker::Delivered::completed_by_handler).
    /// The done mark runs first so that the row's lock is taken before the caller's writes: a
    /// worker claiming the row again meanwhile waits for this transaction, then sees it done.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when a statement or the commit fails (nothing is kept; if the connection
    /// broke during the commit, the outcome is unknown, as for `complete`). The message names
    /// the operation and the failure class, never a bound value.
    pub async fn complete_with(
        &self,
        id: i64,
        claim: i64,
        statements: &[Statement<'_>],
    ) -> Result<bool, StoreError> {
        let mut client = self.client("complete").await?;
        let transaction = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await
            .map_err(failed("complete"))?;
        let mark = transaction
            .prepare_cached(
                "UPDATE hookbr_inbox SET state = 'done', completed_at = $3, \
                 lease_until = NULL \
                 WHERE id = $1 AND claim_token = $2 AND state IS NOT DISTINCT FROM 'in_flight'",
            )
            .await
            .map_err(failed("complete"))?;
        let changed = transaction
            .execute(&mark, &[&id, &claim, &now_ms()])
            .await
            .map_err(failed("complete"))?;
        if changed != 1 {
            transaction.rollback().await.map_err(failed("complete"))?;
            return Ok(false);
        }
        for (sql, parameters) in statements {
            let statement = transaction
                .prepare_cached(sql)
                .await
                .map_err(failed("complete: statement"))?;
            transaction
                .execute(&statement, parameters)
                .await
                .map_err(failed("complete: statement"))?;
        }
        transaction.commit().await.map_err(failed("complete"))?;
        Ok(true)
    }
}

/// Rows looked at per rekey pass at most, whatever the batch asked.
const MAX_REKEY_BATCH: i64 = 10_000;

impl PostgresInbox {
    /// Seals the bodies and headers of new rows under the current key of `keys`, and opens
    /// stored rows under theirs ([`crate::crypt`]). Call [`check_keys`](Self::check_keys)
    /// before serving.
    #[must_use]
    pub fn with_keys(mut self, keys: Option<Arc<InboxKeys>>) -> Self {
        self.keys = keys;
        self
    }

    /// Checks the configured keys against the inbox, as
    /// [`SqliteInbox::check_keys`](crate::SqliteInbox::check_keys) does.
    ///
    /// # Errors
    ///
    /// [`StoreError`] naming the key id that is wrong or missing.
    pub async fn check_keys(&self) -> Result<(), StoreError> {
        let client = self.client("check keys").await?;
        if let Some(keys) = self.keys.as_deref() {
            for id in keys.ids() {
                let Some(check) = keys.check_value(id)? else {
                    continue;
                };
                client
                    .execute(
                        "INSERT INTO hookbr_inbox_keys (key_id, check_value, created_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
                        &[&id, &check, &now_ms()],
                    )
                    .await
                    .map_err(failed("check keys"))?;
                let stored: Vec<u8> = client
                    .query_one(
                        "SELECT check_value FROM hookbr_inbox_keys WHERE key_id = $1",
                        &[&id],
                    )
                    .await
                    .and_then(|row| row.try_get(0))
                    .map_err(failed("check keys"))?;
                if !keys.check_matches(id, &stored) {
                    return Err(StoreError::new(format!(
                        "inbox encryption key {id:?} is not the key this inbox's rows under \
                         {id:?} were written with (wrong key for that id)"
                    )));
                }
            }
        }
        // The key ids rows are stored under, one index probe each.
        let mut after = String::new();
        for _ in 0..10_000 {
            let next: Option<String> = client
                .query_one(
                    "SELECT MIN(key_id) FROM hookbr_inbox WHERE key_id > $1",
                    &[&after],
                )
                .await
                .and_then(|row| row.try_get(0))
                .map_err(failed("check keys"))?;
            let Some(id) = next else { break };
            if id != PLAINTEXT_KEY_ID
                && !self
                    .keys
                    .as_deref()
                    .is_some_and(|keys| keys.ids().any(|k| k == id))
            {
                return Err(StoreError::new(format!(
                    "inbox rows are encrypted under key {id:?}, which is not configured \
                     ([inbox] encryption_key / encryption_keys)"
                )));
            }
            after = id;
        }
        Ok(())
    }

    /// Re-encrypts up to `batch` rows not under the current key (plaintext rows included),
    /// with ids above `after`, oldest first: what it did, and the last id it looked at (give
    /// it back as `after` to go on). Each row is updated only if its key id is still the one
    /// read, so concurrent rekeys do not undo each other. Rows that do not open are left as
    /// they are and counted as failed.
    ///
    /// # Errors
    ///
    /// [`StoreError`] without keys configured, or when the database fails.
    pub async fn rekey(&self, after: i64, batch: usize) -> Result<(Rekeyed, i64), StoreError> {
        let keys = self
            .keys
            .as_deref()
            .ok_or_else(|| StoreError::new("rekey needs an encryption key"))?;
        let batch = i64::try_from(batch.max(1))
            .unwrap_or(i64::MAX)
            .min(MAX_REKEY_BATCH);
        let mut client = self.client("rekey").await?;
        let transaction = client.transaction().await.map_err(failed("rekey"))?;
        let rows = transaction
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM hookbr_inbox WHERE id > $1 AND key_id <> $2 \
                     ORDER BY id LIMIT $3"
                ),
                &[&after, &keys.current_id(), &batch],
            )
            .await
            .map_err(failed("rekey"))?;
        let mut done = Rekeyed {
            more: i64::try_from(rows.len()).unwrap_or(i64::MAX) == batch,
            ..Rekeyed::default()
        };
        let mut last = after;
        for row in &rows {
            let (row, key_id) = sealed_row(row).map_err(failed("rekey"))?;
            last = row.id;
            let id = row.id;
            match open_row(Some(keys), row, &key_id).and_then(|row| keys.seal(&row.record)) {
                Ok((new_id, body)) => {
                    done.rekeyed += transaction
                        .execute(
                            "UPDATE hookbr_inbox SET body = $2, headers = '', key_id = $3 \
                             WHERE id = $1 AND key_id = $4",
                            &[&id, &body, &new_id, &key_id],
                        )
                        .await
                        .map_err(failed("rekey"))?;
                }
                Err(error) => done.failure(&error),
            }
        }
        transaction.commit().await.map_err(failed("rekey"))?;
        Ok((done, last))
    }
}

#[cfg(test)]
mod plans {
    //! The plans PostgreSQL chooses for the queries that must not read every row, on a real
    //! server (`HOOKBR_TEST_POSTGRES_URL`, started by `scripts/test`; skipped without it
    //! outside CI) and a table of 200,000 rows.

    use super::*;

    #[tokio::test]
    async fn the_claim_and_prune_walk_indexes_in_order() {
        let base = match std::env::var("HOOKBR_TEST_POSTGRES_URL") {
            Ok(url) => url,
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("HOOKBR_TEST_POSTGRES_URL is not set in CI")
            }
            Err(_) => return,
        };
        let schema = format!("plans_{}_{}", std::process::id(), now_ms());
        let (admin, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        let inbox = PostgresInbox::connect_with_pool_size(&url, 1)
            .await
            .unwrap();
        let client = inbox.client("test").await.unwrap();
        // 200,000 rows: most done, 2,000 pending and due, 500 in flight with expired leases;
        // not analyzed until the test says so.
        client
            .batch_execute(
                "ALTER TABLE hookbr_inbox SET (autovacuum_enabled = off); \
                 INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers, \
                 matched_key, received_at, next_attempt_at, state, lease_until) \
                 SELECT 'bonifiq', n::text, sha256(n::text::bytea), '\\x', '[]', '#0', n, n, \
                 CASE WHEN n % 100 = 0 THEN 'pending' WHEN n % 400 = 1 THEN 'in_flight' \
                 ELSE 'done' END, CASE WHEN n % 400 = 1 THEN n END \
                 FROM generate_series(1, 200000) AS n",
            )
            .await
            .unwrap();
        let plan = |sql: String| {
            let client = &client;
            async move {
                let rows = client.query(&format!("EXPLAIN {sql}"), &[]).await.unwrap();
                rows.iter()
                    .map(|row| row.get::<_, String>(0))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        };
        // Before any statistics (a young table, or one that grows faster than autovacuum
        // analyzes it): settling and renewing 32 rows looks them up by primary key, without a
        // walk of the partial index of every row in flight.
        // 32 of the rows in flight (ids 1, 401, 801, ...).
        let array = |f: fn(u32) -> String, kind: &str| {
            let items: Vec<String> = (0..32).map(|k| f(1 + 400 * k)).collect();
            format!("ARRAY[{}]::{kind}[]", items.join(","))
        };
        let ids = array(|n| n.to_string(), "bigint");
        let settle = plan(
            SETTLE_MANY
                .replace("$1", &ids)
                .replace("$2", &array(|_| "0".into(), "bigint"))
                .replace("$3", &array(|_| "'done'".into(), "text"))
                .replace("$4", &array(|_| "0".into(), "bigint"))
                .replace("$5", &array(|_| "NULL".into(), "text"))
                .replace("$6", "1"),
        )
        .await;
        let renew = plan(
            RENEW_MANY
                .replace("$1", &ids)
                .replace("$2", &array(|_| "0".into(), "bigint"))
                .replace("$3", "1"),
        )
        .await;
        for (what, plan) in [("settle", settle), ("renew", renew)] {
            assert!(plan.contains("hookbr_inbox_pkey"), "{what}:\n{plan}");
            assert!(!plan.contains("hookbr_inbox_leased"), "{what}:\n{plan}");
        }
        client.batch_execute("ANALYZE hookbr_inbox").await.unwrap();
        let claim = plan(
            format!("{CLAIM}id")
                .replace("$1", "300000")
                .replace("$2", "400000")
                .replace("$3", "16"),
        )
        .await;
        for (bad, what) in [
            ("Seq Scan", "reads the whole table"),
            ("BitmapOr", "reads every due row"),
            ("Bitmap Heap Scan", "reads every due row"),
        ] {
            assert!(!claim.contains(bad), "the claim {what}:\n{claim}");
        }
        assert!(claim.contains("hookbr_inbox_pending"), "{claim}");
        assert!(claim.contains("hookbr_inbox_leased"), "{claim}");
        // The only sort is of the (at most 2 × 16) rows both walks returned.
        for line in claim.lines().filter(|line| line.contains("Sort  (")) {
            let rows: u64 = line
                .split("rows=")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(u64::MAX);
            assert!(rows <= 32, "the claim sorts {rows} rows:\n{claim}");
        }
        let prune = plan(PRUNE_BATCH.replace("$1", "300000").replace("$2", "5000")).await;
        assert!(
            !prune.contains("Seq Scan"),
            "the prune reads everything:\n{prune}"
        );
        drop(client);
        admin
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    }
}
