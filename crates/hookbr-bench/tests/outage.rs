//! The database goes away mid-load: a real `bench-server inbox-postgres` keeps answering, with
//! `503` (the provider retries) while PostgreSQL is down and never a `200` for a row that is not
//! committed; after PostgreSQL restarts it stores again, and every delivery that got a `200` is
//! in the inbox.
//!
//! Needs `HOOKBR_TEST_POSTGRES_URL`, `HOOKBR_TEST_POSTGRES_STOP` and `HOOKBR_TEST_POSTGRES_START`
//! (set by `scripts/test`). It has its own test binary because it stops the shared server.

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use hookbr_core::{
    inbox::{Inbox, ListFilter},
    testkit,
};
use hookbr_store::PostgresInbox;

fn env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) => Some(value),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("{name} is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!("NOTICE: {name} not set; PostgreSQL outage test skipped (use scripts/test)");
            None
        }
    }
}

fn sh(command: &str) {
    let status = Command::new("sh")
        .args(["-c", command])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("sh runs");
    assert!(status.success(), "{command}");
}

async fn post(client: &reqwest::Client, addr: SocketAddr, secret: &str) -> (String, Option<u16>) {
    let delivery = testkit::bonifiq_point_add(secret);
    let body: serde_json::Value = serde_json::from_slice(&delivery.body).expect("JSON");
    let uuid = body["Uuid"].as_str().expect("Uuid").to_owned();
    let mut request = client
        .post(format!("http://{addr}/bonifiq"))
        .body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    let status = request.send().await.ok().map(|r| r.status().as_u16());
    (uuid, status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_gives_503_and_loses_no_acknowledged_delivery() {
    let (Some(base), Some(stop), Some(start)) = (
        env("HOOKBR_TEST_POSTGRES_URL"),
        env("HOOKBR_TEST_POSTGRES_STOP"),
        env("HOOKBR_TEST_POSTGRES_START"),
    ) else {
        return;
    };
    let addr = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let mut server = Command::new(env!("CARGO_BIN_EXE_bench-server"))
        .args(["inbox-postgres", &addr.to_string(), &base])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bench-server starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(10));
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let mut acknowledged = Vec::new();

    for _ in 0..50 {
        let (uuid, status) = post(&client, addr, "bench-secret").await;
        assert_eq!(status, Some(200));
        acknowledged.push(uuid);
    }

    sh(&stop);
    let mut refused = 0;
    for _ in 0..20 {
        let (uuid, status) = post(&client, addr, "bench-secret").await;
        match status {
            Some(200) => acknowledged.push(uuid), // must then be stored: checked below
            Some(503) => refused += 1,
            other => panic!("unexpected answer while the database is down: {other:?}"),
        }
    }
    assert!(refused > 0, "the outage was seen as 503");
    sh(&start);

    // The pool reconnects: deliveries are stored again.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stored_again = 0;
    while stored_again < 50 {
        assert!(Instant::now() < deadline, "no recovery after the restart");
        let (uuid, status) = post(&client, addr, "bench-secret").await;
        if status == Some(200) {
            acknowledged.push(uuid);
            stored_again += 1;
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let _ = server.kill();
    let _ = server.wait();

    let inbox = PostgresInbox::connect(&base).await.expect("connect");
    let rows = inbox
        .list(ListFilter::new().limit(100_000))
        .await
        .expect("list");
    let stored: std::collections::HashSet<&str> = rows
        .iter()
        .map(|row| row.record.delivery_id.as_str())
        .collect();
    for uuid in &acknowledged {
        assert!(
            stored.contains(uuid.as_str()),
            "{uuid} got 200 but is not stored"
        );
    }
}
