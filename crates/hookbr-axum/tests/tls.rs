//! `hookbr_axum::serve(..).tls(..)` on real loopback sockets: HTTPS deliveries from a client
//! trusting a CA made by the test, a certificate replaced while a kept-alive connection keeps
//! working, cleartext HTTP and TLS 1.1 refused, ALPN, and the handshake timeout. Every loop has a
//! count and a deadline.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Router, http::StatusCode, routing::get};
use hookbr_axum::{
    ConnectionLimits, IntoRouter, Webhook, Webhooks,
    tls::{TlsCertificate, server_config},
};
use hookbr_core::{Secret, testkit, verify::HeaderSecretVerifier};
use hookbr_tls::testkit::{TestCa, TestLeaf};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{
    TlsConnector,
    client::TlsStream,
    rustls::pki_types::{CertificateDer, ServerName},
};

const SECRET: &str = "serve-tls-test-secret";

/// The test's CA: leaf certificates for `localhost`/127.0.0.1, and clients trusting it.
struct Ca(TestCa);

impl Ca {
    fn new() -> Self {
        Self(TestCa::new())
    }

    fn leaf(&self, serial: u64) -> TestLeaf {
        self.0.leaf(&["localhost", "127.0.0.1"], serial)
    }

    fn client(
        &self,
        alpn: &[&[u8]],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> TlsConnector {
        TlsConnector::from(self.0.client_config(alpn, versions))
    }
}

fn app() -> Router {
    Webhooks::new()
        .bonifiq(
            "/bonifiq",
            HeaderSecretVerifier::bonifiq([Secret::new(SECRET).unwrap()]).unwrap(),
        )
        .into_router(|Webhook(_): Webhook| async { StatusCode::OK })
        .unwrap()
        .route("/health", get(|| async { "ok" }))
}

async fn start(certificate: Arc<TlsCertificate>, limits: ConnectionLimits) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = hookbr_axum::serve(listener, app())
        .limits(limits)
        .tls(server_config(certificate).unwrap());
    tokio::spawn(async move { serve.await });
    addr
}

fn limits() -> ConnectionLimits {
    let mut limits = ConnectionLimits::default();
    limits.tls_handshake_timeout = Duration::from_millis(700);
    limits
}

const ALL: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

async fn connect(
    connector: &TlsConnector,
    addr: SocketAddr,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))?
}

fn served_cert(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// Sends one HTTP/1.1 request and reads its answer (`content-length` bodies only): the status
/// code and the body.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
) -> (u16, String) {
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(end) = answer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |value| value.trim().parse().unwrap());
            if answer.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&answer[end + 4..end + 4 + length]).into_owned();
                return (status, body);
            }
        }
        let read = tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer))
            .await
            .expect("no answer within 10 s")
            .unwrap();
        assert!(
            read > 0,
            "closed before the answer: {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buffer[..read]);
    }
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n";

fn delivery() -> Vec<u8> {
    let delivery = testkit::bonifiq_point_add(SECRET);
    let mut request = format!(
        "POST /bonifiq HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n",
        delivery.body.len()
    );
    for (name, value) in &delivery.headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut request = request.into_bytes();
    request.extend_from_slice(&delivery.body);
    request
}

#[tokio::test]
async fn deliveries_over_https_and_a_certificate_replaced_while_serving() {
    let ca = Ca::new();
    let (first, second) = (ca.leaf(1), ca.leaf(2));
    let certificate = Arc::new(
        TlsCertificate::from_pem(first.chain_pem.as_bytes(), first.key_pem.as_bytes()).unwrap(),
    );
    let addr = start(certificate.clone(), limits()).await;
    let connector = ca.client(&[b"http/1.1"], ALL);

    let mut kept = connect(&connector, addr).await.unwrap();
    assert_eq!(served_cert(&kept), first.der);
    assert_eq!(kept.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(exchange(&mut kept, &delivery()).await.0, 200);
    assert_eq!(exchange(&mut kept, HEALTH).await, (200, "ok".to_owned()));

    // TLS 1.2 only is served too.
    let mut old = connect(&ca.client(&[], &[&rustls::version::TLS12]), addr)
        .await
        .unwrap();
    assert_eq!(exchange(&mut old, &delivery()).await.0, 200);

    // A pair that does not match is refused; the first certificate keeps serving.
    let error = certificate
        .replace_pem(second.chain_pem.as_bytes(), first.key_pem.as_bytes())
        .unwrap_err();
    assert!(error.to_string().contains("does not belong"), "{error}");
    assert!(
        certificate
            .replace_pem(b"junk", first.key_pem.as_bytes())
            .is_err()
    );
    let mut fresh = connect(&ca.client(&[b"http/1.1"], ALL), addr)
        .await
        .unwrap();
    assert_eq!(served_cert(&fresh), first.der);
    assert_eq!(exchange(&mut fresh, HEALTH).await.0, 200);

    // Renewed: new handshakes get the new certificate, the kept-alive connection goes on.
    certificate
        .replace_pem(second.chain_pem.as_bytes(), second.key_pem.as_bytes())
        .unwrap();
    // (A new client: the first one would resume its TLS 1.3 session, which presents no
    // certificate.)
    let mut renewed = connect(&ca.client(&[b"http/1.1"], ALL), addr)
        .await
        .unwrap();
    assert_eq!(served_cert(&renewed), second.der);
    assert_eq!(exchange(&mut renewed, &delivery()).await.0, 200);
    assert_eq!(exchange(&mut kept, &delivery()).await.0, 200);
    assert_eq!(served_cert(&kept), first.der);
}

/// Whether the server closed `stream` within `wait` without answering anything that starts
/// like `refused` (EOF, a reset, or only bytes not starting with it).
async fn closed_without<S: AsyncRead + Unpin>(
    stream: &mut S,
    wait: Duration,
    refused: &[u8],
) -> Option<Duration> {
    let began = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 1024];
    let deadline = began + wait;
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => {
                assert!(!answer.starts_with(refused), "answered {answer:?}");
                return Some(began.elapsed());
            }
            Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
        }
    }
}

#[tokio::test]
async fn cleartext_http_and_tls_1_1_are_refused() {
    let ca = Ca::new();
    let leaf = ca.leaf(7);
    let certificate = Arc::new(
        TlsCertificate::from_pem(leaf.chain_pem.as_bytes(), leaf.key_pem.as_bytes()).unwrap(),
    );
    let addr = start(certificate, limits()).await;

    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(HEALTH).await.unwrap();
    assert!(
        closed_without(&mut plain, Duration::from_secs(5), b"HTTP/")
            .await
            .is_some()
    );

    // A TLS 1.1 ClientHello (TLS_RSA_WITH_AES_128_CBC_SHA, no extensions): no ServerHello
    // (a handshake record, 0x16) comes back, at most an alert.
    let mut hello = vec![0x03, 0x02];
    hello.extend_from_slice(&[0x42; 32]);
    hello.extend_from_slice(&[0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00]);
    let mut handshake = vec![0x01, 0x00, 0x00, u8::try_from(hello.len()).unwrap()];
    handshake.extend_from_slice(&hello);
    let mut record = vec![
        0x16,
        0x03,
        0x02,
        0x00,
        u8::try_from(handshake.len()).unwrap(),
    ];
    record.extend_from_slice(&handshake);
    let mut old = TcpStream::connect(addr).await.unwrap();
    old.write_all(&record).await.unwrap();
    assert!(
        closed_without(&mut old, Duration::from_secs(5), &[0x16])
            .await
            .is_some()
    );

    // Only h2 offered while HTTP/2 is off: no common protocol, no connection.
    let h2_only = ca.client(&[b"h2"], ALL);
    assert!(connect(&h2_only, addr).await.is_err());
}

#[tokio::test]
async fn h2_is_offered_only_when_asked_for() {
    let ca = Ca::new();
    let leaf = ca.leaf(9);
    let certificate = Arc::new(
        TlsCertificate::from_pem(leaf.chain_pem.as_bytes(), leaf.key_pem.as_bytes()).unwrap(),
    );
    let both = ca.client(&[b"h2", b"http/1.1"], ALL);
    let addr = start(certificate.clone(), limits()).await;
    let stream = connect(&both, addr).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut limits = limits();
    limits.http2 = true;
    let addr = start(certificate, limits).await;
    let stream = connect(&both, addr).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
}

#[tokio::test]
async fn a_client_that_never_completes_the_handshake_is_closed_after_the_timeout() {
    let ca = Ca::new();
    let leaf = ca.leaf(3);
    let certificate = Arc::new(
        TlsCertificate::from_pem(leaf.chain_pem.as_bytes(), leaf.key_pem.as_bytes()).unwrap(),
    );
    let addr = start(certificate, limits()).await;

    // Silent after connecting.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let took = closed_without(&mut silent, Duration::from_secs(5), b"HTTP/")
        .await
        .expect("a silent client was kept open");
    assert!(took >= Duration::from_millis(600), "closed after {took:?}");
    // Half a ClientHello record, then silence.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x01, 0x00, 0x01])
        .await
        .unwrap();
    let took = closed_without(&mut stalled, Duration::from_secs(5), b"HTTP/")
        .await
        .expect("a stalled handshake was kept open");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    // The server still serves.
    let mut ok = connect(&ca.client(&[], ALL), addr).await.unwrap();
    assert_eq!(exchange(&mut ok, HEALTH).await.0, 200);
}

#[tokio::test]
async fn at_the_cap_connections_stuck_in_the_handshake_give_way() {
    let ca = Ca::new();
    let leaf = ca.leaf(4);
    let certificate = Arc::new(
        TlsCertificate::from_pem(leaf.chain_pem.as_bytes(), leaf.key_pem.as_bytes()).unwrap(),
    );
    let mut limits = limits();
    limits.max_connections = 4;
    limits.tls_handshake_timeout = Duration::from_secs(30);
    let addr = start(certificate, limits).await;
    let mut stuck = Vec::new();
    for _ in 0..8 {
        stuck.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut ok = connect(&ca.client(&[], ALL), addr).await.unwrap();
    assert_eq!(exchange(&mut ok, &delivery()).await.0, 200);
}
