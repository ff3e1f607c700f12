//! Rotation without restart against the real binary: `hookbr serve` re-reads its
//! configuration on SIGHUP and on `hookbr reload` (through the admin listener), refuses a bad
//! one with the reason and keeps serving; `serve --check` checks the TLS keys. Every child is
//! bounded and killed when a test ends.

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
use hookbr_core::testkit;
use hookbr_tls::testkit::TestCa;

const DEADLINE: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(30);
const OLD: &str = "bonifiq-cli-rotation-old";
const NEW: &str = "bonifiq-cli-rotation-new";
const ADMIN_TOKEN: &str = "cli-reload-admin-token-0123456789abcdef";

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookbr"));
    command.args(args);
    for name in [
        "HOOKBR_LOG",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
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

/// Posts an authentic BonifiQ delivery signed with `secret`: the status code (0: no answer).
fn deliver(addr: SocketAddr, secret: &str) -> u16 {
    let delivery = testkit::bonifiq_point_add(secret);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = format!(
        "POST /webhooks/bonifiq HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\
         content-length: {}\r\n",
        delivery.body.len()
    );
    for (name, value) in &delivery.headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(&delivery.body);
    if stream.write_all(&bytes).is_err() {
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
    stderr: Arc<Mutex<String>>,
    addr: SocketAddr,
}

impl Serve {
    fn start(dir: &Path, template: &str) -> Self {
        let config = dir.join("hookbr.toml");
        for _ in 0..5 {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let admin = format!("127.0.0.1:{}", free_port());
            let text = template
                .replace("{LISTEN}", &addr.to_string())
                .replace("{ADMIN}", &admin);
            std::fs::write(&config, text).unwrap();
            let mut child = command(&["serve", "--config", config.to_str().unwrap()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let pipe = child.stderr.take().unwrap();
            let stderr = Arc::new(Mutex::new(String::new()));
            let sink = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut text = sink.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            });
            let serve = Self {
                child,
                stderr,
                addr,
            };
            let started = Instant::now();
            let mut serve = serve;
            while started.elapsed() < WAIT {
                if serve.child.try_wait().unwrap().is_some() {
                    break; // probably a port taken meanwhile: try others
                }
                if serve.log().contains("listening on") {
                    return serve;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("hookbr serve did not start");
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (at most [`WAIT`]) until the log shows `text` `count` times.
    fn wait_log(&self, text: &str, count: usize) {
        let started = Instant::now();
        while self.log().matches(text).count() < count {
            assert!(
                started.elapsed() < WAIT,
                "no {text:?} in the log:\n{}",
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

const TEMPLATE: &str = "[server]\nlisten = \"{LISTEN}\"\n\n[inbox]\nurl = \"sqlite:inbox.sqlite3\"\n\n\
    [admin]\nlisten = \"{ADMIN}\"\ntoken = \"file:admin.token\"\n\n\
    [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\n\
    secrets = [\"file:bonifiq.current\", \"file:bonifiq.previous\"]\n";

#[test]
fn sighup_and_hookbr_reload_rotate_a_secret_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("admin.token", ADMIN_TOKEN);
    write("bonifiq.current", OLD);
    write("bonifiq.previous", OLD);
    let serve = Serve::start(dir.path(), TEMPLATE);
    let config = dir.path().join("hookbr.toml");
    let config = config.to_str().unwrap();
    assert_eq!(deliver(serve.addr, OLD), 200);
    assert_eq!(deliver(serve.addr, NEW), 401);

    // SIGHUP: the new secret is accepted, the old one still is (overlap).
    write("bonifiq.current", NEW);
    serve.hangup();
    serve.wait_log("reloaded", 1);
    assert_eq!(deliver(serve.addr, NEW), 200);
    assert_eq!(deliver(serve.addr, OLD), 200);

    // A bad configuration on SIGHUP: refused with the reason, the process serves on.
    write("bonifiq.current", "");
    serve.hangup();
    serve.wait_log("reload refused", 1);
    assert!(
        serve.log().contains("endpoint[0].secrets[0]"),
        "{}",
        serve.log()
    );
    assert_eq!(deliver(serve.addr, NEW), 200);
    assert_eq!(deliver(serve.addr, OLD), 200);

    // The same through `hookbr reload`: exit 1 with the reason.
    let run = hookbr(&["reload", "--config", config]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("endpoint[0].secrets[0]"), "{run:?}");
    assert!(!run.all().contains(ADMIN_TOKEN), "{run:?}");

    // The old secret retired: exit 0, and it is refused from now on.
    write("bonifiq.current", NEW);
    write("bonifiq.previous", NEW);
    let run = hookbr(&["reload", "--config", config]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("reloaded"), "{run:?}");
    assert_eq!(deliver(serve.addr, OLD), 401);
    assert_eq!(deliver(serve.addr, NEW), 200);

    // Without [admin], `hookbr reload` has no way to ask: a usage error.
    let other = dir.path().join("no-admin.toml");
    std::fs::write(
        &other,
        "[[endpoint]]\nprovider = \"bonifiq\"\npath = \"/b\"\nsecrets = [\"file:bonifiq.current\"]\n",
    )
    .unwrap();
    let run = hookbr(&["reload", "--config", other.to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("SIGHUP"), "{run:?}");
}

#[test]
fn serve_check_checks_the_tls_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s"), OLD).unwrap();
    let ca = TestCa::new();
    let (leaf, other) = (ca.leaf(&["localhost"], 1), ca.leaf(&["localhost"], 2));
    std::fs::write(dir.path().join("cert.pem"), &leaf.chain_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &leaf.key_pem).unwrap();
    std::fs::write(dir.path().join("other.pem"), &other.key_pem).unwrap();
    let endpoint = "[[endpoint]]\nprovider = \"bonifiq\"\npath = \"/b\"\nsecrets = [\"file:s\"]\n";
    let check = |tls: &str| {
        let config = dir.path().join("hookbr.toml");
        std::fs::write(&config, format!("[server]\n{tls}\n{endpoint}")).unwrap();
        hookbr(&["serve", "--check", "--config", config.to_str().unwrap()])
    };
    let run = check("tls_cert = \"file:cert.pem\"\ntls_key = \"file:key.pem\"");
    assert_eq!(run.code, Some(0), "{run:?}");
    let run = check("tls_cert = \"file:cert.pem\"\ntls_key = \"file:other.pem\"");
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("does not belong"), "{run:?}");
    assert!(!run.all().contains("PRIVATE KEY"), "{run:?}");
    let run = check("tls_cert = \"file:cert.pem\"");
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("server.tls_key"), "{run:?}");
}

/// One authentic BonifiQ delivery over HTTPS (a new TLS client trusting only `ca`): the status
/// code and the certificate the server presented.
fn deliver_https(addr: SocketAddr, ca: &TestCa, secret: &str) -> (u16, Vec<u8>) {
    let config = ca.client_config(&[], rustls::DEFAULT_VERSIONS);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut connection = rustls::ClientConnection::new(config, name).unwrap();
    let mut socket = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let delivery = testkit::bonifiq_point_add(secret);
    let mut request = format!(
        "POST /webhooks/bonifiq HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\
         content-length: {}\r\n",
        delivery.body.len()
    );
    for (name, value) in &delivery.headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(&delivery.body);
    let mut answer = Vec::new();
    {
        let mut tls = rustls::Stream::new(&mut connection, &mut socket);
        tls.write_all(&bytes).unwrap();
        let _ = tls.read_to_end(&mut answer);
    }
    let status = String::from_utf8_lossy(&answer)
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let served = connection.peer_certificates().unwrap()[0].to_vec();
    (status, served)
}

#[test]
fn https_and_a_certificate_renewed_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    let ca = TestCa::new();
    let (first, second) = (ca.leaf(&["localhost"], 1), ca.leaf(&["localhost"], 2));
    write("fullchain.pem", &first.chain_pem);
    write("privkey.pem", &first.key_pem);
    write("admin.token", ADMIN_TOKEN);
    write("bonifiq.current", OLD);
    write("bonifiq.previous", OLD);
    let template = TEMPLATE.replace(
        "[inbox]",
        "tls_cert = \"file:fullchain.pem\"\ntls_key = \"file:privkey.pem\"\n\n[inbox]",
    );
    let serve = Serve::start(dir.path(), &template);
    assert!(
        serve.log().contains("listening on https://"),
        "{}",
        serve.log()
    );
    assert_eq!(
        deliver_https(serve.addr, &ca, OLD),
        (200, first.der.to_vec())
    );
    // Cleartext HTTP on the HTTPS port gets no HTTP answer.
    assert_eq!(deliver(serve.addr, OLD), 0);

    // Renewed files and SIGHUP: the next connection gets the new certificate.
    write("fullchain.pem", &second.chain_pem);
    write("privkey.pem", &second.key_pem);
    serve.hangup();
    serve.wait_log("reloaded", 1);
    assert_eq!(
        deliver_https(serve.addr, &ca, OLD),
        (200, second.der.to_vec())
    );
}
