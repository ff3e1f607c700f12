//! `hookbr_axum::serve` against hostile clients on real loopback sockets: slow heads, slow
//! bodies, idle keep-alive, the connection cap, the request timeout and HTTP/2. Every loop has a
//! count and a deadline.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Router, http::StatusCode, routing::get};
use hookbr_axum::{ConnectionLimits, IntoRouter, Webhook, Webhooks};
use hookbr_core::{Secret, testkit, verify::HeaderSecretVerifier};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};

const SECRET: &str = "serve-limits-test-secret";

/// Webhooks (BonifiQ at `/bonifiq`), `/health`, and `/hold`, which answers once `gate` has a
/// permit.
fn app(gate: Arc<Semaphore>) -> Router {
    Webhooks::new()
        .bonifiq(
            "/bonifiq",
            HeaderSecretVerifier::bonifiq([Secret::new(SECRET).unwrap()]).unwrap(),
        )
        .into_router(|Webhook(_): Webhook| async { StatusCode::OK })
        .unwrap()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/hold",
            get(move || async move {
                let _permit = gate.acquire().await;
                "released"
            }),
        )
}

fn limits() -> ConnectionLimits {
    let mut limits = ConnectionLimits::default();
    limits.header_timeout = Duration::from_secs(1);
    limits.body_timeout = Duration::from_secs(1);
    limits.request_timeout = Duration::from_secs(2);
    limits.idle_timeout = Duration::from_secs(1);
    limits
}

async fn start(limits: ConnectionLimits) -> (SocketAddr, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = hookbr_axum::serve(listener, app(gate.clone())).limits(limits);
    tokio::spawn(async move { serve.await });
    (addr, gate)
}

/// An authentic BonifiQ delivery's head (with `content-length`) and body.
fn delivery() -> (String, Vec<u8>) {
    let delivery = testkit::bonifiq_point_add(SECRET);
    let mut head = format!(
        "POST /bonifiq HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n",
        delivery.body.len()
    );
    for (name, value) in &delivery.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    (head, delivery.body.clone())
}

/// Writes `start`, then one byte of `trickle` every `every`, reading whatever comes back, until
/// the server closes the connection: how long that took and what was answered, or `None` if it
/// was still open after 10 s.
async fn until_closed(
    addr: SocketAddr,
    start: &[u8],
    trickle: &[u8],
    every: Duration,
) -> Option<(Duration, String)> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let began = Instant::now();
    stream.write_all(start).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 4096];
    let mut next = trickle.iter();
    let deadline = began + Duration::from_secs(10);
    while Instant::now() < deadline {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => {
                    return Some((began.elapsed(), String::from_utf8_lossy(&answer).into_owned()));
                }
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            },
            () = tokio::time::sleep(every) => {
                if let Some(byte) = next.next() {
                    let _ = stream.write_all(&[*byte]).await;
                }
            }
        }
    }
    None
}

#[tokio::test]
async fn a_slow_head_is_closed_within_the_header_timeout() {
    let (addr, _) = start(limits()).await;
    let (head, _) = delivery();
    let (after, answer) = until_closed(addr, b"P", head.as_bytes(), Duration::from_millis(200))
        .await
        .expect("a head trickled at 5 B/s is closed");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_millis(2_500),
        "{after:?}"
    );
    assert!(!answer.contains(" 200 "), "{answer}");

    // A connection that sends nothing at all is closed too.
    let (after, _) = until_closed(addr, b"", b"", Duration::from_millis(100))
        .await
        .expect("a silent connection is closed");
    assert!(after < Duration::from_millis(2_500), "{after:?}");
}

#[tokio::test]
async fn a_slow_body_gets_408_and_is_closed_within_the_body_timeout() {
    let (addr, _) = start(limits()).await;
    let (head, body) = delivery();
    let (after, answer) = until_closed(addr, head.as_bytes(), &body, Duration::from_millis(200))
        .await
        .expect("a body trickled at 5 B/s is closed");
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(after < Duration::from_millis(2_500), "{after:?}");
}

#[tokio::test]
async fn an_authentic_delivery_is_answered_and_an_idle_connection_closed() {
    let (addr, _) = start(limits()).await;
    let (head, body) = delivery();
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    let (after, answer) = until_closed(addr, &request, b"", Duration::from_millis(100))
        .await
        .expect("the kept-alive connection is closed once idle");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_millis(2_500),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_handler_past_the_request_timeout_gets_503() {
    let (addr, _) = start(limits()).await;
    let (after, answer) = until_closed(
        addr,
        b"GET /hold HTTP/1.1\r\nhost: test\r\n\r\n",
        b"",
        Duration::from_millis(100),
    )
    .await
    .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(
        after >= Duration::from_millis(1_900) && after < Duration::from_millis(3_500),
        "{after:?}"
    );
}

/// Whether the server closed `stream` (EOF or reset) within `wait`.
async fn is_closed(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buffer = [0_u8; 512];
    let deadline = Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn at_the_cap_stalled_connections_give_way_to_deliveries() {
    const CAP: usize = 20;
    let mut limits = limits();
    limits.header_timeout = Duration::from_secs(30);
    limits.max_connections = CAP;
    let (addr, _) = start(limits).await;
    let mut stalled = Vec::new();
    for _ in 0..CAP * 3 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /bonifiq HTTP/1.1\r\n")
            .await
            .unwrap();
        stalled.push(stream);
    }
    // Every stalled client is still sending its head: the newest ones pushed the oldest out.
    let mut open = 0;
    for stream in &mut stalled {
        if !is_closed(stream, Duration::from_millis(100)).await {
            open += 1;
        }
    }
    assert!(open <= CAP, "{open} stalled connections open, cap {CAP}");

    // An authentic delivery on a fresh connection is answered, while the stalled ones hold on.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let delivery = testkit::bonifiq_point_add(SECRET);
    let mut request = client
        .post(format!("http://{addr}/bonifiq"))
        .body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn when_every_connection_holds_a_complete_request_a_new_one_gets_503() {
    const CAP: usize = 3;
    let mut limits = limits();
    limits.request_timeout = Duration::from_secs(10);
    limits.max_connections = CAP;
    let (addr, gate) = start(limits).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let held: Vec<_> = (0..CAP)
        .map(|_| {
            let request = client.get(format!("http://{addr}/hold")).send();
            tokio::spawn(request)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (after, answer) = until_closed(
        addr,
        b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n",
        b"",
        Duration::from_millis(100),
    )
    .await
    .expect("refused");
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(after < Duration::from_secs(1), "{after:?}");
    gate.add_permits(CAP);
    for request in held {
        assert_eq!(request.await.unwrap().unwrap().status(), 200);
    }
}

#[tokio::test]
async fn h2c_is_served_only_when_asked_for() {
    let h2c = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let (addr, _) = start(limits()).await;
    let refused = h2c.get(format!("http://{addr}/health")).send().await;
    assert!(refused.is_err(), "{refused:?}");
    let answered = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.version(), reqwest::Version::HTTP_11);

    let mut http2 = limits();
    http2.http2 = true;
    let (addr, _) = start(http2).await;
    let answered = h2c
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (answered.status(), answered.version()),
        (StatusCode::OK, reqwest::Version::HTTP_2)
    );
    // The head timeout holds for HTTP/2 too: the preface alone, then nothing.
    let (after, _) = until_closed(
        addr,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"",
        Duration::from_millis(100),
    )
    .await
    .expect("closed");
    assert!(after < Duration::from_millis(2_500), "{after:?}");
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let mut limits = limits();
    limits.max_headers = 8;
    let (addr, _) = start(limits).await;
    let many: String = (0..9).map(|i| format!("x-h{i}: v\r\n")).collect();
    let (_, answer) = until_closed(
        addr,
        format!("GET /health HTTP/1.1\r\nhost: t\r\n{many}\r\n").as_bytes(),
        b"",
        Duration::from_millis(100),
    )
    .await
    .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    let long = "a".repeat(20_000);
    let (_, answer) = until_closed(
        addr,
        format!("GET /health HTTP/1.1\r\nhost: t\r\nx-long: {long}\r\n\r\n").as_bytes(),
        b"",
        Duration::from_millis(100),
    )
    .await
    .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
}

#[tokio::test]
#[ignore = "a measurement of plain axum::serve, for comparison (10 s)"]
async fn plain_axum_serve_keeps_a_slow_head_open() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app(Arc::new(Semaphore::new(0)));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (head, _) = delivery();
    let closed = until_closed(addr, b"P", head.as_bytes(), Duration::from_secs(1)).await;
    eprintln!("axum::serve, a head at 1 B/s: closed after {closed:?} (None: open after 10 s)");
    assert!(closed.is_none());
}
