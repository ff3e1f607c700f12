//! What an attacker without credentials meets, over real sockets on 127.0.0.1: the inspector's
//! host, header and cookie rules, the bounded recent-requests log, and what is kept at rest
//! (file modes, no Foody token in the inbox).

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    path::Path,
    time::Duration,
};

use hookbr_core::{inbox::ListFilter, testkit};
use hookbr_server::{Config, Server, ServerBuilder};
use reqwest::{StatusCode, header};

const FOODY_TOKEN: &str = "foody-hardening-test-token-5e1f";
const ADMIN_TOKEN: &str = "admin-token-of-the-hardening-tests-0123456789";

/// A server with a SQLite inbox in `dir`, BonifiQ and Foody endpoints, and `admin` (the body of
/// an `[admin]` table) on a free loopback port.
async fn start(dir: &Path, admin: &str) -> Server {
    std::fs::write(dir.join("bonifiq.secret"), "bonifiq-hardening-secret").unwrap();
    std::fs::write(dir.join("foody.token"), FOODY_TOKEN).unwrap();
    std::fs::write(dir.join("admin.token"), ADMIN_TOKEN).unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[inbox]\nurl = \"sqlite:state/inbox.sqlite3\"\n\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n{admin}\n\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\nsecrets = [\"file:bonifiq.secret\"]\n\n\
         [[endpoint]]\nprovider = \"foody\"\npath = \"/webhooks/foody\"\ntokens = [\"file:foody.token\"]\n"
    );
    ServerBuilder::new(Config::parse(&text, dir).unwrap())
        .start()
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn assert_hardened(response: &reqwest::Response) {
    let headers = response.headers();
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'; "), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(policy.contains("form-action 'self'"), "{policy}");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_inspector_answers_loopback_names_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "").await;
    let admin = server.admin_addr().unwrap();
    let port = admin.port();
    let client = client();
    let get = |host: String| {
        let request = client.get(format!("http://{admin}/")).header("host", host);
        async move { request.send().await.unwrap() }
    };
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost".to_owned(),
        format!("[::1]:{port}"),
        "127.0.0.2".to_owned(),
    ] {
        let response = get(host.clone()).await;
        assert_eq!(response.status(), StatusCode::OK, "{host}");
        assert_hardened(&response);
    }
    for host in [
        "127.evil.example".to_owned(),
        format!("127.evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("localhost.evil.example:{port}"),
        format!("evil.example:{port}"),
    ] {
        let response = get(host.clone()).await;
        assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST, "{host}");
        assert_hardened(&response);
    }
    let metrics = client
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert_hardened(&metrics);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_exchanged_for_an_expiring_http_only_strict_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "token = \"file:admin.token\"").await;
    let admin = server.admin_addr().unwrap();
    let client = client();
    let get = |path: &str, cookie: Option<&str>| {
        let mut request = client.get(format!("http://{admin}{path}"));
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        async move { request.send().await.unwrap() }
    };
    let refused = get("/", None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_hardened(&refused);
    assert_eq!(
        get("/?token=not-the-token", None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let exchanged = get(&format!("/?token={ADMIN_TOKEN}"), None).await;
    assert_eq!(exchanged.status(), StatusCode::SEE_OTHER);
    assert_eq!(exchanged.headers()[header::LOCATION], "/");
    assert_hardened(&exchanged);
    let set_cookie = exchanged.headers()[header::SET_COOKIE].to_str().unwrap();
    let attributes: Vec<&str> = set_cookie.split("; ").collect();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(attributes.contains(&attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains(ADMIN_TOKEN), "{set_cookie}");
    let cookie = attributes[0];
    assert!(cookie.starts_with("hookbr_admin="), "{set_cookie}");

    let page = get("/", Some(cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_hardened(&page);
    // The expiry is signed: moving it, or any other change, is refused.
    let value = cookie.trim_start_matches("hookbr_admin=");
    let (expires, mac) = value.split_once('.').unwrap();
    let later = expires.parse::<u64>().unwrap() - 1;
    for forged in [
        format!("hookbr_admin={later}.{mac}"),
        format!("hookbr_admin={expires}.{}", "0".repeat(64)),
        "hookbr_admin=".to_owned(),
    ] {
        assert_eq!(
            get("/", Some(&forged)).await.status(),
            StatusCode::UNAUTHORIZED,
            "{forged}"
        );
    }
    let bearer = client
        .get(format!("http://{admin}/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    server.stop().await.unwrap();
}

/// Sends `method /webhooks/bonifiq/{tail}` on its own connection and reads the answer.
fn raw_request(addr: SocketAddr, method: &str, tail: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "{method} /webhooks/bonifiq{tail} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\
         connection: close\r\n\r\n"
    );
    // The server may answer (and close) before reading everything: not an error here.
    let _ = stream.write_all(request.as_bytes());
    let mut answer = Vec::new();
    let _ = stream.take(1 << 16).read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// 60 requests with a 400 KB method and 40 with a 6 KB query: the inspector page stays a few
/// kilobytes and holds none of those bytes (whether the listener refuses such heads before
/// routing or not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_methods_and_paths_leave_the_inspector_small() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "").await;
    let addr = server.addr();
    tokio::task::spawn_blocking(move || {
        let method = "M".repeat(400_000);
        let query = format!("?{}", "q".repeat(6_000));
        for _ in 0..60 {
            raw_request(addr, &method, "");
        }
        for _ in 0..40 {
            raw_request(addr, "POST", &query);
        }
    })
    .await
    .unwrap();
    let admin = server.admin_addr().unwrap();
    let page = client()
        .get(format!("http://{admin}/?live=0"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.len() < 64 * 1024, "{} bytes", page.len());
    assert!(!page.contains("MMMMMMMM"), "a method's bytes were kept");
    assert!(!page.contains("qqqqqqqq"), "a query's bytes were kept");
    assert!(page.contains("POST /webhooks/bonifiq"), "{page}");
    server.stop().await.unwrap();
}

/// Foody's token authenticated the delivery and is not kept: not in the stored row, not in the
/// database's bytes; and those files are the owner's only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_keeps_no_foody_token_and_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "").await;
    let delivery = testkit::foody_status("dispatched", FOODY_TOKEN);
    let mut request =
        reqwest::Client::new().post(format!("http://{}/webhooks/foody", server.addr()));
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    let status = request
        .body(delivery.body.clone())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    let rows = server
        .inbox()
        .unwrap()
        .list(ListFilter::new())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let body = String::from_utf8(rows[0].record.body.clone()).unwrap();
    assert!(!body.contains(FOODY_TOKEN), "{body}");
    assert!(body.contains(r#""token":"[redacted]""#), "{body}");
    assert_eq!(
        rows[0].record.decode().unwrap().kind(),
        "order_status_updated"
    );
    let database = dir.path().join("state").join("inbox.sqlite3");
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", database.display());
        bytes.extend(std::fs::read(&file).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
    }
    assert!(
        !bytes
            .windows(FOODY_TOKEN.len())
            .any(|window| window == FOODY_TOKEN.as_bytes()),
        "the token is in the database files"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("state"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    server.stop().await.unwrap();
}
