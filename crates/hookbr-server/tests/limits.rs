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
