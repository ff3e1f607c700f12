use std::{fmt, time::Duration};

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use hookbr_core::{
    DedupKey, Provider, StoreError,
    dedup::StoreFuture,
    drift::{ChangeKind, DriftRecord, DriftState, KindShape, MAX_RECORDS},
    inbox::{
        Inbox, InboxRecord, InboxRow, InboxStats, Inserted, ListFilter, RowOutcome, RowState,
        now_ms,
    },
    ledger::{BodyFingerprint, Seen},
};
use tokio_postgres::{IsolationLevel, Row};

use crate::postgres_tls::{self, HandshakeFailed};

/// Schema migrations, applied in order; `hookbr_schema_version` records which ran.
const MIGRATIONS: [&str; 6] = [
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
    // 6: the rows per state, kept by triggers so that `stats` reads 256 small rows instead of
    // counting the inbox (4.7 s at 10 M rows). The counts are sharded by connection
    // (`pg_backend_pid() % 64`): each statement adds its change to its own connection's rows,
    // so concurrent writers rarely wait on one another. An insert (one row, the hot path) adds
    // 1 in a row trigger; updates and deletes (batches of settles, prunes) add their net change
    // per state once per statement, from the transition tables, locking the rows in state
    // order (one inbox statement per transaction: no deadlock). The
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
    IF TG_OP = 'DELETE' THEN
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
CREATE FUNCTION hookbr_inbox_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE hookbr_inbox_counts SET n = n + 1
        WHERE state = NEW.state AND slot = pg_backend_pid() % 64;
    RETURN NULL;
END
$$;
CREATE TRIGGER hookbr_inbox_count_insert AFTER INSERT ON hookbr_inbox
    FOR EACH ROW EXECUTE PROCEDURE hookbr_inbox_count_insert();
CREATE TRIGGER hookbr_inbox_count_update AFTER UPDATE ON hookbr_inbox
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE PROCEDURE hookbr_inbox_count_rows();
CREATE TRIGGER hookbr_inbox_count_delete AFTER DELETE ON hookbr_inbox
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE PROCEDURE hookbr_inbox_count_rows();
",
];

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
const SETTLE_MANY: &str = "UPDATE hookbr_inbox AS h SET state = o.state, \
     completed_at = CASE WHEN o.state = 'done' THEN $6 ELSE h.completed_at END, \
     next_attempt_at = CASE WHEN o.state = 'done' THEN h.next_attempt_at ELSE o.next_at END, \
     last_error = CASE WHEN o.state = 'done' THEN h.last_error ELSE o.error END, \
     lease_until = NULL \
     FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[]) \
     AS o(id, claim, state, next_at, error) \
     WHERE h.id = ANY($1::bigint[]) AND h.id = o.id AND h.claim_token = o.claim \
     AND h.state = 'in_flight' RETURNING h.id, h.claim_token";

/// [`Inbox::renew_many`] in one statement, fenced as [`Inbox::renew`].
const RENEW_MANY: &str = "UPDATE hookbr_inbox AS h SET lease_until = $3 \
     FROM unnest($1::bigint[], $2::bigint[]) AS o(id, claim) \
     WHERE h.id = ANY($1::bigint[]) AND h.id = o.id AND h.claim_token = o.claim \
     AND h.state = 'in_flight' RETURNING h.id, h.claim_token";

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

/// How long a request waits for a free connection, or for a new one to be opened, before it
/// is refused (`503`, the provider retries). Well under the providers' own timeouts (10 s).
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

const INSERT: &str = "INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers, \
                      matched_key, received_at, next_attempt_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                      ON CONFLICT (dedup_key) DO NOTHING RETURNING id";

const COLUMNS: &str = "id, endpoint, delivery_id, dedup_key, body, headers, matched_key, \
                       received_at, state, attempts, last_error, next_attempt_at, claim_token";

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
/// * **Deduplication**: `INSERT ... ON CONFLICT (dedup_key) DO NOTHING`. A copy that arrives
///   while the first insert is still uncommitted waits for it, so a duplicate is only ever
///   answered from a committed row.
/// * **Concurrency**: [`Inbox::claim_due`] is one statement, `WITH ... (SELECT ... FOR UPDATE
///   SKIP LOCKED) UPDATE ... RETURNING ...`: workers in any number of processes claim
///   disjoint rows without waiting on each other, and each claim sets a lease. Due rows and
///   expired leases are read by two index walks (partial indexes per state) that stop at the
///   limit, so a claim costs the same with a backlog of millions; [`Inbox::prune`] deletes
///   5,000 rows per statement. [`Inbox::stats`] still counts the rows of the table. A worker that
///   dies leaves its rows in flight until the lease expires; any worker then claims them
///   again (the attempt counts). Times (`received_at`, `next_attempt_at`, leases) come from the
///   clock of the instance that writes them: keep the instances' clocks synchronised (NTP);
///   a skewed clock shifts its leases and retries by the skew.
/// * **Fencing**: each claim sets a new `claim_token`; `complete`, `fail` and `renew` carry it
///   in their `WHERE` (with `state = 'in_flight'`), so a worker whose lease expired and whose
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
fn failed(operation: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
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
        let inbox = Self { pool };
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
    Ok(inbox_row)
}

fn inbox_rows(operation: &'static str, rows: &[Row]) -> Result<Vec<InboxRow>, StoreError> {
    rows.iter()
        .map(inbox_row)
        .collect::<Result<_, _>>()
        .map_err(failed(operation))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Inbox for PostgresInbox {
    fn insert(&self, record: InboxRecord) -> StoreFuture<'_, Inserted> {
        Box::pin(async move {
            let client = self.client("insert").await?;
            let statement = client
                .prepare_cached(INSERT)
                .await
                .map_err(failed("insert"))?;
            let headers = serde_json::to_string(&record.headers).unwrap_or_else(|_| "[]".into());
            // Autocommit: the future resolves after the server's ReadyForQuery, that is after
            // the commit.
            let inserted = client
                .query_opt(
                    &statement,
                    &[
                        &record.endpoint,
                        &record.delivery_id,
                        &record.key.as_bytes().as_slice(),
                        &record.body,
                        &headers,
                        &record.matched_key,
                        &record.received_at_ms,
                    ],
                )
                .await
                .map_err(failed("insert"))?;
            match inserted {
                Some(row) => Ok(Inserted::New(row.try_get(0).map_err(failed("insert"))?)),
                None => Ok(Inserted::Duplicate),
            }
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
            // RETURNING has no order: hand the rows out oldest due first, as SQLite does.
            let mut rows = inbox_rows("claim", &rows)?;
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
                     WHERE id = $1 AND claim_token = $2 AND state = 'in_flight'",
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
                     WHERE id = $1 AND claim_token = $2 AND state = 'in_flight'",
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
                     WHERE id = $1 AND claim_token = $2 AND state = 'in_flight'",
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
            inbox_rows("list", &rows)
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
                .map(inbox_row)
                .transpose()
                .map_err(failed("get"))
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
            Ok(deleted)
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
            // are the trigger-kept shards of migration 6 (256 rows), the oldest open row the
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
                 WHERE id = $1 AND claim_token = $2 AND state = 'in_flight'",
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

#[cfg(test)]
mod plans {
    //! The plans PostgreSQL chooses for the queries that must not read every row, on a real
    //! server (`HOOKBR_TEST_POSTGRES_URL`, started by `scripts/test`; skipped without it
    //! outside CI) and an analyzed table of 200,000 rows.

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
        // 200,000 rows: most done, 2,000 pending and due, 500 in flight with expired leases.
        client
            .batch_execute(
                "INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers, \
                 matched_key, received_at, next_attempt_at, state, lease_until) \
                 SELECT 'bonifiq', n::text, sha256(n::text::bytea), '\\x', '[]', '#0', n, n, \
                 CASE WHEN n % 100 = 0 THEN 'pending' WHEN n % 400 = 1 THEN 'in_flight' \
                 ELSE 'done' END, CASE WHEN n % 400 = 1 THEN n END \
                 FROM generate_series(1, 200000) AS n; ANALYZE hookbr_inbox",
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
