//! Grafeno's signature covers `x-unique-key`, not the body: a genuine delivery's header and
//! signature sent with another body are refused `401` and counted in
//! `hookbr_signature_reuse_total`, over real sockets on 127.0.0.1 through the server `hookbr
//! serve` runs, on a SQLite inbox: after the genuine row was processed and purged, after a
//! restart of the server on the same inbox, and when the forged body arrives first.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use hookbr_core::{
    inbox::{ListFilter, now_ms},
    testkit::{self, TestDelivery, TestKey},
};
use hookbr_server::{Config, Server, ServerBuilder};

/// A server with a SQLite inbox in `dir`, one Grafeno endpoint and an admin listener (for
/// `/metrics`), both on free loopback ports.
async fn start(dir: &Path) -> Server {
    start_with(dir, "url = \"sqlite:state/inbox.sqlite3\"", "").await
}

/// The same with `inbox` as the body of `[inbox]` and `more` appended.
async fn start_with(dir: &Path, inbox: &str, more: &str) -> Server {
    std::fs::write(
        dir.join("grafeno.pub.pem"),
        TestKey::rsa_2048().public_pem(),
    )
    .unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[inbox]\n{inbox}\n\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n\n\
         [[endpoint]]\nprovider = \"grafeno\"\npath = \"/webhooks/grafeno\"\n\
         public_keys = [\"file:grafeno.pub.pem\"]\n\n{more}"
    );
    ServerBuilder::new(Config::parse(&text, dir).unwrap())
        .start()
        .await
        .unwrap()
}

/// The metrics recorder is global to the process: the tests that count run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Posts `delivery`; its status and body.
async fn post(server: &Server, delivery: &TestDelivery) -> (u16, String) {
    let mut request = client().post(format!("http://{}/webhooks/grafeno", server.addr()));
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    let response = request.body(delivery.body.clone()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// `hookbr_signature_reuse_total{provider="grafeno"}` as the admin listener's `/metrics`
/// renders it (0 before the first reuse).
async fn reuse_count(server: &Server) -> u64 {
    let admin = server.admin_addr().unwrap();
    let text = client()
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("hookbr_signature_reuse_total{provider=\"grafeno\"} "))
        .map_or(0, |value| value.trim().parse().unwrap())
}

/// The genuine delivery's header and signature with an attacker's `data`.
fn forge(genuine: &TestDelivery) -> TestDelivery {
    genuine
        .clone()
        .with_json_field("data", serde_json::json!({"id": "attacker-chosen"}))
}

async fn stored_bodies(server: &Server) -> Vec<Vec<u8>> {
    let rows = server
        .inbox()
        .unwrap()
        .list(ListFilter::new())
        .await
        .unwrap();
    rows.into_iter().map(|row| row.record.body).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_signature_with_another_body_is_refused_after_retention_and_restart() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let genuine = testkit::grafeno_registration("approved", TestKey::rsa_2048());
    let forged = forge(&genuine);
    let counted = reuse_count(&server).await;

    assert_eq!(post(&server, &genuine).await.0, 200);
    let (status, body) = post(&server, &forged).await;
    assert_eq!(status, 401);
    // The body says no more than any 401 does.
    assert_eq!(body, r#"{"status":401,"error":"unauthorized"}"#);
    assert_eq!(reuse_count(&server).await, counted + 1);
    assert_eq!(
        post(&server, &genuine).await.0,
        200,
        "a copy is a duplicate"
    );
    assert_eq!(stored_bodies(&server).await, vec![genuine.body.clone()]);

    // The worker processes the row (no sinks: done at once); retention then purges it. Before
    // the ledger, the forged body was then stored as a new delivery.
    let inbox = server.inbox().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while inbox.stats().await.unwrap().done < 1 {
        assert!(
            Instant::now() < deadline,
            "the worker did not complete the row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(inbox.prune(now_ms() + 1).await.unwrap(), 1);
    drop(inbox);
    assert_eq!(post(&server, &forged).await.0, 401);
    assert!(stored_bodies(&server).await.is_empty(), "nothing is stored");
    assert_eq!(reuse_count(&server).await, counted + 2);

    // A restart on the same inbox: the ledger is in the database.
    server.stop().await.unwrap();
    let server = start(dir.path()).await;
    assert_eq!(post(&server, &forged).await.0, 401);
    assert!(stored_bodies(&server).await.is_empty());
    assert_eq!(reuse_count(&server).await, counted + 3);

    // Pre-emption: a forged body that arrives first is stored (hookbr cannot tell it from the
    // signer's); the genuine one is then refused and counted, where it used to be a silent
    // duplicate.
    let genuine = testkit::grafeno_registration("approved", TestKey::rsa_2048());
    let forged = forge(&genuine);
    assert_eq!(post(&server, &forged).await.0, 200);
    assert_eq!(post(&server, &genuine).await.0, 401);
    assert_eq!(reuse_count(&server).await, counted + 4);
    server.stop().await.unwrap();
}

/// Direct mode (no inbox, no Redis): the ledger is kept in `[inbox] ledger`'s SQLite file, so a
/// restart (which empties the in-memory dedup store) does not let a forged body through; with
/// `ledger = "memory"` it does, as documented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_keeps_the_ledger_in_its_file_across_restarts() {
    let _serial = SERIAL.lock().await;
    let sink = "[[sink]]\ntype = \"command\"\ncommand = [\"true\"]\ntimeout = \"5s\"\n";
    for (ledger, after_restart) in [("", 401), ("ledger = \"memory\"", 200)] {
        let dir = tempfile::tempdir().unwrap();
        let inbox = format!("url = \"none\"\n{ledger}");
        let server = start_with(dir.path(), &inbox, sink).await;
        let genuine = testkit::grafeno_registration("approved", TestKey::rsa_2048());
        let forged = forge(&genuine);
        assert_eq!(post(&server, &genuine).await.0, 200);
        assert_eq!(post(&server, &forged).await.0, 401);
        server.stop().await.unwrap();
        assert_eq!(
            dir.path().join("hookbr-ledger.sqlite3").exists(),
            ledger.is_empty(),
            "the default file, next to the configuration"
        );
        let server = start_with(dir.path(), &inbox, sink).await;
        assert_eq!(post(&server, &forged).await.0, after_restart, "{ledger:?}");
        server.stop().await.unwrap();
    }
}
