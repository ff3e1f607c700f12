//! One path from a processed event to the sinks, taken by direct mode (inside the request) and
//! by the inbox worker (one attempt of a stored row).

use std::{collections::HashMap, sync::Arc, time::Duration};

use hookbr_core::{Endpoint, Verified, inbox::now_ms, ordering::OrderingMode};
use hookbr_store::worker::{Delivered, Failure, Recorded, Settled};

use crate::{
    config::EndpointConfig,
    inbox::{Shown, shown_body},
    lifecycle::log,
    observe::{Attempt, Observer},
    ordering::Decision,
    sink::{Failed, Fence, Message, Processed, Sinks},
};

/// Hands processed events to the sinks, and records what happened.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    sinks: Sinks,
    observer: Arc<Observer>,
    log_bodies: bool,
    /// The ordering guard's mode and `hold_for` per endpoint text (absent: `off`).
    ordering: HashMap<String, (OrderingMode, Duration)>,
}

impl Dispatcher {
    pub(crate) fn new(sinks: Sinks, observer: Arc<Observer>, log_bodies: bool) -> Self {
        Self {
            sinks,
            observer,
            log_bodies,
            ordering: HashMap::new(),
        }
    }

    /// The ordering guard of each of `endpoints` (`ordering`, `hold_for`). Endpoints that
    /// share an endpoint text (two Foody URLs) share the first guarded one's setting.
    #[must_use]
    pub(crate) fn with_ordering(mut self, endpoints: &[EndpointConfig]) -> Self {
        for endpoint in endpoints {
            if endpoint.ordering != OrderingMode::Off {
                self.ordering
                    .entry(endpoint.endpoint.to_text())
                    .or_insert((endpoint.ordering, endpoint.hold_for));
            }
        }
        self
    }

    fn mode(&self, endpoint: &str) -> (OrderingMode, Duration) {
        self.ordering
            .get(endpoint)
            .copied()
            .unwrap_or((OrderingMode::Off, Duration::ZERO))
    }

    /// Direct mode: the verified delivery of a request on `endpoint`, first and only attempt
    /// (the provider's retry is the next one). `Ok(Some(note))` when the ordering guard found
    /// it stale (`stale_dropped`: not forwarded; `stale_annotated`: forwarded with `"stale":
    /// true`), for the recent-requests log.
    pub(crate) async fn direct(
        &self,
        endpoint: &str,
        verified: &Verified,
        body: &[u8],
    ) -> Result<Option<&'static str>, String> {
        self.observer.drift(body, verified.event()).await;
        let id = verified.delivery_id();
        let label = verified.matched_key().to_string();
        let (delivery_id, key, event) = (id.as_str(), id.key(), verified.event());
        let mut processed = Processed::new(endpoint, delivery_id, key, &label, now_ms(), 1, event);
        match self.observer.ordering.decide(self.mode(endpoint).0, event) {
            Decision::Forward { stale } => processed.stale = stale,
            Decision::Drop => {
                tracing::info!(
                    target: "hookbr::worker",
                    delivery_id,
                    "stale: not forwarded (ordering = \"drop-stale\")"
                );
                return Ok(Some("stale_dropped"));
            }
        }
        self.deliver(&processed, None)
            .await
            .map(|()| (processed.stale == Some(true)).then_some("stale_annotated"))
            .map_err(|failed| failed.message)
    }

    /// Inbox mode: one attempt of a stored row, for the worker (a refused TLS certificate
    /// fails permanently: the row is dead-lettered at once).
    pub(crate) async fn stored(&self, delivered: &Delivered) -> Result<(), Failure> {
        let row = &delivered.row;
        if self.log_bodies {
            tracing::info!(
                target: "hookbr::worker",
                row = row.id,
                body = %shown_body(&row.record, Shown::Masked),
                "body (secrets redacted, personal data masked)"
            );
        }
        let record = &row.record;
        // Once per delivery: retries bring nothing new.
        if row.attempts <= 1 {
            self.observer.drift(&record.body, &delivered.event).await;
        }
        let mut processed = Processed::new(
            &record.endpoint,
            &record.delivery_id,
            record.key,
            &record.matched_key,
            record.received_at_ms,
            row.attempts,
            &delivered.event,
        );
        let (mode, hold_for) = self.mode(&record.endpoint);
        let ordering = &self.observer.ordering;
        if mode == OrderingMode::Hold {
            if let Some(held) = ordering.hold(row, &delivered.event, hold_for).await? {
                return Err(held);
            }
        }
        match ordering
            .decide_stored(mode, row.id, &delivered.event)
            .await?
        {
            Decision::Forward { stale } => processed.stale = stale,
            Decision::Drop => {
                tracing::info!(
                    target: "hookbr::worker",
                    row = row.id,
                    delivery_id = record.delivery_id,
                    "stale: not forwarded (ordering = \"drop-stale\")"
                );
                return Ok(());
            }
        }
        let fence = Fence { delivered };
        self.deliver(&processed, Some(fence))
            .await
            .map_err(|failed| {
                if failed.permanent {
                    Failure::permanent(failed.message)
                } else {
                    Failure::retry(failed.message)
                }
            })
    }

    /// Inbox mode: what the store recorded for an attempt of [`stored`](Self::stored), told
    /// by the worker. A lost lease is no attempt result: the worker that holds the row now
    /// records its own.
    pub(crate) fn settled(&self, settled: &Settled) {
        let (error, dead) = match &settled.recorded {
            Recorded::Completed => (None, false),
            Recorded::Retried { error } => (Some(error.clone()), false),
            Recorded::Dead { error } => (Some(error.clone()), true),
            _ => return,
        };
        let provider = Endpoint::from_text(&settled.endpoint)
            .map_or("unknown", |endpoint| endpoint.provider().as_str());
        self.observer.attempt(
            settled.id,
            provider,
            Attempt {
                at_ms: now_ms(),
                attempt: settled.attempt,
                error,
            },
            dead,
        );
        if dead {
            log(&format!(
                "dead-lettered row {} after {} attempt{}; fix the cause, then `hookbr inbox replay {}`",
                settled.id,
                settled.attempt,
                if settled.attempt == 1 { "" } else { "s" },
                settled.id
            ));
        }
    }

    async fn deliver(
        &self,
        processed: &Processed<'_>,
        fence: Option<Fence<'_>>,
    ) -> Result<(), Failed> {
        let message = Message::new(processed)?;
        let result = self.sinks.deliver(&message, processed, fence).await;
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
                error = %error.message,
                "sink failed"
            ),
        }
        result
    }
}
