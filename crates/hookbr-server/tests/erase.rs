//! `POST /erase` on the admin listener of a real server on 127.0.0.1 (inbox mode, SQLite,
//! admin token): the token is required, a bad subject is `400` without being echoed, a valid
//! one erases the rows that name it and answers the receipt, cross-site posts are refused,
//! and the delivery's page then says the body was erased.

use std::{path::Path, time::Duration};

use hookbr_core::{
    DeliveryId, InboxRecord, Provider,
    inbox::{Inserted, now_ms},
};
use hookbr_server::{Config, Server, ServerBuilder};
use serde_json::Value;

const ADMIN_TOKEN: &str = "erase-test-admin-token-0123456789abcdef";
const TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";

async fn start(dir: &Path) -> Server {
    std::fs::write(dir.join("foody.token"), TOKEN).unwrap();
    std::fs::write(dir.join("admin.token"), ADMIN_TOKEN).unwrap();
    let text = "[server]\nlisten = \"127.0.0.1:0\"\n\n[inbox]\nurl = \"sqlite:inbox.sqlite3\"\n\
                body_retention = \"3d\"\nretention = \"400d\"\n\n\
                [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"file:admin.token\"\n\n\
                [[endpoint]]\nprovider = \"foody\"\npath = \"/webhooks/foody\"\n\
                tokens = [\"file:foody.token\"]\n";
    let config = Config::parse(text, dir).unwrap();
    assert_eq!(config.body_retention, Duration::from_secs(3 * 86_400));
    ServerBuilder::new(config).start().await.unwrap()
}

fn record(id: &str, body: &str) -> InboxRecord {
    InboxRecord::new(
        "iset".into(),
        id.into(),
        DeliveryId::new(Provider::Iset, id).key(),
        body.as_bytes().to_vec(),
        vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        "#0".into(),
        now_ms(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erase_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let inbox = server.inbox().unwrap().clone();
    let Inserted::New(subject_row) = inbox
        .insert(record("e-1", "pedido_id=1&cliente_cpf=529.982.247-25"))
        .await
        .unwrap()
    else {
        panic!("new")
    };
    let Inserted::New(other_row) = inbox
        .insert(record("e-2", "pedido_id=2&cliente_cpf=111.444.777-35"))
        .await
        .unwrap()
    else {
        panic!("new")
    };
    let admin = server.admin_addr().unwrap();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let post = |body: &str, token: Option<&str>| {
        let mut request = client
            .post(format!("http://{admin}/erase"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
    };

    let response = post(r#"{"subject":"529.982.247-25"}"#, None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = post(r#"{"subject":"529.982.247-25"}"#, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    for bad in [
        r#"{"subject":"529.982.247-26"}"#,
        r#"{"cpf":"529.982.247-25"}"#,
        "not json",
    ] {
        let response = post(bad, Some(ADMIN_TOKEN)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let text = response.text().await.unwrap();
        assert!(!text.contains("529.982.247"), "{text}");
    }
    let response = post(r#"{"subject":"529.982.247-25"}"#, Some(ADMIN_TOKEN))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "cross-site posts are refused");

    let response = post(r#"{"subject":"52998224725"}"#, Some(ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains("52998224725"), "{text}");
    let receipt: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(receipt["rows"]["total"], 1, "{receipt}");
    assert_eq!(receipt["subject_kind"], "cpf");
    assert_eq!(receipt["nothing_matched"], false);

    let erased = inbox.get(subject_row).await.unwrap().unwrap();
    assert!(erased.record.body.is_empty());
    assert!(
        !inbox
            .get(other_row)
            .await
            .unwrap()
            .unwrap()
            .record
            .body
            .is_empty()
    );
    let page = client
        .get(format!("http://{admin}/deliveries/{subject_row}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("body erased on request"), "{page}");
    assert!(!page.contains("529.982.247-25"));

    // Again: nothing matched, still 200.
    let response = post(r#"{"subject":"529.982.247-25"}"#, Some(ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(receipt["nothing_matched"], true, "{receipt}");
    server.stop().await.unwrap();
}
