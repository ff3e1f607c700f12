//! Grafeno (banking) webhooks: registrations (*cadastros*) and charges (*cobranças*).
//!
//! Every Grafeno notification is `{"signature", "change", "data"}`. The RSA `signature` signs the
//! `x-unique-key` header (`<uuid>-<status>`), not the body: see
//! [`GrafenoVerifier`](crate::verify::GrafenoVerifier), which also checks that the header's status
//! equals `change`. The signature is authentication material and is not part of the typed event.
//!
//! ```
//! use hookbr_core::grafeno::{GrafenoData, GrafenoEvent, GrafenoChange};
//!
//! let body = r#"{"signature":"c2ln\n","change":"validation_pendencies",
//!   "data":{"id":"8ecd3308-f779-4c95-830e-49a5f767ebc2","pendencies":[{"text":"O RG do sócio está expirado."}]}}"#;
//! let event = GrafenoEvent::from_slice(body.as_bytes())?;
//! assert_eq!(event.change, GrafenoChange::ValidationPendencies);
//! let GrafenoData::Registration(registration) = &event.data else { unreachable!() };
//! assert_eq!(registration.pendencies[0].text, "O RG do sócio está expirado.");
//! # Ok::<(), hookbr_core::ParseError>(())
//! ```

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, ser::SerializeMap};
use serde_json::value::RawValue;

use super::{RawJson, body_text, parse_object, raw_str, typed};
use crate::{
    DeliveryId, ParseError, PayloadError, Provider, Request, Timestamp,
    entity::{Entity, GRAFENO_CHARGE, GRAFENO_REGISTRATION, Position},
};

/// The header Grafeno signs: `<uuid>-<status>`.
pub const UNIQUE_KEY_HEADER: &str = "x-unique-key";

/// The `change` of a Grafeno notification.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrafenoChange {
    /// `approved`: a registration was approved.
    Approved,
    /// `rejected`: a registration was rejected.
    Rejected,
    /// `validation_pendencies`: a registration has pendencies.
    ValidationPendencies,
    /// `boleto-criado`: a charge's boleto was created.
    BoletoCriado,
    /// `boleto-falha-registro`: a boleto failed to register.
    BoletoFalhaRegistro,
    /// `cobranca-atualizacao` (the 2026 changelog's prose says `atualizacao-cobranca`; both are
    /// accepted): a change request on a charge was processed.
    CobrancaAtualizacao,
    /// Any other `change`, as received.
    Unknown(String),
}

impl GrafenoChange {
    /// Maps a wire value.
    #[must_use]
    pub fn from_wire(value: &str) -> Self {
        match value {
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "validation_pendencies" => Self::ValidationPendencies,
            "boleto-criado" => Self::BoletoCriado,
            "boleto-falha-registro" => Self::BoletoFalhaRegistro,
            "cobranca-atualizacao" | "atualizacao-cobranca" => Self::CobrancaAtualizacao,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The canonical wire value (`cobranca-atualizacao` for both spellings).
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::ValidationPendencies => "validation_pendencies",
            Self::BoletoCriado => "boleto-criado",
            Self::BoletoFalhaRegistro => "boleto-falha-registro",
            Self::CobrancaAtualizacao => "cobranca-atualizacao",
            Self::Unknown(other) => other,
        }
    }

    /// Whether this is a registration (*cadastro*) change.
    #[must_use]
    pub fn is_registration(&self) -> bool {
        matches!(
            self,
            Self::Approved | Self::Rejected | Self::ValidationPendencies
        )
    }

    /// Whether this is a charge (*cobrança*) change.
    #[must_use]
    pub fn is_charge(&self) -> bool {
        matches!(
            self,
            Self::BoletoCriado | Self::BoletoFalhaRegistro | Self::CobrancaAtualizacao
        )
    }
}

impl fmt::Display for GrafenoChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Grafeno notification.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GrafenoEvent {
    /// `change`, mapped.
    pub change: GrafenoChange,
    /// `data`, typed by change.
    pub data: GrafenoData,
    /// `change` exactly as received.
    change_wire: String,
}

/// The `data` of a Grafeno notification.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GrafenoData {
    /// A registration (for `approved`, `rejected`, `validation_pendencies`).
    Registration(Registration),
    /// A charge (for `boleto-*` and `cobranca-atualizacao`).
    Charge(Box<Charge>),
    /// A known change whose `data` did not fit its type: the raw JSON and why.
    Drifted {
        /// `data` as received.
        raw: RawJson,
        /// Why it did not fit.
        error: PayloadError,
    },
    /// An unknown change's `data` as received (`null` when absent).
    Unknown(RawJson),
}

/// A registration (*cadastro*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Registration {
    /// `id`: the registration id.
    pub id: String,
    /// `pendencies` (only for `validation_pendencies`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pendencies: Vec<Pendency>,
}

/// One registration pendency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pendency {
    /// `text`: what is pending, in Portuguese.
    pub text: String,
}

/// A decimal amount exactly as Grafeno sent it (`"5.2"`). Never a float: convert with a
/// decimal library if you need arithmetic. JSON numbers are accepted and kept as their text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Amount(String);

impl Amount {
    /// The amount as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        if text.starts_with('"') {
            serde_json::from_str::<String>(text)
                .map(Amount)
                .map_err(serde::de::Error::custom)
        } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            Ok(Amount(text.to_owned()))
        } else {
            Err(serde::de::Error::custom(
                "expected a decimal string or number",
            ))
        }
    }
}

/// A charge (*cobrança*), as in Grafeno's charge webhooks. Monetary values are [`Amount`]s;
/// boleto fields are `None` until the boleto is registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    /// `uuid`: the charge id.
    pub uuid: String,
    /// `createdAt` (sent as a date-time with offset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// `updatedAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// `abatementValue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abatement_value: Option<Amount>,
    /// `applicableFine`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicable_fine: Option<Amount>,
    /// `daysWriteOffAfterDueDate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_write_off_after_due_date: Option<i64>,
    /// `clientControlNumber`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_control_number: Option<String>,
    /// `interestType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest_type: Option<String>,
    /// `monthlyInterest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_interest: Option<Amount>,
    /// `discountType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_type: Option<String>,
    /// `discountValue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_value: Option<Amount>,
    /// `dueDate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    /// `paymentMethod` (e.g. `boleto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// `status` (e.g. `pending`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `value`: the charge amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Amount>,
    /// `origin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// `boleto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boleto: Option<Boleto>,
    /// `updateStatus` (`cobranca-atualizacao`: completed / failed / completed_with_errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_status: Option<String>,
    /// `updateDetails` (`cobranca-atualizacao`; shape not documented, kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_details: Option<serde_json::Value>,
}

/// The `boleto` of a charge. Every field may be `null` until registration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct Boleto {
    /// `registrationMethod`.
    #[serde(default)]
    pub registration_method: Option<String>,
    /// `registrationStatus`.
    #[serde(default)]
    pub registration_status: Option<String>,
    /// `registrationDetails` (messages joined with ", ").
    #[serde(default)]
    pub registration_details: Option<String>,
    /// `ourNumber`.
    #[serde(default, deserialize_with = "super::opt_string_or_number")]
    pub our_number: Option<String>,
    /// `ourNumberDv`.
    #[serde(default, deserialize_with = "super::opt_string_or_number")]
    pub our_number_dv: Option<String>,
    /// `barCode`.
    #[serde(default)]
    pub bar_code: Option<String>,
    /// `lineCode`.
    #[serde(default)]
    pub line_code: Option<String>,
    /// `yourNumber`.
    #[serde(default, deserialize_with = "super::opt_string_or_number")]
    pub your_number: Option<String>,
    /// `pdf`: download URL.
    #[serde(default)]
    pub pdf: Option<String>,
    /// `quickPdfUrl`.
    #[serde(default)]
    pub quick_pdf_url: Option<String>,
    /// `emv`: the PIX copy-and-paste code of hybrid boletos.
    #[serde(default)]
    pub emv: Option<String>,
    /// `image`.
    #[serde(default)]
    pub image: Option<String>,
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    change: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

impl GrafenoEvent {
    /// Decodes a Grafeno body as received (the signature is not checked here).
    ///
    /// # Errors
    ///
    /// [`ParseError`] when the body is not a JSON object or has no string `change`.
    pub fn from_slice(body: &[u8]) -> Result<Self, ParseError> {
        let text = body_text(body)?;
        let wire: Wire<'_> = parse_object(text)?;
        let change_wire = match wire.change {
            None => return Err(ParseError::MissingField { field: "change" }),
            Some(raw) => raw_str(Some(raw)).ok_or(ParseError::InvalidField { field: "change" })?,
        };
        let change = GrafenoChange::from_wire(&change_wire);
        let null = RawValue::NULL;
        let raw = wire.data.unwrap_or(null);
        let drifted = |error: &serde_json::Error| GrafenoData::Drifted {
            raw: RawJson::new(raw),
            error: PayloadError::new(change.as_str(), error),
        };
        let data = if change.is_registration() {
            typed::<Registration>(raw).map_or_else(|e| drifted(&e), GrafenoData::Registration)
        } else if change.is_charge() {
            typed::<Charge>(raw).map_or_else(|e| drifted(&e), |c| GrafenoData::Charge(Box::new(c)))
        } else {
            GrafenoData::Unknown(RawJson::new(raw))
        };
        Ok(Self {
            change,
            data,
            change_wire,
        })
    }

    /// `change` exactly as received.
    #[must_use]
    pub fn change_str(&self) -> &str {
        &self.change_wire
    }

    /// The delivery id: the `x-unique-key` header of `request`, if present and UTF-8.
    #[must_use]
    pub fn delivery_id(request: &Request<'_>) -> Option<DeliveryId> {
        let value = std::str::from_utf8(request.header(UNIQUE_KEY_HEADER)?).ok()?;
        let value = value.trim();
        (!value.is_empty()).then(|| DeliveryId::new(Provider::Grafeno, value))
    }

    /// Whether the change has a typed variant.
    #[must_use]
    pub fn is_known(&self) -> bool {
        !matches!(self.change, GrafenoChange::Unknown(_))
    }

    /// The registration (`grafeno.registration`, keyed by `data.id`) or charge
    /// (`grafeno.charge`, keyed by `data.uuid`), also when `data` drifted but still carries that
    /// string. `None` for unknown changes: their `data` is not documented.
    #[must_use]
    pub fn entity(&self) -> Option<Entity> {
        match &self.data {
            GrafenoData::Registration(registration) => {
                Entity::new(GRAFENO_REGISTRATION, registration.id.as_str())
            }
            GrafenoData::Charge(charge) => Entity::new(GRAFENO_CHARGE, charge.uuid.as_str()),
            GrafenoData::Drifted { raw, .. } => {
                let loose: LooseData = serde_json::from_str(raw.get()).ok()?;
                if self.change.is_registration() {
                    Entity::new(GRAFENO_REGISTRATION, loose.id?)
                } else {
                    Entity::new(GRAFENO_CHARGE, loose.uuid?)
                }
            }
            GrafenoData::Unknown(_) => None,
        }
    }

    /// A charge's position: its `updatedAt` (Grafeno documents no order of charge statuses, so
    /// no rank). `None` for registrations, whose notifications carry no time at all, and for
    /// unknown changes.
    #[must_use]
    pub fn position(&self) -> Option<Position> {
        let updated_at = match &self.data {
            GrafenoData::Charge(charge) => charge.updated_at.clone(),
            GrafenoData::Drifted { raw, .. } if self.change.is_charge() => {
                serde_json::from_str::<LooseData>(raw.get())
                    .ok()?
                    .updated_at
            }
            _ => None,
        };
        let at = Timestamp::parse(&updated_at?).ok();
        Position::new(at, None, false)
    }

    /// Why a known change's `data` did not fit its type, if it did not.
    #[must_use]
    pub fn drift(&self) -> Option<&PayloadError> {
        match &self.data {
            GrafenoData::Drifted { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The identifying fields of a `data` that did not fit its type.
#[derive(Deserialize)]
struct LooseData {
    #[serde(default, deserialize_with = "loose_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    uuid: Option<String>,
    #[serde(rename = "updatedAt", default, deserialize_with = "loose_string")]
    updated_at: Option<String>,
}

/// A string, or `None` for anything else (a drifted field must not hide the others).
fn loose_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Some(text),
        _ => None,
    })
}

impl Serialize for GrafenoEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("change", &self.change_wire)?;
        match &self.data {
            GrafenoData::Registration(registration) => map.serialize_entry("data", registration)?,
            GrafenoData::Charge(charge) => map.serialize_entry("data", charge)?,
            GrafenoData::Drifted { raw, .. } | GrafenoData::Unknown(raw) => {
                map.serialize_entry("data", raw)?;
            }
        }
        map.end()
    }
}

/// Splits an `x-unique-key` value into its UUID and its status (which may itself contain
/// hyphens): `31216ba1-c507-688c-bea7-b7adf8cf2c1c-boleto-criado` → (uuid, `boleto-criado`).
/// Only the 8-4-4-4-12 hex shape is checked: Grafeno's own example is not a v4 UUID.
#[must_use]
pub fn split_unique_key(value: &str) -> Option<(&str, &str)> {
    let uuid = value.get(..36)?;
    let status = value.get(36..)?.strip_prefix('-')?;
    let shape_ok = uuid.bytes().enumerate().all(|(index, byte)| match index {
        8 | 13 | 18 | 23 => byte == b'-',
        _ => byte.is_ascii_hexdigit(),
    });
    (shape_ok && !status.is_empty()).then_some((uuid, status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_key_split() {
        assert_eq!(
            split_unique_key("31216ba1-c507-688c-bea7-b7adf8cf2c1c-boleto-criado"),
            Some(("31216ba1-c507-688c-bea7-b7adf8cf2c1c", "boleto-criado"))
        );
        for bad in [
            "",
            "31216ba1-c507-688c-bea7-b7adf8cf2c1c",
            "31216ba1-c507-688c-bea7-b7adf8cf2c1c-",
            "31216ba1xc507-688c-bea7-b7adf8cf2c1c-approved",
            "zz216ba1-c507-688c-bea7-b7adf8cf2c1c-approved",
            "31216ba1-c507-688c-bea7-b7adf8cf2c1cXapproved",
            "é1216ba1-c507-688c-bea7-b7adf8cf2c1c-approved",
        ] {
            assert_eq!(split_unique_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn both_update_spellings() {
        for spelling in ["cobranca-atualizacao", "atualizacao-cobranca"] {
            let body = format!(
                r#"{{"change":"{spelling}","data":{{"uuid":"u","value":5.2,"updateStatus":"failed"}}}}"#
            );
            let event = GrafenoEvent::from_slice(body.as_bytes()).unwrap();
            assert_eq!(event.change, GrafenoChange::CobrancaAtualizacao);
            assert_eq!(event.change_str(), spelling);
            let GrafenoData::Charge(charge) = &event.data else {
                panic!("{:?}", event.data)
            };
            assert_eq!(charge.value.as_ref().map(Amount::as_str), Some("5.2"));
            assert_eq!(charge.update_status.as_deref(), Some("failed"));
        }
    }

    #[test]
    fn unknown_and_drifted() {
        let event = GrafenoEvent::from_slice(br#"{"change":"paid","data":{"x":1}}"#).unwrap();
        assert!(!event.is_known());
        assert!(matches!(event.data, GrafenoData::Unknown(_)));
        let event = GrafenoEvent::from_slice(br#"{"change":"approved","data":{"id":7}}"#).unwrap();
        assert!(event.drift().is_some());
        let event = GrafenoEvent::from_slice(br#"{"change":"approved"}"#).unwrap();
        assert!(
            event.drift().is_some(),
            "data is required for a known change"
        );
    }

    #[test]
    fn change_is_required() {
        assert_eq!(
            GrafenoEvent::from_slice(br#"{"data":{}}"#),
            Err(ParseError::MissingField { field: "change" })
        );
        assert_eq!(
            GrafenoEvent::from_slice(br#"{"change":null}"#),
            Err(ParseError::MissingField { field: "change" })
        );
        assert_eq!(
            GrafenoEvent::from_slice(br#"{"change":["approved"]}"#),
            Err(ParseError::InvalidField { field: "change" })
        );
        assert_eq!(
            GrafenoEvent::from_slice(b"[]"),
            Err(ParseError::NotAnObject)
        );
    }
}
