//! `hookbr send` and `hookbr keygen` through the real binary, against a real hookbr-axum
//! receiver on 127.0.0.1.

mod common;

use common::{Run, run_within};
use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::http::{StatusCode, Uri};
use hookbr_axum::{IntoRouter, Webhook, Webhooks};
use hookbr_core::{
    Secret,
    iset::IsetKind,
    testkit::TestKey,
    verify::{
        BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier, RsaPublicKey, UrlSecretVerifier,
    },
};

const BONIFIQ_SECRET: &str = "bq-s3cr3t-for-send-tests";
const FOODY_TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";
const ISET_SECRET: &str = "iset s3cr3t&=+";
/// The longest any one `hookbr` run may take here.
const DEADLINE: Duration = Duration::from_secs(60);

/// A receiver with the four providers' routes, plus `/flaky/<provider>` routes whose handler
/// fails (500) the first call for each delivery id.
struct Server {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start(grafeno_keys: Vec<RsaPublicKey>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let secret = |value: &str| Secret::new(value).unwrap();
        let bonifiq = || HeaderSecretVerifier::bonifiq([secret(BONIFIQ_SECRET)]).unwrap();
        let foody = || BodyTokenVerifier::foody([secret(FOODY_TOKEN)]).unwrap();
        let webhooks = Webhooks::new()
            .bonifiq("/bonifiq", bonifiq())
            .foody("/foody", foody())
            .iset(
                "/iset/order_upserted",
                IsetKind::OrderUpserted,
                UrlSecretVerifier::query_param("token", [secret(ISET_SECRET)]).unwrap(),
            )
            .grafeno("/grafeno", GrafenoVerifier::new(grafeno_keys).unwrap())
            .bonifiq("/flaky/bonifiq", bonifiq())
            .foody("/flaky/foody", foody());
        let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let handler = move |Webhook(verified): Webhook, uri: Uri| {
            let calls = calls.clone();
            async move {
                let mut calls = calls.lock().unwrap();
                let count = calls
                    .entry(verified.delivery_id().as_str().to_owned())
                    .or_default();
                *count += 1;
                if uri.path().starts_with("/flaky/") && *count == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        };
        let router = webhooks.into_router(handler).unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            addr,
            _runtime: runtime,
        }
    }

    /// With the committed 2048-bit test key for Grafeno.
    fn standard() -> Self {
        Self::start(vec![TestKey::rsa_2048().public_key()])
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Runs `hookbr` with `args` (and `env`), killed after [`DEADLINE`].
fn hookbr_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookbr"));
    command.args(args).envs(env.iter().copied());
    run_within(command, DEADLINE)
}

fn hookbr(args: &[&str]) -> Run {
    hookbr_env(args, &[])
}

/// The test key's private half in a file.
fn test_key_file(dir: &Path) -> String {
    let path = dir.join("grafeno-test.key.pem");
    std::fs::write(&path, TestKey::rsa_2048().private_pem()).unwrap();
    path.display().to_string()
}

/// `send` arguments for an authentic delivery of `provider` to `server`.
fn send_args(server: &Server, provider: &str, key_file: &str) -> Vec<String> {
    let mut args = vec!["send".to_owned(), provider.to_owned()];
    let (path, credential): (&str, [&str; 2]) = match provider {
        "bonifiq" => ("/bonifiq", ["--secret", BONIFIQ_SECRET]),
        "foody" => ("/foody", ["--token", FOODY_TOKEN]),
        "iset" => ("/iset/order_upserted", ["--secret", ISET_SECRET]),
        _ => ("/grafeno", ["--private-key", key_file]),
    };
    args.push(server.url(path));
    args.extend(credential.iter().map(|s| (*s).to_owned()));
    args
}

fn run_send(args: &[String], extra: &[&str]) -> Run {
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend_from_slice(extra);
    hookbr(&all)
}

const PROVIDERS: [&str; 4] = ["bonifiq", "foody", "iset", "grafeno"];

#[test]
fn authentic_deliveries_are_processed() {
    let server = Server::standard();
    let dir = tempfile::tempdir().unwrap();
    let key = test_key_file(dir.path());
    for provider in PROVIDERS {
        let run = run_send(&send_args(&server, provider, &key), &[]);
        assert_eq!(run.code, Some(0), "{provider}: {run:?}");
        assert_eq!(
            run.stdout,
            "200 processed ×1\nsent 1 delivery in 1 attempt: 1 accepted, 0 not accepted\n",
            "{provider}"
        );
    }
}

#[test]
fn every_built_in_kind_is_accepted() {
    let server = Server::standard();
    let dir = tempfile::tempdir().unwrap();
    let key = test_key_file(dir.path());
    let kinds: [(&str, &[&str]); 4] = [
        (
            "bonifiq",
            &[
                "Point_Add",
                "Point_Remove",
                "Communication_EarnPurchasePoints",
                "Communication_EarnQuizPoints",
                "unknown",
            ],
        ),
        ("foody", &["hook_test", "open", "delivered", "cancelled"]),
        ("iset", &["order_upserted", "stock_changed"]),
        (
            "grafeno",
            &[
                "rejected",
                "validation_pendencies",
                "boleto-criado",
                "unknown",
            ],
        ),
    ];
    for (provider, kinds) in kinds {
        for kind in kinds {
            let run = run_send(
                &send_args(&server, provider, &key),
                &["--kind", kind, "--json"],
            );
            assert_eq!(run.code, Some(0), "{provider} {kind}: {run:?}");
            let json = run.json();
            assert_eq!(json["statuses"]["200"], 1, "{provider} {kind}");
        }
    }
    // hook_test is answered by hookbr itself.
    let run = run_send(&send_args(&server, "foody", &key), &["--kind", "hook_test"]);
    assert!(
        run.stdout.starts_with("200 processed (handshake) ×1\n"),
        "{run:?}"
    );
}

#[test]
fn repeat_sends_the_same_delivery() {
    let server = Server::standard();
    let dir = tempfile::tempdir().unwrap();
    let key = test_key_file(dir.path());
    for provider in PROVIDERS {
        let run = run_send(&send_args(&server, provider, &key), &["--repeat", "3"]);
        assert_eq!(run.code, Some(0), "{provider}: {run:?}");
        assert_eq!(
            run.stdout,
            "200 duplicate ×2\n200 processed ×1\nsent 3 deliveries in 3 attempts: 3 accepted, 0 \
             not accepted\n",
            "{provider}"
        );
    }
    let run = run_send(
        &send_args(&server, "bonifiq", &key),
        &["--repeat", "3", "--json"],
    );
    let json = run.json();
    assert_eq!(json["sent"], 3);
    assert_eq!(json["attempts"], 3);
    assert_eq!(json["duplicates"], 2);
    assert_eq!(json["statuses"], serde_json::json!({"200": 3}));
    assert_eq!(json["delivery_ids"].as_array().unwrap().len(), 1);
}

#[test]
fn fresh_deliveries_are_each_processed() {
    let server = Server::standard();
    let dir = tempfile::tempdir().unwrap();
    let key = test_key_file(dir.path());
    for provider in PROVIDERS {
        let run = run_send(
            &send_args(&server, provider, &key),
            &["--fresh", "--repeat", "3", "--concurrency", "3", "--json"],
        );
        assert_eq!(run.code, Some(0), "{provider}: {run:?}");
        let json = run.json();
        assert_eq!(json["sent"], 3, "{provider}");
        assert_eq!(
            json["statuses"],
            serde_json::json!({"200": 3}),
            "{provider}"
        );
        assert_eq!(json["duplicates"], 0, "{provider}");
        let ids: Vec<&str> = json["delivery_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 3, "{provider}");
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    }
}

#[test]
fn tampered_deliveries_are_rejected() {
    let server = Server::standard();
    let dir = tempfile::tempdir().unwrap();
    let key = test_key_file(dir.path());
    for provider in PROVIDERS {
        for how in ["signature", "header"] {
            let run = run_send(&send_args(&server, provider, &key), &["--tamper", how]);
            assert_eq!(run.code, Some(1), "{provider} {how}: {run:?}");
            assert!(
                run.stdout.starts_with("401 rejected (unauthorized) ×1\n"),
                "{provider} {how}: {run:?}"
            );
            assert!(run.stderr.contains("not accepted"), "{run:?}");
        }
    }
    // Grafeno signs x-unique-key only: a changed body breaks the header/`change` binding.
    let run = run_send(&send_args(&server, "grafeno", &key), &["--tamper", "body"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.starts_with("401 rejected (unauthorized) ×1\n"));
    // BonifiQ, Foody and iSET do not protect the body: the receiver cannot tell.
    for provider in ["bonifiq", "foody", "iset"] {
        let run = run_send(&send_args(&server, provider, &key), &["--tamper", "body"]);
        assert_eq!(run.code, Some(0), "{provider}: {run:?}");
    }
}

#[test]
fn iset_secret_may_stay_in_the_url() {
    let server = Server::standard();
    let url = format!(
        "{}?token=iset+s3cr3t%26%3D%2B",
        server.url("/iset/order_upserted")
    );
    let run = hookbr(&["send", "iset", &url, "--repeat", "2"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .starts_with("200 duplicate ×1\n200 processed ×1\n"),
        "{run:?}"
    );
    let run = hookbr(&["send", "iset", &url, "--tamper", "header"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let run = hookbr(&["send", "iset", &server.url("/iset/order_upserted")]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("--secret"), "{run:?}");
}

#[test]
fn retry_like_provider_delivers_on_the_retry() {
    let server = Server::standard();
    for (provider, path, credential) in [
        ("bonifiq", "/flaky/bonifiq", ["--secret", BONIFIQ_SECRET]),
        ("foody", "/flaky/foody", ["--token", FOODY_TOKEN]),
    ] {
        let url = server.url(path);
        let started = Instant::now();
        let run = hookbr(&[
            "send",
            provider,
            &url,
            credential[0],
            credential[1],
            "--retry-like-provider",
            "--time-scale",
            "0.0005",
            "--json",
        ]);
        assert_eq!(run.code, Some(0), "{provider}: {run:?}");
        let json = run.json();
        assert_eq!(json["sent"], 1);
        assert_eq!(json["attempts"], 2, "{provider}");
        assert_eq!(
            json["statuses"],
            serde_json::json!({"200": 1, "500": 1}),
            "{provider}"
        );
        assert_eq!(json["delivered"], 1);
        // Foody waits 60-120 s, BonifiQ 60 s: scaled to 30-60 ms.
        assert!(started.elapsed() >= Duration::from_millis(30), "{provider}");

        // Without the flag there is one attempt, and it failed.
        let run = hookbr(&["send", provider, &url, credential[0], credential[1]]);
        assert_eq!(run.code, Some(1), "{provider}: {run:?}");
        assert!(run.stdout.starts_with("500 rejected"), "{run:?}");
    }
}

#[test]
fn retries_end_after_the_schedule() {
    // A closed port: every attempt is a transport error; BonifiQ's assumed schedule allows
    // 5 retries.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/iset?x=1");
    let run = hookbr(&[
        "send",
        "iset",
        &url,
        "--secret",
        ISET_SECRET,
        "--retry-like-provider",
        "--time-scale",
        "0.00001",
        "--json",
    ]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let json = run.json();
    assert_eq!(json["attempts"], 6);
    assert_eq!(json["transport_errors"], 6);
    assert_eq!(json["failed"], 1);
    assert!(run.stderr.contains("transport error ×6"), "{run:?}");
    assert!(!run.stderr.contains("s3cr3t") && !run.stdout.contains("s3cr3t"));

    let run = hookbr(&["send", "iset", &url, "--secret", ISET_SECRET]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.starts_with("transport error ×1\n"), "{run:?}");
}

#[test]
fn json_summary_fields() {
    let server = Server::standard();
    let url = server.url("/bonifiq");
    let run = hookbr_env(
        &[
            "send",
            "bonifiq",
            &url,
            "--secret",
            "env:HOOKBR_TEST_BONIFIQ",
            "--kind",
            "Point_Remove",
            "--json",
        ],
        &[("HOOKBR_TEST_BONIFIQ", BONIFIQ_SECRET)],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout.lines().count(), 1);
    let json = run.json();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "attempts",
            "delivered",
            "delivery_ids",
            "duplicates",
            "failed",
            "kind",
            "provider",
            "sent",
            "statuses",
            "transport_errors"
        ]
    );
    assert_eq!(json["provider"], "bonifiq");
    assert_eq!(json["kind"], "Point_Remove");
    assert_eq!(json["delivered"], 1);
    assert_eq!(json["failed"], 0);
    assert_eq!(json["transport_errors"], 0);
    assert_eq!(json["delivery_ids"][0].as_str().unwrap().len(), 36);
    assert!(!run.stdout.contains(BONIFIQ_SECRET));
}

#[test]
fn files_are_sent_with_fresh_ids() {
    let server = Server::standard();
    let dir = tempfile::tempdir().unwrap();
    let key = test_key_file(dir.path());
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../hookbr-core/fixtures");
    for (provider, file) in [
        ("bonifiq", "bonifiq/point_add_legacy.json"),
        ("foody", "foody/order_status_updated.json"),
        ("iset", "iset/order_upserted_form.txt"),
        ("grafeno", "grafeno/cadastro_approved.json"),
    ] {
        let path = format!("{fixtures}/{file}");
        for _ in 0..2 {
            // Twice: the ids are fresh, so the second is not a duplicate.
            let run = run_send(&send_args(&server, provider, &key), &["--file", &path]);
            assert_eq!(run.code, Some(0), "{provider}: {run:?}");
            assert!(run.stdout.starts_with("200 processed ×1\n"), "{run:?}");
        }
    }
}

#[test]
fn keygen_writes_refuses_overwrites_and_signs() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("sim");
    let prefix = prefix.to_str().unwrap();
    let private = format!("{prefix}.key.pem");
    let public = format!("{prefix}.pub.pem");

    let run = hookbr(&["keygen", "--out", prefix]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains(&private) && run.stdout.contains(&public));
    assert!(run.stdout.contains("--private-key") && run.stdout.contains("public_keys"));
    let private_pem = std::fs::read_to_string(&private).unwrap();
    let public_pem = std::fs::read_to_string(&public).unwrap();
    assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!run.stdout.contains(private_pem.lines().nth(1).unwrap()));
    let key = RsaPublicKey::from_pem(&public_pem).unwrap();
    assert_eq!(key.bits(), 2048);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let run = hookbr(&["keygen", "--out", prefix]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("already exists") && run.stderr.contains(&private));
    assert_eq!(std::fs::read_to_string(&private).unwrap(), private_pem);

    let run = hookbr(&["keygen", "--out", prefix, "--force"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let private_pem = std::fs::read_to_string(&private).unwrap();
    let public_pem_new = std::fs::read_to_string(&public).unwrap();
    assert_ne!(public_pem_new, public_pem, "a new pair");

    // The pair works end to end; the committed test key does not match it.
    let server = Server::start(vec![RsaPublicKey::from_pem(&public_pem_new).unwrap()]);
    let url = server.url("/grafeno");
    let run = hookbr(&["send", "grafeno", &url, "--private-key", &private]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("200 processed ×1\n"));
    let run = hookbr_env(
        &[
            "send",
            "grafeno",
            &url,
            "--private-key",
            "env:HOOKBR_TEST_KEY",
        ],
        &[("HOOKBR_TEST_KEY", &private_pem)],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let other = test_key_file(dir.path());
    let run = hookbr(&["send", "grafeno", &url, "--private-key", &other]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.starts_with("401 rejected (unauthorized)"));

    let run = hookbr(&["keygen", "--bits", "1024", "--out", prefix, "--force"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("2048 or 4096"));
}

#[test]
fn usage_errors_exit_2() {
    let server = Server::standard();
    let url = server.url("/bonifiq");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing").display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["send", "stripe", &url], "unknown provider"),
        (
            vec!["send", "bonifiq", "not a url", "--secret", "s"],
            "invalid URL",
        ),
        (
            // https:// is sent (verified); skipping verification is refused off loopback.
            vec![
                "send",
                "bonifiq",
                "https://example.com/x",
                "--secret",
                "s",
                "--insecure-skip-verify",
            ],
            "refused for host example.com",
        ),
        (vec!["send", "bonifiq", &url], "--secret"),
        (vec!["send", "foody", &url], "--token"),
        (vec!["send", "grafeno", &url], "--private-key"),
        (
            vec!["send", "bonifiq", &url, "--secret", "s", "--kind", "nope"],
            "Point_Add",
        ),
        (
            vec!["send", "bonifiq", &url, "--secret", "s", "--token", "t"],
            "--token does not apply",
        ),
        (
            vec![
                "send",
                "bonifiq",
                &url,
                "--secret",
                "s",
                "--time-scale",
                "0",
            ],
            "--time-scale",
        ),
        (
            vec![
                "send",
                "bonifiq",
                &url,
                "--secret",
                "s",
                "--time-scale",
                "-1",
            ],
            "--time-scale",
        ),
        (
            vec![
                "send",
                "bonifiq",
                &url,
                "--secret",
                "s",
                "--time-scale",
                "NaN",
            ],
            "--time-scale",
        ),
        (
            vec![
                "send",
                "bonifiq",
                &url,
                "--secret",
                "s",
                "--time-scale",
                "inf",
            ],
            "--time-scale",
        ),
        (
            vec!["send", "bonifiq", &url, "--secret", "s", "--repeat", "0"],
            "--repeat",
        ),
        (
            vec![
                "send",
                "bonifiq",
                &url,
                "--secret",
                "s",
                "--concurrency",
                "0",
            ],
            "--concurrency",
        ),
        (
            vec!["send", "bonifiq", &url, "--secret", "s", "--file", &missing],
            "--file",
        ),
        (
            vec!["send", "grafeno", &url, "--private-key", &missing],
            "--private-key",
        ),
        (
            vec![
                "send",
                "bonifiq",
                &url,
                "--secret",
                "env:HOOKBR_TEST_SURELY_UNSET",
            ],
            "HOOKBR_TEST_SURELY_UNSET",
        ),
        (
            vec![
                "send",
                "bonifiq",
                &url,
                "--secret",
                "s",
                "--tamper",
                "everything",
            ],
            "",
        ),
    ];
    for (args, expected) in cases {
        let run = hookbr(&args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(run.stderr.contains(expected), "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
    }
    // A public key where the private one is expected.
    let public = dir.path().join("public.pem");
    std::fs::write(&public, TestKey::rsa_2048().public_pem()).unwrap();
    let run = hookbr(&[
        "send",
        "grafeno",
        &server.url("/grafeno"),
        "--private-key",
        public.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("public key"), "{run:?}");
}

#[test]
fn secrets_are_never_printed() {
    let server = Server::standard();
    let dir = tempfile::tempdir().unwrap();
    let key = test_key_file(dir.path());
    for provider in ["bonifiq", "foody", "iset"] {
        for extra in [
            &["--json"][..],
            &["--tamper", "signature"],
            &["--repeat", "2"],
        ] {
            let run = run_send(&send_args(&server, provider, &key), extra);
            for secret in [BONIFIQ_SECRET, FOODY_TOKEN, "s3cr3t"] {
                assert!(!run.stdout.contains(secret), "{provider}: {run:?}");
                assert!(!run.stderr.contains(secret), "{provider}: {run:?}");
            }
        }
    }
}

#[test]
fn help_explains_the_flags() {
    let run = hookbr(&["send", "--help"]);
    assert_eq!(run.code, Some(0));
    for text in [
        "--retry-like-provider",
        "--time-scale",
        "--tamper",
        "env:NAME",
        "\"transport_errors\"",
        "Foody 10 s",
        "assumption",
    ] {
        assert!(run.stdout.contains(text), "{text}: {}", run.stdout);
    }
    let run = hookbr(&["keygen", "--help"]);
    assert_eq!(run.code, Some(0));
    assert!(run.stdout.contains("--force") && run.stdout.contains("0600"));
}
