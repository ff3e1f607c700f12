//! TLS clients through the real binary. `hookbr send` to an `https://` receiver (hookbr-axum
//! behind rustls, with a certificate made by the test): delivered with `--ca-file`, refused
//! with a clear error naming the host when the CA is wrong, `--insecure-skip-verify` on
//! loopback only. `hookbr serve` with its inbox on the TLS PostgreSQL `scripts/test` starts:
//! a certificate it cannot trust stops it at start (exit 1) with one line naming the host.

mod common;

use common::{Run, run_within};
use std::{net::SocketAddr, process::Command, time::Duration};

use axum::http::StatusCode;
use hookbr_axum::{IntoRouter, Webhook, Webhooks};
use hookbr_core::{Secret, verify::HeaderSecretVerifier};
use hookbr_tls::testkit::TestPki;

const BONIFIQ_SECRET: &str = "bq-s3cr3t-for-tls-tests";
const DEADLINE: Duration = Duration::from_secs(60);

/// A BonifiQ receiver on 127.0.0.1:0 behind rustls serving `pki`'s certificate.
struct TlsServer {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl TlsServer {
    fn start(pki: &TestPki) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let verifier =
            HeaderSecretVerifier::bonifiq([Secret::new(BONIFIQ_SECRET).unwrap()]).unwrap();
        let router = Webhooks::new()
            .bonifiq("/bonifiq", verifier)
            .into_router(|Webhook(_): Webhook| async { StatusCode::OK })
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config(&[b"http/1.1"]));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, router) = (acceptor.clone(), router.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake.
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(tls),
                        hyper_util::service::TowerToHyperService::new(router),
                    )
                    .await;
                });
            }
        });
        Self {
            addr,
            _runtime: runtime,
        }
    }
}

fn hookbr(args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookbr"));
    command.args(args);
    run_within(command, DEADLINE)
}

#[test]
fn send_over_https_trusts_the_ca_file_and_names_the_host_when_it_cannot() {
    let pki = TestPki::new(&["127.0.0.1", "localhost"]);
    let server = TlsServer::start(&pki);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let wrong_ca = dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong_ca, TestPki::new(&["127.0.0.1"]).ca_pem).unwrap();
    let url = format!("https://{}/bonifiq", server.addr);
    let send = |extra: &[&str]| {
        let mut args = vec!["send", "bonifiq", url.as_str(), "--secret", BONIFIQ_SECRET];
        args.extend_from_slice(extra);
        hookbr(&args)
    };

    let ok = send(&["--ca-file", ca.to_str().unwrap()]);
    assert_eq!(ok.code, Some(0), "{ok:?}");
    assert!(ok.stdout.contains("200"), "{ok:?}");

    let by_name = format!("https://localhost:{}/bonifiq", server.addr.port());
    let ok = hookbr(&[
        "send",
        "bonifiq",
        &by_name,
        "--secret",
        BONIFIQ_SECRET,
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(ok.code, Some(0), "{ok:?}");

    // A wrong CA, and the system's roots (which do not know the test CA): exit 1, one clear
    // line naming the host and port; one attempt, no retry.
    let expected = format!(
        "TLS handshake with 127.0.0.1:{} failed: certificate not trusted (unknown issuer)",
        server.addr.port()
    );
    for extra in [&["--ca-file", wrong_ca.to_str().unwrap()][..], &[][..]] {
        let refused = send(extra);
        assert_eq!(refused.code, Some(1), "{refused:?}");
        assert!(refused.all().contains(&expected), "{refused:?}");
    }

    // No verification: accepted on loopback only.
    let ok = send(&["--insecure-skip-verify"]);
    assert_eq!(ok.code, Some(0), "{ok:?}");
    let refused = hookbr(&[
        "send",
        "bonifiq",
        "https://app.example/bonifiq",
        "--secret",
        BONIFIQ_SECRET,
        "--insecure-skip-verify",
    ]);
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(
        refused.stderr.contains("refused for host app.example"),
        "{refused:?}"
    );
}

#[test]
fn serve_stops_at_start_when_the_inbox_certificate_is_not_trusted() {
    let (base, ca) = match (
        std::env::var("HOOKBR_TEST_POSTGRES_URL"),
        std::env::var("HOOKBR_TEST_TLS_CA"),
    ) {
        (Ok(url), Ok(ca)) => (url, ca),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "HOOKBR_TEST_POSTGRES_URL or HOOKBR_TEST_TLS_CA is not set in CI: run scripts/test"
            )
        }
        _ => {
            eprintln!(
                "NOTICE: HOOKBR_TEST_POSTGRES_URL or HOOKBR_TEST_TLS_CA not set: test skipped"
            );
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bonifiq.secret"), BONIFIQ_SECRET).unwrap();
    std::fs::write(
        dir.path().join("wrong-ca.pem"),
        TestPki::new(&["127.0.0.1"]).ca_pem,
    )
    .unwrap();
    let wrong = dir.path().join("wrong-ca.pem");
    let port = base.rsplit(':').next().unwrap().split('/').next().unwrap();
    let config = |url: &str| {
        let path = dir.path().join("hookbr.toml");
        std::fs::write(
            &path,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n[inbox]\nurl = \"{url}\"\n\
                 [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/b\"\n\
                 secrets = [\"file:bonifiq.secret\"]\n"
            ),
        )
        .unwrap();
        path.display().to_string()
    };

    let path = config(&format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        wrong.display()
    ));
    let run = hookbr(&["serve", "--config", &path]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let expected = format!(
        "TLS handshake with 127.0.0.1:{port} failed: certificate not trusted (unknown issuer)"
    );
    assert!(run.stderr.contains(&expected), "{run:?}");
    assert_eq!(
        run.stderr.matches("TLS handshake").count(),
        1,
        "said once: {run:?}"
    );

    // sslmode and sslrootcert are part of a valid configuration.
    let path = config(&format!("{base}?sslmode=verify-full&sslrootcert={ca}"));
    let run = hookbr(&["serve", "--check", "--config", &path]);
    assert_eq!(run.code, Some(0), "{run:?}");
}
