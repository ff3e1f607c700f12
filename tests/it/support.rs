//! Shared helpers: an executor, the four providers as test cases, rejection checks and an
//! idempotency store that is always down.

use std::{
    future::Future,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use hookbr_core::{
    Answer, Claim, ClaimToken, DedupKey, Endpoint, IdempotencyStore, Provider, Receiver,
    ReceiverBuilder, Request, Secret, StoreError, Verified,
    dedup::StoreFuture,
    iset::IsetKind,
    testkit::{self, TestDelivery, TestKey},
    verify::{
        AnyVerifier, BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier, UrlSecretVerifier,
    },
};

/// The BonifiQ `X-Loyalty-Secret` configured in the pipeline tests.
pub(crate) const BONIFIQ_SECRET: &str = "bq-s3cr3t-7f41c2d9e0";
/// A second BonifiQ secret, for rotation.
pub(crate) const BONIFIQ_SECRET_NEW: &str = "bq-s3cr3t-rotated-88aa";
/// The Foody token configured in the pipeline tests.
pub(crate) const FOODY_TOKEN: &str = "fd7Tok3nA1b2C3d4E5f6G7h8I9j0KkLl";
/// A second Foody token, for rotation.
pub(crate) const FOODY_TOKEN_NEW: &str = "fdN3wTok3nZz99Yy88Xx77Ww66Vv55Uu";
/// The iSET URL secret configured in the pipeline tests.
pub(crate) const ISET_TOKEN: &str = "isetUrlS3cret42";
/// A second iSET URL secret, for rotation.
pub(crate) const ISET_TOKEN_NEW: &str = "isetUrlS3cretRotated";
/// Every shared secret the tests configure: no rejection may ever show one.
pub(crate) const ALL_SECRETS: [&str; 6] = [
    BONIFIQ_SECRET,
    BONIFIQ_SECRET_NEW,
    FOODY_TOKEN,
    FOODY_TOKEN_NEW,
    ISET_TOKEN,
    ISET_TOKEN_NEW,
];

/// Runs a future to completion on the current thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    futures_executor::block_on(future)
}

/// A secret from a literal.
pub(crate) fn secret(value: &str) -> Secret {
    Secret::new(value).expect("test secrets are not empty")
}

/// A fresh number, so that generated iSET bodies (whose delivery id is a digest of the body)
/// never repeat across tests.
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1_000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// One provider as the pipeline tests see it: an endpoint, a verifier and a way to make a fresh
/// authentic delivery.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    /// For assertion messages.
    pub(crate) name: &'static str,
    pub(crate) endpoint: Endpoint,
    pub(crate) verifier: AnyVerifier,
    pub(crate) fresh: fn() -> TestDelivery,
}

impl Case {
    pub(crate) fn provider(&self) -> Provider {
        self.endpoint.provider()
    }

    pub(crate) fn builder(&self) -> ReceiverBuilder<AnyVerifier> {
        Receiver::builder(self.endpoint, self.verifier.clone())
    }

    pub(crate) fn receiver(&self) -> Receiver {
        self.builder().build().expect("default settings are valid")
    }
}

pub(crate) fn bonifiq_verifier() -> HeaderSecretVerifier {
    HeaderSecretVerifier::bonifiq([secret(BONIFIQ_SECRET)]).expect("valid")
}

pub(crate) fn foody_verifier() -> BodyTokenVerifier {
    BodyTokenVerifier::foody([secret(FOODY_TOKEN)]).expect("valid")
}

pub(crate) fn iset_verifier() -> UrlSecretVerifier {
    UrlSecretVerifier::query_param("token", [secret(ISET_TOKEN)]).expect("valid")
}

pub(crate) fn grafeno_verifier() -> GrafenoVerifier {
    GrafenoVerifier::new([TestKey::rsa_2048().public_key()]).expect("valid")
}

pub(crate) fn bonifiq_case() -> Case {
    Case {
        name: "bonifiq",
        endpoint: Endpoint::Bonifiq,
        verifier: bonifiq_verifier().into(),
        fresh: || testkit::bonifiq_point_add(BONIFIQ_SECRET),
    }
}

pub(crate) fn foody_case() -> Case {
    Case {
        name: "foody",
        endpoint: Endpoint::Foody,
        verifier: foody_verifier().into(),
        fresh: || testkit::foody_status("dispatched", FOODY_TOKEN),
    }
}

pub(crate) fn iset_case() -> Case {
    Case {
        name: "iset",
        endpoint: Endpoint::Iset(IsetKind::OrderUpserted),
        verifier: iset_verifier().into(),
        fresh: || testkit::iset(IsetKind::OrderUpserted, next_id(), ISET_TOKEN),
    }
}

pub(crate) fn grafeno_case() -> Case {
    Case {
        name: "grafeno",
        endpoint: Endpoint::Grafeno,
        verifier: grafeno_verifier().into(),
        fresh: || testkit::grafeno_registration("approved", TestKey::rsa_2048()),
    }
}

/// The four providers.
pub(crate) fn cases() -> [Case; 4] {
    [bonifiq_case(), foody_case(), iset_case(), grafeno_case()]
}

/// The providers whose bodies must be JSON.
pub(crate) fn json_cases() -> [Case; 3] {
    [bonifiq_case(), foody_case(), grafeno_case()]
}

/// Runs the pipeline and expects a [`Verified`] event.
#[track_caller]
pub(crate) fn accepted<V: hookbr_core::verify::Verify>(
    receiver: &Receiver<V>,
    delivery: &TestDelivery,
) -> Verified {
    match block_on(receiver.process(&delivery.request())) {
        Ok(verified) => {
            assert_event_hides(&verified, &leak_candidates(delivery));
            verified
        }
        Err(rejection) => panic!(
            "expected the delivery to be accepted, got {} {} ({})",
            rejection.status(),
            rejection.reason(),
            rejection
        ),
    }
}

/// Runs the pipeline and expects an [`Answer`] (acknowledgement or refusal); also checks that nothing a client or a log
/// sees from it carries a secret, a token or the delivery's signature.
#[track_caller]
pub(crate) fn rejected<V: hookbr_core::verify::Verify>(
    receiver: &Receiver<V>,
    delivery: &TestDelivery,
) -> Answer {
    let rejection = match block_on(receiver.process(&delivery.request())) {
        Ok(verified) => panic!(
            "expected a rejection, got an accepted {} delivery {:?}",
            verified.kind(),
            verified.delivery_id()
        ),
        Err(rejection) => rejection,
    };
    assert_no_leak(&rejection, &leak_candidates(delivery));
    rejection
}

/// Runs the pipeline on a bare request and expects an [`Answer`].
#[track_caller]
pub(crate) fn rejected_request<V: hookbr_core::verify::Verify>(
    receiver: &Receiver<V>,
    request: &Request<'_>,
) -> Answer {
    match block_on(receiver.process(request)) {
        Ok(verified) => panic!("expected a rejection, got {:?}", verified.delivery_id()),
        Err(rejection) => {
            assert_no_leak(&rejection, &ALL_SECRETS.map(str::to_owned));
            rejection
        }
    }
}

/// The configured secrets plus the delivery's own signature lines (Grafeno).
fn leak_candidates(delivery: &TestDelivery) -> Vec<String> {
    let mut candidates: Vec<String> = ALL_SECRETS.iter().map(|s| (*s).to_owned()).collect();
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(&delivery.body) {
        if let Some(signature) = body.get("signature").and_then(|s| s.as_str()) {
            candidates.extend(
                signature
                    .split_whitespace()
                    .filter(|line| line.len() >= 16)
                    .map(str::to_owned),
            );
        }
        if let Some(token) = body.get("token").and_then(|s| s.as_str()) {
            if token.len() >= 8 {
                candidates.push(token.to_owned());
            }
        }
    }
    candidates
}

/// Neither the event's serialization nor the `Debug` of the verified delivery carries a secret,
/// token or signature.
#[track_caller]
pub(crate) fn assert_event_hides(verified: &Verified, secrets: &[String]) {
    let serialized = serde_json::to_string(verified.event()).expect("events serialize");
    let debug = format!("{verified:?}");
    for secret in secrets {
        assert!(
            !serialized.contains(secret.as_str()),
            "the serialized {} event exposes a secret",
            verified.kind()
        );
        assert!(
            !debug.contains(secret.as_str()),
            "the Debug of a {} event exposes a secret",
            verified.kind()
        );
    }
}

/// Nothing derived from `rejection` (response body, headers, `Display`, `Debug`, reason) contains
/// any of `secrets`.
#[track_caller]
pub(crate) fn assert_no_leak(rejection: &Answer, secrets: &[String]) {
    let mut seen = vec![
        rejection.body_text(),
        rejection.to_string(),
        format!("{rejection:?}"),
        rejection.reason().to_owned(),
    ];
    seen.extend(
        rejection
            .headers()
            .into_iter()
            .map(|(name, value)| format!("{name}: {value}")),
    );
    for secret in secrets {
        for text in &seen {
            assert!(
                !text.contains(secret.as_str()),
                "a rejection ({}) exposes a secret in {text:?}",
                rejection.reason()
            );
        }
    }
}

/// Asserts the full HTTP answer of a rejection: status, category and the generic JSON body.
#[track_caller]
pub(crate) fn assert_answer(rejection: &Answer, status: u16, category: &str) {
    assert_eq!(
        (rejection.status(), rejection.category()),
        (status, category),
        "reason {}: {rejection}",
        rejection.reason()
    );
    assert_eq!(
        rejection.body_text(),
        format!(r#"{{"status":{status},"error":"{category}"}}"#)
    );
    assert_eq!(rejection.is_acknowledgement(), status == 200);
}

/// An idempotency store that is always unreachable.
#[derive(Debug, Default)]
pub(crate) struct DownStore;

impl IdempotencyStore for DownStore {
    fn claim(&self, _key: DedupKey, _lease: Duration) -> StoreFuture<'_, Claim> {
        Box::pin(async { Err(StoreError::new("down")) })
    }

    fn complete(
        &self,
        _key: DedupKey,
        _token: ClaimToken,
        _retention: Duration,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(StoreError::new("down")) })
    }

    fn release(&self, _key: DedupKey, _token: ClaimToken) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(StoreError::new("down")) })
    }
}

/// A Grafeno body `{signature, change, data}` whose signature covers `unique_key`.
pub(crate) fn grafeno_signed(
    unique_key: &str,
    change: &str,
    data: &serde_json::Value,
    key: &TestKey,
) -> TestDelivery {
    testkit::grafeno(change, data, key)
        .with_json_field(
            "signature",
            serde_json::json!(key.sign(unique_key.as_bytes())),
        )
        .with_header("x-unique-key", unique_key)
}
