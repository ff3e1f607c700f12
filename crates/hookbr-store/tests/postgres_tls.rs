//! The PostgreSQL inbox over TLS, against the server `scripts/test` starts with `ssl=on` and a
//! certificate for 127.0.0.1 and localhost signed by a throwaway CA (`HOOKBR_TEST_TLS_CA`):
//! each `sslmode` as libpq users write it, the right CA, a wrong CA (made by the test) and a
//! wrong host name. In CI a missing server fails these tests; elsewhere they print a notice
//! and pass without checking anything.

#![cfg(feature = "postgres")]

use std::sync::atomic::{AtomicUsize, Ordering};

use hookbr_core::inbox::now_ms;
use hookbr_store::PostgresInbox;
use hookbr_tls::testkit::TestPki;
use tokio_postgres::NoTls;

/// `HOOKBR_TEST_POSTGRES_URL` and `HOOKBR_TEST_TLS_CA`, or `None` (with a notice) outside CI.
fn servers() -> Option<(String, String)> {
    match (
        std::env::var("HOOKBR_TEST_POSTGRES_URL"),
        std::env::var("HOOKBR_TEST_TLS_CA"),
    ) {
        (Ok(url), Ok(ca)) => Some((url, ca)),
        _ if std::env::var_os("CI").is_some() => panic!(
            "HOOKBR_TEST_POSTGRES_URL or HOOKBR_TEST_TLS_CA is not set in CI: run the tests \
             through scripts/test"
        ),
        _ => {
            eprintln!(
                "NOTICE: HOOKBR_TEST_POSTGRES_URL or HOOKBR_TEST_TLS_CA not set; PostgreSQL TLS \
                 test skipped (use scripts/test)"
            );
            None
        }
    }
}

/// The test server's port, from `postgres://hookbr@127.0.0.1:PORT/db`.
fn port_of(url: &str) -> u16 {
    let authority = url.split('/').nth(2).unwrap();
    authority.rsplit(':').next().unwrap().parse().unwrap()
}

struct Setup {
    port: u16,
    ca: String,
    schema: String,
    admin: tokio_postgres::Client,
}

impl Setup {
    async fn new() -> Option<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let (base, ca) = servers()?;
        let (admin, connection) = tokio_postgres::connect(&base, NoTls).await.unwrap();
        tokio::spawn(connection);
        let schema = format!(
            "tls_{}_{}_{}",
            std::process::id(),
            now_ms(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        Some(Self {
            port: port_of(&base),
            ca,
            schema,
            admin,
        })
    }

    /// A URL to `host` (TCP to 127.0.0.1 through `hostaddr` when `host` is a name) with the
    /// extra query `options`, tagged `application_name` so its connections can be found.
    fn url(&self, host: &str, application: &str, options: &str) -> String {
        let hostaddr = if host == "127.0.0.1" {
            String::new()
        } else {
            "&hostaddr=127.0.0.1".to_owned()
        };
        format!(
            "postgres://hookbr@{host}:{}/hookbr_test?options=-csearch_path%3D{}\
             &application_name={application}{hostaddr}{options}",
            self.port, self.schema
        )
    }

    /// Whether the connections of `application` are encrypted (`None`: no connection).
    async fn encrypted(&self, application: &str) -> Option<bool> {
        let rows = self
            .admin
            .query(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                 WHERE a.application_name = $1",
                &[&application],
            )
            .await
            .unwrap();
        rows.first().map(|row| row.get(0))
    }
}

#[tokio::test]
async fn sslmodes_as_libpq_users_write_them() {
    let Some(setup) = Setup::new().await else {
        return;
    };
    let port = setup.port;
    let ca = setup.ca.clone();

    // verify-full with the right CA: connected, encrypted.
    let url = setup.url(
        "127.0.0.1",
        "full",
        &format!("&sslmode=verify-full&sslrootcert={ca}"),
    );
    let inbox = PostgresInbox::connect(&url).await.expect("verify-full");
    assert_eq!(setup.encrypted("full").await, Some(true));
    drop(inbox);

    // localhost is in the certificate too (TCP still to 127.0.0.1).
    let url = setup.url(
        "localhost",
        "full-name",
        &format!("&sslmode=verify-full&sslrootcert={ca}"),
    );
    PostgresInbox::connect(&url)
        .await
        .expect("verify-full by name");

    // A certificate for another name: verify-full refuses it naming the host, verify-ca
    // (the chain only) accepts it.
    let url = setup.url(
        "db.invalid",
        "wrong-name",
        &format!("&sslmode=verify-full&sslrootcert={ca}"),
    );
    let error = PostgresInbox::connect(&url).await.unwrap_err().to_string();
    assert!(
        error.contains(&format!("TLS handshake with db.invalid:{port} failed"))
            && error.contains("not valid for this host name"),
        "{error}"
    );
    let url = setup.url(
        "db.invalid",
        "chain-only",
        &format!("&sslmode=verify-ca&sslrootcert={ca}"),
    );
    let _chain_only = PostgresInbox::connect(&url)
        .await
        .expect("verify-ca ignores the name");
    assert_eq!(setup.encrypted("chain-only").await, Some(true));

    // A CA that did not sign the server's certificate.
    let dir = tempfile::tempdir().unwrap();
    let wrong_ca = dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong_ca, TestPki::new(&["127.0.0.1"]).ca_pem).unwrap();
    let wrong = wrong_ca.display();
    for mode in ["verify-full", "verify-ca", "require"] {
        // require with sslrootcert verifies the chain, as libpq does.
        let url = setup.url(
            "127.0.0.1",
            "wrong-ca",
            &format!("&sslmode={mode}&sslrootcert={wrong}"),
        );
        let error = PostgresInbox::connect(&url).await.unwrap_err().to_string();
        assert!(
            error.contains(&format!(
                "TLS handshake with 127.0.0.1:{port} failed: certificate not trusted (unknown issuer)"
            )),
            "{mode}: {error}"
        );
    }
    // The system's roots do not include the test CA either.
    let url = setup.url("127.0.0.1", "system", "&sslmode=verify-full");
    let error = PostgresInbox::connect(&url).await.unwrap_err().to_string();
    assert!(error.contains("certificate not trusted"), "{error}");

    // require without a CA file: encrypted, not verified.
    let url = setup.url("127.0.0.1", "require", "&sslmode=require");
    let _require = PostgresInbox::connect(&url).await.expect("require");
    assert_eq!(setup.encrypted("require").await, Some(true));

    // No sslmode: libpq's default, prefer: encrypted when the server offers it.
    let url = setup.url("127.0.0.1", "default", "");
    let _default = PostgresInbox::connect(&url).await.expect("prefer");
    assert_eq!(setup.encrypted("default").await, Some(true));

    // disable against a server with TLS on: plaintext still works.
    let url = setup.url("127.0.0.1", "plain", "&sslmode=disable");
    let _plain = PostgresInbox::connect(&url).await.expect("disable");
    assert_eq!(setup.encrypted("plain").await, Some(false));

    setup
        .admin
        .batch_execute(&format!("DROP SCHEMA {} CASCADE", setup.schema))
        .await
        .unwrap();
}
