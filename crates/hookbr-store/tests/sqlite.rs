//! The SQLite inbox on a real database file: inserts, duplicates, group commit under
//! concurrency, durability across reopen, inbox mode through the pipeline, and workers with
//! retries, dead-letter and replay.

#![cfg(all(feature = "sqlite", feature = "worker"))]

mod conformance;

use conformance::record;

use std::{sync::Arc, time::Duration};

use hookbr_core::inbox::{Inbox, Inserted, RowState};
use hookbr_store::SqliteInbox;

fn open(dir: &tempfile::TempDir) -> Arc<SqliteInbox> {
    Arc::new(SqliteInbox::open(dir.path().join("inbox.sqlite3")).expect("opens"))
}

/// The counts per state that `stats` reads (kept by the inbox's own statements, not by
/// triggers) equal the rows' states: every test of this file ends with it, so each path that
/// inserts, claims, settles, replays, prunes or erases rows is checked.
fn assert_counts_match(dir: &tempfile::TempDir) {
    let connection = rusqlite::Connection::open(dir.path().join("inbox.sqlite3")).unwrap();
    let read = |sql: &str| -> Vec<(String, i64)> {
        connection
            .prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let kept = read("SELECT state, n FROM hookbr_inbox_counts WHERE n != 0 ORDER BY state");
    let rows = read("SELECT state, COUNT(*) FROM hookbr_inbox GROUP BY state ORDER BY state");
    assert_eq!(kept, rows, "the kept counts per state equal the rows'");
}

#[tokio::test]
async fn insert_duplicate_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = open(&dir);
    let Inserted::New(id) = inbox.insert(record("a")).await.unwrap() else {
        panic!("new")
    };
    assert_eq!(
        inbox.insert(record("a")).await.unwrap(),
        Inserted::Duplicate
    );
    drop(inbox);
    let inbox = open(&dir);
    let row = inbox.get(id).await.unwrap().expect("durable across reopen");
    assert_eq!(row.record.delivery_id, "a");
    assert_eq!(row.state, RowState::Pending);
    assert_eq!(
        inbox.insert(record("a")).await.unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(inbox.stats().await.unwrap().pending, 1);
    assert_counts_match(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_share_transactions_and_never_double_store() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = open(&dir);
    let tasks: Vec<_> = (0..400)
        .map(|n| {
            let inbox = inbox.clone();
            // 200 distinct ids, each sent twice.
            tokio::spawn(async move { inbox.insert(record(&format!("id-{}", n % 200))).await })
        })
        .collect();
    let mut new = 0;
    let mut duplicate = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Inserted::New(_) => new += 1,
            Inserted::Duplicate => duplicate += 1,
        }
    }
    assert_eq!((new, duplicate), (200, 200));
    assert_eq!(inbox.stats().await.unwrap().pending, 200);
    assert_counts_match(&dir);
}

#[tokio::test]
async fn inbox_mode_answers_200_only_for_stored_rows() {
    let dir = tempfile::tempdir().unwrap();
    conformance::inbox_mode_answers_200_only_for_stored_rows(open(&dir)).await;
    assert_counts_match(&dir);
}

#[tokio::test]
async fn the_signature_ledger_outlives_rows_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    conformance::the_signature_ledger_outlives_rows_and_restarts(|| async {
        open(&dir) as Arc<dyn Inbox>
    })
    .await;
    assert_counts_match(&dir);
}

#[tokio::test]
async fn worker_completes_retries_dead_letters_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    conformance::worker_completes_retries_dead_letters_and_replays(open(&dir)).await;
    assert_counts_match(&dir);
}

#[tokio::test]
async fn panicking_handler_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    conformance::panicking_handler_is_retried(open(&dir)).await;
    assert_counts_match(&dir);
}

#[tokio::test]
async fn expired_leases_are_claimed_again() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = open(&dir);
    inbox.insert(record("l")).await.unwrap();
    let first = inbox
        .claim_due(10, Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        inbox
            .claim_due(10, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    let again = inbox.claim_due(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        again.len(),
        1,
        "a crashed worker's rows come back after the lease"
    );
    assert_eq!(again[0].attempts, 2);
    assert_counts_match(&dir);
}

#[tokio::test]
async fn a_stale_worker_cannot_change_a_row_claimed_again() {
    let dir = tempfile::tempdir().unwrap();
    conformance::a_stale_worker_cannot_change_a_row_claimed_again(open(&dir), open(&dir)).await;
    assert_counts_match(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_lost_its_lease_is_refused_and_the_row_completes_once() {
    let dir = tempfile::tempdir().unwrap();
    conformance::a_worker_that_lost_its_lease_is_refused_and_the_row_completes_once(
        open(&dir),
        open(&dir),
    )
    .await;
    assert_counts_match(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_leases_keep_a_slow_batch_with_its_worker() {
    let dir = tempfile::tempdir().unwrap();
    conformance::renewed_leases_keep_a_slow_batch_with_its_worker(open(&dir), open(&dir)).await;
    assert_counts_match(&dir);
}

/// A database created before claim tokens existed (schema version 1, a row in flight)
/// upgrades in place, and the row is claimed, fenced and completed as any other.
#[tokio::test]
async fn version_1_databases_upgrade_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite3");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "CREATE TABLE hookbr_inbox (
                    id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL, delivery_id TEXT NOT NULL,
                    dedup_key BLOB NOT NULL UNIQUE, body BLOB NOT NULL, headers TEXT NOT NULL,
                    matched_key TEXT NOT NULL, received_at INTEGER NOT NULL,
                    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL, lease_until INTEGER, last_error TEXT,
                    completed_at INTEGER);
                 CREATE INDEX hookbr_inbox_due ON hookbr_inbox (state, next_attempt_at);
                 CREATE INDEX hookbr_inbox_received ON hookbr_inbox (received_at);
                 INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers,
                    matched_key, received_at, state, attempts, next_attempt_at, lease_until)
                    VALUES ('bonifiq', 'old', x'00112233445566778899aabbccddeeff', x'7b7d',
                    '[]', '#0', 1, 'in_flight', 1, 1, 1);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
    }
    let inbox = open(&dir);
    let rows = inbox.claim_due(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        rows.len(),
        1,
        "the expired in-flight row of the old version"
    );
    assert_eq!(
        (rows[0].record.delivery_id.as_str(), rows[0].attempts),
        ("old", 2)
    );
    assert_ne!(rows[0].claim, 0, "claimed with a token");
    assert!(
        !inbox.complete(rows[0].id, 0).await.unwrap(),
        "the pre-upgrade token is stale"
    );
    assert!(inbox.complete(rows[0].id, rows[0].claim).await.unwrap());
    drop(inbox);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    // Claim tokens (2), the signature ledger (3), the indexes per state (4), the drift
    // watch's tables (5), the entity index and the ordering guard (6), the encryption key ids
    // (7), the subject index and body retention (8), the covering open-rows index (9), then
    // the counts kept without triggers (10).
    assert_eq!(version, 10);
    assert_counts_match(&dir);
}

/// A file migrated by a newer hookbr (a schema version this build does not know) is refused
/// with a message naming the file and both versions, and left as it was: this build would not
/// keep what the newer schema expects (since migration 10, the per-state counts).
#[tokio::test]
async fn a_file_from_a_newer_hookbr_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite3");
    drop(open(&dir));
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 11)
        .unwrap();
    let error = SqliteInbox::open(&path).unwrap_err().to_string();
    assert!(error.contains("newer hookbr"), "{error}");
    assert!(error.contains("schema version 11"), "{error}");
    assert!(error.contains("knows 10"), "{error}");
    assert!(error.contains(&path.display().to_string()), "{error}");
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 11, "left as it was");

    let ledger = dir.path().join("ledger.sqlite3");
    drop(hookbr_store::SqliteLedger::open(&ledger).unwrap());
    rusqlite::Connection::open(&ledger)
        .unwrap()
        .pragma_update(None, "user_version", 2)
        .unwrap();
    let error = hookbr_store::SqliteLedger::open(&ledger)
        .unwrap_err()
        .to_string();
    assert!(error.contains("sqlite ledger"), "{error}");
    assert!(error.contains("schema version 2"), "{error}");

    // An inbox file given as the ledger is named as such.
    let inbox_file = dir.path().join("other-inbox.sqlite3");
    drop(SqliteInbox::open(&inbox_file).unwrap());
    let error = hookbr_store::SqliteLedger::open(&inbox_file)
        .unwrap_err()
        .to_string();
    assert!(error.contains("is an inbox file"), "{error}");
}

/// The direct-mode ledger file: survives a reopen, expires entries after the time asked for,
/// and refuses a forged Grafeno body through a receiver after a "restart" (a new receiver and
/// store on the same file).
#[tokio::test]
async fn the_ledger_file_survives_a_restart() {
    use hookbr_core::{
        DedupKey, Endpoint, Receiver,
        ledger::{BodyFingerprint, Seen, SignatureLedger},
        testkit::{self, TestKey},
        verify::GrafenoVerifier,
    };
    use hookbr_store::SqliteLedger;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state").join("ledger.sqlite3");
    let receiver = || {
        Receiver::builder(
            Endpoint::Grafeno,
            GrafenoVerifier::new([TestKey::rsa_2048().public_key()]).unwrap(),
        )
        .signature_ledger(Arc::new(SqliteLedger::open(&path).unwrap()))
        .build()
        .unwrap()
    };
    let genuine = testkit::grafeno_registration("approved", TestKey::rsa_2048());
    let forged = genuine
        .clone()
        .with_json_field("data", serde_json::json!({"id": "attacker-chosen"}));
    let grafeno = receiver();
    let verified = grafeno.process(&genuine.request()).await.unwrap();
    grafeno.complete(&verified).await.unwrap();
    let refused = grafeno.process(&forged.request()).await.unwrap_err();
    assert_eq!(
        (refused.status(), refused.reason()),
        (401, "signature_reused")
    );
    drop(grafeno);
    // A restart: a new in-memory dedup store (the genuine delivery is forgotten there), the
    // same ledger file.
    let grafeno = receiver();
    let refused = grafeno.process(&forged.request()).await.unwrap_err();
    assert_eq!(
        (refused.status(), refused.reason()),
        (401, "signature_reused")
    );
    assert!(grafeno.process(&genuine.request()).await.is_ok());
    drop(grafeno);

    let ledger = SqliteLedger::open(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key = DedupKey::from_bytes([9; 16]);
    let (a, b) = (BodyFingerprint::of(b"a"), BodyFingerprint::of(b"b"));
    let short = Duration::from_millis(20);
    assert_eq!(ledger.remember(key, a, short).await.unwrap(), Seen::First);
    assert_eq!(
        ledger.remember(key, b, short).await.unwrap(),
        Seen::Different
    );
    drop(ledger);
    let ledger = SqliteLedger::open(&path).unwrap();
    assert_eq!(ledger.remember(key, a, short).await.unwrap(), Seen::Same);
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert_eq!(ledger.remember(key, b, short).await.unwrap(), Seen::First);
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_at_once() {
    let dir = tempfile::tempdir().unwrap();
    conformance::a_permanent_failure_is_dead_lettered_at_once(open(&dir)).await;
    assert_counts_match(&dir);
}

#[tokio::test]
async fn the_drift_watch_is_kept_and_merged() {
    let dir = tempfile::tempdir().unwrap();
    conformance::the_drift_watch_is_kept_and_merged(|| async { open(&dir) as Arc<dyn Inbox> })
        .await;
    assert_counts_match(&dir);
}

#[tokio::test]
async fn outcomes_are_recorded_in_batches_fenced_by_claim() {
    let dir = tempfile::tempdir().unwrap();
    conformance::outcomes_are_recorded_in_batches_fenced_by_claim(open(&dir), open(&dir)).await;
    assert_counts_match(&dir);
}

#[tokio::test]
async fn a_worker_runs_at_most_concurrency_handlers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    conformance::a_worker_runs_at_most_concurrency_handlers_at_once(open(&dir)).await;
    assert_counts_match(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_leases_keep_a_slow_concurrent_batch_with_its_worker() {
    let dir = tempfile::tempdir().unwrap();
    conformance::renewed_leases_keep_a_slow_concurrent_batch_with_its_worker(
        open(&dir),
        open(&dir),
    )
    .await;
    assert_counts_match(&dir);
}

#[tokio::test]
async fn entities_are_indexed_and_judged() {
    let dir = tempfile::tempdir().unwrap();
    conformance::entities_are_indexed_and_judged(open(&dir)).await;
    assert_counts_match(&dir);
}

/// Erasure on request: every row of the subject, in every state, loses its body; no spelling
/// of the subject remains anywhere in the database file or its WAL; others' rows are untouched.
#[tokio::test]
async fn erasure_removes_every_trace_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = open(&dir);
    conformance::erasure_removes_every_trace(inbox.clone()).await;
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(file) = std::fs::read(dir.path().join(format!("inbox.sqlite3{suffix}"))) {
            bytes.extend(file);
        }
    }
    let lower = bytes.to_ascii_lowercase();
    for spelling in conformance::SUBJECT_SPELLINGS {
        assert!(
            !lower
                .windows(spelling.len())
                .any(|window| window == spelling.as_bytes()),
            "{spelling} is still in the database files"
        );
    }
    for other in ["maria@example.org", "111.444.777-35"] {
        assert!(
            lower.windows(other.len()).any(|w| w == other.as_bytes()),
            "{other}'s rows are kept"
        );
    }
    assert_counts_match(&dir);
}

#[tokio::test]
async fn bodies_are_dropped_before_keys() {
    let dir = tempfile::tempdir().unwrap();
    conformance::bodies_are_dropped_before_keys(open(&dir)).await;
    assert_counts_match(&dir);
}

#[tokio::test]
async fn the_oldest_open_row_per_provider_is_found() {
    let dir = tempfile::tempdir().unwrap();
    conformance::the_oldest_open_row_per_provider_is_found(open(&dir)).await;
    assert_counts_match(&dir);
}
