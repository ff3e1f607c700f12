//! The PostgreSQL inbox on a real server (started by `scripts/test`, which exports
//! `HOOKBR_TEST_POSTGRES_URL`): inserts, duplicates, concurrent inserts, inbox mode through
//! the pipeline, workers with retries, dead-letter and replay, expired leases, concurrent
//! migrations, and two instances (separate pools, as two processes) sharing the rows with
//! `FOR UPDATE SKIP LOCKED`. In CI a missing server fails these tests; elsewhere they print a
//! notice and pass without checking anything.
//!
//! Every test works in a schema of its own (`search_path` in the URL), so tests running in
//! parallel never see each other's rows.

#![cfg(all(feature = "postgres", feature = "worker"))]

mod conformance;

use conformance::{fast, record, record_for};

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hookbr_core::{
    Provider,
    inbox::{Inbox, InboxRecord, Inserted, ListFilter, RowState, now_ms},
    privacy::Subject,
};
use hookbr_store::{
    PostgresInbox,
    worker::{Delivered, Worker},
};
use tokio_postgres::NoTls;

/// The server's URL, or `None` (with a notice) outside CI when no server was started.
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

/// A fresh schema for one test, and a URL whose connections create and use tables there.
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
            "t_{}_{}_{}",
            std::process::id(),
            now_ms(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let (admin, connection) = tokio_postgres::connect(&base, NoTls)
            .await
            .expect("connects to HOOKBR_TEST_POSTGRES_URL");
        tokio::spawn(connection);
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("creates the test schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{name}");
        Some(Self { name, url, admin })
    }

    /// A new inbox (its own pool, as another process would have).
    async fn inbox(&self) -> Arc<PostgresInbox> {
        Arc::new(PostgresInbox::connect(&self.url).await.expect("connects"))
    }

    /// A new inbox with one connection (and so one insert committer).
    async fn inbox_of_one_connection(&self) -> PostgresInbox {
        PostgresInbox::connect_with_pool_size(&self.url, 1)
            .await
            .expect("connects")
    }

    async fn drop_schema(self) {
        self.admin
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name))
            .await
            .expect("drops the test schema");
    }
}

#[tokio::test]
async fn insert_duplicate_and_reconnect() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox().await;
    let original = record("a");
    let Inserted::New(id) = inbox.insert(original.clone()).await.unwrap() else {
        panic!("new")
    };
    assert_eq!(
        inbox.insert(record("a")).await.unwrap(),
        Inserted::Duplicate
    );
    drop(inbox);
    let inbox = schema.inbox().await;
    let row = inbox
        .get(id)
        .await
        .unwrap()
        .expect("stored across reconnect");
    assert_eq!(row.record, original, "every field comes back as stored");
    assert_eq!(row.state, RowState::Pending);
    assert_eq!(row.attempts, 0);
    assert_eq!(
        inbox.insert(record("a")).await.unwrap(),
        Inserted::Duplicate
    );
    assert!(inbox.get(id + 1000).await.unwrap().is_none());
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        (stats.pending, stats.in_flight, stats.done, stats.dead),
        (1, 0, 0, 0)
    );
    assert_eq!(stats.oldest_pending_ms, Some(row.record.received_at_ms));
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_never_double_store() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox().await;
    let tasks: Vec<_> = (0..400)
        .map(|n| {
            let inbox = inbox.clone();
            // 200 distinct ids, each sent twice.
            tokio::spawn(async move { inbox.insert(record(&format!("id-{}", n % 200))).await })
        })
        .collect();
    let mut new = 0;
    let mut duplicate = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Inserted::New(_) => new += 1,
            Inserted::Duplicate => duplicate += 1,
        }
    }
    assert_eq!((new, duplicate), (200, 200));
    assert_eq!(inbox.stats().await.unwrap().pending, 200);
    schema.drop_schema().await;
}

/// A Foody delivery for order `uid` that names the customer's e-mail address (the entity
/// index and the subject index both get an entry).
fn foody_with_customer(uid: &str) -> InboxRecord {
    let body = format!(
        r#"{{"uid":"{uid}","updateDate":"2026-12-02T10:00:00Z","event":"order_status_updated","status":"CONFIRMED","customer":{{"email":"{uid}@example.com"}}}}"#
    );
    let id = format!("{uid}-confirmed");
    conformance::raw("foody", Provider::Foody, &id, "application/json", &body)
}

async fn count(schema: &Schema, sql: &str) -> i64 {
    schema
        .admin
        .query_one(&sql.replace("{schema}", &schema.name), &[])
        .await
        .unwrap()
        .get(0)
}

/// Inserts that arrive together are written by one statement in one transaction (every row
/// has the same `xmin`), and each is answered as if written alone: a new id for each first
/// copy, `Duplicate` for the copies queued with it and for deliveries stored before; each row
/// gets its own entity and subject index entries (none for the duplicates), and the counts
/// per state see every row. (The test's runtime has one thread: every insert is queued
/// before the committer runs, so they form one batch.)
#[tokio::test]
async fn inserts_that_arrive_together_share_one_commit() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox_of_one_connection().await;
    let uids: Vec<String> = (0..30).map(|n| format!("order{n}")).collect();
    // The last 5 stored before, one by one.
    let mut stored_before = Vec::new();
    for uid in &uids[25..] {
        match inbox.insert(foody_with_customer(uid)).await.unwrap() {
            Inserted::New(id) => stored_before.push(id),
            Inserted::Duplicate => panic!("{uid} was new"),
        }
    }
    // 30 deliveries, then a copy of each of the first 10.
    let records = uids
        .iter()
        .chain(&uids[..10])
        .map(|uid| foody_with_customer(uid));
    let results = futures_util::future::join_all(records.map(|r| inbox.insert(r))).await;
    let mut ids = Vec::new();
    for (n, result) in results.into_iter().enumerate() {
        match result.expect("inserted") {
            Inserted::New(id) if n < 25 => ids.push(id),
            Inserted::Duplicate if n >= 25 => {}
            other => panic!("insert {n}: {other:?}"),
        }
    }
    for (uid, id) in uids.iter().zip(&ids) {
        let row = inbox.get(*id).await.unwrap().expect("stored");
        assert_eq!(row.record.delivery_id, format!("{uid}-confirmed"));
    }
    let before: Vec<String> = stored_before.iter().map(i64::to_string).collect();
    assert_eq!(
        count(
            &schema,
            &format!(
                "SELECT count(DISTINCT xmin::text) FROM {{schema}}.hookbr_inbox \
                 WHERE id NOT IN ({})",
                before.join(",")
            )
        )
        .await,
        1,
        "one transaction wrote the batch"
    );
    ids.extend(&stored_before);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 30, "a distinct id per delivery");
    assert_eq!(
        count(
            &schema,
            "SELECT count(*) FROM {schema}.hookbr_entity_rows e \
             JOIN {schema}.hookbr_inbox i ON i.id = e.row_id \
             WHERE i.delivery_id = e.entity_id || '-confirmed'"
        )
        .await,
        30,
        "each row's entity is noted on that row"
    );
    assert_eq!(
        count(
            &schema,
            "SELECT count(*) FROM {schema}.hookbr_inbox_subjects"
        )
        .await,
        30
    );
    assert_eq!(inbox.stats().await.unwrap().pending, 30);
    let subject = Subject::parse("order7@example.com").unwrap();
    let erased = inbox.erase_subject(subject).await.unwrap().expect("erased");
    assert_eq!(
        erased.pending, 1,
        "the subject index points at its own row only"
    );
    assert_eq!(
        count(
            &schema,
            "SELECT count(*) FROM {schema}.hookbr_inbox WHERE delivery_id = 'order7-confirmed' \
             AND body_removed_at IS NOT NULL"
        )
        .await,
        1
    );
    schema.drop_schema().await;
}

/// A row PostgreSQL refuses (a NUL character in a text column) fails its batch statement; the
/// batch's other rows are then written one by one and stored, and only that request is
/// refused, with an error that names the operation and not the value.
#[tokio::test]
async fn a_row_that_fails_costs_only_its_own_insert() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox_of_one_connection().await;
    let records = (0..12).map(|n| {
        if n == 5 {
            record("poison\0id")
        } else {
            record(&format!("good-{n}"))
        }
    });
    let results = futures_util::future::join_all(records.map(|r| inbox.insert(r))).await;
    for (n, result) in results.into_iter().enumerate() {
        if n == 5 {
            let error = result
                .expect_err("PostgreSQL refuses NUL in text")
                .to_string();
            assert!(error.contains("postgres: insert"), "{error}");
            assert!(!error.contains("poison"), "{error}");
        } else {
            assert!(
                matches!(result, Ok(Inserted::New(_))),
                "insert {n}: {result:?}"
            );
        }
    }
    assert_eq!(inbox.stats().await.unwrap().pending, 11);
    schema.drop_schema().await;
}

/// A batch whose bodies add up to more than 16 MiB is written by several statements (one
/// transaction each), every row stored and answered.
#[tokio::test]
async fn large_bodies_are_written_by_several_statements() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox_of_one_connection().await;
    let pad = "x".repeat(9 << 20);
    let records = (0..3).map(|n| {
        let body = format!(r#"{{"Uuid":"large-{n}","pad":"{pad}"}}"#);
        conformance::raw(
            "bonifiq",
            Provider::Bonifiq,
            &format!("large-{n}"),
            "application/json",
            &body,
        )
    });
    let results = futures_util::future::join_all(records.map(|r| inbox.insert(r))).await;
    for result in results {
        assert!(matches!(result, Ok(Inserted::New(_))), "{result:?}");
    }
    assert_eq!(
        count(
            &schema,
            "SELECT count(DISTINCT xmin::text) FROM {schema}.hookbr_inbox"
        )
        .await,
        3,
        "9 MiB bodies: one statement each"
    );
    schema.drop_schema().await;
}

/// A queued row whose request went away before a committer took it (its client disconnected:
/// nothing was acknowledged) is not written; the rows queued with it are.
#[tokio::test]
async fn a_row_whose_request_went_away_is_not_written() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox_of_one_connection().await;
    // Polled once, the insert queues its row and waits; dropping it is the request going
    // away. (One thread: the committer has not run yet.)
    assert!(
        futures_util::FutureExt::now_or_never(inbox.insert(record("gone"))).is_none(),
        "nothing is committed before the committer runs"
    );
    assert!(matches!(
        inbox.insert(record("kept")).await,
        Ok(Inserted::New(_))
    ));
    let stored: Vec<String> = inbox
        .list(ListFilter::new())
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.record.delivery_id)
        .collect();
    assert_eq!(stored, ["kept"]);
    schema.drop_schema().await;
}

#[tokio::test]
async fn concurrent_connects_migrate_once() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let (a, b, c) = tokio::join!(
        PostgresInbox::connect(&schema.url),
        PostgresInbox::connect(&schema.url),
        PostgresInbox::connect(&schema.url),
    );
    let (a, b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let versions: i64 = schema
        .admin
        .query_one(
            &format!("SELECT COUNT(*) FROM {}.hookbr_schema_version", schema.name),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(versions, 9, "each of the nine migrations ran once");
    let Inserted::New(id) = a.insert(record("m")).await.unwrap() else {
        panic!("new")
    };
    assert_eq!(b.get(id).await.unwrap().unwrap().record.delivery_id, "m");
    schema.drop_schema().await;
}

#[tokio::test]
async fn refuses_sessions_without_synchronous_commit() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let url = format!("{}%20-csynchronous_commit%3Doff", schema.url);
    let error = PostgresInbox::connect(&url).await.unwrap_err();
    assert!(error.to_string().contains("synchronous_commit"), "{error}");
    schema.drop_schema().await;
}

#[tokio::test]
async fn errors_name_the_operation_not_the_url() {
    if postgres_url().is_none() {
        return;
    }
    // Nothing listens on port 1.
    let error = PostgresInbox::connect("postgres://hookbr:hunter2@127.0.0.1:1/db")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("postgres: connect: "), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
    let error = PostgresInbox::connect("postgres://hookbr:hunter2@127.0.0.1/db?nonsense=1")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.ends_with("postgres: connect: invalid connection URL"),
        "{error}"
    );
}

#[tokio::test]
async fn list_filters_by_state_provider_and_time() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox().await;
    let mut old = record_for("foody:shop", "f1");
    old.received_at_ms -= 60_000;
    inbox.insert(old).await.unwrap();
    inbox.insert(record_for("foody", "f2")).await.unwrap();
    inbox.insert(record_for("foodyx", "f3")).await.unwrap();
    for n in 0..3 {
        inbox.insert(record(&format!("b{n}"))).await.unwrap();
    }
    let ids = |rows: Vec<hookbr_core::inbox::InboxRow>| {
        rows.into_iter()
            .map(|row| row.record.delivery_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(inbox.list(ListFilter::new()).await.unwrap()),
        ["b2", "b1", "b0", "f3", "f2", "f1"],
        "newest first"
    );
    assert_eq!(
        ids(inbox
            .list(ListFilter::new().provider("foody"))
            .await
            .unwrap()),
        ["f2", "f1"],
        "a provider matches its endpoints, not a longer name"
    );
    assert_eq!(
        ids(inbox
            .list(
                ListFilter::new()
                    .provider("foody")
                    .since_ms(now_ms() - 30_000)
            )
            .await
            .unwrap()),
        ["f2"]
    );
    assert_eq!(
        ids(inbox.list(ListFilter::new().limit(2)).await.unwrap()),
        ["b2", "b1"]
    );
    let claimed = inbox.claim_due(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(ids(claimed), ["f1"], "the oldest due row first");
    assert_eq!(
        ids(inbox
            .list(ListFilter::new().state(RowState::InFlight))
            .await
            .unwrap()),
        ["f1"]
    );
    assert!(
        inbox
            .list(ListFilter::new().state(RowState::Dead))
            .await
            .unwrap()
            .is_empty()
    );
    schema.drop_schema().await;
}

#[tokio::test]
async fn inbox_mode_answers_200_only_for_stored_rows() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox().await;
    conformance::inbox_mode_answers_200_only_for_stored_rows(inbox).await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn the_signature_ledger_outlives_rows_and_restarts() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    conformance::the_signature_ledger_outlives_rows_and_restarts(|| async {
        schema.inbox().await as Arc<dyn Inbox>
    })
    .await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn worker_completes_retries_dead_letters_and_replays() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox().await;
    conformance::worker_completes_retries_dead_letters_and_replays(inbox).await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn panicking_handler_is_retried() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox().await;
    conformance::panicking_handler_is_retried(inbox).await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn expired_leases_are_claimed_again() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox().await;
    inbox.insert(record("l")).await.unwrap();
    let first = inbox
        .claim_due(10, Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].state, RowState::InFlight);
    assert!(
        inbox
            .claim_due(10, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    // Another instance takes over the crashed worker's row.
    let other = schema.inbox().await;
    let again = other.claim_due(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        again.len(),
        1,
        "a crashed worker's rows come back after the lease"
    );
    assert_eq!(again[0].attempts, 2);
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_handle_every_row_exactly_once() {
    const ROWS: usize = 300;
    let Some(schema) = Schema::new().await else {
        return;
    };
    // Two pools, as two processes behind a load balancer would have.
    let instances = [schema.inbox().await, schema.inbox().await];
    for n in 0..ROWS {
        let inbox = &instances[n % 2];
        assert!(matches!(
            inbox.insert(record(&format!("row-{n}"))).await.unwrap(),
            Inserted::New(_)
        ));
    }
    let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let per_instance: Arc<[AtomicUsize; 2]> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    let workers: Vec<_> = instances
        .iter()
        .enumerate()
        .map(|(index, inbox)| {
            let (calls, per_instance, inbox) = (calls.clone(), per_instance.clone(), inbox.clone());
            tokio::spawn(async move {
                let worker = Worker::new(
                    inbox.clone(),
                    move |delivered: Delivered| {
                        *calls
                            .lock()
                            .unwrap()
                            .entry(delivered.row.record.delivery_id.clone())
                            .or_default() += 1;
                        per_instance[index].fetch_add(1, Ordering::SeqCst);
                        async {
                            // Long enough for the two workers' claims to interleave.
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            Ok::<(), String>(())
                        }
                    },
                    fast(),
                );
                loop {
                    worker.run_once().await.unwrap();
                    if inbox.stats().await.unwrap().done == ROWS as u64 {
                        break;
                    }
                    assert!(Instant::now() < deadline, "the rows were not all handled");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let stats = instances[0].stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.pending, stats.in_flight),
        (ROWS as u64, 0, 0)
    );
    {
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), ROWS, "every row handled");
        assert!(
            calls.values().all(|&n| n == 1),
            "no row handled twice: {:?}",
            calls.iter().filter(|(_, n)| **n != 1).collect::<Vec<_>>()
        );
    }
    let handled = [
        per_instance[0].load(Ordering::SeqCst),
        per_instance[1].load(Ordering::SeqCst),
    ];
    assert_eq!(handled[0] + handled[1], ROWS);
    assert!(
        handled.iter().all(|&n| n > 0),
        "both instances took rows: {handled:?}"
    );
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_stale_worker_cannot_change_a_row_claimed_again() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    conformance::a_stale_worker_cannot_change_a_row_claimed_again(
        schema.inbox().await,
        schema.inbox().await,
    )
    .await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_lost_its_lease_is_refused_and_the_row_completes_once() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    conformance::a_worker_that_lost_its_lease_is_refused_and_the_row_completes_once(
        schema.inbox().await,
        schema.inbox().await,
    )
    .await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_leases_keep_a_slow_batch_with_its_worker() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    conformance::renewed_leases_keep_a_slow_batch_with_its_worker(
        schema.inbox().await,
        schema.inbox().await,
    )
    .await;
    schema.drop_schema().await;
}

/// A schema at version 1 (before claim tokens), with a row in flight, upgrades in place.
#[tokio::test]
async fn version_1_schemas_upgrade_in_place() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    schema
        .admin
        .batch_execute(&format!(
            r"SET search_path = {name};
             CREATE TABLE hookbr_schema_version (version INTEGER PRIMARY KEY,
                applied_at BIGINT NOT NULL);
             INSERT INTO hookbr_schema_version VALUES (1, 0);
             CREATE TABLE hookbr_inbox (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, endpoint TEXT NOT NULL,
                delivery_id TEXT NOT NULL, dedup_key BYTEA NOT NULL UNIQUE, body BYTEA NOT NULL,
                headers TEXT NOT NULL, matched_key TEXT NOT NULL, received_at BIGINT NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'in_flight', 'done', 'dead')),
                attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at BIGINT NOT NULL,
                lease_until BIGINT, last_error TEXT, completed_at BIGINT);
             INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers,
                matched_key, received_at, state, attempts, next_attempt_at, lease_until)
                VALUES ('bonifiq', 'old', '\x00112233445566778899aabbccddeeff', '\x7b7d', '[]',
                '#0', 1, 'in_flight', 1, 1, 1);
             INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers,
                matched_key, received_at, state, attempts, next_attempt_at)
                VALUES ('iset', 'old-done', '\x00112233445566778899aabbccddeefe', '\x7b22637066223a223532393938323234373235227d',
                '[]', '#0', 1, 'done', 1, 1);
             RESET search_path;",
            name = schema.name
        ))
        .await
        .unwrap();
    let inbox = schema.inbox().await;
    let rows = inbox.claim_due(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        rows.len(),
        1,
        "the expired in-flight row of the old version"
    );
    assert_eq!(
        (rows[0].record.delivery_id.as_str(), rows[0].attempts),
        ("old", 2)
    );
    assert_ne!(rows[0].claim, 0, "claimed with a token");
    assert!(
        !inbox.complete(rows[0].id, 0).await.unwrap(),
        "the pre-upgrade token is stale"
    );
    assert!(inbox.complete(rows[0].id, rows[0].claim).await.unwrap());
    let version: i32 = schema
        .admin
        .query_one(
            &format!(
                "SELECT MAX(version) FROM {}.hookbr_schema_version",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // Claim tokens (2), the signature ledger (3), the indexes per state (4), the drift
    // watch's tables (5), the entity index and the ordering guard (6), the encryption key ids
    // (7), the subject index and body retention (8), then the trigger-kept counts (9).
    assert_eq!(version, 9);
    // Rows stored before the subject index are indexed by the first erasure.
    let erased = inbox
        .erase_subject(hookbr_core::privacy::Subject::parse("529.982.247-25").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((erased.rows(), erased.done), (1, 1));
    schema.drop_schema().await;
}

#[tokio::test]
async fn the_drift_watch_is_kept_and_merged() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    conformance::the_drift_watch_is_kept_and_merged(|| async {
        schema.inbox().await as Arc<dyn Inbox>
    })
    .await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn outcomes_are_recorded_in_batches_fenced_by_claim() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    conformance::outcomes_are_recorded_in_batches_fenced_by_claim(
        schema.inbox().await,
        schema.inbox().await,
    )
    .await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_worker_runs_at_most_concurrency_handlers_at_once() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    conformance::a_worker_runs_at_most_concurrency_handlers_at_once(schema.inbox().await).await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_leases_keep_a_slow_concurrent_batch_with_its_worker() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    conformance::renewed_leases_keep_a_slow_concurrent_batch_with_its_worker(
        schema.inbox().await,
        schema.inbox().await,
    )
    .await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn entities_are_indexed_and_judged() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    conformance::entities_are_indexed_and_judged(schema.inbox().await).await;
}

/// Erasure on request: every row of the subject, in every state, loses its body; no table of
/// the schema holds any spelling of the subject (as text or as bytes), others' rows are
/// untouched.
#[tokio::test]
async fn erasure_removes_every_trace_from_the_tables() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let inbox = schema.inbox().await;
    conformance::erasure_removes_every_trace(inbox.clone()).await;
    let tables: Vec<String> = schema
        .admin
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
            &[&schema.name],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(tables.len() >= 6, "{tables:?}");
    let count = |table: &str, needle: &str| {
        let sql = format!(
            "SELECT count(*) FROM {}.{table} AS t WHERE strpos(lower(t::text), $1) > 0 \
             OR strpos(t::text, encode(convert_to($1, 'UTF8'), 'hex')) > 0",
            schema.name
        );
        let admin = &schema.admin;
        let needle = needle.to_owned();
        async move {
            admin
                .query_one(&sql, &[&needle])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    for table in &tables {
        for spelling in conformance::SUBJECT_SPELLINGS {
            assert_eq!(count(table, spelling).await, 0, "{spelling} in {table}");
        }
    }
    assert_eq!(
        count("hookbr_inbox", "maria").await,
        2,
        "others' rows are kept"
    );
    schema.drop_schema().await;
}

#[tokio::test]
async fn bodies_are_dropped_before_keys() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    conformance::bodies_are_dropped_before_keys(schema.inbox().await).await;
    schema.drop_schema().await;
}

/// `stats` against a count of every row, per state.
async fn assert_counts_exact(schema: &Schema, inbox: &PostgresInbox, step: &str) {
    let stats = inbox.stats().await.unwrap();
    let row = schema
        .admin
        .query_one(
            &format!(
                "SELECT COUNT(*) FILTER (WHERE state = 'pending'), \
                 COUNT(*) FILTER (WHERE state = 'in_flight'), \
                 COUNT(*) FILTER (WHERE state = 'done'), \
                 COUNT(*) FILTER (WHERE state = 'dead') FROM {}.hookbr_inbox",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap();
    let counted: Vec<u64> = (0..4)
        .map(|index| u64::try_from(row.get::<_, i64>(index)).unwrap())
        .collect();
    assert_eq!(
        vec![stats.pending, stats.in_flight, stats.done, stats.dead],
        counted,
        "after {step}"
    );
}

/// A schema of version 1 with rows in every state migrates to trigger-kept counts that start
/// exact and stay exact through insert, claim, complete, fail, replay and prune, with
/// concurrent writers on several connections.
#[tokio::test]
async fn stats_counts_stay_exact_from_a_migrated_table() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    schema
        .admin
        .batch_execute(&format!(
            r"SET search_path = {name};
             CREATE TABLE hookbr_schema_version (version INTEGER PRIMARY KEY,
                applied_at BIGINT NOT NULL);
             INSERT INTO hookbr_schema_version VALUES (1, 0);
             CREATE TABLE hookbr_inbox (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, endpoint TEXT NOT NULL,
                delivery_id TEXT NOT NULL, dedup_key BYTEA NOT NULL UNIQUE, body BYTEA NOT NULL,
                headers TEXT NOT NULL, matched_key TEXT NOT NULL, received_at BIGINT NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'in_flight', 'done', 'dead')),
                attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at BIGINT NOT NULL,
                lease_until BIGINT, last_error TEXT, completed_at BIGINT);
             INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers,
                matched_key, received_at, state, next_attempt_at, lease_until)
                SELECT 'bonifiq', 'old-' || n, sha256(('old-' || n)::bytea), '\x7b7d', '[]',
                '#0', 1, (ARRAY['pending', 'in_flight', 'done', 'dead'])[1 + n % 4], 1,
                CASE WHEN n % 4 = 1 THEN 1 END
                FROM generate_series(0, 40) AS n;
             RESET search_path;",
            name = schema.name
        ))
        .await
        .unwrap();
    let inbox = schema.inbox().await;
    assert_counts_exact(&schema, &inbox, "the migration").await;
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        (stats.pending, stats.in_flight, stats.done, stats.dead),
        (11, 10, 10, 10)
    );

    // Concurrent inserts (duplicates among them) from several connections.
    let inserts: Vec<_> = (0..40)
        .map(|n| {
            let inbox = inbox.clone();
            tokio::spawn(async move { inbox.insert(record(&format!("new-{}", n % 30))).await })
        })
        .collect();
    for inserted in inserts {
        inserted.await.unwrap().unwrap();
    }
    assert_counts_exact(&schema, &inbox, "inserts").await;

    let claimed = inbox.claim_due(12, Duration::from_secs(60)).await.unwrap();
    assert_eq!(claimed.len(), 12);
    assert_counts_exact(&schema, &inbox, "a claim").await;

    assert!(
        inbox
            .complete(claimed[0].id, claimed[0].claim)
            .await
            .unwrap()
    );
    assert!(
        !inbox
            .complete(claimed[0].id, claimed[0].claim)
            .await
            .unwrap()
    );
    let retry = Some(now_ms() + 60_000);
    assert!(
        inbox
            .fail(claimed[1].id, claimed[1].claim, "retry".into(), retry)
            .await
            .unwrap()
    );
    assert!(
        inbox
            .fail(claimed[2].id, claimed[2].claim, "dead".into(), None)
            .await
            .unwrap()
    );
    assert_counts_exact(&schema, &inbox, "complete and fail").await;

    let pairs: Vec<(i64, i64)> = claimed[3..8]
        .iter()
        .map(|row| (row.id, row.claim))
        .collect();
    assert!(
        inbox
            .complete_many(&pairs)
            .await
            .unwrap()
            .iter()
            .all(|&done| done)
    );
    assert!(
        inbox
            .renew(claimed[8].id, claimed[8].claim, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert_counts_exact(&schema, &inbox, "a batch of completes and a renewal").await;

    assert!(inbox.replay(claimed[2].id).await.unwrap());
    assert_counts_exact(&schema, &inbox, "a replay").await;
    assert!(inbox.replay_dead().await.unwrap() > 0);
    assert_counts_exact(&schema, &inbox, "replaying the dead").await;

    assert!(inbox.prune(now_ms() + 3_600_000).await.unwrap() > 0);
    assert_counts_exact(&schema, &inbox, "a prune").await;
    let stats = inbox.stats().await.unwrap();
    assert_eq!(stats.done, 0);
    schema.drop_schema().await;
}

#[tokio::test]
async fn the_oldest_open_row_per_provider_is_found() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    conformance::the_oldest_open_row_per_provider_is_found(schema.inbox().await).await;
    schema.drop_schema().await;
}
