//! The same table of deliveries, through real axum and actix-web servers on 127.0.0.1 and a
//! real HTTP client: every status-table row the adapters produce, for every provider, with the
//! same answers from both.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};

use futures_util::future::join_all;
use hookbr_core::{
    iset::IsetKind,
    testkit::{self, TestDelivery, TestKey},
};

use crate::{
    servers::{Adapter, LIMIT, Server, start},
    support::{ALL_SECRETS, BONIFIQ_SECRET, BONIFIQ_SECRET_NEW, FOODY_TOKEN, ISET_TOKEN},
};

const ADAPTERS: [Adapter; 2] = [Adapter::Axum, Adapter::Actix];

/// What the provider sees.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: u16,
    duplicate: bool,
    allow: Option<String>,
    body: String,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn send(client: &reqwest::Client, server: &Server, delivery: &TestDelivery) -> Answer {
    let method = reqwest::Method::from_bytes(delivery.method.as_bytes()).expect("method");
    let mut request = client
        .request(method, server.url(&delivery.target))
        .body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("the server answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let duplicate = header("hookbr-duplicate").as_deref() == Some("true");
    let allow = header("allow");
    let status = response.status().as_u16();
    let body = response.text().await.expect("body");
    Answer {
        status,
        duplicate,
        allow,
        body,
    }
}

fn bonifiq() -> TestDelivery {
    testkit::bonifiq_point_add(BONIFIQ_SECRET).with_target("/bonifiq")
}

fn foody() -> TestDelivery {
    testkit::foody_status("dispatched", FOODY_TOKEN).with_target("/foody")
}

fn grafeno() -> TestDelivery {
    testkit::grafeno_registration("approved", TestKey::rsa_2048()).with_target("/grafeno")
}

fn iset() -> TestDelivery {
    testkit::iset(
        IsetKind::OrderUpserted,
        crate::support::next_id(),
        ISET_TOKEN,
    )
}

/// (name, deliveries sent in order, status of the last answer, whether it is a duplicate).
fn table() -> Vec<(&'static str, Vec<TestDelivery>, u16, bool)> {
    let replayed_bonifiq = bonifiq();
    let replayed_foody = foody();
    let replayed_grafeno = grafeno();
    let replayed_iset = iset();
    let huge = "x".repeat(LIMIT);
    let grafeno_key = grafeno()
        .headers
        .iter()
        .find(|(k, _)| k == "x-unique-key")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    vec![
        ("bonifiq authentic", vec![bonifiq()], 200, false),
        (
            "bonifiq rotated secret",
            vec![testkit::bonifiq_point_add(BONIFIQ_SECRET_NEW).with_target("/bonifiq")],
            200,
            false,
        ),
        (
            "bonifiq string topic",
            vec![testkit::bonifiq_earn_purchase_points(BONIFIQ_SECRET).with_target("/bonifiq")],
            200,
            false,
        ),
        (
            "bonifiq PUT",
            vec![bonifiq().with_method("PUT")],
            200,
            false,
        ),
        (
            "bonifiq replayed",
            vec![replayed_bonifiq.clone(), replayed_bonifiq],
            200,
            true,
        ),
        (
            "bonifiq handler answers 201",
            vec![bonifiq().with_header("X-Test-Behavior", "created")],
            200,
            false,
        ),
        (
            "bonifiq forged secret",
            vec![bonifiq().with_header("X-Loyalty-Secret", "guess")],
            401,
            false,
        ),
        (
            "bonifiq missing secret",
            vec![bonifiq().without_header("X-Loyalty-Secret")],
            401,
            false,
        ),
        (
            "bonifiq GET",
            vec![bonifiq().with_method("GET").with_body("")],
            405,
            false,
        ),
        (
            "bonifiq text/plain",
            vec![bonifiq().with_header("Content-Type", "text/plain")],
            415,
            false,
        ),
        (
            "bonifiq gzip",
            vec![bonifiq().with_header("Content-Encoding", "gzip")],
            415,
            false,
        ),
        (
            "bonifiq identity then gzip",
            vec![
                bonifiq()
                    .with_header("Content-Encoding", "identity")
                    .appending_header("Content-Encoding", "gzip"),
            ],
            415,
            false,
        ),
        (
            "bonifiq over the limit",
            vec![bonifiq().with_body(format!("{{\"pad\":\"{huge}\"}}"))],
            413,
            false,
        ),
        (
            "bonifiq not JSON",
            vec![bonifiq().with_body("Uuid=1&Topic=0")],
            400,
            false,
        ),
        ("foody authentic", vec![foody()], 200, false),
        (
            "foody replayed",
            vec![replayed_foody.clone(), replayed_foody],
            200,
            true,
        ),
        (
            "foody hook_test",
            vec![testkit::foody_hook_test(FOODY_TOKEN).with_target("/foody")],
            200,
            false,
        ),
        (
            "foody handler answers 201",
            vec![foody().with_header("X-Test-Behavior", "created")],
            200,
            false,
        ),
        (
            "foody forged token",
            vec![testkit::foody_status("open", "guess").with_target("/foody")],
            401,
            false,
        ),
        (
            "foody no event",
            vec![foody().with_json_field("event", serde_json::Value::Null)],
            400,
            false,
        ),
        (
            "foody not JSON",
            vec![foody().with_body(format!("token={FOODY_TOKEN}"))],
            400,
            false,
        ),
        ("foody GET", vec![foody().with_method("GET")], 405, false),
        ("iset authentic", vec![iset()], 200, false),
        (
            "iset replayed",
            vec![replayed_iset.clone(), replayed_iset],
            200,
            true,
        ),
        (
            "iset form body",
            vec![
                iset()
                    .with_header("Content-Type", "application/x-www-form-urlencoded")
                    .with_body(format!("pedido_id={}", crate::support::next_id())),
            ],
            200,
            false,
        ),
        (
            "iset wrong URL secret",
            vec![iset().with_target("/iset/order_upserted?token=guess")],
            401,
            false,
        ),
        (
            "iset no URL secret",
            vec![iset().with_target("/iset/order_upserted")],
            401,
            false,
        ),
        (
            "iset form at the field cap",
            vec![
                iset()
                    .with_header("Content-Type", "application/x-www-form-urlencoded")
                    .with_body(form_of(
                        hookbr_core::iset::MAX_FORM_FIELDS,
                        crate::support::next_id(),
                    )),
            ],
            200,
            false,
        ),
        (
            "iset form over the field cap",
            vec![
                iset()
                    .with_header("Content-Type", "application/x-www-form-urlencoded")
                    .with_body(form_of(
                        hookbr_core::iset::MAX_FORM_FIELDS + 1,
                        crate::support::next_id(),
                    )),
            ],
            413,
            false,
        ),
        (
            "iset neither JSON nor form",
            vec![iset().with_body("{broken json")],
            400,
            false,
        ),
        ("grafeno authentic", vec![grafeno()], 200, false),
        (
            "grafeno rotated key",
            vec![
                testkit::grafeno_registration("rejected", TestKey::other_2048())
                    .with_target("/grafeno"),
            ],
            200,
            false,
        ),
        (
            "grafeno charge",
            vec![testkit::grafeno_boleto_criado(TestKey::rsa_2048()).with_target("/grafeno")],
            200,
            false,
        ),
        (
            "grafeno replayed",
            vec![replayed_grafeno.clone(), replayed_grafeno],
            200,
            true,
        ),
        (
            "grafeno forged signature",
            vec![grafeno().tamper_signature()],
            401,
            false,
        ),
        (
            "grafeno unknown key",
            vec![
                testkit::grafeno_registration("approved", TestKey::rsa_4096())
                    .with_target("/grafeno"),
            ],
            401,
            false,
        ),
        (
            "grafeno header/body mismatch",
            vec![grafeno().with_json_field("change", "rejected".into())],
            401,
            false,
        ),
        (
            "grafeno header of another delivery",
            vec![grafeno().with_header("x-unique-key", &grafeno_key)],
            401,
            false,
        ),
        (
            "grafeno missing x-unique-key",
            vec![grafeno().without_header("x-unique-key")],
            401,
            false,
        ),
        (
            "grafeno not JSON",
            vec![grafeno().with_body("signature=abc")],
            400,
            false,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_table_is_the_same_on_axum_and_actix() {
    let servers = [
        start(Adapter::Axum, false).await,
        start(Adapter::Actix, false).await,
    ];
    let client = client();
    let mut answers: Vec<Vec<Answer>> = vec![Vec::new(), Vec::new()];
    for (name, deliveries, status, duplicate) in table() {
        for (server, answers) in servers.iter().zip(answers.iter_mut()) {
            let calls_before = server.calls.total();
            let mut last = None;
            for delivery in &deliveries {
                last = Some(send(&client, server, delivery).await);
            }
            let last = last.expect("every case sends something");
            assert_eq!(
                (last.status, last.duplicate),
                (status, duplicate),
                "{name} on {:?}: {}",
                server.adapter,
                last.body
            );
            for secret in ALL_SECRETS {
                assert!(!last.body.contains(secret), "{name}: a secret in the body");
            }
            if status == 405 {
                assert!(
                    last.allow.is_some(),
                    "{name}: 405 names the allowed methods"
                );
            }
            let handler_ran = server.calls.total() > calls_before;
            let expected_to_run = status == 200 && name != "foody hook_test";
            assert_eq!(
                handler_ran, expected_to_run,
                "{name} on {:?}",
                server.adapter
            );
            answers.push(last);
        }
    }
    assert_eq!(answers[0], answers[1], "axum and actix answer alike");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handler_is_retried_and_processed() {
    for adapter in ADAPTERS {
        let server = start(adapter, false).await;
        let client = client();
        let delivery = bonifiq().with_header("X-Test-Behavior", "fail-first");
        let id = delivery_uuid(&delivery);
        assert_eq!(
            send(&client, &server, &delivery).await.status,
            500,
            "{adapter:?}"
        );
        let retry = send(&client, &server, &delivery).await;
        assert_eq!((retry.status, retry.duplicate), (200, false), "{adapter:?}");
        let copy = send(&client, &server, &delivery).await;
        assert_eq!((copy.status, copy.duplicate), (200, true), "{adapter:?}");
        assert_eq!(server.calls.of(&id), 2, "{adapter:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_handler_releases_the_claim_and_the_server_keeps_serving() {
    for adapter in ADAPTERS {
        let server = start(adapter, false).await;
        let client = client();
        let delivery = bonifiq().with_header("X-Test-Behavior", "panic-first");
        let id = delivery_uuid(&delivery);
        assert_eq!(
            send(&client, &server, &delivery).await.status,
            500,
            "{adapter:?}"
        );
        assert_eq!(
            send(&client, &server, &bonifiq()).await.status,
            200,
            "{adapter:?}: still serving"
        );
        let retry = send(&client, &server, &delivery).await;
        assert_eq!((retry.status, retry.duplicate), (200, false), "{adapter:?}");
        assert_eq!(server.calls.of(&id), 2, "{adapter:?}");
    }
}

/// 1,000 copies of one delivery: while the first is held in the handler every other copy gets
/// 409 (the handler is not called again), and once it completes a copy gets 200-duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_copies_run_the_handler_once() {
    for adapter in ADAPTERS {
        let server = std::sync::Arc::new(start(adapter, false).await);
        let client = client();
        let delivery = bonifiq().with_header("X-Test-Behavior", "hold");
        let id = delivery_uuid(&delivery);
        let first = {
            let (client, server, delivery) = (client.clone(), server.clone(), delivery.clone());
            tokio::spawn(async move { send(&client, &server, &delivery).await })
        };
        for _ in 0..1000 {
            if server.calls.of(&id) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            server.calls.of(&id),
            1,
            "{adapter:?}: the first copy reached the handler"
        );
        let copies = join_all((0..999).map(|_| send(&client, &server, &delivery))).await;
        let statuses: Vec<u16> = copies.iter().map(|a| a.status).collect();
        assert!(
            statuses.iter().all(|s| *s == 409),
            "{adapter:?}: {statuses:?}"
        );
        server.calls.release_one();
        let first = first.await.expect("join");
        assert_eq!((first.status, first.duplicate), (200, false), "{adapter:?}");
        let late = send(&client, &server, &delivery).await;
        assert_eq!((late.status, late.duplicate), (200, true), "{adapter:?}");
        assert_eq!(server.calls.of(&id), 1, "{adapter:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_refuses_drifted_payloads() {
    let body = serde_json::json!({
        "Uuid": testkit::random_uuid(), "Timestamp": "2024-03-01T13:16:11", "Topic": 0,
        "TopicName": "Point_Add", "Payload": {"Points": "duzentos"}
    });
    for adapter in ADAPTERS {
        let client = client();
        let delivery = testkit::bonifiq(&body, BONIFIQ_SECRET).with_target("/bonifiq");
        let strict = start(adapter, true).await;
        assert_eq!(
            send(&client, &strict, &delivery).await.status,
            422,
            "{adapter:?}"
        );
        let lenient = start(adapter, false).await;
        assert_eq!(
            send(&client, &lenient, &delivery).await.status,
            200,
            "{adapter:?}"
        );
    }
}

/// A chunked body (no Content-Length) that never ends: the server must answer 413 once the
/// limit is crossed instead of buffering it. The client stops after 64 MiB at most.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_chunked_body_gets_413() {
    for adapter in ADAPTERS {
        let server = start(adapter, false).await;
        let addr = server.addr;
        let (status, sent) = tokio::task::spawn_blocking(move || chunked_flood(addr))
            .await
            .expect("join");
        assert_eq!(status, Some(413), "{adapter:?}");
        assert!(
            sent < 64 * 1024 * 1024,
            "{adapter:?}: the server stopped reading early ({sent} bytes sent)"
        );
    }
}

fn chunked_flood(addr: std::net::SocketAddr) -> (Option<u16>, usize) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let head = format!(
        "POST /bonifiq HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Loyalty-Secret: {BONIFIQ_SECRET}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut sent = 0;
    if stream.write_all(head.as_bytes()).is_ok() {
        let chunk = format!("4000\r\n{}\r\n", "a".repeat(0x4000));
        while sent < 64 * 1024 * 1024 {
            if stream.write_all(chunk.as_bytes()).is_err() {
                break;
            }
            sent += 0x4000;
            // Poll for an early answer without blocking the writer.
            stream.set_nonblocking(true).expect("nonblocking");
            let mut peek = [0u8; 1];
            let answered = matches!(stream.peek(&mut peek), Ok(n) if n > 0);
            stream.set_nonblocking(false).expect("blocking");
            if answered {
                break;
            }
        }
    }
    let mut response = Vec::new();
    let mut buffer = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buffer[..n]);
        if response.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&response);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    (status, sent)
}

/// A form of `fields` fields (`pedido_id` first, then empty `a=` fields), within [`LIMIT`].
fn form_of(fields: usize, id: u64) -> String {
    let mut form = format!("pedido_id={id}");
    for _ in 1..fields {
        form.push_str("&a=");
    }
    assert!(form.len() < LIMIT, "the form fits the test servers' limit");
    form
}

/// Appending a header (a second copy of a name), where `with_header` replaces.
trait AppendHeader {
    fn appending_header(self, name: &str, value: &str) -> Self;
}

impl AppendHeader for TestDelivery {
    fn appending_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Two BonifiQ routes on one server share the idempotency store but not its namespace: the
/// same delivery is processed once on each, and a copy on either is a duplicate there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_endpoint_deduplicates_on_its_own() {
    for adapter in ADAPTERS {
        let server = start(adapter, false).await;
        let client = client();
        let delivery = bonifiq();
        let id = delivery_uuid(&delivery);
        for path in ["/bonifiq", "/bonifiq-b"] {
            let first = send(&client, &server, &delivery.clone().with_target(path)).await;
            assert_eq!(
                (first.status, first.duplicate),
                (200, false),
                "{adapter:?} {path}"
            );
        }
        for path in ["/bonifiq", "/bonifiq-b"] {
            let copy = send(&client, &server, &delivery.clone().with_target(path)).await;
            assert_eq!(
                (copy.status, copy.duplicate),
                (200, true),
                "{adapter:?} {path}"
            );
        }
        assert_eq!(server.calls.of(&id), 2, "{adapter:?}: once per endpoint");
    }
}

fn delivery_uuid(delivery: &TestDelivery) -> String {
    let body: serde_json::Value = serde_json::from_slice(&delivery.body).expect("JSON");
    body["Uuid"].as_str().expect("Uuid").to_owned()
}
