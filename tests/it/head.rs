//! What the servers decide on a request's head, over raw TCP on 127.0.0.1 so the test controls
//! every byte: a request whose credential belongs in the head (BonifiQ's header secret, iSET's
//! URL secret) and is missing or wrong gets `401` before a byte of its body is sent, while an
//! authentic head is kept waiting for its body; Foody's smaller default limit; every copy of a
//! coding header counts (`Content-Encoding`, `Transfer-Encoding`). Both adapters.

use std::{
    io::{ErrorKind, Read, Write},
    net::{SocketAddr, TcpStream},
    time::{Duration, Instant},
};

use hookbr_core::{
    iset::IsetKind,
    testkit::{self, TestDelivery},
};

use crate::{
    servers::{Adapter, start, start_with_default_limits},
    support::{BONIFIQ_SECRET, FOODY_TOKEN, ISET_TOKEN, next_id},
};

const ADAPTERS: [Adapter; 2] = [Adapter::Axum, Adapter::Actix];

/// How long a test waits for an answer that must come.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How long a test waits to be sure that no answer comes (the server waits for the body).
const QUIET_FOR: Duration = Duration::from_millis(400);

/// A connection that has sent `head` (request line and headers, without the blank line).
fn open(addr: SocketAddr, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_write_timeout(Some(ANSWER_WITHIN))
        .expect("timeout");
    stream
        .write_all(format!("{head}\r\nHost: {addr}\r\n\r\n").as_bytes())
        .expect("the head is sent");
    stream
}

/// The status of the first final (not 1xx) response head read within `wait`, or `None` if none
/// arrived. (actix-web answers `Expect: 100-continue` with `100` before the application runs.)
fn status_within(stream: &mut TcpStream, wait: Duration) -> Option<u16> {
    let deadline = Instant::now() + wait;
    let mut response = Vec::new();
    let mut buffer = [0_u8; 1024];
    loop {
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let status = String::from_utf8_lossy(&response[..end])
                .strip_prefix("HTTP/1.1 ")
                .and_then(|rest| rest.get(..3))
                .and_then(|code| code.parse::<u16>().ok());
            match status {
                Some(100..=199) => {
                    response.drain(..end + 4);
                    continue;
                }
                other => return other,
            }
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).expect("timeout");
        match stream.read(&mut buffer) {
            Ok(0) => return None,
            Ok(n) => response.extend_from_slice(&buffer[..n]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            Err(_) => return None,
        }
    }
}

/// The request line and headers of `delivery` (whose body is not sent), with
/// `Content-Length: declared`.
fn head_of(delivery: &TestDelivery, declared: usize) -> String {
    let mut head = format!("{} {} HTTP/1.1", delivery.method, delivery.target);
    for (name, value) in &delivery.headers {
        if !name.eq_ignore_ascii_case("content-length") {
            head.push_str(&format!("\r\n{name}: {value}"));
        }
    }
    head.push_str(&format!("\r\nContent-Length: {declared}"));
    head
}

fn bonifiq() -> TestDelivery {
    testkit::bonifiq_point_add(BONIFIQ_SECRET).with_target("/bonifiq")
}

fn iset() -> TestDelivery {
    testkit::iset(IsetKind::OrderUpserted, next_id(), ISET_TOKEN)
}

/// A declared body of this size is within BonifiQ's and iSET's default limit (1 MiB) and is
/// never sent by the unauthenticated requests.
const LARGE: usize = 900 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_heads_get_401_without_their_body_being_read() {
    for adapter in ADAPTERS {
        let server = start_with_default_limits(adapter).await;
        let addr = server.addr;
        let unauthenticated = [
            (
                "bonifiq without its secret",
                bonifiq().without_header("X-Loyalty-Secret"),
            ),
            (
                "bonifiq with a wrong secret",
                bonifiq().with_header("X-Loyalty-Secret", "guess"),
            ),
            (
                "iset without its URL secret",
                iset().with_target("/iset/order_upserted"),
            ),
            (
                "iset with a wrong URL secret",
                iset().with_target("/iset/order_upserted?token=guess"),
            ),
            (
                "bonifiq without its secret, expecting 100-continue",
                bonifiq()
                    .without_header("X-Loyalty-Secret")
                    .with_header("Expect", "100-continue"),
            ),
        ];
        let answers = tokio::task::spawn_blocking(move || {
            unauthenticated.map(|(name, delivery)| {
                let started = Instant::now();
                let mut stream = open(addr, &head_of(&delivery, LARGE));
                // Not a byte of the body is sent: the answer must come anyway.
                (
                    name,
                    status_within(&mut stream, ANSWER_WITHIN),
                    started.elapsed(),
                )
            })
        })
        .await
        .expect("join");
        for (name, status, took) in answers {
            assert_eq!(status, Some(401), "{adapter:?}: {name} (after {took:?})");
        }
        assert_eq!(server.calls.total(), 0, "{adapter:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentic_heads_wait_for_their_body() {
    for adapter in ADAPTERS {
        let server = start_with_default_limits(adapter).await;
        let addr = server.addr;
        let delivery = bonifiq();
        let (quiet, status) = tokio::task::spawn_blocking(move || {
            let mut body = delivery.body.clone();
            // JSON allows trailing whitespace: the same delivery, padded to LARGE bytes.
            body.resize(LARGE, b' ');
            let mut stream = open(addr, &head_of(&delivery, LARGE));
            let quiet = status_within(&mut stream, QUIET_FOR);
            stream.write_all(&body).expect("the body is sent");
            (quiet, status_within(&mut stream, ANSWER_WITHIN))
        })
        .await
        .expect("join");
        assert_eq!(quiet, None, "{adapter:?}: no answer before the body");
        assert_eq!(status, Some(200), "{adapter:?}");
        assert_eq!(server.calls.total(), 1, "{adapter:?}");
    }
}

/// Foody's token is in the body: its default limit is 64 KiB, checked on the declared length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foody_default_limit_is_64_kib() {
    for adapter in ADAPTERS {
        let server = start_with_default_limits(adapter).await;
        let addr = server.addr;
        let delivery = testkit::foody_status("dispatched", FOODY_TOKEN).with_target("/foody");
        let limit = hookbr_core::pipeline::BODY_CREDENTIAL_LIMIT;
        let (over, at) = tokio::task::spawn_blocking(move || {
            let mut over = open(addr, &head_of(&delivery, limit + 1));
            let over = status_within(&mut over, ANSWER_WITHIN);
            let mut at = open(addr, &head_of(&delivery, limit));
            (over, status_within(&mut at, QUIET_FOR))
        })
        .await
        .expect("join");
        assert_eq!(over, Some(413), "{adapter:?}");
        assert_eq!(
            at, None,
            "{adapter:?}: within the limit, the body is awaited"
        );
    }
}

/// Sends `head` and `body`, and reads the status.
fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> Option<u16> {
    let mut stream = open(addr, head);
    // A server that refuses on the head may close before the body is written.
    let _ = stream.write_all(body);
    status_within(&mut stream, ANSWER_WITHIN)
}

/// `body` in one chunk of the chunked transfer coding.
fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n0\r\n\r\n");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_copy_of_a_coding_header_counts() {
    for adapter in ADAPTERS {
        let server = start(adapter, false).await;
        let addr = server.addr;
        let statuses = tokio::task::spawn_blocking(move || {
            let head = |delivery: &TestDelivery, extra: &str| {
                let mut head = format!("{} {} HTTP/1.1", delivery.method, delivery.target);
                for (name, value) in &delivery.headers {
                    head.push_str(&format!("\r\n{name}: {value}"));
                }
                head.push_str(extra);
                head
            };
            let plain = bonifiq();
            let length = format!("\r\nContent-Length: {}", plain.body.len());
            let encodings = exchange(
                addr,
                &head(
                    &plain,
                    &format!("\r\nContent-Encoding: identity\r\nContent-Encoding: gzip{length}"),
                ),
                &plain.body,
            );
            let gzip_chunked = bonifiq();
            let gzip_chunked = exchange(
                addr,
                &head(&gzip_chunked, "\r\nTransfer-Encoding: gzip, chunked"),
                &chunked(&gzip_chunked.body),
            );
            let two_copies = bonifiq();
            let two_copies = exchange(
                addr,
                &head(
                    &two_copies,
                    "\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked, gzip",
                ),
                &chunked(&two_copies.body),
            );
            let only_chunked = bonifiq();
            let only_chunked = exchange(
                addr,
                &head(&only_chunked, "\r\nTransfer-Encoding: chunked"),
                &chunked(&only_chunked.body),
            );
            [encodings, gzip_chunked, two_copies, only_chunked]
        })
        .await
        .expect("join");
        let [encodings, gzip_chunked, two_copies, only_chunked] = statuses;
        assert_eq!(encodings, Some(415), "{adapter:?}: identity then gzip");
        // hyper decodes the chunks and leaves the refusal to hookbr; actix-http refuses any
        // Transfer-Encoding but a lone `chunked`/`identity` itself (400) before hookbr runs.
        let expected = match adapter {
            Adapter::Axum => Some(415),
            Adapter::Actix => Some(400),
        };
        assert_eq!(gzip_chunked, expected, "{adapter:?}: gzip, chunked");
        // `chunked` must be the last coding: a server may refuse this one itself (400).
        assert!(
            matches!(two_copies, Some(400 | 415)),
            "{adapter:?}: chunked then gzip: {two_copies:?}"
        );
        assert_eq!(
            only_chunked,
            Some(200),
            "{adapter:?}: chunked alone is fine"
        );
        assert_eq!(server.calls.total(), 1, "{adapter:?}");
    }
}
