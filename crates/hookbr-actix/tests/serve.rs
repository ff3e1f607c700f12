//! `hookbr_actix::serve` against hostile clients on real loopback sockets: a slow head, a slow
//! body, a stalled handler, idle keep-alive and the connection cap. Every loop has a count and
//! a deadline.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use hookbr_actix::{ConnectionLimits, IntoServiceConfig, Webhook, Webhooks, serve};
use hookbr_core::{Secret, testkit, verify::HeaderSecretVerifier};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const SECRET: &str = "actix-serve-test-secret";

fn limits() -> ConnectionLimits {
    let mut limits = ConnectionLimits::default();
    limits.header_timeout = Duration::from_secs(1);
    limits.body_timeout = Duration::from_secs(1);
    limits.request_timeout = Duration::from_secs(2);
    limits.idle_timeout = Duration::from_secs(1);
    limits
}

/// BonifiQ at `/bonifiq` (its handler sleeps `handler_delay`) and `/health`, served by one
/// worker within `limits`.
fn start(limits: ConnectionLimits, handler_delay: Duration) -> (SocketAddr, ServerHandle) {
    let webhooks = Webhooks::new()
        .bonifiq(
            "/bonifiq",
            HeaderSecretVerifier::bonifiq([Secret::new(SECRET).unwrap()]).unwrap(),
        )
        .configure(move |Webhook(_): Webhook| async move {
            actix_web::rt::time::sleep(handler_delay).await;
            HttpResponse::Ok().finish()
        })
        .unwrap();
    let server = HttpServer::new(move || {
        App::new()
            .configure(webhooks.clone())
            .route("/health", web::get().to(|| async { "ok" }))
    })
    .disable_signals()
    .shutdown_timeout(1);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = serve::listen(serve::bounded(server, &limits, 1), listener, &limits)
        .unwrap()
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (addr, handle)
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

/// One request on a fresh connection, answered within 5 s: the answer's text.
async fn request(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    for _ in 0..64 {
        let Ok(Ok(read)) = tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer)).await
        else {
            break;
        };
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..read]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[actix_web::test]
async fn an_authentic_delivery_is_answered() {
    let (addr, handle) = start(limits(), Duration::ZERO);
    let (head, body) = delivery();
    let answer = request(addr, &[head.as_bytes(), &body].concat()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    handle.stop(false).await;
}

#[actix_web::test]
async fn a_slow_head_is_closed_within_the_header_timeout() {
    let (addr, handle) = start(limits(), Duration::ZERO);
    let (head, _) = delivery();
    let (after, answer) = until_closed(addr, b"P", head.as_bytes(), Duration::from_millis(200))
        .await
        .expect("a head trickled at 5 B/s is closed");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_millis(2_500),
        "{after:?}"
    );
    assert!(!answer.contains(" 200 "), "{answer}");
    handle.stop(false).await;
}

#[actix_web::test]
async fn a_slow_body_is_answered_408_within_the_body_timeout() {
    let (addr, handle) = start(limits(), Duration::ZERO);
    let (head, body) = delivery();
    let (after, answer) = until_closed(
        addr,
        &[head.as_bytes(), &body[..1]].concat(),
        &body[1..],
        Duration::from_millis(200),
    )
    .await
    .expect("a body trickled at 5 B/s is closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_millis(2_500),
        "{after:?}"
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn a_stalled_handler_is_answered_503_within_the_request_timeout() {
    let (addr, handle) = start(limits(), Duration::from_secs(30));
    let (head, body) = delivery();
    let began = Instant::now();
    let answer = request(addr, &[head.as_bytes(), &body].concat()).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        began.elapsed() >= Duration::from_millis(1_900)
            && began.elapsed() < Duration::from_millis(3_500),
        "{:?}",
        began.elapsed()
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let (addr, handle) = start(limits(), Duration::ZERO);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0_u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
    let answered = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        for _ in 0..64 {
            if matches!(stream.read(&mut buffer).await, Ok(0) | Err(_)) {
                return;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "an idle connection is closed");
    let after = answered.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_millis(2_500),
        "{after:?}"
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let mut limits = limits();
    limits.max_connections = 2;
    limits.header_timeout = Duration::from_secs(2);
    let (addr, handle) = start(limits, Duration::ZERO);
    // Two connections that send nothing take both places.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        stalled.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let began = Instant::now();
    let mut third = TcpStream::connect(addr).await.unwrap();
    third
        .write_all(b"GET /health HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0_u8; 4096];
    assert!(
        tokio::time::timeout(Duration::from_millis(800), third.read(&mut buffer))
            .await
            .is_err(),
        "a third connection is not served while two are open"
    );
    // Once the header timeout has closed the stalled ones, it is.
    let read = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buffer))
        .await
        .expect("served once a place is free")
        .unwrap();
    assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
    assert!(
        began.elapsed() >= Duration::from_millis(1_500),
        "{:?}",
        began.elapsed()
    );
    drop(stalled);
    handle.stop(false).await;
}
