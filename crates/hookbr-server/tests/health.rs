//! `/healthz` and `/readyz` on the admin listener of a real server, over HTTP on 127.0.0.1:
//! they answer without the admin token and whatever the `Host`, reveal fixed words only, and
//! `/readyz` names the inbox when PostgreSQL cannot be reached and the worker when it stopped.

use std::{net::SocketAddr, path::Path, time::Duration};

use hookbr_server::{Config, Server, ServerBuilder};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinSet};

const ADMIN_TOKEN: &str = "admin-token-of-the-health-tests-0123456789abc";

/// A server with `inbox` (an `[inbox] url`), a BonifiQ endpoint, and an admin listener on a
/// free loopback port (`admin`: more `[admin]` keys).
async fn start(dir: &Path, inbox: &str, admin: &str) -> Server {
    std::fs::write(dir.join("bonifiq.secret"), "bonifiq-health-secret").unwrap();
    std::fs::write(dir.join("admin.token"), ADMIN_TOKEN).unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[inbox]\nurl = \"{inbox}\"\n\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n{admin}\n\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\nsecrets = [\"file:bonifiq.secret\"]\n"
    );
    ServerBuilder::new(Config::parse(&text, dir).unwrap())
        .start()
        .await
        .unwrap()
}

/// `GET path` on `addr` with `host` as the `Host` header: the status, the headers and the body
/// as JSON (`Null` when it is not JSON).
async fn get(addr: SocketAddr, path: &str, host: &str) -> (StatusCode, Value, header::HeaderMap) {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .header(header::HOST, host)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
    (status, body, headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_without_the_token_from_any_host_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        "sqlite:inbox.sqlite3",
        "token = \"file:admin.token\"",
    )
    .await;
    let admin = server.admin_addr().unwrap();
    let (status, body, headers) = get(admin, "/healthz", "lb.internal.example").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "alive"}));
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let (status, body, _) = get(admin, "/readyz", "10.0.0.7:9090").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {"listener": "ok", "inbox": "ok", "worker": "ok"}})
    );
    // The exemption is these two paths only: the metrics and the pages still need the token.
    let (status, _, _) = get(admin, "/metrics", "127.0.0.1").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = get(admin, "/healthz/../metrics", "127.0.0.1").await;
    assert_ne!(status, StatusCode::OK);
    server.stop().await.unwrap();

    // Without a token the pages answer loopback names only; the probes answer any Host.
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "sqlite:inbox.sqlite3", "").await;
    let admin = server.admin_addr().unwrap();
    let (status, _, _) = get(admin, "/", "lb.internal.example").await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    let (status, _, _) = get(admin, "/readyz", "lb.internal.example").await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_worker_once_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "sqlite:inbox.sqlite3", "").await;
    let admin = server.admin_addr().unwrap();
    assert_eq!(get(admin, "/readyz", "localhost").await.0, StatusCode::OK);
    server.abort_worker();
    let mut last = Value::Null;
    for _ in 0..50 {
        let (status, body, _) = get(admin, "/readyz", "localhost").await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            last = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        last,
        json!({"status": "not ready", "checks": {"listener": "ok", "inbox": "ok", "worker": "stopped"}})
    );
    // Alive all the same: the process still serves.
    assert_eq!(get(admin, "/healthz", "localhost").await.0, StatusCode::OK);
    server.stop().await.unwrap();
}

/// The PostgreSQL server's URL, or `None` (with a notice) outside CI when none was started.
fn postgres_url() -> Option<String> {
    match std::env::var("HOOKBR_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("HOOKBR_TEST_POSTGRES_URL is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!(
                "NOTICE: HOOKBR_TEST_POSTGRES_URL not set; PostgreSQL test skipped (use scripts/test)"
            );
            None
        }
    }
}

/// A TCP relay on 127.0.0.1 to `upstream`; dropping it closes the listener and every relayed
/// connection, as a stopped server would.
struct Relay {
    addr: SocketAddr,
    _tasks: JoinSet<()>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            // At most 64 connections: the inbox's pool needs a few.
            for _ in 0..64 {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    break;
                };
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
            // Keep the relayed connections until the relay is dropped.
            std::future::pending::<()>().await;
        });
        Self {
            addr,
            _tasks: tasks,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_inbox_when_postgres_cannot_be_reached() {
    let Some(url) = postgres_url() else {
        return;
    };
    // postgres://user@HOST:PORT/db: relay HOST:PORT.
    let (scheme_user, rest) = url.split_once('@').expect("a URL with user@host");
    let (authority, tail) = rest.split_once('/').expect("a URL with a database");
    let relay = Relay::start(authority.to_owned()).await;
    let relayed = format!("{scheme_user}@{}/{tail}", relay.addr);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &relayed, "").await;
    let admin = server.admin_addr().unwrap();
    let (status, body, _) = get(admin, "/readyz", "localhost").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    drop(relay);
    let began = std::time::Instant::now();
    let (status, body, _) = get(admin, "/readyz", "localhost").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not ready");
    assert_eq!(body["checks"]["listener"], "ok");
    assert_eq!(body["checks"]["worker"], "ok");
    let inbox = body["checks"]["inbox"].as_str().unwrap();
    assert!(inbox.starts_with("unreachable: "), "{inbox}");
    // Nothing about where the inbox is.
    let text = body.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("hookbr_test"),
        "{text}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(get(admin, "/healthz", "localhost").await.0, StatusCode::OK);
    server.stop().await.unwrap();
}
