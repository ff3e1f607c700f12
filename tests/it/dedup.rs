//! Two-phase idempotency: one winner under concurrency, release, lease expiry and retention.

use std::{
    sync::{Arc, Barrier},
    thread,
    time::Duration,
};

use hookbr_core::{
    Ack, Answer, Claim, DedupKey, DeliveryId, IdempotencyStore, MemoryStore, Provider,
    RejectionKind,
    dedup::ManualClock,
    testkit::{self, TestKey},
};

use crate::support::{
    BONIFIQ_SECRET, accepted, assert_answer, block_on, bonifiq_case, cases, grafeno_case, rejected,
};

const THREADS: usize = 8;
const COPIES: usize = 1_000;
const LEASE: Duration = Duration::from_secs(30);
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

fn key(n: u32) -> DedupKey {
    DeliveryId::new(Provider::Bonifiq, format!("delivery-{n}")).key()
}

fn manual_store() -> (Arc<ManualClock>, MemoryStore<Arc<ManualClock>>) {
    let clock = Arc::new(ManualClock::default());
    (clock.clone(), MemoryStore::with_clock(clock))
}

/// Runs `per_thread` calls of `work` on each of [`THREADS`] threads, all released at once.
fn race<T: Send>(per_thread: usize, work: impl Fn() -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(THREADS);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    (0..per_thread).map(|_| work()).collect::<Vec<T>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect()
    })
}

#[test]
fn thousand_concurrent_claims_one_new() {
    let store = MemoryStore::new();
    let id = key(1);
    let claims = race(COPIES / THREADS, || {
        block_on(store.claim(id, LEASE)).unwrap()
    });
    assert_eq!(claims.len(), COPIES);
    let new = claims.iter().filter(|c| matches!(c, Claim::New(_))).count();
    let in_flight = claims.iter().filter(|c| **c == Claim::InFlight).count();
    assert_eq!(new, 1, "exactly one claim wins");
    assert_eq!(in_flight, COPIES - 1, "every other copy sees it in flight");
    assert_eq!(store.len(), 1);
}

#[test]
fn concurrent_claims_of_distinct_ids_all_new() {
    let store = MemoryStore::new();
    let next = std::sync::atomic::AtomicU32::new(0);
    let claims = race(COPIES / THREADS, || {
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        block_on(store.claim(key(n), LEASE)).unwrap()
    });
    assert!(claims.iter().all(|c| matches!(c, Claim::New(_))));
    assert_eq!(store.len(), COPIES);
}

#[test]
fn thousand_concurrent_copies_through_the_receiver_one_processed() {
    for case in [bonifiq_case(), grafeno_case()] {
        let receiver = case.receiver();
        let delivery = (case.fresh)();
        let outcomes = race(COPIES / THREADS, || {
            match block_on(receiver.process(&delivery.request())) {
                Ok(verified) => {
                    // The handler succeeds at once: later copies are duplicates.
                    block_on(receiver.complete(&verified)).unwrap();
                    Ok(())
                }
                Err(rejection) => Err(rejection),
            }
        });
        assert_eq!(outcomes.len(), COPIES);
        let processed = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(
            processed, 1,
            "{}: exactly one copy reaches the handler",
            case.name
        );
        for rejection in outcomes.iter().filter_map(|o| o.as_ref().err()) {
            match rejection {
                Answer::Refused(refused) if refused.kind() == &RejectionKind::InFlight => {
                    assert_eq!(rejection.status(), 409);
                }
                Answer::Ack(Ack::Duplicate) => assert_eq!(rejection.status(), 200),
                other => panic!("{}: unexpected rejection {other:?}", case.name),
            }
        }
        // Settled: the next copy is a duplicate.
        assert_answer(&rejected(&receiver, &delivery), 200, "duplicate");
    }
}

#[test]
fn concurrent_copies_while_the_first_is_in_flight_all_409() {
    let receiver = bonifiq_case().receiver();
    let delivery = testkit::bonifiq_point_add(BONIFIQ_SECRET);
    let held = accepted(&receiver, &delivery);
    let outcomes = race(COPIES / THREADS, || {
        block_on(receiver.process(&delivery.request())).map(|_| ())
    });
    assert!(
        outcomes
            .iter()
            .all(|o| o.as_ref().is_err_and(|r| r.status() == 409)),
        "every copy is refused while the first is held"
    );
    block_on(receiver.complete(&held)).unwrap();
}

#[test]
fn failed_handler_release_lets_the_retry_through() {
    let store = MemoryStore::new();
    let id = key(2);
    let Claim::New(first) = block_on(store.claim(id, LEASE)).unwrap() else {
        panic!("first claim must be new")
    };
    block_on(store.release(id, first)).unwrap();
    let Claim::New(second) = block_on(store.claim(id, LEASE)).unwrap() else {
        panic!("the retry must be processed after a release")
    };
    assert_ne!(first, second);
    // A stale token settles nothing.
    block_on(store.release(id, first)).unwrap();
    assert_eq!(block_on(store.claim(id, LEASE)).unwrap(), Claim::InFlight);
    block_on(store.complete(id, first, WEEK)).unwrap();
    assert_eq!(block_on(store.claim(id, LEASE)).unwrap(), Claim::InFlight);
    block_on(store.complete(id, second, WEEK)).unwrap();
    assert_eq!(block_on(store.claim(id, LEASE)).unwrap(), Claim::Done);
}

#[test]
fn failed_handler_release_through_the_receiver_every_provider() {
    for case in cases() {
        let receiver = case.receiver();
        let delivery = (case.fresh)();
        let attempt = accepted(&receiver, &delivery);
        assert_eq!(
            rejected(&receiver, &delivery).status(),
            409,
            "{}",
            case.name
        );
        block_on(receiver.release(&attempt)).unwrap();
        let retry = accepted(&receiver, &delivery);
        // Settling the released attempt late changes nothing.
        block_on(receiver.complete(&attempt)).unwrap();
        assert_eq!(
            rejected(&receiver, &delivery).status(),
            409,
            "{}",
            case.name
        );
        block_on(receiver.complete(&retry)).unwrap();
        assert_answer(&rejected(&receiver, &delivery), 200, "duplicate");
    }
}

#[test]
fn lease_expiry_on_the_store() {
    let (clock, store) = manual_store();
    let id = key(3);
    let Claim::New(crashed) = store.claim_now(id, LEASE).unwrap() else {
        panic!("first claim must be new")
    };
    clock.advance(LEASE - Duration::from_millis(1));
    assert_eq!(store.claim_now(id, LEASE).unwrap(), Claim::InFlight);
    clock.advance(Duration::from_millis(1));
    let Claim::New(successor) = store.claim_now(id, LEASE).unwrap() else {
        panic!("an expired lease is claimed again")
    };
    // The crashed holder comes back: its token is stale.
    store.complete_now(id, crashed, WEEK);
    assert_eq!(store.claim_now(id, LEASE).unwrap(), Claim::InFlight);
    store.release_now(id, crashed);
    assert_eq!(store.claim_now(id, LEASE).unwrap(), Claim::InFlight);
    store.complete_now(id, successor, WEEK);
    assert_eq!(store.claim_now(id, LEASE).unwrap(), Claim::Done);
    // Retention expiry.
    clock.advance(WEEK - Duration::from_millis(1));
    assert_eq!(store.claim_now(id, LEASE).unwrap(), Claim::Done);
    clock.advance(Duration::from_millis(1));
    assert!(matches!(store.claim_now(id, LEASE).unwrap(), Claim::New(_)));
}

#[test]
fn default_lease_and_retention_through_the_receiver() {
    let (clock, store) = manual_store();
    let receiver = grafeno_case()
        .builder()
        .store(Arc::new(store))
        .build()
        .unwrap();
    let delivery = testkit::grafeno_registration("approved", TestKey::rsa_2048());
    let _crashed = accepted(&receiver, &delivery);
    // Default lease: 60 s.
    clock.advance(Duration::from_millis(59_999));
    assert_answer(&rejected(&receiver, &delivery), 409, "in_flight");
    clock.advance(Duration::from_millis(1));
    let retry = accepted(&receiver, &delivery);
    block_on(receiver.complete(&retry)).unwrap();
    // Default retention: 7 days.
    clock.advance(WEEK - Duration::from_millis(1));
    assert_answer(&rejected(&receiver, &delivery), 200, "duplicate");
    clock.advance(Duration::from_millis(1));
    accepted(&receiver, &delivery);
}

#[test]
fn configured_lease_and_retention_through_the_receiver() {
    let (clock, store) = manual_store();
    let receiver = bonifiq_case()
        .builder()
        .store(Arc::new(store))
        .lease(Duration::from_secs(10))
        .retention(Duration::from_secs(3600))
        .build()
        .unwrap();
    let delivery = testkit::bonifiq_point_add(BONIFIQ_SECRET);
    let _crashed = accepted(&receiver, &delivery);
    clock.advance(Duration::from_secs(9));
    assert_answer(&rejected(&receiver, &delivery), 409, "in_flight");
    clock.advance(Duration::from_secs(1));
    let retry = accepted(&receiver, &delivery);
    block_on(receiver.complete(&retry)).unwrap();
    clock.advance(Duration::from_secs(3599));
    assert_answer(&rejected(&receiver, &delivery), 200, "duplicate");
    clock.advance(Duration::from_secs(1));
    accepted(&receiver, &delivery);
}

#[test]
fn full_store_of_in_flight_deliveries_answers_503() {
    let store = Arc::new(MemoryStore::with_capacity(2).unwrap());
    let receiver = bonifiq_case().builder().store(store).build().unwrap();
    let _a = accepted(&receiver, &testkit::bonifiq_point_add(BONIFIQ_SECRET));
    let _b = accepted(&receiver, &testkit::bonifiq_point_add(BONIFIQ_SECRET));
    let rejection = rejected(&receiver, &testkit::bonifiq_point_add(BONIFIQ_SECRET));
    assert_answer(&rejection, 503, "store_unavailable");
}

#[test]
fn full_store_evicts_the_oldest_completed_never_in_flight() {
    let (clock, store) = manual_store();
    let store = store.capacity(8).unwrap();
    let Claim::New(_) = store.claim_now(key(100), LEASE).unwrap() else {
        panic!()
    };
    for n in 0..7 {
        let Claim::New(token) = store.claim_now(key(n), LEASE).unwrap() else {
            panic!()
        };
        store.complete_now(key(n), token, WEEK);
        clock.advance(Duration::from_secs(1));
    }
    assert_eq!(store.len(), 8);
    // One more delivery: room is made by forgetting the oldest completed ones.
    assert!(matches!(
        store.claim_now(key(7), LEASE).unwrap(),
        Claim::New(_)
    ));
    assert!(store.len() <= 8, "bounded: {}", store.len());
    assert_eq!(
        store.claim_now(key(100), LEASE).unwrap(),
        Claim::InFlight,
        "in flight is kept"
    );
    assert_eq!(
        store.claim_now(key(6), LEASE).unwrap(),
        Claim::Done,
        "newest completed is kept"
    );
    assert!(
        matches!(store.claim_now(key(0), LEASE).unwrap(), Claim::New(_)),
        "the oldest completed delivery was evicted"
    );
}
