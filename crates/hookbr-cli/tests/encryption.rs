//! `[inbox] encryption_key` through the real binary: `hookbr serve` seals what it stores and
//! its command sink still receives the original body, the SQLite files never hold the seeded
//! CPF or e-mail in clear, a missing or different key makes `serve` exit 1 naming the key id,
//! a tampered row is dead-lettered (not delivered) with a clear error, and rotation with
//! `hookbr inbox rekey` moves every row to the new key so the old one can be removed.

mod common;

use std::{
    io::Read as _,
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{Run, run_within};
use serde_json::Value;

const SECRET: &str = "s3cr3t-bonifiq-encryption";
const EMAIL: &str = "ana.souza@example.com";
const CPF: &str = "123.456.789-09";
const KEY1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const KEY2: &str = "0202020202020202020202020202020202020202020202020202020202020202";
const WAIT: Duration = Duration::from_secs(30);

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookbr"));
    command.args(args);
    for name in [
        "HOOKBR_INBOX_KEY",
        "HOOKBR_KEY_NEW",
        "HOOKBR_KEY_OLD",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
}

fn hookbr(args: &[&str], env: &[(&str, &str)]) -> Run {
    run_within(command(args, env), WAIT)
}

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

fn answers(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// A `hookbr serve` child, killed on drop.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(config: &Path, env: &[(&str, &str)]) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let text = std::fs::read_to_string(config).unwrap();
        let text = text
            .lines()
            .map(|line| {
                if line.starts_with("listen = ") {
                    format!("listen = \"{addr}\"")
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(config, text).unwrap();
        let mut child = command(&["serve", "--config", config.to_str().unwrap()], env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !answers(addr) {
            if let Some(status) = child.try_wait().unwrap() {
                let mut log = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut log);
                panic!("hookbr serve exited ({status}):\n{log}");
            }
            assert!(started.elapsed() < WAIT, "hookbr serve did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, addr }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < WAIT, "hookbr serve did not stop");
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

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bonifiq.secret"), format!("{SECRET}\n")).unwrap();
        let body = format!(
            r#"{{"Uuid":"9b1f7c52-3d0e-4a8b-b6f1-2c4e5a7d9e10","Timestamp":"2024-03-01T13:20:45.118204","Topic":0,"Payload":{{"Points":200,"PointType":0,"PointAction":1,"Customer":{{"Email":"{EMAIL}","Document":"{CPF}","Id":"1","Name":"Ana Souza"}},"PointsBalance":{{"PointsBalance":300,"CashbackBalance":210}},"PointId":4741}}}}"#
        );
        std::fs::write(dir.path().join("body.json"), body).unwrap();
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn config(&self) -> PathBuf {
        self.path().join("hookbr.toml")
    }

    fn events(&self) -> PathBuf {
        self.path().join("events.jsonl")
    }

    /// Writes the configuration with `inbox` as the `[inbox]` table's extra lines.
    fn write_config(&self, inbox: &str) {
        let events = self.events();
        let events = events.to_str().unwrap();
        std::fs::write(
            self.config(),
            format!(
                "[server]\nlisten = \"127.0.0.1:1\"\n\n[inbox]\n{inbox}\n\n[worker]\nmax_attempts = 1\nbackoff = \"100ms\"\nmax_backoff = \"200ms\"\n\n\
                 [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/b\"\nsecrets = [\"file:bonifiq.secret\"]\n\n\
                 [[sink]]\ntype = \"command\"\ncommand = [\"sh\", \"-c\", \"cat >> {events}; echo >> {events}\"]\n"
            ),
        )
        .unwrap();
    }

    fn send(&self, serve: &Serve) {
        let url = format!("http://{}/b", serve.addr);
        let secret = format!("file:{}", self.path().join("bonifiq.secret").display());
        let body = self.path().join("body.json");
        let run = hookbr(
            &[
                "send",
                "bonifiq",
                &url,
                "--secret",
                &secret,
                "--file",
                body.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(run.code, Some(0), "{run:?}");
    }

    fn events_count(&self) -> usize {
        std::fs::read_to_string(self.events())
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.trim().is_empty())
            .count()
    }

    fn inbox(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let config = self.config();
        let mut all = vec!["inbox"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", config.to_str().unwrap()]);
        hookbr(&all, env)
    }

    /// Every byte of the inbox's files (database, WAL).
    fn inbox_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.path()).unwrap() {
            let entry = entry.unwrap();
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("hookbr-inbox.sqlite3")
            {
                bytes.extend(std::fs::read(entry.path()).unwrap());
            }
        }
        bytes
    }

    fn key_ids(&self) -> Vec<(i64, String, String)> {
        let connection =
            rusqlite::Connection::open(self.path().join("hookbr-inbox.sqlite3")).unwrap();
        let mut statement = connection
            .prepare("SELECT id, key_id, state FROM hookbr_inbox ORDER BY id")
            .unwrap();
        statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Waits until `n` events arrived and the inbox has nothing pending or in flight.
fn wait_delivered(fixture: &Fixture, n: usize, env: &[(&str, &str)]) {
    wait_for("the deliveries to reach the sink", || {
        (fixture.events_count() >= n).then_some(())
    });
    wait_for("the inbox to settle", || {
        let run = fixture.inbox(&["stats", "--json"], env);
        let stats = run.json();
        (stats["pending"] == 0 && stats["in_flight"] == 0).then_some(())
    });
}

#[test]
fn serve_seals_rows_refuses_a_missing_key_and_rotates() {
    let fixture = Fixture::new();
    let k1 = [("HOOKBR_INBOX_KEY", KEY1)];

    // 1. Before encryption: one row in clear.
    fixture.write_config("");
    let serve = Serve::start(&fixture.config(), &[]);
    fixture.send(&serve);
    wait_delivered(&fixture, 1, &[]);
    serve.stop();
    assert_eq!(fixture.key_ids()[0].1, "none");

    // 2. Encryption on: the sink gets the original body, the files hold no CPF or e-mail of
    //    the new row, and `inbox show` opens it.
    fixture.write_config("encryption_key = \"env:HOOKBR_INBOX_KEY\"");
    std::fs::remove_file(fixture.events()).unwrap();
    let serve = Serve::start(&fixture.config(), &k1);
    fixture.send(&serve);
    wait_delivered(&fixture, 1, &k1);
    serve.stop();
    let events = std::fs::read_to_string(fixture.events()).unwrap();
    assert!(events.contains(EMAIL) && events.contains(CPF), "{events}");
    let rows = fixture.key_ids();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1].1, "k1", "{rows:?}");
    let id = rows[1].0.to_string();
    let run = fixture.inbox(&["show", &id, "--json"], &k1);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.json()["body"]["Payload"]["Customer"].is_object(),
        "{run:?}"
    );

    // 3. The key missing (variable unset, or no key configured) or another key under k1:
    //    serve exits 1 naming k1; `inbox show` of the sealed row says its key is missing.
    let run = hookbr(
        &["serve", "--config", fixture.config().to_str().unwrap()],
        &[],
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("\"k1\""), "{run:?}");
    let wrong = [("HOOKBR_INBOX_KEY", KEY2)];
    let run = hookbr(
        &["serve", "--config", fixture.config().to_str().unwrap()],
        &wrong,
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("\"k1\"") && run.stderr.contains("wrong key"),
        "{run:?}"
    );
    fixture.write_config("");
    let run = hookbr(
        &["serve", "--config", fixture.config().to_str().unwrap()],
        &[],
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("\"k1\"") && run.stderr.contains("not configured"),
        "{run:?}"
    );
    let run = fixture.inbox(&["show", &id], &[]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("\"k1\"") && run.stderr.contains("not configured"),
        "{run:?}"
    );

    // 4. Rotation: k2 seals new rows, k1 still opens old ones; rekey moves them all to k2.
    let both = [("HOOKBR_KEY_NEW", KEY2), ("HOOKBR_KEY_OLD", KEY1)];
    fixture
        .write_config("encryption_keys = [\"k2:env:HOOKBR_KEY_NEW\", \"k1:env:HOOKBR_KEY_OLD\"]");
    let serve = Serve::start(&fixture.config(), &both);
    fixture.send(&serve);
    wait_delivered(&fixture, 2, &both);
    serve.stop();
    let ids: Vec<String> = fixture.key_ids().into_iter().map(|row| row.1).collect();
    assert_eq!(ids, ["none", "k1", "k2"]);
    let run = fixture.inbox(&["rekey", "--batch", "1", "--json"], &both);
    assert_eq!(run.code, Some(0), "{run:?}");
    let report: Value = run.json();
    assert_eq!(report["rekeyed"], 2, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["key_id"], "k2", "{report}");
    let run = fixture.inbox(&["rekey"], &both);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("rekeyed 0 deliveries"), "{run:?}");
    assert!(fixture.key_ids().iter().all(|row| row.1 == "k2"));
    let bytes = fixture.inbox_bytes();
    assert!(!bytes.is_empty());
    // The WAL and freed pages may keep old page images until a checkpoint reuses them; a
    // VACUUM (as an operator would run after rekeying) leaves none.
    let connection =
        rusqlite::Connection::open(fixture.path().join("hookbr-inbox.sqlite3")).unwrap();
    connection
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    drop(connection);
    let bytes = fixture.inbox_bytes();
    assert!(
        !contains(&bytes, EMAIL) && !contains(&bytes, CPF),
        "the inbox files hold a CPF or e-mail in clear"
    );

    // 5. k1 removed: serve starts. A tampered row is dead-lettered, not delivered.
    let k2 = [("HOOKBR_KEY_NEW", KEY2)];
    fixture.write_config("encryption_keys = [\"k2:env:HOOKBR_KEY_NEW\"]");
    let tampered = {
        let connection =
            rusqlite::Connection::open(fixture.path().join("hookbr-inbox.sqlite3")).unwrap();
        let (id, mut body): (i64, Vec<u8>) = connection
            .query_row(
                "SELECT id, body FROM hookbr_inbox ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        body[20] ^= 0x40;
        let state: String = connection
            .query_row("SELECT state FROM hookbr_inbox WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        connection
            .execute(
                "UPDATE hookbr_inbox SET body = ?2, state = 'pending', next_attempt_at = 0 \
                 WHERE id = ?1",
                rusqlite::params![id, body],
            )
            .unwrap();
        // The inbox keeps its counts per state itself: a row moved with SQL is counted here.
        connection
            .execute(
                "UPDATE hookbr_inbox_counts SET n = n + CASE state WHEN 'pending' THEN 1 \
                 ELSE -1 END WHERE state IN ('pending', ?1) AND ?1 != 'pending'",
                [state],
            )
            .unwrap();
        id
    };
    let before = fixture.events_count();
    let serve = Serve::start(&fixture.config(), &k2);
    wait_for("the tampered row to be dead-lettered", || {
        let run = fixture.inbox(&["stats", "--json"], &k2);
        (run.json()["dead"] == 1).then_some(())
    });
    serve.stop();
    assert_eq!(
        fixture.events_count(),
        before,
        "a tampered row is not delivered"
    );
    let run = fixture.inbox(&["show", &tampered.to_string()], &k2);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("does not decrypt under key \"k2\""),
        "{run:?}"
    );
}

#[test]
fn keygen_prints_an_inbox_key_and_bad_keys_are_refused() {
    let run = hookbr(&["keygen", "--inbox-key"], &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let key = run.stdout.trim().to_owned();
    assert_eq!(key.len(), 44, "{run:?}");
    let again = hookbr(&["keygen", "--inbox-key"], &[]);
    assert_ne!(again.stdout.trim(), key);

    let fixture = Fixture::new();
    // Inline keys are refused as a configuration error (exit 2).
    fixture.write_config(&format!("encryption_key = \"{key}\""));
    let run = hookbr(
        &[
            "serve",
            "--check",
            "--config",
            fixture.config().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("inbox.encryption_key"), "{run:?}");
    assert!(!run.all().contains(&key), "{run:?}");
    // A key that is not 32 bytes: exit 1 naming the id, never the value.
    fixture.write_config("encryption_key = \"env:HOOKBR_INBOX_KEY\"");
    let run = hookbr(
        &["serve", "--config", fixture.config().to_str().unwrap()],
        &[("HOOKBR_INBOX_KEY", "c2hvcnQ=")],
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("\"k1\"") && run.stderr.contains("32"),
        "{run:?}"
    );
    assert!(!run.all().contains("c2hvcnQ="), "{run:?}");

    // Encrypted from the start: the database and its WAL never hold the CPF or e-mail.
    let env = [("HOOKBR_INBOX_KEY", key.as_str())];
    let serve = Serve::start(&fixture.config(), &env);
    fixture.send(&serve);
    wait_delivered(&fixture, 1, &env);
    let bytes = fixture.inbox_bytes();
    serve.stop();
    let events = std::fs::read_to_string(fixture.events()).unwrap();
    assert!(events.contains(EMAIL) && events.contains(CPF), "{events}");
    assert!(bytes.len() > 4096);
    assert!(
        !contains(&bytes, EMAIL) && !contains(&bytes, CPF),
        "the inbox files hold a CPF or e-mail in clear"
    );
    let bytes = fixture.inbox_bytes();
    assert!(!contains(&bytes, EMAIL) && !contains(&bytes, CPF));
}

/// The PostgreSQL server of `scripts/test`, or `None` (with a notice) outside CI.
fn postgres_url() -> Option<String> {
    match std::env::var("HOOKBR_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("HOOKBR_TEST_POSTGRES_URL is not set in CI: run the tests through scripts/test")
        }
        Err(_) => {
            eprintln!("NOTICE: HOOKBR_TEST_POSTGRES_URL not set: PostgreSQL test skipped");
            None
        }
    }
}

fn pg_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn serve_on_postgres_seals_rows_and_refuses_a_missing_key() {
    let Some(base) = postgres_url() else {
        return;
    };
    let runtime = pg_runtime();
    let name = format!("enc_cli_{}", std::process::id());
    let admin = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .await
            .unwrap();
        client
    });
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-csearch_path%3D{name}");

    let fixture = Fixture::new();
    let key = [("HOOKBR_INBOX_KEY", KEY1)];
    fixture.write_config(&format!(
        "url = \"{url}\"\nencryption_key = \"env:HOOKBR_INBOX_KEY\""
    ));
    let serve = Serve::start(&fixture.config(), &key);
    fixture.send(&serve);
    wait_delivered(&fixture, 1, &key);
    serve.stop();
    let events = std::fs::read_to_string(fixture.events()).unwrap();
    assert!(events.contains(EMAIL) && events.contains(CPF), "{events}");
    let rows = runtime.block_on(async {
        admin
            .query(
                &format!("SELECT key_id, body, headers FROM {name}.hookbr_inbox"),
                &[],
            )
            .await
            .unwrap()
    });
    assert_eq!(rows.len(), 1);
    let key_id: String = rows[0].get(0);
    let body: Vec<u8> = rows[0].get(1);
    let headers: String = rows[0].get(2);
    assert_eq!(key_id, "k1");
    assert!(!contains(&body, EMAIL) && !contains(&body, CPF));
    assert!(!headers.contains("content-type"));

    // The key missing: serve exits 1 naming k1; `inbox show` says the key is not configured.
    fixture.write_config(&format!("url = \"{url}\""));
    let run = hookbr(
        &["serve", "--config", fixture.config().to_str().unwrap()],
        &[],
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("\"k1\"") && run.stderr.contains("not configured"),
        "{run:?}"
    );
    let run = fixture.inbox(&["list", "--json"], &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let reason = run.json()[0]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.contains("\"k1\"") && reason.contains("not configured"),
        "{run:?}"
    );
    let run = fixture.inbox(&["show", "1"], &[]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("\"k1\""), "{run:?}");

    // Rotation to k2 and rekey on PostgreSQL.
    let both = [("HOOKBR_KEY_NEW", KEY2), ("HOOKBR_KEY_OLD", KEY1)];
    fixture.write_config(&format!(
        "url = \"{url}\"\nencryption_keys = [\"k2:env:HOOKBR_KEY_NEW\", \"k1:env:HOOKBR_KEY_OLD\"]"
    ));
    let run = fixture.inbox(&["rekey", "--json"], &both);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["rekeyed"], 1, "{run:?}");
    let k2 = [("HOOKBR_KEY_NEW", KEY2)];
    fixture.write_config(&format!(
        "url = \"{url}\"\nencryption_keys = [\"k2:env:HOOKBR_KEY_NEW\"]"
    ));
    let run = fixture.inbox(&["show", "1", "--json"], &k2);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.json()["body"]["Payload"]["Customer"].is_object(),
        "{run:?}"
    );
    runtime.block_on(async {
        admin
            .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
            .await
            .unwrap();
    });
}
