//! Built-in sample deliveries, shaped exactly as each provider sends them, and their
//! credentials (header secret, body token, URL secret, RSA signature).
//!
//! Every [`build`] gives fresh ids, so two builds are two deliveries for hookbr's dedup:
//!
//! | provider | refreshed on every build | delivery id (what hookbr dedupes on) |
//! |---|---|---|
//! | BonifiQ | `Uuid`, `Timestamp` | `Uuid` (custom bodies: a digest of the body) |
//! | Foody | `uid`, `updateDate` | digest of (`uid`, `status`, `updateDate`) |
//! | iSET | the entity id (`id`, `produto_id`, `categoria_id`, ...) | digest of (kind, body) |
//! | Grafeno | `x-unique-key` (`<uuid>-<change>`), `data.id` / `data.uuid`, `signature` | `x-unique-key` |
//!
//! With a template file the body is kept byte for byte except for those fields (see
//! [`build`]).

use std::{collections::HashMap, ops::Range, time::SystemTime};

use base64::Engine as _;
use hookbr_core::{
    DeliveryId, Endpoint, Provider, Request, WebhookEvent,
    iset::IsetKind,
    verify::{BONIFIQ_SECRET_HEADER, RsaPublicKey},
};
use ring::{
    rand::{SecureRandom, SystemRandom},
    signature::{RSA_PKCS1_SHA256, RsaKeyPair},
};
use serde_json::value::RawValue;

use crate::Failure;

/// A delivery ready to be sent: what the provider would put on the wire.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The provider.
    pub(crate) provider: Provider,
    /// The kind as `hookbr decode` prints it (`Point_Add`, `hook_test`, `order_upserted`, ...).
    pub(crate) kind: String,
    /// The delivery id the receiver will dedupe on, as `hookbr decode` prints it: BonifiQ
    /// `Uuid`, Grafeno `x-unique-key`, a digest of (`uid`, `status`, `updateDate`) for Foody
    /// (whose `uid` is the order's) and of (kind, body) for iSET.
    pub(crate) delivery_id: String,
    /// `POST` (or `PUT`).
    pub(crate) method: &'static str,
    /// Query parameters to append to the target URL (iSET's URL secret).
    pub(crate) query: Vec<(String, String)>,
    /// Request headers (Content-Type, BonifiQ secret header, Grafeno `x-unique-key`).
    pub(crate) headers: Vec<(String, String)>,
    /// The body bytes.
    pub(crate) body: Vec<u8>,
}

/// An RSA private key that signs Grafeno deliveries.
pub(crate) struct SigningKey {
    pair: RsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("bits", &(self.pair.public().modulus_len() * 8))
            .finish_non_exhaustive()
    }
}

/// What authenticates a simulated delivery.
#[derive(Debug, Default)]
pub(crate) struct Credentials {
    /// BonifiQ / iSET secret.
    pub(crate) secret: Option<String>,
    /// BonifiQ header name (default `X-Loyalty-Secret`).
    pub(crate) secret_header: Option<String>,
    /// iSET query parameter carrying the secret (default `token`).
    pub(crate) secret_param: Option<String>,
    /// Foody body token.
    pub(crate) token: Option<String>,
    /// Grafeno signing key.
    pub(crate) signing_key: Option<SigningKey>,
}

/// How `--tamper` spoils a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Tamper {
    /// Flip the signature (Grafeno) or the secret/token (others).
    Signature,
    /// Change the signed/identifying header (Grafeno `x-unique-key`; others: drop the secret header).
    Header,
    /// Change the body after signing.
    Body,
}

impl SigningKey {
    /// Reads a PKCS#8 (or PKCS#1) PEM private key.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, Failure> {
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes()).map_err(|_| {
            Failure::usage(
                "the private key is not PEM: expected -----BEGIN PRIVATE KEY----- (PKCS#8) or \
                 -----BEGIN RSA PRIVATE KEY----- (PKCS#1), as `hookbr keygen` writes",
            )
        })?;
        let pair = match label {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(Failure::usage(
                    "the private key is encrypted: decrypt it first (openssl pkcs8 -in KEY -out \
                     PLAIN.pem)",
                ));
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                return Err(Failure::usage(
                    "this is a public key: signing needs the private key (PREFIX.key.pem from \
                     `hookbr keygen`)",
                ));
            }
            other => {
                return Err(Failure::usage(format!(
                    "PEM label {other:?}: expected PRIVATE KEY (PKCS#8) or RSA PRIVATE KEY \
                     (PKCS#1)"
                )));
            }
        }
        .map_err(|error| {
            Failure::usage(format!(
                "not a usable RSA private key ({error}; ring signs with 2048- to 4096-bit keys)"
            ))
        })?;
        Ok(Self { pair })
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 SHA-256 and encodes it as Grafeno does: base64
    /// wrapped every 60 characters, with a trailing newline (Ruby's `Base64.encode64`).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<String, Failure> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| Failure::usage("signing with the private key failed"))?;
        Ok(wrap60(
            &base64::engine::general_purpose::STANDARD.encode(signature),
        ))
    }

    /// The matching public key, as hookbr's Grafeno verifier takes it.
    #[allow(
        dead_code,
        reason = "for `hookbr demo`, which configures its verifier from the signing key"
    )]
    pub(crate) fn public_key(&self) -> Result<RsaPublicKey, Failure> {
        RsaPublicKey::from_pkcs1_der(self.pair.public().as_ref())
            .map_err(|error| Failure::usage(format!("the key's public half: {error}")))
    }
}

/// The built-in kinds of `provider`, the default first.
pub(crate) fn kinds(provider: Provider) -> Vec<&'static str> {
    match provider {
        Provider::Bonifiq => BONIFIQ_KINDS.iter().map(|(name, ..)| *name).collect(),
        Provider::Foody => FOODY_KINDS.to_vec(),
        Provider::Iset => IsetKind::ALL.iter().map(|kind| kind.as_str()).collect(),
        Provider::Grafeno => GRAFENO_KINDS.iter().map(|(name, _)| *name).collect(),
        _ => Vec::new(),
    }
}

/// A fresh delivery of `provider` and `kind` (a built-in sample; `None` = the provider's
/// most common kind), or built from `file`'s bytes, with fresh ids, authenticated with
/// `credentials`.
///
/// With `file`, the bytes are kept as they are except for:
///
/// * BonifiQ: `Uuid` (when present) gets a fresh UUID; the secret goes in the header.
/// * Foody: `uid` (when present) gets a fresh UUID; `token` is set to `--token` (added when
///   absent).
/// * iSET: the entity id (`id`, `order_id`, `pedido_id`, `product_id`, `produto_id`,
///   `category_id`, `categoria_id`, ..., at the top level or under `data`; JSON or form) gets
///   a fresh value of the same type; `kind` names the kind the body is for (default
///   `order_upserted`), which only matters for the delivery id.
/// * Grafeno: `data.id` / `data.uuid` (and every other occurrence of that old id, e.g. in the
///   boleto PDF URL) get a fresh UUID, the `x-unique-key` header is `<fresh uuid>-<change>`
///   and `signature` is replaced by a signature of it (added when absent).
pub(crate) fn build(
    provider: Provider,
    kind: Option<&str>,
    file: Option<&[u8]>,
    credentials: &Credentials,
) -> Result<Outgoing, Failure> {
    let auth = Auth::from_credentials(provider, credentials)?;
    let Sample {
        body,
        content_type,
        iset_kind,
        unique_key,
    } = match file {
        None => sample(provider, kind)?,
        Some(bytes) => from_template(provider, kind, bytes)?,
    };
    let mut outgoing = Outgoing {
        provider,
        kind: String::new(),
        delivery_id: String::new(),
        method: "POST",
        query: Vec::new(),
        headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
        body: body.into_bytes(),
    };
    auth.apply(&mut outgoing, unique_key.as_deref())?;
    let (kind, delivery_id) = identify(&outgoing, iset_kind).map_err(|error| {
        Failure::usage(match file {
            Some(_) => format!("the file is not a {provider} delivery: {error}"),
            None => format!("internal error: the {provider} sample does not decode: {error}"),
        })
    })?;
    outgoing.kind = kind;
    outgoing.delivery_id = delivery_id;
    Ok(outgoing)
}

/// Spoils `outgoing` as `how` says.
///
/// | | signature | header | body |
/// |---|---|---|---|
/// | BonifiQ | wrong secret | secret header removed | a payload digit changed (not detectable: BonifiQ does not sign bodies) |
/// | Foody | wrong token | `token` removed | a digit of `updateDate` changed (not detectable: the token is not a signature) |
/// | iSET | wrong URL secret | URL secret removed | a digit of the body changed (not detectable) |
/// | Grafeno | one signature bit flipped | another `x-unique-key` | `change` no longer matches the header (hookbr: 401) |
///
/// `delivery_id` is updated when the change moves it.
pub(crate) fn tamper(outgoing: &mut Outgoing, how: Tamper) {
    let text = String::from_utf8_lossy(&outgoing.body).into_owned();
    match (outgoing.provider, how) {
        (Provider::Grafeno, Tamper::Signature) => {
            if let Some(span) = value_span(&text, &["signature"]) {
                let flipped = text
                    .get(span.clone())
                    .and_then(|raw| serde_json::from_str::<String>(raw).ok())
                    .and_then(|signature| flip_signature(&signature));
                if let Some(flipped) = flipped {
                    outgoing.body = replace(&text, span, &json_string(&flipped)).into_bytes();
                }
            }
        }
        (Provider::Grafeno, Tamper::Header) => {
            let change = header(outgoing, UNIQUE_KEY)
                .and_then(hookbr_core::grafeno::split_unique_key)
                .map(|(_, change)| change.to_owned());
            if let Some(change) = change {
                set_header(outgoing, UNIQUE_KEY, &format!("{}-{change}", random_uuid()));
            }
        }
        (Provider::Grafeno, Tamper::Body) => {
            if let Some(span) = value_span(&text, &["change"]) {
                let current = text
                    .get(span.clone())
                    .and_then(|raw| serde_json::from_str::<String>(raw).ok())
                    .unwrap_or_default();
                let other = if current == "rejected" {
                    "approved"
                } else {
                    "rejected"
                };
                outgoing.body = replace(&text, span, &json_string(other)).into_bytes();
            }
        }
        (Provider::Foody, Tamper::Signature) => {
            if let Some(span) = value_span(&text, &["token"]) {
                let token = text
                    .get(span.clone())
                    .and_then(|raw| serde_json::from_str::<String>(raw).ok())
                    .unwrap_or_default();
                let forged = json_string(&format!("{token}-forged"));
                outgoing.body = replace(&text, span, &forged).into_bytes();
            }
        }
        (Provider::Foody, Tamper::Header) => {
            if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&text) {
                if let Some(object) = value.as_object_mut() {
                    object.remove("token");
                    outgoing.body = value.to_string().into_bytes();
                }
            }
        }
        (Provider::Bonifiq | Provider::Iset, Tamper::Signature) => {
            for (name, value) in &mut outgoing.headers {
                if !name.eq_ignore_ascii_case("content-type") {
                    value.push_str("-forged");
                }
            }
            for (_, value) in &mut outgoing.query {
                value.push_str("-forged");
            }
        }
        (Provider::Bonifiq | Provider::Iset, Tamper::Header) => {
            outgoing
                .headers
                .retain(|(name, _)| name.eq_ignore_ascii_case("content-type"));
            outgoing.query.clear();
        }
        (provider, Tamper::Body) => {
            let span = match provider {
                Provider::Bonifiq => value_span(&text, &["Payload"]),
                Provider::Foody => value_span(&text, &["updateDate"]),
                _ => None,
            }
            .unwrap_or(0..text.len());
            outgoing.body = bump_digit(&text, span).into_bytes();
        }
        _ => {}
    }
    let iset_kind = outgoing.kind.parse::<IsetKind>().ok();
    if let Ok((_, id)) = identify(outgoing, iset_kind) {
        outgoing.delivery_id = id;
    }
}

// ---------------------------------------------------------------------------------------------
// Samples.

const UNIQUE_KEY: &str = hookbr_core::grafeno::UNIQUE_KEY_HEADER;
const JSON: &str = "application/json";

/// Foody kinds: the event, or the `status` of an `order_status_updated`.
const FOODY_KINDS: [&str; 9] = [
    "order_status_updated",
    "hook_test",
    "open",
    "ready",
    "dispatched",
    "delivered",
    "closed",
    "cancelled",
    "canceled",
];

const POINT_PAYLOAD: &str = r#"{"Points":200,"PointType":0,"PointAction":1,"Customer":{"Email":"teste@bonifiq.com.br","Id":"152740926","Name":"Teste Nivel Base"},"PointsBalance":{"PointsBalance":300,"CashbackBalance":210},"PointId":@ID@}"#;
const EARN_PAYLOAD: &str = r#"{"EarnedPoints":10,"ObjectiveType":@OBJECTIVE@,"Customer":{"Email":"emailwebhook@teste.com.br","Id":"123456789","Name":"Teste Rath","Phone":"11987198778","BirthdayDate":"2024-08-30T14:34:32"}}"#;
const EARN_PAYLOAD_2025: &str = r#"{"EarnedPoints":10,"ObjectiveType":@OBJECTIVE@,"Customer":{"Email":"customer@example.com","Id":"original_customer_id_123","Name":"John Doe","Phone":"+15551234567","Document":null,"BirthdayDate":null,"PointsBalance":1500}}"#;
const UNKNOWN_PAYLOAD: &str = r#"{"OrderId":"PED-@ID@","OrderTotal":189.9,"Items":[{"Sku":"CAM-001-P","Quantity":2}],"Customer":{"Email":"teste@bonifiq.com.br","Id":"152740926","Name":"Teste Nivel Base"}}"#;

/// How a BonifiQ sample's envelope looks.
#[derive(Clone, Copy)]
enum Envelope {
    /// Legacy help-centre envelope: integer `Topic` plus `TopicName` (ids 1, 2 and 40 are
    /// inferred or made up; hookbr resolves the topic from `TopicName`).
    Legacy(i64),
    /// 2025 developer-portal envelope: `Topic` is the name, no `TopicName`.
    Named,
}

/// BonifiQ kinds: (`--kind`, envelope, payload template, ObjectiveType).
const BONIFIQ_KINDS: [(&str, Envelope, &str, i64); 15] = [
    ("Point_Add", Envelope::Legacy(0), POINT_PAYLOAD, 0),
    ("Point_Remove", Envelope::Legacy(1), POINT_PAYLOAD, 0),
    ("Point_Update", Envelope::Legacy(2), POINT_PAYLOAD, 0),
    (
        "Communication_EarnPurchasePoints",
        Envelope::Legacy(3),
        EARN_PAYLOAD,
        0,
    ),
    (
        "Communication_EarnBirthdayPoints",
        Envelope::Legacy(4),
        EARN_PAYLOAD,
        2,
    ),
    (
        "Communication_EarnSignupPoints",
        Envelope::Named,
        EARN_PAYLOAD_2025,
        1,
    ),
    (
        "Communication_EarnReviewPoints",
        Envelope::Named,
        EARN_PAYLOAD_2025,
        3,
    ),
    (
        "Communication_ReferralCommunicationPoints",
        Envelope::Named,
        EARN_PAYLOAD_2025,
        4,
    ),
    (
        "Communication_EarnQuizPoints",
        Envelope::Named,
        EARN_PAYLOAD_2025,
        5,
    ),
    (
        "Communication_EarnCustomObjectivePoints",
        Envelope::Named,
        EARN_PAYLOAD_2025,
        6,
    ),
    (
        "Communication_EarnSocialMediaFollowInstagram",
        Envelope::Named,
        EARN_PAYLOAD_2025,
        7,
    ),
    (
        "Communication_EarnSocialMediaFollowFacebook",
        Envelope::Named,
        EARN_PAYLOAD_2025,
        8,
    ),
    (
        "Communication_EarnSocialMediaFollowLinkedin",
        Envelope::Named,
        EARN_PAYLOAD_2025,
        9,
    ),
    (
        "Communication_EarnSocialMediaFollowTikTok",
        Envelope::Named,
        EARN_PAYLOAD_2025,
        10,
    ),
    // A topic hookbr has no type for (BonifiQ documents 26 topics, 12 of them not publicly).
    ("unknown", Envelope::Legacy(40), UNKNOWN_PAYLOAD, 0),
];

/// Grafeno kinds: (`change`, data template).
const GRAFENO_KINDS: [(&str, &str); 8] = [
    ("approved", r#"{"id":"@UUID@"}"#),
    ("rejected", r#"{"id":"@UUID@"}"#),
    (
        "validation_pendencies",
        r#"{"id":"@UUID@","pendencies":[{"text":"O RG do sócio está expirado."}]}"#,
    ),
    (
        "boleto-criado",
        r#"{"abatementValue":"0.0","applicableFine":"0.02","boleto":{"barCode":null,"lineCode":null,"ourNumber":null,"ourNumberDv":null,"pdf":"https://pagamentos.grafeno.be/charges/@UUID@/download_boleto","quickPdfUrl":null,"registrationMethod":"online","registrationStatus":null,"registrationDetails":null,"yourNumber":"000001","emv":null,"image":null},"clientControlNumber":"HOOKBR-SIM-0001","createdAt":"@TS@","daysWriteOffAfterDueDate":30,"discountType":"fixed","discountValue":"5.2","dueDate":"2026-10-15","interestType":"percentage","monthlyInterest":"1.0","origin":"api","paymentMethod":"boleto","status":"pending","updatedAt":"@TS@","uuid":"@UUID@","value":"251.11"}"#,
    ),
    (
        "boleto-falha-registro",
        r#"{"abatementValue":"5.2","applicableFine":"0.02","boleto":{"barCode":null,"lineCode":null,"ourNumber":null,"ourNumberDv":null,"pdf":"https://pagamentos.grafeno.be/charges/@UUID@/download_boleto","quickPdfUrl":null,"registrationMethod":"online","registrationStatus":null,"registrationDetails":"Para boleto híbrido, a data do desconto deve ser informada., Para boleto híbrido, a data do desconto deve ser maior que a data atual e menor que a data do vencimento.","yourNumber":"11119999","emv":null,"image":null},"clientControlNumber":"HOOKBR-SIM-0002","createdAt":"@TS@","daysWriteOffAfterDueDate":30,"discountType":"fixed","discountValue":"1.5","dueDate":"2024-11-18","interestType":"percentage","monthlyInterest":"1.0","origin":"api","paymentMethod":"boleto","status":"pending","updatedAt":"@TS@","uuid":"@UUID@","value":"150.0"}"#,
    ),
    ("cobranca-atualizacao", CHARGE_UPDATE),
    ("atualizacao-cobranca", CHARGE_UPDATE),
    // A change hookbr has no type for.
    ("unknown", CHARGE_UNKNOWN),
];

const CHARGE_UPDATE: &str = r#"{"createdAt":"@TS@","updatedAt":"@TS@","status":"pending","paymentMethod":"boleto","dueDate":"2026-10-15","value":"251.11","abatementValue":"0.0","applicableFine":"0.02","daysWriteOffAfterDueDate":30,"clientControlNumber":"HOOKBR-SIM-0003","interestType":"percentage","monthlyInterest":"1.0","discountType":"fixed","discountValue":"5.2","origin":"api","uuid":"@UUID@","boleto":{"barCode":"00191158300000251110000002345678000000000117","lineCode":"00190000090234567800000000011171115830000025111","ourNumber":"00000000011","ourNumberDv":"7","pdf":"https://pagamentos.grafeno.be/charges/@UUID@/download_boleto","quickPdfUrl":null,"registrationMethod":"online","registrationStatus":"registered","registrationDetails":null,"yourNumber":"000002","emv":null,"image":null},"updateStatus":"completed_with_errors","updateDetails":[{"field":"dueDate","status":"completed","message":null},{"field":"discountValue","status":"failed","message":"Valor do desconto deve ser menor que o valor da cobrança"}]}"#;
const CHARGE_UNKNOWN: &str = r#"{"uuid":"@UUID@","status":"overdue","paymentMethod":"boleto","value":"251.11","dueDate":"2026-10-15","updatedAt":"@TS@"}"#;

/// The `change` the Grafeno kind `unknown` sends.
const GRAFENO_UNKNOWN_CHANGE: &str = "protesto-solicitado";

/// A body before authentication: a built-in sample or a template file with fresh ids.
struct Sample {
    body: String,
    /// `application/json`, or iSET's form type.
    content_type: &'static str,
    /// iSET: the kind the body is for.
    iset_kind: Option<IsetKind>,
    /// Grafeno: the `x-unique-key` to sign.
    unique_key: Option<String>,
}

fn unknown_kind(provider: Provider, kind: &str) -> Failure {
    Failure::usage(format!(
        "unknown {provider} kind {kind:?}: expected one of {}",
        kinds(provider).join(", ")
    ))
}

fn find_kind<'a>(
    provider: Provider,
    kind: Option<&str>,
    names: &[&'a str],
) -> Result<&'a str, Failure> {
    match kind {
        None => names
            .first()
            .copied()
            .ok_or_else(|| Failure::usage(format!("no samples for {provider}"))),
        Some(kind) => names
            .iter()
            .find(|name| name.eq_ignore_ascii_case(kind.trim()))
            .copied()
            .ok_or_else(|| unknown_kind(provider, kind)),
    }
}

fn sample(provider: Provider, kind: Option<&str>) -> Result<Sample, Failure> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let (secs, nanos) = (now.as_secs(), now.subsec_nanos());
    let kind = find_kind(provider, kind, &kinds(provider))?;
    let plain = |body: String| Sample {
        body,
        content_type: JSON,
        iset_kind: None,
        unique_key: None,
    };
    match provider {
        Provider::Bonifiq => {
            let (name, envelope, payload, objective) = BONIFIQ_KINDS
                .iter()
                .find(|(name, ..)| *name == kind)
                .copied()
                .ok_or_else(|| unknown_kind(provider, kind))?;
            let payload = payload
                .replace("@ID@", &random_number(1_000, 999_999).to_string())
                .replace("@OBJECTIVE@", &objective.to_string());
            let uuid = random_uuid();
            let body = match envelope {
                Envelope::Legacy(id) => {
                    let topic_name = if name == "unknown" {
                        "Order_Created"
                    } else {
                        name
                    };
                    // Point topics: 6 fraction digits, no offset; Communication: 7 digits + Z.
                    let timestamp = if name.starts_with("Point_") {
                        civil(secs, nanos, 6, "")
                    } else {
                        civil(secs, nanos, 7, "Z")
                    };
                    format!(
                        r#"{{"Uuid":"{uuid}","Timestamp":"{timestamp}","Topic":{id},"TopicName":"{topic_name}","Payload":{payload}}}"#
                    )
                }
                Envelope::Named => {
                    let timestamp = civil(secs, nanos, 3, "Z");
                    format!(
                        r#"{{"Uuid":"{uuid}","Timestamp":"{timestamp}","Topic":"{name}","Payload":{payload}}}"#
                    )
                }
            };
            Ok(plain(body))
        }
        Provider::Foody => {
            let uid = random_uuid();
            let date = civil(secs, 0, 0, "Z");
            // The token is set by `Auth::apply`.
            let body = match kind {
                "hook_test" => format!(
                    r#"{{"uid":"{uid}","updateDate":"{date}","event":"hook_test","token":""}}"#
                ),
                status => {
                    let status = if status == "order_status_updated" {
                        "dispatched"
                    } else {
                        status
                    };
                    format!(
                        r#"{{"uid":"{uid}","updateDate":"{date}","event":"order_status_updated","token":"","status":"{status}"}}"#
                    )
                }
            };
            Ok(plain(body))
        }
        Provider::Iset => {
            let iset_kind = kind
                .parse::<IsetKind>()
                .map_err(|_| unknown_kind(provider, kind))?;
            let id = random_number(1_000, 99_999_999);
            let local = civil(secs.saturating_sub(3 * 3600), 0, 0, "").replace('T', " ");
            let body = match iset_kind {
                IsetKind::OrderUpserted => {
                    format!(r#"{{"id":{id},"status":"pago","data_alteracao":"{local}"}}"#)
                }
                IsetKind::OrderDeleted => format!(r#"{{"id":{id}}}"#),
                IsetKind::ProductUpserted | IsetKind::ProductDeleted => {
                    format!(r#"{{"produto_id":{id}}}"#)
                }
                IsetKind::StockChanged => {
                    format!(r#"{{"produto_id":{id},"sku":"CAM-001-P","estoque":12}}"#)
                }
                IsetKind::CategoryUpserted => {
                    format!(r#"{{"categoria_id":"{id}","nome":"Camisetas"}}"#)
                }
                _ => format!(r#"{{"categoria_id":"{id}"}}"#),
            };
            Ok(Sample {
                body,
                content_type: JSON,
                iset_kind: Some(iset_kind),
                unique_key: None,
            })
        }
        Provider::Grafeno => {
            let data = GRAFENO_KINDS
                .iter()
                .find(|(name, _)| *name == kind)
                .map(|(_, data)| *data)
                .ok_or_else(|| unknown_kind(provider, kind))?;
            let change = if kind == "unknown" {
                GRAFENO_UNKNOWN_CHANGE
            } else {
                kind
            };
            let local = format!(
                "{}-03:00",
                civil(secs.saturating_sub(3 * 3600), nanos, 3, "")
            );
            let data = data
                .replace("@UUID@", &random_uuid())
                .replace("@TS@", &local);
            let unique_key = format!("{}-{change}", random_uuid());
            // The signature is set by `Auth::apply`.
            Ok(Sample {
                body: format!(r#"{{"signature":"","change":"{change}","data":{data}}}"#),
                content_type: JSON,
                iset_kind: None,
                unique_key: Some(unique_key),
            })
        }
        other => Err(Failure::usage(format!("no samples for {other}"))),
    }
}

/// The body of a template file with fresh ids.
fn from_template(provider: Provider, kind: Option<&str>, bytes: &[u8]) -> Result<Sample, Failure> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Failure::usage("the file is not UTF-8 text"))?
        .to_owned();
    if kind.is_some() && provider != Provider::Iset {
        return Err(Failure::usage(format!(
            "--kind and --file together only apply to iset (a {provider} file carries its own \
             kind)"
        )));
    }
    let is_json = serde_json::from_str::<&RawValue>(&text).is_ok();
    let json = |body: String| Sample {
        body,
        content_type: JSON,
        iset_kind: None,
        unique_key: None,
    };
    match provider {
        Provider::Bonifiq => Ok(json(refresh_string(&text, &["Uuid"], &random_uuid()))),
        Provider::Foody => Ok(json(refresh_string(&text, &["uid"], &random_uuid()))),
        Provider::Iset => {
            let iset_kind = match kind {
                None => IsetKind::OrderUpserted,
                Some(kind) => kind
                    .parse::<IsetKind>()
                    .map_err(|_| unknown_kind(provider, kind))?,
            };
            let (body, content_type) = if is_json {
                (refresh_iset_json(&text), JSON)
            } else {
                (
                    refresh_iset_form(&text),
                    "application/x-www-form-urlencoded",
                )
            };
            Ok(Sample {
                body,
                content_type,
                iset_kind: Some(iset_kind),
                unique_key: None,
            })
        }
        Provider::Grafeno => {
            let change = value_span(&text, &["change"])
                .and_then(|span| text.get(span))
                .and_then(|raw| serde_json::from_str::<String>(raw).ok())
                .filter(|change| !change.is_empty())
                .ok_or_else(|| {
                    Failure::usage("the file is not a grafeno delivery: no string \"change\"")
                })?;
            let mut text = text;
            for field in ["id", "uuid"] {
                let old = value_span(&text, &["data", field])
                    .and_then(|span| text.get(span))
                    .and_then(|raw| serde_json::from_str::<String>(raw).ok())
                    .filter(|old| old.len() >= 8);
                if let Some(old) = old {
                    text = text.replace(&old, &random_uuid());
                }
            }
            Ok(Sample {
                unique_key: Some(format!("{}-{change}", random_uuid())),
                ..json(text)
            })
        }
        other => Err(Failure::usage(format!("no samples for {other}"))),
    }
}

/// The id fields iSET bodies may carry (every kind's).
const ISET_ID_FIELDS: [&str; 10] = [
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

fn refresh_iset_json(text: &str) -> String {
    let mut text = text.to_owned();
    for path in ISET_ID_FIELDS
        .iter()
        .flat_map(|field| [vec![*field], vec!["data", *field]])
    {
        if let Some(span) = value_span(&text, &path) {
            let raw = text.get(span.clone()).unwrap_or_default();
            let fresh = random_number(1_000, 99_999_999).to_string();
            let new = if raw.starts_with('"') {
                json_string(&fresh)
            } else if raw.starts_with(|c: char| c.is_ascii_digit()) {
                fresh
            } else {
                continue;
            };
            text = replace(&text, span, &new);
        }
    }
    text
}

fn refresh_iset_form(text: &str) -> String {
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if ISET_ID_FIELDS.contains(&name) && !value.is_empty() => {
                format!("{name}={}", random_number(1_000, 99_999_999))
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Replaces the string value at `path` with `fresh` when it is a string.
fn refresh_string(text: &str, path: &[&str], fresh: &str) -> String {
    match value_span(text, path) {
        Some(span)
            if text
                .get(span.clone())
                .is_some_and(|raw| raw.starts_with('"')) =>
        {
            replace(text, span, &json_string(fresh))
        }
        _ => text.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication.

/// The validated credentials for one provider.
enum Auth<'a> {
    Header { name: String, secret: String },
    Token(String),
    Url { param: String, secret: String },
    Sign(&'a SigningKey),
}

fn header_value_ok(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl<'a> Auth<'a> {
    fn from_credentials(provider: Provider, credentials: &'a Credentials) -> Result<Self, Failure> {
        let secret = |flag: &str| -> Result<String, Failure> {
            let secret = credentials.secret.clone().ok_or_else(|| {
                Failure::usage(format!(
                    "{provider} needs --secret ({flag}); a value, env:NAME or file:PATH"
                ))
            })?;
            if secret.is_empty() {
                return Err(Failure::usage("--secret is empty"));
            }
            Ok(secret)
        };
        let header = |secret: String, name: &str| -> Result<Self, Failure> {
            if !header_name_ok(name) {
                return Err(Failure::usage(format!(
                    "--secret-header {name:?} is not a valid header name"
                )));
            }
            if !header_value_ok(&secret) {
                return Err(Failure::usage(
                    "--secret has characters a header cannot carry (control characters or \
                     non-ASCII)",
                ));
            }
            Ok(Self::Header {
                name: name.to_owned(),
                secret,
            })
        };
        match provider {
            Provider::Bonifiq => {
                let name = credentials
                    .secret_header
                    .as_deref()
                    .unwrap_or(BONIFIQ_SECRET_HEADER);
                header(secret("the value of the secret header")?, name)
            }
            Provider::Foody => {
                let token = credentials.token.clone().ok_or_else(|| {
                    Failure::usage(
                        "foody needs --token (the trigger's token); a value, env:NAME or file:PATH",
                    )
                })?;
                if token.is_empty() {
                    return Err(Failure::usage("--token is empty"));
                }
                Ok(Self::Token(token))
            }
            Provider::Iset => {
                let secret = secret("the secret in the URL")?;
                match &credentials.secret_header {
                    Some(name) => header(secret, name),
                    None => Ok(Self::Url {
                        param: credentials
                            .secret_param
                            .clone()
                            .unwrap_or_else(|| "token".to_owned()),
                        secret,
                    }),
                }
            }
            Provider::Grafeno => credentials.signing_key.as_ref().map(Self::Sign).ok_or_else(
                || {
                    Failure::usage(
                        "grafeno needs --private-key PEM_FILE to sign (make a pair with `hookbr \
                         keygen`)",
                    )
                },
            ),
            other => Err(Failure::usage(format!("unsupported provider {other}"))),
        }
    }

    /// Authenticates `outgoing` (whose body is final but for the token or signature).
    fn apply(&self, outgoing: &mut Outgoing, unique_key: Option<&str>) -> Result<(), Failure> {
        match self {
            Self::Header { name, secret } => {
                outgoing.headers.push((name.clone(), secret.clone()));
            }
            Self::Url { param, secret } => {
                outgoing.query.push((param.clone(), secret.clone()));
            }
            Self::Token(token) => {
                let text = String::from_utf8_lossy(&outgoing.body).into_owned();
                outgoing.body = set_member(&text, "token", &json_string(token))?.into_bytes();
            }
            Self::Sign(key) => {
                let unique_key = unique_key
                    .ok_or_else(|| Failure::usage("internal error: no x-unique-key to sign"))?;
                let signature = key.sign(unique_key.as_bytes())?;
                let text = String::from_utf8_lossy(&outgoing.body).into_owned();
                outgoing.body =
                    set_member(&text, "signature", &json_string(&signature))?.into_bytes();
                set_header(outgoing, UNIQUE_KEY, unique_key);
            }
        }
        Ok(())
    }
}

/// Decodes `outgoing` as hookbr would: (kind, delivery id).
fn identify(outgoing: &Outgoing, iset_kind: Option<IsetKind>) -> Result<(String, String), String> {
    let endpoint = match outgoing.provider {
        Provider::Bonifiq => Endpoint::Bonifiq,
        Provider::Foody => Endpoint::Foody,
        Provider::Iset => Endpoint::Iset(iset_kind.unwrap_or(IsetKind::OrderUpserted)),
        Provider::Grafeno => Endpoint::Grafeno,
        other => return Err(format!("unsupported provider {other}")),
    };
    let request = Request::new(&outgoing.body).with_headers(&outgoing.headers);
    let event = WebhookEvent::decode(endpoint, &request).map_err(|error| error.to_string())?;
    let id = event.delivery_id(&request).unwrap_or_else(|| {
        // As the pipeline does for bodies without an id (BonifiQ custom templates).
        DeliveryId::digest_of(outgoing.provider, &[b"body", &outgoing.body])
    });
    Ok((event.kind().to_owned(), id.as_str().to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

/// A header's value.
fn header<'o>(outgoing: &'o Outgoing, name: &str) -> Option<&'o str> {
    outgoing
        .headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Sets (or replaces) a header.
fn set_header(outgoing: &mut Outgoing, name: &str, value: &str) {
    outgoing
        .headers
        .retain(|(key, _)| !key.eq_ignore_ascii_case(name));
    outgoing.headers.push((name.to_owned(), value.to_owned()));
}

/// `value` as a JSON string literal.
fn json_string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// The byte range of the JSON value at `path` (object members, outermost first) in `text`.
fn value_span(text: &str, path: &[&str]) -> Option<Range<usize>> {
    let mut range = 0..text.len();
    for field in path {
        let scope = text.get(range.clone())?;
        let members: HashMap<String, &RawValue> = serde_json::from_str(scope).ok()?;
        let raw = members.get(*field)?.get();
        // `raw` borrows from `scope`: its offset is the distance between the two pointers.
        let start = (raw.as_ptr() as usize).checked_sub(scope.as_ptr() as usize)?;
        let start = range.start + start;
        range = start..start + raw.len();
    }
    text.get(range.clone())?;
    Some(range)
}

/// `text` with `range` replaced by `new`.
fn replace(text: &str, range: Range<usize>, new: &str) -> String {
    let (Some(before), Some(after)) = (text.get(..range.start), text.get(range.end..)) else {
        return text.to_owned();
    };
    format!("{before}{new}{after}")
}

/// Sets the top-level member `field` of the JSON object `text` to `value` (JSON), in place
/// when present, else as the first member.
fn set_member(text: &str, field: &str, value: &str) -> Result<String, Failure> {
    if let Some(span) = value_span(text, &[field]) {
        return Ok(replace(text, span, value));
    }
    let members: HashMap<String, &RawValue> =
        serde_json::from_str(text).map_err(|_| Failure::usage("the file is not a JSON object"))?;
    let open = text
        .find('{')
        .ok_or_else(|| Failure::usage("the file is not a JSON object"))?;
    let separator = if members.is_empty() { "" } else { "," };
    let (before, after) = text.split_at(open + 1);
    Ok(format!(
        "{before}{}:{value}{separator}{after}",
        json_string(field)
    ))
}

/// Increments the last ASCII digit in `range` of `text` (9 becomes 0); without a digit, adds a
/// trailing newline.
fn bump_digit(text: &str, range: Range<usize>) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let start = range.start;
    let position = bytes
        .get(range)
        .and_then(|scope| scope.iter().rposition(u8::is_ascii_digit));
    match position.and_then(|offset| bytes.get_mut(start + offset)) {
        Some(byte) => *byte = if *byte == b'9' { b'0' } else { *byte + 1 },
        None => bytes.push(b'\n'),
    }
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_owned())
}

/// Flips one bit of a base64 signature and re-encodes it the same way (wrapped at 60).
fn flip_signature(signature: &str) -> Option<String> {
    let engine = base64::engine::general_purpose::STANDARD;
    let compact: String = signature.split_whitespace().collect();
    let mut bytes = engine.decode(compact).ok()?;
    let middle = bytes.len() / 2;
    *bytes.get_mut(middle)? ^= 1;
    Some(wrap60(&engine.encode(bytes)))
}

/// Wraps base64 at 60 columns with a trailing newline (Ruby's `Base64.encode64`).
fn wrap60(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 60 + 1);
    for chunk in encoded.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Random bytes from the OS.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // SystemRandom only fails where the OS has no randomness source.
    let _ = SystemRandom::new().fill(&mut bytes);
    bytes
}

/// A random number in `low..=high`.
pub(crate) fn random_number(low: u64, high: u64) -> u64 {
    let span = high.saturating_sub(low).saturating_add(1);
    low + u64::from_be_bytes(random_bytes::<8>()) % span.max(1)
}

/// A fresh random UUID (version 4 layout).
pub(crate) fn random_uuid() -> String {
    let mut bytes = random_bytes::<16>();
    if let Some(byte) = bytes.get_mut(6) {
        *byte = (*byte & 0x0f) | 0x40;
    }
    if let Some(byte) = bytes.get_mut(8) {
        *byte = (*byte & 0x3f) | 0x80;
    }
    let mut out = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]` + `suffix` for Unix time `secs` + `nanos`, with `digits`
/// fraction digits (0 to 9).
fn civil(secs: u64, nanos: u32, digits: usize, suffix: &str) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let of_day = secs % 86_400;
    let (year, month, day) = crate::sink::civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
    let digits = digits.min(9);
    if digits > 0 {
        let nanos = format!("{nanos:09}");
        out.push('.');
        out.push_str(nanos.get(..digits).unwrap_or("0"));
    }
    out.push_str(suffix);
    out
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use hookbr_core::{
        Secret,
        testkit::TestKey,
        verify::{
            AnyVerifier, BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier,
            UrlSecretVerifier, Verify,
        },
    };

    use super::*;

    const SECRET: &str = "bq-secret";
    const TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";
    const ISET: &str = "iset secret&=+";
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../hookbr-core/fixtures");

    /// A key pair made by `hookbr keygen`, once for all tests.
    fn keygen_pair() -> &'static (String, String) {
        static PAIR: OnceLock<(String, String)> = OnceLock::new();
        PAIR.get_or_init(|| {
            let pair = crate::keygen::generate(2048).unwrap();
            (pair.private_pem, pair.public_pem)
        })
    }

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
                secret: Some(ISET.into()),
                ..Credentials::default()
            },
            _ => Credentials {
                signing_key: Some(SigningKey::from_pem(&keygen_pair().0).unwrap()),
                ..Credentials::default()
            },
        }
    }

    fn verifier(provider: Provider) -> AnyVerifier {
        let secret = |value: &str| Secret::new(value).unwrap();
        match provider {
            Provider::Bonifiq => HeaderSecretVerifier::bonifiq([secret(SECRET)])
                .unwrap()
                .into(),
            Provider::Foody => BodyTokenVerifier::foody([secret(TOKEN)]).unwrap().into(),
            Provider::Iset => UrlSecretVerifier::query_param("token", [secret(ISET)])
                .unwrap()
                .into(),
            _ => GrafenoVerifier::new([RsaPublicKey::from_pem(&keygen_pair().1).unwrap()])
                .unwrap()
                .into(),
        }
    }

    /// The path and query hookbr would see.
    fn target(outgoing: &Outgoing) -> String {
        let mut url = reqwest::Url::parse("http://127.0.0.1/hook").unwrap();
        for (name, value) in &outgoing.query {
            url.query_pairs_mut().append_pair(name, value);
        }
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    fn verify(outgoing: &Outgoing) -> Result<usize, hookbr_core::VerifyError> {
        let target = target(outgoing);
        let request = Request::new(&outgoing.body)
            .with_method(outgoing.method)
            .with_target(&target)
            .with_headers(&outgoing.headers);
        verifier(outgoing.provider)
            .verify(&request)
            .map(|matched| matched.index())
    }

    /// Decodes as `hookbr decode` does: (kind, delivery id, known).
    fn decode(outgoing: &Outgoing, iset_kind: Option<&str>) -> (String, Option<String>, bool) {
        let endpoint = match outgoing.provider {
            Provider::Bonifiq => Endpoint::Bonifiq,
            Provider::Foody => Endpoint::Foody,
            Provider::Iset => {
                Endpoint::Iset(iset_kind.unwrap_or("order_upserted").parse().unwrap())
            }
            _ => Endpoint::Grafeno,
        };
        let request = Request::new(&outgoing.body).with_headers(&outgoing.headers);
        let event = WebhookEvent::decode(endpoint, &request).unwrap();
        (
            event.kind().to_owned(),
            event.delivery_id(&request).map(|id| id.as_str().to_owned()),
            event.is_known(),
        )
    }

    fn all_samples() -> Vec<(Provider, &'static str)> {
        Provider::ALL
            .into_iter()
            .flat_map(|provider| {
                kinds(provider)
                    .into_iter()
                    .map(move |kind| (provider, kind))
            })
            .collect()
    }

    #[test]
    fn every_sample_decodes_to_its_kind_and_id_and_verifies() {
        let samples = all_samples();
        assert!(samples.len() >= 15 + 9 + 7 + 8, "{}", samples.len());
        for (provider, kind) in samples {
            let outgoing = build(provider, Some(kind), None, &credentials(provider)).unwrap();
            let iset_kind = (provider == Provider::Iset).then_some(kind);
            let (decoded_kind, id, known) = decode(&outgoing, iset_kind);
            assert_eq!(decoded_kind, outgoing.kind, "{provider} {kind}");
            assert_eq!(
                id.as_deref(),
                Some(outgoing.delivery_id.as_str()),
                "{provider} {kind}"
            );
            assert_eq!(known, kind != "unknown", "{provider} {kind}");
            assert!(
                verify(&outgoing).is_ok(),
                "{provider} {kind}: {:?}",
                verify(&outgoing)
            );
            assert_eq!(outgoing.method, "POST");
            assert_eq!(
                header(&outgoing, "content-type"),
                Some("application/json"),
                "{provider} {kind}"
            );
        }
    }

    #[test]
    fn kinds_map_to_what_decode_prints() {
        let kind = |provider, kind: Option<&str>| {
            build(provider, kind, None, &credentials(provider))
                .unwrap()
                .kind
        };
        assert_eq!(kind(Provider::Bonifiq, None), "Point_Add");
        assert_eq!(
            kind(Provider::Bonifiq, Some("point_remove")),
            "Point_Remove"
        );
        assert_eq!(kind(Provider::Bonifiq, Some("unknown")), "Order_Created");
        assert_eq!(kind(Provider::Foody, None), "order_status_updated");
        assert_eq!(
            kind(Provider::Foody, Some("delivered")),
            "order_status_updated"
        );
        assert_eq!(kind(Provider::Foody, Some("hook_test")), "hook_test");
        assert_eq!(kind(Provider::Iset, None), "order_upserted");
        assert_eq!(kind(Provider::Iset, Some("stock_changed")), "stock_changed");
        assert_eq!(kind(Provider::Grafeno, None), "approved");
        assert_eq!(
            kind(Provider::Grafeno, Some("unknown")),
            GRAFENO_UNKNOWN_CHANGE
        );
        assert_eq!(
            kind(Provider::Grafeno, Some("atualizacao-cobranca")),
            "atualizacao-cobranca"
        );
    }

    #[test]
    fn wire_shapes() {
        let bonifiq = build(
            Provider::Bonifiq,
            None,
            None,
            &credentials(Provider::Bonifiq),
        )
        .unwrap();
        assert_eq!(header(&bonifiq, "X-Loyalty-Secret"), Some(SECRET));
        let text = String::from_utf8(bonifiq.body.clone()).unwrap();
        assert!(text.starts_with(r#"{"Uuid":""#), "{text}");
        assert!(text.contains(r#""Topic":0,"TopicName":"Point_Add","Payload":{"Points":200"#));
        assert_eq!(bonifiq.delivery_id.len(), 36);
        assert!(text.contains(&bonifiq.delivery_id));

        let custom_header = Credentials {
            secret: Some(SECRET.into()),
            secret_header: Some("X-Minha-Chave".into()),
            ..Credentials::default()
        };
        let bonifiq = build(Provider::Bonifiq, None, None, &custom_header).unwrap();
        assert_eq!(header(&bonifiq, "X-Minha-Chave"), Some(SECRET));
        assert_eq!(header(&bonifiq, "X-Loyalty-Secret"), None);

        let foody = build(Provider::Foody, None, None, &credentials(Provider::Foody)).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&foody.body).unwrap();
        assert_eq!(value["token"], TOKEN);
        assert_eq!(value["event"], "order_status_updated");
        assert_eq!(value["status"], "dispatched");
        hookbr_core::Timestamp::parse(value["updateDate"].as_str().unwrap()).unwrap();

        let iset = build(Provider::Iset, None, None, &credentials(Provider::Iset)).unwrap();
        assert_eq!(iset.query, vec![("token".to_owned(), ISET.to_owned())]);
        let custom_param = Credentials {
            secret: Some(ISET.into()),
            secret_param: Some("chave".into()),
            ..Credentials::default()
        };
        let iset = build(Provider::Iset, None, None, &custom_param).unwrap();
        assert_eq!(iset.query, vec![("chave".to_owned(), ISET.to_owned())]);
        let in_header = Credentials {
            secret: Some("iset-header-secret".into()),
            secret_header: Some("X-Iset-Secret".into()),
            ..Credentials::default()
        };
        let mut iset = build(Provider::Iset, None, None, &in_header).unwrap();
        assert!(iset.query.is_empty());
        assert_eq!(header(&iset, "x-iset-secret"), Some("iset-header-secret"));
        tamper(&mut iset, Tamper::Header);
        assert_eq!(header(&iset, "x-iset-secret"), None);

        let grafeno = build(
            Provider::Grafeno,
            None,
            None,
            &credentials(Provider::Grafeno),
        )
        .unwrap();
        let unique_key = header(&grafeno, "x-unique-key").unwrap();
        assert_eq!(grafeno.delivery_id, unique_key);
        let (_, change) = hookbr_core::grafeno::split_unique_key(unique_key).unwrap();
        assert_eq!(change, "approved");
        let value: serde_json::Value = serde_json::from_slice(&grafeno.body).unwrap();
        let signature = value["signature"].as_str().unwrap();
        assert!(signature.ends_with('\n'));
        assert!(signature.lines().all(|line| line.len() <= 60));
        assert!(String::from_utf8_lossy(&grafeno.body).starts_with(r#"{"signature":""#));
    }

    #[test]
    fn every_build_is_a_new_delivery() {
        for (provider, kind) in all_samples() {
            let credentials = credentials(provider);
            let a = build(provider, Some(kind), None, &credentials).unwrap();
            let b = build(provider, Some(kind), None, &credentials).unwrap();
            assert_ne!(a.delivery_id, b.delivery_id, "{provider} {kind}");
        }
    }

    #[test]
    fn tampering_defeats_verification() {
        for provider in Provider::ALL {
            for how in [Tamper::Signature, Tamper::Header] {
                let mut outgoing = build(provider, None, None, &credentials(provider)).unwrap();
                assert!(verify(&outgoing).is_ok());
                tamper(&mut outgoing, how);
                let error = verify(&outgoing).unwrap_err();
                assert_eq!(
                    hookbr_core::Rejection::from(error.clone()).status(),
                    401,
                    "{provider} {how:?}: {error}"
                );
            }
        }
        // Grafeno signs the header only: the body tamper breaks the header/change binding.
        let mut grafeno = build(
            Provider::Grafeno,
            None,
            None,
            &credentials(Provider::Grafeno),
        )
        .unwrap();
        tamper(&mut grafeno, Tamper::Body);
        let error = verify(&grafeno).unwrap_err();
        assert_eq!(hookbr_core::Rejection::from(error).status(), 401);
        assert_eq!(decode(&grafeno, None).0, "rejected");
    }

    #[test]
    fn header_tamper_moves_grafeno_delivery_id() {
        let mut grafeno = build(
            Provider::Grafeno,
            None,
            None,
            &credentials(Provider::Grafeno),
        )
        .unwrap();
        let before = grafeno.delivery_id.clone();
        tamper(&mut grafeno, Tamper::Header);
        assert_ne!(grafeno.delivery_id, before);
        assert_eq!(
            Some(grafeno.delivery_id.as_str()),
            header(&grafeno, "x-unique-key")
        );
        assert!(grafeno.delivery_id.ends_with("-approved"));
    }

    #[test]
    fn body_tamper_of_unsigned_bodies_changes_bytes_but_still_verifies() {
        // BonifiQ, Foody and iSET authenticate the sender, not the body: documented behaviour.
        for provider in [Provider::Bonifiq, Provider::Foody, Provider::Iset] {
            let mut outgoing = build(provider, None, None, &credentials(provider)).unwrap();
            let before = outgoing.body.clone();
            tamper(&mut outgoing, Tamper::Body);
            assert_ne!(outgoing.body, before, "{provider}");
            assert_eq!(
                outgoing.body.len(),
                before.len(),
                "{provider}: one byte changed"
            );
            let changed = outgoing
                .body
                .iter()
                .zip(&before)
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(changed, 1, "{provider}");
            serde_json::from_slice::<serde_json::Value>(&outgoing.body).unwrap();
            assert!(verify(&outgoing).is_ok(), "{provider}");
        }
    }

    #[test]
    fn foody_header_tamper_removes_the_token() {
        let mut foody = build(Provider::Foody, None, None, &credentials(Provider::Foody)).unwrap();
        tamper(&mut foody, Tamper::Header);
        let value: serde_json::Value = serde_json::from_slice(&foody.body).unwrap();
        assert!(value.get("token").is_none());
        assert!(!String::from_utf8_lossy(&foody.body).contains(TOKEN));
    }

    #[test]
    fn templates_keep_bytes_and_refresh_ids() {
        let read = |path: &str| std::fs::read(format!("{FIXTURES}/{path}")).unwrap();

        let original = read("bonifiq/point_add_legacy.json");
        let outgoing = build(
            Provider::Bonifiq,
            None,
            Some(&original),
            &credentials(Provider::Bonifiq),
        )
        .unwrap();
        let text = String::from_utf8(outgoing.body.clone()).unwrap();
        assert!(!text.contains("4834c95e-84f7-485e-90de-09353df57fd3"));
        assert_eq!(
            text.replace(
                &outgoing.delivery_id,
                "4834c95e-84f7-485e-90de-09353df57fd3"
            )
            .as_bytes(),
            original.as_slice(),
            "only the Uuid changes"
        );
        assert_eq!(outgoing.kind, "Point_Add");
        assert!(verify(&outgoing).is_ok());

        let custom = read("bonifiq/custom_body.json");
        let outgoing = build(
            Provider::Bonifiq,
            None,
            Some(&custom),
            &credentials(Provider::Bonifiq),
        )
        .unwrap();
        assert_eq!(outgoing.body, custom);
        assert_eq!(outgoing.kind, "custom");
        assert_eq!(outgoing.delivery_id.len(), 32, "a digest of the body");

        let original = read("foody/order_status_updated.json");
        let outgoing = build(
            Provider::Foody,
            None,
            Some(&original),
            &credentials(Provider::Foody),
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&outgoing.body).unwrap();
        assert_ne!(value["uid"], "4228df3a-a54a-40d7-b30f-1385eca4c3dd");
        assert_eq!(value["status"], "dispatched");
        assert_eq!(
            decode(&outgoing, None).1.as_deref(),
            Some(outgoing.delivery_id.as_str())
        );
        assert!(verify(&outgoing).is_ok());
        let other_token = Credentials {
            token: Some("another".into()),
            ..Credentials::default()
        };
        let outgoing = build(Provider::Foody, None, Some(&original), &other_token).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&outgoing.body).unwrap();
        assert_eq!(value["token"], "another");
        let without_token = br#"{"uid":"u","updateDate":"2020-06-19T17:42:12Z","event":"order_status_updated","status":"open"}"#;
        let outgoing = build(
            Provider::Foody,
            None,
            Some(without_token),
            &credentials(Provider::Foody),
        )
        .unwrap();
        assert!(verify(&outgoing).is_ok(), "the token is added");

        let original = read("iset/category_deleted.json");
        let outgoing = build(
            Provider::Iset,
            Some("category_deleted"),
            Some(&original),
            &credentials(Provider::Iset),
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&outgoing.body).unwrap();
        assert!(value["categoria_id"].is_string(), "the type is kept");
        assert_ne!(value["categoria_id"], "7");
        assert_eq!(outgoing.kind, "category_deleted");
        assert_eq!(
            decode(&outgoing, Some("category_deleted")).1.as_deref(),
            Some(outgoing.delivery_id.as_str())
        );

        let form = read("iset/order_upserted_form.txt");
        let outgoing = build(
            Provider::Iset,
            None,
            Some(&form),
            &credentials(Provider::Iset),
        )
        .unwrap();
        let text = String::from_utf8(outgoing.body.clone()).unwrap();
        assert!(
            text.starts_with("pedido_id=") && text.ends_with("&status=pago"),
            "{text}"
        );
        assert_ne!(text, "pedido_id=1234&status=pago");
        assert_eq!(
            header(&outgoing, "content-type"),
            Some("application/x-www-form-urlencoded")
        );

        for fixture in [
            "grafeno/cadastro_validation_pendencies.json",
            "grafeno/boleto_falha_registro.json",
        ] {
            let original = read(fixture);
            let outgoing = build(
                Provider::Grafeno,
                None,
                Some(&original),
                &credentials(Provider::Grafeno),
            )
            .unwrap();
            assert!(verify(&outgoing).is_ok(), "{fixture}: re-signed");
            let text = String::from_utf8(outgoing.body.clone()).unwrap();
            assert!(
                !text.contains("8ecd3308-f779-4c95-830e-49a5f767ebc2"),
                "{fixture}"
            );
            assert!(
                !text.contains("eab0bc07-294e-4ddd-9f42-5c87c7d096d2"),
                "{fixture}"
            );
            assert_eq!(
                decode(&outgoing, None).1.as_deref(),
                Some(outgoing.delivery_id.as_str())
            );
        }
    }

    #[test]
    fn usage_errors_name_the_flag() {
        let error = build(Provider::Bonifiq, None, None, &Credentials::default()).unwrap_err();
        assert_eq!(error.code, 2);
        assert!(error.message.contains("--secret"), "{}", error.message);
        let error = build(Provider::Foody, None, None, &Credentials::default()).unwrap_err();
        assert!(error.message.contains("--token"), "{}", error.message);
        let error = build(Provider::Iset, None, None, &Credentials::default()).unwrap_err();
        assert!(error.message.contains("--secret"), "{}", error.message);
        let error = build(Provider::Grafeno, None, None, &Credentials::default()).unwrap_err();
        assert!(error.message.contains("--private-key"), "{}", error.message);
        assert!(error.message.contains("keygen"), "{}", error.message);

        let error = build(
            Provider::Foody,
            Some("nope"),
            None,
            &credentials(Provider::Foody),
        )
        .unwrap_err();
        assert_eq!(error.code, 2);
        assert!(
            error.message.contains("hook_test") && error.message.contains("nope"),
            "{}",
            error.message
        );
        let error = build(
            Provider::Grafeno,
            None,
            Some(b"{}"),
            &credentials(Provider::Grafeno),
        )
        .unwrap_err();
        assert!(error.message.contains("change"), "{}", error.message);
        let error = build(
            Provider::Foody,
            None,
            Some(b"not json"),
            &credentials(Provider::Foody),
        )
        .unwrap_err();
        assert_eq!(error.code, 2);
        let error = build(
            Provider::Bonifiq,
            Some("Point_Add"),
            Some(b"{}"),
            &credentials(Provider::Bonifiq),
        )
        .unwrap_err();
        assert!(error.message.contains("--kind"), "{}", error.message);
        let bad_header = Credentials {
            secret: Some("s".into()),
            secret_header: Some("bad header".into()),
            ..Credentials::default()
        };
        assert_eq!(
            build(Provider::Bonifiq, None, None, &bad_header)
                .unwrap_err()
                .code,
            2
        );
        let bad_value = Credentials {
            secret: Some("line\nbreak".into()),
            ..Credentials::default()
        };
        let error = build(Provider::Bonifiq, None, None, &bad_value).unwrap_err();
        assert!(!error.message.contains("line\nbreak"));
    }

    #[test]
    fn signing_keys_parse_pkcs8_and_pkcs1_and_refuse_the_rest() {
        let key = SigningKey::from_pem(TestKey::rsa_2048().private_pem()).unwrap();
        let signature = key.sign(b"message").unwrap();
        assert!(signature.lines().all(|line| line.len() <= 60));
        assert_eq!(key.public_key().unwrap().bits(), 2048);
        let key = SigningKey::from_pem(TestKey::rsa_4096().private_pem()).unwrap();
        assert_eq!(key.public_key().unwrap().signature_len(), 512);
        let grafeno = GrafenoVerifier::new([TestKey::rsa_4096().public_key()]).unwrap();
        let unique_key = "31216ba1-c507-688c-bea7-b7adf8cf2c1c-boleto-criado";
        let body = serde_json::json!({"signature": key.sign(unique_key.as_bytes()).unwrap(), "change": "boleto-criado", "data": {}}).to_string();
        let headers = [("x-unique-key", unique_key)];
        assert!(
            grafeno
                .verify(&Request::new(body.as_bytes()).with_headers(&headers))
                .is_ok()
        );

        let pkcs1 = {
            use rsa::pkcs1::EncodeRsaPrivateKey as _;
            use rsa::pkcs8::DecodePrivateKey as _;
            rsa::RsaPrivateKey::from_pkcs8_pem(&keygen_pair().0)
                .unwrap()
                .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .unwrap()
                .to_string()
        };
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let key = SigningKey::from_pem(&pkcs1).unwrap();
        let public = RsaPublicKey::from_pem(&keygen_pair().1).unwrap();
        assert_eq!(
            key.public_key().unwrap().signature_len(),
            public.signature_len()
        );

        for garbage in [
            String::new(),
            "not a key".to_owned(),
            TestKey::rsa_2048().public_pem().to_owned(),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned(),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
                .to_owned(),
        ] {
            let error = SigningKey::from_pem(&garbage).unwrap_err();
            assert_eq!(error.code, 2, "{garbage:?}");
            assert!(!error.message.is_empty());
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(civil(0, 0, 0, "Z"), "1970-01-01T00:00:00Z");
        assert_eq!(
            civil(1_592_588_532, 396_371_000, 6, ""),
            "2020-06-19T17:42:12.396371"
        );
        assert_eq!(civil(951_782_400, 0, 3, "Z"), "2000-02-29T00:00:00.000Z");
        let uuid = random_uuid();
        assert!(hookbr_core::grafeno::split_unique_key(&format!("{uuid}-x")).is_some());
        assert_ne!(uuid, random_uuid());
        for _ in 0..100 {
            assert!((5..=7).contains(&random_number(5, 7)));
        }
        assert_eq!(value_span(r#"{"a":{"b": "c"}}"#, &["a", "b"]), Some(11..14));
        assert_eq!(value_span("[1]", &["a"]), None);
        assert_eq!(set_member("{}", "t", "1").unwrap(), r#"{"t":1}"#);
        assert_eq!(
            set_member(r#"{"a":2}"#, "t", "1").unwrap(),
            r#"{"t":1,"a":2}"#
        );
        assert_eq!(bump_digit(r#"{"a":19}"#, 0..8), r#"{"a":10}"#);
        assert_eq!(bump_digit("{}", 0..2), "{}\n");
    }

    proptest::proptest! {
        #[test]
        fn templates_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            for provider in Provider::ALL {
                let _ = build(provider, None, Some(&body), &credentials(provider));
            }
        }

        #[test]
        fn tamper_never_panics(body in "\\PC{0,200}", how in 0..3usize) {
            let how = [Tamper::Signature, Tamper::Header, Tamper::Body][how];
            for provider in Provider::ALL {
                let mut outgoing = Outgoing {
                    provider,
                    kind: String::new(),
                    delivery_id: String::new(),
                    method: "POST",
                    query: vec![("token".into(), "x".into())],
                    headers: vec![("x-unique-key".into(), body.clone())],
                    body: body.clone().into_bytes(),
                };
                tamper(&mut outgoing, how);
            }
        }
    }
}
