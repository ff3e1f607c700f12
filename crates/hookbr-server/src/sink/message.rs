//! The normalized message every sink receives, whatever the provider.

use std::sync::Arc;

use hookbr_core::{DedupKey, WebhookEvent};
use serde::Serialize;

use crate::time::rfc3339_ms;

/// One event ready for the sinks.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Message {
    /// `msg_<hex of the delivery key>`: the same for every attempt of one delivery.
    pub id: String,
    /// `<provider>.<kind>`.
    pub event_type: String,
    /// The delivery id as the provider gave it.
    pub delivery_id: String,
    /// The normalized JSON.
    pub body: Arc<[u8]>,
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
    delivery_id: &'a str,
    occurred_at: Option<String>,
    received_at: String,
    matched_key: &'a str,
    attempt: u32,
    event: &'a WebhookEvent,
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
}

impl Message {
    /// The normalized message for `processed`.
    pub(crate) fn new(processed: &Processed<'_>) -> Result<Self, String> {
        let event = processed.event;
        let event_type = format!("{}.{}", event.provider(), event.kind());
        let envelope = Envelope {
            r#type: &event_type,
            timestamp: rfc3339_ms(hookbr_core::inbox::now_ms()),
            data: Data {
                provider: event.provider().as_str(),
                endpoint: processed.endpoint,
                kind: event.kind(),
                known: event.is_known(),
                delivery_id: processed.delivery_id,
                occurred_at: event.occurred_at().map(|at| at.to_string()),
                received_at: rfc3339_ms(processed.received_at_ms),
                matched_key: processed.matched_key,
                attempt: processed.attempt,
                event,
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
            body: body.into(),
        })
    }
}
