//! The deliveries page's pictures through a real server on 127.0.0.1, in direct and inbox
//! mode: Foody and BonifiQ deliveries (one BonifiQ refused) show on the chart (an SVG strip
//! per provider, bars by outcome) and in the per-provider health table (totals, error rate,
//! last delivery, oldest pending).

use std::{path::Path, time::Duration};

use hookbr_server::{Config, Server, ServerBuilder};

const TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";
const SECRET: &str = "a-bonifiq-secret-for-the-pictures";

async fn start(dir: &Path, inbox: &str) -> Server {
    std::fs::write(dir.join("foody.token"), TOKEN).unwrap();
    std::fs::write(dir.join("bonifiq.secret"), SECRET).unwrap();
    let sink = if inbox == "none" {
        "[[sink]]\ntype = \"command\"\ncommand = [\"true\"]\n\n"
    } else {
        ""
    };
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[inbox]\nurl = \"{inbox}\"\n\n{sink}\
         [admin]\nlisten = \"127.0.0.1:0\"\n\n\
         [[endpoint]]\nprovider = \"foody\"\npath = \"/webhooks/foody\"\ntokens = [\"file:foody.token\"]\n\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\nsecrets = [\"file:bonifiq.secret\"]\n"
    );
    ServerBuilder::new(Config::parse(&text, dir).unwrap())
        .start()
        .await
        .unwrap()
}

fn foody(uid: &str) -> String {
    format!(
        r#"{{"uid":"{uid}","updateDate":"2020-06-19T17:30:05Z","event":"order_status_updated","token":"{TOKEN}","status":"open"}}"#
    )
}

fn bonifiq(uuid: &str) -> String {
    format!(
        r#"{{"Uuid":"{uuid}","Topic":"Point_Add","Timestamp":"2024-05-10T12:00:01Z","Payload":{{"Customer":{{"Id":"9001","Email":null,"Name":"Cliente"}},"Points":10,"PointId":"p-10"}}}}"#
    )
}

async fn pictures(inbox: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), inbox).await;
    let (addr, admin) = (server.addr(), server.admin_addr().unwrap());
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let before = client
        .get(format!("http://{admin}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        before.contains("no deliveries in the last hour"),
        "{before}"
    );
    for uid in ["a1", "a2", "a3"] {
        let response = client
            .post(format!("http://{addr}/webhooks/foody"))
            .header("content-type", "application/json")
            .body(foody(uid))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    for (uuid, secret, status) in [
        ("b1", SECRET, 200),
        ("b2", "not-the-secret", 401),
        ("b1", SECRET, 200),
    ] {
        let response = client
            .post(format!("http://{addr}/webhooks/bonifiq"))
            .header("content-type", "application/json")
            .header("X-Loyalty-Secret", secret)
            .body(bonifiq(uuid))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{uuid}");
    }
    let response = client.get(format!("http://{admin}/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    // The chart: one strip per provider sent, bars by outcome, accessible names.
    assert!(page.contains("<svg id=\"activity\""), "{page}");
    assert!(page.contains("role=\"img\""), "{page}");
    assert!(
        page.contains("<title>Deliveries per minute over the last hour"),
        "{page}"
    );
    assert!(page.contains("<g class=\"strip\" data-provider=\"foody\""));
    assert!(page.contains("<g class=\"strip\" data-provider=\"bonifiq\""));
    assert!(!page.contains("data-provider=\"iset\""));
    assert!(page.contains("data-outcome=\"rejected\""), "{page}");
    assert!(page.contains("data-outcome=\"duplicate\""), "{page}");
    assert!(
        page.contains("foody: 3 processed/stored, 0 duplicate, 0 rejected, 0 handler_failed"),
        "{page}"
    );
    assert!(
        page.contains("bonifiq: 1 processed/stored, 1 duplicate, 1 rejected, 0 handler_failed"),
        "{page}"
    );
    // Health: the bonifiq row shows one refusal in three.
    let health = &page[page.find("id=\"health\"").unwrap()..];
    let bonifiq_row = &health[health.find("<tr data-provider=\"bonifiq\"").unwrap()..];
    let bonifiq_row = &bonifiq_row[..bonifiq_row.find("</tr>").unwrap()];
    assert!(bonifiq_row.contains("s ago"), "{bonifiq_row}");
    assert!(bonifiq_row.contains("33 %"), "{bonifiq_row}");
    let foody_row = &health[health.find("<tr data-provider=\"foody\"").unwrap()..];
    let foody_row = &foody_row[..foody_row.find("</tr>").unwrap()];
    assert!(foody_row.contains("0 %"), "{foody_row}");
    if inbox == "none" {
        assert!(page.contains("n/a (direct mode)"), "{page}");
        assert!(
            foody_row.contains("<td class=\"oldest\">n/a</td>"),
            "{foody_row}"
        );
    } else {
        // From the inbox's walk of its open rows: an age, or none once the worker is done.
        assert!(foody_row.contains("<td class=\"oldest\">"), "{foody_row}");
        assert!(!foody_row.contains("n/a"), "{foody_row}");
        assert!(page.contains("a restart starts the chart empty"), "{page}");
        assert!(!page.contains("n/a (direct mode)"), "{page}");
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deliveries_page_draws_the_last_hour_in_direct_mode() {
    pictures("none").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deliveries_page_draws_the_last_hour_in_inbox_mode() {
    pictures("sqlite:inbox.sqlite3").await;
}
