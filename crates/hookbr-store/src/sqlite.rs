use std::{
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, mpsc},
    time::Duration,
};

use futures_channel::oneshot;
use hookbr_core::{
    DedupKey, Provider, StoreError,
    dedup::StoreFuture,
    drift::{ChangeKind, DriftRecord, DriftState, KindShape, MAX_RECORDS},
    inbox::{
        BodyRemoved, BodyRemovedReason, EntityDelivery, EntityMark, Erasure, Inbox, InboxRecord,
        InboxRow, InboxStats, Inserted, ListFilter, RowOutcome, RowState, index_entries, now_ms,
        overflow_marker,
    },
    ledger::{BodyFingerprint, Seen, SignatureLedger},
    ordering::{StoredPosition, Verdict, judge_stored},
    privacy::{Subject, subjects},
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::crypt::{InboxKeys, PLAINTEXT_KEY_ID, Rekeyed, open_listed, open_row};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: [&str; 10] = [
    r#"
CREATE TABLE hookbr_inbox (
    id              INTEGER PRIMARY KEY,
    endpoint        TEXT    NOT NULL,
    delivery_id     TEXT    NOT NULL,
    dedup_key       BLOB    NOT NULL UNIQUE,
    body            BLOB    NOT NULL,
    headers         TEXT    NOT NULL,
    matched_key     TEXT    NOT NULL,
    received_at     INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    completed_at    INTEGER
);
CREATE INDEX hookbr_inbox_due ON hookbr_inbox (state, next_attempt_at);
CREATE INDEX hookbr_inbox_received ON hookbr_inbox (received_at);
"#,
    // 2: the claim token that fences `complete`/`fail`/`renew` to the current lease holder.
    "ALTER TABLE hookbr_inbox ADD COLUMN claim_token INTEGER NOT NULL DEFAULT 0;",
    // 3: the signature ledger (Grafeno): the first body fingerprint seen per delivery key,
    // kept until `expires_at` whatever happens to the inbox rows.
    LEDGER_TABLE,
    // 4: indexes that serve each query in its own order, so that no query scans or sorts
    // every row as the inbox grows: the claim reads due rows from `hookbr_inbox_pending`
    // (by `next_attempt_at`) and expired leases from `hookbr_inbox_leased` (by
    // `lease_until`), each stopping at its `LIMIT`; lists by state walk `hookbr_inbox_state`
    // (state, then id); the oldest open row is the first entry of `hookbr_inbox_open`. The
    // counts per state live in `hookbr_inbox_counts`, kept in the writing transaction (by
    // triggers until migration 10, by the module's statements since), so `stats` reads four
    // rows instead of counting millions.
    r#"
DROP INDEX IF EXISTS hookbr_inbox_due;
CREATE INDEX hookbr_inbox_state ON hookbr_inbox (state);
CREATE INDEX hookbr_inbox_pending ON hookbr_inbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX hookbr_inbox_leased ON hookbr_inbox (lease_until) WHERE state = 'in_flight';
CREATE INDEX hookbr_inbox_open ON hookbr_inbox (received_at)
    WHERE state IN ('pending', 'in_flight');
CREATE TABLE hookbr_inbox_counts (
    state TEXT    PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO hookbr_inbox_counts (state, n)
    SELECT s.state, (SELECT COUNT(*) FROM hookbr_inbox WHERE hookbr_inbox.state = s.state)
    FROM (SELECT 'pending' AS state UNION ALL SELECT 'in_flight' UNION ALL SELECT 'done'
          UNION ALL SELECT 'dead') AS s;
CREATE TRIGGER hookbr_inbox_count_insert AFTER INSERT ON hookbr_inbox BEGIN
    UPDATE hookbr_inbox_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER hookbr_inbox_count_delete AFTER DELETE ON hookbr_inbox BEGIN
    UPDATE hookbr_inbox_counts SET n = n - 1 WHERE state = OLD.state;
END;
CREATE TRIGGER hookbr_inbox_count_update AFTER UPDATE OF state ON hookbr_inbox
    WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE hookbr_inbox_counts SET n = n - 1 WHERE state = OLD.state;
    UPDATE hookbr_inbox_counts SET n = n + 1 WHERE state = NEW.state;
END;
"#,
    // 5: the schema-drift watch (`hookbr_core::drift`): the field paths seen per provider and
    // kind with their JSON type bits, and the change records (examples are masked).
    r#"
CREATE TABLE hookbr_drift_paths (
    provider TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    path     TEXT    NOT NULL,
    types    INTEGER NOT NULL,
    PRIMARY KEY (provider, kind, path)
) WITHOUT ROWID;
CREATE TABLE hookbr_drift_changes (
    provider   TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    change     TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    example    TEXT    NOT NULL,
    PRIMARY KEY (provider, kind, change, detail)
) WITHOUT ROWID;
"#,
    // 6: entities (`hookbr_core::entity`, docs/ENTITIES.md): each stored delivery's entity and
    // position, written with the row and removed with it (the timeline reads the index on
    // the entity, never the bodies), and the ordering guard's latest position per entity
    // (pruned with the rows: an entity not seen for the retention is forgotten).
    r#"
CREATE TABLE hookbr_entity_rows (
    row_id    INTEGER PRIMARY KEY REFERENCES hookbr_inbox (id) ON DELETE CASCADE,
    kind      TEXT    NOT NULL,
    entity_id TEXT    NOT NULL,
    at_ms     INTEGER,
    rank      INTEGER,
    terminal  INTEGER NOT NULL DEFAULT 0,
    mark      TEXT
);
CREATE INDEX hookbr_entity_rows_entity ON hookbr_entity_rows (kind, entity_id, row_id);
CREATE TABLE hookbr_entity_latest (
    kind       TEXT    NOT NULL,
    entity_id  TEXT    NOT NULL,
    at_ms      INTEGER,
    rank       INTEGER,
    terminal   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, entity_id)
) WITHOUT ROWID;
CREATE INDEX hookbr_entity_latest_updated ON hookbr_entity_latest (updated_at);
"#,
    // 7: encryption at rest (`crate::crypt`): the key each row's body and headers are sealed
    // under (`none`: stored in clear, before encryption was enabled), indexed so that the
    // start-up check and `rekey` find a key's rows without a scan; and a check value per key
    // id, so a different key under a known id is refused at start-up.
    KEYS_MIGRATION,
    // 8: personal data (issue 19). The subject index: HMAC-SHA-256 of each CPF, CNPJ and
    // e-mail address a row names, under this inbox's random salt (`hookbr_inbox_meta`), so
    // erasure finds one person's rows without reading every body; entries go with their row.
    // `unindexed_below`: rows stored before this migration, indexed by the first erasure.
    // A row's body can be removed before the row (`body_retention`, erasure):
    // `body_removed_at`/`_why` say when and why; `hookbr_inbox_bodies` walks the done rows
    // that still have one.
    r#"
ALTER TABLE hookbr_inbox ADD COLUMN body_removed_at INTEGER;
ALTER TABLE hookbr_inbox ADD COLUMN body_removed_why TEXT;
CREATE TABLE hookbr_inbox_subjects (
    subject BLOB    NOT NULL,
    row_id  INTEGER NOT NULL REFERENCES hookbr_inbox (id) ON DELETE CASCADE,
    PRIMARY KEY (subject, row_id)
) WITHOUT ROWID;
CREATE INDEX hookbr_inbox_subjects_row ON hookbr_inbox_subjects (row_id);
CREATE TABLE hookbr_inbox_meta (
    name   TEXT PRIMARY KEY,
    bytes  BLOB,
    number INTEGER
) WITHOUT ROWID;
INSERT INTO hookbr_inbox_meta (name, bytes) VALUES ('subject_salt', randomblob(32));
INSERT INTO hookbr_inbox_meta (name, number)
    SELECT 'unindexed_below', COALESCE(MAX(id), 0) + 1 FROM hookbr_inbox;
CREATE INDEX hookbr_inbox_bodies ON hookbr_inbox (received_at)
    WHERE state = 'done' AND body_removed_at IS NULL;
"#,
    // 9: the open rows' index covers what the inspector's oldest-open-row-per-provider walk
    // reads (endpoint, state), so the walk of up to 1,000 entries reads index pages only
    // instead of one table row each (1.63 -> 0.33 ms at 1 M rows, docs/BENCHMARKS.md).
    r#"
DROP INDEX hookbr_inbox_open;
CREATE INDEX hookbr_inbox_open ON hookbr_inbox (received_at, endpoint, state)
    WHERE state IN ('pending', 'in_flight');
"#,
    // 10: the counts per state are kept by the writing code ([`CountChanges`]), one small
    // update per state per transaction, instead of triggers: a statement that fires a trigger
    // needs SQLite's statement journal (a copy of every page it touches), which cost 12-13 %
    // of a delivery's instructions (docs/BENCHMARKS.md, session 9). Recounted here, once.
    r#"
DROP TRIGGER IF EXISTS hookbr_inbox_count_insert;
DROP TRIGGER IF EXISTS hookbr_inbox_count_delete;
DROP TRIGGER IF EXISTS hookbr_inbox_count_update;
UPDATE hookbr_inbox_counts SET n = (SELECT COUNT(*) FROM hookbr_inbox
    WHERE hookbr_inbox.state = hookbr_inbox_counts.state);
"#,
];

/// What one transaction changed in the per-state counts of `hookbr_inbox_counts`, written in
/// that transaction by [`write`](Self::write): every statement of this module that inserts,
/// deletes or moves inbox rows between states records its rows here (migration 10 replaced
/// the triggers that kept the counts). Code outside this module that writes `hookbr_inbox`
/// directly must keep the counts too (or recount them, as migration 10 does).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct CountChanges {
    pending: i64,
    in_flight: i64,
    done: i64,
    dead: i64,
}

impl CountChanges {
    /// The count of `state` (the four states `hookbr_inbox_counts` holds).
    fn slot(&mut self, state: RowState) -> Option<&mut i64> {
        match state {
            RowState::Pending => Some(&mut self.pending),
            RowState::InFlight => Some(&mut self.in_flight),
            RowState::Done => Some(&mut self.done),
            RowState::Dead => Some(&mut self.dead),
            _ => None,
        }
    }

    /// `rows` rows were added in `state`.
    fn added(&mut self, state: RowState, rows: usize) {
        if let Some(slot) = self.slot(state) {
            *slot += i64::try_from(rows).unwrap_or(i64::MAX);
        }
    }

    /// `rows` rows in `state` were removed.
    fn removed(&mut self, state: RowState, rows: usize) {
        if let Some(slot) = self.slot(state) {
            *slot -= i64::try_from(rows).unwrap_or(i64::MAX);
        }
    }

    /// `rows` rows went from `from` to `to`.
    fn moved(&mut self, from: RowState, to: RowState, rows: usize) {
        self.removed(from, rows);
        self.added(to, rows);
    }

    /// Adds the changes to `hookbr_inbox_counts`, in the caller's transaction: one
    /// single-row update per state that changed.
    fn write(&self, connection: &Connection) -> rusqlite::Result<()> {
        let changes = [
            (RowState::Pending, self.pending),
            (RowState::InFlight, self.in_flight),
            (RowState::Done, self.done),
            (RowState::Dead, self.dead),
        ];
        if changes.iter().all(|&(_, change)| change == 0) {
            return Ok(());
        }
        let mut statement = connection
            .prepare_cached("UPDATE hookbr_inbox_counts SET n = n + ?2 WHERE state = ?1")?;
        for (state, change) in changes {
            if change != 0 {
                statement.execute(params![state.as_str(), change])?;
            }
        }
        Ok(())
    }
}

/// A stored position from its columns.
fn stored_position(
    at_ms: Option<i64>,
    rank: Option<i64>,
    terminal: bool,
) -> Option<StoredPosition> {
    StoredPosition::new(
        at_ms,
        rank.and_then(|rank| u8::try_from(rank).ok()),
        terminal,
    )
}

/// The ordering guard's judgement of row `id` (see [`Inbox::judge_entity`]), in the caller's
/// transaction.
fn judge_entity_in(connection: &Connection, id: i64) -> rusqlite::Result<Verdict> {
    let note = connection
        .prepare_cached(
            "SELECT kind, entity_id, at_ms, rank, terminal FROM hookbr_entity_rows              WHERE row_id = ?1",
        )?
        .query_row(params![id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                stored_position(r.get(2)?, r.get(3)?, r.get(4)?),
            ))
        })
        .optional()?;
    let Some((kind, entity, Some(position))) = note else {
        return Ok(Verdict::Untracked);
    };
    let latest = connection
        .prepare_cached(
            "SELECT at_ms, rank, terminal FROM hookbr_entity_latest              WHERE kind = ?1 AND entity_id = ?2",
        )?
        .query_row(params![kind, entity], |r| {
            Ok(stored_position(r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?
        .flatten();
    let (verdict, advance) = judge_stored(latest.as_ref(), &position);
    let now = now_ms();
    if advance {
        connection
            .prepare_cached(
                "INSERT INTO hookbr_entity_latest (kind, entity_id, at_ms, rank, terminal,                  updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, entity_id) DO                  UPDATE SET at_ms = excluded.at_ms, rank = excluded.rank,                  terminal = excluded.terminal, updated_at = excluded.updated_at",
            )?
            .execute(params![
                kind,
                entity,
                position.at_ms,
                position.rank,
                position.terminal,
                now
            ])?;
    } else {
        connection
            .prepare_cached(
                "UPDATE hookbr_entity_latest SET updated_at = ?3                  WHERE kind = ?1 AND entity_id = ?2",
            )?
            .execute(params![kind, entity, now])?;
    }
    let mark = if verdict == Verdict::Stale {
        EntityMark::Stale
    } else {
        EntityMark::Passed
    };
    connection
        .prepare_cached("UPDATE hookbr_entity_rows SET mark = ?2 WHERE row_id = ?1")?
        .execute(params![id, mark.as_str()])?;
    Ok(verdict)
}

/// Migration 7 (see [`MIGRATIONS`]).
const KEYS_MIGRATION: &str = r#"
ALTER TABLE hookbr_inbox ADD COLUMN key_id TEXT NOT NULL DEFAULT 'none';
CREATE INDEX hookbr_inbox_key ON hookbr_inbox (key_id);
CREATE TABLE hookbr_inbox_keys (
    key_id      TEXT    PRIMARY KEY,
    check_value BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Due rows, oldest due first: a walk of `hookbr_inbox_pending` that stops at the limit.
/// `INDEXED BY` pins the plan: without statistics SQLite would prefer the equality on
/// `hookbr_inbox_state` and sort every pending row.
const CLAIM_PENDING: &str = "SELECT id, next_attempt_at FROM hookbr_inbox \
     INDEXED BY hookbr_inbox_pending \
     WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2";

/// Rows whose lease expired, oldest lease first: a walk of `hookbr_inbox_leased`.
const CLAIM_EXPIRED: &str = "SELECT id, next_attempt_at FROM hookbr_inbox \
     INDEXED BY hookbr_inbox_leased \
     WHERE state = 'in_flight' AND lease_until <= ?1 ORDER BY lease_until LIMIT ?2";

/// Claims one row: in flight until the lease's end, one more attempt, and a new claim token,
/// never one this row had (it grows), and not guessable from the row's history (a random
/// step), so that a row id SQLite reuses after a prune does not hand a stale worker a token it
/// could match.
const CLAIM_ROW: &str = "UPDATE hookbr_inbox SET state = 'in_flight', lease_until = ?2, \
     attempts = attempts + 1, claim_token = claim_token + 1 + (random() & 4294967295) \
     WHERE id = ?1";

/// [`Inbox::complete`]: fenced by the claim token and the state.
const COMPLETE: &str = "UPDATE hookbr_inbox SET state = 'done', completed_at = ?3, \
     lease_until = NULL WHERE id = ?1 AND claim_token = ?2 AND state = 'in_flight'";

/// [`Inbox::fail`]: fenced by the claim token and the state.
const FAIL: &str = "UPDATE hookbr_inbox SET state = ?3, next_attempt_at = ?4, last_error = ?5, \
     lease_until = NULL WHERE id = ?1 AND claim_token = ?2 AND state = 'in_flight'";

/// [`Inbox::renew`]: fenced by the claim token and the state.
const RENEW: &str = "UPDATE hookbr_inbox SET lease_until = ?3 \
     WHERE id = ?1 AND claim_token = ?2 AND state = 'in_flight'";

/// The oldest row not yet handled: the first entry of `hookbr_inbox_open`.
const OLDEST_OPEN: &str = "SELECT MIN(received_at) FROM hookbr_inbox INDEXED BY hookbr_inbox_open \
     WHERE state IN ('pending', 'in_flight')";

/// The oldest open rows, at most `?1`: a walk of `hookbr_inbox_open` that stops at the limit
/// ([`Inbox::oldest_open_by_provider`]).
const OLDEST_OPEN_ROWS: &str = "SELECT endpoint, received_at FROM hookbr_inbox \
     INDEXED BY hookbr_inbox_open WHERE state IN ('pending', 'in_flight') \
     ORDER BY received_at LIMIT ?1";

/// Completed rows to prune, a batch at a time (`hookbr_inbox_state`, oldest id first).
const PRUNE_BATCH: &str = "DELETE FROM hookbr_inbox WHERE id IN (SELECT id FROM hookbr_inbox \
     WHERE state = 'done' AND received_at < ?1 ORDER BY id LIMIT ?2)";

/// Completed rows whose body and headers to remove, a batch at a time
/// (`hookbr_inbox_bodies`: only rows that still have one); their subject entries go with them.
const DROP_BODIES_BATCH: &str = "UPDATE hookbr_inbox SET body = x'', headers = '[]', \
     body_removed_at = ?3, body_removed_why = 'retention', key_id = 'none' WHERE id IN (SELECT id FROM hookbr_inbox \
     INDEXED BY hookbr_inbox_bodies WHERE state = 'done' AND body_removed_at IS NULL \
     AND received_at < ?1 ORDER BY received_at LIMIT ?2) RETURNING id";

/// Rows deleted per transaction by [`Inbox::prune`] at first: the writer thread commits
/// inserts between two batches, so a prune of millions of rows never holds it for long. An
/// insert waits for at most one batch: at 5,000 rows (each delete also updates the indexes and,
/// then, the counts' trigger) a prune of 1 M rows raised ingest p99 9.8× (docs/BENCHMARKS.md).
const PRUNE_BATCH_ROWS: i64 = 500;

/// What one prune batch may hold the writer thread for: the next batch's size is scaled from
/// the last one's time towards it (between [`PRUNE_MIN_ROWS`] and [`PRUNE_MAX_ROWS`]), as a
/// delete's cost depends on the disk and the rows' indexes.
const PRUNE_BATCH_TARGET: std::time::Duration = std::time::Duration::from_millis(2);
const PRUNE_MIN_ROWS: i64 = 16;
const PRUNE_MAX_ROWS: i64 = 2_000;

/// Waits `for_how_long` without a timer of any runtime: the SQLite inbox works on any executor
/// (its writer is a thread), so the prune's pause is a short-lived thread that answers a
/// oneshot. It runs at most once per prune batch (about every 4 ms while a prune lasts).
async fn pause(for_how_long: std::time::Duration) {
    let (done, wait) = oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("hookbr-sqlite-prune-pause".into())
        .spawn(move || {
            std::thread::sleep(for_how_long);
            let _ = done.send(());
        });
    if spawned.is_ok() {
        let _ = wait.await;
    }
}

/// The next prune batch's size: `rows` scaled by how far `took` was from the target, at most
/// doubled or halved at a time.
fn next_prune_rows(rows: i64, took: std::time::Duration) -> i64 {
    let took = took.as_secs_f64().max(1e-6);
    let scale = (PRUNE_BATCH_TARGET.as_secs_f64() / took).clamp(0.5, 2.0);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_precision_loss,
        reason = "a batch size between PRUNE_MIN_ROWS and PRUNE_MAX_ROWS"
    )]
    let next = (rows as f64 * scale) as i64;
    next.clamp(PRUNE_MIN_ROWS, PRUNE_MAX_ROWS)
}

/// The signature ledger's table: migration 3 of the inbox, and the whole schema of a
/// [`SqliteLedger`] file.
const LEDGER_TABLE: &str = r#"
CREATE TABLE hookbr_signature_ledger (
    dedup_key   BLOB    PRIMARY KEY,
    fingerprint BLOB    NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX hookbr_signature_ledger_expiry ON hookbr_signature_ledger (expires_at);
"#;

/// How many inserts one transaction may group.
const MAX_GROUP: usize = 512;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A write that joins the next group transaction (the worker's claims, settlements and
/// renewals), next to the inserts queued with it. It may run twice: if a member of the group
/// fails, the group is rolled back and each member runs again in a transaction of its own.
trait GroupedJob: Send {
    /// Runs the job inside the caller's transaction and keeps its result; `true` if it
    /// succeeded.
    fn run(&mut self, connection: &Connection) -> bool;

    /// Sends the kept result once the transaction's fate is known: `None` when it committed,
    /// else why it did not (then a successful result is not sent: nothing was written).
    fn answer(self: Box<Self>, failed: Option<&rusqlite::Error>);
}

struct Grouped<T, F> {
    job: F,
    result: Option<rusqlite::Result<T>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> GroupedJob for Grouped<T, F>
where
    T: Send,
    F: Fn(&Connection) -> rusqlite::Result<T> + Send,
{
    fn run(&mut self, connection: &Connection) -> bool {
        let result = (self.job)(connection);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, failed: Option<&rusqlite::Error>) {
        let _ = self.reply.send(match (self.result, failed) {
            (Some(Err(error)), _) => Err(db_error(&error)),
            (_, Some(error)) => Err(db_error(error)),
            (Some(Ok(value)), None) => Ok(value),
            (None, None) => Err(StoreError::new("sqlite inbox: the write did not run")),
        });
    }
}

/// A record as it is written: its body (sealed when encrypted), its headers column, the key
/// id (`none` in clear), and its entity and position (read from the clear body, before sealing).
struct StoredRecord {
    record: InboxRecord,
    headers: String,
    key_id: String,
    note: Option<(hookbr_core::entity::Entity, Option<StoredPosition>)>,
    /// The salted hashes of the subjects the clear body names (the erasure index).
    subjects: Vec<[u8; 32]>,
}

impl StoredRecord {
    /// `record` sealed under the current key of `keys`, or in clear without keys.
    fn new(record: InboxRecord, keys: Option<&InboxKeys>) -> Result<Self, StoreError> {
        let note = record.entity_note();
        match keys {
            Some(keys) => {
                let (key_id, body) = keys.seal(&record)?;
                let mut record = record;
                record.body = body;
                record.headers = Vec::new();
                Ok(Self {
                    record,
                    headers: String::new(),
                    key_id,
                    note,
                    subjects: Vec::new(),
                })
            }
            None => Ok(Self {
                headers: serde_json::to_string(&record.headers).unwrap_or_else(|_| "[]".into()),
                record,
                key_id: PLAINTEXT_KEY_ID.to_owned(),
                note,
                subjects: Vec::new(),
            }),
        }
    }
}

enum Command {
    Insert(Box<(StoredRecord, InsertReply)>),
    Grouped(Box<dyn GroupedJob>),
    Run(Job),
}

/// The durable inbox on SQLite: the embedded default for one instance.
///
/// * **Durability**: WAL journal with `synchronous = FULL`, so a row is on disk (WAL fsynced)
///   before [`Inbox::insert`] resolves: it survives `kill -9` and power loss. `NORMAL` would be
///   faster but may lose the last transactions on power loss, which would break "a `200` means
///   stored".
/// * **Group commit**: one thread owns the connection; inserts and the workers' writes (claims,
///   completions, failures, lease renewals) that arrive while it is busy are committed together
///   in one transaction (up to 512 of them), so concurrent requests and the worker share one
///   fsync. Nothing is answered before that commit; if one of them fails, the group is rolled
///   back and each runs again on its own, so a failing write never costs the others theirs.
/// * **Schema**: created and migrated on open (`PRAGMA user_version`).
/// * **Fencing**: each claim sets a new `claim_token`; `complete`, `fail` and `renew` carry it
///   in their `WHERE`, so a worker that lost its lease changes nothing (they return `false`).
///
/// * **Signature ledger** ([`Inbox::remember_body`], Grafeno): `hookbr_signature_ledger` keeps
///   the first body fingerprint of each delivery key, 32 bytes and a time per key, for the time
///   the pipeline asks (400 days); [`Inbox::prune`] removes expired entries, never because
///   their inbox row was pruned.
/// * **File modes**: on Unix a new database is created `0600` (owner only), and SQLite gives
///   its `-wal` and `-shm` files the database's mode; a missing parent directory is created
///   `0700`. An existing file keeps its mode.
///
/// Bodies are stored as given: hookbr's pipeline removes Foody's token before inserting, but
/// deliveries are still customer data, so protect the file as you protect the configuration.
pub struct SqliteInbox {
    commands: mpsc::Sender<Command>,
    path: PathBuf,
    keys: Option<Arc<InboxKeys>>,
    /// The subject index's salt (`hookbr_inbox_meta`).
    salt: std::sync::Arc<[u8]>,
}

impl fmt::Debug for SqliteInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteInbox")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Creates the database file (and its missing directories) readable by the owner only,
/// before SQLite opens it: SQLite would create it `0644`, and creates its `-wal` and `-shm`
/// files with the database file's mode. An existing file is left as it is; `:memory:` and
/// SQLite URIs are SQLite's.
fn create_private(path: &Path) -> std::io::Result<()> {
    let text = path.to_string_lossy();
    if text.is_empty() || text == ":memory:" || text.starts_with("file:") || path.exists() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty() && !parent.exists())
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)?;
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            // Another process created it first: it is theirs to set.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            other => other.map(drop),
        }
    }
    #[cfg(not(unix))]
    Ok(())
}

fn db_error(error: &rusqlite::Error) -> StoreError {
    // SQLite messages name tables and constraints, never the bound values.
    StoreError::new(format!("sqlite: {error}"))
}

fn stopped() -> StoreError {
    StoreError::new("sqlite inbox: the writer thread has stopped")
}

/// Opens (creating if needed, owner-only) the database at `path`, applies `migrations` and
/// starts the thread that owns the connection.
fn open_database(
    path: &Path,
    migrations: &[&str],
    what: &str,
) -> Result<mpsc::Sender<Command>, StoreError> {
    open_database_with(path, migrations, what, |_| Ok(())).map(|(commands, ())| commands)
}

/// [`open_database`], reading `setup` from the migrated connection before the thread starts.
fn open_database_with<T>(
    path: &Path,
    migrations: &[&str],
    what: &str,
    setup: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<(mpsc::Sender<Command>, T), StoreError> {
    create_private(path).map_err(|e| {
        StoreError::new(format!(
            "sqlite {what}: cannot create {}: {e}",
            path.display()
        ))
    })?;
    let mut connection = Connection::open(path).map_err(|e| db_error(&e))?;
    prepare(&mut connection, migrations).map_err(|e| match e {
        // An inbox file given as the ledger has more migrations than the ledger knows.
        Prepared::Newer(_) if what == "ledger" && holds_inbox(&connection) => {
            StoreError::new(format!(
                "sqlite ledger: {} is an inbox file; give the ledger a file of its own",
                path.display()
            ))
        }
        Prepared::Newer(version) => StoreError::new(format!(
            "sqlite {what}: {} was migrated by a newer hookbr (schema version {version}, this \
             build knows {}); open it with that hookbr or a newer one",
            path.display(),
            migrations.len()
        )),
        Prepared::Database(e) => db_error(&e),
    })?;
    let value = setup(&connection).map_err(|e| db_error(&e))?;
    let (commands, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("hookbr-sqlite".into())
        .spawn(move || writer(connection, &receiver))
        .map_err(|e| StoreError::new(format!("sqlite {what}: cannot start its thread: {e}")))?;
    Ok((commands, value))
}

/// Runs `job` on the connection's thread inside the next group transaction (with the inserts
/// and other worker writes queued meanwhile: one commit, one fsync for all); the answer comes
/// once that transaction is committed. `job` must not open a transaction of its own.
fn run_grouped<T: Send + 'static>(
    commands: &mpsc::Sender<Command>,
    job: impl Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
) -> StoreFuture<'static, T> {
    let (reply, answer) = oneshot::channel();
    let sent = commands.send(Command::Grouped(Box::new(Grouped {
        job,
        result: None,
        reply,
    })));
    Box::pin(async move {
        sent.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    })
}

/// Runs `job` on the connection's thread.
fn run_on<T: Send + 'static>(
    commands: &mpsc::Sender<Command>,
    job: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
) -> StoreFuture<'static, T> {
    let (reply, answer) = oneshot::channel();
    let sent = commands.send(Command::Run(Box::new(move |connection| {
        let _ = reply.send(job(connection).map_err(|e| db_error(&e)));
    })));
    Box::pin(async move {
        sent.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    })
}

/// The ledger lookup ([`Inbox::remember_body`], [`SignatureLedger::remember`]): one statement
/// remembers the body of a new key (or of an expired entry), so of two bodies presented at once
/// exactly one is first; otherwise the stored fingerprint is compared.
fn remember_body_in(
    connection: &Connection,
    key: DedupKey,
    fingerprint: BodyFingerprint,
    keep: Duration,
) -> rusqlite::Result<Seen> {
    let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
    let now = now_ms();
    let remembered = connection.execute(
        "INSERT INTO hookbr_signature_ledger (dedup_key, fingerprint, expires_at) \
         VALUES (?1, ?2, ?3) ON CONFLICT (dedup_key) DO UPDATE SET \
         fingerprint = excluded.fingerprint, expires_at = excluded.expires_at \
         WHERE hookbr_signature_ledger.expires_at <= ?4",
        params![
            key.as_bytes().as_slice(),
            fingerprint.as_bytes().as_slice(),
            now.saturating_add(keep_ms),
            now
        ],
    )?;
    if remembered == 1 {
        return Ok(Seen::First);
    }
    let stored: Vec<u8> = connection.query_row(
        "SELECT fingerprint FROM hookbr_signature_ledger WHERE dedup_key = ?1",
        params![key.as_bytes().as_slice()],
        |r| r.get(0),
    )?;
    Ok(if stored.as_slice() == fingerprint.as_bytes().as_slice() {
        Seen::Same
    } else {
        Seen::Different
    })
}

/// Deletes the ledger entries whose time is over.
fn prune_ledger(connection: &Connection) -> rusqlite::Result<u64> {
    let deleted = connection.execute(
        "DELETE FROM hookbr_signature_ledger WHERE expires_at <= ?1",
        params![now_ms()],
    )?;
    Ok(deleted as u64)
}

impl SqliteInbox {
    /// Opens (creating if needed) the inbox at `path` and starts its writer thread.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the file cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let (commands, salt) = open_database_with(&path, &MIGRATIONS, "inbox", |connection| {
            // Erased or dropped bodies are overwritten with zeros in the file, not only
            // unlinked (issue 19: no trace of an erased subject).
            connection.pragma_update(None, "secure_delete", "ON")?;
            connection.query_row(
                "SELECT bytes FROM hookbr_inbox_meta WHERE name = 'subject_salt'",
                [],
                |r| r.get::<_, Vec<u8>>(0),
            )
        })?;
        Ok(Self {
            commands,
            path,
            keys: None,
            salt: salt.into(),
        })
    }

    /// Seals the bodies and headers of new rows under the current key of `keys`, and opens
    /// stored rows under theirs ([`crate::crypt`]). Call [`check_keys`](Self::check_keys)
    /// before serving.
    #[must_use]
    pub fn with_keys(mut self, keys: Option<Arc<InboxKeys>>) -> Self {
        self.keys = keys;
        self
    }

    /// Checks the configured keys against the inbox: each configured key id seen before must
    /// be the same key (its check value opens), and every key id that rows are stored under
    /// must be configured. Records the check values of new key ids.
    ///
    /// # Errors
    ///
    /// [`StoreError`] naming the key id that is wrong or missing.
    pub fn check_keys(&self) -> StoreFuture<'_, ()> {
        let keys = self.keys.clone();
        let checked = self.run(move |connection| check_keys_in(connection, keys.as_deref()));
        Box::pin(async move { checked.await?.map_err(StoreError::new) })
    }

    /// Re-encrypts up to `batch` rows not under the current key (plaintext rows included),
    /// with ids above `after`, oldest first, in one transaction: what it did, and the last
    /// id it looked at (give it back as `after` to go on). Rows that do not open are left as
    /// they are and counted as failed.
    ///
    /// # Errors
    ///
    /// [`StoreError`] without keys configured, or when the database fails.
    pub fn rekey(&self, after: i64, batch: usize) -> StoreFuture<'_, (Rekeyed, i64)> {
        let keys = self.keys.clone();
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        Box::pin(async move {
            let keys = keys.ok_or_else(|| StoreError::new("rekey needs an encryption key"))?;
            self.run(move |connection| rekey_in(connection, &keys, after, batch))
                .await
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        run_on(&self.commands, job)
    }

    /// [`run_grouped`] on this inbox's thread.
    fn grouped<T: Send + 'static>(
        &self,
        job: impl Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        run_grouped(&self.commands, job)
    }
}

/// Grafeno's signature ledger on its own SQLite file, for direct mode (no inbox): the first
/// body fingerprint of each delivery key, kept for the time the pipeline asks (400 days), so a
/// forged body under a known signature is refused after a restart too. Plug it in with
/// `ReceiverBuilder::signature_ledger` or `Webhooks::signature_ledger`; `hookbr serve` opens one
/// in direct mode without Redis (`[inbox] ledger`).
///
/// The same table, durability (WAL, `synchronous = FULL`, one thread owning the connection)
/// and file modes (`0600`, directories `0700`) as [`SqliteInbox`], which keeps the ledger
/// itself in inbox mode. Expired entries are deleted when the file is opened and every
/// 10,000 new entries.
pub struct SqliteLedger {
    commands: mpsc::Sender<Command>,
    path: PathBuf,
    added: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// New entries between two deletions of the expired ones.
const LEDGER_PRUNE_EVERY: u64 = 10_000;

impl SqliteLedger {
    /// Opens (creating if needed) the ledger at `path`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the file cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let commands = open_database(&path, &[LEDGER_TABLE], "ledger")?;
        // Sent now, run before any lookup; nobody waits for its answer.
        drop(run_on(&commands, |connection| prune_ledger(connection)));
        Ok(Self {
            commands,
            path,
            added: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl SignatureLedger for SqliteLedger {
    fn remember(
        &self,
        key: DedupKey,
        fingerprint: BodyFingerprint,
        keep: Duration,
    ) -> StoreFuture<'_, Seen> {
        let prune = {
            use std::sync::atomic::Ordering;
            self.added.fetch_add(1, Ordering::Relaxed) % LEDGER_PRUNE_EVERY
                == LEDGER_PRUNE_EVERY - 1
        };
        run_on(&self.commands, move |connection| {
            if prune {
                prune_ledger(connection)?;
            }
            remember_body_in(connection, key, fingerprint, keep)
        })
    }
}

/// Why [`prepare`] failed.
#[derive(Debug)]
enum Prepared {
    /// The file records more migrations than this build knows (the schema version): a newer
    /// hookbr wrote it, and this build would not keep what that schema expects (since
    /// migration 10, the per-state counts are kept by hookbr's statements, not by triggers).
    Newer(usize),
    /// SQLite refused a statement.
    Database(rusqlite::Error),
}

impl From<rusqlite::Error> for Prepared {
    fn from(error: rusqlite::Error) -> Self {
        Self::Database(error)
    }
}

/// Whether the database holds an inbox (its main table).
fn holds_inbox(connection: &Connection) -> bool {
    connection
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hookbr_inbox'",
            [],
            |_| Ok(()),
        )
        .is_ok()
}

fn prepare(connection: &mut Connection, migrations: &[&str]) -> Result<(), Prepared> {
    connection.busy_timeout(Duration::from_secs(5))?;
    // Every statement of the inbox stays prepared (the default keeps 16).
    connection.set_prepared_statement_cache_capacity(64);
    // Read before anything is set: a refused file is left as it was.
    let version: usize = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > migrations.len() {
        return Err(Prepared::Newer(version));
    }
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    for (index, migration) in migrations.iter().enumerate().skip(version) {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute_batch(migration)?;
        transaction.pragma_update(None, "user_version", index + 1)?;
        transaction.commit()?;
    }
    Ok(())
}

fn writer(mut connection: Connection, commands: &mpsc::Receiver<Command>) {
    while let Ok(first) = commands.recv() {
        let mut inserts = Vec::new();
        let mut grouped = Vec::new();
        let mut jobs = Vec::new();
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Insert(insert) => inserts.push(*insert),
                Command::Grouped(job) => grouped.push(job),
                Command::Run(job) => jobs.push(job),
            }
            if inserts.len() + grouped.len() < MAX_GROUP {
                next = commands.try_recv().ok();
            }
        }
        if !inserts.is_empty() || !grouped.is_empty() {
            write_group(&mut connection, inserts, grouped);
        }
        for job in jobs {
            job(&mut connection);
        }
    }
}

type InsertReply = oneshot::Sender<Result<Inserted, StoreError>>;

/// One transaction (one commit, one fsync) for the inserts and the worker's writes queued
/// together; nothing is answered before the commit. If any member fails, the group is rolled
/// back and each member runs again alone (the inserts together, then each worker write), so
/// one failing write never costs the others their commit. Savepoints would isolate members
/// without the second run, but measured they cost ~40-60 µs of the writer thread per delivery
/// (likely the statement journal, which copies every page a savepoint first touches; see
/// docs/BENCHMARKS.md, "Inbox throughput").
fn write_group(
    connection: &mut Connection,
    inserts: Vec<(StoredRecord, InsertReply)>,
    mut grouped: Vec<Box<dyn GroupedJob>>,
) {
    let members = usize::from(!inserts.is_empty()) + grouped.len();
    match commit_group(connection, &inserts, &mut grouped) {
        Ok(results) => {
            answer_inserts(inserts, Ok(results));
            for job in grouped {
                job.answer(None);
            }
        }
        // The transaction itself could not start or commit (the lock stayed busy past the
        // timeout, a full disk): running the members one by one would only wait again.
        Err(GroupFailed::Transaction(error)) => {
            answer_inserts(inserts, Err(&error));
            for job in grouped {
                job.answer(Some(&error));
            }
        }
        Err(GroupFailed::Member(error)) if members <= 1 => {
            answer_inserts(inserts, Err(&error));
            for job in grouped {
                job.answer(Some(&error));
            }
        }
        Err(GroupFailed::Member(_)) => {
            if !inserts.is_empty() {
                let results = commit_group(connection, &inserts, &mut []);
                answer_inserts(
                    inserts,
                    results.as_ref().map(Vec::clone).map_err(|e| e.error()),
                );
            }
            for mut job in grouped {
                let outcome = commit_group(connection, &[], std::slice::from_mut(&mut job));
                job.answer(outcome.err().as_ref().map(GroupFailed::error));
            }
        }
    }
}

/// Why a group transaction committed nothing.
enum GroupFailed {
    /// Starting or committing it failed.
    Transaction(rusqlite::Error),
    /// One of its members failed (a job that failed keeps its own error too).
    Member(rusqlite::Error),
}

impl GroupFailed {
    fn error(&self) -> &rusqlite::Error {
        match self {
            Self::Transaction(error) | Self::Member(error) => error,
        }
    }
}

/// Sends each insert its result, or `error` (nothing of its group was committed: the request
/// is refused with 503 and the provider retries).
fn answer_inserts(
    inserts: Vec<(StoredRecord, InsertReply)>,
    results: Result<Vec<Inserted>, &rusqlite::Error>,
) {
    match results {
        Ok(results) => {
            for ((_, reply), result) in inserts.into_iter().zip(results) {
                let _ = reply.send(Ok(result));
            }
        }
        Err(error) => {
            for (_, reply) in inserts {
                let _ = reply.send(Err(db_error(error)));
            }
        }
    }
}

/// Runs `inserts` and `grouped` in one IMMEDIATE transaction and commits it: the inserts'
/// results, or why nothing was committed (a job that failed keeps its own error).
fn commit_group(
    connection: &mut Connection,
    inserts: &[(StoredRecord, InsertReply)],
    grouped: &mut [Box<dyn GroupedJob>],
) -> Result<Vec<Inserted>, GroupFailed> {
    // IMMEDIATE: the write lock is taken (waiting up to the busy timeout) before reading, so
    // another process's commit cannot turn this transaction's first write into an immediate
    // SQLITE_BUSY (a deferred read transaction in WAL mode cannot be upgraded after it).
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(GroupFailed::Transaction)?;
    let results = insert_rows(&transaction, inserts).map_err(GroupFailed::Member)?;
    for job in grouped.iter_mut() {
        if !job.run(&transaction) {
            // Dropping the transaction rolls it back.
            return Err(GroupFailed::Member(rusqlite::Error::ExecuteReturnedResults));
        }
    }
    transaction.commit().map_err(GroupFailed::Transaction)?;
    Ok(results)
}

/// Inserts `inserts` (inside the caller's transaction), in order: each new row's id, or
/// `Duplicate`.
fn insert_rows(
    connection: &Connection,
    inserts: &[(StoredRecord, InsertReply)],
) -> rusqlite::Result<Vec<Inserted>> {
    let mut results = Vec::with_capacity(inserts.len());
    let mut statement = connection.prepare_cached(
        "INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers, \
         matched_key, received_at, next_attempt_at, key_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8) ON CONFLICT (dedup_key) DO NOTHING",
    )?;
    let mut subject = connection.prepare_cached(
        "INSERT INTO hookbr_inbox_subjects (subject, row_id) VALUES (?1, ?2) \
         ON CONFLICT DO NOTHING",
    )?;
    for (stored, _) in inserts {
        let record = &stored.record;
        let changed = statement.execute(params![
            record.endpoint,
            record.delivery_id,
            record.key.as_bytes().as_slice(),
            record.body,
            stored.headers,
            record.matched_key,
            record.received_at_ms,
            stored.key_id,
        ])?;
        results.push(if changed == 0 {
            Inserted::Duplicate
        } else {
            let id = connection.last_insert_rowid();
            if let Some((entity, position)) = &stored.note {
                connection
                    .prepare_cached(
                        "INSERT INTO hookbr_entity_rows (row_id, kind, entity_id, at_ms, rank, \
                         terminal) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![
                        id,
                        entity.kind,
                        entity.id,
                        position.and_then(|p| p.at_ms),
                        position.and_then(|p| p.rank),
                        position.is_some_and(|p| p.terminal),
                    ])?;
            }
            for hash in &stored.subjects {
                subject.execute(params![hash.as_slice(), id])?;
            }
            Inserted::New(id)
        });
    }
    let mut counts = CountChanges::default();
    counts.added(
        RowState::Pending,
        results
            .iter()
            .filter(|inserted| matches!(inserted, Inserted::New(_)))
            .count(),
    );
    counts.write(connection)?;
    Ok(results)
}

/// [`Inbox::fail`] on `connection` (or inside a transaction); the row's move is recorded in
/// `counts`.
fn fail_in(
    connection: &Connection,
    id: i64,
    claim: i64,
    error: &str,
    retry_at_ms: Option<i64>,
    counts: &mut CountChanges,
) -> rusqlite::Result<bool> {
    let (state, next) = match retry_at_ms {
        Some(at) => (RowState::Pending, at),
        None => (RowState::Dead, now_ms()),
    };
    let changed = connection.prepare_cached(FAIL)?.execute(params![
        id,
        claim,
        state.as_str(),
        next,
        error
    ])?;
    counts.moved(RowState::InFlight, state, changed);
    Ok(changed == 1)
}

/// [`Inbox::complete`] on `connection` (inside the group's transaction); the row's move is
/// recorded in `counts`.
fn complete_in(
    connection: &Connection,
    id: i64,
    claim: i64,
    now: i64,
    counts: &mut CountChanges,
) -> rusqlite::Result<bool> {
    let changed = connection
        .prepare_cached(COMPLETE)?
        .execute(params![id, claim, now])?;
    counts.moved(RowState::InFlight, RowState::Done, changed);
    Ok(changed == 1)
}

const COLUMNS: &str = "id, endpoint, delivery_id, dedup_key, body, headers, matched_key, \
                       received_at, state, attempts, last_error, next_attempt_at, claim_token, \
                       key_id, body_removed_at, body_removed_why";

/// The statement of [`Inbox::list`] with only the filters given (an `?1 IS NULL OR ...` form
/// would keep SQLite from walking `hookbr_inbox_state`), and its values.
fn list_query(filter: &ListFilter, limit: usize) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    if let Some(state) = filter.state {
        values.push(Value::Text(state.as_str().to_owned()));
        conditions.push(format!("state = ?{}", values.len()));
    }
    if let Some(provider) = &filter.provider {
        values.push(Value::Text(provider.clone()));
        let n = values.len();
        conditions.push(format!("(endpoint = ?{n} OR endpoint LIKE ?{n} || ':%')"));
    }
    if let Some(since) = filter.since_ms {
        values.push(Value::Integer(since));
        conditions.push(format!("received_at >= ?{}", values.len()));
    }
    values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let limit_at = values.len();
    let condition = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {} ", conditions.join(" AND "))
    };
    (
        format!("SELECT {COLUMNS} FROM hookbr_inbox {condition}ORDER BY id DESC LIMIT ?{limit_at}"),
        values,
    )
}

/// The ids of at most `limit` rows to claim at `now`, oldest due first: two index walks, each
/// stopping at `limit`, merged here (an `OR` of both would read and sort every due row).
fn due_ids(
    connection: &Connection,
    now: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, RowState)>> {
    let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut due: Vec<(i64, i64, RowState)> = Vec::with_capacity(limit.min(1_024) * 2);
    for (sql, state) in [
        (CLAIM_PENDING, RowState::Pending),
        (CLAIM_EXPIRED, RowState::InFlight),
    ] {
        let mut statement = connection.prepare_cached(sql)?;
        let rows = statement.query_map(params![now, limit_sql], |r| Ok((r.get(1)?, r.get(0)?)))?;
        for entry in rows {
            let (at, id) = entry?;
            due.push((at, id, state));
        }
    }
    due.sort_unstable_by_key(|&(at, id, _)| (at, id));
    Ok(due
        .into_iter()
        .take(limit)
        .map(|(_, id, state)| (id, state))
        .collect())
}

/// A row as stored, with the id of the key it is sealed under ([`crate::crypt::open_row`]).
fn sealed_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(InboxRow, String)> {
    Ok((plain_row(row)?, row.get(13)?))
}

fn plain_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<InboxRow> {
    let key: Vec<u8> = row.get(3)?;
    let mut key_bytes = [0u8; 16];
    for (slot, byte) in key_bytes.iter_mut().zip(key) {
        *slot = byte;
    }
    let headers: String = row.get(5)?;
    let state: String = row.get(8)?;
    let record = InboxRecord::new(
        row.get(1)?,
        row.get(2)?,
        DedupKey::from_bytes(key_bytes),
        row.get(4)?,
        serde_json::from_str(&headers).unwrap_or_default(),
        row.get(6)?,
        row.get(7)?,
    );
    let mut inbox_row = InboxRow::new(row.get(0)?, record);
    inbox_row.state = RowState::from_text(&state).unwrap_or(RowState::Pending);
    inbox_row.attempts = row.get(9)?;
    inbox_row.last_error = row.get(10)?;
    inbox_row.next_attempt_at_ms = row.get(11)?;
    inbox_row.claim = row.get(12)?;
    let removed_at: Option<i64> = row.get(14)?;
    let removed_why: Option<String> = row.get(15)?;
    inbox_row.body_removed = removed_at.map(|at| {
        let reason = removed_why
            .as_deref()
            .and_then(BodyRemovedReason::from_text)
            .unwrap_or(BodyRemovedReason::Retention);
        BodyRemoved::new(at, reason)
    });
    Ok(inbox_row)
}

/// Rows indexed per transaction when an inbox created before the subject index is indexed.
const LEGACY_BATCH: i64 = 500;

/// Indexes the next batch of rows stored before migration 8 (highest id first); `false` once
/// none is left.
fn index_legacy_rows(connection: &mut Connection, salt: &[u8]) -> rusqlite::Result<bool> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let below: i64 = transaction.query_row(
        "SELECT number FROM hookbr_inbox_meta WHERE name = 'unindexed_below'",
        [],
        |r| r.get(0),
    )?;
    if below <= 1 {
        return Ok(false);
    }
    let rows: Vec<(i64, Vec<u8>)> = {
        let mut statement = transaction.prepare_cached(
            "SELECT id, body FROM hookbr_inbox WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        statement
            .query_map(params![below, LEGACY_BATCH], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    {
        let mut insert = transaction.prepare_cached(
            "INSERT INTO hookbr_inbox_subjects (subject, row_id) VALUES (?1, ?2) \
             ON CONFLICT DO NOTHING",
        )?;
        for (id, body) in &rows {
            for hash in index_entries(body, salt) {
                insert.execute(params![hash.as_slice(), id])?;
            }
        }
    }
    let next = rows.last().map_or(0, |(id, _)| *id);
    transaction.execute(
        "UPDATE hookbr_inbox_meta SET number = ?1 WHERE name = 'unindexed_below'",
        params![next],
    )?;
    transaction.commit()?;
    Ok(next > 1)
}

/// [`Inbox::erase_subject`] inside the caller's transaction.
fn erase_in(connection: &Connection, subject: &Subject, salt: &[u8]) -> rusqlite::Result<Erasure> {
    let hash = subject.hash(salt);
    let mut erasure = Erasure::new(hash);
    let mut ids: Vec<i64> = {
        let mut statement = connection
            .prepare_cached("SELECT row_id FROM hookbr_inbox_subjects WHERE subject = ?1")?;
        statement
            .query_map(params![hash.as_slice()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    // Rows naming more subjects than the index keeps: read those bodies.
    let marked: Vec<(i64, Vec<u8>)> = {
        let mut statement = connection.prepare_cached(
            "SELECT h.id, h.body FROM hookbr_inbox_subjects AS s \
             JOIN hookbr_inbox AS h ON h.id = s.row_id WHERE s.subject = ?1",
        )?;
        statement
            .query_map(params![overflow_marker(salt).as_slice()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?
    };
    for (id, body) in marked {
        if subjects(&body).contains(subject) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let now = now_ms();
    let mut state_of = connection.prepare_cached("SELECT state FROM hookbr_inbox WHERE id = ?1")?;
    let mut blank = connection.prepare_cached(
        "UPDATE hookbr_inbox SET body = x'', headers = '[]', key_id = 'none', body_removed_at = ?2, \
         body_removed_why = 'erased', state = 'done', lease_until = NULL, \
         completed_at = COALESCE(completed_at, ?2) WHERE id = ?1",
    )?;
    let mut unindex =
        connection.prepare_cached("DELETE FROM hookbr_inbox_subjects WHERE row_id = ?1")?;
    let mut counts = CountChanges::default();
    for id in ids {
        let Some(state) = state_of
            .query_row(params![id], |r| r.get::<_, String>(0))
            .optional()?
        else {
            continue;
        };
        let changed = blank.execute(params![id, now])?;
        unindex.execute(params![id])?;
        // A state this build does not know (a file written by hand) is in no count: the
        // row is counted as it joins `done`.
        let known = RowState::from_text(&state);
        match known {
            Some(state) => counts.moved(state, RowState::Done, changed),
            None => counts.added(RowState::Done, changed),
        }
        erasure.count(known.unwrap_or(RowState::Done));
    }
    counts.write(connection)?;
    let mut redact = connection.prepare_cached(
        "UPDATE hookbr_drift_changes SET example = ?2 WHERE instr(lower(example), ?1) > 0",
    )?;
    for spelling in subject.spellings() {
        erasure.drift_examples +=
            redact.execute(params![spelling, hookbr_core::drift::ERASED_EXAMPLE])? as u64;
    }
    Ok(erasure)
}

impl Inbox for SqliteInbox {
    /// The subject index entries are computed here, on the caller's task, so the writer thread
    /// only writes them.
    fn insert(&self, record: InboxRecord) -> StoreFuture<'_, Inserted> {
        let (reply, answer) = oneshot::channel();
        // The subject index and the entity are read from the clear record; the body is sealed
        // on the caller's thread, not the writer's.
        let subjects = index_entries(&record.body, &self.salt);
        let stored = StoredRecord::new(record, self.keys.as_deref());
        let sent = stored.and_then(|mut stored| {
            stored.subjects = subjects;
            self.commands
                .send(Command::Insert(Box::new((stored, reply))))
                .map_err(|_| stopped())
        });
        Box::pin(async move {
            sent?;
            answer.await.map_err(|_| stopped())?
        })
    }

    /// Grouped with the inserts and worker writes queued meanwhile (one commit; the claim is
    /// atomic with it). The group's transaction is IMMEDIATE, as for inserts: the claim reads
    /// then writes, and another process may commit in between.
    /// A row that does not open (its key is not configured, or its ciphertext was altered) is
    /// not handed out: it is dead-lettered in the same transaction with the reason as its
    /// error.
    fn claim_due(&self, limit: usize, lease: Duration) -> StoreFuture<'_, Vec<InboxRow>> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let keys = self.keys.clone();
        self.grouped(move |connection| {
            let now = now_ms();
            let ids = due_ids(connection, now, limit)?;
            let mut rows = Vec::with_capacity(ids.len());
            let mut counts = CountChanges::default();
            let mut claim = connection.prepare_cached(CLAIM_ROW)?;
            let mut read = connection
                .prepare_cached(&format!("SELECT {COLUMNS} FROM hookbr_inbox WHERE id = ?1"))?;
            for (id, was) in ids {
                let changed = claim.execute(params![id, now.saturating_add(lease_ms)])?;
                counts.moved(was, RowState::InFlight, changed);
                let (row, key_id) = read.query_row(params![id], sealed_row)?;
                let claim_token = row.claim;
                match open_row(keys.as_deref(), row, &key_id) {
                    Ok(row) => rows.push(row),
                    Err(error) => {
                        let reason = error.to_string();
                        fail_in(connection, id, claim_token, &reason, None, &mut counts)?;
                    }
                }
            }
            counts.write(connection)?;
            Ok(rows)
        })
    }

    fn complete(&self, id: i64, claim: i64) -> StoreFuture<'_, bool> {
        self.grouped(move |connection| {
            let mut counts = CountChanges::default();
            let completed = complete_in(connection, id, claim, now_ms(), &mut counts)?;
            counts.write(connection)?;
            Ok(completed)
        })
    }

    fn fail(
        &self,
        id: i64,
        claim: i64,
        error: String,
        retry_at_ms: Option<i64>,
    ) -> StoreFuture<'_, bool> {
        self.grouped(move |connection| {
            let mut counts = CountChanges::default();
            let failed = fail_in(connection, id, claim, &error, retry_at_ms, &mut counts)?;
            counts.write(connection)?;
            Ok(failed)
        })
    }

    fn renew(&self, id: i64, claim: i64, lease: Duration) -> StoreFuture<'_, bool> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        self.grouped(move |connection| {
            let changed = connection.prepare_cached(RENEW)?.execute(params![
                id,
                claim,
                now_ms().saturating_add(lease_ms)
            ])?;
            Ok(changed == 1)
        })
    }

    /// The whole batch in the next group transaction (one commit, one fsync, shared with the
    /// inserts queued meanwhile): all recorded, or none.
    fn settle_many(&self, outcomes: Vec<RowOutcome>) -> StoreFuture<'_, Vec<bool>> {
        self.grouped(move |connection| {
            let now = now_ms();
            let mut settled = Vec::with_capacity(outcomes.len());
            let mut counts = CountChanges::default();
            for outcome in &outcomes {
                settled.push(match outcome {
                    RowOutcome::Completed { id, claim } => {
                        complete_in(connection, *id, *claim, now, &mut counts)?
                    }
                    RowOutcome::Failed {
                        id,
                        claim,
                        error,
                        retry_at_ms,
                    } => fail_in(connection, *id, *claim, error, *retry_at_ms, &mut counts)?,
                });
            }
            counts.write(connection)?;
            Ok(settled)
        })
    }

    /// The whole batch in the next group transaction.
    fn renew_many(&self, rows: &[(i64, i64)], lease: Duration) -> StoreFuture<'_, Vec<bool>> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let rows = rows.to_vec();
        self.grouped(move |connection| {
            let until = now_ms().saturating_add(lease_ms);
            let mut statement = connection.prepare_cached(RENEW)?;
            let mut renewed = Vec::with_capacity(rows.len());
            for &(id, claim) in &rows {
                renewed.push(statement.execute(params![id, claim, until])? == 1);
            }
            Ok(renewed)
        })
    }

    fn list(&self, filter: ListFilter) -> StoreFuture<'_, Vec<InboxRow>> {
        let rows = self.run(move |connection| {
            let limit = if filter.limit == 0 { 100 } else { filter.limit };
            let (sql, values) = list_query(&filter, limit);
            let mut statement = connection.prepare_cached(&sql)?;
            let rows: Vec<(InboxRow, String)> = statement
                .query_map(rusqlite::params_from_iter(values), sealed_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        });
        let keys = self.keys.clone();
        Box::pin(async move {
            Ok(rows
                .await?
                .into_iter()
                .map(|(row, key_id)| open_listed(keys.as_deref(), row, &key_id))
                .collect())
        })
    }

    fn get(&self, id: i64) -> StoreFuture<'_, Option<InboxRow>> {
        let row = self.run(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {COLUMNS} FROM hookbr_inbox WHERE id = ?1"),
                    params![id],
                    sealed_row,
                )
                .optional()
        });
        let keys = self.keys.clone();
        Box::pin(async move {
            row.await?
                .map(|(row, key_id)| open_row(keys.as_deref(), row, &key_id))
                .transpose()
        })
    }

    fn replay(&self, id: i64) -> StoreFuture<'_, bool> {
        self.run(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = transaction.execute(
                "UPDATE hookbr_inbox SET state = 'pending', attempts = 0, next_attempt_at = ?2 \
                 WHERE id = ?1 AND state = 'dead'",
                params![id, now_ms()],
            )?;
            let mut counts = CountChanges::default();
            counts.moved(RowState::Dead, RowState::Pending, changed);
            counts.write(&transaction)?;
            transaction.commit()?;
            Ok(changed == 1)
        })
    }

    fn replay_dead(&self) -> StoreFuture<'_, u64> {
        self.run(|connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = transaction.execute(
                "UPDATE hookbr_inbox SET state = 'pending', attempts = 0, next_attempt_at = ?1 \
                 WHERE state = 'dead'",
                params![now_ms()],
            )?;
            let mut counts = CountChanges::default();
            counts.moved(RowState::Dead, RowState::Pending, changed);
            counts.write(&transaction)?;
            transaction.commit()?;
            Ok(changed as u64)
        })
    }

    fn prune(&self, before_ms: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            // One transaction per batch, each its own job on the writer thread: inserts queued
            // meanwhile are committed between two batches. Each batch is sized to hold the
            // writer about `PRUNE_BATCH_TARGET`, and the prune then waits as long as the batch
            // took, so it never takes more than half of the writer's time from ingest.
            let mut total = 0u64;
            let mut rows = PRUNE_BATCH_ROWS;
            loop {
                let (deleted, took) = self
                    .run(move |connection| {
                        let started = std::time::Instant::now();
                        let transaction =
                            connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                        let deleted = transaction
                            .prepare_cached(PRUNE_BATCH)?
                            .execute(params![before_ms, rows])?;
                        let mut counts = CountChanges::default();
                        counts.removed(RowState::Done, deleted);
                        counts.write(&transaction)?;
                        transaction.commit()?;
                        Ok::<_, rusqlite::Error>((deleted, started.elapsed()))
                    })
                    .await?;
                total += deleted as u64;
                if deleted < usize::try_from(rows).unwrap_or(usize::MAX) {
                    break;
                }
                rows = next_prune_rows(rows, took);
                pause(took).await;
            }
            // The ledger outlives the rows: only its own expiry removes an entry.
            self.run(|connection| prune_ledger(connection)).await?;
            // Entity rows went with their inbox rows; the guard forgets entities not seen
            // since.
            self.run(move |connection| {
                connection.execute(
                    "DELETE FROM hookbr_entity_latest WHERE updated_at < ?1",
                    params![before_ms],
                )
            })
            .await?;
            Ok(total)
        })
    }

    fn drop_bodies(&self, before_ms: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let mut total = 0u64;
            loop {
                let dropped = self
                    .run(move |connection| {
                        let transaction =
                            connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                        let ids: Vec<i64> = {
                            let mut statement = transaction.prepare_cached(DROP_BODIES_BATCH)?;
                            let rows = statement
                                .query_map(params![before_ms, PRUNE_BATCH_ROWS, now_ms()], |r| {
                                    r.get(0)
                                })?;
                            rows.collect::<rusqlite::Result<_>>()?
                        };
                        {
                            let mut unindex = transaction.prepare_cached(
                                "DELETE FROM hookbr_inbox_subjects WHERE row_id = ?1",
                            )?;
                            for id in &ids {
                                unindex.execute(params![id])?;
                            }
                        }
                        transaction.commit()?;
                        Ok(ids.len())
                    })
                    .await?;
                total += dropped as u64;
                if dropped < usize::try_from(PRUNE_BATCH_ROWS).unwrap_or(usize::MAX) {
                    break;
                }
            }
            Ok(total)
        })
    }

    fn erase_subject(&self, subject: Subject) -> StoreFuture<'_, Option<Erasure>> {
        let salt = self.salt.clone();
        Box::pin(async move {
            // Rows stored before the index existed are indexed first, a batch per transaction.
            for _ in 0..u32::MAX {
                let salt = salt.clone();
                let more = self
                    .run(move |connection| index_legacy_rows(connection, &salt))
                    .await?;
                if !more {
                    break;
                }
            }
            let erasure = self
                .run(move |connection| {
                    let transaction =
                        connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    let erasure = erase_in(&transaction, &subject, &salt)?;
                    transaction.commit()?;
                    // The old page versions in the WAL file would still hold the bodies.
                    connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                    Ok(erasure)
                })
                .await?;
            Ok(Some(erasure))
        })
    }

    fn remember_body(
        &self,
        key: DedupKey,
        fingerprint: BodyFingerprint,
        keep: Duration,
    ) -> StoreFuture<'_, Option<Seen>> {
        let future =
            self.run(move |connection| remember_body_in(connection, key, fingerprint, keep));
        Box::pin(async move { future.await.map(Some) })
    }

    fn judge_entity(&self, id: i64) -> StoreFuture<'_, Option<Verdict>> {
        self.run(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let verdict = judge_entity_in(&transaction, id)?;
            transaction.commit()?;
            Ok(Some(verdict))
        })
    }

    fn hold_entity(&self, id: i64, claim: i64) -> StoreFuture<'_, bool> {
        self.run(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = transaction.execute(
                "UPDATE hookbr_inbox SET attempts = MAX(attempts - 1, 0) \
                 WHERE id = ?1 AND claim_token = ?2 AND state = 'in_flight'",
                params![id, claim],
            )?;
            if changed == 1 {
                transaction.execute(
                    "UPDATE hookbr_entity_rows SET mark = 'held' WHERE row_id = ?1",
                    params![id],
                )?;
            }
            transaction.commit()?;
            Ok(changed == 1)
        })
    }

    fn entity_deliveries(
        &self,
        kind: String,
        id: String,
        limit: usize,
    ) -> StoreFuture<'_, Vec<EntityDelivery>> {
        let keys = self.keys.clone();
        self.run(move |connection| {
            let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
            let columns = COLUMNS
                .split(", ")
                .map(|column| format!("i.{}", column.trim()))
                .collect::<Vec<_>>()
                .join(", ");
            let mut statement = connection.prepare_cached(&format!(
                "SELECT {columns}, e.at_ms, e.rank, e.terminal, e.mark \
                 FROM hookbr_entity_rows AS e JOIN hookbr_inbox AS i ON i.id = e.row_id \
                 WHERE e.kind = ?1 AND e.entity_id = ?2 ORDER BY e.row_id DESC LIMIT ?3"
            ))?;
            let mut deliveries = statement
                .query_map(params![kind, id, limit], |r| {
                    let mark: Option<String> = r.get(19)?;
                    let (row, key_id) = sealed_row(r)?;
                    Ok(EntityDelivery::new(
                        open_listed(keys.as_deref(), row, &key_id),
                        stored_position(r.get(16)?, r.get(17)?, r.get(18)?),
                        mark.as_deref().and_then(EntityMark::from_text),
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            EntityDelivery::sort(&mut deliveries);
            Ok(deliveries)
        })
    }

    fn save_drift(&self, state: DriftState) -> StoreFuture<'_, bool> {
        self.run(move |connection| {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut path = transaction.prepare_cached(
                    "INSERT INTO hookbr_drift_paths (provider, kind, path, types) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (provider, kind, path) \
                     DO UPDATE SET types = types | excluded.types",
                )?;
                for shape in &state.shapes {
                    for (name, types) in &shape.paths {
                        path.execute(params![
                            shape.provider.as_str(),
                            shape.kind,
                            name,
                            i64::from(*types)
                        ])?;
                    }
                }
                let mut change = transaction.prepare_cached(
                    "INSERT INTO hookbr_drift_changes (provider, kind, change, detail, \
                     first_seen, last_seen, count, example) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (provider, kind, change, detail) DO UPDATE SET \
                     first_seen = MIN(first_seen, excluded.first_seen), \
                     last_seen = MAX(last_seen, excluded.last_seen), \
                     count = count + excluded.count",
                )?;
                for record in &state.records {
                    change.execute(params![
                        record.provider.as_str(),
                        record.kind,
                        record.change.as_str(),
                        record.detail,
                        record.first_seen_ms,
                        record.last_seen_ms,
                        i64::try_from(record.count).unwrap_or(i64::MAX),
                        record.example,
                    ])?;
                }
            }
            transaction.commit()?;
            Ok(true)
        })
    }

    fn load_drift(&self) -> StoreFuture<'_, Option<DriftState>> {
        self.run(|connection| {
            let mut shapes: Vec<KindShape> = Vec::new();
            let mut statement = connection.prepare_cached(
                "SELECT provider, kind, path, types FROM hookbr_drift_paths \
                 ORDER BY provider, kind",
            )?;
            let rows = statement.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            for row in rows {
                let (provider, kind, path, types) = row?;
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
            let mut statement = connection.prepare_cached(
                "SELECT provider, kind, change, detail, first_seen, last_seen, count, example \
                 FROM hookbr_drift_changes ORDER BY last_seen DESC LIMIT ?1",
            )?;
            let rows = statement.query_map(
                params![i64::try_from(MAX_RECORDS).unwrap_or(i64::MAX)],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                },
            )?;
            let mut records = Vec::new();
            for row in rows {
                let (provider, kind, change, detail, first, last, count, example) = row?;
                let (Ok(provider), Some(change)) =
                    (provider.parse::<Provider>(), ChangeKind::from_text(&change))
                else {
                    continue;
                };
                records.push(DriftRecord::new(
                    provider,
                    kind,
                    change,
                    detail,
                    first,
                    last,
                    u64::try_from(count).unwrap_or(0),
                    example,
                ));
            }
            Ok(Some(DriftState::new(shapes, records)))
        })
    }

    fn stats(&self) -> StoreFuture<'_, InboxStats> {
        self.run(|connection| {
            let mut stats = InboxStats::default();
            // Kept with every write ([`CountChanges`]): four rows, whatever the inbox's size.
            let mut statement =
                connection.prepare_cached("SELECT state, n FROM hookbr_inbox_counts")?;
            let counts =
                statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for count in counts {
                let (state, n) = count?;
                let n = u64::try_from(n).unwrap_or(0);
                match RowState::from_text(&state) {
                    Some(RowState::Pending) => stats.pending = n,
                    Some(RowState::InFlight) => stats.in_flight = n,
                    Some(RowState::Done) => stats.done = n,
                    Some(RowState::Dead) => stats.dead = n,
                    _ => {}
                }
            }
            stats.oldest_pending_ms = connection.query_row(OLDEST_OPEN, [], |r| r.get(0))?;
            Ok(stats)
        })
    }

    fn oldest_open_by_provider(
        &self,
        scan: usize,
    ) -> StoreFuture<'_, Option<Vec<(hookbr_core::Provider, i64)>>> {
        let limit = i64::try_from(scan).unwrap_or(i64::MAX);
        self.run(move |connection| {
            let mut statement = connection.prepare_cached(OLDEST_OPEN_ROWS)?;
            let rows = statement
                .query_map([limit], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(hookbr_core::inbox::oldest_per_provider(rows)))
        })
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn files_are_created_for_the_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("state").join("hookbr");
        let path = nested.join("inbox.sqlite3");
        let inbox = SqliteInbox::open(&path).unwrap();
        let record = InboxRecord::new(
            "bonifiq".into(),
            "d-1".into(),
            DedupKey::from_bytes([1; 16]),
            b"{}".to_vec(),
            Vec::new(),
            "#0".into(),
            now_ms(),
        );
        assert!(matches!(inbox.insert(record).await, Ok(Inserted::New(_))));
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&dir.path().join("state")), 0o700);
        drop(inbox);

        // An existing file keeps the mode its owner chose.
        let shared = dir.path().join("shared.sqlite3");
        std::fs::write(&shared, b"").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
        drop(SqliteInbox::open(&shared).unwrap());
        assert_eq!(mode(&shared), 0o640);
    }
}

/// Rows looked at per rekey pass at most, whatever the batch asked.
const MAX_REKEY_BATCH: i64 = 10_000;

/// [`SqliteInbox::check_keys`] on the connection: `Err` is the message for the operator.
fn check_keys_in(
    connection: &mut Connection,
    keys: Option<&InboxKeys>,
) -> rusqlite::Result<Result<(), String>> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(keys) = keys {
        for id in keys.ids() {
            let stored: Option<Vec<u8>> = transaction
                .query_row(
                    "SELECT check_value FROM hookbr_inbox_keys WHERE key_id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?;
            match stored {
                Some(stored) if !keys.check_matches(id, &stored) => {
                    return Ok(Err(format!(
                        "inbox encryption key {id:?} is not the key this inbox's rows under \
                         {id:?} were written with (wrong key for that id)"
                    )));
                }
                Some(_) => {}
                None => {
                    let Ok(Some(check)) = keys.check_value(id) else {
                        return Ok(Err(format!("inbox encryption key {id:?}: cannot seal")));
                    };
                    transaction.execute(
                        "INSERT INTO hookbr_inbox_keys (key_id, check_value, created_at) \
                         VALUES (?1, ?2, ?3)",
                        params![id, check, now_ms()],
                    )?;
                }
            }
        }
    }
    // The key ids rows are stored under, one index probe each.
    let mut after = String::new();
    let mut next = transaction.prepare(
        "SELECT MIN(key_id) FROM hookbr_inbox INDEXED BY hookbr_inbox_key WHERE key_id > ?1",
    )?;
    for _ in 0..10_000 {
        let Some(id): Option<String> = next.query_row(params![after], |r| r.get(0))? else {
            break;
        };
        if id != PLAINTEXT_KEY_ID && !keys.is_some_and(|keys| keys.ids().any(|k| k == id)) {
            return Ok(Err(format!(
                "inbox rows are encrypted under key {id:?}, which is not configured \
                 ([inbox] encryption_key / encryption_keys)"
            )));
        }
        after = id;
    }
    drop(next);
    transaction.commit()?;
    Ok(Ok(()))
}

/// [`SqliteInbox::rekey`] on the connection.
fn rekey_in(
    connection: &mut Connection,
    keys: &InboxKeys,
    after: i64,
    batch: i64,
) -> rusqlite::Result<(Rekeyed, i64)> {
    let current = keys.current_id().to_owned();
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut done = Rekeyed::default();
    let mut last = after;
    {
        let mut select = transaction.prepare(&format!(
            "SELECT {COLUMNS} FROM hookbr_inbox WHERE id > ?1 AND key_id <> ?2 \
             ORDER BY id LIMIT ?3"
        ))?;
        let rows = select
            .query_map(
                params![after, current, batch.min(MAX_REKEY_BATCH)],
                sealed_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        done.more = i64::try_from(rows.len()).unwrap_or(i64::MAX) == batch.min(MAX_REKEY_BATCH);
        let mut update = transaction.prepare(
            "UPDATE hookbr_inbox SET body = ?2, headers = '', key_id = ?3 \
             WHERE id = ?1 AND key_id = ?4",
        )?;
        for (row, key_id) in rows {
            last = row.id;
            let id = row.id;
            let sealed = open_row(Some(keys), row, &key_id).and_then(|row| keys.seal(&row.record));
            match sealed {
                Ok((new_id, body)) => {
                    done.rekeyed += update.execute(params![id, body, new_id, key_id])? as u64;
                }
                Err(error) => done.failure(&error),
            }
        }
    }
    transaction.commit()?;
    Ok((done, last))
}

#[cfg(test)]
mod group_commit {
    use super::*;

    fn stored(n: u8) -> StoredRecord {
        StoredRecord::new(record(n), None).unwrap()
    }

    fn record(n: u8) -> InboxRecord {
        InboxRecord::new(
            "bonifiq".into(),
            format!("d-{n}"),
            DedupKey::from_bytes([n; 16]),
            b"{}".to_vec(),
            Vec::new(),
            "#0".into(),
            now_ms(),
        )
    }

    fn grouped<T: Send + 'static>(
        job: impl Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> (
        Box<dyn GroupedJob>,
        oneshot::Receiver<Result<T, StoreError>>,
    ) {
        let (reply, answer) = oneshot::channel();
        let job = Grouped {
            job,
            result: None,
            reply,
        };
        (Box::new(job), answer)
    }

    /// The rows in `state`.
    pub(super) fn count(connection: &Connection, state: &str) -> i64 {
        per_state(
            connection,
            "SELECT COUNT(*) FROM hookbr_inbox WHERE state = ?1",
            state,
        )
    }

    /// What `stats` reads for `state`.
    pub(super) fn kept(connection: &Connection, state: &str) -> i64 {
        per_state(
            connection,
            "SELECT n FROM hookbr_inbox_counts WHERE state = ?1",
            state,
        )
    }

    fn per_state(connection: &Connection, sql: &str, state: &str) -> i64 {
        connection
            .query_row(sql, params![state], |r| r.get(0))
            .unwrap()
    }

    /// Inserts and worker writes share one transaction; a write that fails half-way makes the
    /// group run again member by member: it is undone alone, the rest is committed and
    /// answered.
    #[test]
    fn a_failing_write_is_undone_alone() {
        let mut connection = Connection::open_in_memory().unwrap();
        prepare(&mut connection, &MIGRATIONS).unwrap();
        let (first, first_answer) = oneshot::channel();
        let (second, second_answer) = oneshot::channel();
        // Marks every row done and keeps the counts as the inbox's own writes do, then fails:
        // rolled back, the kept counts with it.
        let (failing, failing_answer) = grouped(|connection| {
            let done = connection.execute("UPDATE hookbr_inbox SET state = 'done'", [])?;
            let mut counts = CountChanges::default();
            counts.moved(RowState::Pending, RowState::Done, done);
            counts.write(connection)?;
            connection.execute("UPDATE no_such_table SET x = 1", [])
        });
        let (claim, claim_answer) = grouped(|connection| due_ids(connection, now_ms(), 16));
        write_group(
            &mut connection,
            vec![(stored(1), first), (stored(2), second)],
            vec![failing, claim],
        );
        let inserted = |answer: oneshot::Receiver<Result<Inserted, StoreError>>| {
            futures_util_free::block_on(answer).unwrap().unwrap()
        };
        assert!(matches!(inserted(first_answer), Inserted::New(_)));
        assert!(matches!(inserted(second_answer), Inserted::New(_)));
        assert!(
            futures_util_free::block_on(failing_answer)
                .unwrap()
                .is_err()
        );
        assert_eq!(
            futures_util_free::block_on(claim_answer)
                .unwrap()
                .unwrap()
                .len(),
            2,
            "a later write sees the inserts"
        );
        assert_eq!(count(&connection, "pending"), 2);
        assert_eq!(count(&connection, "done"), 0, "the failed write is undone");
        // The inserts ran twice (in the group, then alone): their counts once.
        for state in ["pending", "in_flight", "done", "dead"] {
            assert_eq!(
                kept(&connection, state),
                count(&connection, state),
                "{state}"
            );
        }
    }

    /// A group whose transaction cannot start (another connection holds the write lock past
    /// the busy timeout) is refused whole: its members are not retried one by one (each would
    /// wait for the lock again).
    #[test]
    fn a_busy_database_refuses_the_group_at_once() {
        use std::sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.sqlite3");
        let mut connection = Connection::open(&path).unwrap();
        prepare(&mut connection, &MIGRATIONS).unwrap();
        connection.busy_timeout(Duration::from_millis(20)).unwrap();
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..2)
            .map(|_| {
                let runs = runs.clone();
                grouped(move |_| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
            })
            .collect();
        let (insert, insert_answer) = oneshot::channel();
        let (jobs, answers): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
        write_group(&mut connection, vec![(stored(1), insert)], jobs);
        assert!(futures_util_free::block_on(insert_answer).unwrap().is_err());
        for answer in answers {
            assert!(futures_util_free::block_on(answer).unwrap().is_err());
        }
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        holder.execute_batch("ROLLBACK").unwrap();
    }

    /// A minimal executor for the answers, which are ready once `write_group` returns.
    mod futures_util_free {
        use std::{
            future::Future,
            pin::pin,
            task::{Context, Poll, Waker},
        };

        pub(super) fn block_on<F: Future>(future: F) -> F::Output {
            let mut future = pin!(future);
            match future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
            {
                Poll::Ready(output) => output,
                Poll::Pending => panic!("not answered"),
            }
        }
    }
}

#[cfg(test)]
mod plans {
    use super::*;

    /// The plan SQLite chose for `sql`, one detail per line.
    fn plan(connection: &Connection, sql: &str, values: &[rusqlite::types::Value]) -> String {
        let mut statement = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let details: Vec<String> = statement
            .query_map(rusqlite::params_from_iter(values), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        details.join("\n")
    }

    fn migrated() -> Connection {
        let mut connection = Connection::open_in_memory().unwrap();
        prepare(&mut connection, &MIGRATIONS).unwrap();
        connection
    }

    fn int(n: i64) -> rusqlite::types::Value {
        rusqlite::types::Value::Integer(n)
    }

    /// Neither a temporary B-tree (a sort of every matching row) nor a scan of the table.
    fn assert_walks_index(plan: &str, index: &str) {
        assert!(!plan.contains("TEMP B-TREE"), "sorts:\n{plan}");
        assert!(!plan.contains("SCAN hookbr_inbox"), "scans:\n{plan}");
        assert!(plan.contains(index), "does not use {index}:\n{plan}");
    }

    #[test]
    fn the_claim_walks_one_index_per_state_in_order() {
        let connection = migrated();
        let values = [int(now_ms()), int(16)];
        assert_walks_index(
            &plan(&connection, CLAIM_PENDING, &values),
            "hookbr_inbox_pending",
        );
        assert_walks_index(
            &plan(&connection, CLAIM_EXPIRED, &values),
            "hookbr_inbox_leased",
        );
    }

    #[test]
    fn prune_stats_and_lists_by_state_use_their_indexes() {
        let connection = migrated();
        assert_walks_index(
            &plan(&connection, PRUNE_BATCH, &[int(now_ms()), int(10)]),
            "hookbr_inbox_state",
        );
        assert_walks_index(&plan(&connection, OLDEST_OPEN, &[]), "hookbr_inbox_open");
        let walk = plan(&connection, OLDEST_OPEN_ROWS, &[int(1000)]);
        assert!(
            walk.contains("USING COVERING INDEX hookbr_inbox_open"),
            "the oldest-open walk reads no table row: {walk}"
        );
        assert_walks_index(
            &plan(&connection, "SELECT state, n FROM hookbr_inbox_counts", &[])
                .replace("SCAN hookbr_inbox_counts", "counts"),
            "counts",
        );
        for state in [
            RowState::Pending,
            RowState::InFlight,
            RowState::Done,
            RowState::Dead,
        ] {
            let (sql, values) = list_query(&ListFilter::new().state(state), 100);
            assert_walks_index(&plan(&connection, &sql, &values), "hookbr_inbox_state");
        }
        // Unfiltered: newest first along the table itself, stopping at the limit.
        let (sql, values) = list_query(&ListFilter::new(), 100);
        let unfiltered = plan(&connection, &sql, &values);
        assert!(!unfiltered.contains("TEMP B-TREE"), "{unfiltered}");
    }

    /// Rows stored before migration 8 have no index entries: the first erasure indexes them.
    #[test]
    fn rows_from_before_the_index_are_indexed_by_the_first_erasure() {
        let mut connection = Connection::open_in_memory().unwrap();
        prepare(&mut connection, &MIGRATIONS[..5]).unwrap();
        for (key, body) in [(1u8, r#"{"cpf":"529.982.247-25"}"#), (2, "{}")] {
            connection
                .execute(
                    "INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers, \
                     matched_key, received_at, next_attempt_at, state) \
                     VALUES ('iset', 'd', ?1, ?2, '[]', '#0', 1, 1, 'done')",
                    params![vec![key; 16], body.as_bytes()],
                )
                .unwrap();
        }
        prepare(&mut connection, &MIGRATIONS).unwrap();
        let salt = b"salt";
        assert!(
            !index_legacy_rows(&mut connection, salt).unwrap(),
            "one batch"
        );
        assert!(!index_legacy_rows(&mut connection, salt).unwrap());
        let subject = Subject::parse("52998224725").unwrap();
        let erasure = erase_in(&connection, &subject, salt).unwrap();
        assert_eq!((erasure.rows(), erasure.done), (1, 1));
        let blank: Vec<u8> = connection
            .query_row("SELECT body FROM hookbr_inbox WHERE id = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(blank.is_empty());
    }

    /// A row whose state text this build does not know (written by hand) is in no count; once
    /// erased it is `done`, and the kept counts say so as `COUNT(*)` does.
    #[test]
    fn erasing_a_row_of_unknown_state_keeps_the_counts() {
        use super::group_commit::{count, kept};
        let connection = migrated();
        let salt = b"salt";
        for (key, state) in [(1u8, "archived"), (2, "pending")] {
            connection
                .execute(
                    "INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers, \
                     matched_key, received_at, next_attempt_at, state) \
                     VALUES ('iset', 'd', ?1, ?2, '[]', '#0', 1, 1, ?3)",
                    params![
                        vec![key; 16],
                        r#"{"cpf":"529.982.247-25"}"#.as_bytes(),
                        state
                    ],
                )
                .unwrap();
            let id = connection.last_insert_rowid();
            for hash in index_entries(br#"{"cpf":"529.982.247-25"}"#, salt) {
                connection
                    .execute(
                        "INSERT INTO hookbr_inbox_subjects (subject, row_id) VALUES (?1, ?2)",
                        params![hash.as_slice(), id],
                    )
                    .unwrap();
            }
        }
        // The pending row was counted as the module counts an insert; the unknown one never.
        let mut counts = CountChanges::default();
        counts.added(RowState::Pending, 1);
        counts.write(&connection).unwrap();
        let subject = Subject::parse("52998224725").unwrap();
        let erasure = erase_in(&connection, &subject, salt).unwrap();
        assert_eq!((erasure.rows(), erasure.pending, erasure.done), (2, 1, 1));
        for state in ["pending", "in_flight", "done", "dead"] {
            assert_eq!(
                kept(&connection, state),
                count(&connection, state),
                "{state}"
            );
        }
        assert_eq!(count(&connection, "done"), 2);
    }

    /// The prune's batch size follows its time towards the target, within its bounds.
    #[test]
    fn prune_batches_are_sized_by_their_time() {
        use std::time::Duration;
        let target = PRUNE_BATCH_TARGET;
        assert_eq!(next_prune_rows(500, target), 500);
        assert_eq!(next_prune_rows(500, target * 4), 250, "at most halved");
        assert_eq!(next_prune_rows(500, target / 4), 1_000, "at most doubled");
        assert_eq!(next_prune_rows(500, target * 5 / 4), 400);
        assert_eq!(
            next_prune_rows(PRUNE_MIN_ROWS, Duration::from_secs(1)),
            PRUNE_MIN_ROWS
        );
        assert_eq!(
            next_prune_rows(PRUNE_MAX_ROWS, Duration::ZERO),
            PRUNE_MAX_ROWS
        );
    }

    /// A prune of several batches pauses between them without any runtime's timer: the SQLite
    /// inbox alone (feature `sqlite`) has no tokio, and an executor without timers works.
    #[test]
    fn a_prune_of_several_batches_needs_no_runtime_timer() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = SqliteInbox::open(dir.path().join("inbox.sqlite3")).unwrap();
        let rows = PRUNE_BATCH_ROWS * 3 + 7;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime without the time driver");
        let pruned = runtime.block_on(async {
            inbox
                .run(move |connection| {
                    connection.execute(
                        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                         WHERE i < ?1) INSERT INTO hookbr_inbox (endpoint, delivery_id, \
                         dedup_key, body, headers, matched_key, received_at, next_attempt_at, \
                         state) SELECT 'bonifiq', 'd-' || i, randomblob(16), x'7b7d', '[]', \
                         '#0', 1, 1, 'done' FROM n",
                        params![rows],
                    )?;
                    // Rows written with SQL outside this module's statements: counted here.
                    connection.execute(
                        "UPDATE hookbr_inbox_counts SET n = n + ?1 WHERE state = 'done'",
                        params![rows],
                    )
                })
                .await
                .unwrap();
            inbox.prune(2).await.unwrap()
        });
        assert_eq!(pruned, u64::try_from(rows).unwrap());
        let stats = runtime.block_on(inbox.stats()).unwrap();
        assert_eq!(stats.done, 0);
    }

    #[test]
    fn counts_are_carried_over_by_the_migrations_and_recounted_without_triggers() {
        let mut connection = Connection::open_in_memory().unwrap();
        prepare(&mut connection, &MIGRATIONS[..3]).unwrap();
        let insert = |connection: &Connection, key: u8, state: &str| {
            connection
                .execute(
                    "INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers, \
                     matched_key, received_at, next_attempt_at, state) \
                     VALUES ('bonifiq', 'd', ?1, x'', '[]', '#0', 1, 1, ?2)",
                    params![vec![key; 16], state],
                )
                .unwrap();
        };
        for (key, state) in [(1, "pending"), (2, "done"), (3, "done"), (4, "dead")] {
            insert(&connection, key, state);
        }
        let counts = |connection: &Connection| -> Vec<(String, i64)> {
            let mut statement = connection
                .prepare("SELECT state, n FROM hookbr_inbox_counts ORDER BY state")
                .unwrap();
            statement
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let expect = |dead: i64, done: i64, in_flight: i64, pending: i64| {
            vec![
                ("dead".to_owned(), dead),
                ("done".to_owned(), done),
                ("in_flight".to_owned(), in_flight),
                ("pending".to_owned(), pending),
            ]
        };
        // Migration 4 counted the rows and its triggers kept the counts until migration 10.
        prepare(&mut connection, &MIGRATIONS[..9]).unwrap();
        assert_eq!(counts(&connection), expect(1, 2, 0, 1));
        connection
            .execute("DELETE FROM hookbr_inbox WHERE state = 'dead'", [])
            .unwrap();
        assert_eq!(
            counts(&connection),
            expect(0, 2, 0, 1),
            "kept by the triggers"
        );
        // Counts gone wrong before the upgrade are recounted by migration 10, which drops
        // the triggers: from then on only the module's own statements keep the counts.
        connection
            .execute("UPDATE hookbr_inbox_counts SET n = 7", [])
            .unwrap();
        prepare(&mut connection, &MIGRATIONS).unwrap();
        assert_eq!(counts(&connection), expect(0, 2, 0, 1));
        let triggers: i64 = connection
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(triggers, 0);
        insert(&connection, 5, "pending");
        assert_eq!(
            counts(&connection),
            expect(0, 2, 0, 1),
            "no trigger counts it"
        );
    }

    #[test]
    fn count_changes_are_written_per_state() {
        let mut connection = Connection::open_in_memory().unwrap();
        prepare(&mut connection, &MIGRATIONS).unwrap();
        let mut changes = CountChanges::default();
        changes.added(RowState::Pending, 5);
        changes.moved(RowState::Pending, RowState::InFlight, 3);
        changes.moved(RowState::InFlight, RowState::Done, 2);
        changes.moved(RowState::InFlight, RowState::Dead, 1);
        changes.removed(RowState::Done, 1);
        assert_eq!(
            changes,
            CountChanges {
                pending: 2,
                in_flight: 0,
                done: 1,
                dead: 1
            }
        );
        changes.write(&connection).unwrap();
        let stats: Vec<(String, i64)> = connection
            .prepare("SELECT state, n FROM hookbr_inbox_counts ORDER BY state")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            stats,
            [
                ("dead".to_owned(), 1),
                ("done".to_owned(), 1),
                ("in_flight".to_owned(), 0),
                ("pending".to_owned(), 2)
            ]
        );
    }
}
