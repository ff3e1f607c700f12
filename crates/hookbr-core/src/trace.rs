//! `tracing` support (feature `tracing`): the span and events the framework adapters emit.
//!
//! One `delivery` span per request, target `hookbr::delivery`, with the fields `provider`,
//! `endpoint`, `kind`, `delivery_id` (recorded by the pipeline once the body is decoded),
//! `outcome` ([`Outcome::as_str`]: `processed`, `stored`, `duplicate`, `handshake`, `rejected`,
//! `handler_failed`), `reason` (for refusals, [`Rejection::reason`](crate::Rejection::reason)),
//! `status` and `latency_us`. Refusals and handler failures emit one event at target
//! `hookbr::rejection`, level DEBUG; acknowledgements without the handler (duplicate, stored,
//! handshake) at TRACE. Bodies and secrets are never recorded.
//!
//! ```
//! use hookbr_core::{Endpoint, Outcome, trace};
//!
//! let span = trace::delivery_span(Endpoint::Bonifiq);
//! // … run the request inside `span` …
//! trace::record_answer(&span, 200, Outcome::Processed, std::time::Duration::from_micros(250));
//! ```

use std::{
    future::Future,
    time::{Duration, Instant},
};

use tracing::{Instrument as _, Level, Span, field::Empty};

use crate::{Endpoint, Outcome};

/// The `delivery` span of one request to `endpoint`.
#[must_use]
pub fn delivery_span(endpoint: Endpoint) -> Span {
    tracing::info_span!(
        target: "hookbr::delivery",
        "delivery",
        provider = endpoint.provider().as_str(),
        endpoint = %endpoint.to_text(),
        kind = Empty,
        delivery_id = Empty,
        outcome = Empty,
        reason = Empty,
        status = Empty,
        latency_us = Empty,
    )
}

/// Records the answer on `span` and emits the refusal or failure event, if any. `outcome` is
/// the one the adapter put in the response extensions.
pub fn record_answer(span: &Span, status: u16, outcome: Outcome, latency: Duration) {
    span.record("status", status);
    span.record(
        "latency_us",
        u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
    );
    span.record("outcome", outcome.as_str());
    match outcome {
        Outcome::Processed => {}
        Outcome::Acknowledged(ack) => {
            tracing::event!(target: "hookbr::rejection", parent: span, Level::TRACE, status, category = ack.category(), "acknowledged without the handler");
        }
        Outcome::Rejected { category, reason } => {
            span.record("reason", reason);
            tracing::event!(target: "hookbr::rejection", parent: span, Level::DEBUG, status, category, reason, "rejected");
        }
        Outcome::HandlerFailed => {
            tracing::event!(target: "hookbr::rejection", parent: span, Level::DEBUG, status, "the handler failed; the claim is released");
        }
    }
}

/// Runs one request's `future` inside its `delivery` span, then records the answer that
/// `answer` reads from its output (status and the [`Outcome`] the adapter put in the response
/// extensions; `None` records the outcome `error`: the service failed).
pub async fn in_delivery_span<F: Future>(
    endpoint: Endpoint,
    future: F,
    answer: impl FnOnce(&F::Output) -> Option<(u16, Outcome)>,
) -> F::Output {
    let span = delivery_span(endpoint);
    let started = Instant::now();
    let output = future.instrument(span.clone()).await;
    match answer(&output) {
        Some((status, outcome)) => record_answer(&span, status, outcome, started.elapsed()),
        None => {
            span.record("outcome", "error");
        }
    }
    output
}
