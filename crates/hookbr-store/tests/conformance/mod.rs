//! Behaviour every `Inbox` backend must share, run by `sqlite.rs` and `postgres.rs` on their
//! own backend.

#![allow(dead_code, reason = "each test binary uses the part it needs")]

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hookbr_core::{
    DeliveryId, Endpoint, Provider, Receiver, Secret,
    dedup::StoreFuture,
    inbox::{
        Inbox, InboxRecord, InboxRow, InboxStats, Inserted, ListFilter, RowOutcome, RowState,
        now_ms,
    },
    testkit,
    verify::HeaderSecretVerifier,
};
use hookbr_store::worker::{Delivered, Failure, Recorded, Worker, WorkerOptions};

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

/// The Grafeno signature ledger in inbox mode: a known signature with another body is refused
/// `401` (`signature_reused`) and never stored, after the row was completed and pruned, and
/// after the inbox was reopened (`open` gives the same database again, as a restart would);
/// a forged body that arrives first is stored and the genuine one refused, not a duplicate.
pub(crate) async fn the_signature_ledger_outlives_rows_and_restarts<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Inbox>>,
{
    use hookbr_core::{
        DedupKey,
        ledger::{BodyFingerprint, Seen},
        testkit::{TestDelivery, TestKey},
        verify::{AnyVerifier, GrafenoVerifier},
    };
    let receiver = |inbox: Arc<dyn Inbox>| {
        Receiver::builder(
            Endpoint::Grafeno,
            AnyVerifier::from(GrafenoVerifier::new([TestKey::rsa_2048().public_key()]).unwrap()),
        )
        .inbox(inbox)
        .build()
        .unwrap()
    };
    let forge = |genuine: &TestDelivery| {
        genuine
            .clone()
            .with_json_field("data", serde_json::json!({"id": "attacker-chosen"}))
    };
    let stored = |inbox: Arc<dyn Inbox>| async move {
        let rows = inbox.list(ListFilter::default()).await.unwrap();
        rows.into_iter()
            .map(|row| row.record.body)
            .collect::<Vec<_>>()
    };

    let inbox = open().await;
    let grafeno = receiver(inbox.clone());
    let genuine = testkit::grafeno_registration("approved", TestKey::rsa_2048());
    let forged = forge(&genuine);
    assert_eq!(answer(&grafeno, &genuine).await, (200, "stored"));
    assert_eq!(answer(&grafeno, &forged).await, (401, "signature_reused"));
    assert_eq!(answer(&grafeno, &genuine).await, (200, "duplicate"));
    assert_eq!(stored(inbox.clone()).await, vec![genuine.body.clone()]);

    // The row is processed, then purged by retention: the ledger entry stays.
    let rows = inbox.claim_due(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(inbox.complete(rows[0].id, rows[0].claim).await.unwrap());
    assert_eq!(inbox.prune(now_ms() + 1).await.unwrap(), 1);
    assert!(stored(inbox.clone()).await.is_empty());
    assert_eq!(answer(&grafeno, &forged).await, (401, "signature_reused"));
    assert!(
        stored(inbox.clone()).await.is_empty(),
        "the forged body is not stored"
    );

    // A restart: the ledger is in the database, not in the receiver.
    drop(grafeno);
    drop(inbox);
    let inbox = open().await;
    let grafeno = receiver(inbox.clone());
    assert_eq!(answer(&grafeno, &forged).await, (401, "signature_reused"));

    // Pre-emption: a forged body first is stored (hookbr cannot tell it from the signer's);
    // the genuine one is then refused and counted, not answered as a duplicate.
    let genuine = testkit::grafeno_registration("approved", TestKey::rsa_2048());
    let forged = forge(&genuine);
    assert_eq!(answer(&grafeno, &forged).await, (200, "stored"));
    assert_eq!(answer(&grafeno, &genuine).await, (401, "signature_reused"));
    assert_eq!(stored(inbox.clone()).await, vec![forged.body.clone()]);

    // Other providers do not use the ledger.
    let bonifiq = Receiver::builder(
        Endpoint::Bonifiq,
        AnyVerifier::from(HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap()),
    )
    .inbox(inbox.clone())
    .build()
    .unwrap();
    assert_eq!(
        answer(&bonifiq, &testkit::bonifiq_point_add("s")).await,
        (200, "stored")
    );

    // Entries expire after the time asked for, and prune removes them then.
    let key = DedupKey::from_bytes([7; 16]);
    let (a, b) = (BodyFingerprint::of(b"a"), BodyFingerprint::of(b"b"));
    let remember = |fingerprint, keep| inbox.remember_body(key, fingerprint, keep);
    assert_eq!(
        remember(a, Duration::from_millis(20)).await.unwrap(),
        Some(Seen::First)
    );
    assert_eq!(
        remember(a, Duration::from_millis(20)).await.unwrap(),
        Some(Seen::Same)
    );
    assert_eq!(
        remember(b, Duration::from_millis(20)).await.unwrap(),
        Some(Seen::Different)
    );
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert_eq!(
        remember(b, Duration::from_secs(60)).await.unwrap(),
        Some(Seen::First)
    );
    assert_eq!(
        remember(a, Duration::from_secs(60)).await.unwrap(),
        Some(Seen::Different)
    );
}

/// What the pipeline answered instead of handing `delivery` over: status and reason.
async fn answer(receiver: &Receiver, delivery: &testkit::TestDelivery) -> (u16, &'static str) {
    let answer = receiver.process(&delivery.request()).await.unwrap_err();
    (answer.status(), answer.reason())
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

/// See the test of the same name in each backend's file: `first` and `second` are two
/// instances (connections) of one inbox.
pub(crate) async fn a_stale_worker_cannot_change_a_row_claimed_again(
    first: Arc<dyn Inbox>,
    second: Arc<dyn Inbox>,
) {
    let Inserted::New(id) = first.insert(record("stale")).await.unwrap() else {
        panic!()
    };
    let stale = first.claim_due(1, Duration::from_millis(50)).await.unwrap();
    assert_eq!(stale.len(), 1);
    tokio::time::sleep(Duration::from_millis(80)).await;
    let owner = second.claim_due(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(owner.len(), 1, "the expired lease is claimed again");
    let (stale, owner) = (&stale[0], &owner[0]);
    assert_ne!(stale.claim, owner.claim, "each claim has its own token");
    assert!(
        !first
            .renew(id, stale.claim, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !first.complete(id, stale.claim).await.unwrap(),
        "fenced out"
    );
    assert!(
        !first
            .fail(id, stale.claim, "stale".into(), Some(now_ms()))
            .await
            .unwrap()
    );
    let row = second.get(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.attempts, row.last_error),
        (RowState::InFlight, 2, None)
    );
    assert!(
        second
            .renew(id, owner.claim, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(second.complete(id, owner.claim).await.unwrap());
    // Done stays done: neither the stale worker nor a repeated complete moves it back.
    assert!(
        !first
            .fail(id, stale.claim, "stale".into(), None)
            .await
            .unwrap()
    );
    assert!(
        !second
            .fail(id, owner.claim, "late".into(), Some(now_ms()))
            .await
            .unwrap()
    );
    assert!(!second.complete(id, owner.claim).await.unwrap());
    assert_eq!(first.get(id).await.unwrap().unwrap().state, RowState::Done);

    // A replay resets the attempts, not the token: the worker of the dead-lettered attempt
    // cannot touch the replayed row (no ABA).
    let Inserted::New(dead) = first.insert(record("replayed")).await.unwrap() else {
        panic!()
    };
    let before = first.claim_due(1, Duration::from_secs(60)).await.unwrap();
    assert!(
        first
            .fail(dead, before[0].claim, "down".into(), None)
            .await
            .unwrap()
    );
    assert!(first.replay(dead).await.unwrap());
    let after = second.claim_due(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!((after[0].id, after[0].attempts), (dead, 1));
    assert_ne!(after[0].claim, before[0].claim);
    assert!(!first.complete(dead, before[0].claim).await.unwrap());
    assert!(second.complete(dead, after[0].claim).await.unwrap());
}

/// An inbox whose `renew` does nothing: a worker that cannot renew (its process paused, the
/// database unreachable for a whole lease).
#[derive(Debug)]
pub(crate) struct NoRenew(pub(crate) Arc<dyn Inbox>);

impl Inbox for NoRenew {
    fn insert(&self, record: InboxRecord) -> StoreFuture<'_, Inserted> {
        self.0.insert(record)
    }
    fn claim_due(&self, limit: usize, lease: Duration) -> StoreFuture<'_, Vec<InboxRow>> {
        self.0.claim_due(limit, lease)
    }
    fn complete(&self, id: i64, claim: i64) -> StoreFuture<'_, bool> {
        self.0.complete(id, claim)
    }
    fn fail(
        &self,
        id: i64,
        claim: i64,
        error: String,
        retry_at_ms: Option<i64>,
    ) -> StoreFuture<'_, bool> {
        self.0.fail(id, claim, error, retry_at_ms)
    }
    fn renew(&self, _: i64, _: i64, _: Duration) -> StoreFuture<'_, bool> {
        Box::pin(async { Ok(true) })
    }
    fn list(&self, filter: ListFilter) -> StoreFuture<'_, Vec<InboxRow>> {
        self.0.list(filter)
    }
    fn get(&self, id: i64) -> StoreFuture<'_, Option<InboxRow>> {
        self.0.get(id)
    }
    fn replay(&self, id: i64) -> StoreFuture<'_, bool> {
        self.0.replay(id)
    }
    fn replay_dead(&self) -> StoreFuture<'_, u64> {
        self.0.replay_dead()
    }
    fn prune(&self, before_ms: i64) -> StoreFuture<'_, u64> {
        self.0.prune(before_ms)
    }
    fn stats(&self) -> StoreFuture<'_, InboxStats> {
        self.0.stats()
    }
}

fn leased(lease: Duration) -> WorkerOptions {
    fast().lease(lease)
}

/// See the test of the same name in each backend's file.
pub(crate) async fn a_worker_that_lost_its_lease_is_refused_and_the_row_completes_once(
    first: Arc<dyn Inbox>,
    second: Arc<dyn Inbox>,
) {
    let Inserted::New(id) = first.insert(record("slow")).await.unwrap() else {
        panic!()
    };
    let started = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let settled: Arc<Mutex<Vec<(&str, Recorded)>>> = Arc::default();
    let (flag, count) = (started.clone(), calls.clone());
    // The first worker cannot renew, and its handler outlasts the 100 ms lease.
    let slow = Worker::new(
        Arc::new(NoRenew(first.clone())),
        move |_: Delivered| {
            flag.fetch_add(1, Ordering::SeqCst);
            count.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                Ok::<(), String>(())
            }
        },
        leased(Duration::from_millis(100)),
    )
    .on_settled({
        let settled = settled.clone();
        move |outcome| {
            settled
                .lock()
                .unwrap()
                .push(("stale", outcome.recorded.clone()))
        }
    });
    let count = calls.clone();
    let fast_worker = Worker::new(
        second.clone(),
        move |_: Delivered| {
            count.fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), String>(()) }
        },
        leased(Duration::from_secs(60)),
    )
    .on_settled({
        let settled = settled.clone();
        move |outcome| {
            settled
                .lock()
                .unwrap()
                .push(("owner", outcome.recorded.clone()))
        }
    });
    let stale = async { slow.run_once().await.unwrap() };
    let owner = async {
        let deadline = Instant::now() + Duration::from_secs(5);
        while started.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the slow worker never started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        loop {
            let round = fast_worker.run_once().await.unwrap();
            if round.completed == 1 {
                return round;
            }
            assert!(
                Instant::now() < deadline,
                "the second worker never took the row"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let (stale, owner) = tokio::join!(stale, owner);
    assert_eq!(
        (owner.completed, owner.lost),
        (1, 0),
        "the second claim wins"
    );
    assert_eq!(
        (stale.completed, stale.retried, stale.dead, stale.lost),
        (0, 0, 0, 1),
        "the first worker's complete is refused and not counted"
    );
    let row = first.get(id).await.unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (RowState::Done, 2));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        *settled.lock().unwrap(),
        [("owner", Recorded::Completed), ("stale", Recorded::Lost)],
        "the hook hears the recorded completion, then the lost lease"
    );
    let stats = first.stats().await.unwrap();
    assert_eq!((stats.done, stats.pending, stats.in_flight), (1, 0, 0));
}

/// See the test of the same name in each backend's file.
pub(crate) async fn renewed_leases_keep_a_slow_batch_with_its_worker(
    first: Arc<dyn Inbox>,
    second: Arc<dyn Inbox>,
) {
    // Three rows of 1.5 s each, one after another, under a 900 ms lease: the batch takes
    // five leases.
    slow_batch(first, second, 3, 1).await;
}

/// See the test of the same name in each backend's file: six rows of 1.5 s, two at a time,
/// under a 900 ms lease; rows waiting for a slot, running, and finished but not yet recorded
/// all keep their leases.
pub(crate) async fn renewed_leases_keep_a_slow_concurrent_batch_with_its_worker(
    first: Arc<dyn Inbox>,
    second: Arc<dyn Inbox>,
) {
    slow_batch(first, second, 6, 2).await;
}

/// `rows` rows of 1.5 s each, `concurrency` at a time, under a 900 ms lease (renewed every 300 ms:
/// wide enough for a loaded 2-core machine), while a second worker keeps trying to claim them.
async fn slow_batch(
    first: Arc<dyn Inbox>,
    second: Arc<dyn Inbox>,
    rows: usize,
    concurrency: usize,
) {
    let tag = format!("batch-{rows}-{concurrency}");
    for n in 0..rows {
        first.insert(record(&format!("{tag}-{n}"))).await.unwrap();
    }
    let calls: Arc<[AtomicUsize; 2]> = Arc::default();
    let count = calls.clone();
    let slow = Worker::new(
        first.clone(),
        move |_: Delivered| {
            count[0].fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                Ok::<(), String>(())
            }
        },
        leased(Duration::from_millis(900))
            .batch(rows)
            .concurrency(concurrency),
    );
    let count = calls.clone();
    let other = Worker::new(
        second.clone(),
        move |_: Delivered| {
            count[1].fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), String>(()) }
        },
        leased(Duration::from_secs(60)),
    );
    let done = std::sync::atomic::AtomicBool::new(false);
    let handling = async {
        let round = slow.run_once().await.unwrap();
        done.store(true, Ordering::SeqCst);
        round
    };
    let competing = async {
        let deadline = Instant::now() + Duration::from_secs(5);
        while calls[0].load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the slow worker never started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut rounds = 0;
        while !done.load(Ordering::SeqCst) && rounds < 400 {
            let round = other.run_once().await.unwrap();
            assert_eq!(
                round.total() + round.lost,
                0,
                "a renewed row was claimed again"
            );
            rounds += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        rounds
    };
    let (round, rounds) = tokio::join!(handling, competing);
    assert!(
        rounds > 10,
        "the second worker kept trying: {rounds} rounds"
    );
    assert_eq!((round.completed, round.lost), (rows, 0));
    assert_eq!(
        [
            calls[0].load(Ordering::SeqCst),
            calls[1].load(Ordering::SeqCst)
        ],
        [rows, 0],
        "every row delivered once, by the worker that held it"
    );
    let stats = first.stats().await.unwrap();
    assert_eq!((stats.done, stats.in_flight), (rows as u64, 0));
}

/// See the test of the same name in each backend's file.
pub(crate) async fn a_permanent_failure_is_dead_lettered_at_once(inbox: Arc<dyn Inbox>) {
    let Inserted::New(id) = inbox.insert(record("cert")).await.unwrap() else {
        panic!()
    };
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let worker = Worker::new(
        inbox.clone(),
        move |_: Delivered| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Err(Failure::permanent("certificate not trusted")) }
        },
        fast(),
    );
    let round = worker.run_once().await.unwrap();
    assert_eq!((round.dead, round.retried), (1, 0));
    let row = inbox.get(id).await.unwrap().unwrap();
    assert_eq!(row.state, RowState::Dead);
    assert_eq!(row.attempts, 1, "not retried");
    assert_eq!(row.last_error.as_deref(), Some("certificate not trusted"));
    for _ in 0..3 {
        worker.run_once().await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "never retried by itself");
}

/// The drift watch (`save_drift`/`load_drift`): saved state loads back after a reopen, paths
/// merge their type bits, counts add up (two instances saving their own deltas), first/last
/// seen widen and the first example stays.
pub(crate) async fn the_drift_watch_is_kept_and_merged<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Inbox>>,
{
    use hookbr_core::drift::{DriftTracker, KindShape};

    let inbox = open().await;
    let empty = inbox.load_drift().await.unwrap().unwrap();
    assert!(empty.is_empty());

    // One instance sees a baseline and then a new field twice.
    let first = DriftTracker::new();
    first.observe(Provider::Iset, "order_upserted", br#"{"id":1}"#, None, 10);
    first.observe(
        Provider::Iset,
        "order_upserted",
        br#"{"id":2,"cupom":"X"}"#,
        None,
        20,
    );
    first.observe(
        Provider::Iset,
        "order_upserted",
        br#"{"id":3,"cupom":"Y"}"#,
        None,
        30,
    );
    assert!(inbox.save_drift(first.take_unsaved()).await.unwrap());
    // Another instance (its own tracker) sees the same change, earlier and later, and a number
    // where `id` was a number too but `cupom` a string.
    let second = DriftTracker::new();
    second.restore(inbox.load_drift().await.unwrap().unwrap());
    second.observe(
        Provider::Iset,
        "order_upserted",
        br#"{"id":4,"cupom":5}"#,
        None,
        40,
    );
    assert!(inbox.save_drift(second.take_unsaved()).await.unwrap());

    drop(inbox);
    let reopened = open().await;
    let state = reopened.load_drift().await.unwrap().unwrap();
    let shape: &KindShape = state
        .shapes
        .iter()
        .find(|shape| shape.kind == "order_upserted")
        .unwrap();
    let mut paths = shape.paths.clone();
    paths.sort();
    assert_eq!(paths, [("cupom".to_owned(), 8 | 4), ("id".to_owned(), 4)]);
    let new_field = state
        .records
        .iter()
        .find(|record| record.detail == "cupom")
        .unwrap();
    assert_eq!(new_field.count, 3);
    assert_eq!((new_field.first_seen_ms, new_field.last_seen_ms), (20, 40));
    assert!(new_field.example.contains("\"X\""), "{}", new_field.example);
    assert!(
        state
            .records
            .iter()
            .any(|record| record.detail == "cupom: string → number")
    );
    // Most recently seen first.
    assert_eq!(state.records[0].last_seen_ms, 40);
}

/// See the test of the same name in each backend's file: a batch of outcomes (completions and
/// failures) is recorded row by row under each row's claim token; a row claimed again by
/// another worker is reported `false` and left as the new owner has it.
pub(crate) async fn outcomes_are_recorded_in_batches_fenced_by_claim(
    first: Arc<dyn Inbox>,
    second: Arc<dyn Inbox>,
) {
    for n in 0..5 {
        first.insert(record(&format!("many-{n}"))).await.unwrap();
    }
    // Three rows held for a minute, two whose 50 ms lease expires.
    let held = first.claim_due(3, Duration::from_secs(60)).await.unwrap();
    let expiring = first.claim_due(2, Duration::from_millis(50)).await.unwrap();
    assert_eq!((held.len(), expiring.len()), (3, 2));
    tokio::time::sleep(Duration::from_millis(80)).await;
    let taken = second.claim_due(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(taken.len(), 1, "one expired lease is claimed again");
    let taken = &taken[0];
    let kept = expiring.iter().find(|row| row.id != taken.id).unwrap();
    let stale = expiring.iter().find(|row| row.id == taken.id).unwrap();
    assert!(first.settle_many(Vec::new()).await.unwrap().is_empty());
    let retry_at = now_ms() + 60_000;
    let outcomes = vec![
        RowOutcome::Completed {
            id: held[0].id,
            claim: held[0].claim,
        },
        RowOutcome::Failed {
            id: held[1].id,
            claim: held[1].claim,
            error: "downstream 503".into(),
            retry_at_ms: Some(retry_at),
        },
        RowOutcome::Completed {
            id: stale.id,
            claim: stale.claim,
        },
        RowOutcome::Failed {
            id: kept.id,
            claim: kept.claim,
            error: "certificate not trusted".into(),
            retry_at_ms: None,
        },
        // A token that was never the row's.
        RowOutcome::Completed {
            id: held[2].id,
            claim: held[2].claim.wrapping_add(1),
        },
    ];
    assert_eq!(
        first.settle_many(outcomes.clone()).await.unwrap(),
        [true, true, false, true, false]
    );
    let row = |id| {
        let first = first.clone();
        async move { first.get(id).await.unwrap().unwrap() }
    };
    assert_eq!(row(held[0].id).await.state, RowState::Done);
    let retried = row(held[1].id).await;
    assert_eq!(
        (
            retried.state,
            retried.next_attempt_at_ms,
            retried.last_error
        ),
        (RowState::Pending, retry_at, Some("downstream 503".into()))
    );
    let owned = row(stale.id).await;
    assert_eq!(
        (owned.state, owned.attempts, owned.claim, owned.last_error),
        (RowState::InFlight, 2, taken.claim, None),
        "the stale worker's completion changed nothing"
    );
    let dead = row(kept.id).await;
    assert_eq!(
        (dead.state, dead.last_error.as_deref()),
        (RowState::Dead, Some("certificate not trusted"))
    );
    assert_eq!(row(held[2].id).await.state, RowState::InFlight);
    // Recorded once: the same batch again changes nothing (done stays done).
    assert_eq!(
        first.settle_many(outcomes).await.unwrap(),
        [false, false, false, false, false]
    );
    assert_eq!(row(held[0].id).await.state, RowState::Done);
    // Renewals are fenced the same way.
    assert_eq!(
        first
            .renew_many(
                &[(held[2].id, held[2].claim), (stale.id, stale.claim)],
                Duration::from_secs(60)
            )
            .await
            .unwrap(),
        [true, false]
    );
    assert_eq!(
        second
            .renew_many(&[(taken.id, taken.claim)], Duration::from_secs(60))
            .await
            .unwrap(),
        [true]
    );
    assert_eq!(
        second
            .complete_many(&[
                (taken.id, stale.claim),
                (taken.id, taken.claim),
                (held[2].id, held[2].claim)
            ])
            .await
            .unwrap(),
        [false, true, true]
    );
    assert!(second.complete_many(&[]).await.unwrap().is_empty());
    let stats = first.stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.pending, stats.dead, stats.in_flight),
        (3, 1, 1, 0)
    );
}

/// See the test of the same name in each backend's file: never more than `concurrency`
/// handlers at once, and that many when the batch allows; every row recorded once.
pub(crate) async fn a_worker_runs_at_most_concurrency_handlers_at_once(inbox: Arc<dyn Inbox>) {
    const ROWS: usize = 12;
    for n in 0..ROWS {
        inbox.insert(record(&format!("bound-{n}"))).await.unwrap();
    }
    for concurrency in [4, 1] {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let (now, most, count) = (running.clone(), peak.clone(), calls.clone());
        let worker = Worker::new(
            inbox.clone(),
            move |delivered: Delivered| {
                let (now, most, count) = (now.clone(), most.clone(), count.clone());
                async move {
                    let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(at_once, Ordering::SeqCst);
                    count.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    // Every third row fails once: failures are recorded in the same batches.
                    if delivered.row.attempts == 1 && delivered.row.id % 3 == 0 {
                        Err("downstream 503".to_owned())
                    } else {
                        Ok(())
                    }
                }
            },
            fast().batch(ROWS).concurrency(concurrency),
        );
        let mut completed = 0;
        for _ in 0..200 {
            completed += worker.run_once().await.unwrap().completed;
            if completed == ROWS {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(completed, ROWS);
        assert_eq!(
            peak.load(Ordering::SeqCst),
            concurrency,
            "at most {concurrency} handlers at once, and that many"
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            ROWS + ROWS / 3,
            "each row handled once, plus one retry of the failed ones"
        );
        let stats = inbox.stats().await.unwrap();
        assert_eq!(
            (stats.done, stats.in_flight, stats.pending),
            (ROWS as u64, 0, 0)
        );
        if concurrency == 4 {
            // The same rows again, for the sequential run.
            assert_eq!(inbox.prune(now_ms() + 1).await.unwrap(), ROWS as u64);
            for n in 0..ROWS {
                inbox
                    .insert(record(&format!("bound-again-{n}")))
                    .await
                    .unwrap();
            }
        }
    }
}

/// A Foody record of order `uid` at `status` and `date` (delivery id as Foody's).
fn foody_record(uid: &str, status: &str, date: &str) -> InboxRecord {
    let body = format!(
        r#"{{"uid":"{uid}","updateDate":"{date}","event":"order_status_updated","token":"[redacted]","status":"{status}"}}"#
    );
    let id = format!("{uid}-{date}-{status}");
    InboxRecord::new(
        "foody".into(),
        id.clone(),
        DeliveryId::new(Provider::Foody, id.as_str()).key(),
        body.into_bytes(),
        vec![("content-type".into(), "application/json".into())],
        "#0".into(),
        now_ms(),
    )
}

/// The person whose data is erased in [`erasure_removes_every_trace`].
pub(crate) const SUBJECT_CPF: &str = "529.982.247-25";
/// Their e-mail address, as the deliveries spell it.
pub(crate) const SUBJECT_EMAIL: &str = "joao.silva@example.com";
/// Every spelling of them a stored byte may hold; none may remain after erasure.
pub(crate) const SUBJECT_SPELLINGS: [&str; 4] = [
    "52998224725",
    "529.982.247-25",
    "joao.silva@example.com",
    "joao.silva%40example.com",
];

/// A record of `body` as `endpoint` received it, with delivery id `id`.
pub(crate) fn raw(
    endpoint: &str,
    provider: Provider,
    id: &str,
    content_type: &str,
    body: &str,
) -> InboxRecord {
    InboxRecord::new(
        endpoint.into(),
        id.into(),
        DeliveryId::new(provider, id).key(),
        body.as_bytes().to_vec(),
        vec![("content-type".into(), content_type.into())],
        "#0".into(),
        now_ms(),
    )
}

/// The entity index and the ordering guard (migration 6): a shuffled Foody order is noted
/// with its positions, judged atomically (the late ones stale, a terminal status ends the
/// order), listed in position order with states, held without losing the attempt, and
/// removed with its rows; a row without an entity is untracked.
pub(crate) async fn entities_are_indexed_and_judged(inbox: Arc<dyn Inbox>) {
    use hookbr_core::{inbox::EntityMark, ordering::Verdict};
    let uid = format!("order-{}", now_ms());
    let sent = [
        ("dispatched", "2020-06-19T17:42:12Z", Verdict::Fresh),
        ("open", "2020-06-19T17:30:05Z", Verdict::Stale),
        ("closed", "2020-06-19T18:05:00Z", Verdict::Fresh),
        ("delivered", "2020-06-19T18:30:00Z", Verdict::Stale),
    ];
    let mut ids = Vec::new();
    for (status, date, _) in &sent {
        match inbox
            .insert(foody_record(&uid, status, date))
            .await
            .unwrap()
        {
            Inserted::New(id) => ids.push(id),
            other => panic!("{other:?}"),
        }
    }
    for (id, (status, _, verdict)) in ids.iter().zip(&sent) {
        assert_eq!(
            inbox.judge_entity(*id).await.unwrap(),
            Some(*verdict),
            "{status}"
        );
    }
    // Judged again (a retry): the same verdicts.
    assert_eq!(
        inbox.judge_entity(ids[0]).await.unwrap(),
        Some(Verdict::Stale),
        "dispatched is now before the terminal closed"
    );
    let mut hook_test = foody_record(&uid, "x", "y");
    hook_test.body = br#"{"event":"hook_test","token":"[redacted]"}"#.to_vec();
    let untracked = match inbox.insert(hook_test).await.unwrap() {
        Inserted::New(id) => id,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        inbox.judge_entity(untracked).await.unwrap(),
        Some(Verdict::Untracked)
    );

    let timeline = inbox
        .entity_deliveries("foody.order".into(), uid.clone(), 100)
        .await
        .unwrap();
    let ranks: Vec<_> = timeline
        .iter()
        .map(|delivery| delivery.position.and_then(|p| p.rank))
        .collect();
    // By the provider's time: the late `delivered` (after `closed`) comes last, stale.
    assert_eq!(ranks, [Some(0), Some(2), Some(4), Some(3)]);
    assert_eq!(timeline[0].mark, Some(EntityMark::Stale));
    assert_eq!(timeline[2].mark, Some(EntityMark::Passed));
    assert!(timeline[2].position.unwrap().terminal);
    assert_eq!(timeline[3].mark, Some(EntityMark::Stale));
    assert!(
        inbox
            .entity_deliveries("foody.order".into(), "other".into(), 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Held: the claim's attempt is given back, the row shows as held.
    let claimed = inbox.claim_due(100, Duration::from_secs(30)).await.unwrap();
    let row = claimed.iter().find(|row| row.id == ids[1]).unwrap();
    assert_eq!(row.attempts, 1);
    assert!(inbox.hold_entity(row.id, row.claim).await.unwrap());
    assert!(!inbox.hold_entity(row.id, row.claim + 1).await.unwrap());
    assert_eq!(inbox.get(row.id).await.unwrap().unwrap().attempts, 0);
    let timeline = inbox
        .entity_deliveries("foody.order".into(), uid.clone(), 100)
        .await
        .unwrap();
    assert_eq!(timeline[0].mark, Some(EntityMark::Held));

    // Pruned with the rows.
    for row in &claimed {
        assert!(inbox.complete(row.id, row.claim).await.unwrap());
    }
    inbox.prune(now_ms() + 1).await.unwrap();
    assert!(
        inbox
            .entity_deliveries("foody.order".into(), uid.clone(), 100)
            .await
            .unwrap()
            .is_empty()
    );
    // The latest position went too: the next delivery is the entity's first again.
    let again = match inbox
        .insert(foody_record(&uid, "open", "2020-06-19T17:30:06Z"))
        .await
        .unwrap()
    {
        Inserted::New(id) => id,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        inbox.judge_entity(again).await.unwrap(),
        Some(Verdict::Fresh)
    );
}

/// Deliveries from every provider, a custom BonifiQ body and iSET form bodies, some naming the
/// subject, some another person (Maria), in every state; then the subject is erased by CPF and
/// by e-mail. Returns the ids of the rows that must be untouched. The caller then looks for
/// [`SUBJECT_SPELLINGS`] in the raw database.
pub(crate) async fn erasure_removes_every_trace(inbox: Arc<dyn Inbox>) -> Vec<i64> {
    use hookbr_core::{
        drift::{ChangeKind, DriftRecord, DriftState},
        inbox::BodyRemovedReason,
        privacy::Subject,
    };
    let json = "application/json";
    let form = "application/x-www-form-urlencoded";
    let many: String = (0..40).map(|n| format!("a{n:02}@example.net ")).collect();
    let subject_rows = [
        raw(
            "bonifiq",
            Provider::Bonifiq,
            "s-1",
            json,
            r#"{"Uuid":"4834c95e-84f7-485e-90de-09353df57fd3","Topic":0,"TopicName":"Point_Add","Payload":{"Points":10,"Customer":{"Id":"1","Email":"Joao.Silva@Example.com","Name":"Joao Silva","Document":"529.982.247-25","Phone":"11987198778"}}}"#,
        ),
        raw(
            "bonifiq",
            Provider::Bonifiq,
            "s-2",
            json,
            r#"{"pedido":7,"cliente":{"cpf":52998224725,"contato":"joao.silva@example.com"}}"#,
        ),
        raw(
            "iset",
            Provider::Iset,
            "s-3",
            form,
            "pedido_id=9&cliente_email=joao.silva%40example.com&cliente_cpf=529.982.247-25",
        ),
        raw(
            "iset",
            Provider::Iset,
            "s-4",
            form,
            "pedido_id=10&obs=cpf+52998224725",
        ),
        raw(
            "grafeno",
            Provider::Grafeno,
            "s-5",
            json,
            r#"{"change":"rejected","data":{"id":"9","pendencies":[{"text":"O CPF 529.982.247-25 do sócio está irregular"}]}}"#,
        ),
        // Names more subjects than the index keeps: found by reading the marked body.
        raw(
            "iset",
            Provider::Iset,
            "s-6",
            "text/plain",
            &format!("{many}joao.silva@example.com"),
        ),
        // Names both: erased (the row is the subject's too).
        raw(
            "bonifiq",
            Provider::Bonifiq,
            "s-7",
            json,
            r#"{"de":"maria@example.org","para":"joao.silva@example.com"}"#,
        ),
    ];
    let other_rows = [
        raw(
            "bonifiq",
            Provider::Bonifiq,
            "o-1",
            json,
            r#"{"Topic":0,"TopicName":"Point_Add","Payload":{"Customer":{"Email":"maria@example.org","Document":"111.444.777-35"}}}"#,
        ),
        raw(
            "iset",
            Provider::Iset,
            "o-2",
            form,
            "cliente_email=maria%40example.org&cliente_cpf=11144477735",
        ),
        raw(
            "foody",
            Provider::Foody,
            "o-3",
            json,
            r#"{"uid":"f-1","updateDate":"2024-05-10T14:32:10Z","event":"order_status_updated","token":"[redacted]","status":"DELIVERED"}"#,
        ),
        raw(
            "grafeno",
            Provider::Grafeno,
            "o-4",
            json,
            r#"{"change":"approved","data":{"id":"10","pendencies":[]}}"#,
        ),
    ];
    let mut subject_ids = Vec::new();
    for record in subject_rows {
        let Inserted::New(id) = inbox.insert(record).await.unwrap() else {
            panic!("new")
        };
        subject_ids.push(id);
    }
    let mut other_ids = Vec::new();
    for record in other_rows {
        let Inserted::New(id) = inbox.insert(record).await.unwrap() else {
            panic!("new")
        };
        other_ids.push(id);
    }
    // Every state: claim all, complete some, dead-letter one, put one back to pending.
    let claimed = inbox.claim_due(100, Duration::from_secs(60)).await.unwrap();
    for row in &claimed {
        let done = [subject_ids[0], subject_ids[1], other_ids[0]].contains(&row.id);
        let dead = [subject_ids[2], other_ids[1]].contains(&row.id);
        let pending = [subject_ids[3], subject_ids[5]].contains(&row.id);
        if done {
            assert!(inbox.complete(row.id, row.claim).await.unwrap());
        } else if dead {
            assert!(
                inbox
                    .fail(row.id, row.claim, "down".into(), None)
                    .await
                    .unwrap()
            );
        } else if pending {
            assert!(
                inbox
                    .fail(row.id, row.claim, "later".into(), Some(now_ms() + 60_000))
                    .await
                    .unwrap()
            );
        }
    }
    let others_before: Vec<InboxRow> = {
        let mut rows = Vec::new();
        for id in &other_ids {
            rows.push(inbox.get(*id).await.unwrap().unwrap());
        }
        rows
    };
    // A drift example that kept the CPF as a bare number (masking leaves bare numbers alone).
    let drift = DriftState::new(
        Vec::new(),
        vec![DriftRecord::new(
            Provider::Bonifiq,
            "custom",
            ChangeKind::NewField,
            "$.ref",
            now_ms(),
            now_ms(),
            1,
            r#"{"ref":52998224725}"#,
        )],
    );
    let keeps_drift = inbox.save_drift(drift).await.unwrap();

    let by_cpf = inbox
        .erase_subject(Subject::parse(SUBJECT_CPF).unwrap())
        .await
        .unwrap()
        .expect("this inbox keeps a subject index");
    assert_eq!(
        (by_cpf.done, by_cpf.dead, by_cpf.pending, by_cpf.in_flight),
        (2, 1, 1, 1),
        "rows s-1 (done), s-2 (done), s-3 (dead), s-4 (pending), s-5 (in flight)"
    );
    assert_eq!(by_cpf.drift_examples, u64::from(keeps_drift));
    assert_eq!(
        by_cpf.subject_hash,
        inbox
            .erase_subject(Subject::parse("52998224725").unwrap())
            .await
            .unwrap()
            .unwrap()
            .subject_hash
    );
    let by_email = inbox
        .erase_subject(Subject::parse("JOAO.SILVA@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (by_email.rows(), by_email.pending, by_email.in_flight),
        (2, 1, 1),
        "s-6 (pending, found through its overflow mark) and s-7 (in flight); the rest is gone already"
    );
    let again = inbox
        .erase_subject(Subject::parse(SUBJECT_EMAIL).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.rows(), 0, "nothing left");

    for id in &subject_ids {
        let row = inbox
            .get(*id)
            .await
            .unwrap()
            .expect("the row and its key stay");
        assert!(row.record.body.is_empty() && row.record.headers.is_empty());
        assert_eq!(row.state, RowState::Done);
        assert_eq!(
            row.body_removed.map(|removed| removed.reason),
            Some(BodyRemovedReason::Erased)
        );
    }
    for before in &others_before {
        assert_eq!(
            &inbox.get(before.id).await.unwrap().unwrap(),
            before,
            "untouched"
        );
    }
    // The delivery keys still deduplicate.
    let copy = raw("iset", Provider::Iset, "s-3", form, "pedido_id=9");
    assert_eq!(inbox.insert(copy).await.unwrap(), Inserted::Duplicate);
    // Nothing is due: erased rows are done.
    assert!(
        inbox
            .claim_due(100, Duration::from_secs(60))
            .await
            .unwrap()
            .iter()
            .all(|row| !subject_ids.contains(&row.id))
    );
    other_ids
}

/// Bodies of completed rows go after `body_retention`, their keys stay until `retention`.
pub(crate) async fn bodies_are_dropped_before_keys(inbox: Arc<dyn Inbox>) {
    use hookbr_core::{inbox::BodyRemovedReason, privacy::Subject};
    let json = "application/json";
    let body = r#"{"cliente":{"email":"joao.silva@example.com"}}"#;
    let Inserted::New(done) = inbox
        .insert(raw("bonifiq", Provider::Bonifiq, "r-1", json, body))
        .await
        .unwrap()
    else {
        panic!("new")
    };
    let Inserted::New(open) = inbox
        .insert(raw("bonifiq", Provider::Bonifiq, "r-2", json, body))
        .await
        .unwrap()
    else {
        panic!("new")
    };
    let claimed = inbox.claim_due(10, Duration::from_secs(60)).await.unwrap();
    for row in claimed.iter().filter(|row| row.id == done) {
        assert!(inbox.complete(row.id, row.claim).await.unwrap());
    }
    assert_eq!(
        inbox.drop_bodies(now_ms() - 60_000).await.unwrap(),
        0,
        "not old enough"
    );
    assert_eq!(inbox.drop_bodies(now_ms() + 1).await.unwrap(), 1);
    assert_eq!(inbox.drop_bodies(now_ms() + 1).await.unwrap(), 0, "once");
    let row = inbox.get(done).await.unwrap().unwrap();
    assert!(row.record.body.is_empty() && row.record.headers.is_empty());
    assert_eq!(
        row.body_removed.map(|removed| removed.reason),
        Some(BodyRemovedReason::Retention)
    );
    let kept = inbox.get(open).await.unwrap().unwrap();
    assert_eq!(kept.record.body, body.as_bytes(), "only completed rows");
    assert!(kept.body_removed.is_none());
    assert_eq!(
        inbox
            .insert(raw("bonifiq", Provider::Bonifiq, "r-1", json, body))
            .await
            .unwrap(),
        Inserted::Duplicate,
        "the key still deduplicates"
    );
    // A dropped body left the subject index: only the open row is erased.
    let erased = inbox
        .erase_subject(Subject::parse("joao.silva@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((erased.rows(), erased.in_flight), (1, 1));
    assert_eq!(
        inbox.prune(now_ms() + 1).await.unwrap(),
        2,
        "keys go at retention"
    );
}

/// The oldest open row of each provider (issue 18, the inspector's health): pending and in
/// flight rows count, done rows do not, iSET's endpoints name their provider before the `:`,
/// and the walk stops after `scan` rows.
pub(crate) async fn the_oldest_open_row_per_provider_is_found(inbox: Arc<dyn Inbox>) {
    let base = now_ms() - 600_000;
    let at = |endpoint: &str, id: &str, received: i64| {
        let delivery = testkit::bonifiq_point_add("s");
        InboxRecord::new(
            endpoint.into(),
            id.into(),
            DeliveryId::new(Provider::Bonifiq, id).key(),
            delivery.body,
            Vec::new(),
            "#0".into(),
            base + received,
        )
    };
    assert_eq!(
        inbox.oldest_open_by_provider(10).await.unwrap(),
        Some(Vec::new())
    );
    for (endpoint, id, received) in [
        ("foody", "o-done", 500),
        ("bonifiq", "o-1", 1_000),
        ("foody", "o-2", 2_000),
        ("iset:order_upserted", "o-3", 3_000),
        ("bonifiq", "o-4", 4_000),
    ] {
        assert!(matches!(
            inbox.insert(at(endpoint, id, received)).await.unwrap(),
            Inserted::New(_)
        ));
    }
    // Claimed rows stay open (in flight); the completed one is not pending any more.
    let claimed = inbox.claim_due(2, Duration::from_secs(60)).await.unwrap();
    let done = claimed
        .iter()
        .find(|row| row.record.delivery_id == "o-done")
        .expect("the oldest due row is claimed first");
    assert!(inbox.complete(done.id, done.claim).await.unwrap());
    assert_eq!(
        inbox.oldest_open_by_provider(10).await.unwrap(),
        Some(vec![
            (Provider::Bonifiq, base + 1_000),
            (Provider::Foody, base + 2_000),
            (Provider::Iset, base + 3_000),
        ])
    );
    assert_eq!(
        inbox.oldest_open_by_provider(1).await.unwrap(),
        Some(vec![(Provider::Bonifiq, base + 1_000)])
    );
}
