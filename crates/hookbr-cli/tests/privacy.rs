//! `hookbr inbox show` masks personal data (text and `--json`) in deliveries from every
//! provider, a custom BonifiQ body and an iSET form body included; `--reveal` needs a reason
//! (exit 2 without) and writes the `hookbr::audit` line.

mod common;

use std::time::Duration;

use common::{Run, run_within};
use hookbr_core::{DedupKey, InboxRecord};
use hookbr_server::config::InboxUrl;

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

/// One delivery per provider, a custom BonifiQ body and an iSET form body, each holding the
/// same CPF, e-mail (and phone where the shape allows).
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

/// A SQLite inbox holding [`deliveries`]; their row ids.
fn seed(path: &std::path::Path) -> Vec<i64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = InboxUrl::Sqlite(path.to_str().unwrap().to_owned());
        let inbox = hookbr_server::lifecycle::open_inbox(&url)
            .await
            .unwrap()
            .unwrap();
        for (index, (endpoint, body)) in deliveries().into_iter().enumerate() {
            let byte = u8::try_from(index + 1).unwrap();
            let record = InboxRecord::new(
                endpoint.into(),
                format!("delivery-{index}"),
                DedupKey::from_bytes([byte; 16]),
                body.into_bytes(),
                vec![("x-customer".into(), EMAIL.into())],
                "#0 (env:S)".into(),
                1_700_000_000_000,
            );
            inbox.insert(record).await.unwrap();
        }
        let rows = inbox
            .list(hookbr_core::inbox::ListFilter::new().limit(100))
            .await
            .unwrap();
        rows.iter().map(|row| row.id).collect()
    })
}

fn hookbr(args: &[&str]) -> Run {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hookbr"));
    command.args(args).env_remove("HOOKBR_LOG");
    run_within(command, Duration::from_secs(30))
}

fn assert_masked(text: &str) {
    for raw in RAW {
        assert!(!text.contains(raw), "{raw} unmasked in {text}");
    }
}

#[test]
fn inbox_show_masks_unless_revealed_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite3");
    let ids = seed(&path);
    assert_eq!(ids.len(), 5);
    let inbox = format!("sqlite:{}", path.display());
    let mut masks_seen = 0;
    for id in &ids {
        let id = id.to_string();
        for json in [false, true] {
            let mut args = vec!["inbox", "show", id.as_str(), "--inbox", inbox.as_str()];
            if json {
                args.push("--json");
            }
            let run = hookbr(&args);
            assert_eq!(run.code, Some(0), "{run:?}");
            assert_masked(&run.all());
            assert!(!run.stderr.contains("hookbr::audit"), "{run:?}");
            if run.stdout.contains("***.982.247-**") || run.stdout.contains("***982247**") {
                masks_seen += 1;
            }
        }
    }
    // Every delivery holds the CPF (in a mapped field, under a key or inside text).
    assert!(masks_seen >= 6, "{masks_seen}");
    let run = hookbr(&["inbox", "list", "--json", "--inbox", &inbox]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_masked(&run.all());

    let first = ids.iter().min().unwrap().to_string();
    // No reason, an empty one, or a reason without --reveal: refused, nothing shown.
    for args in [
        vec!["inbox", "show", &first, "--reveal", "--inbox", &inbox],
        vec![
            "inbox", "show", &first, "--reveal", "--reason", "  ", "--inbox", &inbox,
        ],
        vec![
            "inbox", "show", &first, "--reason", "why", "--inbox", &inbox,
        ],
    ] {
        let run = hookbr(&args);
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
        assert_masked(&run.all());
    }

    // Revealed, with a reason: the data and one audit line (who, which, why; never the data).
    let run = hookbr(&[
        "inbox",
        "show",
        &first,
        "--reveal",
        "--reason",
        "ticket 42: customer asked",
        "--json",
        "--inbox",
        &inbox,
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let shown = run.json();
    assert_eq!(
        shown["body"]["Payload"]["Customer"]["Document"], CPF,
        "{shown}"
    );
    assert_eq!(
        shown["body"]["Payload"]["Customer"]["Email"], EMAIL,
        "{shown}"
    );
    let audit: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.contains("hookbr::audit"))
        .collect();
    assert_eq!(audit.len(), 1, "{run:?}");
    let line = audit[0];
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains(&format!("delivery={first}")), "{line}");
    assert!(line.contains("ticket 42: customer asked"), "{line}");
    assert!(line.contains("who=cli"), "{line}");
    for raw in RAW {
        assert!(!run.stderr.contains(raw), "{raw} in the audit line: {line}");
    }
}

/// `[server] log_bodies = true`: the worker's body lines are masked, for every provider.
#[test]
fn logged_bodies_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite3");
    let ids = seed(&path);
    std::fs::write(
        dir.path().join("bonifiq.secret"),
        "a-bonifiq-secret-for-tests",
    )
    .unwrap();
    let config = dir.path().join("hookbr.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nlog_bodies = true\n\n[inbox]\nurl = \"sqlite:{}\"\n\n\
             [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\n\
             secrets = [\"file:bonifiq.secret\"]\n\n\
             [[sink]]\ntype = \"command\"\ncommand = [\"sh\", \"-c\", \"cat > /dev/null\"]\ntimeout = \"5s\"\n",
            path.display()
        ),
    )
    .unwrap();
    let log = dir.path().join("serve.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hookbr"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("HOOKBR_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let inbox = format!("sqlite:{}", path.display());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut done = 0;
    while std::time::Instant::now() < deadline {
        let run = hookbr(&["inbox", "stats", "--json", "--inbox", &inbox]);
        done = run.json()["done"].as_u64().unwrap_or(0);
        if done == 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(done, 5, "{text}");
    let bodies: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("personal data masked"))
        .collect();
    assert_eq!(bodies.len(), ids.len(), "{text}");
    assert_masked(&text);
    assert!(text.contains("***.982.247-**"), "{text}");
}
