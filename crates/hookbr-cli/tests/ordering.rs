//! The ordering guard and the entity timeline through a real `hookbr serve` (SQLite inbox)
//! forwarding to a real HTTP application on 127.0.0.1: a Foody order's statuses sent
//! shuffled with `ordering = "drop-stale"` reach the application as a monotone sequence, and
//! `hookbr inbox entity foody.order ID` lists them in position order with their state. The
//! test prints the sequence before and after the guard. Every child is bounded and killed
//! when the test ends.

mod common;

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
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
const ORDER: &str = "4228df3a-a54a-40d7-b30f-1385eca4c3dd";
const SINK_SECRET: &str = "whsec_aG9va2JyLW9yZGVyaW5nLXRlc3RzLWtleS0zMmJ5dGVzIQ==";

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
    TcpListener::bind("127.0.0.1:0")
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

/// The merchant's application: answers 204 to at most 50 requests, keeping their bodies.
fn app() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length.min(1 << 20)];
            if reader.read_exact(&mut body).is_ok() {
                if let Ok(json) = serde_json::from_slice(&body) {
                    kept.lock().unwrap().push(json);
                }
            }
            let mut stream = reader.into_inner();
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    (url, received)
}

/// A `hookbr serve` child, killed on drop.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(dir: &Path, sink: &str) -> Self {
        let config = dir.join("hookbr.toml");
        for _ in 0..5 {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let text = format!(
                "[server]\nlisten = \"{addr}\"\n\n[inbox]\nurl = \"sqlite:inbox.sqlite3\"\n\n\
                 [[endpoint]]\nprovider = \"foody\"\npath = \"/webhooks/foody\"\n\
                 tokens = [\"file:foody.token\"]\nordering = \"drop-stale\"\n\n\
                 [[sink]]\ntype = \"http\"\nurl = \"{sink}\"\nsecret = \"file:sink.secret\"\n\
                 timeout = \"5s\"\n"
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

fn foody(status: &str, date: &str) -> String {
    format!(
        r#"{{"uid":"{ORDER}","updateDate":"{date}","event":"order_status_updated","token":"{TOKEN}","status":"{status}"}}"#
    )
}

#[test]
fn a_shuffled_foody_order_before_and_after_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("foody.token"), TOKEN).unwrap();
    std::fs::write(dir.path().join("sink.secret"), SINK_SECRET).unwrap();
    let config = dir.path().join("hookbr.toml");
    let config = config.to_str().unwrap();
    let (sink, received) = app();
    let serve = Serve::start(dir.path(), &sink);
    let sent = [
        ("dispatched", "2020-06-19T17:42:12Z"),
        ("open", "2020-06-19T17:30:05Z"),
        ("delivered", "2020-06-19T17:58:40Z"),
        ("ready", "2020-06-19T17:38:40Z"),
        ("closed", "2020-06-19T18:05:00Z"),
    ];
    for (index, (status, date)) in sent.iter().enumerate() {
        assert_eq!(post(serve.addr, &foody(status, date)), 200);
        // One at a time through the worker, so "late" is well defined (bounded).
        let started = Instant::now();
        while hookbr(&["inbox", "stats", "--config", config, "--json"]).json()["done"] != index + 1
        {
            assert!(
                started.elapsed() < WAIT,
                "the worker did not handle {status}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let forwarded: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|message| {
            message["data"]["event"]["status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let sent: Vec<&str> = sent.iter().map(|(status, _)| *status).collect();
    println!("sent by Foody:      {}", sent.join(" → "));
    println!("forwarded (guard):  {}", forwarded.join(" → "));
    assert_eq!(forwarded, ["dispatched", "delivered", "closed"]);

    let run = hookbr(&[
        "inbox",
        "entity",
        "foody.order",
        ORDER,
        "--config",
        config,
        "--json",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let timeline = run.json();
    assert_eq!(timeline["kind"], "foody.order");
    assert_eq!(timeline["id"], ORDER);
    let states: Vec<(u64, &str)> = timeline["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["rank"].as_u64().unwrap(),
                entry["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (0, "stale"),
            (1, "stale"),
            (2, "forwarded"),
            (3, "forwarded"),
            (4, "forwarded")
        ]
    );

    let table = hookbr(&["inbox", "entity", "foody.order", ORDER, "--config", config]);
    assert_eq!(table.code, Some(0), "{table:?}");
    println!("{}", table.stdout.trim_end());
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].contains("POSITION") && lines[0].contains("STATE"),
        "{table:?}"
    );
    assert_eq!(lines.len(), 6, "{table:?}");
    assert!(lines[1].contains("2020-06-19T17:30:05.000Z") && lines[1].contains("stale"));
    assert!(lines[5].contains("2020-06-19T18:05:00.000Z") && lines[5].contains("forwarded"));

    let none = hookbr(&[
        "inbox",
        "entity",
        "foody.order",
        "no-such-order",
        "--config",
        config,
    ]);
    assert_eq!(none.code, Some(0), "{none:?}");
    assert!(none.stdout.contains("no deliveries"), "{none:?}");
    let unknown = hookbr(&["inbox", "entity", "foody.pizza", ORDER, "--config", config]);
    assert_eq!(unknown.code, Some(2), "{unknown:?}");
    assert!(unknown.stderr.contains("foody.order"), "{unknown:?}");
}
