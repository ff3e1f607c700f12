//! The `type = "nats"` sink end to end: the real `hookbr serve`, the real `nats-server` (with
//! JetStream) that `scripts/test` starts (`HOOKBR_TEST_NATS_URL`; the outage and TLS tests
//! start their own from PATH), and an async-nats client reading the stream back. Every child
//! process is bounded and killed when a test ends; every wait has a deadline.

mod common;

use common::{Run, run_within};
use std::{
    io::Read as _,
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use async_nats::jetstream;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use serde_json::Value;
use sha2::Sha256;

/// The longest any one short `hookbr` run may take.
const DEADLINE: Duration = Duration::from_secs(60);
/// The longest a polled condition may take to become true.
const WAIT: Duration = Duration::from_secs(40);

const BONIFIQ_SECRET: &str = "bq-nats-s3cr3t-5c1d7e20";
/// The sink key's raw bytes (32, as `hookbr init` makes them).
const SINK_KEY: &[u8; 32] = b"hookbr-nats-tests-sink-key-01234";

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

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookbr"));
    command.args(args);
    for name in UNSET {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
}

fn hookbr(args: &[&str]) -> Run {
    run_within(command(args, &[]), DEADLINE)
}

/// The NATS server `scripts/test` started, or `None` (with a notice) outside CI.
fn nats_url() -> Option<String> {
    match std::env::var("HOOKBR_TEST_NATS_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("HOOKBR_TEST_NATS_URL is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!("NOTICE: HOOKBR_TEST_NATS_URL not set (run scripts/test): test skipped");
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A JetStream client of `url` (bounded).
fn jetstream(rt: &tokio::runtime::Runtime, url: &str) -> jetstream::Context {
    rt.block_on(async {
        let client = tokio::time::timeout(Duration::from_secs(10), async_nats::connect(url))
            .await
            .expect("connects within 10 s")
            .expect("connects");
        jetstream::new(client)
    })
}

/// Creates `name` capturing `subjects`.
fn create_stream(
    rt: &tokio::runtime::Runtime,
    js: &jetstream::Context,
    name: &str,
    subjects: &[&str],
) {
    rt.block_on(async {
        js.create_stream(jetstream::stream::Config {
            name: name.to_owned(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        })
        .await
        .expect("stream created");
    });
}

/// The stream's configuration and message count, `None` when it does not exist.
fn stream_info(
    rt: &tokio::runtime::Runtime,
    js: &jetstream::Context,
    name: &str,
) -> Option<jetstream::stream::Info> {
    rt.block_on(async {
        let stream = tokio::time::timeout(Duration::from_secs(10), js.get_stream(name))
            .await
            .expect("answers within 10 s")
            .ok()?;
        Some(stream.cached_info().clone())
    })
}

fn message(
    rt: &tokio::runtime::Runtime,
    js: &jetstream::Context,
    name: &str,
    sequence: u64,
) -> jetstream::message::StreamMessage {
    rt.block_on(async {
        let stream = js.get_stream(name).await.unwrap();
        stream.get_raw_message(sequence).await.unwrap()
    })
}

fn header(message: &jetstream::message::StreamMessage, name: &str) -> String {
    let found = if name == "Nats-Msg-Id" {
        message.headers.get(async_nats::header::NATS_MESSAGE_ID)
    } else {
        message.headers.get(name)
    };
    found
        .unwrap_or_else(|| panic!("no {name} header: {:?}", message.headers))
        .as_str()
        .to_owned()
}

/// Checks `webhook-signature` the Standard Webhooks way with [`SINK_KEY`].
fn assert_signed(message: &jetstream::message::StreamMessage) {
    let id = header(message, "webhook-id");
    let timestamp = header(message, "webhook-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(SINK_KEY).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&message.payload);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(header(message, "webhook-signature"), expected);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sent: u64 = timestamp.parse().unwrap();
    assert!(sent.abs_diff(now) < 300, "{timestamp} vs {now}");
}

/// A temporary folder with the BonifiQ secret and the sink's `whsec_` secret in files.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bonifiq.secret"), BONIFIQ_SECRET).unwrap();
        let whsec = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(SINK_KEY)
        );
        std::fs::write(dir.path().join("sink.secret"), whsec).unwrap();
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, name: &str) -> String {
        self.path().join(name).to_str().unwrap().to_owned()
    }

    /// Writes `text` as hookbr.toml and returns its path.
    fn config(&self, text: &str) -> String {
        let path = self.path().join("hookbr.toml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// `hookbr send bonifiq` to `addr` with `extra` arguments; returns the delivery id.
    fn send(&self, addr: SocketAddr, extra: &[&str]) -> String {
        let url = format!("http://{addr}/webhooks/bonifiq");
        let secret = format!("file:{}", self.file("bonifiq.secret"));
        let mut args = vec!["send", "bonifiq", &url, "--secret", &secret];
        args.extend_from_slice(extra);
        args.push("--json");
        let run = hookbr(&args);
        assert_eq!(run.code, Some(0), "{run:?}");
        let json = run.json();
        let ids = json["delivery_ids"].as_array().unwrap();
        assert_eq!(ids.len(), 1, "{run:?}");
        ids[0].as_str().unwrap().to_owned()
    }
}

/// `[server]`, a fast worker and the BonifiQ endpoint, listening on `addr`.
fn head(addr: SocketAddr, inbox: &str, fixture: &Fixture) -> String {
    format!(
        "[server]\nlisten = \"{addr}\"\n\n[inbox]\nurl = \"{inbox}\"\n\n\
         [worker]\nmax_attempts = 2\nbackoff = \"100ms\"\nmax_backoff = \"300ms\"\n\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\n\
         secrets = [\"file:{}\"]\n\n",
        fixture.file("bonifiq.secret")
    )
}

/// A `[[sink]] type = "nats"` table.
fn nats_sink(url: &str, subject: &str, stream: &str, extra: &str) -> String {
    format!(
        "[[sink]]\ntype = \"nats\"\nurl = \"{url}\"\nsubject = \"{subject}\"\nstream = \"{stream}\"\n{extra}\n"
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
        let mut child = command(&["serve", "--config", config], &[])
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

fn addr() -> SocketAddr {
    format!("127.0.0.1:{}", free_port()).parse().unwrap()
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

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| text.lines().count())
}

/// A delivery lands once in the stream with its subject, Standard Webhooks headers (as NATS
/// headers) and the normalized JSON; the worker's retries (a second sink fails) and an operator's
/// replay publish it again with the same `Nats-Msg-Id`, and the stream keeps one message.
#[test]
fn nats_sink_publishes_once_and_the_stream_drops_retries() {
    let Some(url) = nats_url() else { return };
    let rt = runtime();
    let js = jetstream(&rt, &url);
    let prefix = unique("t");
    let stream = prefix.to_uppercase();
    // A stream wider than the sink's pattern captures it.
    create_stream(&rt, &js, &stream, &[&format!("{prefix}.>")]);

    let fixture = Fixture::new();
    let runs = fixture.path().join("runs.log");
    let ok = fixture.path().join("ok");
    let listen = addr();
    let config = format!(
        "{}{}[[sink]]\ntype = \"command\"\ncommand = [\"sh\", \"-c\", \"echo run >> {}; test -f {}\"]\n",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        nats_sink(
            &url,
            &format!("{prefix}.{{provider}}.{{kind}}"),
            &stream,
            &format!("secret = \"file:{}\"", fixture.file("sink.secret"))
        ),
        runs.display(),
        ok.display()
    );
    let config = fixture.config(&config);
    let serve = Serve::start(&config, listen).unwrap_or_else(|(code, log)| {
        panic!("serve exited {code:?}:\n{log}");
    });
    let delivery_id = fixture.send(serve.addr, &[]);

    // Two attempts: each published (the NATS sink runs first), the command failed: dead.
    let dead = wait_for("the row to be dead-lettered", || {
        inbox_json(&serve.config, &["dead"])
            .as_array()
            .unwrap()
            .first()
            .cloned()
            .filter(|row| row["state"] == "dead")
    });
    assert_eq!(dead["attempts"], 2, "{dead}");
    assert_eq!(lines(&runs), 2);
    let info = stream_info(&rt, &js, &stream).unwrap();
    assert_eq!(info.state.messages, 1, "two publishes, one message");

    // Fixed and replayed: a third publish, still one message.
    std::fs::write(&ok, "").unwrap();
    let id = dead["id"].as_i64().unwrap().to_string();
    let run = hookbr(&["inbox", "replay", &id, "--config", &serve.config]);
    assert_eq!(run.code, Some(0), "{run:?}");
    wait_for("the replayed row to be done", || {
        let stats = inbox_json(&serve.config, &["stats"]);
        (stats["done"] == 1 && stats["pending"] == 0 && stats["in_flight"] == 0).then_some(())
    });
    assert_eq!(lines(&runs), 3);
    let info = stream_info(&rt, &js, &stream).unwrap();
    assert_eq!(info.state.messages, 1, "three publishes, one message");

    let stored = message(&rt, &js, &stream, info.state.first_sequence);
    assert_eq!(
        stored.subject.as_str(),
        format!("{prefix}.bonifiq.Point_Add")
    );
    let webhook_id = header(&stored, "webhook-id");
    assert!(webhook_id.starts_with("msg_"), "{webhook_id}");
    assert_eq!(header(&stored, "Nats-Msg-Id"), webhook_id);
    assert_eq!(header(&stored, "content-type"), "application/json");
    assert_signed(&stored);
    let json: Value = serde_json::from_slice(&stored.payload).unwrap();
    assert_eq!(json["type"], "bonifiq.Point_Add", "{json}");
    assert_eq!(json["data"]["delivery_id"], delivery_id.as_str(), "{json}");
    assert_eq!(json["data"]["provider"], "bonifiq", "{json}");
    assert_eq!(
        json["data"]["attempt"], 1,
        "the first publish is the one kept: {json}"
    );
}

/// Direct mode (no inbox): the sink publishes inside the request; a provider's retry of the same
/// delivery is answered as a duplicate and the stream holds one message.
#[test]
fn nats_sink_in_direct_mode() {
    let Some(url) = nats_url() else { return };
    let rt = runtime();
    let js = jetstream(&rt, &url);
    let prefix = unique("d");
    let stream = prefix.to_uppercase();
    create_stream(&rt, &js, &stream, &[&format!("{prefix}.*.*")]);
    let fixture = Fixture::new();
    let listen = addr();
    let config = fixture.config(&format!(
        "{}{}",
        head(listen, "none", &fixture),
        nats_sink(
            &url,
            &format!("{prefix}.{{provider}}.{{kind}}"),
            &stream,
            ""
        )
    ));
    let serve = Serve::start(&config, listen).unwrap_or_else(|(code, log)| {
        panic!("serve exited {code:?}:\n{log}");
    });
    fixture.send(serve.addr, &[]);
    let info = stream_info(&rt, &js, &stream).unwrap();
    assert_eq!(info.state.messages, 1);
    let stored = message(&rt, &js, &stream, info.state.first_sequence);
    assert_eq!(
        stored.subject.as_str(),
        format!("{prefix}.bonifiq.Point_Add")
    );
    // No `secret`: no signature, the id and timestamp still travel.
    assert!(stored.headers.get("webhook-signature").is_none());
    assert_eq!(
        header(&stored, "Nats-Msg-Id"),
        header(&stored, "webhook-id")
    );
}

/// Start-up: a stream that does not exist, or that does not capture the subject, stops `serve`
/// with exit 1 and a message naming it; `create_stream = true` creates it (capturing the
/// subject's pattern, duplicate window 2 minutes).
#[test]
fn nats_stream_is_checked_at_start() {
    let Some(url) = nats_url() else { return };
    let rt = runtime();
    let js = jetstream(&rt, &url);
    let fixture = Fixture::new();
    let prefix = unique("s");
    let missing = format!("{}_MISSING", prefix.to_uppercase());
    let subject = format!("{prefix}.{{provider}}.{{kind}}");

    let listen = addr();
    let config = fixture.config(&format!(
        "{}{}",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        nats_sink(&url, &subject, &missing, "")
    ));
    let (code, log) = Serve::start(&config, listen)
        .err()
        .expect("serve refuses to start");
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains(&missing), "{log}");
    assert!(log.contains("does not exist"), "{log}");
    assert!(log.contains("sink[0]"), "{log}");
    assert!(log.contains(&format!("{prefix}.*.*")), "{log}");
    assert!(stream_info(&rt, &js, &missing).is_none());

    // Captures other subjects only.
    let other = format!("{}_OTHER", prefix.to_uppercase());
    create_stream(&rt, &js, &other, &[&format!("{prefix}.bonifiq.*")]);
    let listen = addr();
    let config = fixture.config(&format!(
        "{}{}",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        nats_sink(&url, &subject, &other, "")
    ));
    let (code, log) = Serve::start(&config, listen)
        .err()
        .expect("serve refuses to start");
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("does not capture"), "{log}");
    assert!(log.contains(&other), "{log}");
    // (Out of the way: a stream made below may not overlap it.)
    rt.block_on(js.delete_stream(&other)).unwrap();

    // create_stream = true: made at start, then used.
    let listen = addr();
    let config = fixture.config(&format!(
        "{}{}",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        nats_sink(&url, &subject, &missing, "create_stream = true")
    ));
    let serve = Serve::start(&config, listen).unwrap_or_else(|(code, log)| {
        panic!("serve exited {code:?}:\n{log}");
    });
    let info = stream_info(&rt, &js, &missing).expect("created");
    assert_eq!(info.config.subjects, [format!("{prefix}.*.*")]);
    assert_eq!(info.config.duplicate_window, Duration::from_secs(120));
    fixture.send(serve.addr, &[]);
    wait_for("the delivery in the created stream", || {
        (stream_info(&rt, &js, &missing)?.state.messages == 1).then_some(())
    });
}

/// Nothing listening: `serve` stops at start with exit 1, naming the server.
#[test]
fn nats_unreachable_at_start_is_an_error() {
    let fixture = Fixture::new();
    let listen = addr();
    let dead = format!("nats://127.0.0.1:{}", free_port());
    let config = fixture.config(&format!(
        "{}{}",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        nats_sink(
            &dead,
            "hookbr.{provider}.{kind}",
            "HOOKBR",
            "timeout = \"2s\""
        )
    ));
    let (code, log) = Serve::start(&config, listen)
        .err()
        .expect("serve refuses to start");
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("cannot connect to NATS"), "{log}");
    assert!(log.contains(&dead), "{log}");
}

/// `serve --check` (and `serve`) refuse a bad NATS sink with exit 2, naming the key.
#[test]
fn nats_config_errors_exit_2_and_name_the_key() {
    let fixture = Fixture::new();
    std::fs::write(fixture.path().join("token"), "s3cr3t").unwrap();
    let listen = addr();
    std::fs::write(fixture.path().join("bogus.creds"), "not a creds file").unwrap();
    let cases: [(&str, &str, &str); 11] = [
        ("hookbr.{kind}.*", "", "sink[0].subject"),
        ("hookbr.{nope}", "", "sink[0].subject"),
        ("hookbr..x", "", "sink[0].subject"),
        ("hookbr.a b", "", "sink[0].subject"),
        ("hookbr.{kind}", "token = \"inline\"", "sink[0].token"),
        (
            "hookbr.{kind}",
            "token = \"file:token\"\nnkey = \"file:token\"",
            "sink[0].token",
        ),
        (
            "hookbr.{kind}",
            "password = \"file:token\"",
            "sink[0].password",
        ),
        ("hookbr.{kind}", "ca_file = \"ca.pem\"", "sink[0].ca_file"),
        ("hookbr.{kind}", "nkey = \"file:token\"", "sink[0].nkey"),
        (
            "hookbr.{kind}",
            "credentials = \"file:bogus.creds\"",
            "sink[0].credentials",
        ),
        // Typed keys of a sink are reported by line (serde's tagged tables lose the key).
        (
            "hookbr.{kind}",
            "create_stream = \"yes\"",
            "expected a boolean",
        ),
    ];
    for (subject, extra, key) in cases {
        let config = fixture.config(&format!(
            "{}{}",
            head(listen, "sqlite:inbox.sqlite3", &fixture),
            nats_sink("nats://127.0.0.1:4222", subject, "HOOKBR", extra)
        ));
        for args in [
            &["serve", "--check", "--config", &config][..],
            &["serve", "--config", &config],
        ] {
            let run = hookbr(args);
            assert_eq!(run.code, Some(2), "{subject} {extra}: {run:?}");
            assert!(run.stderr.contains(key), "{key} in {run:?}");
            assert!(!run.stderr.contains("s3cr3t"), "{run:?}");
        }
    }
    // No stream, a wrong scheme.
    for (text, key) in [
        (
            "[[sink]]\ntype = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n",
            "sink[0].stream",
        ),
        (
            "[[sink]]\ntype = \"nats\"\nurl = \"http://127.0.0.1:4222\"\nstream = \"S\"\n",
            "sink[0].url",
        ),
        (
            "[[sink]]\ntype = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nstream = \"a.b\"\n",
            "sink[0].stream",
        ),
    ] {
        let config = fixture.config(&format!(
            "{}{text}",
            head(listen, "sqlite:inbox.sqlite3", &fixture)
        ));
        let run = hookbr(&["serve", "--check", "--config", &config]);
        assert_eq!(run.code, Some(2), "{text}: {run:?}");
        assert!(run.stderr.contains(key), "{key} in {run:?}");
    }
}

/// A `nats-server` of the test's own (from PATH), with JetStream, its store in `dir`; `extra`
/// arguments (TLS, authentication). Killed on drop.
struct OwnNats {
    child: Child,
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
}

impl OwnNats {
    fn start(dir: &Path, port: u16, extra: &[String]) -> Self {
        let mut server = Self {
            child: Self::spawn(dir, port, extra),
            port,
            dir: dir.to_owned(),
            extra: extra.to_vec(),
        };
        server.wait_listening();
        server
    }

    fn spawn(dir: &Path, port: u16, extra: &[String]) -> Child {
        Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "--store_dir",
            ])
            .arg(dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts")
    }

    fn wait_listening(&mut self) {
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        wait_for("nats-server to listen", || {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "nats-server exited"
            );
            let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
            stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
            let mut info = [0u8; 4];
            stream.read_exact(&mut info).ok()?;
            (&info == b"INFO").then_some(())
        });
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts again on the same port and store (the streams survive).
    fn restart(&mut self) {
        self.child = Self::spawn(&self.dir, self.port, &self.extra);
        self.wait_listening();
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// NATS goes down after start: deliveries are still accepted and their rows wait (retried with
/// backoff, never done) until NATS is back, then each lands in the stream once.
#[test]
fn nats_down_rows_wait_and_are_delivered_when_it_is_back() {
    if nats_url().is_none() {
        return;
    }
    let store = tempfile::tempdir().unwrap();
    let mut nats = OwnNats::start(store.path(), free_port(), &[]);
    let rt = runtime();
    let js = jetstream(&rt, &nats.url("nats"));
    create_stream(&rt, &js, "OUTAGE", &["outage.>"]);
    drop(js);

    let fixture = Fixture::new();
    let listen = addr();
    let config = format!(
        "[server]\nlisten = \"{listen}\"\n\n[worker]\nmax_attempts = 1000\nbackoff = \"100ms\"\nmax_backoff = \"500ms\"\n\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\nsecrets = [\"file:{}\"]\n\n{}",
        fixture.file("bonifiq.secret"),
        nats_sink(
            &nats.url("nats"),
            "outage.{provider}.{kind}",
            "OUTAGE",
            "timeout = \"1s\""
        )
    );
    let config = fixture.config(&config);
    let serve = Serve::start(&config, listen).unwrap_or_else(|(code, log)| {
        panic!("serve exited {code:?}:\n{log}");
    });

    nats.stop();
    let sent: Vec<String> = (0..3).map(|_| fixture.send(serve.addr, &[])).collect();
    // Retried, never done, while NATS is down.
    wait_for("failed attempts while NATS is down", || {
        let rows = inbox_json(&serve.config, &["list", "--limit", "10"]);
        let rows = rows.as_array().unwrap();
        (rows.len() == 3
            && rows.iter().all(|row| {
                row["state"] != "done"
                    && row["attempts"].as_u64().unwrap_or(0) >= 2
                    && row["last_error"]
                        .as_str()
                        .is_some_and(|e| e.contains("NATS") || e.contains("publish"))
            }))
        .then_some(())
    });
    let stats = inbox_json(&serve.config, &["stats"]);
    assert_eq!(stats["done"], 0, "{stats}");
    assert_eq!(stats["dead"], 0, "{stats}");

    nats.restart();
    wait_for("every row done after NATS is back", || {
        let stats = inbox_json(&serve.config, &["stats"]);
        (stats["done"] == 3).then_some(())
    });
    let js = jetstream(&rt, &nats.url("nats"));
    let info = stream_info(&rt, &js, "OUTAGE").unwrap();
    assert_eq!(
        info.state.messages, 3,
        "each delivery once despite the retries"
    );
    let mut ids: Vec<String> = (info.state.first_sequence..=info.state.last_sequence)
        .map(|seq| {
            let stored = message(&rt, &js, "OUTAGE", seq);
            let json: Value = serde_json::from_slice(&stored.payload).unwrap();
            json["data"]["delivery_id"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    let mut sent = sent;
    sent.sort();
    assert_eq!(ids, sent);
}

/// `tls://` with `ca_file` and a `token` by reference: the sink publishes over TLS; a wrong
/// token, or a certificate the system's roots do not trust, stops `serve` at start (exit 1)
/// without printing the token.
#[test]
fn nats_sink_over_tls_with_a_token() {
    if nats_url().is_none() {
        return;
    }
    let Ok(ca) = std::env::var("HOOKBR_TEST_TLS_CA") else {
        eprintln!("NOTICE: HOOKBR_TEST_TLS_CA not set (run scripts/test): test skipped");
        return;
    };
    let tls_dir = Path::new(&ca).parent().unwrap();
    let token = "nats-t0ken-5e1f0a77c2";
    let store = tempfile::tempdir().unwrap();
    let path = |name: &str| tls_dir.join(name).to_str().unwrap().to_owned();
    let nats = OwnNats::start(
        store.path(),
        free_port(),
        &[
            "--tls".into(),
            "--tlscert".into(),
            path("server.pem"),
            "--tlskey".into(),
            path("server.key"),
            "--auth".into(),
            token.into(),
        ],
    );
    let url = nats.url("tls");
    let rt = runtime();
    let js = rt.block_on(async {
        let client = async_nats::ConnectOptions::with_token(token.into())
            .add_root_certificates(PathBuf::from(&ca))
            .require_tls(true)
            .connect(url.as_str())
            .await
            .expect("the test connects over TLS");
        jetstream::new(client)
    });
    create_stream(&rt, &js, "SECURE", &["secure.>"]);

    let fixture = Fixture::new();
    std::fs::write(fixture.path().join("nats.token"), format!("{token}\n")).unwrap();
    std::fs::write(fixture.path().join("wrong.token"), "not-the-token\n").unwrap();
    let sink = |extra: &str| {
        nats_sink(
            &url,
            "secure.{provider}.{kind}",
            "SECURE",
            &format!("timeout = \"3s\"\n{extra}"),
        )
    };

    let listen = addr();
    let config = fixture.config(&format!(
        "{}{}",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        sink(&format!("ca_file = \"{ca}\"\ntoken = \"file:wrong.token\""))
    ));
    let (code, log) = Serve::start(&config, listen)
        .err()
        .expect("wrong token refused");
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("cannot connect to NATS"), "{log}");
    assert!(
        !log.contains("not-the-token") && !log.contains(token),
        "{log}"
    );

    let listen = addr();
    let config = fixture.config(&format!(
        "{}{}",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        sink("token = \"file:nats.token\"")
    ));
    let (code, log) = Serve::start(&config, listen)
        .err()
        .expect("untrusted certificate");
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("TLS handshake failed: certificate not trusted (unknown issuer)"),
        "{log}"
    );

    let listen = addr();
    let config = fixture.config(&format!(
        "{}{}",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        sink(&format!("ca_file = \"{ca}\"\ntoken = \"file:nats.token\""))
    ));
    let serve = Serve::start(&config, listen).unwrap_or_else(|(code, log)| {
        panic!("serve exited {code:?}:\n{log}");
    });
    assert!(!serve.log().contains(token));
    fixture.send(serve.addr, &[]);
    wait_for("the delivery over TLS", || {
        (stream_info(&rt, &js, "SECURE")?.state.messages == 1).then_some(())
    });
}

/// A stream whose duplicate window (JetStream's default, 2 minutes) is shorter than the worker's
/// longest retry delay (1 hour by default) is warned about at start; a reload (SIGHUP) to a
/// stream that does not exist is refused and the running configuration keeps publishing.
#[test]
fn nats_short_window_warned_and_reload_checked() {
    let Some(url) = nats_url() else { return };
    let rt = runtime();
    let js = jetstream(&rt, &url);
    let prefix = unique("w");
    let stream = prefix.to_uppercase();
    create_stream(&rt, &js, &stream, &[&format!("{prefix}.>")]);
    let fixture = Fixture::new();
    let listen = addr();
    let endpoint = format!(
        "[[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\nsecrets = [\"file:{}\"]\n\n",
        fixture.file("bonifiq.secret")
    );
    let subject = format!("{prefix}.{{provider}}.{{kind}}");
    let config = fixture.config(&format!(
        "[server]\nlisten = \"{listen}\"\n\n{endpoint}{}",
        nats_sink(&url, &subject, &stream, "")
    ));
    let serve = Serve::start(&config, listen).unwrap_or_else(|(code, log)| {
        panic!("serve exited {code:?}:\n{log}");
    });
    wait_for("the duplicate window warning", || {
        let log = serve.log();
        (log.contains("duplicate_window") && log.contains(&stream) && log.contains("3610 s"))
            .then_some(())
    });

    fixture.config(&format!(
        "[server]\nlisten = \"{listen}\"\n\n{endpoint}{}",
        nats_sink(&url, &subject, &format!("{stream}_GONE"), "")
    ));
    let status = Command::new("kill")
        .args(["-HUP", &serve.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for("the reload to be refused", || {
        let log = serve.log();
        (log.contains("reload refused") && log.contains(&format!("{stream}_GONE"))).then_some(())
    });
    fixture.send(serve.addr, &[]);
    wait_for("the delivery in the first stream", || {
        (stream_info(&rt, &js, &stream)?.state.messages == 1).then_some(())
    });
}

/// `user` and `password` (by reference) against a server that requires them.
#[test]
fn nats_sink_with_user_and_password() {
    if nats_url().is_none() {
        return;
    }
    let store = tempfile::tempdir().unwrap();
    let password = "pa55-w0rd-9d3e1";
    let nats = OwnNats::start(
        store.path(),
        free_port(),
        &[
            "--user".into(),
            "hookbr".into(),
            "--pass".into(),
            password.into(),
        ],
    );
    let url = nats.url("nats");
    let rt = runtime();
    let js = rt.block_on(async {
        let client =
            async_nats::ConnectOptions::with_user_and_password("hookbr".into(), password.into())
                .connect(url.as_str())
                .await
                .expect("the test connects");
        jetstream::new(client)
    });
    create_stream(&rt, &js, "AUTH", &["auth.>"]);
    let fixture = Fixture::new();
    std::fs::write(fixture.path().join("nats.password"), password).unwrap();
    let listen = addr();
    let config = fixture.config(&format!(
        "{}{}",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        nats_sink(
            &url,
            "auth.{provider}.{kind}",
            "AUTH",
            "user = \"hookbr\"\npassword = \"file:nats.password\""
        )
    ));
    let serve = Serve::start(&config, listen).unwrap_or_else(|(code, log)| {
        panic!("serve exited {code:?}:\n{log}");
    });
    fixture.send(serve.addr, &[]);
    wait_for("the delivery with user and password", || {
        (stream_info(&rt, &js, "AUTH")?.state.messages == 1).then_some(())
    });
    assert!(!serve.log().contains(password));
}

/// `nkey` (a user seed by reference) against a server that knows only the user's public key;
/// a seed of another user is refused at start (exit 1), the seed never printed.
#[test]
fn nats_sink_with_an_nkey() {
    if nats_url().is_none() {
        return;
    }
    let user = nkeys::KeyPair::new_user();
    let other = nkeys::KeyPair::new_user();
    let (seed, other_seed) = (user.seed().unwrap(), other.seed().unwrap());
    let store = tempfile::tempdir().unwrap();
    let server_config = store.path().join("nats.conf");
    std::fs::write(
        &server_config,
        format!(
            "authorization {{\n  users = [ {{ nkey: {} }} ]\n}}\n",
            user.public_key()
        ),
    )
    .unwrap();
    let nats = OwnNats::start(
        store.path(),
        free_port(),
        &["-c".into(), server_config.to_str().unwrap().to_owned()],
    );
    let url = nats.url("nats");
    let rt = runtime();
    let js = rt.block_on(async {
        let client = async_nats::ConnectOptions::with_nkey(seed.clone())
            .connect(url.as_str())
            .await
            .expect("the test connects");
        jetstream::new(client)
    });
    create_stream(&rt, &js, "NKEY", &["nkey.>"]);
    let fixture = Fixture::new();
    std::fs::write(fixture.path().join("user.nk"), format!("{seed}\n")).unwrap();
    std::fs::write(fixture.path().join("other.nk"), &other_seed).unwrap();
    let sink = |file: &str| {
        nats_sink(
            &url,
            "nkey.{provider}.{kind}",
            "NKEY",
            &format!("nkey = \"file:{file}\"\ntimeout = \"3s\""),
        )
    };

    let listen = addr();
    let config = fixture.config(&format!(
        "{}{}",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        sink("other.nk")
    ));
    let (code, log) = Serve::start(&config, listen)
        .err()
        .expect("unknown nkey refused");
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("cannot connect to NATS"), "{log}");
    assert!(!log.contains(&other_seed), "{log}");

    let listen = addr();
    let config = fixture.config(&format!(
        "{}{}",
        head(listen, "sqlite:inbox.sqlite3", &fixture),
        sink("user.nk")
    ));
    let serve = Serve::start(&config, listen).unwrap_or_else(|(code, log)| {
        panic!("serve exited {code:?}:\n{log}");
    });
    fixture.send(serve.addr, &[]);
    wait_for("the delivery with an nkey", || {
        (stream_info(&rt, &js, "NKEY")?.state.messages == 1).then_some(())
    });
    assert!(!serve.log().contains(&seed));
}
