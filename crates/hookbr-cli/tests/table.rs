//! The table sinks end to end (`type = "postgres"`, `type = "sqlite"`): the real `hookbr serve`
//! and `hookbr sink migrate`, the PostgreSQL server `scripts/test` starts
//! (`HOOKBR_TEST_POSTGRES_URL`; each test in a schema of its own, so they run in parallel;
//! skipped with a notice outside CI) and SQLite files. Every child process is killed when its
//! test ends; every wait has a deadline.

mod common;

use common::{Run, run_within};
use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

/// The longest any one short `hookbr` run may take.
const DEADLINE: Duration = Duration::from_secs(60);
/// The longest a polled condition may take to become true.
const WAIT: Duration = Duration::from_secs(40);

const BONIFIQ_SECRET: &str = "bq-table-s3cr3t-5c1d7e20";

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

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookbr"));
    command.args(args);
    for name in UNSET {
        command.env_remove(name);
    }
    command
}

fn hookbr(args: &[&str]) -> Run {
    run_within(command(args), DEADLINE)
}

/// The PostgreSQL server `scripts/test` started, or `None` (with a notice) outside CI.
fn postgres_url() -> Option<String> {
    match std::env::var("HOOKBR_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("HOOKBR_TEST_POSTGRES_URL is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!(
                "NOTICE: HOOKBR_TEST_POSTGRES_URL not set (run scripts/test): PostgreSQL test skipped"
            );
            None
        }
    }
}

/// Polls `check` every 50 ms until it gives `Some`, at most [`WAIT`].
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn addr() -> SocketAddr {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}").parse().unwrap()
}

/// A name no other test (or earlier run against the same server) uses.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}{}x{}x{}",
        nanos % 1_000_000_000_000,
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A schema of its own on the test server: a URL whose tables land there, and a client.
struct Schema {
    rt: tokio::runtime::Runtime,
    name: String,
    url: String,
    base: String,
    client: tokio_postgres::Client,
}

impl Schema {
    fn new() -> Option<Self> {
        let base = postgres_url()?;
        let rt = runtime();
        let name = unique("tbl_");
        let client = rt.block_on(async {
            let (client, connection) = tokio::time::timeout(
                Duration::from_secs(10),
                tokio_postgres::connect(&base, tokio_postgres::NoTls),
            )
            .await
            .expect("connects within 10 s")
            .expect("connects");
            tokio::spawn(connection);
            client
                .batch_execute(&format!("CREATE SCHEMA {name}"))
                .await
                .unwrap();
            client
        });
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{name}");
        Some(Self {
            rt,
            name,
            url,
            base,
            client,
        })
    }

    /// The rows of `table` (in this schema), by webhook_id, as JSON objects.
    fn rows(&self, table: &str) -> Vec<Value> {
        self.rt.block_on(async {
            let sql = format!(
                "SELECT json_build_object('webhook_id', webhook_id, 'provider', provider, \
                 'kind', kind, 'endpoint', endpoint, 'known', known, \
                 'occurred_at', occurred_at IS NOT NULL, \
                 'received_at', extract(epoch FROM received_at), 'message', message, \
                 'inserted_at', inserted_at IS NOT NULL, \
                 'message_type', pg_typeof(message)::text)::text \
                 FROM {}.{table} ORDER BY webhook_id",
                self.name
            );
            tokio::time::timeout(Duration::from_secs(10), self.client.query(&sql, &[]))
                .await
                .expect("answers within 10 s")
                .unwrap()
                .iter()
                .map(|row| serde_json::from_str(&row.get::<_, String>(0)).unwrap())
                .collect()
        })
    }

    fn execute(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let _ = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), self.client.batch_execute(&sql)).await
        });
    }
}

/// A temporary folder with the BonifiQ secret in a file.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bonifiq.secret"), BONIFIQ_SECRET).unwrap();
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, name: &str) -> String {
        self.path().join(name).to_str().unwrap().to_owned()
    }

    /// Writes `text` as `name` and returns its path.
    fn config_named(&self, name: &str, text: &str) -> String {
        let path = self.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn config(&self, text: &str) -> String {
        self.config_named("hookbr.toml", text)
    }

    /// `hookbr send bonifiq` to `addr`; returns the delivery id.
    fn send(&self, addr: SocketAddr) -> String {
        let url = format!("http://{addr}/webhooks/bonifiq");
        let secret = format!("file:{}", self.file("bonifiq.secret"));
        let run = hookbr(&["send", "bonifiq", &url, "--secret", &secret, "--json"]);
        assert_eq!(run.code, Some(0), "{run:?}");
        let json = run.json();
        json["delivery_ids"][0].as_str().unwrap().to_owned()
    }
}

/// `[server]`, `[inbox]`, a fast worker and the BonifiQ endpoint, listening on `addr`.
fn head(addr: SocketAddr, inbox: &str, fixture: &Fixture) -> String {
    format!(
        "[server]\nlisten = \"{addr}\"\n\n[inbox]\nurl = \"{inbox}\"\n\n\
         [worker]\nmax_attempts = 2\nbackoff = \"100ms\"\nmax_backoff = \"300ms\"\n\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\n\
         secrets = [\"file:{}\"]\n\n",
        fixture.file("bonifiq.secret")
    )
}

/// A `hookbr serve` child process, killed on drop.
struct Serve {
    child: Child,
    stderr: Arc<Mutex<String>>,
    addr: SocketAddr,
    config: String,
}

impl Serve {
    /// Starts `hookbr serve --config config` and waits until `addr` answers, or the process
    /// exits (`Err` with its exit code and output).
    fn start(config: &str, addr: SocketAddr) -> Result<Self, (Option<i32>, String)> {
        let mut child = command(&["serve", "--config", config])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hookbr serve starts");
        let mut pipe = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let mut serve = Self {
            child,
            stderr,
            addr,
            config: config.to_owned(),
        };
        let started = Instant::now();
        loop {
            if let Some(status) = serve.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(200));
                return Err((status.code(), serve.log()));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(serve);
            }
            assert!(
                started.elapsed() < WAIT,
                "hookbr serve did not listen within {WAIT:?}:\n{}",
                serve.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn started(config: &str, addr: SocketAddr) -> Self {
        Self::start(config, addr)
            .unwrap_or_else(|(code, log)| panic!("serve exited {code:?}:\n{log}"))
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `hookbr inbox <args> --json`, which must succeed.
fn inbox_json(config: &str, args: &[&str]) -> Value {
    let mut all = vec!["inbox"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", "--config", config]);
    let run = hookbr(&all);
    assert_eq!(run.code, Some(0), "{all:?}: {run:?}");
    run.json()
}

fn migrate(config: &str) -> Run {
    hookbr(&["sink", "migrate", "--config", config])
}

/// The rows of a SQLite table sink's table, as JSON objects.
fn sqlite_rows(path: &Path, table: &str) -> Vec<Value> {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut statement = connection
        .prepare(&format!(
            "SELECT webhook_id, provider, kind, endpoint, known, occurred_at, received_at, \
             message, inserted_at FROM \"{table}\" ORDER BY webhook_id"
        ))
        .unwrap();
    statement
        .query_map([], |row| {
            Ok(serde_json::json!({
                "webhook_id": row.get::<_, String>(0)?,
                "provider": row.get::<_, String>(1)?,
                "kind": row.get::<_, String>(2)?,
                "endpoint": row.get::<_, String>(3)?,
                "known": row.get::<_, i64>(4)?,
                "occurred_at": row.get::<_, Option<String>>(5)?,
                "received_at": row.get::<_, String>(6)?,
                "message": serde_json::from_str::<Value>(&row.get::<_, String>(7)?).unwrap(),
                "inserted_at": row.get::<_, String>(8)?,
            }))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// POSTs one BonifiQ delivery (`body`) to `addr` over a plain HTTP/1.1 connection; the status.
fn post(addr: SocketAddr, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /webhooks/bonifiq HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Loyalty-Secret: {BONIFIQ_SECRET}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Checks one table row's columns against the delivery.
fn assert_row(row: &Value, delivery_id: &str) {
    assert!(
        row["webhook_id"].as_str().unwrap().starts_with("msg_"),
        "{row}"
    );
    assert_eq!(row["provider"], "bonifiq", "{row}");
    assert_eq!(row["kind"], "Point_Add", "{row}");
    assert_eq!(row["endpoint"], "bonifiq", "{row}");
    assert!(row["known"] == true || row["known"] == 1, "{row}");
    assert_eq!(row["message"]["type"], "bonifiq.Point_Add", "{row}");
    assert_eq!(row["message"]["data"]["delivery_id"], delivery_id, "{row}");
    assert_eq!(row["message"]["data"]["provider"], "bonifiq", "{row}");
}

/// Inbox mode with the tables in other databases than the inbox's (each insert its own
/// transaction): a delivery is one row in each table with the right columns; the worker's
/// retry (a later sink fails) and an operator's replay insert it again, and each table keeps
/// one row.
#[test]
fn one_row_per_delivery_through_retries_and_a_replay() {
    let Some(schema) = Schema::new() else { return };
    let fixture = Fixture::new();
    let ok = fixture.path().join("ok");
    let listen = addr();
    let config = fixture.config(&format!(
        "{}[[sink]]\ntype = \"postgres\"\nurl = \"{}\"\ntable = \"{}.events\"\n\n\
         [[sink]]\ntype = \"sqlite\"\npath = \"events.sqlite3\"\n\n\
         [[sink]]\ntype = \"command\"\ncommand = [\"sh\", \"-c\", \"test -f {}\"]\n",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        schema.base,
        schema.name,
        ok.display()
    ));
    let run = migrate(&config);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "sink[0]: PostgreSQL table {}.events is ready\n\
             sink[1]: SQLite table hookbr_events in {} is ready\n",
            schema.name,
            fixture.path().join("events.sqlite3").display()
        )
    );
    let serve = Serve::started(&config, listen);
    let delivery_id = fixture.send(serve.addr);
    let dead = wait_for("the row to be dead-lettered", || {
        inbox_json(&serve.config, &["dead"])
            .as_array()
            .unwrap()
            .first()
            .cloned()
            .filter(|row| row["state"] == "dead")
    });
    assert_eq!(dead["attempts"], 2, "{dead}");
    let rows = schema.rows("events");
    assert_eq!(rows.len(), 1, "two attempts, one row: {rows:?}");
    assert_row(&rows[0], &delivery_id);
    assert_eq!(rows[0]["message_type"], "jsonb");
    assert_eq!(rows[0]["occurred_at"], true);
    assert_eq!(rows[0]["inserted_at"], true);
    let lite = sqlite_rows(&fixture.path().join("events.sqlite3"), "hookbr_events");
    assert_eq!(lite.len(), 1, "{lite:?}");
    assert_row(&lite[0], &delivery_id);
    assert_eq!(lite[0]["webhook_id"], rows[0]["webhook_id"]);
    assert!(lite[0]["received_at"].as_str().unwrap().ends_with('Z'));

    // Fixed and replayed: a third insert, still one row each.
    std::fs::write(&ok, "").unwrap();
    let id = dead["id"].as_i64().unwrap().to_string();
    let run = hookbr(&["inbox", "replay", &id, "--config", &serve.config]);
    assert_eq!(run.code, Some(0), "{run:?}");
    wait_for("the replayed row to be done", || {
        let stats = inbox_json(&serve.config, &["stats"]);
        (stats["done"] == 1 && stats["pending"] == 0 && stats["in_flight"] == 0).then_some(())
    });
    assert_eq!(schema.rows("events").len(), 1);
    assert_eq!(
        sqlite_rows(&fixture.path().join("events.sqlite3"), "hookbr_events").len(),
        1
    );
}

/// The sink in the inbox's own database (the same URL): the insert and the done mark are one
/// transaction, and the `NOTIFY` is heard by a `LISTEN` connection after the commit, with the
/// `webhook-id`, the row already visible.
#[test]
fn same_database_insert_commits_with_the_done_mark_and_notifies_after_commit() {
    let Some(schema) = Schema::new() else { return };
    let fixture = Fixture::new();
    let listen = addr();
    let channel = unique("ch_");
    let config = fixture.config(&format!(
        "{}[[sink]]\ntype = \"postgres\"\nurl = \"{}\"\nnotify = \"{channel}\"\n",
        head(listen, &schema.url, &fixture),
        schema.url,
    ));
    let run = migrate(&config);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "sink[0]: PostgreSQL table hookbr_events is ready\n"
    );

    // A LISTEN connection, its notifications forwarded to a channel.
    let (sender, mut heard) = tokio::sync::mpsc::unbounded_channel::<String>();
    let listener = schema.rt.block_on(async {
        let (client, mut connection) = tokio_postgres::connect(&schema.base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = futures_util::StreamExt::next(&mut messages).await {
                if let tokio_postgres::AsyncMessage::Notification(note) = message {
                    let _ = sender.send(note.payload().to_owned());
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {channel}"))
            .await
            .unwrap();
        client
    });

    let serve = Serve::started(&config, listen);
    let delivery_id = fixture.send(serve.addr);
    let payload = schema.rt.block_on(async {
        tokio::time::timeout(WAIT, heard.recv())
            .await
            .expect("a notification within the wait")
            .unwrap()
    });
    // Heard after the commit: the row is there, and the inbox row is done.
    let rows = schema.rows("hookbr_events");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_row(&rows[0], &delivery_id);
    assert_eq!(rows[0]["webhook_id"], payload);
    let stats = inbox_json(&serve.config, &["stats"]);
    assert_eq!(stats["done"], 1, "{stats}");
    let row = &inbox_json(&serve.config, &["list"])[0];
    assert_eq!(row["attempts"], 1, "{row}");
    // The worker counted it delivered, not as a lost lease.
    let log = serve.log();
    assert!(!log.contains("lease lost"), "{log}");
    assert!(
        log.contains("table hookbr_events is in the inbox's database"),
        "{log}"
    );
    drop(listener);
}

/// Two table sinks in the inbox's database, one with `mask = true`: both rows commit with the
/// done mark, the masked one without the customer's e-mail, the other with it.
#[test]
fn a_masked_table_sink_in_the_inbox_database_gets_masked_data() {
    let Some(schema) = Schema::new() else { return };
    let fixture = Fixture::new();
    let listen = addr();
    let config = fixture.config(&format!(
        "{}[[sink]]\ntype = \"postgres\"\nurl = \"{}\"\n\n\
         [[sink]]\ntype = \"postgres\"\nurl = \"{}\"\ntable = \"masked_events\"\nmask = true\n",
        head(listen, &schema.url, &fixture),
        schema.url,
        schema.url,
    ));
    let run = migrate(&config);
    assert_eq!(run.code, Some(0), "{run:?}");
    let serve = Serve::started(&config, listen);
    let delivery_id = fixture.send(serve.addr);
    wait_for("the delivery to be done", || {
        (inbox_json(&serve.config, &["stats"])["done"] == 1).then_some(())
    });
    let plain = schema.rows("hookbr_events");
    let masked = schema.rows("masked_events");
    assert_eq!((plain.len(), masked.len()), (1, 1), "{plain:?} {masked:?}");
    assert_row(&plain[0], &delivery_id);
    assert_eq!(plain[0]["webhook_id"], masked[0]["webhook_id"]);
    let email = |row: &Value| {
        row["message"]["data"]["event"]["Payload"]["Customer"]["Email"]
            .as_str()
            .unwrap_or_else(|| panic!("no Customer.Email in {row}"))
            .to_owned()
    };
    let (original, hidden) = (email(&plain[0]), email(&masked[0]));
    assert!(!original.contains("***"), "{original}");
    assert!(hidden.contains("***@"), "{hidden}");
    assert_eq!(
        masked[0]["message"]["data"]["delivery_id"],
        delivery_id.as_str()
    );
    let text = masked[0]["message"].to_string();
    assert!(!text.contains(&original), "{text}");
    let log = serve.log();
    assert!(!log.contains("lease lost"), "{log}");
}

/// Direct mode (no inbox), two instances without shared deduplication given the same
/// delivery at once: both run the sinks, each table keeps one row.
#[test]
fn direct_mode_concurrent_copies_make_one_row() {
    let Some(schema) = Schema::new() else { return };
    let fixture = Fixture::new();
    let sinks = format!(
        "[[sink]]\ntype = \"postgres\"\nurl = \"{}\"\n\n\
         [[sink]]\ntype = \"sqlite\"\npath = \"events.sqlite3\"\n",
        schema.url
    );
    let (first, second) = (addr(), addr());
    let configs: Vec<String> = [first, second]
        .iter()
        .enumerate()
        .map(|(index, listen)| {
            fixture.config_named(
                &format!("hookbr{index}.toml"),
                &format!("{}{sinks}", head(*listen, "none", &fixture)),
            )
        })
        .collect();
    let run = migrate(&configs[0]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let servers = [
        Serve::started(&configs[0], first),
        Serve::started(&configs[1], second),
    ];
    for _ in 0..3 {
        let delivery = hookbr_core::testkit::bonifiq_point_add(BONIFIQ_SECRET);
        let body = Arc::new(delivery.body);
        let copies: Vec<_> = servers
            .iter()
            .map(|serve| {
                let (addr, body) = (serve.addr, body.clone());
                std::thread::spawn(move || post(addr, &body))
            })
            .collect();
        for copy in copies {
            assert_eq!(copy.join().unwrap(), 200);
        }
    }
    assert_eq!(schema.rows("hookbr_events").len(), 3);
    assert_eq!(
        sqlite_rows(&fixture.path().join("events.sqlite3"), "hookbr_events").len(),
        3
    );
}

/// `serve` refuses a missing table (exit 1, naming the table and `hookbr sink migrate`), and
/// a table without a needed column; `sink migrate` creates it, twice without harm.
#[test]
fn a_missing_table_stops_serve_until_migrated() {
    let fixture = Fixture::new();
    let listen = addr();
    let config = fixture.config(&format!(
        "{}[[sink]]\ntype = \"sqlite\"\npath = \"app.sqlite3\"\ntable = \"inbound\"\n",
        head(listen, "sqlite:inbox.sqlite3", &fixture)
    ));
    // An application database without the table.
    rusqlite::Connection::open(fixture.path().join("app.sqlite3"))
        .unwrap()
        .execute_batch("CREATE TABLE other (x)")
        .unwrap();
    let (code, log) = Serve::start(&config, listen).err().expect("serve stops");
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("table inbound does not exist"), "{log}");
    assert!(log.contains("hookbr sink migrate"), "{log}");

    for _ in 0..2 {
        let run = migrate(&config);
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(
            run.stdout.starts_with("sink[0]: SQLite table inbound in "),
            "{run:?}"
        );
    }
    let serve = Serve::started(&config, listen);
    let delivery_id = fixture.send(serve.addr);
    let rows = wait_for("the row", || {
        let rows = sqlite_rows(&fixture.path().join("app.sqlite3"), "inbound");
        (!rows.is_empty()).then_some(rows)
    });
    assert_row(&rows[0], &delivery_id);

    // A reload naming a missing table is refused (exit 1, the reason), the running one serves.
    let admin = addr();
    let reloadable = |table: &str| {
        fixture.config(&format!(
            "{}[admin]\nlisten = \"{admin}\"\n\n\
             [[sink]]\ntype = \"sqlite\"\npath = \"app.sqlite3\"\ntable = \"{table}\"\n",
            head(listen, "sqlite:inbox.sqlite3", &fixture)
        ))
    };
    drop(serve);
    let config = reloadable("inbound");
    let serve = Serve::started(&config, listen);
    wait_for("the admin listener", || {
        TcpStream::connect_timeout(&admin, Duration::from_millis(200)).ok()
    });
    reloadable("nowhere");
    let run = hookbr(&["reload", "--config", &config]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("table nowhere does not exist"),
        "{run:?}"
    );
    assert!(run.stderr.contains("hookbr sink migrate"), "{run:?}");
    let second = fixture.send(serve.addr);
    wait_for("the second row in the running table", || {
        let rows = sqlite_rows(&fixture.path().join("app.sqlite3"), "inbound");
        (rows.len() == 2).then_some(())
    });
    assert!(
        sqlite_rows(&fixture.path().join("app.sqlite3"), "inbound")
            .iter()
            .any(|row| row["message"]["data"]["delivery_id"] == second.as_str())
    );
    drop(serve);

    // A table made by hand without a column is named too.
    let app = rusqlite::Connection::open(fixture.path().join("app.sqlite3")).unwrap();
    app.execute_batch("CREATE TABLE partial (webhook_id TEXT PRIMARY KEY, provider TEXT)")
        .unwrap();
    let config = fixture.config(&format!(
        "{}[[sink]]\ntype = \"sqlite\"\npath = \"app.sqlite3\"\ntable = \"partial\"\n",
        head(listen, "sqlite:inbox.sqlite3", &fixture)
    ));
    let (code, log) = Serve::start(&config, listen).err().expect("serve stops");
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("table partial lacks the columns kind, endpoint"),
        "{log}"
    );
    assert!(log.contains("hookbr sink migrate"), "{log}");
}

/// The same for PostgreSQL: a missing table stops `serve` (exit 1); `sink migrate` twice is
/// idempotent; a database that cannot be reached fails `sink migrate` with exit 1.
#[test]
fn postgres_missing_table_and_idempotent_migration() {
    let Some(schema) = Schema::new() else { return };
    let fixture = Fixture::new();
    let listen = addr();
    let config = fixture.config(&format!(
        "{}[[sink]]\ntype = \"postgres\"\nurl = \"{}\"\ntable = \"{}.events\"\n",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        schema.base,
        schema.name
    ));
    let (code, log) = Serve::start(&config, listen).err().expect("serve stops");
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains(&format!("table {}.events does not exist", schema.name)),
        "{log}"
    );
    assert!(log.contains("hookbr sink migrate"), "{log}");
    for _ in 0..2 {
        let run = migrate(&config);
        assert_eq!(run.code, Some(0), "{run:?}");
    }
    // A column dropped by hand is named.
    schema.execute(&format!(
        "ALTER TABLE {}.events DROP COLUMN occurred_at",
        schema.name
    ));
    let (code, log) = Serve::start(&config, listen).err().expect("serve stops");
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("lacks the column occurred_at"), "{log}");

    let port = addr().port();
    let unreachable = fixture.config_named(
        "down.toml",
        &format!(
            "{}[[sink]]\ntype = \"postgres\"\nurl = \"postgres://hookbr:hunter2@127.0.0.1:{port}/x\"\ntimeout = \"2s\"\n",
            head(listen, "sqlite:inbox.sqlite3", &fixture)
        ),
    );
    let run = migrate(&unreachable);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("sink[0]"), "{run:?}");
    assert!(!run.all().contains("hunter2"), "{run:?}");
}

/// Bad keys and identifiers: exit 2 naming the key, for `serve --check` and `sink migrate`.
#[test]
fn bad_table_sink_keys_are_refused_naming_the_key() {
    let fixture = Fixture::new();
    let listen = addr();
    let head = head(listen, "sqlite:inbox.sqlite3", &fixture);
    for (sink, key) in [
        (
            "type = \"postgres\"\nurl = \"postgres://a@127.0.0.1/x\"\ntable = \"Events\"",
            "sink[0].table",
        ),
        (
            "type = \"postgres\"\nurl = \"postgres://a@127.0.0.1/x\"\ntable = \"a;drop table x\"",
            "sink[0].table",
        ),
        (
            "type = \"postgres\"\nurl = \"postgres://a@127.0.0.1/x\"\ntable = \"a.b.c\"",
            "sink[0].table",
        ),
        (
            "type = \"postgres\"\nurl = \"postgres://a@127.0.0.1/x\"\nnotify = \"new events\"",
            "sink[0].notify",
        ),
        (
            "type = \"postgres\"\nurl = \"mysql://a@127.0.0.1/x\"",
            "sink[0].url",
        ),
        (
            "type = \"postgres\"\nurl = \"postgres://a@127.0.0.1/x?sslmode=allow\"",
            "sink[0].url",
        ),
        (
            "type = \"postgres\"\nurl = \"env:HOOKBR_TABLE_TEST_UNSET\"",
            "sink[0].url",
        ),
        (
            "type = \"postgres\"\nurl = \"postgres://a@127.0.0.1/x\"\ntimeout = \"soon\"",
            "sink[0].timeout",
        ),
        (
            "type = \"sqlite\"\npath = \"x.db\"\ntable = \"1x\"",
            "sink[0].table",
        ),
        (
            "type = \"sqlite\"\npath = \"x.db\"\ntable = \"main.x\"",
            "sink[0].table",
        ),
        ("type = \"sqlite\"\npath = \"\"", "sink[0].path"),
        (
            "type = \"sqlite\"\npath = \"x.db\"\nnotify = \"x\"",
            "notify",
        ),
        ("type = \"postgres\"\ntable = \"x\"", "url"),
    ] {
        let config = fixture.config(&format!("{head}[[sink]]\n{sink}\n"));
        for args in [
            ["serve", "--check", "--config", &config],
            ["sink", "migrate", "--config", &config],
        ] {
            let run = hookbr(&args);
            assert_eq!(run.code, Some(2), "{sink}: {run:?}");
            assert!(run.stderr.contains(key), "{sink}: {key}: {run:?}");
        }
    }
    // A configuration without table sinks has nothing to migrate.
    let config = fixture.config(&format!(
        "{head}[[sink]]\ntype = \"command\"\ncommand = [\"true\"]\n"
    ));
    let run = migrate(&config);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("nothing to migrate"), "{run:?}");
    let run = hookbr(&["sink", "migrate", "--config", &fixture.file("missing.toml")]);
    assert_eq!(run.code, Some(2), "{run:?}");
}
