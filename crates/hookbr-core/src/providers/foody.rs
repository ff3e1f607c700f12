//! Foody Delivery order webhooks.
//!
//! Foody posts `{"uid", "updateDate", "event", "token", "status"}`. `token` authenticates the
//! delivery (see [`BodyTokenVerifier`](crate::verify::BodyTokenVerifier)) and is deliberately
//! absent from the typed event: it is a secret. `uid` is the *order* id, so the delivery id is a
//! digest of (`uid`, `status`, `updateDate`).
//!
//! When a trigger is created or edited Foody sends `hook_test`, and refuses to save the trigger
//! unless the URL answers exactly `200`.
//!
//! ```
//! use hookbr_core::foody::{FoodyEvent, FoodyStatus};
//!
//! let body = br#"{"uid":"4228df3a-a54a-40d7-b30f-1385eca4c3dd","updateDate":"2020-06-19T17:42:12Z",
//!   "event":"order_status_updated","token":"2b100082b90d4ad9b4fezzed960cf652","status":"dispatched"}"#;
//! let FoodyEvent::OrderStatusUpdated(update) = FoodyEvent::from_slice(body)? else { unreachable!() };
//! assert_eq!(update.status, FoodyStatus::Dispatched);
//! assert_eq!(update.update_date.to_string(), "2020-06-19T17:42:12Z");
//! # Ok::<(), hookbr_core::ParseError>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize, Serializer, ser::SerializeMap};
use serde_json::value::RawValue;

use super::{RawJson, body_text, json_str, parse_object, raw_str};
use crate::{
    DeliveryId, ParseError, PayloadError, Provider, Timestamp,
    entity::{Entity, FOODY_ORDER, Position},
};

/// The `event` value of an order status change.
pub const ORDER_STATUS_UPDATED: &str = "order_status_updated";
/// The `event` value of the registration handshake.
pub const HOOK_TEST: &str = "hook_test";

/// A Foody Delivery webhook.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FoodyEvent {
    /// `order_status_updated`: an order changed status.
    OrderStatusUpdated(OrderStatusUpdated),
    /// `hook_test`: the handshake Foody sends when a trigger is saved.
    HookTest(HookTest),
    /// `order_status_updated` whose fields did not fit (missing `uid`, unparsable date, ...):
    /// the body without its token, and why.
    Drifted {
        /// The body as received, minus `token`.
        raw: RawJson,
        /// Why it did not fit.
        error: PayloadError,
    },
    /// An `event` hookbr does not know: its name and the body minus `token`.
    Unknown {
        /// The `event` value.
        event: String,
        /// The body as received, minus `token`.
        raw: RawJson,
    },
}

/// `order_status_updated`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrderStatusUpdated {
    /// `uid`: Foody's order id (use it with `GET /rest/1.2/orders/{uid}` for the full order).
    pub uid: String,
    /// `updateDate`.
    pub update_date: Timestamp,
    /// `status`: the new status.
    pub status: FoodyStatus,
}

/// `hook_test`. Its body is not documented; the fields are kept when present.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HookTest {
    /// `uid`, if sent.
    pub uid: Option<String>,
    /// `updateDate`, if sent and parsable.
    pub update_date: Option<Timestamp>,
}

/// An order status. Only `open` and `dispatched` appear in Foody's public docs; the others
/// follow the documented concepts (ready, delivered, closed, cancelled). Matching ignores ASCII
/// case, `canceled` is accepted, and anything else is [`FoodyStatus::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FoodyStatus {
    /// `open`.
    Open,
    /// `ready`.
    Ready,
    /// `dispatched`: handed to the courier.
    Dispatched,
    /// `delivered`.
    Delivered,
    /// `closed`.
    Closed,
    /// `cancelled` (or `canceled`).
    Cancelled,
    /// Any other value, as received.
    Other(String),
}

impl FoodyStatus {
    /// Maps a wire value.
    #[must_use]
    pub fn from_wire(value: &str) -> Self {
        const KNOWN: [(&str, FoodyStatus); 7] = [
            ("open", FoodyStatus::Open),
            ("ready", FoodyStatus::Ready),
            ("dispatched", FoodyStatus::Dispatched),
            ("delivered", FoodyStatus::Delivered),
            ("closed", FoodyStatus::Closed),
            ("cancelled", FoodyStatus::Cancelled),
            ("canceled", FoodyStatus::Cancelled),
        ];
        KNOWN
            .into_iter()
            .find(|(wire, _)| wire.eq_ignore_ascii_case(value))
            .map_or_else(|| Self::Other(value.to_owned()), |(_, status)| status)
    }

    /// The wire value (`cancelled` for both spellings; `Other` as received).
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Open => "open",
            Self::Ready => "ready",
            Self::Dispatched => "dispatched",
            Self::Delivered => "delivered",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
            Self::Other(other) => other,
        }
    }
}

impl FoodyStatus {
    /// The status's rank in the order lifecycle `open` (0) → `ready` (1) → `dispatched` (2) →
    /// `delivered` (3) → `closed` | `cancelled` (4); `None` for [`FoodyStatus::Other`]. See
    /// docs/ENTITIES.md for the sources.
    #[must_use]
    pub fn rank(&self) -> Option<u8> {
        match self {
            Self::Open => Some(0),
            Self::Ready => Some(1),
            Self::Dispatched => Some(2),
            Self::Delivered => Some(3),
            Self::Closed | Self::Cancelled => Some(4),
            Self::Other(_) => None,
        }
    }

    /// Whether the status ends the order's lifecycle (`closed`, `cancelled`).
    #[must_use]
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Closed | Self::Cancelled)
    }
}

impl fmt::Display for FoodyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FoodyStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    uid: Option<&'a RawValue>,
    #[serde(rename = "updateDate", borrow, default)]
    update_date: Option<&'a RawValue>,
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    status: Option<&'a RawValue>,
}

impl FoodyEvent {
    /// Decodes a Foody body as received.
    ///
    /// # Errors
    ///
    /// [`ParseError`] when the body is not a JSON object, or has no string `event`.
    pub fn from_slice(body: &[u8]) -> Result<Self, ParseError> {
        let text = body_text(body)?;
        let wire: Wire<'_> = parse_object(text)?;
        let event = match wire.event {
            None => return Err(ParseError::MissingField { field: "event" }),
            Some(raw) => json_str(raw).ok_or(ParseError::InvalidField { field: "event" })?,
        };
        let uid = raw_str(wire.uid);
        let update_date = wire.update_date.and_then(json_str);
        match &*event {
            ORDER_STATUS_UPDATED => {
                let fitted = (|| {
                    let uid = uid.ok_or("field `uid` is missing or not a string")?;
                    let update_date =
                        update_date.ok_or("field `updateDate` is missing or not a string")?;
                    let update_date = Timestamp::parse(&update_date)
                        .map_err(|_| "field `updateDate` is not a date-time")?;
                    let status = wire
                        .status
                        .and_then(json_str)
                        .ok_or("field `status` is missing or not a string")?;
                    Ok::<_, &str>(OrderStatusUpdated {
                        uid,
                        update_date,
                        status: FoodyStatus::from_wire(&status),
                    })
                })();
                Ok(match fitted {
                    Ok(update) => Self::OrderStatusUpdated(update),
                    Err(message) => Self::Drifted {
                        raw: without_token(text)?,
                        error: PayloadError::with_message(ORDER_STATUS_UPDATED, message),
                    },
                })
            }
            HOOK_TEST => Ok(Self::HookTest(HookTest {
                uid,
                update_date: update_date.and_then(|date| Timestamp::parse(&date).ok()),
            })),
            _ => Ok(Self::Unknown {
                raw: without_token(text)?,
                event: event.into_owned(),
            }),
        }
    }

    /// The delivery id: a digest of (`uid`, `status`, `updateDate`). Dates are compared as
    /// instants, so the same moment written with another offset or more fraction digits is the
    /// same delivery. `None` when the body has no `uid` (nothing identifies it).
    #[must_use]
    pub fn delivery_id(&self) -> Option<DeliveryId> {
        match self {
            Self::OrderStatusUpdated(update) => Some(id_of(
                &update.uid,
                update.status.as_str(),
                &instant(update.update_date),
            )),
            Self::HookTest(test) => {
                let date = test.update_date.map(instant).unwrap_or_default();
                Some(id_of(test.uid.as_deref()?, "", &date))
            }
            Self::Drifted { raw, .. } | Self::Unknown { raw, .. } => {
                let wire: Wire<'_> = serde_json::from_str(raw.get()).ok()?;
                // Without the order uid nothing identifies the delivery: the pipeline then
                // falls back to a digest of the body rather than merging unrelated events.
                let uid = raw_str(wire.uid).filter(|uid| !uid.is_empty())?;
                let date = raw_str(wire.update_date).unwrap_or_default();
                let date = Timestamp::parse(&date).map_or(date, instant);
                Some(id_of(
                    &uid,
                    &raw_str(wire.status).unwrap_or_default(),
                    &date,
                ))
            }
        }
    }

    /// The `event` value.
    #[must_use]
    pub fn kind(&self) -> &str {
        match self {
            Self::OrderStatusUpdated(_) | Self::Drifted { .. } => ORDER_STATUS_UPDATED,
            Self::HookTest(_) => HOOK_TEST,
            Self::Unknown { event, .. } => event,
        }
    }

    /// Whether the event has a typed variant.
    #[must_use]
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown { .. })
    }

    /// `updateDate`, when present and parsable.
    #[must_use]
    pub fn occurred_at(&self) -> Option<Timestamp> {
        match self {
            Self::OrderStatusUpdated(update) => Some(update.update_date),
            Self::HookTest(test) => test.update_date,
            Self::Drifted { raw, .. } | Self::Unknown { raw, .. } => {
                let wire: Wire<'_> = serde_json::from_str(raw.get()).ok()?;
                Timestamp::parse(&raw_str(wire.update_date)?).ok()
            }
        }
    }

    /// The order (`foody.order`, keyed by `uid`) of an `order_status_updated`, also when it
    /// drifted but still carries a string `uid`. `None` for `hook_test` (about no order) and
    /// unknown events.
    #[must_use]
    pub fn entity(&self) -> Option<Entity> {
        match self {
            Self::OrderStatusUpdated(update) => Entity::new(FOODY_ORDER, update.uid.as_str()),
            Self::Drifted { raw, .. } => {
                let wire: Wire<'_> = serde_json::from_str(raw.get()).ok()?;
                Entity::new(FOODY_ORDER, raw_str(wire.uid)?)
            }
            Self::HookTest(_) | Self::Unknown { .. } => None,
        }
    }

    /// The order's position: `updateDate` and the status's [`rank`](FoodyStatus::rank). `None`
    /// when [`entity`](Self::entity) is.
    #[must_use]
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::OrderStatusUpdated(update) => Position::new(
                Some(update.update_date),
                update.status.rank(),
                update.status.is_terminal(),
            ),
            Self::Drifted { raw, .. } => {
                let wire: Wire<'_> = serde_json::from_str(raw.get()).ok()?;
                let at = raw_str(wire.update_date).and_then(|date| Timestamp::parse(&date).ok());
                let status = raw_str(wire.status).map(|status| FoodyStatus::from_wire(&status));
                Position::new(
                    at,
                    status.as_ref().and_then(FoodyStatus::rank),
                    status.as_ref().is_some_and(FoodyStatus::is_terminal),
                )
            }
            Self::HookTest(_) | Self::Unknown { .. } => None,
        }
    }

    /// Why an `order_status_updated` did not fit its type, if it did not.
    #[must_use]
    pub fn drift(&self) -> Option<&PayloadError> {
        match self {
            Self::Drifted { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// An instant as text independent of how it was written (offset, fraction digits).
///
/// The text is `{seconds}.{nanoseconds:09}`, as `format!` writes it (it is hashed into delivery
/// ids, so it must never change); written by hand, since this runs on every Foody delivery.
fn instant(at: Timestamp) -> String {
    instant_text(at.unix_seconds(), at.subsec_nanos())
}

fn instant_text(seconds: i64, nanos: u32) -> String {
    let mut text = String::with_capacity(32);
    if seconds < 0 {
        text.push('-');
    }
    push_digits(&mut text, seconds.unsigned_abs(), 1);
    text.push('.');
    push_digits(&mut text, u64::from(nanos), 9);
    text
}

/// Writes `value` in decimal, padded with zeros to at least `width` digits (at most 20).
fn push_digits(text: &mut String, value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let (mut rest, mut used) = (value, 0);
    for slot in digits.iter_mut().rev() {
        if rest == 0 && used >= width {
            break;
        }
        // Below 10: the cast keeps the value.
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
        used += 1;
    }
    text.extend(
        digits
            .iter()
            .skip(digits.len() - used)
            .map(|&digit| char::from(digit)),
    );
}

fn id_of(uid: &str, status: &str, date: &str) -> DeliveryId {
    DeliveryId::digest_of(
        Provider::Foody,
        &[uid.as_bytes(), status.as_bytes(), date.as_bytes()],
    )
}

/// The body with its `token` removed, so raw copies never carry the secret.
fn without_token(text: &str) -> Result<RawJson, ParseError> {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|error| ParseError::from_json(&error))?;
    object.remove("token");
    serde_json::value::to_raw_value(&object)
        .map(RawJson::from)
        .map_err(|error| ParseError::from_json(&error))
}

/// What [`redact_token`] puts in place of the token.
pub const REDACTED_TOKEN: &str = "[redacted]";

/// The body with the value of its top-level `token` replaced by `"[redacted]"`, every other
/// byte kept as received: the copy of a delivery kept at rest (hookbr's inbox) needs no secret,
/// since the token authenticated the delivery on arrival and decoding never reads it. A body
/// that is not a JSON object is returned unchanged (the token verifier refuses those).
///
/// ```
/// use hookbr_core::foody::{FoodyEvent, redact_token};
///
/// let body = br#"{"uid":"4228df3a","updateDate":"2020-06-19T17:42:12Z","event":"order_status_updated","token":"2b100082b90d4ad9b4fezzed960cf652","status":"dispatched"}"#;
/// let kept = redact_token(body);
/// assert_eq!(
///     kept,
///     br#"{"uid":"4228df3a","updateDate":"2020-06-19T17:42:12Z","event":"order_status_updated","token":"[redacted]","status":"dispatched"}"#
/// );
/// assert_eq!(FoodyEvent::from_slice(&kept)?, FoodyEvent::from_slice(body)?);
/// # Ok::<(), hookbr_core::ParseError>(())
/// ```
#[must_use]
pub fn redact_token(body: &[u8]) -> Vec<u8> {
    use serde::de::DeserializeSeed as _;
    let Ok(text) = body_text(body) else {
        return body.to_vec();
    };
    // `text` is `body` without a byte-order mark: offsets into it are offsets into `body` after
    // that prefix.
    let skipped = body.len() - text.len();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let Ok(spans) = TokenSpans { text }.deserialize(&mut deserializer) else {
        return body.to_vec();
    };
    let mut kept = Vec::with_capacity(body.len());
    let mut from = 0;
    for (start, end) in spans {
        kept.extend_from_slice(body.get(from..skipped + start).unwrap_or_default());
        kept.push(b'"');
        kept.extend_from_slice(REDACTED_TOKEN.as_bytes());
        kept.push(b'"');
        from = skipped + end;
    }
    kept.extend_from_slice(body.get(from..).unwrap_or_default());
    kept
}

/// The byte ranges, in `text`, of the values of its top-level `token` fields (a key written
/// with escapes included, as the verifier reads it).
struct TokenSpans<'t> {
    text: &'t str,
}

impl<'de> serde::de::DeserializeSeed<'de> for TokenSpans<'_> {
    type Value = Vec<(usize, usize)>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TokenSpans<'_> {
    type Value = Vec<(usize, usize)>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let base = self.text.as_ptr().addr();
        let mut spans = Vec::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "token" {
                // A borrowed raw value is a slice of the text being read.
                let raw = map.next_value::<&'de RawValue>()?.get();
                let span = raw
                    .as_ptr()
                    .addr()
                    .checked_sub(base)
                    .and_then(|start| Some((start, start.checked_add(raw.len())?)))
                    .filter(|&(_, end)| end <= self.text.len())
                    .ok_or_else(|| serde::de::Error::custom("token outside the body"))?;
                spans.push(span);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(spans)
    }
}

impl Serialize for FoodyEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::OrderStatusUpdated(update) => {
                let mut map = serializer.serialize_map(Some(4))?;
                map.serialize_entry("uid", &update.uid)?;
                map.serialize_entry("updateDate", &update.update_date)?;
                map.serialize_entry("event", ORDER_STATUS_UPDATED)?;
                map.serialize_entry("status", &update.status)?;
                map.end()
            }
            Self::HookTest(test) => {
                let mut map = serializer.serialize_map(None)?;
                if let Some(uid) = &test.uid {
                    map.serialize_entry("uid", uid)?;
                }
                if let Some(date) = &test.update_date {
                    map.serialize_entry("updateDate", date)?;
                }
                map.serialize_entry("event", HOOK_TEST)?;
                map.end()
            }
            Self::Drifted { raw, .. } | Self::Unknown { raw, .. } => raw.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The instant's text is exactly what `format!` wrote before it (delivery ids hash it).
        #[test]
        fn instant_text_is_the_formatted_one(seconds in any::<i64>(), nanos in 0_u32..1_000_000_000) {
            prop_assert_eq!(instant_text(seconds, nanos), format!("{seconds}.{nanos:09}"));
        }
    }

    #[test]
    fn instant_text_edges() {
        for (seconds, nanos) in [
            (0, 0),
            (-1, 5),
            (i64::MIN, 999_999_999),
            (i64::MAX, 1),
            (10, 123_456_789),
        ] {
            assert_eq!(
                instant_text(seconds, nanos),
                format!("{seconds}.{nanos:09}")
            );
        }
    }

    const SEED: &str = r#"{"uid":"4228df3a-a54a-40d7-b30f-1385eca4c3dd","updateDate":"2020-06-19T17:42:12Z","event":"order_status_updated","token":"2b100082b90d4ad9b4fezzed960cf652","status":"dispatched"}"#;

    #[test]
    fn statuses() {
        for (wire, status) in [
            ("open", FoodyStatus::Open),
            ("READY", FoodyStatus::Ready),
            ("canceled", FoodyStatus::Cancelled),
            ("cancelled", FoodyStatus::Cancelled),
            ("em_preparo", FoodyStatus::Other("em_preparo".into())),
        ] {
            assert_eq!(FoodyStatus::from_wire(wire), status);
        }
    }

    #[test]
    fn redaction_keeps_every_other_byte() {
        let kept = redact_token(SEED.as_bytes());
        assert_eq!(
            String::from_utf8(kept.clone()).unwrap(),
            SEED.replace("2b100082b90d4ad9b4fezzed960cf652", "[redacted]")
        );
        let event = FoodyEvent::from_slice(&kept).unwrap();
        assert_eq!(event, FoodyEvent::from_slice(SEED.as_bytes()).unwrap());
        assert_eq!(
            event.delivery_id(),
            FoodyEvent::from_slice(SEED.as_bytes())
                .unwrap()
                .delivery_id()
        );
        // A byte-order mark, whitespace, an escaped key, duplicates, a nested `token` (not the
        // credential: kept), a token that is not a string.
        for (body, expected) in [
            (
                "\u{feff}{ \"token\" :\t\"s3cret\" , \"a\":1}",
                "\u{feff}{ \"token\" :\t\"[redacted]\" , \"a\":1}",
            ),
            (
                r#"{"tok\u0065n":"s3cret"}"#,
                r#"{"tok\u0065n":"[redacted]"}"#,
            ),
            (
                r#"{"token":"s3cret","token":"other"}"#,
                r#"{"token":"[redacted]","token":"[redacted]"}"#,
            ),
            (
                r#"{"order":{"token":"kept"},"token":"s3cret"}"#,
                r#"{"order":{"token":"kept"},"token":"[redacted]"}"#,
            ),
            (r#"{"token":{"s3cret":[1,2]}}"#, r#"{"token":"[redacted]"}"#),
            (r#"{"event":"hook_test"}"#, r#"{"event":"hook_test"}"#),
        ] {
            assert_eq!(
                String::from_utf8(redact_token(body.as_bytes())).unwrap(),
                expected,
                "{body}"
            );
        }
        // Not a JSON object: unchanged (the verifier never accepts these).
        let not_objects: [&[u8]; 5] = [
            b"token=s3cret",
            b"",
            b"\xff\xfe",
            b"[1]",
            br#"{"token":"s3cret""#,
        ];
        for body in not_objects {
            assert_eq!(redact_token(body), body);
        }
    }

    #[test]
    fn token_never_in_the_event() {
        let event = FoodyEvent::from_slice(SEED.as_bytes()).unwrap();
        let json = serde_json::to_string(&event).unwrap();
        assert!(!json.contains("2b100082b90d4ad9b4fezzed960cf652"));
        let unknown = SEED.replace(ORDER_STATUS_UPDATED, "order_created");
        let event = FoodyEvent::from_slice(unknown.as_bytes()).unwrap();
        assert_eq!(event.kind(), "order_created");
        assert!(!format!("{event:?}").contains("2b100082b90d4ad9b4fezzed960cf652"));
        assert!(!serde_json::to_string(&event).unwrap().contains("2b100082"));
    }

    #[test]
    fn delivery_id_depends_on_uid_status_and_date_only() {
        let id = |body: &str| {
            FoodyEvent::from_slice(body.as_bytes())
                .unwrap()
                .delivery_id()
        };
        let base = id(SEED);
        assert_eq!(
            base,
            id(&SEED.replace("2b100082b90d4ad9b4fezzed960cf652", "other"))
        );
        assert_eq!(
            base,
            id(&SEED.replace("2020-06-19T17:42:12Z", "2020-06-19T14:42:12-03:00")),
            "same instant, other offset"
        );
        assert_eq!(
            base,
            id(&SEED.replace("17:42:12Z", "17:42:12.000Z")),
            "same instant, other fraction digits"
        );
        assert_ne!(base, id(&SEED.replace("dispatched", "delivered")));
        assert_ne!(base, id(&SEED.replace("17:42:12", "17:42:13")));
        assert_ne!(base, id(&SEED.replace("4228df3a", "5228df3a")));
    }

    #[test]
    fn missing_or_invalid_event_is_a_parse_error() {
        assert_eq!(
            FoodyEvent::from_slice(br#"{"uid":"x"}"#),
            Err(ParseError::MissingField { field: "event" })
        );
        assert_eq!(
            FoodyEvent::from_slice(br#"{"event":7}"#),
            Err(ParseError::InvalidField { field: "event" })
        );
        assert_eq!(FoodyEvent::from_slice(b"[]"), Err(ParseError::NotAnObject));
    }

    #[test]
    fn drifted_status_update_is_kept() {
        let event =
            FoodyEvent::from_slice(br#"{"event":"order_status_updated","status":"open"}"#).unwrap();
        assert!(event.drift().is_some());
        assert_eq!(event.kind(), ORDER_STATUS_UPDATED);
        assert!(
            event.delivery_id().is_none(),
            "no uid: nothing identifies it"
        );
        let unknown = FoodyEvent::from_slice(br#"{"event":"new_thing","uid":"u1"}"#).unwrap();
        assert!(unknown.delivery_id().is_some());
    }
}
