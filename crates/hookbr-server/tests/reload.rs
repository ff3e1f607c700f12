//! Reloading a running server's configuration: a BonifiQ secret and a Grafeno key rotated under
//! load (old and new accepted during the overlap, zero non-2xx for authentic deliveries), a
//! broken configuration refused while the running one keeps answering, restart-only keys
//! reported, and the admin listener's `POST /reload`. Real sockets on 127.0.0.1; every loop has
//! a count and a deadline.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU8, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hookbr_core::testkit::{self, TestDelivery, TestKey};
use hookbr_server::{Config, Server, ServerBuilder};
use tokio::sync::RwLock;

const OLD_SECRET: &str = "bonifiq-rotation-old-secret";
const NEW_SECRET: &str = "bonifiq-rotation-new-secret";
const ADMIN_TOKEN: &str = "reload-test-admin-token-0123456789abcdef";

/// `hookbr.toml` in `dir`: each credential is listed twice, current and previous, so a
/// rotation only rewrites the files and reloads.
fn write_config(dir: &Path, extra: &str) {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{extra}\n\
         [inbox]\nurl = \"sqlite:inbox.sqlite3\"\n\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"file:admin.token\"\n\n\
         [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/webhooks/bonifiq\"\n\
         secrets = [\"file:bonifiq.current\", \"file:bonifiq.previous\"]\n\n\
         [[endpoint]]\nprovider = \"grafeno\"\npath = \"/webhooks/grafeno\"\n\
         public_keys = [\"file:grafeno.current.pem\", \"file:grafeno.previous.pem\"]\n"
    );
    std::fs::write(dir.join("hookbr.toml"), text).unwrap();
}

fn write_credentials(dir: &Path, current: (&str, &TestKey), previous: (&str, &TestKey)) {
    std::fs::write(dir.join("bonifiq.current"), current.0).unwrap();
    std::fs::write(dir.join("bonifiq.previous"), previous.0).unwrap();
    std::fs::write(dir.join("grafeno.current.pem"), current.1.public_pem()).unwrap();
    std::fs::write(dir.join("grafeno.previous.pem"), previous.1.public_pem()).unwrap();
}

async fn start(dir: &Path) -> Server {
    std::fs::write(dir.join("admin.token"), ADMIN_TOKEN).unwrap();
    let path = dir.join("hookbr.toml");
    ServerBuilder::new(Config::load(&path).unwrap())
        .config_path(path)
        .start()
        .await
        .unwrap()
}

async fn post(client: &reqwest::Client, url: &str, delivery: &TestDelivery) -> u16 {
    let mut request = client.post(url);
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    match request.body(delivery.body.clone()).send().await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

/// Rows in the inbox, whatever their state.
async fn stored(server: &Server) -> u64 {
    let stats = server.inbox().unwrap().stats().await.unwrap();
    stats.pending + stats.in_flight + stats.done + stats.dead
}

/// Which credentials the load sends while the rotation goes on.
const OLD_ONLY: u8 = 0;
const BOTH: u8 = 1;
const NEW_ONLY: u8 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_and_a_key_rotated_under_load_lose_no_authentic_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let (old_key, new_key) = (TestKey::rsa_2048(), TestKey::other_2048());
    write_config(dir.path(), "");
    write_credentials(dir.path(), (OLD_SECRET, old_key), (OLD_SECRET, old_key));
    let server = start(dir.path()).await;
    let base = format!("http://{}", server.addr());

    // A sender holds the phase (read) while a delivery is in flight, so that a phase change
    // waits for the deliveries signed under the previous phase.
    let phase = Arc::new(RwLock::new(OLD_ONLY));
    let sent = Arc::new([const { AtomicUsize::new(0) }; 6]);
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicU8::new(0));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut senders = Vec::new();
    for sender in 0..4_usize {
        let (phase, sent, failures, stop, base) = (
            phase.clone(),
            sent.clone(),
            failures.clone(),
            stop.clone(),
            base.clone(),
        );
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            for round in 0..5_000_usize {
                if stop.load(Ordering::SeqCst) == 1 || Instant::now() > deadline {
                    break;
                }
                let phase = phase.read().await;
                // Old or new credential: in the overlap, alternate.
                let new = match *phase {
                    OLD_ONLY => false,
                    NEW_ONLY => true,
                    _ => (round + sender) % 2 == 0,
                };
                let grafeno = sender % 2 == 1;
                let (path, delivery) = if grafeno {
                    let key = if new { new_key } else { old_key };
                    ("grafeno", testkit::grafeno_registration("approved", key))
                } else {
                    let secret = if new { NEW_SECRET } else { OLD_SECRET };
                    ("bonifiq", testkit::bonifiq_point_add(secret))
                };
                let status = post(&client, &format!("{base}/webhooks/{path}"), &delivery).await;
                let slot = usize::from(*phase) * 2 + usize::from(new);
                sent[slot].fetch_add(1, Ordering::SeqCst);
                if !(200..300).contains(&status) {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{path} new={new} phase={}: {status}", *phase));
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    // Rotation, step 1: the new credentials become current, the old ones previous.
    write_credentials(dir.path(), (NEW_SECRET, new_key), (OLD_SECRET, old_key));
    let reloaded = server.reload().await.unwrap();
    assert!(reloaded.warnings.is_empty(), "{:?}", reloaded.warnings);
    *phase.write().await = BOTH;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    // Step 2: the old credentials are retired (once no delivery signed with them is in flight).
    *phase.write().await = NEW_ONLY;
    write_credentials(dir.path(), (NEW_SECRET, new_key), (NEW_SECRET, new_key));
    server.reload().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(1, Ordering::SeqCst);
    for sender in senders {
        sender.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} non-2xx: {failures:?}",
        failures.len()
    );
    let counts: Vec<usize> = sent
        .iter()
        .map(|count| count.load(Ordering::SeqCst))
        .collect();
    eprintln!("deliveries (old-only: old, new; overlap: old, new; new-only: old, new): {counts:?}");
    // [old-only: old, -], [overlap: old, new], [new-only: -, new]
    assert!(
        counts[0] > 10 && counts[2] > 10 && counts[3] > 10 && counts[5] > 10,
        "{counts:?}"
    );

    // The old credentials are now refused; the inbox holds every delivery.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let old = testkit::bonifiq_point_add(OLD_SECRET);
    assert_eq!(
        post(&client, &format!("{base}/webhooks/bonifiq"), &old).await,
        401
    );
    let old = testkit::grafeno_registration("approved", old_key);
    assert_eq!(
        post(&client, &format!("{base}/webhooks/grafeno"), &old).await,
        401
    );
    let total: usize = counts.iter().sum();
    assert_eq!(stored(&server).await, u64::try_from(total).unwrap());
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_configuration_is_refused_and_the_running_one_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::rsa_2048();
    write_config(dir.path(), "");
    write_credentials(dir.path(), (OLD_SECRET, key), (OLD_SECRET, key));
    let server = start(dir.path()).await;
    let url = format!("http://{}/webhooks/bonifiq", server.addr());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    // A reference that cannot be read: refused, with the key named.
    std::fs::remove_file(dir.path().join("bonifiq.previous")).unwrap();
    let error = server.reload().await.unwrap_err().to_string();
    assert!(
        error.contains("endpoint[0].secrets[1]") && error.contains("bonifiq.previous"),
        "{error}"
    );
    assert!(!error.contains(OLD_SECRET), "{error}");
    let delivery = testkit::bonifiq_point_add(OLD_SECRET);
    assert_eq!(post(&client, &url, &delivery).await, 200);

    // Not TOML, an unknown key: refused the same way.
    std::fs::write(dir.path().join("bonifiq.previous"), OLD_SECRET).unwrap();
    let good = std::fs::read_to_string(dir.path().join("hookbr.toml")).unwrap();
    std::fs::write(
        dir.path().join("hookbr.toml"),
        format!("{good}\n[[endpoint"),
    )
    .unwrap();
    assert!(server.reload().await.is_err());
    write_config(dir.path(), "tls_cert = \"file:nope.pem\"");
    let error = server.reload().await.unwrap_err().to_string();
    assert!(error.contains("server.tls_key"), "{error}");
    let delivery = testkit::bonifiq_point_add(OLD_SECRET);
    assert_eq!(post(&client, &url, &delivery).await, 200);

    // A key a reload cannot apply: the rest is applied, the key is reported and kept.
    write_config(dir.path(), "header_timeout = \"3s\"");
    std::fs::write(dir.path().join("bonifiq.current"), NEW_SECRET).unwrap();
    let reloaded = server.reload().await.unwrap();
    assert_eq!(reloaded.warnings.len(), 1, "{:?}", reloaded.warnings);
    assert!(
        reloaded.warnings[0].contains("connection bounds")
            && reloaded.warnings[0].contains("restart"),
        "{:?}",
        reloaded.warnings
    );
    let delivery = testkit::bonifiq_point_add(NEW_SECRET);
    assert_eq!(post(&client, &url, &delivery).await, 200);

    // The same delivery again is still a duplicate: the dedup state survived the reloads.
    assert_eq!(post(&client, &url, &delivery).await, 200);
    assert_eq!(stored(&server).await, 3);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_reload_on_the_admin_listener() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::rsa_2048();
    write_config(dir.path(), "");
    write_credentials(dir.path(), (OLD_SECRET, key), (OLD_SECRET, key));
    let server = start(dir.path()).await;
    let admin = format!("http://{}/reload", server.admin_addr().unwrap());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let without_token = client.post(&admin).send().await.unwrap();
    assert_eq!(without_token.status(), 401);
    let cross_site = client
        .post(&admin)
        .bearer_auth(ADMIN_TOKEN)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);

    std::fs::write(dir.path().join("bonifiq.current"), NEW_SECRET).unwrap();
    let ok = client
        .post(&admin)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let text = ok.text().await.unwrap();
    assert!(
        text.starts_with("reloaded") && text.contains("/webhooks/bonifiq"),
        "{text}"
    );
    let delivery = testkit::bonifiq_point_add(NEW_SECRET);
    let url = format!("http://{}/webhooks/bonifiq", server.addr());
    assert_eq!(post(&client, &url, &delivery).await, 200);

    std::fs::write(dir.path().join("bonifiq.current"), "").unwrap();
    let refused = client
        .post(&admin)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("endpoint[0].secrets[0]") && text.contains("empty"),
        "{text}"
    );
    let delivery = testkit::bonifiq_point_add(NEW_SECRET);
    assert_eq!(post(&client, &url, &delivery).await, 200);
    server.stop().await.unwrap();
}
