//! Schema-drift watch through a real server on 127.0.0.1, in direct and inbox mode: a Foody
//! delivery with a new field and one with an unknown status land on the Drift page (HTML and
//! `?format=json`, example masked) and count `hookbr_drift_total`.

use std::{path::Path, time::Duration};

use hookbr_server::{Config, Server, ServerBuilder};
use serde_json::Value;

const TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";

async fn start(dir: &Path, inbox: &str) -> Server {
    std::fs::write(dir.join("foody.token"), TOKEN).unwrap();
    // Direct mode needs a sink: one that accepts everything.
    let sink = if inbox == "none" {
        "[[sink]]\ntype = \"command\"\ncommand = [\"true\"]\n\n"
    } else {
        ""
    };
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[inbox]\nurl = \"{inbox}\"\n\n{sink}\
         [admin]\nlisten = \"127.0.0.1:0\"\n\n\
         [[endpoint]]\nprovider = \"foody\"\npath = \"/webhooks/foody\"\ntokens = [\"file:foody.token\"]\n"
    );
    ServerBuilder::new(Config::parse(&text, dir).unwrap())
        .start()
        .await
        .unwrap()
}

fn body(status: &str, date: &str, extra: &str) -> String {
    format!(
        r#"{{"uid":"4228df3a-a54a-40d7-b30f-1385eca4c3dd","updateDate":"{date}","event":"order_status_updated","token":"{TOKEN}","status":"{status}"{extra}}}"#
    )
}

/// In inbox mode, waits (bounded) until the worker has handled `done` rows, so that the
/// deliveries are watched in the order they were sent (the first one is the baseline).
async fn settle(server: &Server, done: u64) {
    let Some(inbox) = server.inbox() else {
        return;
    };
    for _ in 0..200 {
        if inbox.stats().await.unwrap().done >= done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the worker did not handle {done} rows");
}

async fn get(client: &reqwest::Client, url: String) -> String {
    let response = client.get(url).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.text().await.unwrap()
}

async fn drift_is_watched(inbox: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), inbox).await;
    let (addr, admin) = (server.addr(), server.admin_addr().unwrap());
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for (done, delivery) in [
        body("open", "2020-06-19T17:30:05Z", ""),
        body(
            "ready",
            "2020-06-19T17:38:40Z",
            r#","customerEmail":"joao@example.com""#,
        ),
        body("em_rota", "2020-06-19T17:40:00Z", ""),
    ]
    .into_iter()
    .enumerate()
    {
        let response = client
            .post(format!("http://{addr}/webhooks/foody"))
            .header("content-type", "application/json")
            .body(delivery)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        settle(&server, u64::try_from(done).unwrap() + 1).await;
    }
    // In inbox mode the worker watches the stored rows: wait for it (bounded).
    let mut records = Vec::new();
    for _ in 0..100 {
        let text = get(&client, format!("http://{admin}/drift?format=json")).await;
        records = serde_json::from_str::<Vec<Value>>(&text).unwrap();
        if records.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let find = |change: &str| {
        records
            .iter()
            .find(|record| record["change"] == change)
            .unwrap_or_else(|| panic!("no {change} in {records:?}"))
            .clone()
    };
    let new_field = find("new_field");
    assert_eq!(new_field["provider"], "foody");
    assert_eq!(new_field["kind"], "order_status_updated");
    assert_eq!(new_field["detail"], "customerEmail");
    assert_eq!(new_field["count"], 1);
    let example = new_field["example"].as_str().unwrap();
    assert!(example.contains("j***@e***.com"), "{example}");
    assert!(!example.contains("joao@example.com") && !example.contains(TOKEN));
    assert_eq!(find("unknown_status")["detail"], "em_rota");

    let page = get(&client, format!("http://{admin}/drift")).await;
    assert!(
        page.contains("customerEmail") && page.contains("em_rota"),
        "{page}"
    );
    assert!(!page.contains("joao@example.com"));
    let metrics = get(&client, format!("http://{admin}/metrics")).await;
    for change in ["new_field", "unknown_status"] {
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with("hookbr_drift_total")
                    && line.contains("provider=\"foody\"")
                    && line.contains(&format!("change=\"{change}\""))),
            "{metrics}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_watched_in_direct_mode() {
    drift_is_watched("none").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_watched_in_inbox_mode() {
    drift_is_watched("sqlite:inbox.sqlite3").await;
}

/// Inbox mode keeps the watch in the inbox: a restarted server shows what the previous one saw
/// before any delivery, and counts on instead of taking a known field for a new baseline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drift_watch_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let post = |addr: std::net::SocketAddr, body: String| {
        let client = client.clone();
        async move {
            let response = client
                .post(format!("http://{addr}/webhooks/foody"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    };
    let with_field = |date: &str| body("ready", date, r#","orderId":"123""#);
    let records = |admin: std::net::SocketAddr, want: u64| {
        let client = client.clone();
        async move {
            let mut records = Vec::new();
            for _ in 0..100 {
                let text = get(&client, format!("http://{admin}/drift?format=json")).await;
                records = serde_json::from_str::<Vec<Value>>(&text).unwrap();
                if records
                    .first()
                    .is_some_and(|record| record["count"] == want)
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            records
        }
    };

    let server = start(dir.path(), "sqlite:inbox.sqlite3").await;
    post(server.addr(), body("open", "2020-06-19T17:30:05Z", "")).await;
    settle(&server, 1).await;
    post(server.addr(), with_field("2020-06-19T17:38:40Z")).await;
    let before = records(server.admin_addr().unwrap(), 1).await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["detail"], "orderId");
    server.stop().await.unwrap();

    let server = start(dir.path(), "sqlite:inbox.sqlite3").await;
    let admin = server.admin_addr().unwrap();
    let text = get(&client, format!("http://{admin}/drift?format=json")).await;
    assert_eq!(serde_json::from_str::<Vec<Value>>(&text).unwrap(), before);
    post(server.addr(), with_field("2020-06-19T17:40:00Z")).await;
    let after = records(admin, 2).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["count"], 2);
    assert_eq!(after[0]["first_seen_ms"], before[0]["first_seen_ms"]);
    server.stop().await.unwrap();
}
