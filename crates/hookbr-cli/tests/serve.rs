//! `hookbr demo`, `init`, `serve` and `inbox` end to end: the real binary, real sockets on
//! 127.0.0.1, a small axum application standing in for the merchant's app (it verifies the
//! Standard Webhooks signature itself), and `hookbr send` (or a plain HTTP client) standing in
//! for the providers. Every child process is bounded and killed when a test ends.

mod common;

use common::{Run, run_within};
use std::{
    collections::{HashMap, HashSet},
    io::{BufRead as _, BufReader, Read as _},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use serde_json::Value;
use sha2::Sha256;

/// The longest any one short `hookbr` run (send, inbox, init, keygen, serve --check) may take.
const DEADLINE: Duration = Duration::from_secs(60);
/// The longest a polled condition may take to become true.
const WAIT: Duration = Duration::from_secs(30);

const BONIFIQ_SECRET: &str = "bq-serve-s3cr3t-0f8a2c71";
const FOODY_TOKEN: &str = "7d0c55e1a9b84f4c8e2dzzfa3b6c9e01";
const ISET_SECRET: &str = "iset-serve-s3cr3t-5be1";
/// The sink key's raw bytes (32, as `hookbr init` makes them).
const SINK_KEY: &[u8; 32] = b"hookbr-serve-tests-sink-key-0123";

/// Environment variables the tests rely on being unset in the children.
const UNSET: [&str; 7] = [
    "HOOKBR_LOG",
    "HOOKBR_BONIFIQ_SECRET",
    "HOOKBR_FOODY_TOKEN",
    "HOOKBR_ISET_SECRET",
    "HOOKBR_SINK_SECRET",
    "HOOKBR_SERVE_TEST_SURELY_UNSET",
    "HOOKBR_REDIS_URL",
];

/// Proxy settings the children must not inherit.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookbr"));
    command.args(args);
    // The HTTP sink's client honours proxy variables, even for 127.0.0.1: keep the tests
    // hermetic on machines that set them.
    for name in UNSET.iter().chain(&PROXY_VARIABLES) {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
}

/// Runs `hookbr` with `args` (and `env`), killed after `deadline`.
fn hookbr_within(args: &[&str], env: &[(&str, &str)], deadline: Duration) -> Run {
    run_within(command(args, env), deadline)
}

fn hookbr_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    hookbr_within(args, env, DEADLINE)
}

fn hookbr(args: &[&str]) -> Run {
    hookbr_env(args, &[])
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

/// A port that was free a moment ago (the caller retries if someone takes it meanwhile).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether something on `addr` answers an HTTP request (any status).
fn answers_http(addr: SocketAddr) -> bool {
    use std::io::Write as _;
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /hookbr-readiness HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = [0u8; 9];
    stream.read_exact(&mut answer).is_ok() && answer.starts_with(b"HTTP/1.")
}

/// Collects a child's output, line by line, as it arrives.
fn collect_lines(pipe: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let collected = Arc::new(Mutex::new(String::new()));
    let sink = collected.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    collected
}

/// A `hookbr serve` child process, killed on drop.
struct Serve {
    child: Child,
    stderr: Arc<Mutex<String>>,
    addr: SocketAddr,
    config: PathBuf,
}

impl Serve {
    /// Writes `template` (with `{LISTEN}` replaced by a free loopback address) to
    /// `dir/hookbr.toml`, starts `hookbr serve` on it and waits until the port answers. A lost
    /// race for the port is retried with another one.
    fn start(dir: &Path, template: &str) -> Self {
        let config = dir.join("hookbr.toml");
        for _ in 0..5 {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            std::fs::write(&config, template.replace("{LISTEN}", &addr.to_string())).unwrap();
            let mut child = command(&["serve", "--config", config.to_str().unwrap()], &[])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("hookbr serve starts");
            let stderr = collect_lines(child.stderr.take().unwrap());
            let mut serve = Self {
                child,
                stderr,
                addr,
                config: config.clone(),
            };
            let started = Instant::now();
            loop {
                if let Some(status) = serve.child.try_wait().unwrap() {
                    // Let the reader thread catch up with the last lines (the pipe is closed).
                    let exited = Instant::now();
                    while !serve.log().contains("cannot listen")
                        && exited.elapsed() < Duration::from_secs(2)
                    {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    let log = serve.log();
                    assert!(
                        log.contains("cannot listen"),
                        "hookbr serve exited ({status}) before listening:\n{log}"
                    );
                    break; // Someone took the port: try another.
                }
                // Ready when the port answers HTTP and the child is still the one serving it
                // (log lines are not relied on: their wording and filter may change).
                if answers_http(addr) && serve.child.try_wait().unwrap().is_none() {
                    return serve;
                }
                assert!(
                    started.elapsed() < WAIT,
                    "hookbr serve did not listen within {WAIT:?}:\n{}",
                    serve.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free port for hookbr serve after 5 attempts");
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn config(&self) -> &str {
        self.config.to_str().unwrap()
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits (at most 30 s) for the exit code.
    fn terminate(&mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "hookbr serve did not stop within 30 s of SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `hookbr inbox <args> --json --config <config>`, which must succeed.
fn inbox_json(config: &str, args: &[&str]) -> Value {
    let mut all = vec!["inbox"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", "--config", config]);
    let run = hookbr(&all);
    assert_eq!(run.code, Some(0), "{all:?}: {run:?}");
    run.json()
}

/// Every inbox row (newest first).
fn inbox_rows(config: &str) -> Vec<Value> {
    inbox_json(config, &["list", "--limit", "5000"])
        .as_array()
        .expect("an array")
        .clone()
}

/// Waits until no row is pending or in flight, and returns the stats.
fn wait_settled(config: &str) -> Value {
    wait_for("the inbox to settle", || {
        let stats = inbox_json(config, &["stats"]);
        (stats["pending"] == 0 && stats["in_flight"] == 0).then_some(stats)
    })
}

// ---------------------------------------------------------------------------------------------
// The merchant's application: verifies the Standard Webhooks signature and records messages
// ---------------------------------------------------------------------------------------------

/// One message the application accepted.
#[derive(Debug, Clone)]
struct Received {
    webhook_id: String,
    body: String,
    json: Value,
}

#[derive(Debug, Default)]
struct AppState {
    /// Answer 500 to every (authentic) request while set.
    failing: AtomicBool,
    /// Every request.
    requests: AtomicUsize,
    /// Requests answered 500 because of `failing`.
    failed: AtomicUsize,
    /// Requests whose signature did not verify (answered 401): must stay empty.
    forged: Mutex<Vec<String>>,
    /// Messages answered 2xx.
    accepted: Mutex<Vec<Received>>,
}

/// `whsec_` + base64 of [`SINK_KEY`].
fn sink_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(SINK_KEY)
    )
}

/// The Standard Webhooks check, written from the specification rather than from hookbr's code:
/// HMAC-SHA256 keyed with the base64-decoded part after `whsec_`, over
/// `{webhook-id}.{webhook-timestamp}.{body}`, sent as `v1,<base64>` (space-separated list),
/// with the timestamp within 5 minutes of now.
fn verify_standard_webhook(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| format!("no {name} header"))
    };
    let id = header("webhook-id")?;
    let timestamp = header("webhook-timestamp")?;
    let signatures = header("webhook-signature")?;
    if !header("content-type")?.starts_with("application/json") {
        return Err("content-type is not application/json".into());
    }
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| format!("bad timestamp {timestamp:?}"))?;
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    if (now - seconds).abs() > 300 {
        return Err(format!("timestamp {seconds} too far from {now}"));
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    if signatures.split(' ').any(|signature| signature == expected) {
        Ok(id.to_owned())
    } else {
        Err(format!("signature {signatures:?} does not verify"))
    }
}

async fn app_receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let webhook_id = match verify_standard_webhook(&sink_secret(), &headers, &body) {
        Ok(id) => id,
        Err(why) => {
            state.forged.lock().unwrap().push(why);
            return StatusCode::UNAUTHORIZED;
        }
    };
    if state.failing.load(Ordering::SeqCst) {
        state.failed.fetch_add(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        state.forged.lock().unwrap().push("not JSON".into());
        return StatusCode::BAD_REQUEST;
    };
    state.accepted.lock().unwrap().push(Received {
        webhook_id,
        body: String::from_utf8_lossy(&body).into_owned(),
        json,
    });
    // Any 2xx is success for hookbr's HTTP sink.
    StatusCode::NO_CONTENT
}

/// The application, on its own runtime, listening on 127.0.0.1:0.
struct App {
    addr: SocketAddr,
    state: Arc<AppState>,
    _runtime: tokio::runtime::Runtime,
}

impl App {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(AppState::default());
        let router = Router::new()
            .route("/events", post(app_receive))
            .with_state(state.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            addr,
            state,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/events", self.addr)
    }

    fn accepted(&self) -> Vec<Received> {
        self.state.accepted.lock().unwrap().clone()
    }

    /// The accepted messages for `delivery_id`.
    fn messages_for(&self, delivery_id: &str) -> Vec<Received> {
        self.accepted()
            .into_iter()
            .filter(|message| message.json["data"]["delivery_id"] == delivery_id)
            .collect()
    }

    fn assert_no_forgery(&self) {
        let forged = self.state.forged.lock().unwrap();
        assert!(
            forged.is_empty(),
            "hookbr's sink requests did not verify: {forged:?}"
        );
    }

    /// The `[[sink]]` table forwarding here (the secret by `file:` reference).
    fn sink_config(&self, dir: &Path) -> String {
        std::fs::write(dir.join("sink.secret"), format!("{}\n", sink_secret())).unwrap();
        format!(
            "[[sink]]\ntype = \"http\"\nurl = \"{}\"\nsecret = \"file:sink.secret\"\ntimeout = \"5s\"\n",
            self.url()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Configurations
// ---------------------------------------------------------------------------------------------

const SERVER: &str = "[server]\nlisten = \"{LISTEN}\"\n\n";

/// Quick retries, so a failing sink is retried within the test's patience.
const FAST_WORKER: &str = "[worker]\nbackoff = \"100ms\"\nmax_backoff = \"300ms\"\n\n";

const BONIFIQ_ENDPOINT: &str = "[[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\nsecrets = [\"file:bonifiq.secret\"]\n\n";

const OTHER_ENDPOINTS: &str = r#"[[endpoint]]
provider = "foody"
path = "/webhooks/foody"
tokens = ["file:foody.token"]

[[endpoint]]
provider = "iset"
kind = "order_upserted"
path = "/webhooks/iset/orders"
secrets = ["file:iset.secret"]

[[endpoint]]
provider = "grafeno"
path = "/webhooks/grafeno"
public_keys = ["file:k.pub.pem"]

"#;

/// A temporary folder with the providers' secrets in files (and, on request, a Grafeno key pair
/// made by `hookbr keygen --out <dir>/k`).
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(grafeno: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, value) in [
            ("bonifiq.secret", BONIFIQ_SECRET),
            ("foody.token", FOODY_TOKEN),
            ("iset.secret", ISET_SECRET),
        ] {
            std::fs::write(dir.path().join(name), format!("{value}\n")).unwrap();
        }
        if grafeno {
            let prefix = dir.path().join("k");
            let run = hookbr(&["keygen", "--out", prefix.to_str().unwrap()]);
            assert_eq!(run.code, Some(0), "{run:?}");
        }
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, name: &str) -> String {
        self.path().join(name).to_str().unwrap().to_owned()
    }

    /// `hookbr send <provider>` arguments for an authentic delivery to `serve`.
    fn send_args(&self, serve: &Serve, provider: &str) -> Vec<String> {
        let (path, flag, value) = match provider {
            "bonifiq" => (
                "/webhooks/bonifiq",
                "--secret",
                format!("file:{}", self.file("bonifiq.secret")),
            ),
            "foody" => (
                "/webhooks/foody",
                "--token",
                format!("file:{}", self.file("foody.token")),
            ),
            "iset" => (
                "/webhooks/iset/orders",
                "--secret",
                format!("file:{}", self.file("iset.secret")),
            ),
            "grafeno" => ("/webhooks/grafeno", "--private-key", self.file("k.key.pem")),
            other => panic!("no such provider {other}"),
        };
        vec![
            "send".into(),
            provider.into(),
            serve.url(path),
            flag.into(),
            value,
        ]
    }

    /// Runs `hookbr send <provider> … <extra> --json`.
    fn send(&self, serve: &Serve, provider: &str, extra: &[&str]) -> Run {
        let args = self.send_args(serve, provider);
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend_from_slice(extra);
        all.push("--json");
        hookbr(&all)
    }
}

/// The single delivery id of a `send --json` summary.
fn only_delivery_id(run: &Run) -> String {
    let json = run.json();
    let ids = json["delivery_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 1, "{run:?}");
    ids[0].as_str().unwrap().to_owned()
}

const PROVIDERS: [&str; 4] = ["bonifiq", "foody", "iset", "grafeno"];

// ---------------------------------------------------------------------------------------------
// 1. demo
// ---------------------------------------------------------------------------------------------

#[test]
fn demo_prints_the_expected_outcomes() {
    let run = hookbr_within(&["demo"], &[], Duration::from_secs(120));
    assert_eq!(run.code, Some(0), "{run:?}");
    // Table rows: columns are separated by at least two spaces, cells contain single spaces.
    let rows: Vec<Vec<String>> = run
        .stdout
        .lines()
        .skip_while(|line| !line.starts_with("PROVIDER"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 9, "{}", run.stdout);
    for row in &rows {
        assert_eq!(row.len(), 5, "{row:?}\n{}", run.stdout);
    }
    let expect = |index: usize, provider: &str, kind: &dyn Fn(&str) -> bool, status, outcome| {
        let row = &rows[index];
        assert_eq!(row[0], provider, "row {index}: {row:?}");
        assert!(kind(&row[1]), "row {index} kind: {row:?}");
        assert_eq!(row[3], status, "row {index} status: {row:?}");
        assert!(
            row[4].starts_with(outcome),
            "row {index} outcome: {row:?}\n{}",
            run.stdout
        );
    };
    let processed = "processed";
    expect(0, "bonifiq", &|k| k == "Point_Add", "200", processed);
    expect(
        1,
        "bonifiq",
        &|k| k.starts_with("Communication_"),
        "200",
        processed,
    );
    expect(2, "foody", &|k| k == "hook_test", "200", "handshake");
    expect(
        3,
        "foody",
        &|k| k == "order_status_updated",
        "200",
        processed,
    );
    expect(4, "iset", &|k| k == "order_upserted", "200", processed);
    expect(5, "grafeno", &|k| k == "approved", "200", processed);
    expect(
        6,
        "grafeno",
        &|k| k == "forged: approved",
        "401",
        "rejected: unauthorized",
    );
    expect(
        7,
        "bonifiq",
        &|k| k == "resent: Point_Add",
        "200",
        "duplicate",
    );
    expect(
        8,
        "bonifiq",
        &|k| k.starts_with("unknown topic: "),
        "200",
        processed,
    );
    // The resent delivery is the first one; every other delivery id is distinct.
    assert_eq!(rows[7][2], rows[0][2]);
    let ids: HashSet<&str> = rows.iter().map(|row| row[2].as_str()).collect();
    assert_eq!(ids.len(), 8, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("forged and duplicate deliveries were never stored")
    );
    assert!(
        run.stdout.contains("inbox: 6 stored ("),
        "six deliveries stored: {}",
        run.stdout
    );
}

/// The summary under the table agrees with it: six rows say "processed", so six rows are
/// done. Several runs, since the disagreement is a race.
#[test]
fn demo_summary_agrees_with_the_table() {
    for _ in 0..5 {
        let run = hookbr_within(&["demo"], &[], Duration::from_secs(120));
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(
            run.stdout
                .contains("inbox: 6 stored (6 done, 0 pending, 0 dead)"),
            "{}",
            run.stdout
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 2. serve + send, every provider
// ---------------------------------------------------------------------------------------------

#[test]
fn serve_and_send_for_every_provider() {
    let fixture = Fixture::new(true);
    let app = App::start();
    let config = format!(
        "{SERVER}[inbox]\nurl = \"sqlite:inbox.sqlite3\"\n\n{FAST_WORKER}{BONIFIQ_ENDPOINT}{OTHER_ENDPOINTS}{}",
        app.sink_config(fixture.path())
    );
    let serve = Serve::start(fixture.path(), &config);
    let mut expected: HashMap<String, String> = HashMap::new(); // delivery id → type

    for provider in PROVIDERS {
        // Authentic: accepted, then forwarded once, with the right type, id and event.
        let run = fixture.send(&serve, provider, &[]);
        assert_eq!(run.code, Some(0), "{provider}: {run:?}");
        let id = only_delivery_id(&run);
        let event_type = format!("{provider}.{}", run.json()["kind"].as_str().unwrap());
        let message = wait_for(&format!("{provider} at the sink"), || {
            app.messages_for(&id).into_iter().next()
        });
        assert_eq!(message.json["type"], event_type.as_str(), "{message:?}");
        let data = &message.json["data"];
        assert_eq!(data["provider"], provider, "{message:?}");
        assert_eq!(data["delivery_id"], id.as_str());
        assert_eq!(data["attempt"], 1);
        assert!(
            data["event"].is_object() && !data["event"].as_object().unwrap().is_empty(),
            "{provider}: no event in {message:?}"
        );
        assert!(message.webhook_id.starts_with("msg_"), "{message:?}");
        expected.insert(id, event_type.clone());

        // Forged: refused, never stored, never forwarded.
        let run = fixture.send(&serve, provider, &["--tamper", "signature"]);
        assert_eq!(run.code, Some(1), "{provider} forged: {run:?}");
        assert_eq!(
            run.json()["statuses"],
            serde_json::json!({"401": 1}),
            "{provider}"
        );
        let forged = only_delivery_id(&run);
        assert!(!expected.contains_key(&forged));

        // The same delivery three times: one message.
        let run = fixture.send(&serve, provider, &["--repeat", "3"]);
        assert_eq!(run.code, Some(0), "{provider} repeated: {run:?}");
        let json = run.json();
        assert_eq!(json["statuses"], serde_json::json!({"200": 3}), "{run:?}");
        assert_eq!(json["duplicates"], 2, "{run:?}");
        let repeated = only_delivery_id(&run);
        expected.insert(repeated, event_type);
    }

    // Once everything stored has been handed over: exactly one message per stored delivery,
    // none for the forged ones or the duplicates.
    wait_for("every delivery at the sink", || {
        (app.accepted().len() >= expected.len()).then_some(())
    });
    let stats = wait_settled(serve.config());
    assert_eq!(stats["done"], expected.len(), "{stats}");
    assert_eq!(stats["dead"], 0, "{stats}");
    let accepted = app.accepted();
    let got: HashMap<String, String> = accepted
        .iter()
        .map(|message| {
            (
                message.json["data"]["delivery_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                message.json["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(accepted.len(), expected.len(), "one message per delivery");
    assert_eq!(got, expected);
    app.assert_no_forgery();
    assert_eq!(app.state.failed.load(Ordering::SeqCst), 0);

    // Foody's token never leaves hookbr: not in what the sink got, not in `inbox show`.
    // (Nor do the other providers' secrets.)
    for message in &accepted {
        assert!(!message.body.contains(FOODY_TOKEN), "{message:?}");
        assert!(!message.body.contains(BONIFIQ_SECRET), "{message:?}");
        assert!(!message.body.contains(ISET_SECRET), "{message:?}");
    }
    let rows = inbox_rows(serve.config());
    assert_eq!(rows.len(), expected.len());
    let mut shown_foody = 0;
    for row in &rows {
        let id = row["id"].as_i64().unwrap().to_string();
        let run = hookbr(&["inbox", "show", &id, "--json", "--config", serve.config()]);
        assert_eq!(run.code, Some(0), "{run:?}");
        let text = run.all();
        for secret in [FOODY_TOKEN, BONIFIQ_SECRET, ISET_SECRET] {
            assert!(!text.contains(secret), "{secret} in inbox show: {text}");
        }
        let shown = run.json();
        if shown["provider"] == "foody" {
            shown_foody += 1;
            assert_eq!(shown["body"]["token"], "[redacted]", "{shown}");
        }
        // The human form too.
        let run = hookbr(&["inbox", "show", &id, "--config", serve.config()]);
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(!run.all().contains(FOODY_TOKEN), "{run:?}");
    }
    assert_eq!(shown_foody, 2);
    assert!(!serve.log().contains(FOODY_TOKEN), "{}", serve.log());
}

// ---------------------------------------------------------------------------------------------
// 3. failing sink → retries → dead letter → replay → delivered once
// ---------------------------------------------------------------------------------------------

#[test]
fn failing_sink_dead_letters_then_replay_delivers_once() {
    let fixture = Fixture::new(false);
    let app = App::start();
    app.state.failing.store(true, Ordering::SeqCst);
    let config = format!(
        "{SERVER}[worker]\nmax_attempts = 3\nbackoff = \"100ms\"\nmax_backoff = \"200ms\"\n\n{BONIFIQ_ENDPOINT}{}",
        app.sink_config(fixture.path())
    );
    let serve = Serve::start(fixture.path(), &config);
    let run = fixture.send(&serve, "bonifiq", &[]);
    assert_eq!(
        run.code,
        Some(0),
        "stored even though the sink fails: {run:?}"
    );
    let delivery_id = only_delivery_id(&run);

    let dead = wait_for("the delivery to be dead-lettered", || {
        let dead = inbox_json(serve.config(), &["dead"]);
        dead.as_array()
            .unwrap()
            .first()
            .cloned()
            .filter(|row| row["state"] == "dead")
    });
    assert_eq!(dead["delivery_id"], delivery_id.as_str(), "{dead}");
    assert_eq!(dead["attempts"], 3, "{dead}");
    let last_error = dead["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains("HTTP 500"), "{dead}");
    assert!(last_error.contains(&app.url()), "{dead}");
    assert_eq!(app.state.failed.load(Ordering::SeqCst), 3);
    assert!(app.accepted().is_empty());
    let stats = inbox_json(serve.config(), &["stats"]);
    assert_eq!(
        (stats["dead"].as_u64(), stats["done"].as_u64()),
        (Some(1), Some(0))
    );

    // The application is fixed; the operator replays.
    app.state.failing.store(false, Ordering::SeqCst);
    let id = dead["id"].as_i64().unwrap().to_string();
    let run = hookbr(&["inbox", "replay", &id, "--config", serve.config()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains(&format!("replayed {id}")), "{run:?}");
    let done = wait_for("the replayed delivery to be done", || {
        inbox_rows(serve.config())
            .into_iter()
            .find(|row| row["id"].as_i64().unwrap().to_string() == id && row["state"] == "done")
    });
    assert_eq!(done["delivery_id"], delivery_id.as_str());
    let messages = app.messages_for(&delivery_id);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(app.accepted().len(), 1);
    assert_eq!(messages[0].json["type"], "bonifiq.Point_Add");
    app.assert_no_forgery();

    // Replaying what is not dead, or what does not exist, is refused.
    let run = hookbr(&["inbox", "replay", &id, "--config", serve.config()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains(&id), "{run:?}");
    let run = hookbr(&["inbox", "replay", "999999", "--config", serve.config()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let run = hookbr(&["inbox", "show", "999999", "--config", serve.config()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("999999"), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");

    let stats = wait_settled(serve.config());
    let mut keys: Vec<&str> = stats
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "dead",
            "done",
            "in_flight",
            "oldest_pending_age_ms",
            "oldest_pending_at",
            "pending"
        ]
    );
    assert_eq!(stats["done"], 1, "{stats}");
    assert_eq!(stats["dead"], 0, "{stats}");
    assert_eq!(stats["oldest_pending_at"], Value::Null, "{stats}");
    // Still exactly one successful delivery after the rejected replays.
    assert_eq!(app.accepted().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// 4. command sink
// ---------------------------------------------------------------------------------------------

#[test]
fn command_sink_receives_the_normalized_json() {
    let fixture = Fixture::new(false);
    let events = fixture.path().join("events.jsonl");
    let events_text = events.to_str().unwrap();
    let config = format!(
        "{SERVER}{FAST_WORKER}{BONIFIQ_ENDPOINT}[[sink]]\ntype = \"command\"\ncommand = [\"sh\", \"-c\", \"event=$(cat); printf '%s\\\\n' \\\"$event\\\" >> {events_text}\"]\n"
    );
    let serve = Serve::start(fixture.path(), &config);
    let mut ids = Vec::new();
    for kind in ["Point_Add", "Point_Remove"] {
        let run = fixture.send(&serve, "bonifiq", &["--kind", kind]);
        assert_eq!(run.code, Some(0), "{run:?}");
        ids.push((only_delivery_id(&run), format!("bonifiq.{kind}")));
    }
    let lines: Vec<Value> = wait_for("two events in events.jsonl", || {
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        (lines.len() >= 2 && text.ends_with('\n')).then(|| {
            lines
                .iter()
                .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
                .collect()
        })
    });
    wait_settled(serve.config());
    let text = std::fs::read_to_string(&events).unwrap();
    assert_eq!(
        text.lines().filter(|l| !l.trim().is_empty()).count(),
        2,
        "{text}"
    );
    for (id, event_type) in &ids {
        let event = lines
            .iter()
            .find(|event| event["data"]["delivery_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not in {text}"));
        assert_eq!(event["type"], event_type.as_str(), "{event}");
        assert_eq!(event["data"]["provider"], "bonifiq");
        assert!(event["data"]["event"].is_object(), "{event}");
        assert!(!event.to_string().contains(BONIFIQ_SECRET));
    }
}

// ---------------------------------------------------------------------------------------------
// 5. configuration errors, serve --check, init
// ---------------------------------------------------------------------------------------------

/// Asserts that `serve --check` and `serve` both refuse `text` with exit 2 and a one-line
/// message containing every `needle`.
fn assert_config_error(dir: &Path, name: &str, text: &str, needles: &[&str]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let mut last = String::new();
    for args in [
        &["serve", "--check", "--config", path][..],
        &["serve", "--config", path],
    ] {
        let run = hookbr(args);
        assert_eq!(run.code, Some(2), "{name} {args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{name}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{name}: {run:?}");
        assert!(run.stderr.starts_with("hookbr: "), "{name}: {run:?}");
        for needle in needles {
            assert!(run.stderr.contains(needle), "{name}: {needle:?} in {run:?}");
        }
        last = run.stderr;
    }
    last
}

#[test]
fn config_errors_exit_2_and_name_the_key() {
    let fixture = Fixture::new(false);
    let dir = fixture.path();
    let bonifiq = "[[endpoint]]\nprovider = \"bonifiq\"\npath = \"/b\"\nsecrets = [\"file:bonifiq.secret\"]\n";

    assert_config_error(
        dir,
        "typo.toml",
        &format!("[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"127.0.0.1:2\"\n\n{bonifiq}"),
        &["lisen", "line 3"],
    );
    assert_config_error(
        dir,
        "env.toml",
        "[[endpoint]]\nprovider = \"bonifiq\"\npath = \"/b\"\nsecrets = [\"env:HOOKBR_SERVE_TEST_SURELY_UNSET\"]\n",
        &["endpoint[0].secrets[0]", "HOOKBR_SERVE_TEST_SURELY_UNSET"],
    );
    let inline = "inline-s3cr3t-that-must-not-leak";
    let stderr = assert_config_error(
        dir,
        "inline.toml",
        &format!("[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"{inline}\"]\n"),
        &["endpoint[0].tokens[0]"],
    );
    assert!(!stderr.contains(inline), "{stderr}");
    assert!(!stderr.contains("must-not-leak"), "{stderr}");
    assert_config_error(
        dir,
        "iset.toml",
        "[[endpoint]]\nprovider = \"iset\"\npath = \"/i\"\nsecrets = [\"file:iset.secret\"]\n",
        &["endpoint[0].kind"],
    );
    assert_config_error(
        dir,
        "duplicate.toml",
        &format!("{bonifiq}\n{bonifiq}"),
        &["endpoint[1].path", "\"/b\""],
    );
    assert_config_error(
        dir,
        "duration.toml",
        &format!("[worker]\nbackoff = \"soon\"\n\n{bonifiq}"),
        &["worker.backoff"],
    );
    let not_whsec = "plain-sink-s3cr3t-not-whsec";
    std::fs::write(dir.join("bad-sink.secret"), not_whsec).unwrap();
    let stderr = assert_config_error(
        dir,
        "sink.toml",
        &format!(
            "{bonifiq}\n[[sink]]\ntype = \"http\"\nurl = \"http://127.0.0.1:9/x\"\nsecret = \"file:bad-sink.secret\"\n"
        ),
        &["sink[0].secret", "whsec_"],
    );
    assert!(!stderr.contains(not_whsec), "{stderr}");
    // The error names the file, so an operator knows which one.
    assert!(stderr.contains("sink.toml"), "{stderr}");

    // Unreadable configuration: missing, or a folder.
    let missing = dir.join("missing.toml");
    for path in [missing.to_str().unwrap(), dir.to_str().unwrap()] {
        for args in [
            &["serve", "--check", "--config", path][..],
            &["serve", "--config", path],
        ] {
            let run = hookbr(args);
            assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
            assert!(
                run.stderr.contains("cannot read") && run.stderr.contains(path),
                "{run:?}"
            );
        }
    }

    // A valid configuration: exit 0 and the routes.
    let app = App::start();
    let fixture = Fixture::new(true);
    let config = format!(
        "{}[inbox]\nurl = \"sqlite:inbox.sqlite3\"\n\n{BONIFIQ_ENDPOINT}{OTHER_ENDPOINTS}{}",
        SERVER.replace("{LISTEN}", "127.0.0.1:18080"),
        app.sink_config(fixture.path())
    );
    let path = fixture.path().join("valid.toml");
    std::fs::write(&path, config).unwrap();
    let run = hookbr(&["serve", "--check", "--config", path.to_str().unwrap()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    for route in [
        "POST|PUT /webhooks/bonifiq → bonifiq",
        "POST /webhooks/foody → foody",
        "POST /webhooks/iset/orders → iset:order_upserted",
        "POST /webhooks/grafeno → grafeno",
        "127.0.0.1:18080",
        "valid",
        &app.url(),
    ] {
        assert!(run.stdout.contains(route), "{route:?} in {run:?}");
    }
    for secret in [BONIFIQ_SECRET, FOODY_TOKEN, ISET_SECRET, &sink_secret()] {
        assert!(!run.all().contains(secret), "{run:?}");
    }
    // --check starts nothing: no inbox file was created.
    assert!(!fixture.path().join("inbox.sqlite3").exists());
}

#[test]
fn init_writes_a_configuration_that_serve_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookbr.toml");
    let config_text = config.to_str().unwrap();
    let run = hookbr(&["init", "--config", config_text]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let template = std::fs::read_to_string(&config).unwrap();
    assert!(template.contains("[[endpoint]]") && template.contains("[[sink]]"));
    // init prints a fresh sink secret to export.
    let sink_secret = run
        .stdout
        .split_whitespace()
        .find_map(|word| word.strip_prefix("HOOKBR_SINK_SECRET="))
        .unwrap_or_else(|| panic!("no sink secret in {run:?}"))
        .to_owned();
    assert!(sink_secret.starts_with("whsec_"), "{sink_secret}");

    let env = [
        ("HOOKBR_BONIFIQ_SECRET", BONIFIQ_SECRET),
        ("HOOKBR_FOODY_TOKEN", FOODY_TOKEN),
        ("HOOKBR_ISET_SECRET", ISET_SECRET),
        ("HOOKBR_SINK_SECRET", sink_secret.as_str()),
    ];
    let check =
        |env: &[(&str, &str)]| hookbr_env(&["serve", "--check", "--config", config_text], env);

    // Without the variables: the first reference is named.
    let run = check(&[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("endpoint[0].secrets[0]")
            && run.stderr.contains("HOOKBR_BONIFIQ_SECRET"),
        "{run:?}"
    );
    // With them but without the Grafeno public key.
    let run = check(&env);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("endpoint[3].public_keys[0]")
            && run.stderr.contains("grafeno-sim.pub.pem"),
        "{run:?}"
    );
    // keygen next to it: valid.
    let prefix = dir.path().join("grafeno-sim");
    let run = hookbr(&["keygen", "--out", prefix.to_str().unwrap()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let run = check(&env);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("/webhooks/grafeno"), "{run:?}");
    for (_, secret) in env {
        assert!(!run.all().contains(secret), "{run:?}");
    }
    // A sink secret that is not whsec_ is named.
    let run = check(&[
        env[0],
        env[1],
        env[2],
        ("HOOKBR_SINK_SECRET", "not-a-webhook-secret"),
    ]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("sink[0].secret"), "{run:?}");

    // init does not overwrite without --force.
    std::fs::write(&config, "# edited by the merchant\n").unwrap();
    let run = hookbr(&["init", "--config", config_text]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("already exists"), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "# edited by the merchant\n"
    );
    let run = hookbr(&["init", "--config", config_text, "--force"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), template);
}

// ---------------------------------------------------------------------------------------------
// 6. SIGTERM during load
// ---------------------------------------------------------------------------------------------

/// A delivery id nobody else uses.
fn unique_uuid() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let t = u64::try_from(nanos % u128::from(u64::MAX)).unwrap();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        t >> 32,
        (t >> 16) & 0xffff,
        t & 0xfff,
        std::process::id() & 0xfff,
        n
    )
}

/// BonifiQ's Point_Add fixture with `uuid` as its `Uuid`.
fn bonifiq_body(uuid: &str) -> String {
    let fixture = include_str!("../../hookbr-core/fixtures/bonifiq/point_add_legacy.json");
    let body = fixture.replace("4834c95e-84f7-485e-90de-09353df57fd3", uuid);
    assert_ne!(body, fixture);
    body
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn test_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What one BonifiQ POST got: the status and whether it was marked duplicate, or a transport
/// error.
async fn post_bonifiq(
    client: &reqwest::Client,
    url: &str,
    uuid: &str,
) -> Result<(u16, bool), String> {
    let response = client
        .post(url)
        .timeout(Duration::from_secs(15))
        .header("content-type", "application/json")
        .header("X-Loyalty-Secret", BONIFIQ_SECRET)
        .body(bonifiq_body(uuid))
        .send()
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let duplicate = response
        .headers()
        .get("hookbr-duplicate")
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"true"));
    // The whole answer, so a 200 really is the receiver's final word.
    response.bytes().await.map_err(|error| error.to_string())?;
    Ok((status, duplicate))
}

#[test]
fn sigterm_during_load_loses_no_acknowledged_delivery() {
    /// The most deliveries sent; the load stops earlier, once the server refuses connections.
    const LOAD: usize = 2_000;
    const CONCURRENCY: usize = 16;
    /// SIGTERM once this many deliveries were acknowledged.
    const SIGNAL_AFTER: usize = 100;

    let fixture = Fixture::new(false);
    let config = format!("{SERVER}{BONIFIQ_ENDPOINT}");
    let mut serve = Serve::start(fixture.path(), &config);
    let url = serve.url("/webhooks/bonifiq");
    let runtime = test_runtime();
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let not_acknowledged = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let other_statuses: Arc<Mutex<Vec<(u16, bool)>>> = Arc::default();
    let load = runtime.spawn({
        let (acknowledged, not_acknowledged, sent, other_statuses) = (
            acknowledged.clone(),
            not_acknowledged.clone(),
            sent.clone(),
            other_statuses.clone(),
        );
        async move {
            let client = http_client();
            let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..LOAD {
                // Once the server refuses a few, it is gone: stop the load.
                if not_acknowledged.load(Ordering::SeqCst) >= CONCURRENCY {
                    break;
                }
                let slot = slots.clone().acquire_owned().await.unwrap();
                sent.fetch_add(1, Ordering::SeqCst);
                let (client, url) = (client.clone(), url.clone());
                let (acknowledged, not_acknowledged, other_statuses) = (
                    acknowledged.clone(),
                    not_acknowledged.clone(),
                    other_statuses.clone(),
                );
                tasks.spawn(async move {
                    let uuid = unique_uuid();
                    match post_bonifiq(&client, &url, &uuid).await {
                        Ok((200, false)) => acknowledged.lock().unwrap().push(uuid),
                        Ok(other) => {
                            other_statuses.lock().unwrap().push(other);
                            not_acknowledged.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => {
                            not_acknowledged.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    drop(slot);
                });
            }
            while tasks.join_next().await.is_some() {}
        }
    });

    wait_for("deliveries to be acknowledged", || {
        (acknowledged.lock().unwrap().len() >= SIGNAL_AFTER).then_some(())
    });
    let code = serve.terminate();
    assert_eq!(code, Some(0), "exit status after SIGTERM:\n{}", serve.log());
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), load)
            .await
            .expect("the load ends once the server is gone")
            .unwrap();
    });
    let acknowledged = acknowledged.lock().unwrap().clone();
    let sent = sent.load(Ordering::SeqCst);
    assert!(
        acknowledged.len() < sent,
        "SIGTERM landed after the load ({sent} sent, all acknowledged)"
    );
    // Refusals are transport errors (the port is closed) or 5xx, never a 4xx for a valid
    // delivery, never a duplicate.
    for (status, duplicate) in other_statuses.lock().unwrap().iter() {
        assert!(*status >= 500 && !duplicate, "{status} {duplicate}");
    }

    // Every acknowledged delivery is in the inbox.
    let rows = inbox_rows(serve.config());
    let stored: HashSet<&str> = rows
        .iter()
        .map(|row| row["delivery_id"].as_str().unwrap())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged deliveries are not in the inbox: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    // A clean stop leaves nothing leased.
    let stats = inbox_json(serve.config(), &["stats"]);
    assert_eq!(stats["in_flight"], 0, "{stats}");
    assert_eq!(stats["dead"], 0, "{stats}");

    // Restarted, the receiver still knows them: a provider's retry is a duplicate.
    drop(serve);
    let serve = Serve::start(fixture.path(), &config);
    let url = serve.url("/webhooks/bonifiq");
    let client = http_client();
    for uuid in acknowledged.iter().take(5) {
        let answer = runtime.block_on(post_bonifiq(&client, &url, uuid));
        assert_eq!(answer, Ok((200, true)), "{uuid}");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. direct mode
// ---------------------------------------------------------------------------------------------

#[test]
fn direct_mode_forwards_within_the_request() {
    let fixture = Fixture::new(false);
    let app = App::start();
    let config = format!(
        "{SERVER}[inbox]\nurl = \"none\"\n\n{BONIFIQ_ENDPOINT}{}",
        app.sink_config(fixture.path())
    );
    let serve = Serve::start(fixture.path(), &config);
    let url = serve.url("/webhooks/bonifiq");
    let runtime = test_runtime();
    let client = http_client();
    let post = |uuid: &str| runtime.block_on(post_bonifiq(&client, &url, uuid)).unwrap();

    // Forwarded before the provider gets its 200: no waiting needed.
    let first = unique_uuid();
    assert_eq!(post(&first), (200, false));
    let messages = app.messages_for(&first);
    assert_eq!(messages.len(), 1, "{:?}", app.accepted());
    assert_eq!(messages[0].json["type"], "bonifiq.Point_Add");
    assert_eq!(messages[0].json["data"]["attempt"], 1);

    // The application fails: the provider is told to retry, and its retries go through.
    app.state.failing.store(true, Ordering::SeqCst);
    let second = unique_uuid();
    for attempt in 1..=2 {
        let (status, duplicate) = post(&second);
        assert!(
            !(200..300).contains(&status) && !duplicate,
            "attempt {attempt}: {status}"
        );
        assert_eq!(
            app.state.failed.load(Ordering::SeqCst),
            attempt,
            "the sink was called"
        );
    }
    assert!(app.messages_for(&second).is_empty());

    // The application recovers: the provider's next retry is forwarded once.
    app.state.failing.store(false, Ordering::SeqCst);
    assert_eq!(post(&second), (200, false));
    assert_eq!(app.messages_for(&second).len(), 1);
    // Later copies are duplicates and are not forwarded again.
    assert_eq!(post(&second), (200, true));
    assert_eq!(post(&first), (200, true));
    assert_eq!(app.messages_for(&second).len(), 1);
    assert_eq!(app.accepted().len(), 2);
    app.assert_no_forgery();

    // `hookbr inbox` explains there is none.
    let run = hookbr(&["inbox", "list", "--config", serve.config()]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("direct mode"), "{run:?}");
}

/// The Redis server `scripts/test` started, or `None` (with a notice) outside CI.
fn redis_url() -> Option<String> {
    match std::env::var("HOOKBR_TEST_REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("HOOKBR_TEST_REDIS_URL is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!("NOTICE: HOOKBR_TEST_REDIS_URL not set (run scripts/test): test skipped");
            None
        }
    }
}

/// Two `hookbr serve` instances in direct mode share deduplication on Redis: the same delivery
/// posted to both, many times and concurrently, reaches the application once.
#[test]
fn direct_mode_instances_share_dedup_on_redis() {
    let Some(redis) = redis_url() else { return };
    let app = App::start();
    let (one, two) = (Fixture::new(false), Fixture::new(false));
    let config = |fixture: &Fixture| {
        format!(
            "{SERVER}[inbox]\nurl = \"none\"\nredis = \"{redis}\"\n\n{BONIFIQ_ENDPOINT}{}",
            app.sink_config(fixture.path())
        )
    };
    let first = Serve::start(one.path(), &config(&one));
    let second = Serve::start(two.path(), &config(&two));
    let urls = [
        first.url("/webhooks/bonifiq"),
        second.url("/webhooks/bonifiq"),
    ];
    let runtime = test_runtime();
    let client = http_client();
    let uuid = unique_uuid();
    let answers: Vec<(u16, bool)> = runtime.block_on(async {
        let posts = (0..40).map(|i| {
            let (client, url, uuid) = (client.clone(), urls[i % 2].clone(), uuid.clone());
            tokio::spawn(async move { post_bonifiq(&client, &url, &uuid).await })
        });
        let mut answers = Vec::new();
        for post in posts {
            answers.push(post.await.unwrap().unwrap());
        }
        answers
    });
    let fresh = answers
        .iter()
        .filter(|(status, duplicate)| *status == 200 && !duplicate)
        .count();
    assert_eq!(fresh, 1, "exactly one copy processed: {answers:?}");
    assert!(
        answers
            .iter()
            .all(|(status, duplicate)| (*status == 200) || (*status == 409 && !duplicate)),
        "every other copy is a duplicate or in flight: {answers:?}"
    );
    // Copies after the first completed are duplicates on either instance.
    for url in &urls {
        let again = runtime.block_on(post_bonifiq(&client, url, &uuid)).unwrap();
        assert_eq!(again, (200, true));
    }
    assert_eq!(app.messages_for(&uuid).len(), 1, "{:?}", app.accepted());
    app.assert_no_forgery();
}

/// `hookbr demo --keep` serves the inspector and `/metrics` on its admin address, with the
/// demo's deliveries in them, until SIGTERM.
#[test]
fn demo_keep_serves_the_inspector_and_metrics() {
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut child = command(&["demo", "--keep", "--admin", &admin.to_string()], &[])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hookbr demo starts");
    let stdout = collect_lines(child.stdout.take().unwrap());
    let get = |path: &str| -> Option<(u16, String)> {
        let runtime = test_runtime();
        runtime.block_on(async {
            let response = http_client()
                .get(format!("http://{admin}{path}"))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .ok()?;
            let status = response.status().as_u16();
            Some((status, response.text().await.ok()?))
        })
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("the demo's inspector line", || {
            stdout
                .lock()
                .unwrap()
                .contains(&format!("Inspector: http://{admin}/"))
                .then_some(())
        });
        let (status, page) = get("/").expect("the inspector answers");
        assert_eq!(status, 200);
        assert!(page.contains("done 6"), "{page}");
        assert_eq!(page.matches("data-state=\"done\"").count(), 6, "{page}");
        assert!(
            page.contains("invalid_signature"),
            "the forged delivery is listed: {page}"
        );
        assert!(page.contains("duplicate"), "{page}");
        let (status, detail) = get("/deliveries/1").unwrap();
        assert_eq!(status, 200);
        assert!(detail.contains("Point_Add"), "{detail}");
        let (status, metrics) = get("/metrics").unwrap();
        assert_eq!(status, 200);
        for needle in [
            "hookbr_deliveries_accepted_total{provider=\"bonifiq\"} 3",
            "hookbr_deliveries_duplicate_total{provider=\"bonifiq\"} 1",
            "hookbr_deliveries_handshake_total{provider=\"foody\"} 1",
            "hookbr_deliveries_rejected_total{provider=\"grafeno\",reason=\"invalid_signature\"} 1",
            "hookbr_inbox_depth{state=\"pending\"} 0",
            "hookbr_request_duration_seconds_bucket",
        ] {
            assert!(metrics.contains(needle), "{needle} in:\n{metrics}");
        }
    }));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("hookbr demo --keep did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    assert_eq!(status.code(), Some(0));
}

/// iSET with the secret as a path segment: the route captures it, wrong secrets get 401, and
/// the inspector shows the route template, never the secret. The inspector without a token
/// refuses a non-loopback `Host` (DNS rebinding).
#[test]
fn iset_path_secret_and_inspector_hosts() {
    let fixture = Fixture::new(false);
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = format!(
        "{SERVER}[admin]\nlisten = \"{admin}\"\n\n[[endpoint]]\nprovider = \"iset\"\nkind = \"order_upserted\"\npath = \"/webhooks/iset/orders\"\nsecrets = [\"file:iset.secret\"]\nsecret_in = \"path\"\n"
    );
    let serve = Serve::start(fixture.path(), &config);
    let runtime = test_runtime();
    let client = http_client();
    let post = |path: &str| -> u16 {
        runtime.block_on(async {
            client
                .post(serve.url(path))
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"id": {}, "status": "paid"}}"#,
                    std::process::id()
                ))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert_eq!(post(&format!("/webhooks/iset/orders/{ISET_SECRET}")), 200);
    assert_eq!(post("/webhooks/iset/orders/not-the-secret"), 401);
    assert_eq!(post("/webhooks/iset/orders"), 404);
    let get = |host: &str| -> (u16, String) {
        runtime.block_on(async {
            let response = client
                .get(format!("http://{admin}/"))
                .header("host", host)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    };
    let (status, page) = get(&admin.to_string());
    assert_eq!(status, 200);
    assert!(page.contains("/webhooks/iset/orders/{secret}"), "{page}");
    assert!(!page.contains(ISET_SECRET), "{page}");
    assert!(!page.contains("not-the-secret"), "{page}");
    let (status, page) = get(&format!("evil.example:{}", admin.port()));
    assert_eq!(status, 421, "{page}");
    assert!(!serve.log().contains(ISET_SECRET));
}
