//! Memory under many partial bodies: `hookbr_axum::serve` holds at most `max_connections` of
//! them, so the process's resident memory (from /proc) stays bounded. Alone in its binary so
//! that no other test moves the figure.
//!
//! `HOOKBR_PARTIAL_BODIES=N` changes the number of clients (300); the ignored test measures
//! plain `axum::serve` under the same load, for comparison:
//! `cargo test -p hookbr-axum --test serve_memory -- --include-ignored --nocapture`.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{Router, http::StatusCode};
use hookbr_axum::{ConnectionLimits, IntoRouter, Webhook, Webhooks};
use hookbr_core::{Secret, testkit, verify::HeaderSecretVerifier};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

const SECRET: &str = "serve-memory-test-secret";
/// What each client sends of its declared 1 MiB body.
const SENT: usize = 64 * 1024;
const CAP: usize = 100;

fn app() -> Router {
    Webhooks::new()
        .bonifiq(
            "/bonifiq",
            HeaderSecretVerifier::bonifiq([Secret::new(SECRET).unwrap()]).unwrap(),
        )
        .into_router(|Webhook(_): Webhook| async { StatusCode::OK })
        .unwrap()
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn clients() -> usize {
    std::env::var("HOOKBR_PARTIAL_BODIES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(300)
        .min(5_000)
}

/// Opens `clients()` connections to `addr`, each sending an authentic head declaring 1 MiB
/// and [`SENT`] bytes of it; returns the RSS growth in KiB once the server has read them, and
/// how many connections the server kept open.
async fn load(addr: SocketAddr) -> (u64, usize) {
    let delivery = testkit::bonifiq_point_add(SECRET);
    let mut head = "POST /bonifiq HTTP/1.1\r\nhost: test\r\ncontent-length: 1048576\r\n".to_owned();
    for (name, value) in &delivery.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let chunk = vec![b' '; SENT];
    let before = rss_kib();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut streams = Vec::new();
    for _ in 0..clients() {
        assert!(Instant::now() < deadline, "too slow");
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            continue;
        };
        if stream.write_all(head.as_bytes()).await.is_ok() {
            let _ =
                tokio::time::timeout(Duration::from_millis(200), stream.write_all(&chunk)).await;
        }
        streams.push(stream);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let grown = rss_kib().saturating_sub(before);
    let mut open = 0;
    let mut buffer = [0_u8; 256];
    for stream in &mut streams {
        match tokio::time::timeout(Duration::from_millis(20), stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => {}
            _ => open += 1,
        }
    }
    (grown, open)
}

fn limits() -> ConnectionLimits {
    let mut limits = ConnectionLimits::default();
    limits.max_connections = CAP;
    limits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_under_many_partial_bodies() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        hookbr_axum::serve(listener, app())
            .limits(limits())
            .into_future(),
    );
    let (grown, open) = load(addr).await;
    eprintln!(
        "hookbr_axum::serve, {} partial bodies, cap {CAP}: RSS +{} KiB, {open} open",
        clients(),
        grown
    );
    assert!(open <= CAP, "{open} connections open, cap {CAP}");
    // At most CAP bodies of 64 KiB are buffered (about 7 MiB); allow for allocator slack.
    assert!(grown < 24 * 1024, "RSS grew by {grown} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement of plain axum::serve, for comparison"]
async fn plain_axum_serve_for_comparison() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app()).await });
    let (grown, open) = load(addr).await;
    eprintln!(
        "axum::serve, {} partial bodies: RSS +{} KiB, {open} open",
        clients(),
        grown
    );
}
