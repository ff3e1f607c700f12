//! The simulator against hookbr's own receiver: every built-in sample of every provider is
//! accepted with the right credentials and refused when tampered with; retries follow the
//! provider's bounded schedule, over real HTTP.

use std::{sync::Arc, time::Duration};

use hookbr_core::{
    Endpoint, Provider, Receiver, Secret,
    iset::IsetKind,
    testkit::{SigningKey, TestKey},
    verify::{
        AnyVerifier, BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier, UrlSecretVerifier,
    },
};
use hookbr_sim::{
    Credentials, Outgoing, Tamper,
    send::{self, Batch},
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const SECRET: &str = "bonifiq-secret";
const TOKEN: &str = "foody-token";
const ISET_SECRET: &str = "iset secret&=+";

fn credentials(provider: Provider) -> Credentials {
    match provider {
        Provider::Bonifiq => Credentials {
            secret: Some(SECRET.into()),
            ..Credentials::default()
        },
        Provider::Foody => Credentials {
            token: Some(TOKEN.into()),
            ..Credentials::default()
        },
        Provider::Iset => Credentials {
            secret: Some(ISET_SECRET.into()),
            ..Credentials::default()
        },
        _ => Credentials {
            signing_key: Some(SigningKey::from_pem(TestKey::rsa_4096().private_pem()).unwrap()),
            ..Credentials::default()
        },
    }
}

fn receiver(provider: Provider, kind: &str) -> Receiver {
    let secret = |value: &str| Secret::new(value).unwrap();
    let (endpoint, verifier): (Endpoint, AnyVerifier) = match provider {
        Provider::Bonifiq => (
            Endpoint::Bonifiq,
            HeaderSecretVerifier::bonifiq([secret(SECRET)])
                .unwrap()
                .into(),
        ),
        Provider::Foody => (
            Endpoint::Foody,
            BodyTokenVerifier::foody([secret(TOKEN)]).unwrap().into(),
        ),
        Provider::Iset => (
            Endpoint::Iset(kind.parse::<IsetKind>().unwrap()),
            UrlSecretVerifier::query_param("token", [secret(ISET_SECRET)])
                .unwrap()
                .into(),
        ),
        _ => (
            Endpoint::Grafeno,
            GrafenoVerifier::new([TestKey::rsa_4096().public_key()])
                .unwrap()
                .into(),
        ),
    };
    Receiver::builder(endpoint, verifier).build().unwrap()
}

fn samples() -> Vec<(Provider, &'static str)> {
    Provider::ALL
        .into_iter()
        .flat_map(|provider| {
            hookbr_sim::kinds(provider)
                .into_iter()
                .map(move |kind| (provider, kind))
        })
        .collect()
}

#[tokio::test]
async fn every_sample_is_accepted_by_the_receiver() {
    let samples = samples();
    assert_eq!(samples.len(), 15 + 9 + 7 + 8);
    for (provider, kind) in samples {
        let outgoing =
            hookbr_sim::build(provider, Some(kind), None, &credentials(provider)).unwrap();
        let receiver = receiver(provider, kind);
        let verified = match receiver.process(&outgoing.wire.request()).await {
            Ok(verified) => verified,
            // Foody's handshake is answered, not handed over.
            Err(rejection) if kind == "hook_test" => {
                assert_eq!(rejection.status(), 200, "{provider} {kind}");
                continue;
            }
            Err(rejection) => panic!("{provider} {kind}: {rejection:?}"),
        };
        assert_eq!(verified.kind(), outgoing.kind, "{provider} {kind}");
        assert_eq!(
            verified.delivery_id().as_str(),
            outgoing.delivery_id,
            "{provider} {kind}"
        );
        assert_eq!(
            verified.event().is_known(),
            kind != "unknown",
            "{provider} {kind}"
        );
        receiver.complete(&verified).await.unwrap();
        let again = receiver
            .process(&outgoing.wire.request())
            .await
            .unwrap_err();
        assert_eq!(again.category(), "duplicate", "{provider} {kind}");
    }
}

#[tokio::test]
async fn tampered_deliveries_are_refused() {
    for provider in Provider::ALL {
        let hows: &[Tamper] = match provider {
            // Only Grafeno binds the body to what is signed.
            Provider::Grafeno => &[Tamper::Signature, Tamper::Header, Tamper::Body],
            _ => &[Tamper::Signature, Tamper::Header],
        };
        for &how in hows {
            let kind = hookbr_sim::kinds(provider)[0];
            let mut outgoing =
                hookbr_sim::build(provider, Some(kind), None, &credentials(provider)).unwrap();
            hookbr_sim::tamper(&mut outgoing, how);
            let rejection = receiver(provider, kind)
                .process(&outgoing.wire.request())
                .await
                .unwrap_err();
            assert_eq!(rejection.status(), 401, "{provider} {how:?}");
        }
    }
}

#[test]
fn retry_schedules_are_bounded() {
    for provider in Provider::ALL {
        let waits = send::retry_waits(provider);
        let total: Duration = waits.iter().sum();
        match provider {
            Provider::Foody => {
                assert_eq!(waits.len(), 1);
                assert!(total >= Duration::from_secs(60) && total <= Duration::from_secs(120));
            }
            _ => {
                assert_eq!(waits.len(), 5, "{provider}");
                assert!(
                    total <= Duration::from_secs(8 * 3600),
                    "{provider}: {total:?}"
                );
            }
        }
        assert!(waits.windows(2).all(|pair| pair[0] < pair[1]), "{provider}");
    }
}

/// A one-route HTTP server answering the statuses of `answers` in turn (then 200).
async fn server(answers: Vec<u16>) -> (String, tokio::task::JoinHandle<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut served = 0;
        let mut answers = answers.into_iter();
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            loop {
                let n = stream.read(&mut buffer).await.unwrap_or(0);
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|line| {
                            let (name, value) = line.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length || n == 0 {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            served += 1;
            let status = answers.next().unwrap_or(200);
            let body = format!(r#"{{"status":{status},"error":"test"}}"#);
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            if served == 3 {
                break;
            }
        }
        served
    });
    (url, task)
}

#[tokio::test]
async fn batches_retry_until_accepted() {
    let (url, server) = server(vec![500, 204]).await;
    let outgoing: Outgoing =
        hookbr_sim::build(Provider::Foody, None, None, &credentials(Provider::Foody)).unwrap();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = done.clone();
    let batch = Batch {
        url,
        deliveries: vec![Arc::new(outgoing)],
        concurrency: 1,
        retries: vec![
            Duration::from_millis(1),
            Duration::from_millis(1),
            Duration::from_millis(1),
        ],
    };
    let report = batch
        .send(&send::client().unwrap(), move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .await;
    assert_eq!(server.await.unwrap(), 3);
    assert_eq!(done.load(std::sync::atomic::Ordering::SeqCst), 1);
    // 500, then 204 (not accepted by Foody, which wants exactly 200), then 200.
    let statuses: Vec<u16> = report
        .all_attempts()
        .map(|attempt| attempt.as_ref().unwrap().status)
        .collect();
    assert_eq!(statuses, [500, 204, 200]);
    assert_eq!(
        (report.attempts(), report.delivered(), report.failed()),
        (3, 1, 0)
    );
    assert_eq!(report.kind, "order_status_updated");
    assert_eq!(report.delivery_ids.len(), 1);
    assert_eq!(
        report.outcomes[0].attempts[0]
            .as_ref()
            .unwrap()
            .error
            .as_deref(),
        Some("test")
    );
}
