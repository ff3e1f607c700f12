//! The library driven in-process: a `ServerBuilder` on 127.0.0.1:0, a real client posting
//! deliveries built by `hookbr_core::testkit`, and a real application on 127.0.0.1 receiving the
//! forwarded Standard Webhooks messages.

use std::{
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use hookbr_core::testkit::{self, TestDelivery};
use hookbr_server::{Config, Error, Server, ServerBuilder};
use serde_json::Value;
use sha2::Sha256;

const BONIFIQ_SECRET: &str = "bonifiq-library-test-secret";
/// 32 bytes: a Standard Webhooks key.
const SINK_KEY: &[u8; 32] = b"hookbr-server-library-tests-key!";

fn sink_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(SINK_KEY)
    )
}

/// What the application received (and whether it answers 500).
#[derive(Debug, Default)]
struct AppState {
    failing: AtomicBool,
    messages: Mutex<Vec<Value>>,
    bad_signatures: Mutex<Vec<String>>,
}

async fn receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SINK_KEY).unwrap();
    mac.update(format!("{}.{}.", header("webhook-id"), header("webhook-timestamp")).as_bytes());
    mac.update(&body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    if header("webhook-signature") != expected {
        state
            .bad_signatures
            .lock()
            .unwrap()
            .push(header("webhook-id"));
        return StatusCode::UNAUTHORIZED;
    }
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let mut json: Value = serde_json::from_slice(&body).unwrap();
    json["webhook-id"] = header("webhook-id").into();
    state.messages.lock().unwrap().push(json);
    StatusCode::NO_CONTENT
}

/// The merchant's application on 127.0.0.1:0.
async fn app() -> (String, Arc<AppState>) {
    let state = Arc::new(AppState::default());
    let router = Router::new()
        .route("/events", post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, state)
}

/// A configuration in `dir` with one BonifiQ endpoint forwarding to `sink_url`.
fn config(dir: &Path, inbox: &str, sink_url: &str) -> Config {
    std::fs::write(dir.join("bonifiq.secret"), BONIFIQ_SECRET).unwrap();
    std::fs::write(dir.join("sink.secret"), sink_secret()).unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[inbox]\nurl = \"{inbox}\"\n\n\
         [worker]\nbackoff = \"100ms\"\nmax_backoff = \"200ms\"\n\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\nsecrets = [\"file:bonifiq.secret\"]\n\n\
         [[sink]]\ntype = \"http\"\nurl = \"{sink_url}\"\nsecret = \"file:sink.secret\"\ntimeout = \"5s\"\n"
    );
    Config::parse(&text, dir).unwrap()
}

async fn deliver(server: &Server, delivery: &TestDelivery) -> u16 {
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

/// The messages received for BonifiQ `Uuid` `id`, waiting up to 10 s for at least one.
async fn messages_for(state: &AppState, id: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<Value> = state
            .messages
            .lock()
            .unwrap()
            .iter()
            .filter(|message| message["data"]["delivery_id"] == id)
            .cloned()
            .collect();
        if !found.is_empty() || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server started with `inbox` from a configuration in a fresh directory (kept alive by the
/// returned guard), and the application it forwards to.
async fn start(inbox: &str) -> (tempfile::TempDir, Server, Arc<AppState>) {
    let dir = tempfile::tempdir().unwrap();
    let (sink_url, app) = app().await;
    let server = ServerBuilder::new(config(dir.path(), inbox, &sink_url))
        .start()
        .await
        .unwrap();
    (dir, server, app)
}

fn uuid_of(delivery: &TestDelivery) -> String {
    let body: Value = serde_json::from_slice(&delivery.body).unwrap();
    body["Uuid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_mode_stores_then_forwards_a_signed_message() {
    let (dir, server, app) = start("sqlite:inbox.sqlite3").await;
    assert_ne!(server.addr().port(), 0);
    assert!(server.inbox().is_some());
    assert!(dir.path().join("inbox.sqlite3").exists());

    let delivery = testkit::bonifiq_point_add(BONIFIQ_SECRET);
    assert_eq!(deliver(&server, &delivery).await, 200);
    let id = uuid_of(&delivery);
    let messages = messages_for(&app, &id).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message["type"], "bonifiq.Point_Add");
    assert!(message["webhook-id"].as_str().unwrap().starts_with("msg_"));
    let data = &message["data"];
    assert_eq!(data["provider"], "bonifiq");
    assert_eq!(data["endpoint"], "bonifiq");
    assert_eq!(data["kind"], "Point_Add");
    assert_eq!(data["known"], true);
    assert_eq!(data["attempt"], 1);
    assert_eq!(
        data["authenticated"],
        serde_json::json!({"by": "header-secret", "covers": "sender"}),
        "what BonifiQ's credential proves"
    );
    // The label of the matched secret is its reference, never its value.
    let matched = data["matched_key"].as_str().unwrap();
    assert!(
        matched.contains("bonifiq.secret") && !matched.contains(BONIFIQ_SECRET),
        "{data}"
    );
    assert_eq!(data["event"]["Payload"]["Points"], 200, "{data}");

    // A copy is a duplicate: answered 200, never forwarded again; a forgery is refused.
    assert_eq!(deliver(&server, &delivery).await, 200);
    let forged = testkit::bonifiq_point_add("not-the-secret");
    assert_eq!(deliver(&server, &forged).await, 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(messages_for(&app, &id).await.len(), 1);
    assert!(app.bad_signatures.lock().unwrap().is_empty());

    let inbox = server.inbox().unwrap().clone();
    server.stop().await.unwrap();
    let rows = hookbr_server::inbox::list(inbox.as_ref(), Default::default())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].delivery_id, id);
    assert_eq!(rows[0].state.as_str(), "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_answers_500_when_a_sink_fails_and_processes_the_retry() {
    let (_dir, server, app) = start("none").await;
    assert!(server.inbox().is_none());
    let delivery = testkit::bonifiq_point_add(BONIFIQ_SECRET);
    let id = uuid_of(&delivery);

    // The application fails: "handler failed", not "store unavailable"; the claim is released.
    app.failing.store(true, Ordering::SeqCst);
    assert_eq!(deliver(&server, &delivery).await, 500);
    assert_eq!(
        deliver(&server, &delivery).await,
        500,
        "not 409: the claim was released"
    );
    assert!(app.messages.lock().unwrap().is_empty());

    // The provider's next retry is processed, within the request, once.
    app.failing.store(false, Ordering::SeqCst);
    assert_eq!(deliver(&server, &delivery).await, 200);
    let messages = messages_for(&app, &id).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["data"]["attempt"], 1);
    assert_eq!(deliver(&server, &delivery).await, 200);
    assert_eq!(
        messages_for(&app, &id).await.len(),
        1,
        "a copy is a duplicate"
    );
    server.shutdown_handle().shutdown();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let error = Config::parse(
        "[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"inline-t0ken\"]\n",
        dir.path(),
    )
    .unwrap_err();
    assert!(matches!(error, Error::Config(_)));
    assert!(
        error.to_string().starts_with("endpoint[0].tokens[0]: ")
            && !error.to_string().contains("inline-t0ken"),
        "{error}"
    );
    let path = dir.path().join("hookbr.toml");
    std::fs::write(&path, "[server]\nlisen = 1\n").unwrap();
    let error = Config::load(&path).unwrap_err().to_string();
    assert!(
        error.contains("hookbr.toml: line 2") && error.contains("lisen"),
        "{error}"
    );
    let error = Config::load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(error.to_string().starts_with("cannot read "), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_is_a_runtime_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (sink_url, _app) = app().await;
    let error = ServerBuilder::new(config(dir.path(), "none", &sink_url))
        .listen(taken.local_addr().unwrap())
        .start()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Runtime(_)), "{error}");
    assert!(error.to_string().starts_with("cannot listen on"), "{error}");
}

/// Two BonifiQ endpoints on one server (direct mode, one shared store): each deduplicates on
/// its own, unless both name the same `dedup_namespace`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_deduplicate_apart_unless_they_share_a_namespace() {
    for (namespace, second) in [
        ("", "processed"),
        ("dedup_namespace = \"shop\"\n", "duplicate"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (sink_url, _app) = app().await;
        std::fs::write(dir.path().join("bonifiq.secret"), BONIFIQ_SECRET).unwrap();
        std::fs::write(dir.path().join("sink.secret"), sink_secret()).unwrap();
        let endpoint = |path: &str| {
            format!(
                "[[endpoint]]\nprovider = \"bonifiq\"\npath = \"{path}\"\n\
                 secrets = [\"file:bonifiq.secret\"]\n{namespace}\n"
            )
        };
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[inbox]\nurl = \"none\"\n\n{}{}\
             [[sink]]\ntype = \"http\"\nurl = \"{sink_url}\"\nsecret = \"file:sink.secret\"\n",
            endpoint("/a"),
            endpoint("/b"),
        );
        let server = ServerBuilder::new(Config::parse(&text, dir.path()).unwrap())
            .start()
            .await
            .unwrap();
        let delivery = testkit::bonifiq_point_add(BONIFIQ_SECRET);
        let mut answers = Vec::new();
        for path in ["/a", "/b"] {
            let mut request =
                reqwest::Client::new().post(format!("http://{}{path}", server.addr()));
            for (name, value) in &delivery.headers {
                request = request.header(name, value);
            }
            let response = request.body(delivery.body.clone()).send().await.unwrap();
            let duplicate = response.headers().contains_key("hookbr-duplicate");
            answers.push((response.status().as_u16(), duplicate));
        }
        let expected = if second == "duplicate" {
            (200, true)
        } else {
            (200, false)
        };
        assert_eq!(answers, [(200, false), expected], "{namespace:?}");
        server.stop().await.unwrap();
    }
}
