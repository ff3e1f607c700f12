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
}

#[tokio::test]
async fn inbox_mode_answers_200_only_for_stored_rows() {
    let dir = tempfile::tempdir().unwrap();
    conformance::inbox_mode_answers_200_only_for_stored_rows(open(&dir)).await;
}

#[tokio::test]
async fn worker_completes_retries_dead_letters_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    conformance::worker_completes_retries_dead_letters_and_replays(open(&dir)).await;
}

#[tokio::test]
async fn panicking_handler_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    conformance::panicking_handler_is_retried(open(&dir)).await;
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
}
