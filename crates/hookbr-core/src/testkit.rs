//! Builders of authentic and forged deliveries for every provider, for tests (feature
//! `testkit`).
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
use serde_json::json;

use crate::{Request, iset::IsetKind, verify::RsaPublicKey};

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
    fn json(body: &serde_json::Value) -> Self {
        Self {
            method: "POST".to_owned(),
            target: "/".to_owned(),
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: body.to_string().into_bytes(),
        }
    }

    /// The delivery as a [`Request`].
    #[must_use]
    pub fn request(&self) -> Request<'_> {
        Request::new(&self.body)
            .with_method(&self.method)
            .with_target(&self.target)
            .with_headers(&self.headers)
    }

    /// Sets (or replaces) a header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
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

    /// Flips one bit of the decoded `signature` field (a forged Grafeno delivery).
    #[must_use]
    pub fn tamper_signature(mut self) -> Self {
        if let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&self.body) {
            if let Some(signature) = body.get("signature").and_then(|s| s.as_str()) {
                let compact: String = signature.split_whitespace().collect();
                let engine = base64::engine::general_purpose::STANDARD;
                if let Ok(mut bytes) = engine.decode(compact) {
                    if let Some(byte) = bytes.get_mut(10) {
                        *byte ^= 1;
                    }
                    if let Some(object) = body.as_object_mut() {
                        object.insert("signature".into(), json!(wrap60(&engine.encode(bytes))));
                    }
                    self.body = body.to_string().into_bytes();
                }
            }
        }
        self
    }

    /// Changes one value of a top-level JSON body field, keeping everything else.
    #[must_use]
    pub fn with_json_field(mut self, field: &str, value: serde_json::Value) -> Self {
        if let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&self.body) {
            if let Some(object) = body.as_object_mut() {
                object.insert(field.to_owned(), value);
                self.body = body.to_string().into_bytes();
            }
        }
        self
    }
}

/// A committed RSA test key pair (see the module docs).
#[derive(Debug)]
pub struct TestKey {
    public_pem: &'static str,
    private_pem: &'static str,
    pair: OnceLock<RsaKeyPair>,
}

macro_rules! test_key {
    ($fn:ident, $doc:literal, $public:literal, $private:literal) => {
        #[doc = $doc]
        #[must_use]
        pub fn $fn() -> &'static TestKey {
            static KEY: TestKey = TestKey {
                public_pem: include_str!(concat!("../testdata/keys/", $public)),
                private_pem: include_str!(concat!("../testdata/keys/", $private)),
                pair: OnceLock::new(),
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

    /// Signs `message` with RSASSA-PKCS1-v1_5 SHA-256 and encodes it as Grafeno does: base64
    /// wrapped every 60 characters, with a trailing newline.
    ///
    /// # Panics
    ///
    /// Never for the committed keys.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> String {
        let pair = self.pair.get_or_init(|| {
            let (_, der) = pem_rfc7468::decode_vec(self.private_pem.trim().as_bytes())
                .expect("committed test key is PEM");
            RsaKeyPair::from_pkcs8(&der).expect("committed test key is PKCS#8 RSA")
        });
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            message,
            &mut signature,
        )
        .expect("signing with a valid key succeeds");
        wrap60(&base64::engine::general_purpose::STANDARD.encode(signature))
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

/// A fresh random UUID (version 4 layout), for delivery ids.
#[must_use]
pub fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    // SystemRandom only fails where the OS has no randomness source.
    SystemRandom::new().fill(&mut bytes).unwrap_or_default();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A BonifiQ `Point_Add` (legacy envelope, as in BonifiQ's help centre) with a fresh `Uuid`,
/// carrying `secret` in `X-Loyalty-Secret`.
#[must_use]
pub fn bonifiq_point_add(secret: &str) -> TestDelivery {
    bonifiq(
        &json!({
            "Uuid": random_uuid(),
            "Timestamp": "2024-03-01T13:16:11.396371",
            "Topic": 0,
            "TopicName": "Point_Add",
            "Payload": {
                "Points": 200, "PointType": 0, "PointAction": 1,
                "Customer": {"Email": "teste@bonifiq.com.br", "Id": "152740926", "Name": "Teste Nivel Base"},
                "PointsBalance": {"PointsBalance": 300, "CashbackBalance": 210},
                "PointId": 4740
            }
        }),
        secret,
    )
}

/// A BonifiQ `Communication_EarnPurchasePoints` (2025 envelope: string `Topic`) with a fresh
/// `Uuid`.
#[must_use]
pub fn bonifiq_earn_purchase_points(secret: &str) -> TestDelivery {
    bonifiq(
        &json!({
            "Uuid": random_uuid(),
            "Timestamp": "2025-04-15T14:30:00.123Z",
            "Topic": "Communication_EarnPurchasePoints",
            "Payload": {
                "EarnedPoints": 150, "ObjectiveType": 0,
                "Customer": {"Email": "cliente@example.com", "Id": "42", "Name": "Cliente", "Phone": "+5511987198778", "Document": null, "BirthdayDate": null, "PointsBalance": 450}
            }
        }),
        secret,
    )
}

/// Any BonifiQ body, with `secret` in `X-Loyalty-Secret`.
#[must_use]
pub fn bonifiq(body: &serde_json::Value, secret: &str) -> TestDelivery {
    TestDelivery::json(body).with_header("X-Loyalty-Secret", secret)
}

/// A Foody `order_status_updated` for a fresh order with `status`, authenticated by `token`.
#[must_use]
pub fn foody_status(status: &str, token: &str) -> TestDelivery {
    TestDelivery::json(&json!({
        "uid": random_uuid(),
        "updateDate": "2020-06-19T17:42:12Z",
        "event": "order_status_updated",
        "token": token,
        "status": status,
    }))
}

/// A Foody `hook_test` handshake authenticated by `token`.
#[must_use]
pub fn foody_hook_test(token: &str) -> TestDelivery {
    TestDelivery::json(&json!({
        "uid": random_uuid(),
        "updateDate": "2020-06-19T17:42:12Z",
        "event": "hook_test",
        "token": token,
    }))
}

/// An iSET notification of `kind` with a JSON body holding `id`, sent to
/// `/iset/<kind>?token=<token>`.
#[must_use]
pub fn iset(kind: IsetKind, id: u64, token: &str) -> TestDelivery {
    TestDelivery::json(&json!({"id": id, "updated_at": "2026-11-24T10:00:00-03:00"}))
        .with_target(&format!("/iset/{kind}?token={token}"))
}

/// A Grafeno registration notification (`approved`, `rejected` or `validation_pendencies`)
/// with a fresh `x-unique-key`, signed by `key`.
#[must_use]
pub fn grafeno_registration(change: &str, key: &TestKey) -> TestDelivery {
    let data = if change == "validation_pendencies" {
        json!({"id": random_uuid(), "pendencies": [{"text": "O RG do sócio está expirado."}]})
    } else {
        json!({"id": random_uuid()})
    };
    grafeno(change, &data, key)
}

/// A Grafeno `boleto-criado` charge notification signed by `key`.
#[must_use]
pub fn grafeno_boleto_criado(key: &TestKey) -> TestDelivery {
    let data = json!({
        "uuid": random_uuid(), "createdAt": "2026-03-12T16:56:37.313-03:00",
        "value": "150.5", "dueDate": "2026-10-15", "paymentMethod": "boleto", "status": "pending",
        "boleto": {"registrationMethod": "online", "registrationStatus": null, "barCode": null, "lineCode": null}
    });
    grafeno("boleto-criado", &data, key)
}

/// Any Grafeno notification: `{signature, change, data}` with `x-unique-key` =
/// `<fresh uuid>-<change>`, signed by `key`.
#[must_use]
pub fn grafeno(change: &str, data: &serde_json::Value, key: &TestKey) -> TestDelivery {
    let unique_key = format!("{}-{change}", random_uuid());
    let signature = key.sign(unique_key.as_bytes());
    TestDelivery::json(&json!({"signature": signature, "change": change, "data": data}))
        .with_header("x-unique-key", &unique_key)
}
