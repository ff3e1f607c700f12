//! `https://` sinks against a real axum application behind rustls, with certificates made by
//! the test: delivered with the right CA (`ca_file`), dead-lettered at once with an error
//! naming the host when the certificate is not trusted or not for the host, and
//! `insecure_skip_verify` accepted on loopback only.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use hookbr_core::testkit;
use hookbr_server::{Config, Server, ServerBuilder};
use hookbr_tls::testkit::TestPki;

const BONIFIQ_SECRET: &str = "bonifiq-tls-test-secret";
const SINK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The webhook ids the application received.
type Received = Arc<Mutex<Vec<String>>>;

async fn receive(State(received): State<Received>, headers: HeaderMap, _body: Bytes) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    received.lock().unwrap().push(id.to_owned());
    StatusCode::NO_CONTENT
}

/// The application on 127.0.0.1:0 behind rustls with `pki`'s leaf: its port and what it got.
async fn https_app(pki: &TestPki) -> (u16, Received) {
    let received = Received::default();
    let router = Router::new()
        .route("/events", post(receive))
        .with_state(received.clone());
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config(&[b"http/1.1"]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(
                    hyper_util::rt::TokioIo::new(tls),
                    hyper_util::service::TowerToHyperService::new(router),
                )
                .await;
            });
        }
    });
    (port, received)
}

/// A configuration in `dir`: inbox mode on SQLite, one BonifiQ endpoint, one HTTP sink to
/// `sink_url` with the extra sink lines `sink_tls`.
fn config_text(dir: &Path, sink_url: &str, sink_tls: &str) -> String {
    std::fs::write(dir.join("bonifiq.secret"), BONIFIQ_SECRET).unwrap();
    std::fs::write(dir.join("sink.secret"), SINK_SECRET).unwrap();
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[inbox]\nurl = \"sqlite:inbox.sqlite3\"\n\n\
         [worker]\nbackoff = \"50ms\"\nmax_backoff = \"100ms\"\nmax_attempts = 5\n\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\nsecrets = [\"file:bonifiq.secret\"]\n\n\
         [[sink]]\ntype = \"http\"\nurl = \"{sink_url}\"\nsecret = \"file:sink.secret\"\ntimeout = \"5s\"\n{sink_tls}"
    )
}

async fn start(dir: &Path, sink_url: &str, sink_tls: &str) -> Server {
    let config = Config::parse(&config_text(dir, sink_url, sink_tls), dir).unwrap();
    ServerBuilder::new(config).start().await.unwrap()
}

/// Posts one authentic BonifiQ delivery; the answer's status.
async fn deliver(server: &Server) -> u16 {
    let delivery = testkit::bonifiq_point_add(BONIFIQ_SECRET);
    let mut request =
        reqwest::Client::new().post(format!("http://{}/webhooks/bonifiq", server.addr()));
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    request
        .body(delivery.body.clone())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The only inbox row once it is no longer pending or in flight (waits up to 10 s).
async fn settled_row(server: &Server) -> hookbr_server::inbox::RowSummary {
    let inbox = server.inbox().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = hookbr_server::inbox::list(inbox.as_ref(), Default::default())
            .await
            .unwrap();
        if let [row] = rows.as_slice() {
            if matches!(row.state.as_str(), "done" | "dead") {
                return row.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the row did not settle: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_sink_trusting_the_private_ca_is_delivered() {
    let pki = TestPki::new(&["127.0.0.1", "localhost"]);
    let (port, received) = https_app(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    let server = start(
        dir.path(),
        &format!("https://127.0.0.1:{port}/events"),
        "ca_file = \"ca.pem\"\n",
    )
    .await;
    assert_eq!(deliver(&server).await, 200);
    let row = settled_row(&server).await;
    assert_eq!(row.state.as_str(), "done", "{row:?}");
    assert_eq!(received.lock().unwrap().len(), 1);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_dead_letters_at_once_naming_the_host() {
    let pki = TestPki::new(&["127.0.0.1", "localhost"]);
    let other = TestPki::new(&["127.0.0.1"]);
    let (port, received) = https_app(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("other-ca.pem"), &other.ca_pem).unwrap();
    let server = start(
        dir.path(),
        &format!("https://127.0.0.1:{port}/events"),
        "ca_file = \"file:other-ca.pem\"\n",
    )
    .await;
    assert_eq!(deliver(&server).await, 200, "stored: the sink runs later");
    let row = settled_row(&server).await;
    assert_eq!(row.state.as_str(), "dead", "{row:?}");
    assert_eq!(row.attempts, 1, "a refused certificate is not retried");
    let error = row.last_error.clone().unwrap_or_default();
    assert!(
        error.contains(&format!(
            "TLS handshake with 127.0.0.1:{port} failed: certificate not trusted (unknown issuer)"
        )),
        "{error}"
    );
    assert!(received.lock().unwrap().is_empty());
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_host_is_refused() {
    // Trusted CA, but the certificate is for another name than the URL's host.
    let pki = TestPki::new(&["app.example"]);
    let (port, received) = https_app(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    let server = start(
        dir.path(),
        &format!("https://127.0.0.1:{port}/events"),
        "ca_file = \"ca.pem\"\n",
    )
    .await;
    assert_eq!(deliver(&server).await, 200);
    let row = settled_row(&server).await;
    assert_eq!((row.state.as_str(), row.attempts), ("dead", 1), "{row:?}");
    let error = row.last_error.clone().unwrap_or_default();
    assert!(
        error.contains(&format!("TLS handshake with 127.0.0.1:{port} failed"))
            && error.contains("not valid for this host name"),
        "{error}"
    );
    assert!(received.lock().unwrap().is_empty());
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skip_verify_works_on_loopback_only() {
    let pki = TestPki::new(&["127.0.0.1"]);
    let (port, received) = https_app(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &format!("https://127.0.0.1:{port}/events"),
        "insecure_skip_verify = true\n",
    )
    .await;
    assert_eq!(deliver(&server).await, 200);
    assert_eq!(settled_row(&server).await.state.as_str(), "done");
    assert_eq!(received.lock().unwrap().len(), 1);
    server.stop().await.unwrap();

    let other = tempfile::tempdir().unwrap();
    let text = config_text(
        other.path(),
        "https://app.example/events",
        "insecure_skip_verify = true\n",
    );
    let error = Config::parse(&text, other.path()).unwrap_err().to_string();
    assert!(
        error.contains("sink[0].insecure_skip_verify")
            && error.contains("app.example")
            && error.contains("loopback"),
        "{error}"
    );
}

#[test]
fn tls_settings_are_checked_with_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "https://127.0.0.1:1/x",
            "ca_file = \"missing.pem\"\n",
            "sink[0].ca_file: CA file",
        ),
        (
            "http://127.0.0.1:1/x",
            "ca_file = \"ca.pem\"\n",
            "sink[0].ca_file: applies to an https:// url only",
        ),
        (
            "http://127.0.0.1:1/x",
            "insecure_skip_verify = true\n",
            "sink[0].insecure_skip_verify: applies to an https:// url only",
        ),
        (
            "https://10.0.0.1/x",
            "insecure_skip_verify = true\n",
            "sink[0].insecure_skip_verify: refused for host 10.0.0.1",
        ),
    ];
    for (url, tls, expected) in cases {
        let text = config_text(dir.path(), url, tls);
        let error = Config::parse(&text, dir.path()).unwrap_err().to_string();
        assert!(error.contains(expected), "{url} {tls}: {error}");
    }
    // The system's roots by default: an https:// sink without ca_file is accepted.
    let text = config_text(dir.path(), "https://app.example/events", "");
    assert!(Config::parse(&text, dir.path()).is_ok());
}
