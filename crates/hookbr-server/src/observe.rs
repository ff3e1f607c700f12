//! What the server records about every request (the `delivery` span and the
//! `hookbr::rejection` events come from `hookbr-tower`'s `tracing` feature): Prometheus metrics (through the `metrics`
//! crate), a bounded log of recent requests for the inspector (rejections included, since they
//! never reach the inbox), and the error of each attempt the worker made.
//!
//! Metrics (all prefixed `hookbr_`):
//!
//! | name | type | labels |
//! |---|---|---|
//! | `deliveries_accepted_total` | counter | `provider` (stored, or processed in direct mode) |
//! | `deliveries_duplicate_total` | counter | `provider` |
//! | `deliveries_handshake_total` | counter | `provider` |
//! | `deliveries_rejected_total` | counter | `provider`, `reason` (`invalid_secret`, `body_too_large`, …) |
//! | `handler_failed_total` | counter | `provider` (a sink refused an attempt) |
//! | `dead_lettered_total` | counter | `provider` |
//! | `request_duration_seconds` | histogram | `provider` |
//! | `inbox_depth` | gauge | `state` (`pending`, `in_flight`, `dead`), read at scrape time |
//! | `inbox_oldest_pending_age_seconds` | gauge | read at scrape time |

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, OnceLock},
    time::Instant,
};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use hookbr_core::{Ack, Inbox, Outcome, inbox::now_ms};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// How many recent requests the inspector keeps.
const RECENT: usize = 500;
/// How many rows' attempt histories are kept (oldest forgotten first).
const HISTORIES: usize = 2_000;

/// Installs the Prometheus recorder once per process and returns its handle.
pub(crate) fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ];
            let builder = PrometheusBuilder::new();
            let builder = builder
                .set_buckets(&buckets)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; metrics then go there.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Refreshes the inbox gauges (called when /metrics is scraped).
pub(crate) async fn inbox_gauges(inbox: &dyn Inbox) {
    if let Ok(stats) = inbox.stats().await {
        #[allow(
            clippy::cast_precision_loss,
            reason = "a gauge: precision past 2^52 is moot"
        )]
        {
            metrics::gauge!("hookbr_inbox_depth", "state" => "pending").set(stats.pending as f64);
            metrics::gauge!("hookbr_inbox_depth", "state" => "in_flight")
                .set(stats.in_flight as f64);
            metrics::gauge!("hookbr_inbox_depth", "state" => "dead").set(stats.dead as f64);
            let age_ms = stats
                .oldest_pending_ms
                .map_or(0, |at| now_ms().saturating_sub(at).max(0));
            metrics::gauge!("hookbr_inbox_oldest_pending_age_seconds").set(age_ms as f64 / 1_000.0);
        }
    }
}

/// One request as the inspector shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Seen {
    /// When it arrived (ms since the epoch).
    pub(crate) at_ms: i64,
    /// The route's endpoint (`bonifiq`, `iset:order_upserted`, …).
    pub(crate) endpoint: String,
    /// The provider.
    pub(crate) provider: String,
    /// The method.
    pub(crate) method: String,
    /// The route template (never the request's path or query: iSET's secret may be in them).
    pub(crate) path: String,
    /// The HTTP status answered.
    pub(crate) status: u16,
    /// `stored`, `processed`, `duplicate`, `handshake`, `rejected` or `handler_failed` ([`Outcome::as_str`]).
    pub(crate) outcome: &'static str,
    /// The precise reason of a rejection (`invalid_signature`, …).
    pub(crate) reason: Option<&'static str>,
    /// How long the answer took, in microseconds.
    pub(crate) micros: u64,
}

/// One failed attempt of a stored delivery.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Attempt {
    /// When it ended (ms since the epoch).
    pub(crate) at_ms: i64,
    /// The attempt number, from 1.
    pub(crate) attempt: u32,
    /// `None` when it succeeded.
    pub(crate) error: Option<String>,
}

/// Attempt histories by row id, and the ids in insertion order (to forget the oldest).
type Histories = (HashMap<i64, Vec<Attempt>>, VecDeque<i64>);

/// The shared observation state of one server.
#[derive(Debug, Default)]
pub(crate) struct Observer {
    recent: Mutex<VecDeque<Seen>>,
    attempts: Mutex<Histories>,
}

impl Observer {
    /// A new, empty observer.
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The recent requests, newest first.
    pub(crate) fn recent(&self) -> Vec<Seen> {
        self.recent
            .lock()
            .map(|recent| recent.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    fn push(&self, seen: Seen) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(seen);
        }
    }

    /// Records an attempt of row `id`.
    pub(crate) fn attempt(&self, id: i64, provider: &str, attempt: Attempt, dead: bool) {
        if attempt.error.is_some() {
            metrics::counter!("hookbr_handler_failed_total", "provider" => provider.to_owned())
                .increment(1);
        }
        if dead {
            metrics::counter!("hookbr_dead_lettered_total", "provider" => provider.to_owned())
                .increment(1);
        }
        if let Ok(mut guard) = self.attempts.lock() {
            let (histories, order) = &mut *guard;
            if !histories.contains_key(&id) {
                if order.len() == HISTORIES {
                    if let Some(old) = order.pop_front() {
                        histories.remove(&old);
                    }
                }
                order.push_back(id);
            }
            histories.entry(id).or_default().push(attempt);
        }
    }

    /// The attempts this process made on row `id`.
    pub(crate) fn attempts(&self, id: i64) -> Vec<Attempt> {
        self.attempts
            .lock()
            .ok()
            .and_then(|guard| guard.0.get(&id).cloned())
            .unwrap_or_default()
    }
}

/// The route a middleware instance observes.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    /// The observer.
    pub(crate) observer: Arc<Observer>,
    /// The endpoint text.
    pub(crate) endpoint: Arc<str>,
    /// The provider name.
    pub(crate) provider: &'static str,
}

/// The one outcome taxonomy: hookbr-tower puts it in the extensions of its own answers; the
/// handler's responses are told by their status ([`Outcome::of_response`]).
fn outcome_of(response: &Response) -> Outcome {
    Outcome::of_response(response.status().as_u16(), response.extensions().get())
}

/// axum middleware around one webhook route: a span per delivery, metrics, the recent log.
pub(crate) async fn record(State(route): State<Route>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let at_ms = now_ms();
    let method = request.method().to_string();
    // The route template, not the request path: iSET's secret may be a path segment.
    let path = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(
            || route.endpoint.to_string(),
            |matched| matched.as_str().to_owned(),
        );
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let outcome = outcome_of(&response);
    let provider = route.provider.to_owned();
    match outcome {
        Outcome::Acknowledged(Ack::Duplicate) => {
            metrics::counter!("hookbr_deliveries_duplicate_total", "provider" => provider.clone())
                .increment(1);
        }
        Outcome::Acknowledged(Ack::Handshake) => {
            metrics::counter!("hookbr_deliveries_handshake_total", "provider" => provider.clone())
                .increment(1);
        }
        // Processed, stored, and an acknowledgement this version does not know yet.
        Outcome::Processed | Outcome::Acknowledged(_) => {
            metrics::counter!("hookbr_deliveries_accepted_total", "provider" => provider.clone())
                .increment(1);
        }
        _ => {
            metrics::counter!(
                "hookbr_deliveries_rejected_total",
                "provider" => provider.clone(),
                "reason" => outcome.reason().unwrap_or("handler_failed"),
            )
            .increment(1);
        }
    }
    metrics::histogram!("hookbr_request_duration_seconds", "provider" => provider.clone())
        .record(elapsed.as_secs_f64());
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    if outcome == Outcome::HandlerFailed {
        tracing::warn!(target: "hookbr::delivery", endpoint = &*route.endpoint, status, "the sinks failed; the provider will retry");
    }
    route.observer.push(Seen {
        at_ms,
        endpoint: route.endpoint.to_string(),
        provider,
        method,
        path,
        status,
        outcome: outcome.as_str(),
        reason: outcome.reason(),
        micros,
    });
    response
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::StatusCode};

    use super::*;

    fn response(status: StatusCode, outcome: Option<Outcome>) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = status;
        if let Some(outcome) = outcome {
            response.extensions_mut().insert(outcome);
        }
        response
    }

    #[test]
    fn the_extension_decides_the_outcome() {
        let duplicate = Outcome::Acknowledged(Ack::Duplicate);
        assert_eq!(
            outcome_of(&response(StatusCode::OK, Some(duplicate))),
            duplicate
        );
    }

    #[test]
    fn without_the_extension_the_status_decides() {
        assert_eq!(
            outcome_of(&response(StatusCode::OK, None)),
            Outcome::Processed
        );
        assert_eq!(
            outcome_of(&response(StatusCode::INTERNAL_SERVER_ERROR, None)),
            Outcome::HandlerFailed
        );
    }
}
