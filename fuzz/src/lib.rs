//! Helpers shared by the hookbr-core fuzz targets.
//!
//! Input conventions (the seeds under `fuzz/seeds/` follow them):
//!
//! * `@SIG@` anywhere in a Grafeno body is replaced by the test key's signature of the
//!   `x-unique-key` value (JSON-escaped), so the fuzzer can reach the code after the RSA check
//!   (status binding, decoding, deduplication) that it could never reach by forging.
//! * `pipeline` and `decode_iset` read selector bytes first; see those targets.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
};

use hookbr_core::{
    Endpoint, Request, Secret, WebhookEvent,
    iset::IsetKind,
    testkit::TestKey,
    verify::{
        AnyVerifier, BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier, UrlSecretVerifier,
    },
};

/// The BonifiQ header secret the `pipeline` target accepts.
pub const BONIFIQ_SECRET: &str = "bq-s3cr3t";
/// The Foody token (the one in the fixtures).
pub const FOODY_TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";
/// The iSET URL secret.
pub const ISET_SECRET: &str = "iset-k3y";
/// Replaced by a real signature of the unique key.
pub const SIGNATURE_PLACEHOLDER: &[u8] = b"@SIG@";

/// The Grafeno verifier with the 2048-bit test key, built once.
pub fn grafeno_verifier() -> &'static GrafenoVerifier {
    static VERIFIER: OnceLock<GrafenoVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        GrafenoVerifier::new([TestKey::rsa_2048().public_key()]).expect("the test key is valid")
    })
}

/// The test key's signature of `message`, as a JSON string body (escaped newlines), cached.
fn signature_json(message: &[u8]) -> String {
    static CACHE: OnceLock<Mutex<HashMap<Vec<u8>, String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(found) = cache.get(message) {
        return found.clone();
    }
    if cache.len() > 4096 {
        cache.clear();
    }
    let signature = TestKey::rsa_2048().sign(message).replace('\n', "\\n");
    cache.insert(message.to_vec(), signature.clone());
    signature
}

/// `body` with every `@SIG@` replaced by the signature of `message` (trimmed like the verifier
/// trims the header).
pub fn with_signature(body: &[u8], message: Option<&[u8]>) -> Vec<u8> {
    let Some(message) = message else {
        return body.to_vec();
    };
    if !body
        .windows(SIGNATURE_PLACEHOLDER.len())
        .any(|window| window == SIGNATURE_PLACEHOLDER)
    {
        return body.to_vec();
    }
    let signature = signature_json(message.trim_ascii());
    let mut out = Vec::with_capacity(body.len() + signature.len());
    let mut rest = body;
    while let Some(at) = rest
        .windows(SIGNATURE_PLACEHOLDER.len())
        .position(|window| window == SIGNATURE_PLACEHOLDER)
    {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(signature.as_bytes());
        rest = &rest[at + SIGNATURE_PLACEHOLDER.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Every accessor of a decoded event, and its serialization (which must succeed).
pub fn touch(event: &WebhookEvent, request: &Request<'_>) -> String {
    let _ = (
        event.provider(),
        event.kind(),
        event.is_known(),
        event.occurred_at(),
    );
    let _ = (
        event.drift(),
        event.delivery_id(request),
        event.is_handshake(),
    );
    let _ = format!("{event:?}");
    serde_json::to_string(event).expect("a decoded event serializes to JSON")
}

/// Panics if the JSON of a decoded Foody event carries the body's top-level `token`.
///
/// Only checked when the token is long, alphanumeric and written once, verbatim, in the body
/// (otherwise another field could legitimately hold the same text).
pub fn assert_no_foody_token(body: &[u8], json: &str) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return;
    };
    let Some(serde_json::Value::String(token)) = map.get("token") else {
        return;
    };
    if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return;
    }
    let occurrences = body
        .windows(token.len())
        .filter(|window| *window == token.as_bytes())
        .count();
    if occurrences == 1 {
        assert!(
            !json.contains(token.as_str()),
            "Foody token leaked into {json}"
        );
    }
}

/// The endpoint for a selector byte: BonifiQ, Foody, Grafeno, then the seven iSET kinds.
pub fn endpoint(selector: u8) -> Endpoint {
    match selector % 10 {
        0 => Endpoint::Bonifiq,
        1 => Endpoint::Foody,
        2 => Endpoint::Grafeno,
        n => Endpoint::Iset(IsetKind::ALL[usize::from(n - 3)]),
    }
}

/// The verifier the `pipeline` target uses for `endpoint`.
pub fn verifier(endpoint: Endpoint, path_secret: bool) -> AnyVerifier {
    let secret = |value: &str| Secret::new(value).expect("non-empty");
    match endpoint {
        Endpoint::Bonifiq => HeaderSecretVerifier::bonifiq([secret(BONIFIQ_SECRET)])
            .expect("valid")
            .into(),
        Endpoint::Foody => BodyTokenVerifier::foody([secret(FOODY_TOKEN)])
            .expect("valid")
            .into(),
        Endpoint::Iset(_) if path_secret => UrlSecretVerifier::path_segment([secret(ISET_SECRET)])
            .expect("valid")
            .into(),
        Endpoint::Iset(_) => UrlSecretVerifier::query_param("token", [secret(ISET_SECRET)])
            .expect("valid")
            .into(),
        _ => grafeno_verifier().clone().into(),
    }
}

/// A request read from fuzz input in a tiny HTTP-like format:
///
/// ```text
/// METHOD TARGET\n
/// Name: value\n      (any number of header lines)
/// \n
/// body
/// ```
///
/// Missing parts default to `POST /`, no headers, empty body.
#[derive(Debug)]
pub struct RawRequest {
    /// The method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl RawRequest {
    /// Parses the format above; never fails.
    pub fn parse(data: &[u8]) -> Self {
        let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
            Some(at) => (&data[..at], &data[at + 2..]),
            None => (data, &[][..]),
        };
        let mut lines = head.split(|&b| b == b'\n');
        let request_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
        let (method, target) = match request_line.split_once(' ') {
            Some((method, target)) => (method.to_owned(), target.to_owned()),
            None if request_line.is_empty() => ("POST".to_owned(), "/".to_owned()),
            None => (request_line, "/".to_owned()),
        };
        let headers = lines
            .map(|line| match line.iter().position(|&b| b == b':') {
                Some(at) => (
                    String::from_utf8_lossy(&line[..at]).into_owned(),
                    line[at + 1..].to_vec(),
                ),
                None => (String::from_utf8_lossy(line).into_owned(), Vec::new()),
            })
            .collect();
        Self {
            method,
            target,
            headers,
            body: body.to_vec(),
        }
    }

    /// The request view.
    pub fn request(&self) -> Request<'_> {
        Request::new(&self.body)
            .with_method(&self.method)
            .with_target(&self.target)
            .with_headers(&self.headers)
    }
}
