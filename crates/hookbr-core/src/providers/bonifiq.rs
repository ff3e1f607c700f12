//! BonifiQ (loyalty programme) webhooks.
//!
//! BonifiQ posts an envelope `{"Uuid", "Timestamp", "Topic", "TopicName", "Payload"}`. Two
//! documentation generations disagree on `Topic`: the legacy help centre sends an integer id plus
//! a `TopicName`, the 2025 developer portal a topic-name string. Both decode here; the topic is
//! resolved from `TopicName`, else a string `Topic`, else the integer id (only the confirmed ids
//! 0 `Point_Add`, 3 `Communication_EarnPurchasePoints` and 4 `Communication_EarnBirthdayPoints`
//! are mapped).
//!
//! Merchants can replace the body with a custom template; a JSON body that is not the envelope
//! decodes to [`BonifiqEvent::Custom`] instead of failing.
//!
//! ```
//! use hookbr_core::bonifiq::{BonifiqEvent, BonifiqPayload};
//!
//! let body = br#"{"Uuid":"4834c95e-84f7-485e-90de-09353df57fd3","Timestamp":"2024-03-01T13:16:11.396371",
//!   "Topic":0,"TopicName":"Point_Add","Payload":{"Points":200,"PointType":0,"PointAction":1,
//!   "Customer":{"Email":"teste@bonifiq.com.br","Id":"152740926","Name":"Teste Nivel Base"},
//!   "PointsBalance":{"PointsBalance":300,"CashbackBalance":210},"PointId":4740}}"#;
//! let BonifiqEvent::Envelope(envelope) = BonifiqEvent::from_slice(body)? else { unreachable!() };
//! let BonifiqPayload::PointAdd(points) = &envelope.payload else { unreachable!() };
//! assert_eq!(points.points, 200);
//! assert_eq!(envelope.topic.as_str(), "Point_Add");
//! # Ok::<(), hookbr_core::ParseError>(())
//! ```

use serde::{Deserialize, Serialize, Serializer, ser::SerializeMap};
use serde_json::value::RawValue;

use super::{RawJson, body_text, json_i64, json_str, opt_string_or_number, raw_str, typed};
use crate::{
    DeliveryId, ParseError, PayloadError, Provider, Timestamp,
    entity::{BONIFIQ_CUSTOMER, Entity, Position},
};

/// A BonifiQ delivery.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BonifiqEvent {
    /// The standard envelope.
    Envelope(Box<BonifiqEnvelope>),
    /// A JSON body that is not the standard envelope (the merchant configured a custom body
    /// template), kept as received.
    Custom(RawJson),
}

/// The standard BonifiQ envelope.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BonifiqEnvelope {
    /// `Uuid`: the delivery's idempotency key.
    pub uuid: String,
    /// `Timestamp`: when the event was created (UTC); `None` if absent or unparsable.
    pub timestamp: Option<Timestamp>,
    /// The resolved topic.
    pub topic: BonifiqTopic,
    /// `Topic` exactly as sent: an integer id (legacy) or a name (2025 docs).
    pub topic_field: TopicField,
    /// `TopicName` as sent (legacy envelopes only).
    pub topic_name: Option<String>,
    /// `Payload`, typed by topic.
    pub payload: BonifiqPayload,
}

/// The `Topic` field as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicField {
    /// An integer topic id (legacy envelopes).
    Id(i64),
    /// A topic name (2025 envelopes).
    Name(String),
    /// Absent: only `TopicName` was sent.
    Absent,
}

macro_rules! bonifiq_topics {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $id:expr, $payload:ty; )*) => {
        /// A BonifiQ topic. The 14 topics named in BonifiQ's docs have variants; the others
        /// (BonifiQ lists 26, not all public) are [`BonifiqTopic::Unknown`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum BonifiqTopic {
            $( $(#[$doc])* $variant, )*
            /// A topic hookbr has no type for: its name as received, or its integer id as text.
            Unknown(String),
        }

        impl BonifiqTopic {
            /// The topic for a wire name; unknown names give [`BonifiqTopic::Unknown`].
            #[must_use]
            pub fn from_name(name: &str) -> Self {
                match name {
                    $( $name => Self::$variant, )*
                    other => Self::Unknown(other.to_owned()),
                }
            }

            /// The topic for a confirmed integer id (0, 3, 4); other ids give
            /// [`BonifiqTopic::Unknown`] holding the id as text.
            #[must_use]
            pub fn from_id(id: i64) -> Self {
                $( if $id == Some(id) { return Self::$variant; } )*
                Self::Unknown(id.to_string())
            }

            /// The wire name (`Point_Add`, ...), or what was received for unknown topics.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $name, )*
                    Self::Unknown(name) => name,
                }
            }

            /// Whether hookbr has a typed payload for this topic.
            #[must_use]
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }

        /// A BonifiQ `Payload`, typed by topic.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum BonifiqPayload {
            $( $(#[$doc])* $variant(Box<$payload>), )*
            /// A known topic whose payload did not fit its type: the raw JSON and why.
            Drifted {
                /// The payload as received.
                raw: RawJson,
                /// Why it did not fit.
                error: PayloadError,
            },
            /// An unknown topic's payload, as received.
            Unknown(RawJson),
        }

        impl BonifiqPayload {
            fn decode(topic: &BonifiqTopic, raw: &RawValue) -> Self {
                match topic {
                    $( BonifiqTopic::$variant => match typed::<$payload>(raw) {
                        Ok(payload) => Self::$variant(Box::new(payload)),
                        Err(error) => Self::Drifted {
                            raw: RawJson::new(raw),
                            error: PayloadError::new($name, &error),
                        },
                    }, )*
                    BonifiqTopic::Unknown(_) => Self::Unknown(RawJson::new(raw)),
                }
            }
        }

        impl BonifiqPayload {
            /// The `Customer` of a typed payload (every known topic has one).
            #[must_use]
            pub fn customer(&self) -> Option<&Customer> {
                match self {
                    $( Self::$variant(payload) => Some(&payload.customer), )*
                    Self::Drifted { .. } | Self::Unknown(_) => None,
                }
            }
        }

        impl Serialize for BonifiqPayload {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Self::$variant(payload) => payload.serialize(serializer), )*
                    Self::Drifted { raw, .. } | Self::Unknown(raw) => raw.serialize(serializer),
                }
            }
        }
    };
}

bonifiq_topics! {
    /// `Point_Add`: points credited.
    PointAdd = "Point_Add", Some(0), PointPayload;
    /// `Point_Remove`: points debited (payload shape assumed equal to `Point_Add`).
    PointRemove = "Point_Remove", None::<i64>, PointPayload;
    /// `Point_Update`: a point record changed (payload shape assumed equal to `Point_Add`).
    PointUpdate = "Point_Update", None::<i64>, PointPayload;
    /// `Communication_EarnPurchasePoints`: points for a purchase.
    EarnPurchasePoints = "Communication_EarnPurchasePoints", Some(3), EarnPointsPayload;
    /// `Communication_EarnBirthdayPoints`: points for a birthday.
    EarnBirthdayPoints = "Communication_EarnBirthdayPoints", Some(4), EarnPointsPayload;
    /// `Communication_EarnSignupPoints`: points for signing up.
    EarnSignupPoints = "Communication_EarnSignupPoints", None::<i64>, EarnPointsPayload;
    /// `Communication_EarnReviewPoints`: points for a review.
    EarnReviewPoints = "Communication_EarnReviewPoints", None::<i64>, EarnPointsPayload;
    /// `Communication_ReferralCommunicationPoints`: points for a referral.
    ReferralCommunicationPoints = "Communication_ReferralCommunicationPoints", None::<i64>, EarnPointsPayload;
    /// `Communication_EarnQuizPoints`: points for a quiz.
    EarnQuizPoints = "Communication_EarnQuizPoints", None::<i64>, EarnPointsPayload;
    /// `Communication_EarnCustomObjectivePoints`: points for a custom objective.
    EarnCustomObjectivePoints = "Communication_EarnCustomObjectivePoints", None::<i64>, EarnPointsPayload;
    /// `Communication_EarnSocialMediaFollowInstagram`: points for following on Instagram.
    EarnSocialMediaFollowInstagram = "Communication_EarnSocialMediaFollowInstagram", None::<i64>, EarnPointsPayload;
    /// `Communication_EarnSocialMediaFollowFacebook`: points for following on Facebook.
    EarnSocialMediaFollowFacebook = "Communication_EarnSocialMediaFollowFacebook", None::<i64>, EarnPointsPayload;
    /// `Communication_EarnSocialMediaFollowLinkedin`: points for following on LinkedIn.
    EarnSocialMediaFollowLinkedin = "Communication_EarnSocialMediaFollowLinkedin", None::<i64>, EarnPointsPayload;
    /// `Communication_EarnSocialMediaFollowTikTok`: points for following on TikTok.
    EarnSocialMediaFollowTikTok = "Communication_EarnSocialMediaFollowTikTok", None::<i64>, EarnPointsPayload;
}

/// The BonifiQ `Customer` object. Every field is optional: the docs show different subsets and
/// `null`s in practice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Customer {
    /// `Email`.
    #[serde(rename = "Email", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `Id`: the customer's id in the origin platform (may be the e-mail or a document).
    #[serde(
        rename = "Id",
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// `Name`.
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Phone`, as registered (format varies).
    #[serde(
        rename = "Phone",
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<String>,
    /// `Document` (e.g. CPF).
    #[serde(
        rename = "Document",
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub document: Option<String>,
    /// `BirthdayDate`, as sent (ISO 8601, often without an offset).
    #[serde(
        rename = "BirthdayDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub birthday_date: Option<String>,
    /// `PointsBalance`: the balance at event time (2025 docs; may not reflect the event).
    #[serde(
        rename = "PointsBalance",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub points_balance: Option<i64>,
}

/// `PointType` (BonifiQ's value table is not public; the integer as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PointType(pub i64);

/// `PointAction` (BonifiQ's value table is not public; the integer as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PointAction(pub i64);

/// `ObjectiveType`: what the points were earned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObjectiveType {
    /// 0: points for purchases.
    Purchase,
    /// 2: points for a birthday.
    Birthday,
    /// Any other value (BonifiQ's full table is not public).
    Other(i64),
}

impl From<i64> for ObjectiveType {
    fn from(value: i64) -> Self {
        match value {
            0 => Self::Purchase,
            2 => Self::Birthday,
            other => Self::Other(other),
        }
    }
}

impl From<ObjectiveType> for i64 {
    fn from(value: ObjectiveType) -> Self {
        match value {
            ObjectiveType::Purchase => 0,
            ObjectiveType::Birthday => 2,
            ObjectiveType::Other(other) => other,
        }
    }
}

impl Serialize for ObjectiveType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(i64::from(*self))
    }
}

impl<'de> Deserialize<'de> for ObjectiveType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        i64::deserialize(deserializer).map(Self::from)
    }
}

/// `PointsBalance` inside a point payload: an object in the legacy docs, a bare integer
/// elsewhere. Both decode.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum PointsBalance {
    /// `{"PointsBalance": 300, "CashbackBalance": 210}`.
    Balances {
        /// `PointsBalance`.
        #[serde(rename = "PointsBalance", default)]
        points_balance: Option<i64>,
        /// `CashbackBalance` (a JSON number, kept exactly as sent).
        #[serde(rename = "CashbackBalance", default)]
        cashback_balance: Option<serde_json::Number>,
    },
    /// A bare integer balance.
    Points(i64),
}

impl<'de> Deserialize<'de> for PointsBalance {
    // By hand rather than `untagged`: serde buffers a value before trying an untagged enum's
    // variants, which cost as much as the rest of a `Point_Add` decode.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Balance;

        impl<'de> serde::de::Visitor<'de> for Balance {
            type Value = PointsBalance;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer or an object with PointsBalance and CashbackBalance")
            }

            fn visit_i64<E>(self, points: i64) -> Result<Self::Value, E> {
                Ok(PointsBalance::Points(points))
            }

            fn visit_u64<E: serde::de::Error>(self, points: u64) -> Result<Self::Value, E> {
                i64::try_from(points)
                    .map(PointsBalance::Points)
                    .map_err(|_| E::custom("PointsBalance out of range"))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let (mut points_balance, mut cashback_balance) = (None, None);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match &*key {
                        "PointsBalance" => points_balance = map.next_value::<Option<i64>>()?,
                        "CashbackBalance" => {
                            cashback_balance = map.next_value::<Option<serde_json::Number>>()?;
                        }
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(PointsBalance::Balances {
                    points_balance,
                    cashback_balance,
                })
            }
        }

        deserializer.deserialize_any(Balance)
    }
}

/// The payload of `Point_Add` (and, by assumption, `Point_Remove` and `Point_Update`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PointPayload {
    /// `Points`: the amount of points.
    #[serde(rename = "Points")]
    pub points: i64,
    /// `PointType`.
    #[serde(rename = "PointType", default, skip_serializing_if = "Option::is_none")]
    pub point_type: Option<PointType>,
    /// `PointAction`.
    #[serde(
        rename = "PointAction",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub point_action: Option<PointAction>,
    /// `Customer`.
    #[serde(rename = "Customer", default)]
    pub customer: Customer,
    /// `PointsBalance`.
    #[serde(
        rename = "PointsBalance",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub points_balance: Option<PointsBalance>,
    /// `PointId`: the point record (a good secondary idempotency key).
    #[serde(rename = "PointId", default, skip_serializing_if = "Option::is_none")]
    pub point_id: Option<i64>,
}

/// The payload of the `Communication_Earn*` topics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EarnPointsPayload {
    /// `EarnedPoints`: points earned by the objective.
    #[serde(rename = "EarnedPoints")]
    pub earned_points: i64,
    /// `ObjectiveType`.
    #[serde(
        rename = "ObjectiveType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub objective_type: Option<ObjectiveType>,
    /// `Customer`.
    #[serde(rename = "Customer", default)]
    pub customer: Customer,
}

#[derive(Deserialize)]
struct WireEnvelope<'a> {
    #[serde(rename = "Uuid", borrow, default)]
    uuid: Option<&'a RawValue>,
    #[serde(rename = "Timestamp", borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(rename = "Topic", borrow, default)]
    topic: Option<&'a RawValue>,
    #[serde(rename = "TopicName", borrow, default)]
    topic_name: Option<&'a RawValue>,
    #[serde(rename = "Payload", borrow, default)]
    payload: Option<&'a RawValue>,
}

impl BonifiqEvent {
    /// Decodes a BonifiQ body as received.
    ///
    /// # Errors
    ///
    /// [`ParseError`] when the body is empty, not UTF-8 or not JSON. Any JSON decodes: the
    /// envelope, or [`BonifiqEvent::Custom`].
    pub fn from_slice(body: &[u8]) -> Result<Self, ParseError> {
        let text = body_text(body)?;
        if !text.trim_start().starts_with('{') {
            // serde would also read a JSON array as the envelope, field by field.
            return custom(text);
        }
        let wire = match serde_json::from_str::<WireEnvelope<'_>>(text) {
            Ok(wire) => wire,
            Err(error) if error.is_data() => return custom(text),
            Err(error) => return Err(ParseError::from_json(&error)),
        };
        let uuid = raw_str(wire.uuid).filter(|uuid| !uuid.is_empty());
        let topic_field = match wire.topic {
            Some(raw) => match json_i64(raw) {
                Some(id) => TopicField::Id(id),
                None => raw_str(Some(raw)).map_or(TopicField::Absent, TopicField::Name),
            },
            None => TopicField::Absent,
        };
        let topic_name = raw_str(wire.topic_name);
        let (Some(uuid), Some(payload)) = (uuid, wire.payload) else {
            return custom(text);
        };
        let topic = match (&topic_name, &topic_field) {
            (Some(name), _) | (None, TopicField::Name(name)) => BonifiqTopic::from_name(name),
            (None, TopicField::Id(id)) => BonifiqTopic::from_id(*id),
            (None, TopicField::Absent) => return custom(text),
        };
        let timestamp = wire
            .timestamp
            .and_then(json_str)
            .and_then(|t| Timestamp::parse(&t).ok());
        let payload = BonifiqPayload::decode(&topic, payload);
        Ok(Self::Envelope(Box::new(BonifiqEnvelope {
            uuid,
            timestamp,
            topic,
            topic_field,
            topic_name,
            payload,
        })))
    }

    /// The delivery id: the envelope's `Uuid`; `None` for custom bodies (the pipeline then uses
    /// a digest of the body).
    #[must_use]
    pub fn delivery_id(&self) -> Option<DeliveryId> {
        match self {
            Self::Envelope(envelope) => {
                Some(DeliveryId::new(Provider::Bonifiq, envelope.uuid.as_str()))
            }
            Self::Custom(_) => None,
        }
    }

    /// The topic name (`Point_Add`, ...), the received value for unknown topics, or `custom`.
    #[must_use]
    pub fn kind(&self) -> &str {
        match self {
            Self::Envelope(envelope) => envelope.topic.as_str(),
            Self::Custom(_) => "custom",
        }
    }

    /// Whether the topic has a typed payload.
    #[must_use]
    pub fn is_known(&self) -> bool {
        matches!(self, Self::Envelope(envelope) if envelope.topic.is_known())
    }

    /// `Timestamp`, when present and parsable.
    #[must_use]
    pub fn occurred_at(&self) -> Option<Timestamp> {
        match self {
            Self::Envelope(envelope) => envelope.timestamp,
            Self::Custom(_) => None,
        }
    }

    /// The customer (`bonifiq.customer`, keyed by `Payload.Customer.Id`, a string or a number).
    /// Unknown topics and drifted payloads are read too, since BonifiQ documents `Customer` as
    /// common to payloads. `None` for custom bodies and when `Id` is absent, `null` or empty
    /// (the legacy examples send `null`).
    #[must_use]
    pub fn entity(&self) -> Option<Entity> {
        let Self::Envelope(envelope) = self else {
            return None;
        };
        let id = match &envelope.payload {
            BonifiqPayload::Drifted { raw, .. } | BonifiqPayload::Unknown(raw) => {
                #[derive(Deserialize)]
                struct Loose {
                    #[serde(rename = "Customer", default)]
                    customer: Option<LooseCustomer>,
                }
                #[derive(Deserialize)]
                struct LooseCustomer {
                    #[serde(rename = "Id", default, deserialize_with = "opt_string_or_number")]
                    id: Option<String>,
                }
                serde_json::from_str::<Loose>(raw.get())
                    .ok()?
                    .customer?
                    .id?
            }
            payload => payload.customer()?.id.clone()?,
        };
        Entity::new(BONIFIQ_CUSTOMER, id)
    }

    /// The position: `Timestamp` (BonifiQ documents no lifecycle, so no rank). `None` for
    /// custom bodies and when `Timestamp` is absent or unparsable.
    #[must_use]
    pub fn position(&self) -> Option<Position> {
        Position::new(self.occurred_at(), None, false)
    }

    /// Why a known topic's payload did not fit its type, if it did not.
    #[must_use]
    pub fn drift(&self) -> Option<&PayloadError> {
        match self {
            Self::Envelope(envelope) => match &envelope.payload {
                BonifiqPayload::Drifted { error, .. } => Some(error),
                _ => None,
            },
            Self::Custom(_) => None,
        }
    }
}

fn custom(text: &str) -> Result<BonifiqEvent, ParseError> {
    RawJson::from_text(text).map(BonifiqEvent::Custom)
}

impl Serialize for BonifiqEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Envelope(envelope) => envelope.serialize(serializer),
            Self::Custom(raw) => raw.serialize(serializer),
        }
    }
}

impl Serialize for BonifiqEnvelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("Uuid", &self.uuid)?;
        map.serialize_entry("Timestamp", &self.timestamp)?;
        match &self.topic_field {
            TopicField::Id(id) => map.serialize_entry("Topic", id)?,
            TopicField::Name(name) => map.serialize_entry("Topic", name)?,
            TopicField::Absent => {}
        }
        if let Some(name) = &self.topic_name {
            map.serialize_entry("TopicName", name)?;
        }
        map.serialize_entry("Payload", &self.payload)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_balance_shapes() {
        let parse = |text: &str| serde_json::from_str::<PointsBalance>(text);
        assert_eq!(parse("300").unwrap(), PointsBalance::Points(300));
        assert_eq!(parse("-5").unwrap(), PointsBalance::Points(-5));
        assert_eq!(
            parse(r#"{"PointsBalance": 300, "CashbackBalance": 21.50, "Other": [1]}"#).unwrap(),
            PointsBalance::Balances {
                points_balance: Some(300),
                cashback_balance: Some(serde_json::Number::from_f64(21.5).unwrap()),
            }
        );
        assert_eq!(
            parse(r#"{"PointsBalance": null}"#).unwrap(),
            PointsBalance::Balances {
                points_balance: None,
                cashback_balance: None,
            }
        );
        for bad in [
            "1.5",
            "\"300\"",
            "18446744073709551615",
            r#"{"PointsBalance": "x"}"#,
            "null",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // Round trip through the untagged serialization.
        for text in ["300", r#"{"PointsBalance":300,"CashbackBalance":210}"#] {
            let value = parse(text).unwrap();
            assert_eq!(serde_json::to_string(&value).unwrap(), text);
        }
    }

    #[test]
    fn ids_are_strings_or_numbers() {
        #[derive(Deserialize, Debug)]
        struct Id {
            #[serde(default, deserialize_with = "opt_string_or_number")]
            id: Option<String>,
        }
        let parse = |text: &str| serde_json::from_str::<Id>(text).map(|id| id.id);
        assert_eq!(
            parse(r#"{"id": "152740926"}"#).unwrap().as_deref(),
            Some("152740926")
        );
        assert_eq!(
            parse(r#"{"id": 152740926}"#).unwrap().as_deref(),
            Some("152740926")
        );
        assert_eq!(parse(r#"{"id": -3}"#).unwrap().as_deref(), Some("-3"));
        assert_eq!(parse(r#"{"id": 1.5}"#).unwrap().as_deref(), Some("1.5"));
        assert_eq!(parse(r#"{"id": null}"#).unwrap(), None);
        assert_eq!(parse("{}").unwrap(), None);
        assert!(parse(r#"{"id": true}"#).is_err());
        assert!(parse(r#"{"id": {"a": 1}}"#).is_err());
    }

    fn envelope(body: &str) -> BonifiqEnvelope {
        match BonifiqEvent::from_slice(body.as_bytes()).unwrap() {
            BonifiqEvent::Envelope(envelope) => *envelope,
            BonifiqEvent::Custom(raw) => panic!("custom: {}", raw.get()),
        }
    }

    #[test]
    fn topic_resolution_order() {
        let e =
            envelope(r#"{"Uuid":"u","Topic":3,"TopicName":"Point_Add","Payload":{"Points":1}}"#);
        assert_eq!(e.topic, BonifiqTopic::PointAdd, "TopicName wins");
        let e = envelope(
            r#"{"Uuid":"u","Topic":"Communication_EarnQuizPoints","Payload":{"EarnedPoints":5}}"#,
        );
        assert_eq!(e.topic, BonifiqTopic::EarnQuizPoints);
        let e = envelope(r#"{"Uuid":"u","Topic":4,"Payload":{"EarnedPoints":5}}"#);
        assert_eq!(e.topic, BonifiqTopic::EarnBirthdayPoints);
        let e = envelope(r#"{"Uuid":"u","Topic":1,"Payload":{}}"#);
        assert_eq!(
            e.topic,
            BonifiqTopic::Unknown("1".into()),
            "id 1 is not confirmed"
        );
        assert!(matches!(e.payload, BonifiqPayload::Unknown(_)));
    }

    #[test]
    fn every_topic_name_round_trips() {
        for name in [
            "Point_Add",
            "Point_Remove",
            "Point_Update",
            "Communication_EarnPurchasePoints",
            "Communication_EarnBirthdayPoints",
            "Communication_EarnSignupPoints",
            "Communication_EarnReviewPoints",
            "Communication_ReferralCommunicationPoints",
            "Communication_EarnQuizPoints",
            "Communication_EarnCustomObjectivePoints",
            "Communication_EarnSocialMediaFollowInstagram",
            "Communication_EarnSocialMediaFollowFacebook",
            "Communication_EarnSocialMediaFollowLinkedin",
            "Communication_EarnSocialMediaFollowTikTok",
        ] {
            let topic = BonifiqTopic::from_name(name);
            assert!(topic.is_known(), "{name}");
            assert_eq!(topic.as_str(), name);
        }
    }

    #[test]
    fn points_balance_object_or_integer() {
        let e = envelope(r#"{"Uuid":"u","Topic":0,"Payload":{"Points":1,"PointsBalance":7}}"#);
        let BonifiqPayload::PointAdd(p) = e.payload else {
            panic!()
        };
        assert_eq!(p.points_balance, Some(PointsBalance::Points(7)));
    }

    #[test]
    fn drifted_payload_keeps_raw_and_error() {
        let e = envelope(r#"{"Uuid":"u","Topic":0,"Payload":{"Points":"duzentos"}}"#);
        let BonifiqPayload::Drifted { raw, error } = e.payload else {
            panic!()
        };
        assert_eq!(raw.get(), r#"{"Points":"duzentos"}"#);
        assert_eq!(error.kind(), "Point_Add");
    }

    #[test]
    fn non_envelope_json_is_custom() {
        for body in [
            r#"{"cliente":"x","pontos":10}"#,
            "[1,2,3]",
            r#"["u","2024-01-01T00:00:00Z",0,"Point_Add",{"Points":5}]"#,
            "42",
            r#"{"Uuid":5,"Topic":0,"Payload":{}}"#,
            r#"{"Uuid":"u","Payload":{}}"#,
            r#"{"Uuid":"","Topic":0,"Payload":{}}"#,
        ] {
            let event = BonifiqEvent::from_slice(body.as_bytes()).unwrap();
            assert!(matches!(event, BonifiqEvent::Custom(_)), "{body}");
            assert_eq!(event.kind(), "custom");
            assert!(event.delivery_id().is_none());
        }
    }

    #[test]
    fn not_json_is_an_error() {
        assert_eq!(BonifiqEvent::from_slice(b""), Err(ParseError::Empty));
        assert_eq!(
            BonifiqEvent::from_slice(b"\xff\xfe"),
            Err(ParseError::NotUtf8)
        );
        assert!(matches!(
            BonifiqEvent::from_slice(b"{\"Uuid\":"),
            Err(ParseError::NotJson { .. })
        ));
        assert!(matches!(
            BonifiqEvent::from_slice(b"{\"a\":1}{"),
            Err(ParseError::NotJson { .. })
        ));
    }
}
