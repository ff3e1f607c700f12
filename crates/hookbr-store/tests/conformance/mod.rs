//! Behaviour every `Inbox` backend must share, run by `sqlite.rs` and `postgres.rs` on their
//! own backend.

#![allow(dead_code, reason = "each test binary uses the part it needs")]

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
use hookbr_store::worker::{Delivered, Worker, WorkerOptions};

/// A BonifiQ record with delivery id `id`.
pub(crate) fn record(id: &str) -> InboxRecord {
    record_for("bonifiq", id)
}

/// A record for `endpoint` with delivery id `id`.
pub(crate) fn record_for(endpoint: &str, id: &str) -> InboxRecord {
    let delivery = testkit::bonifiq_point_add("s");
    InboxRecord::new(
        endpoint.into(),
        id.into(),
        DeliveryId::new(Provider::Bonifiq, id).key(),
        delivery.body,
        vec![("content-type".into(), "application/json".into())],
        "#0".into(),
        now_ms(),
    )
}

pub(crate) fn fast() -> WorkerOptions {
    WorkerOptions::default()
        .max_attempts(3)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .idle(Duration::from_millis(5))
}

/// See the test of the same name in each backend's file.
pub(crate) async fn inbox_mode_answers_200_only_for_stored_rows(inbox: Arc<dyn Inbox>) {
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

/// See the test of the same name in each backend's file.
pub(crate) async fn worker_completes_retries_dead_letters_and_replays(inbox: Arc<dyn Inbox>) {
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
    assert_eq!(
        inbox.replay_dead().await.unwrap(),
        1,
        "replay every dead row"
    );
    assert!(
        !inbox.replay(failing).await.unwrap(),
        "only dead rows replay"
    );
    let round = worker.run_once().await.unwrap();
    assert_eq!(round.completed, 1);
    assert_eq!(
        inbox.get(failing).await.unwrap().unwrap().state,
        RowState::Done
    );
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.done, stats.oldest_pending_ms), (2, None));
    assert_eq!(inbox.prune(now_ms() + 1).await.unwrap(), 2);
    assert_eq!(inbox.stats().await.unwrap().done, 0);
}

/// See the test of the same name in each backend's file.
pub(crate) async fn panicking_handler_is_retried(inbox: Arc<dyn Inbox>) {
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
