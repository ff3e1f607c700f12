//! The SQLite inbox on a real database file: inserts, duplicates, group commit under
//! concurrency, durability across reopen, inbox mode through the pipeline, and workers with
//! retries, dead-letter and replay.

#![cfg(all(feature = "sqlite", feature = "worker"))]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use hookbr_core::{
    DeliveryId, Endpoint, Provider, Receiver, Secret,
    inbox::{Inbox, InboxRecord, Inserted, ListFilter, RowState, now_ms},
    testkit,
    verify::HeaderSecretVerifier,
};
use hookbr_store::{
    SqliteInbox,
    worker::{Delivered, Worker, WorkerOptions},
};

fn record(id: &str) -> InboxRecord {
    let delivery = testkit::bonifiq_point_add("s");
    InboxRecord::new(
        "bonifiq".into(),
        id.into(),
        DeliveryId::new(Provider::Bonifiq, id).key(),
        delivery.body,
        vec![("content-type".into(), "application/json".into())],
        "#0".into(),
        now_ms(),
    )
}

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
    let inbox = open(&dir);
    let receiver = Receiver::builder(
        Endpoint::Bonifiq,
        HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap(),
    )
    .inbox(inbox.clone())
    .build()
    .unwrap();
    let delivery = testkit::bonifiq_point_add("s");
    let stored = receiver.process(&delivery.request()).await.unwrap_err();
    assert_eq!((stored.status(), stored.category()), (200, "stored"));
    let copy = receiver.process(&delivery.request()).await.unwrap_err();
    assert_eq!((copy.status(), copy.category()), (200, "duplicate"));
    let forged = receiver
        .process(&testkit::bonifiq_point_add("guess").request())
        .await
        .unwrap_err();
    assert_eq!(forged.status(), 401);
    let rows = inbox.list(ListFilter::default()).await.unwrap();
    assert_eq!(
        rows.len(),
        1,
        "forged and duplicate deliveries are not stored"
    );
    assert_eq!(rows[0].record.body, delivery.body);
    assert!(
        rows[0]
            .record
            .headers
            .iter()
            .all(|(name, _)| name != "X-Loyalty-Secret"),
        "secret headers are not stored"
    );
}

fn fast() -> WorkerOptions {
    WorkerOptions::default()
        .max_attempts(3)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .idle(Duration::from_millis(5))
}

#[tokio::test]
async fn worker_completes_retries_dead_letters_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = open(&dir);
    inbox.insert(record("ok")).await.unwrap();
    let Inserted::New(failing) = inbox.insert(record("fails")).await.unwrap() else {
        panic!()
    };
    let calls = Arc::new(AtomicUsize::new(0));
    let healed = Arc::new(AtomicUsize::new(0));
    let (counter, switch) = (calls.clone(), healed.clone());
    let worker = Worker::new(
        inbox.clone(),
        move |delivered: Delivered| {
            counter.fetch_add(1, Ordering::SeqCst);
            let fails = delivered.row.record.delivery_id == "fails";
            let healed = switch.load(Ordering::SeqCst) > 0;
            async move {
                assert_eq!(delivered.event.kind(), "Point_Add");
                if fails && !healed {
                    Err("downstream refused".to_owned())
                } else {
                    Ok(())
                }
            }
        },
        fast(),
    );
    for _ in 0..200 {
        worker.run_once().await.unwrap();
        let stats = inbox.stats().await.unwrap();
        if stats.done == 1 && stats.dead == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let row = inbox.get(failing).await.unwrap().unwrap();
    assert_eq!(row.state, RowState::Dead);
    assert_eq!(row.attempts, 3);
    assert_eq!(row.last_error.as_deref(), Some("downstream refused"));
    assert_eq!(calls.load(Ordering::SeqCst), 1 + 3);

    healed.store(1, Ordering::SeqCst);
    assert!(inbox.replay(failing).await.unwrap());
    assert!(
        !inbox.replay(failing).await.unwrap(),
        "only dead rows replay"
    );
    assert_eq!(
        inbox.replay_dead().await.unwrap(),
        0,
        "nothing else is dead"
    );
    let round = worker.run_once().await.unwrap();
    assert_eq!(round.completed, 1);
    assert_eq!(
        inbox.get(failing).await.unwrap().unwrap().state,
        RowState::Done
    );
    assert_eq!(inbox.stats().await.unwrap().done, 2);
    assert_eq!(inbox.prune(now_ms() + 1).await.unwrap(), 2);
}

#[tokio::test]
async fn panicking_handler_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = open(&dir);
    let Inserted::New(id) = inbox.insert(record("p")).await.unwrap() else {
        panic!()
    };
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let worker = Worker::new(
        inbox.clone(),
        move |_: Delivered| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(n > 0, "panics the first time");
                Ok::<(), String>(())
            }
        },
        fast(),
    );
    worker.run_once().await.unwrap();
    let row = inbox.get(id).await.unwrap().unwrap();
    assert_eq!(row.state, RowState::Pending);
    assert_eq!(row.last_error.as_deref(), Some("the handler panicked"));
    for _ in 0..100 {
        if worker.run_once().await.unwrap().completed == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(inbox.get(id).await.unwrap().unwrap().state, RowState::Done);
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
