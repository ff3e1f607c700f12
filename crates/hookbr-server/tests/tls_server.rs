//! `[server] tls_cert`/`tls_key`: deliveries over HTTPS to a server started from a
//! configuration, the certificate files replaced on disk (new handshakes get the new
//! certificate, a kept-alive connection goes on), a bad pair on disk refused while the previous
//! one keeps serving, and the configuration checks. Real sockets on 127.0.0.1; every loop has a
//! count and a deadline.

use std::{
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use hookbr_core::testkit;
use hookbr_server::{Config, ServerBuilder, reload::TLS_POLL_INTERVAL};
use hookbr_tls::testkit::{TestCa, TestLeaf};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_rustls::{
    TlsConnector,
    client::TlsStream,
    rustls::pki_types::{CertificateDer, ServerName},
};

const SECRET: &str = "tls-server-test-secret";

/// The test's CA: leaf certificates for `localhost`, and clients trusting it.
struct Ca(TestCa);

impl Ca {
    fn new() -> Self {
        Self(TestCa::new())
    }

    fn leaf(&self, serial: u64) -> TestLeaf {
        self.0.leaf(&["localhost"], serial)
    }

    /// A client trusting only this CA (a new one per connection: no session resumption).
    fn connector(&self) -> TlsConnector {
        TlsConnector::from(self.0.client_config(&[], rustls::DEFAULT_VERSIONS))
    }

    async fn connect(&self, addr: SocketAddr) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.connector().connect(name, tcp))
            .await
            .unwrap()
            .unwrap()
    }
}

fn served(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// One authentic BonifiQ delivery on `stream` (kept alive): the status code.
async fn deliver(stream: &mut TlsStream<TcpStream>) -> u16 {
    let delivery = testkit::bonifiq_point_add(SECRET);
    let mut request = format!(
        "POST /webhooks/bonifiq HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n",
        delivery.body.len()
    );
    for (name, value) in &delivery.headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut request = request.into_bytes();
    request.extend_from_slice(&delivery.body);
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(end) = answer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |value| value.trim().parse().unwrap());
            if answer.len() >= end + 4 + length {
                return head[9..12].parse().unwrap();
            }
        }
        let read = tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert!(read > 0, "closed before the answer");
        answer.extend_from_slice(&buffer[..read]);
    }
}

fn write_pair(dir: &Path, leaf: &TestLeaf) {
    std::fs::write(dir.join("fullchain.pem"), &leaf.chain_pem).unwrap();
    std::fs::write(dir.join("privkey.pem"), &leaf.key_pem).unwrap();
}

fn config_text(tls: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{tls}\n[inbox]\nurl = \"sqlite:inbox.sqlite3\"\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\n\
         secrets = [\"file:bonifiq.secret\"]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_deliveries_and_certificate_files_renewed_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bonifiq.secret"), SECRET).unwrap();
    let ca = Ca::new();
    let (first, second) = (ca.leaf(1), ca.leaf(2));
    write_pair(dir.path(), &first);
    let text = config_text(
        "tls_cert = \"file:fullchain.pem\"\ntls_key = \"file:privkey.pem\"\n\
         tls_handshake_timeout = \"2s\"",
    );
    let config = Config::parse(&text, dir.path()).unwrap();
    assert_eq!(config.limits.tls_handshake_timeout, Duration::from_secs(2));
    let server = ServerBuilder::new(config).start().await.unwrap();
    assert!(server.tls());
    let addr = server.addr();

    let mut kept = ca.connect(addr).await;
    assert_eq!(served(&kept), first.der);
    assert_eq!(deliver(&mut kept).await, 200);

    // Renewed on disk: within a few polls new handshakes get the new certificate.
    write_pair(dir.path(), &second);
    let deadline = Instant::now() + TLS_POLL_INTERVAL * 5;
    let mut renewed = loop {
        let stream = ca.connect(addr).await;
        if served(&stream) == second.der {
            break stream;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(deliver(&mut renewed).await, 200);
    // The connection opened before goes on.
    assert_eq!(deliver(&mut kept).await, 200);

    // A key that does not go with the certificate: refused, the second pair keeps serving.
    std::fs::write(dir.path().join("privkey.pem"), &first.key_pem).unwrap();
    tokio::time::sleep(TLS_POLL_INTERVAL * 2).await;
    let mut after = ca.connect(addr).await;
    assert_eq!(served(&after), second.der);
    assert_eq!(deliver(&mut after).await, 200);

    // Cleartext on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    server.stop().await.unwrap();
}

#[test]
fn tls_keys_are_checked_with_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bonifiq.secret"), SECRET).unwrap();
    let ca = Ca::new();
    let (first, second) = (ca.leaf(1), ca.leaf(2));
    write_pair(dir.path(), &first);
    let error = |tls: &str| {
        Config::parse(&config_text(tls), dir.path())
            .unwrap_err()
            .to_string()
    };
    let cases = [
        (
            "tls_cert = \"file:fullchain.pem\"",
            "server.tls_key: missing",
        ),
        ("tls_key = \"file:privkey.pem\"", "server.tls_cert: missing"),
        (
            "tls_cert = \"fullchain.pem\"\ntls_key = \"file:privkey.pem\"",
            "server.tls_cert: give it by reference",
        ),
        (
            "tls_cert = \"file:fullchain.pem\"\ntls_key = \"file:absent.pem\"",
            "server.tls_key: ",
        ),
        (
            "tls_cert = \"file:privkey.pem\"\ntls_key = \"file:privkey.pem\"",
            "no certificate found",
        ),
        (
            "tls_cert = \"file:fullchain.pem\"\ntls_key = \"file:fullchain.pem\"",
            "no usable private key",
        ),
        (
            "tls_cert = \"file:fullchain.pem\"\ntls_key = \"file:privkey.pem\"\n\
             tls_handshake_timeout = \"0s\"",
            "server.tls_handshake_timeout: ",
        ),
    ];
    for (tls, expected) in cases {
        let message = error(tls);
        assert!(message.contains(expected), "{tls}: {message}");
        assert!(!message.contains("PRIVATE KEY"), "{message}");
    }
    std::fs::write(dir.path().join("other.key.pem"), &second.key_pem).unwrap();
    let message = error("tls_cert = \"file:fullchain.pem\"\ntls_key = \"file:other.key.pem\"");
    assert!(message.contains("does not belong"), "{message}");
    let config = Config::parse(&config_text(""), dir.path()).unwrap();
    assert!(config.tls.is_none());
    assert_eq!(config.limits.tls_handshake_timeout, Duration::from_secs(10));
}
