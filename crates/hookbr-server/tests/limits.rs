//! `[server]` and `[admin]` connection bounds, applied by a running server on real loopback
//! sockets: a trickled head is closed after `header_timeout` on both listeners, and HTTP/2
//! cleartext is served only with `http2 = true`.

use std::{
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use hookbr_server::{Config, Server, ServerBuilder};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

fn config(dir: &Path, server_keys: &str) -> Config {
    std::fs::write(dir.join("bonifiq.secret"), "limits-test-secret").unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{server_keys}\n\
         [inbox]\nurl = \"sqlite:inbox.sqlite3\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\nheader_timeout = \"1s\"\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/b\"\nsecrets = [\"file:bonifiq.secret\"]\n"
    );
    Config::parse(&text, dir).unwrap()
}

async fn start(server_keys: &str) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerBuilder::new(config(dir.path(), server_keys))
        .start()
        .await
        .unwrap();
    (dir, server)
}

/// Sends a request head one byte every 200 ms: how long until the server closed the
/// connection (`None`: still open after 10 s).
async fn trickled_head_closed_after(addr: SocketAddr) -> Option<Duration> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let began = Instant::now();
    let head =
        b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut buffer = [0_u8; 1024];
    for byte in head {
        if began.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return Some(began.elapsed()),
                Ok(_) => {}
            },
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                let _ = stream.write_all(&[*byte]).await;
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_listeners_close_a_trickled_head() {
    let (_dir, server) = start("header_timeout = \"1s\"").await;
    let admin = server.admin_addr().unwrap();
    let (receiver, admin) = tokio::join!(
        trickled_head_closed_after(server.addr()),
        trickled_head_closed_after(admin)
    );
    for closed in [receiver, admin] {
        let closed = closed.expect("closed");
        assert!(
            closed >= Duration::from_millis(900) && closed < Duration::from_millis(2_500),
            "{closed:?}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_only_with_http2_true() {
    let h2c = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let (_dir, server) = start("").await;
    let url = format!("http://{}/b", server.addr());
    assert!(h2c.post(&url).send().await.is_err());
    server.stop().await.unwrap();

    let (_dir, server) = start("http2 = true").await;
    let url = format!("http://{}/b", server.addr());
    let answer = h2c.post(&url).body("{}").send().await.unwrap();
    // Served over HTTP/2 (and refused for its missing secret).
    assert_eq!(
        (answer.version(), answer.status().as_u16()),
        (reqwest::Version::HTTP_2, 401)
    );
    server.stop().await.unwrap();
}

/// The admin listener's `/metrics` text (from loopback, no token needed).
async fn metrics(server: &Server) -> String {
    let admin = server.admin_addr().unwrap();
    let response = reqwest::Client::new()
        .get(format!("http://{admin}/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the sample `name{labels}` in a Prometheus text (labels in the exporter's order).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_connections_are_counted_in_the_metrics() {
    let (_dir, server) = start("header_timeout = \"1s\"\nmax_connections = 2").await;
    let admin = server.admin_addr().unwrap();
    // A trickled head on each listener, closed by the header timeout.
    let (receiver, admin_closed) = tokio::join!(
        trickled_head_closed_after(server.addr()),
        trickled_head_closed_after(admin)
    );
    assert!(receiver.is_some() && admin_closed.is_some());
    // Three silent connections to a receiver capped at two: the oldest is closed for the
    // newest.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(TcpStream::connect(server.addr()).await.unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut buffer = [0_u8; 64];
    let shed = tokio::time::timeout(Duration::from_millis(800), silent[0].read(&mut buffer)).await;
    assert!(matches!(shed, Ok(Ok(0) | Err(_))), "{shed:?}");
    let text = metrics(&server).await;
    for series in [
        "hookbr_connections_closed_total{listener=\"receiver\",reason=\"header_timeout\"}",
        "hookbr_connections_closed_total{listener=\"admin\",reason=\"header_timeout\"}",
        "hookbr_connections_closed_total{listener=\"receiver\",reason=\"connection_cap\"}",
    ] {
        let value = sample(&text, series).unwrap_or_else(|| panic!("{series} in\n{text}"));
        assert!(value >= 1.0, "{series} = {value}");
    }
    // The two silent connections still open on the receiver, the scrape's own on the admin.
    let open = sample(&text, "hookbr_connections_open{listener=\"receiver\"}").unwrap();
    assert!((open - 2.0).abs() < f64::EPSILON, "{open}");
    let open = sample(&text, "hookbr_connections_open{listener=\"admin\"}").unwrap();
    assert!(open >= 1.0, "{open}");
    drop(silent);
    server.stop().await.unwrap();
}
