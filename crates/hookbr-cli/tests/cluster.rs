//! Three `hookbr serve` processes tested as one deployment: three loopback ports, one
//! PostgreSQL inbox (a fresh schema), one JetStream stream (a fresh name and subject), a worker
//! in each. A client spreads 5,000 deliveries of the four providers (built and authenticated
//! by hookbr-sim as each provider does) over the three ports, re-sends a delivery that got no
//! 2xx later (bounded attempts, backoff, another port, as behind a load balancer) and sends
//! some to two instances at once; meanwhile a killer `kill -9`s a random instance at least 10
//! times and restarts it on the same ports (waiting for its `/healthz`). At the end every
//! acknowledged delivery is in the stream exactly once (counted by `Nats-Msg-Id`) and in the
//! `type = "postgres"` table sink exactly once (by `webhook_id`; the table lives in the inbox's
//! database, so each row is inserted in the transaction that marks its inbox row done), nothing
//! is there that was never sent, and the inbox holds one `done` row per delivery.
//!
//! The sinks under test are a list: each has its `[[sink]]` table and a way to read back the
//! webhook ids it holds, and one function checks each against the acknowledged ids, which are
//! computed once.
//!
//! Needs `HOOKBR_TEST_POSTGRES_URL` and `HOOKBR_TEST_NATS_URL` (`scripts/test` starts both);
//! without them it prints a notice and passes, in CI it fails. Everything is bounded: the whole
//! test by [`TEST_DEADLINE`], every loop by a count and a deadline; every child process is
//! killed when the test ends.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    fs::File,
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use async_nats::jetstream;
use hookbr_core::{DeliveryId, Provider};
use hookbr_sim::{Credentials, Outgoing, SigningKey, send};
use serde_json::Value;

/// Deliveries sent (a quarter per provider).
const DELIVERIES: usize = 5_000;
/// `hookbr serve` processes.
const INSTANCES: usize = 3;
/// Kills during the run: at least this many...
const MIN_KILLS: usize = 10;
/// ...and at most this many.
const MAX_KILLS: usize = 40;
/// Requests in flight at once (a delivery waiting for its retry holds none).
const CONCURRENCY: usize = 24;
/// Every `COPY_EVERY`-th delivery is first sent to two instances at once.
const COPY_EVERY: usize = 8;
/// Attempts per delivery before the client gives up on it.
const MAX_ATTEMPTS: u32 = 30;
/// One attempt's timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole test, set-up to checks.
const TEST_DEADLINE: Duration = Duration::from_secs(170);
/// Sending and killing.
const LOAD_DEADLINE: Duration = Duration::from_secs(110);
/// An instance must answer `/healthz` within this time of being started.
const START_WAIT: Duration = Duration::from_secs(30);

const BONIFIQ_SECRET: &str = "bq-cluster-s3cr3t-8f2a61";
const FOODY_TOKEN: &str = "fd-cluster-t0ken-41c9e7";
const ISET_SECRET: &str = "iset-cluster-s3cr3t-9b07";

/// The four endpoints: provider and path (the path is the route's dedup namespace).
const ENDPOINTS: [(Provider, &str); 4] = [
    (Provider::Bonifiq, "/webhooks/bonifiq"),
    (Provider::Foody, "/webhooks/foody"),
    (Provider::Iset, "/webhooks/iset/orders"),
    (Provider::Grafeno, "/webhooks/grafeno"),
];

/// Environment variables and proxy settings the children must not inherit.
const UNSET: [&str; 8] = [
    "HOOKBR_LOG",
    "HOOKBR_REDIS_URL",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// `name`'s value, or `None` (with a notice) outside CI.
fn service(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{name} is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!("NOTICE: {name} not set (run scripts/test): cluster test skipped");
            None
        }
    }
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// xorshift64*: the test's choices (ports, pauses, victims), reproducible from the seed it
/// prints.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

/// The webhook id hookbr gives a delivery (`msg_` + the hex of its key in the route's
/// namespace): the sinks' `Nats-Msg-Id`, `webhook-id`, and the inbox's `dedup_key`.
fn webhook_id(provider: Provider, path: &str, delivery_id: &str) -> String {
    let key = DeliveryId::new(provider, delivery_id)
        .in_namespace(Some(path.into()))
        .key();
    format!("msg_{}", hex(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// One delivery of the load.
#[derive(Debug)]
struct Delivery {
    outgoing: Outgoing,
    path: &'static str,
    webhook_id: String,
}

/// What the client sent and what was acknowledged: computed once, checked against every sink
/// and the inbox.
#[derive(Debug, Default)]
struct Ledger {
    /// Every delivery sent: webhook id → delivery id.
    sent: HashMap<String, String>,
    /// The webhook ids of the deliveries that got a 2xx (exactly 200 for Foody).
    acknowledged: HashSet<String>,
}

/// One stored copy of a delivery, as a sink or the inbox holds it.
#[derive(Debug)]
struct Stored {
    webhook_id: String,
    /// The delivery id the stored copy names, when it names one.
    delivery_id: Option<String>,
}

/// What a sink (or the inbox) holds against the ledger.
#[derive(Debug, Default)]
struct Counts {
    stored: usize,
    distinct: usize,
    duplicates: usize,
    missing: usize,
    never_sent: usize,
    wrong_delivery_id: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} stored, {} distinct, {} duplicates, {} acknowledged but missing, {} never sent, \
             {} with another delivery id",
            self.stored,
            self.distinct,
            self.duplicates,
            self.missing,
            self.never_sent,
            self.wrong_delivery_id
        )
    }
}

/// Checks what `what` holds: every acknowledged delivery exactly once, nothing that was never
/// sent, each copy naming its own delivery id. Returns the counts (printed by the caller).
fn check_stored(what: &str, stored: &[Stored], ledger: &Ledger) -> Counts {
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    let mut counts = Counts {
        stored: stored.len(),
        ..Counts::default()
    };
    for copy in stored {
        *per_id.entry(copy.webhook_id.as_str()).or_default() += 1;
        match ledger.sent.get(&copy.webhook_id) {
            None => counts.never_sent += 1,
            Some(sent) => {
                if copy.delivery_id.as_ref().is_some_and(|id| id != sent) {
                    counts.wrong_delivery_id += 1;
                }
            }
        }
    }
    counts.distinct = per_id.len();
    counts.duplicates = per_id.values().map(|n| n - 1).sum();
    counts.missing = ledger
        .acknowledged
        .iter()
        .filter(|id| !per_id.contains_key(id.as_str()))
        .count();
    let duplicated: Vec<&&str> = per_id
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .take(5)
        .collect();
    assert!(
        counts.duplicates == 0
            && counts.missing == 0
            && counts.never_sent == 0
            && counts.wrong_delivery_id == 0,
        "{what}: {counts} (duplicated, first 5: {duplicated:?})"
    );
    counts
}

/// A sink of the deployment under test: its `[[sink]]` table, and what it holds once the
/// inbox is drained.
trait SinkUnderTest {
    /// A name for the report.
    fn name(&self) -> String;
    /// The `[[sink]]` table in every instance's `hookbr.toml`.
    fn config(&self) -> String;
    /// Every copy the sink holds, with its webhook id.
    fn stored(&self, rt: &tokio::runtime::Runtime) -> Vec<Stored>;
}

/// A JetStream stream of its own: every message, by `Nats-Msg-Id`.
struct NatsStream {
    url: String,
    js: jetstream::Context,
    stream: String,
    prefix: String,
}

impl NatsStream {
    /// Creates a stream with a 10-minute duplicate window (longer than the whole run and the
    /// worker's longest backoff) capturing `<prefix>.>`.
    fn create(rt: &tokio::runtime::Runtime, url: &str) -> Self {
        let prefix = format!("cl{}x{}", nanos() % 1_000_000_000_000, std::process::id());
        let stream = prefix.to_uppercase();
        let js = rt.block_on(async {
            let client = tokio::time::timeout(Duration::from_secs(10), async_nats::connect(url))
                .await
                .expect("connects to NATS within 10 s")
                .expect("connects to NATS");
            let js = jetstream::new(client);
            js.create_stream(jetstream::stream::Config {
                name: stream.clone(),
                subjects: vec![format!("{prefix}.>")],
                duplicate_window: Duration::from_secs(600),
                ..Default::default()
            })
            .await
            .expect("stream created");
            js
        });
        Self {
            url: url.to_owned(),
            js,
            stream,
            prefix,
        }
    }
}

impl SinkUnderTest for NatsStream {
    fn name(&self) -> String {
        format!("JetStream stream {}", self.stream)
    }

    fn config(&self) -> String {
        format!(
            "[[sink]]\ntype = \"nats\"\nurl = \"{}\"\nsubject = \"{}.{{provider}}.{{kind}}\"\n\
             stream = \"{}\"\ntimeout = \"500ms\"\n\n",
            self.url, self.prefix, self.stream
        )
    }

    fn stored(&self, rt: &tokio::runtime::Runtime) -> Vec<Stored> {
        rt.block_on(async {
            let stream =
                tokio::time::timeout(Duration::from_secs(10), self.js.get_stream(&self.stream))
                    .await
                    .expect("answers within 10 s")
                    .expect("the stream exists");
            let state = stream.cached_info().state.clone();
            let mut stored = Vec::new();
            if state.messages == 0 {
                return stored;
            }
            // One bounded read per sequence number (deleted ones are skipped).
            for sequence in state.first_sequence..=state.last_sequence {
                let read =
                    tokio::time::timeout(Duration::from_secs(10), stream.get_raw_message(sequence))
                        .await
                        .expect("answers within 10 s");
                let Ok(message) = read else { continue };
                let webhook_id = message
                    .headers
                    .get(async_nats::header::NATS_MESSAGE_ID)
                    .map(|value| value.as_str().to_owned())
                    .unwrap_or_default();
                let json: Value = serde_json::from_slice(&message.payload).unwrap_or_default();
                stored.push(Stored {
                    webhook_id,
                    delivery_id: json["data"]["delivery_id"].as_str().map(str::to_owned),
                });
            }
            assert_eq!(stored.len() as u64, state.messages, "every message read");
            stored
        })
    }
}

/// The `type = "postgres"` table sink in the inbox's own database (the same URL): each row
/// inserted in the transaction that marks its inbox row done, `ON CONFLICT (webhook_id) DO
/// NOTHING`.
struct PostgresTable {
    url: String,
    base: String,
    schema: String,
}

impl SinkUnderTest for PostgresTable {
    fn name(&self) -> String {
        format!("PostgreSQL table {}.hookbr_events", self.schema)
    }

    fn config(&self) -> String {
        format!(
            "[[sink]]\ntype = \"postgres\"\nurl = \"{}\"\ntable = \"hookbr_events\"\ntimeout = \"2s\"\n\n",
            self.url
        )
    }

    fn stored(&self, rt: &tokio::runtime::Runtime) -> Vec<Stored> {
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&self.base, tokio_postgres::NoTls)
                .await
                .expect("connects to PostgreSQL");
            tokio::spawn(connection);
            client
                .query(
                    &format!(
                        "SELECT webhook_id, message -> 'data' ->> 'delivery_id' \
                         FROM {}.hookbr_events",
                        self.schema
                    ),
                    &[],
                )
                .await
                .expect("reads the table")
                .iter()
                .map(|row| Stored {
                    webhook_id: row.get(0),
                    delivery_id: row.get(1),
                })
                .collect()
        })
    }
}

/// A PostgreSQL schema of its own for the shared inbox.
struct Database {
    client: tokio_postgres::Client,
    /// The inbox URL (the base URL with `search_path` set to the schema).
    url: String,
    /// The schema.
    schema: String,
}

impl Database {
    fn create(rt: &tokio::runtime::Runtime, base: &str) -> Self {
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
                .await
                .expect("connects to PostgreSQL");
            tokio::spawn(connection);
            let schema = format!(
                "cluster_{}_{}",
                std::process::id(),
                nanos() % 1_000_000_000_000
            );
            client
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("creates a schema");
            let separator = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
            client
                .batch_execute(&format!("SET search_path = {schema}"))
                .await
                .expect("sets the search path");
            Self {
                client,
                url,
                schema,
            }
        })
    }

    /// Rows still to deliver (pending or in flight).
    fn unfinished(&self, rt: &tokio::runtime::Runtime) -> i64 {
        rt.block_on(async {
            let row = self
                .client
                .query_one(
                    "SELECT count(*) FROM hookbr_inbox WHERE state IN ('pending', 'in_flight')",
                    &[],
                )
                .await
                .expect("counts rows");
            row.get(0)
        })
    }

    /// Rows a worker took more than once (its lease expired with the instance that held it,
    /// or a publish failed): each of them was published again with the same `Nats-Msg-Id`.
    fn taken_again(&self, rt: &tokio::runtime::Runtime) -> i64 {
        rt.block_on(async {
            let row = self
                .client
                .query_one("SELECT count(*) FROM hookbr_inbox WHERE attempts > 1", &[])
                .await
                .expect("counts rows");
            row.get(0)
        })
    }

    /// Every inbox row: its webhook id and state.
    fn rows(&self, rt: &tokio::runtime::Runtime) -> Vec<(Stored, String)> {
        rt.block_on(async {
            self.client
                .query(
                    "SELECT dedup_key, delivery_id, state FROM hookbr_inbox",
                    &[],
                )
                .await
                .expect("lists rows")
                .iter()
                .map(|row| {
                    let key: Vec<u8> = row.get(0);
                    let stored = Stored {
                        webhook_id: format!("msg_{}", hex(&key)),
                        delivery_id: Some(row.get(1)),
                    };
                    (stored, row.get(2))
                })
                .collect()
        })
    }
}

/// One `hookbr serve` of the deployment, restarted on the same ports after each kill.
struct Instance {
    index: usize,
    child: Option<Child>,
    listen: SocketAddr,
    admin: SocketAddr,
    config: PathBuf,
    logs: PathBuf,
    starts: usize,
}

impl Instance {
    /// Starts the process (its stderr in a log file of this start) and waits until `/healthz`
    /// answers `200` and the receiver's port accepts.
    fn start(&mut self) {
        self.starts += 1;
        let log = self
            .logs
            .join(format!("instance{}-{}.log", self.index, self.starts));
        let mut command = Command::new(env!("CARGO_BIN_EXE_hookbr"));
        command
            .args(["serve", "--config"])
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        for name in UNSET {
            command.env_remove(name);
        }
        let mut child = command.spawn().expect("hookbr serve starts");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "instance {} exited at start ({status}):\n{}",
                    self.index,
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if healthz(self.admin)
                && TcpStream::connect_timeout(&self.listen, Duration::from_millis(200)).is_ok()
            {
                break;
            }
            if started.elapsed() > START_WAIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "instance {} not healthy within {START_WAIT:?}:\n{}",
                    self.index,
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    /// SIGKILL, and the process reaped.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The running instances and the killer's stop flag: dropped (the test ended, or failed
/// anywhere), it stops the killer and kills every instance, so no process outlives the test.
struct Deployment {
    instances: Arc<Mutex<Vec<Instance>>>,
    stop: Arc<AtomicBool>,
}

impl Deployment {
    fn kill_all(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let mut instances = self
            .instances
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for instance in instances.iter_mut() {
            instance.kill();
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// `GET /healthz` on the admin listener answers `200` (one bounded request).
fn healthz(admin: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&admin, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// The configuration of instance `listen`/`admin`: the shared inbox, a fast worker with a
/// short lease (so a killed instance's rows are taken over within seconds), the four
/// endpoints and the sinks.
fn config(
    listen: SocketAddr,
    admin: SocketAddr,
    inbox: &str,
    dir: &Path,
    sinks: &[Box<dyn SinkUnderTest>],
) -> String {
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let mut text = format!(
        "[server]\nlisten = \"{listen}\"\n\n\
         [inbox]\nurl = \"{inbox}\"\n\n\
         [worker]\nmax_attempts = 1000\nbackoff = \"100ms\"\nmax_backoff = \"1s\"\nlease = \"4s\"\n\n\
         [admin]\nlisten = \"{admin}\"\n\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\nsecrets = [\"file:{}\"]\n\n\
         [[endpoint]]\nprovider = \"foody\"\npath = \"/webhooks/foody\"\ntokens = [\"file:{}\"]\n\n\
         [[endpoint]]\nprovider = \"iset\"\nkind = \"order_upserted\"\npath = \"/webhooks/iset/orders\"\nsecrets = [\"file:{}\"]\n\n\
         [[endpoint]]\nprovider = \"grafeno\"\npath = \"/webhooks/grafeno\"\npublic_keys = [\"file:{}\"]\n\n",
        file("bonifiq.secret"),
        file("foody.token"),
        file("iset.secret"),
        file("grafeno.pub.pem"),
    );
    for sink in sinks {
        text.push_str(&sink.config());
    }
    text
}

/// Builds the load: a quarter per provider, interleaved, each kind of the provider's catalog
/// in turn (Foody's `hook_test` handshake aside: it is answered, not delivered).
fn deliveries(signing_key: &str) -> Vec<Delivery> {
    let credentials = |provider| match provider {
        Provider::Bonifiq => Credentials {
            secret: Some(BONIFIQ_SECRET.into()),
            ..Credentials::default()
        },
        Provider::Foody => Credentials {
            token: Some(FOODY_TOKEN.into()),
            ..Credentials::default()
        },
        Provider::Iset => Credentials {
            secret: Some(ISET_SECRET.into()),
            ..Credentials::default()
        },
        _ => Credentials {
            signing_key: Some(SigningKey::from_pem(signing_key).unwrap()),
            ..Credentials::default()
        },
    };
    let plans: Vec<(Provider, &'static str, Credentials, Vec<&'static str>)> = ENDPOINTS
        .iter()
        .map(|&(provider, path)| {
            let kinds = match provider {
                // One endpoint per iSET kind: this deployment registers the orders one.
                Provider::Iset => vec!["order_upserted"],
                _ => hookbr_sim::kinds(provider)
                    .into_iter()
                    .filter(|kind| *kind != "hook_test")
                    .collect(),
            };
            (provider, path, credentials(provider), kinds)
        })
        .collect();
    (0..DELIVERIES)
        .map(|n| {
            let (provider, path, credentials, kinds) = &plans[n % plans.len()];
            let kind = kinds[(n / plans.len()) % kinds.len()];
            let outgoing = hookbr_sim::build(*provider, Some(kind), None, credentials)
                .unwrap_or_else(|error| panic!("{provider} {kind}: {error}"));
            let webhook_id = webhook_id(*provider, path, &outgoing.delivery_id);
            Delivery {
                outgoing,
                path,
                webhook_id,
            }
        })
        .collect()
}

/// What the client saw.
#[derive(Debug, Default)]
struct Client {
    requests: AtomicUsize,
    retries: AtomicUsize,
    copies: AtomicUsize,
    duplicate_answers: AtomicUsize,
    given_up: AtomicUsize,
    /// Answers a provider would not retry and hookbr should not give here (400, 401, ...).
    unexpected: Mutex<Vec<String>>,
    acknowledged: Mutex<HashSet<String>>,
}

/// Sends one delivery as a provider would: to a random instance (the first attempt of every
/// [`COPY_EVERY`]-th to two at once), again after a growing wait when no copy was accepted.
async fn deliver(
    http: reqwest::Client,
    delivery: Arc<Delivery>,
    ports: Arc<Vec<SocketAddr>>,
    slots: Arc<tokio::sync::Semaphore>,
    client: Arc<Client>,
    copy: bool,
    mut rng: Rng,
) {
    let provider = delivery.outgoing.provider;
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            client.retries.fetch_add(1, Ordering::Relaxed);
            // 50 ms doubling to 1.6 s, ± a random part.
            let base = 50_u64 << attempt.min(5);
            let wait = base + rng.next() % base;
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        let Ok(_slot) = slots.acquire().await else {
            return;
        };
        let first = rng.below(ports.len());
        let url = |port: usize| format!("http://{}{}", ports[port], delivery.path);
        let answers = if copy && attempt == 0 {
            client.copies.fetch_add(1, Ordering::Relaxed);
            let second = (first + 1 + rng.below(ports.len() - 1)) % ports.len();
            let (first, second) = (url(first), url(second));
            let (a, b) = tokio::join!(
                send::post(&http, &first, &delivery.outgoing, ATTEMPT_TIMEOUT),
                send::post(&http, &second, &delivery.outgoing, ATTEMPT_TIMEOUT),
            );
            vec![a, b]
        } else {
            vec![send::post(&http, &url(first), &delivery.outgoing, ATTEMPT_TIMEOUT).await]
        };
        client.requests.fetch_add(answers.len(), Ordering::Relaxed);
        let mut accepted = false;
        for answer in &answers {
            match answer {
                Ok(answer) if send::accepted(provider, answer.status) => {
                    accepted = true;
                    if answer.duplicate {
                        client.duplicate_answers.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // Try again later: `409` (a copy in flight), `503` (inbox unavailable, the
                // request timed out), `500`; no answer at all.
                Ok(answer) if !matches!(answer.status, 409 | 500 | 503) => {
                    client.unexpected.lock().unwrap().push(format!(
                        "{provider} {}: {} {:?}",
                        delivery.outgoing.kind, answer.status, answer.error
                    ));
                }
                _ => {}
            }
        }
        if accepted {
            client
                .acknowledged
                .lock()
                .unwrap()
                .insert(delivery.webhook_id.clone());
            return;
        }
    }
    client.given_up.fetch_add(1, Ordering::Relaxed);
}

/// Kills a random instance (SIGKILL) and restarts it, at irregular moments, until the load is
/// done and at least [`MIN_KILLS`] were made (at most [`MAX_KILLS`], within the load's
/// deadline, until `stop`). Returns (kills, kills made while deliveries were still being sent).
fn killer(
    instances: &Mutex<Vec<Instance>>,
    load_done: &AtomicBool,
    stop: &AtomicBool,
    started: Instant,
    mut rng: Rng,
) -> (usize, usize) {
    let (mut kills, mut during_load) = (0, 0);
    while kills < MAX_KILLS
        && (kills < MIN_KILLS || !load_done.load(Ordering::Relaxed))
        && started.elapsed() < LOAD_DEADLINE
    {
        // 100-600 ms between a restart and the next kill.
        std::thread::sleep(Duration::from_millis(100 + rng.next() % 500));
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let victim = rng.below(INSTANCES);
        let mut instances = instances.lock().unwrap();
        let loading = !load_done.load(Ordering::Relaxed);
        instances[victim].kill();
        kills += 1;
        if loading {
            during_load += 1;
        }
        instances[victim].start();
    }
    (kills, during_load)
}

#[test]
fn three_instances_one_inbox_one_stream_one_table_survive_kill_9() {
    let Some(postgres) = service("HOOKBR_TEST_POSTGRES_URL") else {
        return;
    };
    let Some(nats) = service("HOOKBR_TEST_NATS_URL") else {
        return;
    };
    let started = Instant::now();
    let seed = u64::try_from(nanos() % u128::from(u64::MAX)).unwrap();
    eprintln!("cluster test seed {seed}");
    let mut rng = Rng::new(seed);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let database = Database::create(&rt, &postgres);
    let sinks: Vec<Box<dyn SinkUnderTest>> = vec![
        Box::new(NatsStream::create(&rt, &nats)),
        Box::new(PostgresTable {
            url: database.url.clone(),
            base: postgres.clone(),
            schema: database.schema.clone(),
        }),
    ];

    // Credentials in files, a fresh Grafeno key pair.
    let dir = tempfile::tempdir().unwrap();
    let pair = hookbr_sim::keygen::generate(2048).unwrap();
    for (name, value) in [
        ("bonifiq.secret", BONIFIQ_SECRET),
        ("foody.token", FOODY_TOKEN),
        ("iset.secret", ISET_SECRET),
        ("grafeno.pub.pem", pair.public_pem.as_str()),
    ] {
        std::fs::write(dir.path().join(name), value).unwrap();
    }
    let built = Instant::now();
    let deliveries: Vec<Arc<Delivery>> = deliveries(&pair.private_pem)
        .into_iter()
        .map(Arc::new)
        .collect();
    let ledger_sent: HashMap<String, String> = deliveries
        .iter()
        .map(|d| (d.webhook_id.clone(), d.outgoing.delivery_id.clone()))
        .collect();
    assert_eq!(ledger_sent.len(), DELIVERIES, "every delivery is distinct");
    eprintln!(
        "{DELIVERIES} deliveries built in {:.1} s",
        built.elapsed().as_secs_f64()
    );

    // Three instances, each on its own receiver and admin ports.
    let instances: Vec<Instance> = (0..INSTANCES)
        .map(|index| {
            let (listen, admin) = (free_addr(), free_addr());
            let path = dir.path().join(format!("hookbr-{index}.toml"));
            std::fs::write(
                &path,
                config(listen, admin, &database.url, dir.path(), &sinks),
            )
            .unwrap();
            Instance {
                index,
                child: None,
                listen,
                admin,
                config: path,
                logs: dir.path().to_owned(),
                starts: 0,
            }
        })
        .collect();
    let ports: Arc<Vec<SocketAddr>> = Arc::new(instances.iter().map(|i| i.listen).collect());
    let deployment = Deployment {
        instances: Arc::new(Mutex::new(instances)),
        stop: Arc::default(),
    };
    // The table sink's table, created the documented way.
    let migrate = std::process::Command::new(env!("CARGO_BIN_EXE_hookbr"))
        .args(["sink", "migrate", "--config"])
        .arg(&deployment.instances.lock().unwrap()[0].config)
        .output()
        .expect("runs hookbr sink migrate");
    assert!(migrate.status.success(), "hookbr sink migrate: {migrate:?}");
    for instance in deployment.instances.lock().unwrap().iter_mut() {
        instance.start();
    }

    // The load and the killer, together.
    let load_started = Instant::now();
    let load_done = Arc::new(AtomicBool::new(false));
    let killer = {
        let (instances, stop) = (deployment.instances.clone(), deployment.stop.clone());
        let load_done = load_done.clone();
        let rng = Rng::new(rng.next());
        std::thread::spawn(move || killer(&instances, &load_done, &stop, load_started, rng))
    };
    let client = Arc::new(Client::default());
    let http = send::client().unwrap();
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (n, delivery) in deliveries.iter().enumerate() {
            tasks.spawn(deliver(
                http.clone(),
                delivery.clone(),
                ports.clone(),
                slots.clone(),
                client.clone(),
                n % COPY_EVERY == 0,
                Rng::new(rng.next()),
            ));
        }
        let finished = tokio::time::timeout(LOAD_DEADLINE, async {
            while let Some(result) = tasks.join_next().await {
                result.expect("a sender panicked");
            }
        })
        .await;
        assert!(
            finished.is_ok(),
            "the load did not end within {LOAD_DEADLINE:?}"
        );
    });
    let load_seconds = load_started.elapsed().as_secs_f64();
    load_done.store(true, Ordering::Relaxed);
    let (kills, kills_during_load) = killer.join().expect("the killer");
    assert!(kills >= MIN_KILLS, "only {kills} kills");

    // Every row done (the leases of killed instances expire after 4 s).
    let drain_started = Instant::now();
    for poll in 0.. {
        let unfinished = database.unfinished(&rt);
        if unfinished == 0 {
            break;
        }
        assert!(
            started.elapsed() < TEST_DEADLINE && poll < 2_000,
            "{unfinished} rows still pending or in flight"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let drain_seconds = drain_started.elapsed().as_secs_f64();
    deployment.kill_all();

    let unexpected = client.unexpected.lock().unwrap().clone();
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:?}");
    let ledger = Ledger {
        sent: ledger_sent,
        acknowledged: client.acknowledged.lock().unwrap().clone(),
    };
    let given_up = client.given_up.load(Ordering::Relaxed);
    assert_eq!(
        ledger.acknowledged.len() + given_up,
        DELIVERIES,
        "each delivery acknowledged or given up"
    );
    eprintln!(
        "cluster: {DELIVERIES} deliveries sent to {INSTANCES} instances in {load_seconds:.1} s \
         ({} requests, {} acknowledged, {} retries, {} sent to two instances at once, {} \
         answered as duplicates, {given_up} given up after {MAX_ATTEMPTS} attempts); {kills} \
         kills ({kills_during_load} while sending); inbox drained {drain_seconds:.1} s after the \
         load",
        client.requests.load(Ordering::Relaxed),
        ledger.acknowledged.len(),
        client.retries.load(Ordering::Relaxed),
        client.copies.load(Ordering::Relaxed),
        client.duplicate_answers.load(Ordering::Relaxed),
    );

    // Each sink, checked against the same ledger.
    for sink in &sinks {
        let counts = check_stored(&sink.name(), &sink.stored(&rt), &ledger);
        eprintln!("cluster: {}: {counts}", sink.name());
    }

    // The inbox: one row per delivery, every one done.
    let rows = database.rows(&rt);
    let not_done: Vec<&(Stored, String)> = rows.iter().filter(|(_, s)| s != "done").collect();
    assert!(
        not_done.is_empty(),
        "{} rows not done, e.g. {:?}",
        not_done.len(),
        not_done.first()
    );
    let stored: Vec<Stored> = rows.into_iter().map(|(stored, _)| stored).collect();
    let counts = check_stored("the inbox", &stored, &ledger);
    eprintln!(
        "cluster: inbox: {counts}, every row done, {} taken by a worker more than once",
        database.taken_again(&rt)
    );
    eprintln!(
        "cluster: whole test {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        started.elapsed() < TEST_DEADLINE,
        "the test took {:?}",
        started.elapsed()
    );
}
