//! Personal data through a real server on 127.0.0.1 (issue 19 point 2): the inspector's list,
//! detail and Drift pages never show a CPF, e-mail or phone unmasked, for deliveries from every
//! provider (a custom BonifiQ body and an iSET form body included); a reveal needs the admin
//! token and a reason, and only by POST; a sink with `mask` receives masked data, one without
//! the original.

use std::{path::Path, time::Duration};

use hookbr_core::{DedupKey, InboxRecord};
use hookbr_server::{Config, ServerBuilder, config::InboxUrl};

const ADMIN_TOKEN: &str = "an-admin-token-of-at-least-thirty-two-characters";
const CPF: &str = "529.982.247-25";
const CPF_DIGITS: &str = "52998224725";
const EMAIL: &str = "joao.silva@example.com";
const PHONE: &str = "+55 (11) 98719-8778";

/// What must never show unmasked.
const RAW: &[&str] = &[
    CPF,
    CPF_DIGITS,
    EMAIL,
    "joao.silva%40example.com",
    "98719-8778",
    "Joao da Silva",
];

fn deliveries() -> Vec<(&'static str, String)> {
    vec![
        (
            "bonifiq",
            format!(
                r#"{{"Uuid":"4834c95e-84f7-485e-90de-09353df57fd3","Timestamp":"2024-03-01T13:16:11.396371","Topic":0,"TopicName":"Point_Add","Payload":{{"Points":200,"PointType":0,"PointAction":1,"Customer":{{"Email":"{EMAIL}","Id":"152740926","Name":"Joao da Silva","Phone":"{PHONE}","Document":"{CPF}"}},"PointId":4740}}}}"#
            ),
        ),
        (
            "bonifiq",
            format!(r#"{{"cliente":{{"email":"{EMAIL}","cpf":"{CPF_DIGITS}"}},"pontos":10}}"#),
        ),
        (
            "iset:order_upserted",
            format!("pedido_id=1234&status=pago&email=joao.silva%40example.com&cpf={CPF_DIGITS}"),
        ),
        (
            "foody",
            format!(
                r#"{{"uid":"4228df3a-a54a-40d7-b30f-1385eca4c3dd","updateDate":"2020-06-19T17:30:05Z","event":"order_status_updated","token":"2b100082b90d4ad9b4fezzed960cf652","status":"open","customerEmail":"{EMAIL}"}}"#
            ),
        ),
        (
            "grafeno",
            format!(
                r#"{{"signature":"c2ln","change":"rejected","data":{{"id":"17e4ae95-9348-4089-8870-4d4d2de61e49","pendencies":[{{"text":"CPF {CPF} do socio Joao da Silva divergente"}}]}}}}"#
            ),
        ),
    ]
}

async fn seed(url: &InboxUrl) -> usize {
    let inbox = hookbr_server::lifecycle::open_inbox(url)
        .await
        .unwrap()
        .unwrap();
    let all = deliveries();
    for (index, (endpoint, body)) in all.iter().enumerate() {
        let byte = u8::try_from(index + 1).unwrap();
        inbox
            .insert(InboxRecord::new(
                (*endpoint).into(),
                format!("delivery-{index}"),
                DedupKey::from_bytes([byte; 16]),
                body.clone().into_bytes(),
                vec![("x-customer".into(), EMAIL.into())],
                "#0 (file:bonifiq.secret)".into(),
                1_700_000_000_000,
            ))
            .await
            .unwrap();
    }
    all.len()
}

/// A command sink writing each message to `out/<webhook-id>.json` (a retry overwrites it;
/// concurrent runs never interleave).
fn command_sink(out: &Path, mask: &str) -> String {
    std::fs::create_dir(out).unwrap();
    format!(
        "[[sink]]\ntype = \"command\"\n\
         command = [\"sh\", \"-c\", \"cat > '{}'/\\\"$HOOKBR_WEBHOOK_ID\\\".json\"]\n\
         timeout = \"5s\"\n{mask}\n\n",
        out.display(),
    )
}

/// Every message a [`command_sink`] received, one per line.
fn received(out: &Path) -> String {
    let mut messages: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    messages.sort();
    messages.join("\n")
}

fn assert_masked(what: &str, text: &str) {
    for raw in RAW {
        assert!(!text.contains(raw), "{raw} unmasked in {what}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_masks_and_reveals_only_with_token_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(base.join("bonifiq.secret"), "a-bonifiq-secret-for-tests").unwrap();
    std::fs::write(base.join("admin.token"), ADMIN_TOKEN).unwrap();
    let inbox_path = base.join("inbox.sqlite3");
    let count = seed(&InboxUrl::Sqlite(inbox_path.to_str().unwrap().to_owned())).await;
    let (plain, all, fields) = (base.join("plain"), base.join("masked"), base.join("fields"));
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[inbox]\nurl = \"sqlite:{}\"\n\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"file:admin.token\"\n\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\n\
         secrets = [\"file:bonifiq.secret\"]\n\n{}{}{}",
        inbox_path.display(),
        command_sink(&plain, ""),
        command_sink(&all, "mask = true"),
        command_sink(&fields, "mask = [\"Customer.Email\"]"),
    );
    let config = Config::parse(&text, base).unwrap();
    let server = ServerBuilder::new(config).start().await.unwrap();
    let admin = server.admin_addr().unwrap();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let bearer = format!("Bearer {ADMIN_TOKEN}");

    // The worker hands every row to the sinks (bounded wait).
    let inbox = server.inbox().unwrap().clone();
    for _ in 0..400 {
        let stats = inbox.stats().await.unwrap();
        if stats.done + stats.dead >= u64::try_from(count).unwrap() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(inbox.stats().await.unwrap().done, 5);

    // Sinks: without mask the original, with mask = true nothing raw, with the list only the
    // e-mail of the documented Customer.
    let plain = received(&plain);
    assert!(plain.contains(CPF) && plain.contains(EMAIL), "{plain}");
    let masked = received(&all);
    assert_eq!(
        masked.lines().filter(|l| !l.is_empty()).count(),
        5,
        "{masked}"
    );
    assert_masked("the mask = true sink", &masked);
    assert!(masked.contains("***.982.247-**"), "{masked}");
    let fields = received(&fields);
    let bonifiq = fields
        .lines()
        .find(|line| line.contains("Point_Add"))
        .unwrap();
    let message: serde_json::Value = serde_json::from_str(bonifiq).unwrap();
    let customer = &message["data"]["event"]["Payload"]["Customer"];
    assert_eq!(customer["Email"], "j***@e***.com", "{message}");
    assert_eq!(customer["Document"], CPF, "{message}");
    assert_eq!(customer["Id"], "152740926", "{message}");

    // The list, every detail page and the Drift page: masked.
    let get = |path: String| {
        let client = client.clone();
        let bearer = bearer.clone();
        async move {
            let response = client
                .get(format!("http://{admin}{path}"))
                .header("authorization", bearer)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, list) = get("/".to_owned()).await;
    assert_eq!(status, 200);
    assert_masked("the list", &list);
    let rows = inbox
        .list(hookbr_core::inbox::ListFilter::new().limit(10))
        .await
        .unwrap();
    for row in &rows {
        let (status, page) = get(format!("/deliveries/{}", row.id)).await;
        assert_eq!(status, 200);
        assert_masked("a detail page", &page);
        assert!(page.contains("id=\"reveal\""), "{page}");
        // GET never reveals.
        let (status, _) = get(format!("/deliveries/{}/reveal", row.id)).await;
        assert_eq!(status, 405);
    }
    let (status, drift) = get("/drift".to_owned()).await;
    assert_eq!(status, 200);
    assert_masked("the Drift page", &drift);
    let (_, drift) = get("/drift?format=json".to_owned()).await;
    assert_masked("the Drift JSON", &drift);
    // The custom BonifiQ body is an unknown kind: its example is there, masked.
    assert!(
        drift.contains("unknown_kind") && drift.contains("***982247**"),
        "{drift}"
    );

    // Reveal: POST, token and a reason.
    let first = rows.iter().map(|row| row.id).min().unwrap();
    let reveal = |form: &'static [(&'static str, &'static str)], auth: Option<&str>| {
        let client = client.clone();
        let auth = auth.map(str::to_owned);
        async move {
            let mut request = client
                .post(format!("http://{admin}/deliveries/{first}/reveal"))
                .form(form);
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    // No token at all, a wrong one: 401.
    let (status, text) = reveal(&[("reason", "ticket 42")], None).await;
    assert_eq!(status, 401, "{text}");
    assert_masked("a refused reveal", &text);
    let (status, text) = reveal(
        &[("reason", "ticket 42"), ("token", "wrong-token")],
        Some("Bearer wrong-token"),
    )
    .await;
    assert_eq!(status, 401, "{text}");
    // The token without a reason: 400.
    let (status, text) = reveal(&[("reason", "  ")], Some(&bearer)).await;
    assert_eq!(status, 400, "{text}");
    assert_masked("a reveal without a reason", &text);
    // Token and reason: the page unmasked.
    let (status, page) = reveal(&[("reason", "ticket 42")], Some(&bearer)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(CPF) && page.contains(EMAIL), "{page}");
    assert!(page.contains("id=\"revealed\""), "{page}");
    // The token as a form field does too (with the session's Bearer for the guard).
    let form: &'static [(&str, &str)] = &[("reason", "ticket 43"), ("token", ADMIN_TOKEN)];
    let (status, page) = reveal(form, Some(&bearer)).await;
    assert_eq!(status, 200, "{page}");
    // From another site (a form on a page elsewhere): refused before the token is looked at.
    let response = client
        .post(format!("http://{admin}/deliveries/{first}/reveal"))
        .header("authorization", &bearer)
        .header("origin", "http://evil.example")
        .form(&[("reason", "x"), ("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_masked("a cross-site reveal", &response.text().await.unwrap());
    // Afterwards the page is masked again.
    let (_, page) = get(format!("/deliveries/{first}")).await;
    assert_masked("the detail page after a reveal", &page);
    server.stop().await.unwrap();
}
