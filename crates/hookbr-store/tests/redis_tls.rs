//! Redis dedup over TLS (`rediss://`), against the redis-server `scripts/test` starts with a TLS
//! port and a certificate for 127.0.0.1 and localhost signed by a throwaway CA
//! (`HOOKBR_TEST_TLS_CA`): the right CA through `ca_file`, a wrong CA made by the test, and the
//! system's roots (which do not know the test CA). In CI a missing server fails these tests;
//! elsewhere they print a notice and pass without checking anything.

#![cfg(feature = "redis")]

use std::time::Duration;

use hookbr_core::{Claim, DedupKey, IdempotencyStore};
use hookbr_store::RedisStore;
use hookbr_tls::testkit::TestPki;

/// `HOOKBR_TEST_REDIS_TLS_URL` and `HOOKBR_TEST_TLS_CA`, or `None` (with a notice) outside CI.
fn servers() -> Option<(String, String)> {
    match (
        std::env::var("HOOKBR_TEST_REDIS_TLS_URL"),
        std::env::var("HOOKBR_TEST_TLS_CA"),
    ) {
        (Ok(url), Ok(ca)) => Some((url, ca)),
        _ if std::env::var_os("CI").is_some() => panic!(
            "HOOKBR_TEST_REDIS_TLS_URL or HOOKBR_TEST_TLS_CA is not set in CI: run the tests \
             through scripts/test"
        ),
        _ => {
            eprintln!(
                "NOTICE: HOOKBR_TEST_REDIS_TLS_URL or HOOKBR_TEST_TLS_CA not set; Redis TLS test \
                 skipped (use scripts/test)"
            );
            None
        }
    }
}

#[tokio::test]
async fn rediss_with_the_private_ca_claims_and_a_wrong_ca_is_named() {
    let Some((url, ca)) = servers() else {
        return;
    };
    let host_port = url
        .trim_start_matches("rediss://")
        .trim_end_matches('/')
        .to_owned();

    // The right CA: a working dedup store.
    let store = RedisStore::connect(&format!("{url}?ca_file={ca}"))
        .await
        .expect("connects over TLS")
        .with_prefix(format!("hookbr:tls-test:{}:", std::process::id()));
    let key = DedupKey::from_bytes([7; 16]);
    let Claim::New(token) = store.claim(key, Duration::from_secs(5)).await.unwrap() else {
        panic!("a fresh key is new");
    };
    store
        .complete(key, token, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        store.claim(key, Duration::from_secs(5)).await.unwrap(),
        Claim::Done
    );
    // localhost is in the certificate too.
    let by_name = url.replace("127.0.0.1", "localhost");
    RedisStore::connect(&format!("{by_name}?ca_file={ca}"))
        .await
        .expect("connects by name");

    // Another CA: refused at once, naming the host.
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong, TestPki::new(&["127.0.0.1"]).ca_pem).unwrap();
    let error = RedisStore::connect(&format!("{url}?ca_file={}", wrong.display()))
        .await
        .unwrap_err()
        .to_string();
    let expected = format!(
        "redis: connect: TLS handshake with {host_port} failed: certificate not trusted \
         (unknown issuer)"
    );
    assert!(error.contains(&expected), "{error}");

    // The system's roots do not know the test CA.
    let error = RedisStore::connect(&url).await.unwrap_err().to_string();
    assert!(error.contains("certificate not trusted"), "{error}");

    // A CA file that is not there is named.
    let missing = dir.path().join("missing.pem");
    let error = RedisStore::connect(&format!("{url}?ca_file={}", missing.display()))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("missing.pem"), "{error}");
}
