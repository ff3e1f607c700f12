//! Inbox mode survives `kill -9`: a real server process (`bench-server inbox-sqlite` or
//! `inbox-postgres`) is killed with SIGKILL at irregular moments (at least 10 times) during a
//! bounded load and restarted; deliveries without an answer are retried, as providers do.
//! Afterwards every delivery that got a `200` is stored exactly once and ends completed.
//!
//! The PostgreSQL variants need `HOOKBR_TEST_POSTGRES_URL` (set by `scripts/test`); in CI a
//! missing server fails them, elsewhere they print a notice and pass.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    net::{SocketAddr, TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hookbr_core::{
    inbox::{Inbox, ListFilter, RowState},
    testkit::{self, TestDelivery},
};
use hookbr_store::{PostgresInbox, SqliteInbox};
use tokio_postgres::NoTls;

const DELIVERIES: usize = 3000;
const MIN_KILLS: usize = 10;
const TIME_LIMIT: Duration = Duration::from_secs(90);

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

fn start(mode: &str, addr: SocketAddr, database: &str) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_bench-server"))
        .args([mode, &addr.to_string(), database])
        .env("HOOKBR_WORKER_LEASE_MS", "300")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bench-server starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn uuid_of(delivery: &TestDelivery) -> String {
    let body: serde_json::Value = serde_json::from_slice(&delivery.body).expect("JSON");
    body["Uuid"].as_str().expect("Uuid").to_owned()
}

/// A PostgreSQL URL whose tables live in a fresh schema, or `None` outside CI without a server.
async fn postgres_schema() -> Option<String> {
    let base = match std::env::var("HOOKBR_TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("HOOKBR_TEST_POSTGRES_URL is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!("NOTICE: HOOKBR_TEST_POSTGRES_URL not set; PostgreSQL test skipped");
            return None;
        }
    };
    let (admin, connection) = tokio_postgres::connect(&base, NoTls)
        .await
        .expect("connects");
    tokio::spawn(connection);
    let name = format!(
        "crash_{}_{}",
        std::process::id(),
        hookbr_core::inbox::now_ms()
    );
    admin
        .batch_execute(&format!("CREATE SCHEMA {name}"))
        .await
        .expect("creates a schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{separator}options=-csearch_path%3D{name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_acknowledged_delivery_is_stored_once_and_completed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("inbox.sqlite3");
    let database = database.to_str().expect("UTF-8 path").to_owned();
    crash_test("inbox-sqlite", &database, || async {
        Arc::new(SqliteInbox::open(&database).expect("open")) as Arc<dyn Inbox>
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_acknowledged_delivery_is_stored_once_and_completed() {
    let Some(url) = postgres_schema().await else {
        return;
    };
    crash_test("inbox-postgres", &url, || async {
        Arc::new(PostgresInbox::connect(&url).await.expect("connect")) as Arc<dyn Inbox>
    })
    .await;
}

async fn crash_test<F, O>(mode: &'static str, database: &str, open: O)
where
    O: Fn() -> F,
    F: std::future::Future<Output = Arc<dyn Inbox>>,
{
    let addr = free_addr();
    let server = Arc::new(Mutex::new(start(mode, addr, database)));

    let queue: Arc<Mutex<VecDeque<TestDelivery>>> = Arc::new(Mutex::new(
        (0..DELIVERIES)
            .map(|_| testkit::bonifiq_point_add("bench-secret").with_target("/bonifiq"))
            .collect(),
    ));
    let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();
    let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();

    // The killer: SIGKILL at irregular moments, then restart on the same address.
    let killer = {
        let server = server.clone();
        let queue = queue.clone();
        let database = database.to_owned();
        std::thread::spawn(move || {
            let mut kills = 0;
            let mut pause = 40u64;
            // At least MIN_KILLS, at most twice that: enough crashes, and a load that ends.
            while kills < MIN_KILLS
                || (kills < 2 * MIN_KILLS && !queue.lock().expect("lock").is_empty())
            {
                if started.elapsed() > TIME_LIMIT {
                    break;
                }
                pause = (pause * 7 + 13) % 120 + 30; // 30..150 ms, irregular
                std::thread::sleep(Duration::from_millis(pause));
                let mut child = server.lock().expect("lock");
                let _ = child.kill(); // SIGKILL
                let _ = child.wait();
                kills += 1;
                *child = start(mode, addr, &database);
            }
            kills
        })
    };

    // The provider: 8 senders; no answer (connection reset by the kill) means retry later.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let (client, queue, acknowledged) =
                (client.clone(), queue.clone(), acknowledged.clone());
            let retries = retries.clone();
            tokio::spawn(async move {
                while started.elapsed() < TIME_LIMIT {
                    let Some(delivery) = queue.lock().expect("lock").pop_front() else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    let mut request = client
                        .post(format!("http://{addr}/bonifiq"))
                        .body(delivery.body.clone());
                    for (name, value) in &delivery.headers {
                        request = request.header(name, value);
                    }
                    match request.send().await {
                        Ok(response) if response.status() == 200 => {
                            acknowledged
                                .lock()
                                .expect("lock")
                                .insert(uuid_of(&delivery));
                        }
                        Ok(response) => panic!("unexpected status {}", response.status()),
                        Err(_) => {
                            retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            queue.lock().expect("lock").push_back(delivery);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                }
            })
        })
        .collect();

    let kills = tokio::task::spawn_blocking(move || killer.join().expect("killer"))
        .await
        .expect("join");
    // Let in-flight sends finish against the last server, then stop the senders.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !queue.lock().expect("lock").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for sender in senders {
        sender.abort();
    }
    assert!(kills >= MIN_KILLS, "only {kills} kills");
    let retries = retries.load(std::sync::atomic::Ordering::Relaxed);
    assert!(retries > 0, "the kills hit requests in flight");
    eprintln!("{kills} kills, {retries} sends retried after a kill");
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert_eq!(
        acknowledged.len(),
        DELIVERIES,
        "every delivery was eventually acknowledged"
    );

    // The last server's worker finishes the backlog (leases of killed workers expire in 300 ms).
    let inbox = open().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = inbox.stats().await.expect("stats");
        if stats.pending == 0 && stats.in_flight == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "backlog not drained: {stats:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    {
        let mut child = server.lock().expect("lock");
        let _ = child.kill();
        let _ = child.wait();
    }

    let rows = inbox
        .list(ListFilter::new().limit(100_000))
        .await
        .expect("list");
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for row in &rows {
        *per_id.entry(row.record.delivery_id.as_str()).or_default() += 1;
        assert_eq!(row.state, RowState::Done, "row {} not completed", row.id);
    }
    for uuid in &acknowledged {
        assert_eq!(
            per_id.get(uuid.as_str()),
            Some(&1),
            "{uuid}: acknowledged but stored {:?} times",
            per_id.get(uuid.as_str())
        );
    }
    assert_eq!(rows.len(), DELIVERIES, "nothing stored that was not sent");
}

/// Two server processes on one PostgreSQL inbox: 1,000 concurrent copies of one delivery,
/// spread over both, store it once; every copy gets `200` (one stored, the rest duplicates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_postgres_store_a_delivery_once() {
    let Some(url) = postgres_schema().await else {
        return;
    };
    let delivery = testkit::bonifiq_point_add("bench-secret").with_target("/bonifiq");
    let answers = copies_on_two_processes("inbox-postgres", &url, &delivery).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|(_, duplicate)| !duplicate).count(),
        1
    );
    let inbox = PostgresInbox::connect(&url).await.expect("connect");
    let rows = inbox.list(ListFilter::new().limit(10)).await.expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].record.delivery_id, uuid_of(&delivery));
}

/// Two server processes in direct mode sharing dedup on Redis: 1,000 concurrent copies of one
/// delivery spread over both are processed once (one plain `200`); every other copy gets `409`
/// (in flight) or `200` + `Hookbr-Duplicate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_redis_process_a_delivery_once() {
    let url = match std::env::var("HOOKBR_TEST_REDIS_URL") {
        Ok(url) => url,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("HOOKBR_TEST_REDIS_URL is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!("NOTICE: HOOKBR_TEST_REDIS_URL not set; Redis test skipped");
            return;
        }
    };
    let delivery = testkit::bonifiq_point_add("bench-secret").with_target("/bonifiq");
    let answers = copies_on_two_processes("redis-direct", &url, &delivery).await;
    let processed = answers.iter().filter(|a| **a == (200, false)).count();
    let others_ok = answers
        .iter()
        .all(|a| *a == (200, false) || *a == (200, true) || a.0 == 409);
    assert_eq!(processed, 1, "{answers:?}");
    assert!(others_ok, "{answers:?}");
}

/// Starts two `bench-server <mode>` processes on `database`, sends them 1,000 concurrent copies
/// of `delivery` (alternating), stops them, and returns each answer's (status, duplicate header).
async fn copies_on_two_processes(
    mode: &str,
    database: &str,
    delivery: &TestDelivery,
) -> Vec<(u16, bool)> {
    let addrs = [free_addr(), free_addr()];
    let mut servers: Vec<Child> = addrs
        .iter()
        .map(|addr| start(mode, *addr, database))
        .collect();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let answers = futures_util::future::join_all((0..1000).map(|n| {
        let mut request = client
            .post(format!("http://{}/bonifiq", addrs[n % 2]))
            .body(delivery.body.clone());
        for (name, value) in &delivery.headers {
            request = request.header(name, value);
        }
        async move {
            let response = request.send().await.expect("answer");
            (
                response.status().as_u16(),
                response.headers().contains_key("hookbr-duplicate"),
            )
        }
    }))
    .await;
    for server in &mut servers {
        let _ = server.kill();
        let _ = server.wait();
    }
    answers
}
