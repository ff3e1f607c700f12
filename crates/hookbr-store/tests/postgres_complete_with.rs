//! `PostgresInbox::complete_with` on a real server (`HOOKBR_TEST_POSTGRES_URL`, started by
//! `scripts/test`; skipped with a notice outside CI): the caller's statements commit exactly
//! when the done mark does, fenced by the claim token, and a worker whose handler used it
//! records the attempt as completed (not as a lost lease). Each test in its own schema.

#![cfg(all(feature = "postgres", feature = "worker"))]

mod conformance;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use conformance::{fast, record};
use hookbr_core::inbox::{Inbox, Inserted, RowState, now_ms};
use hookbr_store::{
    PostgresDatabase, PostgresInbox,
    worker::{Delivered, Failure, Worker},
};
use tokio_postgres::NoTls;

fn postgres_url() -> Option<String> {
    match std::env::var("HOOKBR_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("HOOKBR_TEST_POSTGRES_URL is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!(
                "NOTICE: HOOKBR_TEST_POSTGRES_URL not set; PostgreSQL test skipped (use scripts/test)"
            );
            None
        }
    }
}

/// A fresh schema with a `side` table, and an inbox there.
struct Schema {
    name: String,
    url: String,
    admin: tokio_postgres::Client,
}

impl Schema {
    async fn new() -> Option<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = postgres_url()?;
        let name = format!(
            "cw_{}_{}_{}",
            std::process::id(),
            now_ms(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let (admin, connection) = tokio_postgres::connect(&base, NoTls).await.unwrap();
        tokio::spawn(connection);
        admin
            .batch_execute(&format!(
                "CREATE SCHEMA {name}; CREATE TABLE {name}.side (id TEXT PRIMARY KEY)"
            ))
            .await
            .unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{name}");
        Some(Self { name, url, admin })
    }

    async fn side(&self) -> Vec<String> {
        self.admin
            .query(
                &format!("SELECT id FROM {}.side ORDER BY id", self.name),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    async fn drop_schema(self) {
        self.admin
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name))
            .await
            .unwrap();
    }
}

const INSERT: &str = "INSERT INTO side (id) VALUES ($1) ON CONFLICT (id) DO NOTHING";

#[tokio::test]
async fn the_statements_commit_with_the_done_mark_and_a_stale_claim_writes_nothing() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = PostgresInbox::connect(&schema.url).await.unwrap();
    let other = PostgresInbox::connect(&schema.url).await.unwrap();
    for id in ["a", "b", "c"] {
        assert!(matches!(
            inbox.insert(record(id)).await.unwrap(),
            Inserted::New(_)
        ));
    }

    // A stale worker: its lease expires, another worker claims the row again.
    let stale = inbox.claim_due(1, Duration::from_millis(30)).await.unwrap();
    let stale = stale.first().unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    let again = other.claim_due(1, Duration::from_secs(60)).await.unwrap();
    let again = again.first().unwrap();
    assert_eq!(again.id, stale.id);
    let done = inbox
        .complete_with(stale.id, stale.claim, &[(INSERT, &[&"stale"])])
        .await
        .unwrap();
    assert!(!done, "a stale claim marks nothing done");
    assert!(schema.side().await.is_empty(), "and inserts nothing");
    assert_eq!(
        inbox.get(stale.id).await.unwrap().unwrap().state,
        RowState::InFlight
    );
    // The holder's insert and done mark commit together.
    let done = other
        .complete_with(again.id, again.claim, &[(INSERT, &[&"fresh"])])
        .await
        .unwrap();
    assert!(done);
    assert_eq!(schema.side().await, ["fresh"]);
    assert_eq!(
        inbox.get(again.id).await.unwrap().unwrap().state,
        RowState::Done
    );
    // Done once: the same claim again changes nothing.
    assert!(
        !other
            .complete_with(again.id, again.claim, &[(INSERT, &[&"twice"])])
            .await
            .unwrap()
    );
    assert_eq!(schema.side().await, ["fresh"]);

    // A failing statement rolls the done mark back: the row stays in flight, complete works.
    let row = inbox.claim_due(1, Duration::from_secs(60)).await.unwrap();
    let row = row.first().unwrap();
    let error = inbox
        .complete_with(
            row.id,
            row.claim,
            &[
                (INSERT, &[&"lost"]),
                ("INSERT INTO missing VALUES (1)", &[]),
            ],
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("42P01"), "{error}");
    assert_eq!(
        inbox.get(row.id).await.unwrap().unwrap().state,
        RowState::InFlight
    );
    assert_eq!(schema.side().await, ["fresh"]);
    assert!(inbox.complete(row.id, row.claim).await.unwrap());

    // PostgresDatabase: the same statements outside the inbox.
    let database = PostgresDatabase::new(&schema.url, 2, Duration::from_secs(5)).unwrap();
    database
        .transaction("insert", &[(INSERT, &[&"direct"]), (INSERT, &[&"direct"])])
        .await
        .unwrap();
    assert_eq!(schema.side().await, ["direct", "fresh"]);
    drop((inbox, other));
    schema.drop_schema().await;
}

/// A handler that completes its row itself (`complete_with`, `completed_by_handler`) is
/// counted completed, not lost; one whose `complete_with` found the lease lost fails, and the
/// worker's fenced `fail` then counts the attempt as lost.
#[tokio::test]
async fn a_worker_counts_a_row_its_handler_completed_as_completed() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = Arc::new(PostgresInbox::connect(&schema.url).await.unwrap());
    for id in ["a", "b"] {
        inbox.insert(record(id)).await.unwrap();
    }
    let handler_inbox = inbox.clone();
    let worker = Worker::new(
        inbox.clone(),
        move |delivered: Delivered| {
            let inbox = handler_inbox.clone();
            async move {
                let id = delivered.row.record.delivery_id.clone();
                let done = inbox
                    .complete_with(delivered.row.id, delivered.row.claim, &[(INSERT, &[&id])])
                    .await
                    .map_err(|error| Failure::retry(error.to_string()))?;
                if !done {
                    return Err(Failure::retry("lease lost"));
                }
                delivered.completed_by_handler();
                Ok(())
            }
        },
        fast(),
    );
    let round = worker.run_once().await.unwrap();
    assert_eq!((round.completed, round.lost, round.retried), (2, 0, 0));
    assert_eq!(schema.side().await, ["a", "b"]);
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.done, stats.in_flight, stats.pending), (2, 0, 0));
    drop((worker, inbox));
    schema.drop_schema().await;
}
