//! How the SQLite inbox's cost grows with its size (`scripts/bench-scale`):
//!
//! * `fill <path> <rows> [--pending N] [--schema 3]`: one transaction, one prepared statement,
//!   `rows` rows of which `N` pending (spread evenly) and the rest done, then the file is
//!   synced (written without fsync, its dirty pages would be flushed by the measured server's
//!   first fsync). `--schema 3` builds the schema of hookbr before the per-state indexes
//!   (migration 4), to measure the old claim.
//! * `claim-old <path>`: the claim of that older schema (one `OR` of both states, sorted),
//!   committed as hookbr commits it (WAL, `synchronous = FULL`).
//! * `probe <path>`: opens the inbox (migrating it), then times what every inbox operation the
//!   inspector and the CLI use costs at this size: one claim of 16 rows, `stats`, the first
//!   page of `list` (100 rows, and 100 dead rows), `get`.
//!
//! Each timing is the median of 5 calls.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use hookbr_core::inbox::{Inbox, ListFilter, RowState, now_ms};
use hookbr_store::SqliteInbox;
use rusqlite::{Connection, params};

/// The schema of hookbr before migration 4 (migrations 1 to 3 as they shipped).
const SCHEMA_3: &str = r"
CREATE TABLE hookbr_inbox (
    id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL, delivery_id TEXT NOT NULL,
    dedup_key BLOB NOT NULL UNIQUE, body BLOB NOT NULL, headers TEXT NOT NULL,
    matched_key TEXT NOT NULL, received_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL, lease_until INTEGER, last_error TEXT,
    completed_at INTEGER);
CREATE INDEX hookbr_inbox_due ON hookbr_inbox (state, next_attempt_at);
CREATE INDEX hookbr_inbox_received ON hookbr_inbox (received_at);
ALTER TABLE hookbr_inbox ADD COLUMN claim_token INTEGER NOT NULL DEFAULT 0;
CREATE TABLE hookbr_signature_ledger (
    dedup_key BLOB PRIMARY KEY, fingerprint BLOB NOT NULL, expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX hookbr_signature_ledger_expiry ON hookbr_signature_ledger (expires_at);
PRAGMA user_version = 3;
";

/// The claim as hookbr ran it before migration 4.
const OLD_CLAIM: &str = "SELECT id FROM hookbr_inbox WHERE (state = 'pending' AND \
     next_attempt_at <= ?1) OR (state = 'in_flight' AND lease_until <= ?1) \
     ORDER BY next_attempt_at LIMIT ?2";

/// A BonifiQ `Point_Add` delivery as BonifiQ sends it (the simulator's, ~330 bytes), its
/// `Uuid` filled in per row: decoded by the worker as a known kind. (Until 2026-12-01 the fill
/// wrote a body of another shape, which decoded as `custom`.)
const BODY_HEAD: &str = r#"{"Uuid":""#;
const BODY_TAIL: &str = r#"","Timestamp":"2026-11-30T12:00:00.000000","Topic":0,"TopicName":"Point_Add","Payload":{"Points":150,"PointType":0,"PointAction":1,"Customer":{"Email":"maria@example.com","Id":"12345","Name":"Maria Silva"},"PointsBalance":{"PointsBalance":1200,"CashbackBalance":210},"PointId":98765}}"#;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

/// `bench-server fill`.
pub(crate) fn fill(mut args: impl Iterator<Item = String>, usage: &str) -> Result<()> {
    let path = args.next().ok_or(usage)?;
    let rows: u64 = args.next().ok_or(usage)?.parse()?;
    let (mut pending, mut schema) = (rows / 10, 4);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--pending" => pending = args.next().ok_or(usage)?.parse()?,
            "--schema" => schema = args.next().ok_or(usage)?.parse()?,
            _ => return Err(usage.into()),
        }
    }
    let started = Instant::now();
    if schema == 3 {
        Connection::open(&path)?.execute_batch(SCHEMA_3)?;
    } else {
        // The current schema, as `hookbr serve` creates it.
        drop(SqliteInbox::open(&path)?);
    }
    let mut connection = Connection::open(&path)?;
    connection.busy_timeout(Duration::from_secs(10))?;
    // A throwaway benchmark file: no journal, no fsync while filling; WAL again afterwards.
    // Leaving WAL needs the file to ourselves: the inbox's thread may still be closing it.
    let mut attempts = 0;
    while let Err(error) = connection.pragma_update(None, "journal_mode", "OFF") {
        attempts += 1;
        if attempts == 100 {
            return Err(error.into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    connection.pragma_update(None, "synchronous", "OFF")?;
    connection.pragma_update(None, "cache_size", -262_144)?;
    let every = rows
        .checked_div(pending)
        .map_or(u64::MAX, |every| every.max(1));
    // Received over the last `rows` ms, oldest first; the pending ones are due now.
    let start = now_ms() - i64::try_from(rows)?;
    let transaction = connection.transaction()?;
    {
        let mut insert = transaction.prepare(
            "INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers, \
             matched_key, received_at, next_attempt_at, state, attempts, completed_at) \
             VALUES ('bonifiq', ?1, ?2, ?3, '[]', '#0', ?4, ?4, ?5, ?6, ?7)",
        )?;
        let mut filled_pending = 0;
        for n in 0..rows {
            let at = start + i64::try_from(n)?;
            let is_pending = filled_pending < pending && n % every == 0;
            if is_pending {
                filled_pending += 1;
            }
            let key = (u128::from(n) | (1 << 127)).to_be_bytes();
            let uuid = format!("00000000-0000-4000-8000-{n:012x}");
            insert.execute(params![
                uuid,
                key.as_slice(),
                format!("{BODY_HEAD}{uuid}{BODY_TAIL}").as_bytes(),
                at,
                if is_pending { "pending" } else { "done" },
                u32::from(!is_pending),
                if is_pending { None } else { Some(at) },
            ])?;
        }
        // The inbox keeps its counts per state with its own statements (no triggers since
        // its migration 10): rows written here are counted here. The schema of `--schema 3`
        // has no counts (migration 4 counts the rows when the file is opened later).
        if schema != 3 {
            let mut count = transaction
                .prepare("UPDATE hookbr_inbox_counts SET n = n + ?2 WHERE state = ?1")?;
            count.execute(params!["pending", filled_pending])?;
            count.execute(params!["done", rows - filled_pending])?;
        }
    }
    transaction.commit()?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    drop(connection);
    // Written without fsync, the file's pages are still dirty in the OS (gigabytes at 10 M
    // rows): the first fsync of the measured server would flush them all and stall its writer
    // for seconds (measured: the first ingest run after a 10 M fill at 0.6 of the second).
    // An inbox that grew to this size in service has long been written back.
    std::fs::File::open(&path)?.sync_all()?;
    println!(
        "filled {rows} rows ({pending} pending) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `bench-server claim-old`.
pub(crate) fn claim_old(path: &str) -> Result<()> {
    let mut connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    let mut samples = Vec::new();
    let mut steps = String::new();
    for _ in 0..5 {
        let started = Instant::now();
        let transaction = connection.transaction()?;
        let ids: Vec<i64> = {
            let mut statement = transaction.prepare_cached(OLD_CLAIM)?;
            statement
                .query_map(params![now_ms(), 16], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut claimed = 0;
        for id in &ids {
            claimed += transaction.execute(
                "UPDATE hookbr_inbox SET state = 'in_flight', lease_until = ?2, \
                 attempts = attempts + 1 WHERE id = ?1",
                params![id, now_ms() + 60_000],
            )?;
        }
        // Counted as the inbox counts them (no triggers), where the file has counts (the
        // older schema this measures has none): a filled inbox has no expired leases, so
        // every row claimed here was pending.
        let has_counts: bool = transaction.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'hookbr_inbox_counts')",
            [],
            |r| r.get(0),
        )?;
        if has_counts {
            transaction.execute(
                "UPDATE hookbr_inbox_counts SET n = n + CASE state WHEN 'in_flight' THEN ?1 \
                 ELSE -?1 END WHERE state IN ('pending', 'in_flight')",
                params![claimed],
            )?;
        }
        transaction.commit()?;
        samples.push(ms(started.elapsed()));
        if steps.is_empty() {
            let mut plan = connection.prepare(&format!("EXPLAIN QUERY PLAN {OLD_CLAIM}"))?;
            steps = plan
                .query_map(params![now_ms(), 16], |r| r.get::<_, String>(3))?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .join("; ");
        }
    }
    println!("claim16_ms\t{:.3}\tplan: {steps}", median(samples));
    Ok(())
}

async fn timed<T, F: std::future::Future<Output = T>>(mut call: impl FnMut() -> F) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let _ = call().await;
        samples.push(ms(started.elapsed()));
    }
    median(samples)
}

/// `bench-server probe`.
pub(crate) fn probe(path: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let started = Instant::now();
        let inbox = SqliteInbox::open(Path::new(path))?;
        // The first call waits for the migration, if any.
        let stats = inbox.stats().await?;
        println!("open_ms\t{:.3}", ms(started.elapsed()));
        println!(
            "rows\t{}\t(pending {}, done {})",
            stats.pending + stats.in_flight + stats.done + stats.dead,
            stats.pending,
            stats.done
        );
        let lease = Duration::from_secs(600);
        println!(
            "claim16_ms\t{:.3}",
            timed(|| inbox.claim_due(16, lease)).await
        );
        println!("stats_ms\t{:.3}", timed(|| inbox.stats()).await);
        println!(
            "list100_ms\t{:.3}",
            timed(|| inbox.list(ListFilter::new().limit(100))).await
        );
        println!(
            "list100_dead_ms\t{:.3}",
            timed(|| inbox.list(ListFilter::new().state(RowState::Dead).limit(100))).await
        );
        println!(
            "inspector_page_ms\t{:.3}\t(stats + list of 100)",
            timed(|| async {
                let _ = inbox.stats().await;
                inbox.list(ListFilter::new().limit(100)).await
            })
            .await
        );
        println!("get_ms\t{:.3}", timed(|| inbox.get(1)).await);
        Ok(())
    })
}
