//! One path from a processed event to the sinks, taken by direct mode (inside the request) and
//! by the inbox worker (one attempt of a stored row).

use std::sync::Arc;

use hookbr_core::{Verified, inbox::now_ms};
use hookbr_store::worker::Delivered;

use crate::{
    inbox::body_json,
    lifecycle::log,
    observe::{Attempt, Observer},
    sink::{Message, Processed, Sinks},
};

/// Hands processed events to the sinks, and records what happened.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    sinks: Sinks,
    observer: Arc<Observer>,
    max_attempts: u32,
    log_bodies: bool,
}

impl Dispatcher {
    pub(crate) fn new(
        sinks: Sinks,
        observer: Arc<Observer>,
        max_attempts: u32,
        log_bodies: bool,
    ) -> Self {
        Self {
            sinks,
            observer,
            max_attempts,
            log_bodies,
        }
    }

    /// Direct mode: the verified delivery of a request on `endpoint`, first and only attempt
    /// (the provider's retry is the next one).
    pub(crate) async fn direct(&self, endpoint: &str, verified: &Verified) -> Result<(), String> {
        let id = verified.delivery_id();
        let label = verified.matched_key().to_string();
        let (delivery_id, key, event) = (id.as_str(), id.key(), verified.event());
        let processed = Processed::new(endpoint, delivery_id, key, &label, now_ms(), 1, event);
        self.deliver(&processed).await
    }

    /// Inbox mode: one attempt of a stored row, for the worker.
    pub(crate) async fn stored(&self, delivered: &Delivered) -> Result<(), String> {
        let row = &delivered.row;
        if self.log_bodies {
            tracing::info!(
                target: "hookbr::worker",
                row = row.id,
                body = %body_json(&row.record),
                "body (secrets redacted)"
            );
        }
        let record = &row.record;
        let processed = Processed::new(
            &record.endpoint,
            &record.delivery_id,
            record.key,
            &record.matched_key,
            record.received_at_ms,
            row.attempts,
            &delivered.event,
        );
        let result = self.deliver(&processed).await;
        let dead = result.is_err() && row.attempts >= self.max_attempts;
        self.observer.attempt(
            row.id,
            delivered.event.provider().as_str(),
            Attempt {
                at_ms: now_ms(),
                attempt: row.attempts,
                error: result.as_ref().err().cloned(),
            },
            dead,
        );
        if dead {
            log(&format!(
                "dead-lettered row {} after {} attempts; fix the cause, then `hookbr inbox replay {}`",
                row.id, self.max_attempts, row.id
            ));
        }
        result
    }

    async fn deliver(&self, processed: &Processed<'_>) -> Result<(), String> {
        let message = Message::new(processed)?;
        let result = self.sinks.deliver(&message).await;
        match &result {
            Ok(()) => tracing::info!(
                target: "hookbr::worker",
                event_type = %message.event_type,
                delivery_id = processed.delivery_id,
                attempt = processed.attempt,
                "delivered"
            ),
            Err(error) => tracing::warn!(
                target: "hookbr::worker",
                event_type = %message.event_type,
                delivery_id = processed.delivery_id,
                attempt = processed.attempt,
                error = %error,
                "sink failed"
            ),
        }
        result
    }
}
