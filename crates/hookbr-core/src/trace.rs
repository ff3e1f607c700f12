//! `tracing` support (feature `tracing`): the span and events the framework adapters emit.
//!
//! One `delivery` span per request, target `hookbr::delivery`, with the fields `provider`,
//! `endpoint`, `kind`, `delivery_id` (recorded by the pipeline once the body is decoded),
//! `outcome` (`processed`, `handler_failed`, or a [`Rejection::category`]), `reason`
//! ([`Rejection::reason`]), `status` and `latency_us`. Refusals emit one event at target
//! `hookbr::rejection`, level DEBUG; acknowledgements without the handler (duplicate, stored,
//! handshake) at TRACE. Bodies and secrets are never recorded.
//!
//! ```
//! use hookbr_core::{Endpoint, trace};
//!
//! let span = trace::delivery_span(Endpoint::Bonifiq);
//! // … run the request inside `span` …
//! trace::record_answer(&span, 200, None, std::time::Duration::from_micros(250));
//! ```

use std::time::Duration;

use tracing::{Level, Span, field::Empty};

use crate::{Endpoint, Rejection};

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

/// Records the answer on `span` and emits the rejection event, if any. `rejection` is the one
/// the adapter put in the response extensions; `None` means the handler answered.
pub fn record_answer(span: &Span, status: u16, rejection: Option<&Rejection>, latency: Duration) {
    span.record("status", status);
    span.record(
        "latency_us",
        u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
    );
    match rejection {
        None if (200..300).contains(&status) => {
            span.record("outcome", "processed");
        }
        None => {
            span.record("outcome", "handler_failed");
            tracing::event!(target: "hookbr::rejection", parent: span, Level::DEBUG, status, "the handler failed; the claim is released");
        }
        Some(rejection) => {
            span.record("outcome", rejection.category());
            span.record("reason", rejection.reason());
            if rejection.is_acknowledgement() {
                tracing::event!(target: "hookbr::rejection", parent: span, Level::TRACE, status, category = rejection.category(), "acknowledged without the handler");
            } else {
                tracing::event!(target: "hookbr::rejection", parent: span, Level::DEBUG, status, category = rejection.category(), reason = rejection.reason(), "rejected");
            }
        }
    }
}
