//! The normalized message every sink receives, whatever the provider.

use std::sync::Arc;

use hookbr_core::{
    Authentication, DedupKey, WebhookEvent,
    privacy::{mask_body, mask_fields},
};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::config::SinkMask;

use hookbr_core::timestamp::rfc3339_millis;

/// One event ready for the sinks: the normalized JSON described in the [module
/// docs](super) and its Standard Webhooks id.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Message {
    /// `msg_<hex of the delivery key>`: the same for every attempt of one delivery.
    pub id: String,
    /// `<provider>.<kind>`.
    pub event_type: String,
    /// The delivery id as the provider gave it.
    pub delivery_id: String,
    /// The provider (`bonifiq`, ...), as in `data.provider`.
    pub provider: &'static str,
    /// The event kind, as in `data.kind`.
    pub kind: String,
    /// The endpoint text, as in `data.endpoint`.
    pub endpoint: String,
    /// The normalized JSON.
    pub body: Arc<[u8]>,
    /// As in `data.known`.
    pub known: bool,
    /// `data.occurred_at`, in milliseconds since the epoch.
    pub occurred_at_ms: Option<i64>,
    /// `data.received_at`, in milliseconds since the epoch.
    pub received_at_ms: i64,
    /// As in `data.stale`: `Some(true)` when the ordering guard found a later delivery of the
    /// same entity already forwarded; `None` when the endpoint has no guard or the event no
    /// entity or position (the field is then absent).
    pub stale: Option<bool>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    r#type: &'a str,
    timestamp: String,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    provider: &'a str,
    endpoint: &'a str,
    kind: &'a str,
    known: bool,
    drift: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale: Option<bool>,
    delivery_id: &'a str,
    occurred_at: Option<String>,
    received_at: String,
    matched_key: &'a str,
    authenticated: Authentication,
    attempt: u32,
    event: &'a RawValue,
}

/// What a processed delivery is made of.
#[derive(Debug)]
pub(crate) struct Processed<'a> {
    /// The endpoint text (`bonifiq`, `iset:order_upserted`, ...).
    pub(crate) endpoint: &'a str,
    /// The delivery id.
    pub(crate) delivery_id: &'a str,
    /// The delivery key.
    pub(crate) key: DedupKey,
    /// The label of the matched secret or key.
    pub(crate) matched_key: &'a str,
    /// When it was received (ms since the epoch).
    pub(crate) received_at_ms: i64,
    /// This attempt's number, from 1.
    pub(crate) attempt: u32,
    /// The decoded event.
    pub(crate) event: &'a WebhookEvent,
    /// The ordering guard's verdict (`data.stale`; `None`: no field).
    pub(crate) stale: Option<bool>,
}

impl<'a> Processed<'a> {
    /// Attempt `attempt` (from 1) of `event`, received on `endpoint` at `received_at_ms` with
    /// the delivery id `delivery_id` (key `key`), authenticated by `matched_key`.
    pub(crate) fn new(
        endpoint: &'a str,
        delivery_id: &'a str,
        key: DedupKey,
        matched_key: &'a str,
        received_at_ms: i64,
        attempt: u32,
        event: &'a WebhookEvent,
    ) -> Self {
        Self {
            endpoint,
            delivery_id,
            key,
            matched_key,
            received_at_ms,
            attempt,
            event,
            stale: None,
        }
    }
}

impl Message {
    /// The normalized message for `processed`.
    pub(crate) fn new(processed: &Processed<'_>) -> Result<Self, String> {
        Self::build(processed, &SinkMask::Off)
    }

    /// The normalized message for `processed` with `data.event` masked as `mask` says (a
    /// sink's `mask`); everything else as [`Message::new`] makes it.
    pub(crate) fn masked(processed: &Processed<'_>, mask: &SinkMask) -> Result<Self, String> {
        Self::build(processed, mask)
    }

    fn build(processed: &Processed<'_>, mask: &SinkMask) -> Result<Self, String> {
        let event = processed.event;
        let raw = serde_json::to_vec(event)
            .map_err(|error| format!("cannot serialize the event: {error}"))?;
        let (provider, kind) = (event.provider(), event.kind());
        let raw = match mask {
            SinkMask::Off => raw,
            SinkMask::All => mask_body(provider, kind, &raw),
            SinkMask::Fields(paths) => mask_fields(provider, kind, &raw, paths),
        };
        // What masking returns for JSON is JSON; its notice for a body over the limit is not,
        // and travels as a JSON string instead.
        let raw = String::from_utf8(raw).map_err(|_| "the masked event is not UTF-8".to_owned())?;
        let event_json = RawValue::from_string(raw.clone())
            .or_else(|_| serde_json::to_string(&raw).and_then(RawValue::from_string))
            .map_err(|error| format!("cannot serialize the event: {error}"))?;
        let event_type = format!("{}.{}", event.provider(), event.kind());
        // A documented kind whose payload did not fit its type is forwarded raw: the
        // application must not read it as the documented shape.
        let known = event.is_known() && event.drift().is_none();
        let envelope = Envelope {
            r#type: &event_type,
            timestamp: rfc3339_millis(hookbr_core::inbox::now_ms()),
            data: Data {
                provider: event.provider().as_str(),
                endpoint: processed.endpoint,
                kind: event.kind(),
                known,
                drift: event.drift().map(ToString::to_string),
                stale: processed.stale,
                delivery_id: processed.delivery_id,
                occurred_at: event.occurred_at().map(|at| at.to_string()),
                received_at: rfc3339_millis(processed.received_at_ms),
                matched_key: processed.matched_key,
                authenticated: event.provider().authentication(),
                attempt: processed.attempt,
                event: &event_json,
            },
        };
        let body = serde_json::to_vec(&envelope)
            .map_err(|error| format!("cannot serialize the event: {error}"))?;
        let id: String = processed
            .key
            .as_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok(Self {
            id: format!("msg_{id}"),
            event_type,
            delivery_id: processed.delivery_id.to_owned(),
            provider: event.provider().as_str(),
            kind: event.kind().to_owned(),
            endpoint: processed.endpoint.to_owned(),
            body: body.into(),
            known,
            occurred_at_ms: event.occurred_at().map(|at| {
                at.unix_seconds()
                    .saturating_mul(1_000)
                    .saturating_add(i64::from(at.subsec_nanos() / 1_000_000))
            }),
            received_at_ms: processed.received_at_ms,
            stale: processed.stale,
        })
    }
}

#[cfg(test)]
mod tests {
    use hookbr_core::{Endpoint, Request};
    use serde_json::Value;

    use super::*;

    fn data(body: &[u8]) -> Value {
        let event = WebhookEvent::decode(Endpoint::Bonifiq, &Request::new(body)).unwrap();
        let key = DedupKey::from_bytes([7; 16]);
        let processed = Processed::new("bonifiq", "d1", key, "#0 (env:S)", 0, 2, &event);
        let message = Message::new(&processed).unwrap();
        assert_eq!(message.id, format!("msg_{}", "07".repeat(16)));
        let json: Value = serde_json::from_slice(&message.body).unwrap();
        json["data"].clone()
    }

    #[test]
    fn a_fitting_payload_is_known_without_drift() {
        let data = data(include_bytes!(
            "../../../hookbr-core/fixtures/bonifiq/point_add_legacy.json"
        ));
        assert_eq!(data["known"], true);
        assert!(data["drift"].is_null(), "{data}");
        assert_eq!(data["received_at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(data["attempt"], 2);
    }

    #[test]
    fn a_drifted_payload_is_not_known_and_says_why_without_the_value() {
        let data = data(include_bytes!(
            "../../../hookbr-core/fixtures/bonifiq/drifted_point_add.json"
        ));
        assert_eq!(data["kind"], "Point_Add");
        assert_eq!(data["known"], false);
        let drift = data["drift"].as_str().unwrap();
        assert!(
            drift.starts_with("Point_Add payload does not fit its type: "),
            "{drift}"
        );
        assert!(!drift.contains("duzentos"), "{drift}");
        // The raw payload travels as received.
        assert_eq!(data["event"]["Payload"]["Points"], "duzentos");
    }
}
