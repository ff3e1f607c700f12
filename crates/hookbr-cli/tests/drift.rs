//! `hookbr drift` and `hookbr fixtures export` against a real `hookbr serve` (SQLite inbox,
//! admin listener with a token): a Foody delivery with a new field shows in the table and in
//! `--json` with its example masked; the stored deliveries export as masked fixtures that
//! still decode. Every child is bounded and killed when the test ends.

mod common;

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{Run, run_within};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";
const ADMIN_TOKEN: &str = "cli-drift-admin-token-0123456789abcdef";

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookbr"));
    command.args(args);
    for name in [
        "HOOKBR_LOG",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env_remove(name);
    }
    command
}

fn hookbr(args: &[&str]) -> Run {
    run_within(command(args), DEADLINE)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn post(addr: SocketAddr, body: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "POST /webhooks/foody HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// A `hookbr serve` child, killed on drop.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(dir: &Path) -> Self {
        let config = dir.join("hookbr.toml");
        for _ in 0..5 {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let admin = format!("127.0.0.1:{}", free_port());
            let text = format!(
                "[server]\nlisten = \"{addr}\"\n\n[inbox]\nurl = \"sqlite:inbox.sqlite3\"\n\n\
                 [admin]\nlisten = \"{admin}\"\ntoken = \"file:admin.token\"\n\n\
                 [[endpoint]]\nprovider = \"foody\"\npath = \"/webhooks/foody\"\n\
                 tokens = [\"file:foody.token\"]\n"
            );
            std::fs::write(&config, text).unwrap();
            let mut child = command(&["serve", "--config", config.to_str().unwrap()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let pipe = child.stderr.take().unwrap();
            let log = Arc::new(Mutex::new(String::new()));
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    sink.lock().unwrap().push_str(&line);
                }
            });
            let mut serve = Self { child, addr };
            let started = Instant::now();
            while started.elapsed() < WAIT {
                if serve.child.try_wait().unwrap().is_some() {
                    break;
                }
                if log.lock().unwrap().contains("listening on") {
                    return serve;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("hookbr serve did not start");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn foody(status: &str, date: &str, extra: &str) -> String {
    format!(
        r#"{{"uid":"4228df3a-a54a-40d7-b30f-1385eca4c3dd","updateDate":"{date}","event":"order_status_updated","token":"{TOKEN}","status":"{status}"{extra}}}"#
    )
}

#[test]
fn drift_and_fixture_export() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("foody.token"), TOKEN).unwrap();
    std::fs::write(dir.path().join("admin.token"), ADMIN_TOKEN).unwrap();
    let config = dir.path().join("hookbr.toml");
    let config = config.to_str().unwrap();

    // Without a running server: the reason, exit 1.
    std::fs::write(
        dir.path().join("hookbr.toml"),
        format!(
            "[admin]\nlisten = \"127.0.0.1:{}\"\n\n[[endpoint]]\nprovider = \"foody\"\n\
             path = \"/f\"\ntokens = [\"file:foody.token\"]\n",
            free_port()
        ),
    )
    .unwrap();
    let run = hookbr(&["drift", "--config", config]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("cannot reach the admin listener"),
        "{run:?}"
    );

    let serve = Serve::start(dir.path());
    assert_eq!(
        post(serve.addr, &foody("open", "2020-06-19T17:30:05Z", "")),
        200
    );
    // The first delivery watched is the baseline: let the worker handle it first.
    let started = Instant::now();
    while hookbr(&["inbox", "stats", "--config", config, "--json"]).json()["done"] != 1 {
        assert!(
            started.elapsed() < WAIT,
            "the worker did not handle the first row"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let with_pii = foody(
        "ready",
        "2020-06-19T17:38:40Z",
        r#","customer":{"email":"joao@example.com","cpf":"529.982.247-25"}"#,
    );
    assert_eq!(post(serve.addr, &with_pii), 200);

    // The worker watches stored rows: wait (bounded) for the records.
    let started = Instant::now();
    let records = loop {
        let run = hookbr(&["drift", "--config", config, "--json"]);
        assert_eq!(run.code, Some(0), "{run:?}");
        let records = run.json();
        if records.as_array().unwrap().len() >= 3 || started.elapsed() > WAIT {
            break records;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let records = records.as_array().unwrap();
    let details: Vec<&str> = records
        .iter()
        .filter(|record| record["change"] == "new_field")
        .map(|record| record["detail"].as_str().unwrap())
        .collect();
    for path in ["customer", "customer.email", "customer.cpf"] {
        assert!(details.contains(&path), "{records:?}");
    }
    let example = records[0]["example"].as_str().unwrap();
    assert!(
        example.contains("***.982.247-**") && example.contains("j***@e***.com"),
        "{example}"
    );
    assert!(!example.contains("joao@example.com") && !example.contains(TOKEN));

    let table = hookbr(&["drift", "--config", config]);
    assert_eq!(table.code, Some(0), "{table:?}");
    assert!(table.stdout.starts_with("PROVIDER"), "{table:?}");
    assert!(table.stdout.contains("new_field") && table.stdout.contains("customer.email"));
    assert!(!table.stdout.contains("joao@example.com"));

    // Export both rows as fixtures.
    let list = hookbr(&["inbox", "list", "--config", config, "--json"]);
    let ids: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{list:?}");
    let out = dir.path().join("exported");
    let mut args = vec![
        "fixtures",
        "export",
        "--config",
        config,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(ids.iter().map(String::as_str));
    let export = hookbr(&args);
    assert_eq!(export.code, Some(0), "{export:?}");
    let mut files: Vec<_> = std::fs::read_dir(out.join("foody"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with("_order_status_updated.json"), "{name}");
        let text = std::fs::read_to_string(file).unwrap();
        assert!(!text.contains("joao@example.com") && !text.contains("529.982.247-25"));
        assert!(!text.contains(TOKEN), "{text}");
        // Still a Foody delivery: it decodes.
        let decoded = hookbr(&["decode", "foody", file.to_str().unwrap()]);
        assert_eq!(decoded.code, Some(0), "{decoded:?}");
    }
    let exported: Vec<Value> = files
        .iter()
        .map(|file| serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap())
        .collect();
    assert!(
        exported
            .iter()
            .any(|body| body["customer"]["cpf"] == "***.982.247-**")
    );

    // A missing id: the others are written, exit 1 names it.
    let missing = hookbr(&[
        "fixtures",
        "export",
        "--config",
        config,
        "--out",
        out.to_str().unwrap(),
        &ids[0],
        "999999",
    ]);
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert!(
        missing.stderr.contains("999999: no such delivery"),
        "{missing:?}"
    );
    drop(serve);
}
