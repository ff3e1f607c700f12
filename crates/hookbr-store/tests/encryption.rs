//! Encryption at rest of the inbox (`hookbr_store::crypt`) on SQLite and on a real PostgreSQL
//! server (`HOOKBR_TEST_POSTGRES_URL`, started by `scripts/test`; skipped with a notice
//! without it, outside CI): rows written in clear before encryption stay readable, sealed rows
//! round-trip and never hold a CPF or e-mail in clear, a missing or different key is refused
//! naming its id, a tampered ciphertext is dead-lettered instead of delivered, and rotation
//! (k1 → k2 + k1 → rekey → k2 only) moves every row.

#![cfg(all(feature = "sqlite", feature = "postgres"))]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use hookbr_core::{
    DeliveryId, Provider,
    inbox::{Inbox, InboxRecord, Inserted, RowState, now_ms},
};
use hookbr_store::{InboxKeys, PostgresInbox, SqliteInbox};
use tokio_postgres::NoTls;

const EMAIL: &str = "ana.souza@example.com";
const CPF: &str = "123.456.789-09";

fn record(id: &str) -> InboxRecord {
    let body = format!(
        r#"{{"Uuid":"{id}","Topic":0,"Payload":{{"Points":5,"Customer":{{"Email":"{EMAIL}","Document":"{CPF}","Name":"Ana"}}}}}}"#
    );
    InboxRecord::new(
        "bonifiq".into(),
        id.into(),
        DeliveryId::new(Provider::Bonifiq, id).key(),
        body.into_bytes(),
        vec![("content-type".into(), "application/json".into())],
        "#0".into(),
        now_ms(),
    )
}

fn keys(list: &[(&str, u8)]) -> Option<Arc<InboxKeys>> {
    Some(Arc::new(
        InboxKeys::new(
            list.iter()
                .map(|(id, b)| ((*id).to_owned(), [*b; 32]))
                .collect(),
        )
        .unwrap(),
    ))
}

/// One inbox under test, opened again with other keys at each step (as a restart would).
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

/// An opened inbox of either kind.
enum Opened {
    Sqlite(SqliteInbox),
    Postgres(PostgresInbox),
}

impl Opened {
    fn inbox(&self) -> &dyn Inbox {
        match self {
            Self::Sqlite(inbox) => inbox,
            Self::Postgres(inbox) => inbox,
        }
    }

    async fn check_keys(&self) -> Result<(), String> {
        match self {
            Self::Sqlite(inbox) => inbox.check_keys().await,
            Self::Postgres(inbox) => inbox.check_keys().await,
        }
        .map_err(|e| e.to_string())
    }

    /// Rekeys everything, `batch` rows at a time (bounded): rows moved, rows failed.
    async fn rekey_all(&self, batch: usize) -> (u64, u64) {
        let (mut moved, mut failed, mut after) = (0, 0, 0);
        for _ in 0..1_000 {
            let (done, last) = match self {
                Self::Sqlite(inbox) => inbox.rekey(after, batch).await,
                Self::Postgres(inbox) => inbox.rekey(after, batch).await,
            }
            .unwrap();
            moved += done.rekeyed;
            failed += done.failed;
            if !done.more {
                return (moved, failed);
            }
            after = last;
        }
        panic!("rekey did not finish in 1000 batches");
    }
}

impl Backend {
    async fn open(&self, keys: Option<Arc<InboxKeys>>) -> Opened {
        match self {
            Self::Sqlite(dir) => Opened::Sqlite(
                SqliteInbox::open(dir.path().join("inbox.sqlite3"))
                    .unwrap()
                    .with_keys(keys),
            ),
            Self::Postgres(url) => Opened::Postgres(
                PostgresInbox::connect_with_pool_size(url, 2)
                    .await
                    .unwrap()
                    .with_keys(keys),
            ),
        }
    }

    /// Every stored byte of the rows: (id, key id, body, headers).
    async fn raw(&self) -> Vec<(i64, String, Vec<u8>, String)> {
        match self {
            Self::Sqlite(dir) => {
                let connection =
                    rusqlite::Connection::open(dir.path().join("inbox.sqlite3")).unwrap();
                let mut statement = connection
                    .prepare("SELECT id, key_id, body, headers FROM hookbr_inbox ORDER BY id")
                    .unwrap();
                statement
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Self::Postgres(url) => {
                let client = connect(url).await;
                client
                    .query(
                        "SELECT id, key_id, body, headers FROM hookbr_inbox ORDER BY id",
                        &[],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                    .collect()
            }
        }
    }

    /// Flips the last byte of row `id`'s body (the tag).
    async fn tamper(&self, id: i64) {
        match self {
            Self::Sqlite(dir) => {
                let connection =
                    rusqlite::Connection::open(dir.path().join("inbox.sqlite3")).unwrap();
                let mut body: Vec<u8> = connection
                    .query_row("SELECT body FROM hookbr_inbox WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .unwrap();
                if let Some(last) = body.last_mut() {
                    *last ^= 1;
                }
                connection
                    .execute(
                        "UPDATE hookbr_inbox SET body = ?2 WHERE id = ?1",
                        rusqlite::params![id, body],
                    )
                    .unwrap();
            }
            Self::Postgres(url) => {
                let client = connect(url).await;
                client
                    .execute(
                        "UPDATE hookbr_inbox SET body = set_byte(body, length(body) - 1, \
                         (get_byte(body, length(body) - 1) + 1) % 256) WHERE id = $1",
                        &[&id],
                    )
                    .await
                    .unwrap();
            }
        }
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn id_of(inserted: Inserted) -> i64 {
    match inserted {
        Inserted::New(id) => id,
        Inserted::Duplicate => panic!("a duplicate"),
    }
}

async fn scenario(backend: Backend) {
    // Before encryption: a row in clear.
    let plain = backend.open(None).await;
    plain.check_keys().await.unwrap();
    let a = id_of(plain.inbox().insert(record("a")).await.unwrap());
    drop(plain);

    // Encryption on (k1): new rows sealed, the old one still read (its key id is `none`).
    let k1 = backend.open(keys(&[("k1", 1)])).await;
    k1.check_keys().await.unwrap();
    let b = id_of(k1.inbox().insert(record("b")).await.unwrap());
    assert_eq!(
        k1.inbox().insert(record("b")).await.unwrap(),
        Inserted::Duplicate,
        "dedup works on sealed rows"
    );
    let raw = backend.raw().await;
    let row_b = raw.iter().find(|row| row.0 == b).unwrap();
    assert_eq!(row_b.1, "k1");
    assert!(!contains(&row_b.2, EMAIL) && !contains(&row_b.2, CPF));
    assert!(!row_b.3.contains("content-type"), "headers sealed too");
    assert_eq!(raw.iter().find(|row| row.0 == a).unwrap().1, "none");
    for (id, name) in [(a, "a"), (b, "b")] {
        let got = k1.inbox().get(id).await.unwrap().unwrap();
        assert_eq!(
            got.record,
            record(name).clone_with_time(got.record.received_at_ms)
        );
    }
    drop(k1);

    // The key missing, or another key under k1: refused, naming k1.
    let none = backend.open(None).await;
    let error = none.check_keys().await.unwrap_err();
    assert!(
        error.contains("\"k1\"") && error.contains("not configured"),
        "{error}"
    );
    let error = none.inbox().get(b).await.unwrap_err().to_string();
    assert!(
        error.contains("\"k1\"") && error.contains("not configured"),
        "{error}"
    );
    drop(none);
    let wrong = backend.open(keys(&[("k1", 9)])).await;
    let error = wrong.check_keys().await.unwrap_err();
    assert!(
        error.contains("\"k1\"") && error.contains("wrong key"),
        "{error}"
    );
    drop(wrong);

    // Rotation: k2 first, k1 still configured; new rows under k2; rekey moves the rest.
    let both = backend.open(keys(&[("k2", 2), ("k1", 1)])).await;
    both.check_keys().await.unwrap();
    let c = id_of(both.inbox().insert(record("c")).await.unwrap());
    let raw = backend.raw().await;
    assert_eq!(raw.iter().find(|row| row.0 == c).unwrap().1, "k2");
    assert_eq!(both.rekey_all(1).await, (2, 0));
    assert_eq!(both.rekey_all(1).await, (0, 0), "nothing left: idempotent");
    for row in backend.raw().await {
        assert_eq!(row.1, "k2", "every row under k2 after rekey");
        assert!(!contains(&row.2, EMAIL) && !contains(&row.2, CPF));
        assert!(!row.3.contains(EMAIL));
    }
    drop(both);

    // k1 removed: starts, reads everything. A tampered row is dead-lettered, not handed out.
    let k2 = backend.open(keys(&[("k2", 2)])).await;
    k2.check_keys().await.unwrap();
    backend.tamper(b).await;
    let claimed = k2
        .inbox()
        .claim_due(10, Duration::from_secs(30))
        .await
        .unwrap();
    let mut names: Vec<&str> = claimed
        .iter()
        .map(|row| row.record.delivery_id.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["a", "c"]);
    for row in &claimed {
        assert!(
            contains(&row.record.body, EMAIL),
            "the worker gets the original body"
        );
        assert_eq!(row.record.headers, record("a").headers);
    }
    let error = k2.inbox().get(b).await.unwrap_err().to_string();
    assert!(
        error.contains("does not decrypt under key \"k2\""),
        "{error}"
    );
    let stats = k2.inbox().stats().await.unwrap();
    assert_eq!((stats.dead, stats.in_flight), (1, 2), "{stats:?}");
    // Listed with the reason and no body, so it does not hide the other rows.
    let dead = k2
        .inbox()
        .list(hookbr_core::inbox::ListFilter::new().state(RowState::Dead))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, b);
    assert!(dead[0].record.body.is_empty());
    let reason = dead[0].last_error.clone().unwrap_or_default();
    assert!(
        reason.contains("does not decrypt under key \"k2\""),
        "{reason}"
    );
    let all = k2
        .inbox()
        .list(hookbr_core::inbox::ListFilter::new())
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    // A rekey pass reports it and leaves it.
    assert_eq!(k2.rekey_all(10).await, (0, 0), "already under k2: not read");
}

trait CloneWithTime {
    fn clone_with_time(&self, at: i64) -> Self;
}

impl CloneWithTime for InboxRecord {
    fn clone_with_time(&self, at: i64) -> Self {
        let mut record = self.clone();
        record.received_at_ms = at;
        record
    }
}

#[tokio::test]
async fn sqlite_rows_are_sealed_rotate_and_refuse_tampering() {
    scenario(Backend::Sqlite(tempfile::tempdir().unwrap())).await;
}

#[tokio::test]
async fn postgres_rows_are_sealed_rotate_and_refuse_tampering() {
    let base = match std::env::var("HOOKBR_TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("HOOKBR_TEST_POSTGRES_URL is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!("NOTICE: HOOKBR_TEST_POSTGRES_URL not set; PostgreSQL test skipped");
            return;
        }
    };
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "enc_{}_{}_{}",
        std::process::id(),
        now_ms(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = connect(&base).await;
    admin
        .batch_execute(&format!("CREATE SCHEMA {name}"))
        .await
        .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-csearch_path%3D{name}");
    scenario(Backend::Postgres(url)).await;
    admin
        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
        .await
        .unwrap();
}
