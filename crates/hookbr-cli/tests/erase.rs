//! `hookbr inbox erase` end to end: the real binary on a SQLite inbox seeded with deliveries
//! from every provider (custom BonifiQ bodies and iSET form bodies included), its exit codes
//! (0 done or nothing matched, 1 database error, 2 bad subject), its receipt, and what
//! `hookbr inbox show` says of a removed body. With `HOOKBR_TEST_POSTGRES_URL` (scripts/test)
//! the same on PostgreSQL.

mod common;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use common::{Run, run_within};
use hookbr_core::{
    DeliveryId, Inbox, InboxRecord, Provider,
    inbox::{Inserted, now_ms},
};
use hookbr_store::{PostgresInbox, SqliteInbox};

const DEADLINE: Duration = Duration::from_secs(60);
const DAY_MS: i64 = 86_400_000;

/// Every spelling of the subject a stored byte may hold.
const SPELLINGS: [&str; 4] = [
    "52998224725",
    "529.982.247-25",
    "joao.silva@example.com",
    "joao.silva%40example.com",
];

fn hookbr(args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookbr"));
    command.args(args).env_remove("HOOKBR_LOG");
    run_within(command, DEADLINE)
}

fn record(
    provider: Provider,
    endpoint: &str,
    id: &str,
    content_type: &str,
    body: &str,
) -> InboxRecord {
    InboxRecord::new(
        endpoint.into(),
        id.into(),
        DeliveryId::new(provider, id).key(),
        body.as_bytes().to_vec(),
        vec![("content-type".into(), content_type.into())],
        "#0".into(),
        now_ms(),
    )
}

/// Seeds `inbox`: the subject's rows (ids returned first) and others' rows; the first two of
/// the subject's are completed, one of the others received 8 days ago, completed, and its body
/// dropped by `body_retention` (7 days).
async fn seed(inbox: &dyn Inbox) -> (Vec<i64>, Vec<i64>, i64) {
    let json = "application/json";
    let form = "application/x-www-form-urlencoded";
    let subject = [
        record(
            Provider::Bonifiq,
            "bonifiq",
            "s-1",
            json,
            r#"{"Uuid":"4834c95e-84f7-485e-90de-09353df57fd3","Topic":0,"TopicName":"Point_Add","Payload":{"Points":10,"Customer":{"Id":"1","Email":"Joao.Silva@Example.com","Name":"Joao Silva","Document":"529.982.247-25"}}}"#,
        ),
        record(
            Provider::Bonifiq,
            "bonifiq",
            "s-2",
            json,
            r#"{"pedido":7,"cliente":{"cpf":52998224725,"contato":"joao.silva@example.com"}}"#,
        ),
        record(
            Provider::Iset,
            "iset",
            "s-3",
            form,
            "pedido_id=9&cliente_email=joao.silva%40example.com&cliente_cpf=529.982.247-25",
        ),
        record(
            Provider::Grafeno,
            "grafeno",
            "s-4",
            json,
            r#"{"change":"rejected","data":{"id":"9","pendencies":[{"text":"O CPF 529.982.247-25 do sócio está irregular"}]}}"#,
        ),
    ];
    let others = [
        record(
            Provider::Bonifiq,
            "bonifiq",
            "o-1",
            json,
            r#"{"Topic":0,"TopicName":"Point_Add","Payload":{"Customer":{"Email":"maria@example.org","Document":"111.444.777-35"}}}"#,
        ),
        record(
            Provider::Iset,
            "iset",
            "o-2",
            form,
            "cliente_email=maria%40example.org",
        ),
        record(
            Provider::Foody,
            "foody",
            "o-3",
            json,
            r#"{"uid":"f-1","updateDate":"2024-05-10T14:32:10Z","event":"order_status_updated","token":"[redacted]","status":"DELIVERED"}"#,
        ),
    ];
    let mut ids = (Vec::new(), Vec::new());
    for (records, into) in [
        (subject.to_vec(), &mut ids.0),
        (others.to_vec(), &mut ids.1),
    ] {
        for record in records {
            let Inserted::New(id) = inbox.insert(record).await.unwrap() else {
                panic!("new")
            };
            into.push(id);
        }
    }
    let mut old = record(
        Provider::Bonifiq,
        "bonifiq",
        "old",
        json,
        r#"{"cliente":{"email":"maria@example.org"}}"#,
    );
    old.received_at_ms = now_ms() - 8 * DAY_MS;
    let Inserted::New(old_id) = inbox.insert(old).await.unwrap() else {
        panic!("new")
    };
    let done = [ids.0[0], ids.0[1], old_id];
    for row in inbox.claim_due(100, Duration::from_secs(60)).await.unwrap() {
        if done.contains(&row.id) {
            assert!(inbox.complete(row.id, row.claim).await.unwrap());
        } else {
            assert!(
                inbox
                    .fail(row.id, row.claim, "later".into(), Some(now_ms()))
                    .await
                    .unwrap()
            );
        }
    }
    assert_eq!(inbox.drop_bodies(now_ms() - 7 * DAY_MS).await.unwrap(), 1);
    (ids.0, ids.1, old_id)
}

/// Erases the subject through the CLI on `target` (`--inbox URL`) and checks the receipt, the
/// rows and `inbox show`.
fn erase_through_the_cli(target: &str, (subject, others, old): &(Vec<i64>, Vec<i64>, i64)) {
    let run = hookbr(&[
        "inbox",
        "erase",
        "--subject",
        "529.982.247-25",
        "--inbox",
        target,
        "--json",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    for spelling in SPELLINGS {
        assert!(
            !run.all().contains(spelling),
            "{spelling} in the receipt: {run:?}"
        );
    }
    let receipt = run.json();
    assert_eq!(receipt["subject_kind"], "cpf");
    assert_eq!(
        receipt["subject_hash"].as_str().unwrap().len(),
        64,
        "{receipt}"
    );
    assert_eq!(receipt["rows"]["total"], 4, "{receipt}");
    assert_eq!(receipt["rows"]["done"], 2, "{receipt}");
    assert_eq!(receipt["rows"]["pending"], 2, "{receipt}");
    assert_eq!(receipt["nothing_matched"], false);
    assert!(receipt["note"].as_str().unwrap().contains("retention"));

    // The same person by e-mail: nothing is left; exit 0 and it says so.
    let run = hookbr(&[
        "inbox",
        "erase",
        "--subject",
        "JOAO.SILVA@example.com",
        "--inbox",
        target,
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("nothing matched"), "{run:?}");
    assert!(run.stdout.contains("email with hash"), "{run:?}");

    for id in subject {
        let shown = hookbr(&[
            "inbox",
            "show",
            &id.to_string(),
            "--inbox",
            target,
            "--json",
        ]);
        assert_eq!(shown.code, Some(0), "{shown:?}");
        let shown = shown.json();
        assert_eq!(shown["state"], "done");
        assert!(
            shown["body_removed"]
                .as_str()
                .unwrap()
                .starts_with("body erased on request at "),
            "{shown}"
        );
        let text = hookbr(&["inbox", "show", &id.to_string(), "--inbox", target]);
        assert!(text.stdout.contains("body erased on request"), "{text:?}");
    }
    for id in others {
        let shown = hookbr(&[
            "inbox",
            "show",
            &id.to_string(),
            "--inbox",
            target,
            "--json",
        ])
        .json();
        assert!(shown["body_removed"].is_null(), "{shown}");
        assert!(shown["body"] != "", "{shown}");
    }
    let shown = hookbr(&["inbox", "show", &old.to_string(), "--inbox", target]);
    assert_eq!(shown.code, Some(0), "{shown:?}");
    assert!(
        shown
            .stdout
            .contains("body removed after 8 days (body_retention)"),
        "{shown:?}"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn erase_on_sqlite_leaves_no_trace_and_prints_a_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite3");
    let ids = runtime().block_on(async {
        let inbox = SqliteInbox::open(&path).unwrap();
        seed(&inbox).await
    });
    let target = format!("sqlite:{}", path.display());
    erase_through_the_cli(&target, &ids);
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(file) = std::fs::read(format!("{}{suffix}", path.display())) {
            bytes.extend(file);
        }
    }
    let bytes = bytes.to_ascii_lowercase();
    for spelling in SPELLINGS {
        assert!(
            !contains(&bytes, spelling),
            "{spelling} is still in the files"
        );
    }
    assert!(
        contains(&bytes, "maria@example.org"),
        "others' rows are kept"
    );
}

#[test]
fn exit_codes_bad_subject_2_database_error_1() {
    for bad in [
        "529.982.247-26",
        "11111111111",
        "11.222.333/0001-82",
        "joao@",
        "Joao Silva",
    ] {
        let run = hookbr(&[
            "inbox",
            "erase",
            "--subject",
            bad,
            "--inbox",
            "sqlite:/nonexistent/x",
        ]);
        assert_eq!(run.code, Some(2), "{bad}: {run:?}");
        assert!(
            run.stderr
                .contains("not a CPF or CNPJ with valid check digits"),
            "{run:?}"
        );
        assert!(
            !run.all().contains(bad) || bad.is_empty(),
            "the subject is not repeated: {run:?}"
        );
    }
    // No server listens there: a database error.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://hookbr@127.0.0.1:{port}/hookbr?sslmode=disable");
    let started = Instant::now();
    let run = hookbr(&[
        "inbox",
        "erase",
        "--subject",
        "529.982.247-25",
        "--inbox",
        &url,
    ]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(started.elapsed() < DEADLINE);
}

#[test]
fn erase_on_postgres_prints_a_receipt() {
    let Ok(base) = std::env::var("HOOKBR_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "HOOKBR_TEST_POSTGRES_URL is not set in CI: run the tests through scripts/test"
        );
        eprintln!(
            "NOTICE: HOOKBR_TEST_POSTGRES_URL not set; PostgreSQL test skipped (use scripts/test)"
        );
        return;
    };
    let schema = format!("erase_{}_{}", std::process::id(), now_ms());
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
    let runtime = runtime();
    let admin = runtime.block_on(async {
        let (admin, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        admin
    });
    let ids = runtime.block_on(async {
        let inbox = PostgresInbox::connect(&url).await.unwrap();
        seed(&inbox).await
    });
    erase_through_the_cli(&url, &ids);
    runtime.block_on(async {
        let left: i64 = admin
            .query_one(
                &format!(
                    "SELECT count(*) FROM {schema}.hookbr_inbox AS t \
                     WHERE strpos(lower(encode(t.body, 'escape')), $1) > 0"
                ),
                &[&"529.982.247-25"],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 0);
        admin
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    });
}
