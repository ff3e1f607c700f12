//! Shared two-phase dedup on a real Redis server (started by `scripts/test`, which exports
//! `HOOKBR_TEST_REDIS_URL`). In CI a missing server fails these tests; elsewhere they print a
//! notice and pass without checking anything.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::future::join_all;
use hookbr_core::{Claim, DeliveryId, IdempotencyStore, Provider, testkit};
use hookbr_store::RedisStore;

use crate::{
    servers::{Adapter, start_with},
    support::BONIFIQ_SECRET,
};

/// The Redis URL, or `None` (with a notice) outside CI when no server was started.
fn redis_url() -> Option<String> {
    match std::env::var("HOOKBR_TEST_REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("HOOKBR_TEST_REDIS_URL is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!(
                "NOTICE: HOOKBR_TEST_REDIS_URL not set; Redis test skipped (use scripts/test)"
            );
            None
        }
    }
}

/// A store on a key prefix of its own, so tests never see each other's keys.
async fn store(url: &str) -> RedisStore {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = format!(
        "hookbr-test:{}:{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    RedisStore::connect(url)
        .await
        .expect("redis reachable")
        .with_prefix(prefix)
}

fn key(name: &str) -> hookbr_core::DedupKey {
    DeliveryId::new(Provider::Bonifiq, name).key()
}

const LEASE: Duration = Duration::from_secs(30);
const WEEK: Duration = Duration::from_secs(7 * 86_400);

#[tokio::test]
async fn claim_complete_release_and_stale_tokens() {
    let Some(url) = redis_url() else { return };
    let store = store(&url).await;
    let Claim::New(token) = store.claim(key("a"), LEASE).await.unwrap() else {
        panic!("first claim is new")
    };
    assert_eq!(store.claim(key("a"), LEASE).await.unwrap(), Claim::InFlight);
    store.complete(key("a"), token, WEEK).await.unwrap();
    assert_eq!(store.claim(key("a"), LEASE).await.unwrap(), Claim::Done);

    let Claim::New(token) = store.claim(key("b"), LEASE).await.unwrap() else {
        panic!()
    };
    store.release(key("b"), token).await.unwrap();
    let Claim::New(fresh) = store.claim(key("b"), LEASE).await.unwrap() else {
        panic!("a released claim lets the retry through")
    };
    // The first holder's token is stale now: neither settle touches the new claim.
    store.release(key("b"), token).await.unwrap();
    store.complete(key("b"), token, WEEK).await.unwrap();
    assert_eq!(store.claim(key("b"), LEASE).await.unwrap(), Claim::InFlight);
    store.complete(key("b"), fresh, WEEK).await.unwrap();
    assert_eq!(store.claim(key("b"), LEASE).await.unwrap(), Claim::Done);
}

#[tokio::test]
async fn lease_and_retention_expire() {
    let Some(url) = redis_url() else { return };
    let store = store(&url).await;
    let short = Duration::from_millis(150);
    assert!(matches!(
        store.claim(key("c"), short).await.unwrap(),
        Claim::New(_)
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let Claim::New(token) = store.claim(key("c"), LEASE).await.unwrap() else {
        panic!("an expired lease does not block the id")
    };
    store.complete(key("c"), token, short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(matches!(
        store.claim(key("c"), LEASE).await.unwrap(),
        Claim::New(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_claims_from_eight_connections() {
    let Some(url) = redis_url() else { return };
    let first = store(&url).await;
    // Every store must share the first one's prefix.
    let stores: Vec<RedisStore> = {
        let mut shared = vec![first];
        for _ in 1..8 {
            let prefix = shared_prefix(&shared[0]);
            shared.push(RedisStore::connect(&url).await.unwrap().with_prefix(prefix));
        }
        shared
    };
    let claims = join_all((0..1000).map(|n| {
        let store = stores[n % stores.len()].clone();
        async move { store.claim(key("d"), LEASE).await.unwrap() }
    }))
    .await;
    let news = claims.iter().filter(|c| matches!(c, Claim::New(_))).count();
    assert_eq!(news, 1);
    assert!(
        claims
            .iter()
            .all(|c| matches!(c, Claim::New(_) | Claim::InFlight))
    );
}

fn shared_prefix(store: &RedisStore) -> String {
    // `Debug` shows the prefix (and nothing secret).
    let debug = format!("{store:?}");
    debug
        .split('"')
        .nth(1)
        .expect("the Debug output names the prefix")
        .to_owned()
}

/// Two servers (axum and actix) sharing one Redis: 1,000 copies of one delivery spread over
/// both while the first is held in a handler run the handler once; every other copy gets 409,
/// and once completed, copies on either server get 200-duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sharing_redis_process_a_delivery_once() {
    let Some(url) = redis_url() else { return };
    let first_store = store(&url).await;
    let prefix = shared_prefix(&first_store);
    let second_store = RedisStore::connect(&url).await.unwrap().with_prefix(prefix);
    let a = Arc::new(start_with(Adapter::Axum, false, Some(Arc::new(first_store))).await);
    let b = Arc::new(start_with(Adapter::Actix, false, Some(Arc::new(second_store))).await);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let delivery = testkit::bonifiq_point_add(BONIFIQ_SECRET)
        .with_target("/bonifiq")
        .with_header("X-Test-Behavior", "hold");
    let uuid: String = serde_json::from_slice::<serde_json::Value>(&delivery.body).unwrap()["Uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let send = |server: Arc<crate::servers::Server>| {
        let client = client.clone();
        let delivery = delivery.clone();
        async move {
            let mut request = client
                .post(server.url("/bonifiq"))
                .body(delivery.body.clone());
            for (name, value) in &delivery.headers {
                request = request.header(name, value);
            }
            let response = request.send().await.unwrap();
            let duplicate = response.headers().contains_key("hookbr-duplicate");
            (response.status().as_u16(), duplicate)
        }
    };
    let held = tokio::spawn(send(a.clone()));
    for _ in 0..1000 {
        if a.calls.of(&uuid) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(a.calls.of(&uuid), 1);
    let copies =
        join_all((0..999).map(|n| send(if n % 2 == 0 { a.clone() } else { b.clone() }))).await;
    assert!(
        copies.iter().all(|(status, _)| *status == 409),
        "{copies:?}"
    );
    a.calls.release_one();
    assert_eq!(held.await.unwrap(), (200, false));
    assert_eq!(send(b.clone()).await, (200, true));
    assert_eq!(send(a.clone()).await, (200, true));
    assert_eq!(a.calls.of(&uuid) + b.calls.of(&uuid), 1);
}

/// Grafeno's signature ledger on Redis: a body forged on another instance (its own receiver,
/// the same Redis) is refused `401` `signature_reused`; the ledger outlives dedup retention.
#[tokio::test]
async fn the_signature_ledger_is_shared_between_instances() {
    use hookbr_core::{
        Endpoint, Receiver,
        ledger::{BodyFingerprint, Seen},
        testkit::TestKey,
    };
    let Some(url) = redis_url() else { return };
    let store: Arc<dyn IdempotencyStore> = Arc::new(store(&url).await);
    let instance = || {
        Receiver::builder(Endpoint::Grafeno, crate::support::grafeno_verifier())
            .store(store.clone())
            // A short dedup retention: what the ledger must outlive.
            .retention(Duration::from_millis(50))
            .build()
            .unwrap()
    };
    let (a, b) = (instance(), instance());
    let genuine = testkit::grafeno_registration("approved", TestKey::rsa_2048());
    let forged = genuine
        .clone()
        .with_json_field("data", serde_json::json!({"id": "attacker-chosen"}));
    let verified = a.process(&genuine.request()).await.unwrap();
    a.complete(&verified).await.unwrap();
    let refused = b.process(&forged.request()).await.unwrap_err();
    assert_eq!(
        (refused.status(), refused.reason()),
        (401, "signature_reused")
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = b.process(&forged.request()).await.unwrap_err();
    assert_eq!(
        (refused.status(), refused.reason()),
        (401, "signature_reused")
    );

    let key = key("ledger");
    let (one, two) = (BodyFingerprint::of(b"1"), BodyFingerprint::of(b"2"));
    let keep = Duration::from_millis(50);
    assert_eq!(
        store.remember_body(key, one, keep).await.unwrap(),
        Some(Seen::First)
    );
    assert_eq!(
        store.remember_body(key, one, keep).await.unwrap(),
        Some(Seen::Same)
    );
    assert_eq!(
        store.remember_body(key, two, keep).await.unwrap(),
        Some(Seen::Different)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        store.remember_body(key, two, keep).await.unwrap(),
        Some(Seen::First)
    );
}
