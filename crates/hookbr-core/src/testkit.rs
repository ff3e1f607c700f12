//! Builders of authentic and forged deliveries for every provider, for tests and simulators
//! (feature `testkit`).
//!
//! * [`TestDelivery`]: one outgoing request (method, target, headers, body), the one type the
//!   tests, the benches and `hookbr-sim` send;
//! * [`fixture`]: the wire-format fixtures under `fixtures/` (one request body per file, as the
//!   providers publish them), the one copy of every sample body in the repository;
//! * shorthands over those fixtures with fresh ids ([`bonifiq_point_add`], [`foody_status`],
//!   [`iset`], [`grafeno_registration`], ...);
//! * [`SigningKey`]: an RSA private key that signs like Grafeno, and [`TestKey`], the committed
//!   test keys.
//!
//! The RSA keys here are **test fixtures**, committed on purpose and named `*_test.pem`: never
//! configure them in production.
//!
//! ```
//! use hookbr_core::{Endpoint, Receiver, testkit::{self, TestKey}, verify::GrafenoVerifier};
//! # futures_executor::block_on(async {
//! let receiver = Receiver::builder(
//!     Endpoint::Grafeno,
//!     GrafenoVerifier::new([TestKey::rsa_2048().public_key()])?,
//! )
//! .build()?;
//! let delivery = testkit::grafeno_registration("approved", &TestKey::rsa_2048());
//! assert!(receiver.process(&delivery.request()).await.is_ok());
//! let forged = delivery.clone().tamper_signature();
//! assert_eq!(receiver.process(&forged.request()).await.unwrap_err().status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

use std::sync::OnceLock;

use base64::Engine as _;
use ring::{
    rand::{SecureRandom, SystemRandom},
    signature::{RSA_PKCS1_SHA256, RsaKeyPair},
};
use serde_json::{Value, json};

use crate::{ConfigError, Request, iset::IsetKind, verify::RsaPublicKey};

/// One test delivery: what a provider would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestDelivery {
    /// The HTTP method.
    pub method: String,
    /// Path and query, e.g. `/iset/orders?token=…`.
    pub target: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl TestDelivery {
    /// A `POST /` of `body` with the one header `Content-Type: <content_type>`.
    ///
    /// ```
    /// let delivery = hookbr_core::testkit::TestDelivery::post("text/plain", "hi");
    /// assert_eq!((delivery.method.as_str(), delivery.target.as_str()), ("POST", "/"));
    /// assert_eq!(delivery.header("content-type"), Some("text/plain"));
    /// ```
    #[must_use]
    pub fn post(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: "POST".to_owned(),
            target: "/".to_owned(),
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.into(),
        }
    }

    /// A `POST /` of `body` as JSON.
    fn json(body: &Value) -> Self {
        Self::post("application/json", body.to_string())
    }

    /// The delivery as a [`Request`].
    #[must_use]
    pub fn request(&self) -> Request<'_> {
        Request::new(&self.body)
            .with_method(&self.method)
            .with_target(&self.target)
            .with_headers(&self.headers)
    }

    /// The value of the header `name` (case-insensitive), if set.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Sets (or replaces) a header: any header `name` (case-insensitive) is removed, then
    /// `name: value` is appended.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers
            .retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// Sets (or replaces) a header, as [`set_header`](Self::set_header).
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.set_header(name, value);
        self
    }

    /// Removes a header.
    #[must_use]
    pub fn without_header(mut self, name: &str) -> Self {
        self.headers
            .retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        self
    }

    /// Replaces the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Replaces the path and query.
    #[must_use]
    pub fn with_target(mut self, target: &str) -> Self {
        self.target = target.to_owned();
        self
    }

    /// Replaces the method.
    #[must_use]
    pub fn with_method(mut self, method: &str) -> Self {
        self.method = method.to_owned();
        self
    }

    /// Flips one bit of the decoded `signature` field (a forged Grafeno delivery, see
    /// [`forge_signature`]).
    #[must_use]
    pub fn tamper_signature(mut self) -> Self {
        if let Ok(mut body) = serde_json::from_slice::<Value>(&self.body) {
            let forged = body
                .get("signature")
                .and_then(Value::as_str)
                .and_then(forge_signature);
            if let (Some(forged), Some(object)) = (forged, body.as_object_mut()) {
                object.insert("signature".into(), json!(forged));
                self.body = body.to_string().into_bytes();
            }
        }
        self
    }

    /// Changes one value of a top-level JSON body field, keeping everything else.
    #[must_use]
    pub fn with_json_field(mut self, field: &str, value: Value) -> Self {
        if let Ok(mut body) = serde_json::from_slice::<Value>(&self.body) {
            if let Some(object) = body.as_object_mut() {
                object.insert(field.to_owned(), value);
                self.body = body.to_string().into_bytes();
            }
        }
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

macro_rules! fixtures {
    ($($path:literal),* $(,)?) => {
        /// Every file under `fixtures/`: (path relative to it, contents).
        const FIXTURES: &[(&str, &str)] = &[
            $(($path, include_str!(concat!("../fixtures/", $path))),)*
        ];
    };
}

fixtures!(
    "bonifiq/custom_body.json",
    "bonifiq/drifted_point_add.json",
    "bonifiq/earn_birthday_points_legacy.json",
    "bonifiq/earn_custom_objective_points.json",
    "bonifiq/earn_purchase_points_legacy.json",
    "bonifiq/earn_purchase_points_string_topic.json",
    "bonifiq/earn_quiz_points.json",
    "bonifiq/earn_review_points.json",
    "bonifiq/earn_signup_points.json",
    "bonifiq/earn_social_media_follow_facebook.json",
    "bonifiq/earn_social_media_follow_instagram.json",
    "bonifiq/earn_social_media_follow_linkedin.json",
    "bonifiq/earn_social_media_follow_tiktok.json",
    "bonifiq/point_add_int_only.json",
    "bonifiq/point_add_legacy.json",
    "bonifiq/point_remove.json",
    "bonifiq/point_update.json",
    "bonifiq/referral_communication_points.json",
    "bonifiq/unknown_topic.json",
    "foody/hook_test.json",
    "foody/missing_event.json",
    "foody/order_status_updated.json",
    "foody/status_canceled.json",
    "foody/status_cancelled.json",
    "foody/status_closed.json",
    "foody/status_delivered.json",
    "foody/status_open.json",
    "foody/status_ready.json",
    "foody/unknown_event.json",
    "grafeno/atualizacao_cobranca.json",
    "grafeno/boleto_criado.json",
    "grafeno/boleto_criado_short.json",
    "grafeno/boleto_falha_registro.json",
    "grafeno/cadastro_approved.json",
    "grafeno/cadastro_rejected.json",
    "grafeno/cadastro_validation_pendencies.json",
    "grafeno/cobranca_atualizacao.json",
    "grafeno/unknown_change.json",
    "grafeno/x_unique_key_examples.txt",
    "iset/category_deleted.json",
    "iset/category_upserted.json",
    "iset/order_deleted.json",
    "iset/order_upserted.json",
    "iset/order_upserted_form.txt",
    "iset/product_deleted.json",
    "iset/product_upserted.json",
    "iset/stock_changed.json",
);

/// The wire-format fixture at `path` under `crates/hookbr-core/fixtures/` (e.g.
/// `"bonifiq/point_add_legacy.json"`): one request body as the provider sends it, pretty-printed
/// (`fixtures/README.md` gives each one's source). `None` for a path that is not a fixture.
///
/// ```
/// let body = hookbr_core::testkit::fixture("foody/order_status_updated.json").unwrap();
/// assert!(body.contains(r#""status": "dispatched""#));
/// ```
#[must_use]
pub fn fixture(path: &str) -> Option<&'static str> {
    FIXTURES
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, text)| *text)
}

/// The path of every wire fixture (what [`fixture`] takes), sorted: every file under
/// `crates/hookbr-core/fixtures/`.
///
/// ```
/// let mut paths = hookbr_core::testkit::fixture_paths();
/// assert!(paths.any(|path| path == "iset/order_upserted_form.txt"));
/// ```
pub fn fixture_paths() -> impl Iterator<Item = &'static str> {
    FIXTURES.iter().map(|(path, _)| *path)
}

/// The fixture at `path` with the string at `id` (object members, outermost first) replaced by
/// a fresh UUID wherever it occurs (Grafeno repeats a charge's id in its PDF URL), parsed.
fn refreshed(path: &str, id: &[&str]) -> Value {
    let text = fixture(path).unwrap_or("{}");
    let parsed: Value = serde_json::from_str(text).unwrap_or_default();
    let old = id
        .iter()
        .try_fold(&parsed, |value, field| value.get(field))
        .and_then(Value::as_str);
    match old {
        Some(old) => serde_json::from_str(&text.replace(old, &random_uuid())).unwrap_or(parsed),
        None => parsed,
    }
}

/// Sets the top-level member `field` of `value` when it is an object.
fn set(value: &mut Value, field: &str, new: Value) {
    if let Some(object) = value.as_object_mut() {
        object.insert(field.to_owned(), new);
    }
}

// ---------------------------------------------------------------------------------------------
// Signing keys.

/// A [`SigningKey`] that cannot be read, or a signature that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningKeyError {
    /// The text is not PEM.
    #[error(
        "not PEM: expected -----BEGIN PRIVATE KEY----- (PKCS#8) or -----BEGIN RSA PRIVATE \
         KEY----- (PKCS#1)"
    )]
    NotPem,
    /// An encrypted PKCS#8 key (`ENCRYPTED PRIVATE KEY`).
    #[error("the private key is encrypted")]
    Encrypted,
    /// A public key where the private key is needed.
    #[error("a public key: signing needs the private key")]
    PublicKey,
    /// Another PEM label.
    #[error("PEM label {label:?}: expected PRIVATE KEY (PKCS#8) or RSA PRIVATE KEY (PKCS#1)")]
    UnexpectedLabel {
        /// The label found.
        label: String,
    },
    /// `ring` refused the key (not RSA, or a size it does not sign with).
    #[error("not a usable RSA private key ({reason}; ring signs with 2048- to 4096-bit keys)")]
    Rejected {
        /// `ring`'s reason.
        reason: String,
    },
    /// Signing failed (no randomness source).
    #[error("signing with the private key failed")]
    Signing,
}

/// An RSA private key that signs Grafeno deliveries: RSASSA-PKCS1-v1_5 SHA-256, the signature
/// base64-encoded and wrapped as Grafeno does ([`wrap60`]).
pub struct SigningKey {
    pair: RsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads a PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM private key.
    ///
    /// # Errors
    ///
    /// [`SigningKeyError`] when the text is not such a key.
    pub fn from_pem(pem: &str) -> Result<Self, SigningKeyError> {
        let (label, der) =
            pem_rfc7468::decode_vec(pem.trim().as_bytes()).map_err(|_| SigningKeyError::NotPem)?;
        let pair = match label {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "ENCRYPTED PRIVATE KEY" => return Err(SigningKeyError::Encrypted),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => return Err(SigningKeyError::PublicKey),
            other => {
                return Err(SigningKeyError::UnexpectedLabel {
                    label: other.to_owned(),
                });
            }
        }
        .map_err(|error| SigningKeyError::Rejected {
            reason: error.to_string(),
        })?;
        Ok(Self { pair })
    }

    /// The modulus length in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.pair.public().modulus_len() * 8
    }

    /// Signs `message` (Grafeno signs the `x-unique-key` header) and encodes the signature as
    /// Grafeno does: base64 wrapped every 60 characters, with a trailing newline.
    ///
    /// # Errors
    ///
    /// [`SigningKeyError::Signing`] where the system has no randomness source.
    pub fn sign(&self, message: &[u8]) -> Result<String, SigningKeyError> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| SigningKeyError::Signing)?;
        Ok(wrap60(
            &base64::engine::general_purpose::STANDARD.encode(signature),
        ))
    }

    /// The matching public key, as hookbr's Grafeno verifier takes it.
    ///
    /// # Errors
    ///
    /// As [`RsaPublicKey::from_pkcs1_der`] (a key under 2048 bits).
    pub fn public_key(&self) -> Result<RsaPublicKey, ConfigError> {
        RsaPublicKey::from_pkcs1_der(self.pair.public().as_ref())
    }
}

/// A committed RSA test key pair (see the module docs).
#[derive(Debug)]
pub struct TestKey {
    public_pem: &'static str,
    private_pem: &'static str,
    key: OnceLock<SigningKey>,
}

macro_rules! test_key {
    ($fn:ident, $doc:literal, $public:literal, $private:literal) => {
        #[doc = $doc]
        #[must_use]
        pub fn $fn() -> &'static TestKey {
            static KEY: TestKey = TestKey {
                public_pem: include_str!(concat!("../testdata/keys/", $public)),
                private_pem: include_str!(concat!("../testdata/keys/", $private)),
                key: OnceLock::new(),
            };
            &KEY
        }
    };
}

impl TestKey {
    test_key!(
        rsa_2048,
        "The main 2048-bit test key.",
        "grafeno_rsa2048_public_test.pem",
        "grafeno_rsa2048_private_test.pem"
    );
    test_key!(
        rsa_4096,
        "A 4096-bit test key (Grafeno's charge webhooks use 4096-bit signatures).",
        "grafeno_rsa4096_public_test.pem",
        "grafeno_rsa4096_private_test.pem"
    );
    test_key!(
        other_2048,
        "Another 2048-bit test key (for wrong-key and rotation tests).",
        "grafeno_other2048_public_test.pem",
        "grafeno_other2048_private_test.pem"
    );

    /// The public key in PEM (SPKI).
    #[must_use]
    pub fn public_pem(&self) -> &'static str {
        self.public_pem
    }

    /// The private key in PEM (PKCS#8), for simulators.
    #[must_use]
    pub fn private_pem(&self) -> &'static str {
        self.private_pem
    }

    /// The public key, parsed.
    ///
    /// # Panics
    ///
    /// Never for the committed keys.
    #[must_use]
    pub fn public_key(&self) -> RsaPublicKey {
        RsaPublicKey::from_pem(self.public_pem).expect("committed test key parses")
    }

    /// The private key, parsed.
    ///
    /// # Panics
    ///
    /// Never for the committed keys.
    #[must_use]
    pub fn signing_key(&self) -> &SigningKey {
        self.key.get_or_init(|| {
            SigningKey::from_pem(self.private_pem).expect("committed test key is PKCS#8 RSA")
        })
    }

    /// Signs `message` as [`SigningKey::sign`] does.
    ///
    /// # Panics
    ///
    /// Never for the committed keys (unless the system has no randomness source).
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> String {
        self.signing_key()
            .sign(message)
            .expect("signing with a valid key succeeds")
    }
}

/// Wraps base64 at 60 columns with a trailing newline (Ruby's `Base64.encode64`).
#[must_use]
pub fn wrap60(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 60 + 1);
    for chunk in encoded.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// A forged copy of a base64 signature (line breaks ignored): one bit of its middle byte
/// flipped, re-encoded and wrapped as Grafeno does. `None` when `signature` is not base64 or
/// is empty.
#[must_use]
pub fn forge_signature(signature: &str) -> Option<String> {
    let engine = base64::engine::general_purpose::STANDARD;
    let compact: String = signature.split_whitespace().collect();
    let mut bytes = engine.decode(compact).ok()?;
    let middle = bytes.len() / 2;
    *bytes.get_mut(middle)? ^= 1;
    Some(wrap60(&engine.encode(bytes)))
}

/// A fresh random UUID (version 4 layout), for delivery ids.
#[must_use]
pub fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    // SystemRandom only fails where the OS has no randomness source.
    let _ = SystemRandom::new().fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Shorthands over the fixtures.

/// BonifiQ's `Point_Add` (fixture `bonifiq/point_add_legacy.json`, the legacy envelope of
/// BonifiQ's help centre) with a fresh `Uuid`, carrying `secret` in `X-Loyalty-Secret`.
#[must_use]
pub fn bonifiq_point_add(secret: &str) -> TestDelivery {
    bonifiq(
        &refreshed("bonifiq/point_add_legacy.json", &["Uuid"]),
        secret,
    )
}

/// A BonifiQ `Communication_EarnPurchasePoints` (fixture
/// `bonifiq/earn_purchase_points_string_topic.json`, the 2025 envelope: string `Topic`) with a
/// fresh `Uuid`.
#[must_use]
pub fn bonifiq_earn_purchase_points(secret: &str) -> TestDelivery {
    bonifiq(
        &refreshed("bonifiq/earn_purchase_points_string_topic.json", &["Uuid"]),
        secret,
    )
}

/// Any BonifiQ body, with `secret` in `X-Loyalty-Secret`.
#[must_use]
pub fn bonifiq(body: &Value, secret: &str) -> TestDelivery {
    TestDelivery::json(body).with_header("X-Loyalty-Secret", secret)
}

/// A Foody `order_status_updated` (fixture `foody/order_status_updated.json`) for a fresh order
/// with `status`, authenticated by `token`.
#[must_use]
pub fn foody_status(status: &str, token: &str) -> TestDelivery {
    let mut body = refreshed("foody/order_status_updated.json", &["uid"]);
    set(&mut body, "status", json!(status));
    set(&mut body, "token", json!(token));
    TestDelivery::json(&body)
}

/// A Foody `hook_test` handshake (fixture `foody/hook_test.json`) authenticated by `token`.
#[must_use]
pub fn foody_hook_test(token: &str) -> TestDelivery {
    let mut body = refreshed("foody/hook_test.json", &["uid"]);
    set(&mut body, "token", json!(token));
    TestDelivery::json(&body)
}

/// The entity-id fields an iSET body may carry, of every kind (a simulator refreshes each one
/// present; [`iset`] sets the first one present).
pub const ISET_ID_FIELDS: [&str; 10] = [
    "id",
    "order_id",
    "pedido_id",
    "id_pedido",
    "product_id",
    "produto_id",
    "id_produto",
    "category_id",
    "categoria_id",
    "id_categoria",
];

/// An iSET notification of `kind` (fixture `iset/<kind>.json`) whose entity id (its first
/// [`ISET_ID_FIELDS`] member) is `id`, sent to `/iset/<kind>?token=<token>`.
#[must_use]
pub fn iset(kind: IsetKind, id: u64, token: &str) -> TestDelivery {
    let mut body: Value = fixture(&format!("iset/{kind}.json"))
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_else(|| json!({"id": 0}));
    let field = ISET_ID_FIELDS
        .into_iter()
        .find(|field| body.get(field).is_some());
    if let Some(field) = field {
        let value = if body.get(field).is_some_and(Value::is_string) {
            json!(id.to_string())
        } else {
            json!(id)
        };
        set(&mut body, field, value);
    }
    TestDelivery::json(&body).with_target(&format!("/iset/{kind}?token={token}"))
}

/// A Grafeno registration notification (`approved`, `rejected` or `validation_pendencies`:
/// fixtures `grafeno/cadastro_<change>.json`; another `change` gets the `approved` data) with a
/// fresh id and `x-unique-key`, signed by `key`.
#[must_use]
pub fn grafeno_registration(change: &str, key: &TestKey) -> TestDelivery {
    let path = format!("grafeno/cadastro_{change}.json");
    let path = if fixture(&path).is_some() {
        path
    } else {
        "grafeno/cadastro_approved.json".to_owned()
    };
    let body = refreshed(&path, &["data", "id"]);
    grafeno(change, body.get("data").unwrap_or(&Value::Null), key)
}

/// A Grafeno `boleto-criado` charge notification (fixture `grafeno/boleto_criado_short.json`,
/// the benches' Grafeno body) with a fresh charge id, signed by `key`.
#[must_use]
pub fn grafeno_boleto_criado(key: &TestKey) -> TestDelivery {
    let body = refreshed("grafeno/boleto_criado_short.json", &["data", "uuid"]);
    grafeno(
        "boleto-criado",
        body.get("data").unwrap_or(&Value::Null),
        key,
    )
}

/// Any Grafeno notification: `{signature, change, data}` with `x-unique-key` =
/// `<fresh uuid>-<change>`, signed by `key`.
#[must_use]
pub fn grafeno(change: &str, data: &Value, key: &TestKey) -> TestDelivery {
    let unique_key = format!("{}-{change}", random_uuid());
    let signature = key.sign(unique_key.as_bytes());
    TestDelivery::json(&json!({"signature": signature, "change": change, "data": data}))
        .with_header("x-unique-key", &unique_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_file_is_listed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut found = Vec::new();
        for provider in std::fs::read_dir(&root).unwrap() {
            let provider = provider.unwrap();
            if !provider.file_type().unwrap().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(provider.path()).unwrap() {
                found.push(format!(
                    "{}/{}",
                    provider.file_name().to_string_lossy(),
                    file.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        found.sort();
        let listed: Vec<&str> = fixture_paths().collect();
        assert_eq!(found, listed);
        assert_eq!(fixture("nope.json"), None);
    }

    #[test]
    fn shorthands_are_fresh_fixtures() {
        let a = bonifiq_point_add("s");
        let b = bonifiq_point_add("s");
        assert_ne!(a.body, b.body);
        let value: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(value["TopicName"], "Point_Add");
        assert_ne!(value["Uuid"], "4834c95e-84f7-485e-90de-09353df57fd3");
        assert_eq!(a.header("x-loyalty-secret"), Some("s"));

        for kind in IsetKind::ALL {
            let delivery = iset(kind, 42, "t");
            assert!(
                String::from_utf8_lossy(&delivery.body).contains("42"),
                "{kind}"
            );
        }

        let boleto = grafeno_boleto_criado(TestKey::rsa_2048());
        let text = String::from_utf8(boleto.body).unwrap();
        assert!(
            !text.contains("5f0c2a7e-8b3d-4c1a-9e6f-2d7b8a9c0e1f"),
            "{text}"
        );
    }

    #[test]
    fn random_uuids() {
        let uuid = random_uuid();
        assert!(crate::grafeno::split_unique_key(&format!("{uuid}-x")).is_some());
        assert_ne!(uuid, random_uuid());
    }

    #[test]
    fn signing_keys_and_forged_signatures() {
        let key = TestKey::rsa_2048().signing_key();
        assert_eq!(key.bits(), 2048);
        assert!(format!("{key:?}").contains("2048"));
        let signature = key.sign(b"message").unwrap();
        let forged = forge_signature(&signature).unwrap();
        assert_ne!(forged, signature);
        assert_eq!(forged.len(), signature.len());
        assert_eq!(forge_signature("not base64!"), None);
        assert_eq!(forge_signature(""), None);
        assert_eq!(
            SigningKey::from_pem(TestKey::rsa_2048().public_pem()).unwrap_err(),
            SigningKeyError::PublicKey
        );
    }
}
