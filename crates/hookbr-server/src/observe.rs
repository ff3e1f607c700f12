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
//! | `deliveries_rejected_total` | counter | `provider`, `reason` (`invalid_secret`, `body_too_large`, `signature_reused`, …) |
//! | `signature_reuse_total` | counter | `provider` (`grafeno`): a genuine signature presented with another body than the first one seen for its delivery key, refused `401` (alert on any increase: someone replays a signature, or forged the first body) |
//! | `handler_failed_total` | counter | `provider` (a sink refused an attempt) |
//! | `dead_lettered_total` | counter | `provider` |
//! | `drift_total` | counter | `provider`, `kind`, `change` (`new_field`, `type_change`, `unknown_kind`, `unknown_status`, `drifted`): each delivery showing a schema change (see the inspector's Drift page) |
//! | `request_duration_seconds` | histogram | `provider` |
//! | `inbox_depth` | gauge | `state` (`pending`, `in_flight`, `dead`), read at scrape time |
//! | `inbox_oldest_pending_age_seconds` | gauge | read at scrape time |
//! | `connections_open` | gauge | `listener` (`receiver`, `admin`), read at scrape time |
//! | `connections_closed_total` | counter | `listener`, `reason` (`connection_cap`, `refused`, `header_timeout`, `body_timeout`, `request_timeout`, `idle`), read at scrape time |

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use hookbr_axum::serve::{CloseReason, ConnectionStats};
use hookbr_core::{
    Ack, Inbox, Outcome, Provider, WebhookEvent,
    drift::{DriftRecord, DriftTracker},
    inbox::now_ms,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// How many recent requests the inspector keeps.
const RECENT: usize = 500;
/// How many of them a page shows.
const RECENT_SHOWN: usize = 100;
/// How many rows' attempt histories are kept (oldest forgotten first).
const HISTORIES: usize = 2_000;
/// How many attempts of one row are kept (the latest).
const ATTEMPTS_PER_ROW: usize = 20;
/// The longest endpoint or route template kept in the recent log, in characters.
pub(crate) const FIELD_CHARS: usize = 200;
/// The longest attempt error kept, in characters.
const ERROR_CHARS: usize = 500;
/// The rejection reason of a known signature presented with another body
/// (`RejectionKind::SignatureReused`), also counted on its own.
const SIGNATURE_REUSED: &str = "signature_reused";
/// What the recent log shows for a method other than the nine standard ones.
pub(crate) const OTHER_METHOD: &str = "OTHER";

/// `text` cut to at most `max` characters (an ellipsis marks the cut).
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.chars().nth(max).is_none() {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The method's standard name, or [`OTHER_METHOD`]: the log never keeps a method's bytes
/// (an extension method may be hundreds of kilobytes long).
fn method_name(method: &axum::http::Method) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method.as_str())
        .unwrap_or(OTHER_METHOD)
}

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

/// One listener's connection counters and what of them the metrics already hold.
#[derive(Debug)]
pub(crate) struct ListenerMetrics {
    name: &'static str,
    stats: ConnectionStats,
    reported: [AtomicU64; CloseReason::ALL.len()],
}

impl ListenerMetrics {
    /// The counters of the listener called `name` (`receiver`, `admin`).
    pub(crate) fn new(name: &'static str, stats: ConnectionStats) -> Self {
        Self {
            name,
            stats,
            reported: Default::default(),
        }
    }

    /// Brings the metrics up to date (called when /metrics is scraped): the open connections,
    /// and what was closed since the last scrape added to the counters (so that several
    /// servers in one process add up).
    pub(crate) fn refresh(&self) {
        #[allow(
            clippy::cast_precision_loss,
            reason = "a gauge: precision past 2^52 is moot"
        )]
        metrics::gauge!("hookbr_connections_open", "listener" => self.name)
            .set(self.stats.open() as f64);
        for (reason, reported) in CloseReason::ALL.into_iter().zip(&self.reported) {
            let closed = self.stats.closed(reason);
            let before = reported.swap(closed, Ordering::Relaxed);
            metrics::counter!(
                "hookbr_connections_closed_total",
                "listener" => self.name,
                "reason" => reason.as_str()
            )
            .increment(closed.saturating_sub(before));
        }
    }
}

/// One request as the inspector shows it: only values hookbr chose, each bounded (see the
/// module docs), never bytes of the request.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// When it arrived (ms since the epoch).
    pub(crate) at_ms: i64,
    /// The route's endpoint (`bonifiq`, `iset:order_upserted`, …), shared with the route.
    pub(crate) endpoint: Arc<str>,
    /// The method: one of the nine standard names, else [`OTHER_METHOD`].
    pub(crate) method: &'static str,
    /// The route template (never the request's path or query: iSET's secret may be in them),
    /// shared with the route.
    pub(crate) path: Arc<str>,
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

/// The drift watch is saved in the inbox at most this often (see [`Observer::drift`]).
pub(crate) const DRIFT_SAVE_EVERY: Duration = Duration::from_secs(1);

/// The shared observation state of one server.
#[derive(Debug, Default)]
pub(crate) struct Observer {
    recent: Mutex<VecDeque<Seen>>,
    attempts: Mutex<Histories>,
    drift: DriftTracker,
    /// Where the drift watch is persisted (inbox mode).
    drift_store: OnceLock<Arc<dyn Inbox>>,
    /// When the drift watch was last saved (ms since the epoch; 0: never).
    drift_saved_at: std::sync::atomic::AtomicI64,
    /// Whether a delayed save of the drift watch is waiting.
    drift_save_waiting: std::sync::atomic::AtomicBool,
    /// The ordering guard (kept across reloads).
    pub(crate) ordering: crate::ordering::Ordering,
    /// Deliveries per minute over the last hour (the inspector's chart).
    activity: Mutex<crate::activity::Activity>,
}

impl Observer {
    /// A new, empty observer.
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The most recent requests the inspector shows (100), newest first.
    pub(crate) fn recent(&self) -> Vec<Seen> {
        self.recent
            .lock()
            .map(|recent| recent.iter().rev().take(RECENT_SHOWN).cloned().collect())
            .unwrap_or_default()
    }

    /// The last hour of deliveries at `now_ms`, per minute, provider and outcome.
    pub(crate) fn activity(&self, now_ms: i64) -> crate::activity::Window {
        self.activity
            .lock()
            .map(|activity| activity.window(now_ms))
            .unwrap_or_else(|_| crate::activity::Activity::default().window(now_ms))
    }

    fn count(&self, provider: Provider, outcome: Outcome, at_ms: i64) {
        if let Some(charted) = crate::activity::Charted::of(outcome) {
            if let Ok(mut activity) = self.activity.lock() {
                activity.add(provider, charted, at_ms);
            }
        }
    }

    fn push(&self, seen: Seen) {
        if let Ok(mut recent) = self.recent.lock() {
            while recent.len() >= RECENT {
                recent.pop_front();
            }
            recent.push_back(seen);
        }
    }

    /// Watches one delivery for schema drift (its stored body and decoded event): each change
    /// it shows counts `hookbr_drift_total{provider,kind,change}` and lands on the Drift page.
    ///
    /// In inbox mode what changed is saved in the inbox at most once per [`DRIFT_SAVE_EVERY`]
    /// (a delivery of an unknown kind counts every time: saving each would cost a transaction,
    /// and on SQLite an fsync, per delivery); [`flush_drift`](Self::flush_drift) saves the
    /// rest when the server stops.
    pub(crate) async fn drift(self: &Arc<Self>, body: &[u8], event: &WebhookEvent) {
        let provider = event.provider();
        let kind = event.kind();
        for observed in self
            .drift
            .observe(provider, kind, body, Some(event), now_ms())
        {
            // The label set stays bounded: a change past the tracker's record limit (an
            // authenticated sender inventing kinds) is counted under `kind="other"`.
            let kind = if observed.recorded {
                bounded(kind, FIELD_CHARS)
            } else {
                "other".to_owned()
            };
            metrics::counter!(
                "hookbr_drift_total",
                "provider" => provider.as_str(),
                "kind" => kind,
                "change" => observed.change.as_str()
            )
            .increment(1);
        }
        if self.drift_store.get().is_none() || !self.drift.has_unsaved() {
            return;
        }
        let every = i64::try_from(DRIFT_SAVE_EVERY.as_millis()).unwrap_or(i64::MAX);
        let next = self
            .drift_saved_at
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_add(every);
        let wait = next.saturating_sub(now_ms());
        if wait <= 0 {
            self.flush_drift().await;
        } else if !self
            .drift_save_waiting
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            let observer = Arc::downgrade(self);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0))).await;
                if let Some(observer) = observer.upgrade() {
                    observer
                        .drift_save_waiting
                        .store(false, std::sync::atomic::Ordering::Release);
                    observer.flush_drift().await;
                }
            });
        }
    }

    /// Saves what the drift watch saw since its last save (inbox mode; nothing otherwise).
    pub(crate) async fn flush_drift(&self) {
        let Some(store) = self.drift_store.get() else {
            return;
        };
        self.drift_saved_at
            .store(now_ms(), std::sync::atomic::Ordering::Relaxed);
        let unsaved = self.drift.take_unsaved();
        if !unsaved.is_empty() {
            if let Err(error) = store.save_drift(unsaved).await {
                tracing::warn!(target: "hookbr", %error, "cannot save the drift watch");
            }
        }
    }

    /// Persists the drift watch in `inbox` from now on, after restoring what it kept (a
    /// restarted server, or another instance sharing a PostgreSQL inbox, goes on from there).
    pub(crate) async fn keep_drift_in(&self, inbox: Arc<dyn Inbox>) {
        match inbox.load_drift().await {
            Ok(Some(state)) => self.drift.restore(state),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(target: "hookbr", %error, "cannot load the drift watch");
            }
        }
        let _ = self.drift_store.set(inbox);
    }

    /// The drift records, most recently seen first.
    pub(crate) fn drift_records(&self) -> Vec<DriftRecord> {
        self.drift.records()
    }

    /// Redacts the drift examples this process holds that still show `subject` (erasure);
    /// returns how many.
    pub(crate) fn redact_drift(&self, subject: &hookbr_core::privacy::Subject) -> u64 {
        self.drift.redact(subject)
    }

    /// Records an attempt of row `id` (its error cut at 500 characters; the latest 20
    /// attempts of a row are kept).
    pub(crate) fn attempt(&self, id: i64, provider: &str, mut attempt: Attempt, dead: bool) {
        attempt.error = attempt.error.map(|error| bounded(&error, ERROR_CHARS));
        if attempt.error.is_some() {
            if let (Ok(known), Ok(mut activity)) =
                (provider.parse::<Provider>(), self.activity.lock())
            {
                activity.add_failed_attempt(known, attempt.at_ms);
            }
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
            let history = histories.entry(id).or_default();
            if history.len() >= ATTEMPTS_PER_ROW {
                history.remove(0);
            }
            history.push(attempt);
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
    observer: Arc<Observer>,
    /// The endpoint text.
    endpoint: Arc<str>,
    /// The route template.
    path: Arc<str>,
    /// The provider name.
    provider: &'static str,
}

impl Route {
    /// The route `path` (its template) of `endpoint`, recorded in `observer`; both texts are
    /// cut at 200 characters.
    pub(crate) fn new(
        observer: Arc<Observer>,
        endpoint: &str,
        path: &str,
        provider: &'static str,
    ) -> Self {
        Self {
            observer,
            endpoint: bounded(endpoint, FIELD_CHARS).into(),
            path: bounded(path, FIELD_CHARS).into(),
            provider,
        }
    }
}

/// The one outcome taxonomy: hookbr-tower puts it in the extensions of its own answers; the
/// handler's responses are told by their status ([`Outcome::of_response`]).
/// A note the direct-mode handler leaves on its answer for the recent-requests log (the
/// ordering guard's `stale_dropped` / `stale_annotated`), shown as the reason of a processed
/// delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Note(pub(crate) &'static str);

fn outcome_of(response: &Response) -> Outcome {
    Outcome::of_response(response.status().as_u16(), response.extensions().get())
}

/// axum middleware around one webhook route: a span per delivery, metrics, the recent log.
pub(crate) async fn record(State(route): State<Route>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let at_ms = now_ms();
    let method = method_name(request.method());
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let outcome = outcome_of(&response);
    let provider = route.provider;
    if let Ok(known) = provider.parse::<Provider>() {
        route.observer.count(known, outcome, at_ms);
    }
    match outcome {
        Outcome::Acknowledged(Ack::Duplicate) => {
            metrics::counter!("hookbr_deliveries_duplicate_total", "provider" => provider)
                .increment(1);
        }
        Outcome::Acknowledged(Ack::Handshake) => {
            metrics::counter!("hookbr_deliveries_handshake_total", "provider" => provider)
                .increment(1);
        }
        // Processed, stored, and an acknowledgement this version does not know yet.
        Outcome::Processed | Outcome::Acknowledged(_) => {
            metrics::counter!("hookbr_deliveries_accepted_total", "provider" => provider)
                .increment(1);
        }
        _ => {
            let reason = outcome.reason().unwrap_or("handler_failed");
            if reason == SIGNATURE_REUSED {
                metrics::counter!("hookbr_signature_reuse_total", "provider" => provider)
                    .increment(1);
            }
            metrics::counter!(
                "hookbr_deliveries_rejected_total",
                "provider" => provider,
                "reason" => reason,
            )
            .increment(1);
        }
    }
    metrics::histogram!("hookbr_request_duration_seconds", "provider" => provider)
        .record(elapsed.as_secs_f64());
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    if outcome == Outcome::HandlerFailed {
        tracing::warn!(target: "hookbr::delivery", endpoint = &*route.endpoint, status, "the sinks failed; the provider will retry");
    }
    route.observer.push(Seen {
        at_ms,
        endpoint: route.endpoint.clone(),
        method,
        // The route template, not the request path: iSET's secret may be a path segment.
        path: route.path.clone(),
        status,
        outcome: outcome.as_str(),
        reason: outcome
            .reason()
            .or_else(|| response.extensions().get::<Note>().map(|note| note.0)),
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
    fn fields_are_bounded() {
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("abcd", 3), "ab…");
        assert_eq!(bounded(&"é".repeat(1_000), 10).chars().count(), 10);
        for (method, shown) in [
            ("GET", "GET"),
            ("PATCH", "PATCH"),
            ("get", OTHER_METHOD),
            ("PROPFIND", OTHER_METHOD),
        ] {
            let method = axum::http::Method::from_bytes(method.as_bytes()).unwrap();
            assert_eq!(method_name(&method), shown);
        }
        let huge = axum::http::Method::from_bytes(&vec![b'A'; 400_000]).unwrap();
        assert_eq!(method_name(&huge), OTHER_METHOD);
    }

    #[test]
    fn counts_are_bounded() {
        let observer = Observer::new();
        let route = Route::new(observer.clone(), "bonifiq", "/b", "bonifiq");
        for at_ms in 0..(RECENT as i64 + 100) {
            observer.push(Seen {
                at_ms,
                endpoint: route.endpoint.clone(),
                method: "POST",
                path: route.path.clone(),
                status: 200,
                outcome: "stored",
                reason: None,
                micros: 1,
            });
        }
        assert_eq!(observer.recent.lock().unwrap().len(), RECENT);
        let recent = observer.recent();
        assert_eq!(recent.len(), RECENT_SHOWN);
        assert_eq!(recent[0].at_ms, RECENT as i64 + 99);
        for attempt in 1..=100 {
            observer.attempt(
                7,
                "bonifiq",
                Attempt {
                    at_ms: 0,
                    attempt,
                    error: Some("e".repeat(100_000)),
                },
                false,
            );
        }
        let attempts = observer.attempts(7);
        assert_eq!(attempts.len(), ATTEMPTS_PER_ROW);
        assert_eq!(attempts.last().unwrap().attempt, 100);
        assert!(
            attempts
                .iter()
                .all(|attempt| attempt.error.as_ref().unwrap().chars().count() == ERROR_CHARS)
        );
    }

    /// Sends `method path` on a fresh connection to `addr` and reads the answer (bounded by a
    /// read timeout).
    fn raw_request(addr: std::net::SocketAddr, method: &str, path: &str) -> String {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = stream.take(1 << 20).read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// Over a real socket: 400 KB methods and 60 KB paths (near the longest URI hyper takes)
    /// leave only bounded, chosen values
    /// in the log.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hostile_requests_leave_bounded_traces() {
        let observer = Observer::new();
        let template = format!("/{}/{{secret}}", "t".repeat(1_000));
        let route = Route::new(observer.clone(), &"e".repeat(1_000), &template, "iset");
        let app = axum::Router::new().route(
            &template,
            axum::routing::any(|| async { StatusCode::UNAUTHORIZED })
                .layer(axum::middleware::from_fn_with_state(route, record)),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let prefix = format!("/{}", "t".repeat(1_000));
        let answers = tokio::task::spawn_blocking(move || {
            let method = "A".repeat(400_000);
            let long_path = format!("{prefix}/{}", "s".repeat(60_000));
            (0..20)
                .map(|_| raw_request(addr, &method, &format!("{prefix}/x")))
                .chain((0..20).map(|_| raw_request(addr, "POST", &long_path)))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        server.abort();
        let statuses: std::collections::BTreeSet<&str> = answers
            .iter()
            .map(|answer| answer.lines().next().unwrap_or_default())
            .collect();
        assert!(
            answers
                .iter()
                .all(|answer| answer.starts_with("HTTP/1.1 401")),
            "{statuses:?}"
        );
        let recent = observer.recent.lock().unwrap().clone();
        assert_eq!(recent.len(), 40);
        for seen in &recent {
            assert!(seen.method == OTHER_METHOD || seen.method == "POST");
            assert!(seen.path.chars().count() <= FIELD_CHARS, "{}", seen.path);
            assert!(seen.endpoint.chars().count() <= FIELD_CHARS);
            assert!(!seen.path.contains("sss"), "the request path is never kept");
        }
        // Every entry shares the route's two texts: 40 requests, two allocations.
        assert!(
            recent
                .iter()
                .all(|seen| Arc::ptr_eq(&seen.path, &recent[0].path))
        );
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
