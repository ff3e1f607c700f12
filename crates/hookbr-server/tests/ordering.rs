//! The ordering guard through a real server on 127.0.0.1 forwarding to a real HTTP
//! application on 127.0.0.1: a Foody order's statuses (seed 002's example order) and a BonifiQ
//! customer's events (seed 000's envelope, ordered by `Timestamp`) sent shuffled, with
//! `ordering = "annotate"`, `"drop-stale"` and `"hold"`, in direct and inbox mode; and
//! concurrent copies of one delivery.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use hookbr_server::{Config, Server, ServerBuilder};
use serde_json::Value;

const FOODY_TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";
const BONIFIQ_SECRET: &str = "bonifiq-ordering-test-secret";
/// The order of seed 002's example payload.
const ORDER: &str = "4228df3a-a54a-40d7-b30f-1385eca4c3dd";
/// A Standard Webhooks secret for the sink (the application does not check it here).
const SINK_SECRET: &str = "whsec_aG9va2JyLW9yZGVyaW5nLXRlc3RzLWtleS0zMmJ5dGVzIQ==";

/// The lifecycle in order, with seed 002's times around its `dispatched` example.
const LIFECYCLE: [(&str, &str); 5] = [
    ("open", "2020-06-19T17:30:05Z"),
    ("ready", "2020-06-19T17:38:40Z"),
    ("dispatched", "2020-06-19T17:42:12Z"),
    ("delivered", "2020-06-19T17:58:40Z"),
    ("closed", "2020-06-19T18:05:00Z"),
];

/// A fixed shuffle of [`LIFECYCLE`] (indexes): how the deliveries arrive.
const SHUFFLED: [usize; 5] = [2, 0, 3, 1, 4];

type Received = Arc<Mutex<Vec<Value>>>;

async fn receive(State(received): State<Received>, body: Bytes) -> StatusCode {
    match serde_json::from_slice(&body) {
        Ok(json) => {
            received.lock().unwrap().push(json);
            StatusCode::NO_CONTENT
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

/// The merchant's application on 127.0.0.1:0.
async fn app() -> (String, Received) {
    let received = Received::default();
    let router = Router::new()
        .route("/events", post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

async fn start(dir: &Path, inbox: &str, ordering: &str, sink: &str) -> Server {
    std::fs::write(dir.join("foody.token"), FOODY_TOKEN).unwrap();
    std::fs::write(dir.join("bonifiq.secret"), BONIFIQ_SECRET).unwrap();
    std::fs::write(dir.join("sink.secret"), SINK_SECRET).unwrap();
    let hold_for = if ordering.contains("hold") {
        "hold_for = \"3s\"\n"
    } else {
        ""
    };
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[inbox]\nurl = \"{inbox}\"\n\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n\n\
         [worker]\nbackoff = \"100ms\"\nmax_backoff = \"200ms\"\n\n\
         [[endpoint]]\nprovider = \"foody\"\npath = \"/webhooks/foody\"\ntokens = [\"file:foody.token\"]\n\
         ordering = \"{ordering}\"\n{hold_for}\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\nsecrets = [\"file:bonifiq.secret\"]\n\
         ordering = \"{ordering}\"\n{hold_for}\n\
         [[sink]]\ntype = \"http\"\nurl = \"{sink}\"\nsecret = \"file:sink.secret\"\ntimeout = \"5s\"\n"
    );
    ServerBuilder::new(Config::parse(&text, dir).unwrap())
        .start()
        .await
        .unwrap()
}

fn foody(status: &str, date: &str) -> String {
    format!(
        r#"{{"uid":"{ORDER}","updateDate":"{date}","event":"order_status_updated","token":"{FOODY_TOKEN}","status":"{status}"}}"#
    )
}

fn bonifiq(uuid: &str, timestamp: &str, points: u32) -> String {
    format!(
        r#"{{"Uuid":"{uuid}","Topic":"Point_Add","Timestamp":"{timestamp}","Payload":{{"Customer":{{"Id":"9001","Email":null,"Name":"Cliente"}},"Points":{points},"PointId":"p-{points}"}}}}"#
    )
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn post_foody(client: &reqwest::Client, server: &Server, body: String) {
    let response = client
        .post(format!("http://{}/webhooks/foody", server.addr()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// The statuses the application received, with their `stale` field, waiting (bounded) for
/// `count` messages and a little more for any extra one.
async fn forwarded(received: &Received, count: usize) -> Vec<(String, Value)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while received.lock().unwrap().len() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    received
        .lock()
        .unwrap()
        .iter()
        .map(|message| {
            let data = &message["data"];
            let label = data["event"]["status"]
                .as_str()
                .or_else(|| data["event"]["Uuid"].as_str())
                .unwrap_or("?")
                .to_owned();
            (label, data.get("stale").cloned().unwrap_or(Value::Null))
        })
        .collect()
}

fn arrival() -> Vec<(&'static str, &'static str)> {
    SHUFFLED.iter().map(|&index| LIFECYCLE[index]).collect()
}

fn statuses(seen: &[(String, Value)]) -> Vec<&str> {
    seen.iter().map(|(status, _)| status.as_str()).collect()
}

async fn annotate_marks_exactly_the_late_ones(inbox: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (sink, received) = app().await;
    let server = start(dir.path(), inbox, "annotate", &sink).await;
    let client = client();
    for (index, (status, date)) in arrival().into_iter().enumerate() {
        post_foody(&client, &server, foody(status, date)).await;
        // One at a time through the worker too, so "late" is well defined.
        wait_forwarded(&received, index + 1).await;
    }
    let seen = forwarded(&received, 5).await;
    // Arrival: dispatched, open, delivered, ready, closed; open and ready came after a later
    // status.
    let expected = [
        ("dispatched", false),
        ("open", true),
        ("delivered", false),
        ("ready", true),
        ("closed", false),
    ];
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    for ((status, stale), (want, want_stale)) in seen.iter().zip(expected) {
        assert_eq!((status.as_str(), stale), (want, &Value::Bool(want_stale)));
    }
    // A delivery without an entity passes untouched: no field.
    let hook_test = format!(r#"{{"event":"hook_test","token":"{FOODY_TOKEN}"}}"#);
    post_foody(&client, &server, hook_test).await;
    server.stop().await.unwrap();
}

async fn wait_forwarded(received: &Received, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().len() < count {
        assert!(Instant::now() < deadline, "nothing forwarded in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn annotate_marks_exactly_the_late_ones_in_direct_mode() {
    annotate_marks_exactly_the_late_ones("none").await;
}

#[tokio::test]
async fn annotate_marks_exactly_the_late_ones_in_inbox_mode() {
    annotate_marks_exactly_the_late_ones("sqlite:inbox.sqlite3").await;
}

async fn drop_stale_forwards_a_monotone_sequence(inbox: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (sink, received) = app().await;
    let server = start(dir.path(), inbox, "drop-stale", &sink).await;
    let client = client();
    for (status, date) in arrival() {
        post_foody(&client, &server, foody(status, date)).await;
        // Let the worker take each one before the next (inbox mode), bounded.
        if let Some(inbox) = server.inbox() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while inbox.stats().await.unwrap().pending + inbox.stats().await.unwrap().in_flight > 0
            {
                assert!(Instant::now() < deadline);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    let seen = forwarded(&received, 3).await;
    assert_eq!(statuses(&seen), ["dispatched", "delivered", "closed"]);
    if server.inbox().is_none() {
        // Direct mode: the recent-requests log says which ones were not forwarded.
        let page = get(&client, format!("http://{}/", server.admin_addr().unwrap())).await;
        assert_eq!(page.matches("stale_dropped").count(), 2, "{page}");
    }
    if let Some(inbox) = server.inbox() {
        // The dropped ones are stored and marked stale.
        let timeline = inbox
            .entity_deliveries("foody.order".into(), ORDER.into(), 100)
            .await
            .unwrap();
        let states: Vec<_> = timeline.iter().map(|d| d.state()).collect();
        assert_eq!(
            states,
            ["stale", "stale", "forwarded", "forwarded", "forwarded"]
        );
        inspector_shows_the_timeline(&client, &server, &timeline[0].row.id.to_string()).await;
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn drop_stale_forwards_a_monotone_sequence_in_direct_mode() {
    drop_stale_forwards_a_monotone_sequence("none").await;
}

#[tokio::test]
async fn drop_stale_forwards_a_monotone_sequence_in_inbox_mode() {
    drop_stale_forwards_a_monotone_sequence("sqlite:inbox.sqlite3").await;
}

async fn get(client: &reqwest::Client, url: String) -> String {
    let response = client.get(url).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.text().await.unwrap()
}

/// The inspector: the entity page (HTML and JSON) in position order with the states, the link
/// from a delivery's page, and the deliveries page's search by entity id, delivery id and row
/// id.
async fn inspector_shows_the_timeline(client: &reqwest::Client, server: &Server, first: &str) {
    let admin = server.admin_addr().unwrap();
    let page = get(
        client,
        format!("http://{admin}/entities/foody.order/{ORDER}"),
    )
    .await;
    let states: Vec<&str> = page
        .split("data-state=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(
        states,
        ["stale", "stale", "forwarded", "forwarded", "forwarded"],
        "{page}"
    );
    let json: Value = serde_json::from_str(
        &get(
            client,
            format!("http://{admin}/entities/foody.order/{ORDER}?format=json"),
        )
        .await,
    )
    .unwrap();
    let ranks: Vec<_> = json["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["rank"].as_u64().unwrap())
        .collect();
    assert_eq!(ranks, [0, 1, 2, 3, 4]);
    let detail = get(client, format!("http://{admin}/deliveries/{first}")).await;
    assert!(
        detail.contains(&format!("href=\"/entities/foody.order/{ORDER}\"")),
        "{detail}"
    );
    let found = get(client, format!("http://{admin}/?q={ORDER}")).await;
    assert!(found.contains("id=\"found-entities\""), "{found}");
    assert!(found.contains(&format!("/entities/foody.order/{ORDER}")));
    let delivery_id = json["deliveries"][0]["delivery_id"].as_str().unwrap();
    let encoded: String = form_urlencoded_byte(delivery_id);
    let found = get(client, format!("http://{admin}/?q={encoded}")).await;
    assert!(found.contains("id=\"found-deliveries\""), "{found}");
    let found = get(client, format!("http://{admin}/?q={first}")).await;
    assert!(found.contains(&format!("href=\"/deliveries/{first}\"")));
    let missing = client
        .get(format!("http://{admin}/entities/nope.kind/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// Percent-encodes a query value.
fn form_urlencoded_byte(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// `hold`: the shuffled order, posted at once, reaches the application in lifecycle order,
/// well within the bound (twice `hold_for`); the BonifiQ customer's events in `Timestamp`
/// order.
#[tokio::test]
async fn hold_forwards_in_position_order() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, received) = app().await;
    let server = start(dir.path(), "sqlite:inbox.sqlite3", "hold", &sink).await;
    let client = client();
    let started = Instant::now();
    let arrival = arrival();
    println!(
        "Foody order {ORDER}, as sent:      {}",
        arrival
            .iter()
            .map(|(status, _)| *status)
            .collect::<Vec<_>>()
            .join(" → ")
    );
    for (status, date) in &arrival {
        post_foody(&client, &server, foody(status, date)).await;
    }
    let bonifiq_events = [
        ("u-3", "2024-05-10T12:00:03Z", 30),
        ("u-1", "2024-05-10T12:00:01Z", 10),
        ("u-2", "2024-05-10T12:00:02Z", 20),
    ];
    for (uuid, timestamp, points) in bonifiq_events {
        let response = client
            .post(format!("http://{}/webhooks/bonifiq", server.addr()))
            .header("content-type", "application/json")
            .header("X-Loyalty-Secret", BONIFIQ_SECRET)
            .body(bonifiq(uuid, timestamp, points))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let seen = forwarded(&received, 8).await;
    let elapsed = started.elapsed();
    let foody_seen: Vec<&str> = statuses(&seen)
        .into_iter()
        .filter(|label| !label.starts_with("u-"))
        .collect();
    let bonifiq_seen: Vec<&str> = statuses(&seen)
        .into_iter()
        .filter(|label| label.starts_with("u-"))
        .collect();
    println!(
        "Foody order {ORDER}, as forwarded: {}",
        foody_seen.join(" → ")
    );
    assert_eq!(
        foody_seen,
        ["open", "ready", "dispatched", "delivered", "closed"]
    );
    assert_eq!(bonifiq_seen, ["u-1", "u-2", "u-3"]);
    assert!(
        seen.iter().all(|(_, stale)| *stale == Value::Bool(false)),
        "{seen:?}"
    );
    // Bounded: twice hold_for (3 s) and the worker's pace.
    assert!(elapsed < Duration::from_secs(9), "{elapsed:?}");
    let timeline = server
        .inbox()
        .unwrap()
        .entity_deliveries("foody.order".into(), ORDER.into(), 100)
        .await
        .unwrap();
    let order: Vec<_> = timeline
        .iter()
        .map(|delivery| delivery.position.and_then(|p| p.rank))
        .collect();
    assert_eq!(order, [Some(0), Some(1), Some(2), Some(3), Some(4)]);
    assert!(timeline.iter().all(|d| d.state() == "forwarded"));
    server.stop().await.unwrap();
}

/// Concurrent copies of one delivery: forwarded once, not stale.
#[tokio::test]
async fn concurrent_copies_are_forwarded_once() {
    for inbox in ["none", "sqlite:inbox.sqlite3"] {
        let dir = tempfile::tempdir().unwrap();
        let (sink, received) = app().await;
        let server = start(dir.path(), inbox, "annotate", &sink).await;
        let client = client();
        let body = foody("dispatched", "2020-06-19T17:42:12Z");
        let mut copies = Vec::new();
        for _ in 0..8 {
            let client = client.clone();
            let url = format!("http://{}/webhooks/foody", server.addr());
            let body = body.clone();
            copies.push(tokio::spawn(async move {
                client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        for copy in copies {
            let status = copy.await.unwrap();
            // 200 for the first and the duplicates; a copy racing the first may be asked to
            // retry (409), never anything else.
            assert!(status == 200 || status == 409, "{status}");
        }
        let seen = forwarded(&received, 1).await;
        assert_eq!(seen.len(), 1, "{inbox}: {seen:?}");
        assert_eq!(seen[0].1, Value::Bool(false));
        server.stop().await.unwrap();
    }
}
