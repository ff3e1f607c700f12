//! The admin listener: the inspector pages, `/metrics`, and `/healthz` and `/readyz`
//! ([`health`], outside the rules below).
//!
//! It binds 127.0.0.1 by default. Any other address needs an access token (`[admin] token`):
//! the page is then opened once as `/?token=…`, which sets an HttpOnly, SameSite=Strict cookie
//! valid 8 hours, and scripts send `Authorization: Bearer …`. Every answer carries a restrictive
//! Content-Security-Policy and `X-Frame-Options: DENY`. State-changing requests (Replay) must come from
//! the page itself (`Origin`/`Sec-Fetch-Site` checked), so another site open in the same browser
//! cannot replay deliveries through a form ([`auth`]).
//!
//! Personal data is masked on every page (docs/PRIVACY.md). One delivery is shown unmasked
//! only by `POST /deliveries/{id}/reveal` with the admin token (form field `token` or
//! `Authorization: Bearer`, even when the cookie is valid) and a non-empty `reason`; each
//! reveal writes a `hookbr::audit` log line. Without `[admin] token` nothing can be revealed.
//!
//! Everything is server-rendered HTML with no script and no external resource (nothing outside
//! loopback may be reachable); the list refreshes itself every few seconds ([`pages`]).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, Uri, header},
    middleware,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use hookbr_axum::{ConnectionLimits, ConnectionStats};
use hookbr_core::{
    Inbox, Provider, Secret,
    inbox::{ListFilter, RowState},
};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    Error, ReloadHandle,
    health::{self, Alive},
    inbox::{self as inbox_ops, RowDetail, RowSummary, audit_reveal},
    observe::{self, ListenerMetrics, Observer, inbox_gauges},
};

mod auth;
mod chart;
mod entities;
mod pages;
mod query;

/// What the admin listener reports on, from the rest of the server.
#[derive(Debug, Clone)]
pub(crate) struct Watched {
    /// The inbox, in inbox mode.
    pub(crate) inbox: Option<Arc<dyn Inbox>>,
    /// Recent requests and attempts.
    pub(crate) observer: Arc<Observer>,
    /// The receiver listener's connection counters.
    pub(crate) receiver: ConnectionStats,
    /// What `/readyz` checks.
    pub(crate) readiness: health::Readiness,
}

/// What the admin pages read.
#[derive(Debug, Clone)]
struct Admin {
    inbox: Option<Arc<dyn Inbox>>,
    observer: Arc<Observer>,
    prometheus: PrometheusHandle,
    /// Connection counters by listener (`receiver`, `admin`).
    listeners: Arc<[ListenerMetrics; 2]>,
    reload: ReloadHandle,
    /// The access token, which a reveal must present.
    token: Option<Arc<Secret>>,
}

/// A running admin listener.
#[derive(Debug)]
pub(crate) struct AdminServer {
    /// The bound address.
    pub(crate) addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl AdminServer {
    /// Waits for the listener to finish after the stop signal.
    pub(crate) async fn join(self) {
        let _ = self.task.await;
    }
}

/// Starts the admin listener on `listen`, its connections bounded by `limits`.
pub(crate) async fn start(
    listen: SocketAddr,
    token: Option<Arc<Secret>>,
    limits: ConnectionLimits,
    watched: Watched,
    reload: ReloadHandle,
    stop: watch::Receiver<bool>,
) -> Result<AdminServer, Error> {
    if !listen.ip().is_loopback() && token.is_none() {
        return Err(Error::config(format!(
            "admin.listen = {listen} is not a loopback address: set admin.token (env:NAME or \
             file:PATH) so that only you can open the inspector"
        )));
    }
    let admin_stats = ConnectionStats::new();
    let state = Admin {
        inbox: watched.inbox,
        observer: watched.observer,
        prometheus: observe::prometheus(),
        listeners: Arc::new([
            ListenerMetrics::new("receiver", watched.receiver),
            ListenerMetrics::new("admin", admin_stats.clone()),
        ]),
        reload,
        token: token.clone(),
    };
    let app = Router::new()
        .route("/", get(list))
        .route("/deliveries/{id}", get(detail))
        .route("/deliveries/{id}/replay", post(replay))
        .route("/deliveries/{id}/reveal", post(reveal))
        .route("/entities/{kind}/{id}", get(entities::timeline))
        .route("/drift", get(drift))
        .route("/metrics", get(metrics_text))
        .route("/reload", post(reload_config))
        .route("/erase", post(erase_subject))
        .layer(middleware::from_fn_with_state(token, auth::guard))
        .with_state(state)
        // For load balancers and probes: no token, any Host, fixed words only (see `health`).
        .merge(health::routes(watched.readiness));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| {
            Error::runtime(format!(
                "cannot listen on {listen} (admin): {error}; choose another address with \
                 [admin] listen (or --admin for the demo, e.g. 127.0.0.1:0)"
            ))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|error| Error::runtime(format!("admin listener: {error}")))?;
    let task = crate::server::serve(
        listener,
        app,
        limits,
        None,
        admin_stats,
        &Alive::new(),
        stop,
    );
    Ok(AdminServer { addr, task })
}

/// The list page's query: `state`, `provider` (empty or unknown values mean any), `live=0`
/// and the search text `q`.
fn filters(uri: &Uri) -> (Option<RowState>, Option<Provider>, bool, Option<String>) {
    let (mut state, mut provider, mut live, mut search) = (None, None, true, None);
    for (name, value) in query::form_pairs(uri.query().unwrap_or_default()) {
        match name.as_str() {
            "state" => state = RowState::from_text(&value),
            "provider" => provider = value.parse::<Provider>().ok(),
            "live" => live = value != "0",
            "q" if !value.trim().is_empty() => search = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    (state, provider, live, search)
}

async fn list(State(admin): State<Admin>, uri: Uri) -> Response {
    let (state, provider, live, search) = filters(&uri);
    let found = match (&admin.inbox, &search) {
        (Some(inbox), Some(text)) => {
            Some((text.clone(), entities::search(inbox.as_ref(), text).await))
        }
        _ => None,
    };
    let mut oldest = chart::Oldest::Direct;
    let inbox = match &admin.inbox {
        Some(inbox) => {
            let stats = inbox.stats().await.ok();
            oldest = chart::Oldest::Inbox {
                all: stats.and_then(|stats| stats.oldest_pending_ms),
                by_provider: inbox
                    .oldest_open_by_provider(chart::OLDEST_SCAN)
                    .await
                    .ok()
                    .flatten(),
                complete: stats.is_some_and(|stats| {
                    stats.pending.saturating_add(stats.in_flight)
                        <= u64::try_from(chart::OLDEST_SCAN).unwrap_or(u64::MAX)
                }),
            };
            let mut filter = ListFilter::new().limit(100);
            if let Some(state) = state {
                filter = filter.state(state);
            }
            if let Some(provider) = provider {
                filter = filter.provider(provider.as_str());
            }
            let rows = inbox
                .list(filter)
                .await
                .map(|rows| {
                    rows.iter()
                        .map(|row| {
                            let kind = row
                                .record
                                .decode()
                                .ok()
                                .map_or_else(|| "?".to_owned(), |event| event.kind().to_owned());
                            (RowSummary::new(row), kind)
                        })
                        .collect()
                })
                .map_err(|error| error.to_string());
            Some(pages::InboxPart { stats, rows })
        }
        None => None,
    };
    let now = hookbr_core::inbox::now_ms();
    pages::list(&pages::ListPage {
        state,
        provider,
        inbox,
        recent: admin.observer.recent(),
        // A search result page does not refresh itself.
        live: live && found.is_none(),
        search: found,
        activity: admin.observer.activity(now),
        now_ms: now,
        oldest,
    })
    .into_response()
}

/// Why a page about one row cannot be answered.
enum Unavailable {
    /// Direct mode: there is no inbox (`404`).
    NoInbox,
    /// The inbox failed (`503`).
    Failed(String),
}

impl Unavailable {
    fn failed(error: impl std::fmt::Display) -> Self {
        Self::Failed(error.to_string())
    }
}

impl IntoResponse for Unavailable {
    fn into_response(self) -> Response {
        match self {
            Self::NoInbox => (StatusCode::NOT_FOUND, "no inbox").into_response(),
            Self::Failed(error) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the inbox failed: {error}"),
            )
                .into_response(),
        }
    }
}

impl Admin {
    fn inbox(&self) -> Result<&dyn Inbox, Unavailable> {
        self.inbox.as_deref().ok_or(Unavailable::NoInbox)
    }
}

/// The entity a stored delivery is about, with its timeline's address.
fn entity_link(row: &hookbr_core::InboxRow) -> Option<(String, hookbr_core::entity::Entity)> {
    row.record
        .decode()
        .ok()
        .and_then(|event| event.entity())
        .map(|entity| (entities::href(&entity), entity))
}

async fn detail(State(admin): State<Admin>, Path(id): Path<i64>) -> Result<Response, Unavailable> {
    let row = admin.inbox()?.get(id).await.map_err(Unavailable::failed)?;
    Ok(match row {
        Some(row) => pages::detail(&pages::DetailPage {
            entity: entity_link(&row),
            decoded: row.record.decode(),
            attempts: admin.observer.attempts(row.id),
            row: RowDetail::new(&row),
            can_reveal: admin.token.is_some(),
        })
        .into_response(),
        None => (StatusCode::NOT_FOUND, pages::not_found()).into_response(),
    })
}

/// The longest reveal reason kept, in characters.
const MAX_REASON_CHARS: usize = 500;

/// `POST /deliveries/{id}/reveal`: the delivery's page unmasked, for the admin token (form
/// field `token` or Bearer header: the cookie alone is not enough) and a non-empty `reason`
/// (form field). `401` without the token (or when none is configured), `400` without a reason;
/// every reveal is audited ([`audit_reveal`]).
async fn reveal(
    State(admin): State<Admin>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Unavailable> {
    let form = query::form_pairs(&String::from_utf8_lossy(&body));
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let Some(token) = &admin.token else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            "revealing personal data needs the admin token: set [admin] token",
        )
            .into_response());
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let presented = bearer
        .or_else(|| field("token"))
        .is_some_and(|offered| token.matches(offered.as_bytes()));
    if !presented {
        return Ok((
            StatusCode::UNAUTHORIZED,
            "revealing personal data needs the admin token (form field token)",
        )
            .into_response());
    }
    let reason: String = field("reason")
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_REASON_CHARS)
        .collect();
    if reason.is_empty() {
        return Ok((
            StatusCode::BAD_REQUEST,
            "revealing personal data needs a reason (form field reason)",
        )
            .into_response());
    }
    let row = admin.inbox()?.get(id).await.map_err(Unavailable::failed)?;
    Ok(match row {
        Some(row) => {
            audit_reveal(id, &reason, "admin.token");
            pages::detail(&pages::DetailPage {
                decoded: row.record.decode(),
                attempts: admin.observer.attempts(row.id),
                row: RowDetail::revealed(&row),
                can_reveal: true,
                entity: entity_link(&row),
            })
            .into_response()
        }
        None => (StatusCode::NOT_FOUND, pages::not_found()).into_response(),
    })
}

async fn replay(State(admin): State<Admin>, Path(id): Path<i64>) -> Result<Response, Unavailable> {
    let replayed = admin
        .inbox()?
        .replay(id)
        .await
        .map_err(Unavailable::failed)?;
    Ok(if replayed {
        Redirect::to(&format!("/deliveries/{id}")).into_response()
    } else {
        (
            StatusCode::CONFLICT,
            "not dead-lettered (already replayed?)",
        )
            .into_response()
    })
}

/// The largest `POST /erase` body read.
const ERASE_BODY_LIMIT: usize = 4_096;

/// `POST /erase` with `{"subject": "<CPF, CNPJ or e-mail>"}`: erases that person's data
/// (issue 19, LGPD art. 18) and answers the receipt as JSON (`200`, also when nothing
/// matched); `400` when the body is not that JSON or the subject is not a valid CPF, CNPJ
/// (check digits) or e-mail address; `404` in direct mode; `503` when the inbox fails. The
/// subject is never logged nor answered: the receipt names its salted hash.
async fn erase_subject(State(admin): State<Admin>, body: axum::body::Bytes) -> Response {
    let bad = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "error": message }).to_string(),
        )
            .into_response()
    };
    if body.len() > ERASE_BODY_LIMIT {
        return bad("body too large: send {\"subject\": \"...\"}");
    }
    let Some(text) = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|value| value.get("subject")?.as_str().map(str::to_owned))
    else {
        return bad("expected a JSON body {\"subject\": \"<CPF, CNPJ or e-mail>\"}");
    };
    let subject = match hookbr_core::privacy::Subject::parse(&text) {
        Ok(subject) => subject,
        Err(error) => return bad(&error.to_string()),
    };
    let Some(inbox) = admin.inbox.as_deref() else {
        return Unavailable::NoInbox.into_response();
    };
    let in_memory = admin.observer.redact_drift(&subject);
    match inbox_ops::erase(inbox, subject).await {
        Ok(receipt) => {
            tracing::info!(
                target: "hookbr",
                subject_hash = %receipt.subject_hash,
                rows = receipt.erasure.rows(),
                drift_examples = receipt.erasure.drift_examples,
                drift_examples_in_memory = in_memory,
                "erased a subject's data on request"
            );
            (
                [(header::CONTENT_TYPE, "application/json")],
                receipt.to_json().to_string(),
            )
                .into_response()
        }
        Err(error) => Unavailable::failed(error).into_response(),
    }
}

/// `GET /drift`: the Drift page, or with `?format=json` the records as a JSON array (what
/// `hookbr drift` reads).
async fn drift(State(admin): State<Admin>, uri: Uri) -> Response {
    let records = admin.observer.drift_records();
    let json = query::form_pairs(uri.query().unwrap_or_default())
        .iter()
        .any(|(name, value)| name == "format" && value == "json");
    if json {
        match serde_json::to_string(&records) {
            Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
            Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
        }
    } else {
        pages::drift(&records).into_response()
    }
}

async fn metrics_text(State(admin): State<Admin>) -> Response {
    if let Some(inbox) = &admin.inbox {
        inbox_gauges(inbox.as_ref()).await;
    }
    for listener in admin.listeners.iter() {
        listener.refresh();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        admin.prometheus.render(),
    )
        .into_response()
}

/// `POST /reload`: reads the configuration file again and swaps it in. `200` with what is now
/// served (and the keys that need a restart), `422` with the reason when the new configuration
/// is refused (the running one keeps serving).
async fn reload_config(State(admin): State<Admin>) -> Response {
    match admin.reload.reload().await {
        Ok(reloaded) => {
            let mut text = String::from("reloaded\n");
            for line in reloaded.warnings.iter().chain(&reloaded.summary) {
                text.push_str(line);
                text.push('\n');
            }
            text.into_response()
        }
        Err(error) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("refused, the running configuration keeps serving: {error}\n"),
        )
            .into_response(),
    }
}
