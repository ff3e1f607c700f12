//! The admin listener of `hookbr serve` and `hookbr demo --keep`: the inspector page and
//! `/metrics`.
//!
//! It binds 127.0.0.1 by default. Any other address needs an access token (`[admin] token`):
//! the page is then opened once as `/?token=…`, which sets an HttpOnly, SameSite=Strict cookie,
//! and scripts send `Authorization: Bearer …`. State-changing requests (Replay) must come from
//! the page itself (`Origin`/`Sec-Fetch-Site` checked), so another site open in the same browser
//! cannot replay deliveries through a form.
//!
//! Everything is server-rendered HTML with no script and no external resource (nothing outside
//! loopback may be reachable); the list refreshes itself every few seconds.

use std::{fmt::Write as _, net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{Path, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    middleware::{self, Next},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use hookbr_core::{
    Endpoint, Inbox, InboxRow, Request as CoreRequest, Secret, WebhookEvent,
    inbox::{ListFilter, RowState},
};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    Failure,
    inbox::{body_json, provider_of},
    observe::{Observer, inbox_gauges},
    sink::rfc3339_ms,
};

const COOKIE: &str = "hookbr_admin";

/// What the admin pages read.
#[derive(Debug, Clone)]
struct Admin {
    inbox: Option<Arc<dyn Inbox>>,
    observer: Arc<Observer>,
    prometheus: PrometheusHandle,
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

/// Starts the admin listener on `listen`.
pub(crate) async fn start(
    listen: SocketAddr,
    token: Option<Arc<Secret>>,
    inbox: Option<Arc<dyn Inbox>>,
    observer: Arc<Observer>,
    mut stop: watch::Receiver<bool>,
) -> Result<AdminServer, Failure> {
    if !listen.ip().is_loopback() && token.is_none() {
        return Err(Failure::usage(format!(
            "admin.listen = {listen} is not a loopback address: set admin.token (env:NAME or \
             file:PATH) so that only you can open the inspector"
        )));
    }
    let state = Admin {
        inbox,
        observer,
        prometheus: crate::observe::prometheus(),
        token,
    };
    let app = Router::new()
        .route("/", get(list))
        .route("/deliveries/{id}", get(detail))
        .route("/deliveries/{id}/replay", post(replay))
        .route("/metrics", get(metrics_text))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| {
            Failure::runtime(format!(
                "cannot listen on {listen} (admin): {error}; choose another address with \
                 [admin] listen (or --admin for the demo, e.g. 127.0.0.1:0)"
            ))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|error| Failure::runtime(format!("admin listener: {error}")))?;
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(AdminServer { addr, task })
}

/// `?token=…`, %-decoded only (a base64 token's `+` stays a `+`).
fn query_token(request: &Request) -> Option<String> {
    request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(|value| percent_decode(&value.replace('+', "%2B")))
}

/// The cookie holds a digest of the token, never the token (any byte of which may also be
/// invalid in a cookie).
fn cookie_value(token: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether the request presents the token (Bearer header) or the cookie made from it.
fn authorized(request: &Request, token: &Secret) -> bool {
    let headers = request.headers();
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        return token.matches(bearer.trim().as_bytes());
    }
    let expected = String::from_utf8(token.expose().to_vec())
        .map(|text| cookie_value(&text))
        .unwrap_or_default();
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("hookbr_admin="))
        .any(|offered| {
            use subtle::ConstantTimeEq as _;
            !expected.is_empty() && bool::from(offered.as_bytes().ct_eq(expected.as_bytes()))
        })
}

/// Without a token the inspector trusts the loopback interface only: a `Host` other than a
/// loopback name is a DNS-rebinding page and is refused.
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
    else {
        return true;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    matches!(name, "127.0.0.1" | "localhost" | "::1") || name.starts_with("127.")
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                if let Some(value) = hex {
                    out.push(value);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Access token (when configured) and same-origin checks.
async fn guard(State(admin): State<Admin>, request: Request, next: Next) -> Response {
    if let Some(token) = &admin.token {
        if let Some(offered) = query_token(&request) {
            if !token.matches(offered.as_bytes()) {
                return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
            }
            // Always to the inspector's own root: never an address taken from the request.
            let mut response = Redirect::to("/").into_response();
            let cookie = format!(
                "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                cookie_value(&offered)
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            return response;
        }
        if !authorized(&request, token) {
            return (
                StatusCode::UNAUTHORIZED,
                "this inspector needs its access token: open /?token=… once",
            )
                .into_response();
        }
    }
    if admin.token.is_none() && !loopback_host(request.headers()) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "the inspector answers only to a loopback host name (127.0.0.1 or localhost)",
        )
            .into_response();
    }
    if request.method() == axum::http::Method::POST && !same_origin(request.headers()) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    next.run(request).await
}

/// A POST must come from this page: `Sec-Fetch-Site: same-origin`, or an `Origin` equal to
/// `http://<Host>`, or neither header (curl and scripts).
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => origin == format!("http://{host}"),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}\
th{background:#f4f4f4}.done,.stored,.processed{color:#176f2c}.dead,.rejected,.failed,.handler_failed{color:#b3261e;font-weight:600}\
.pending,.in_flight,.duplicate,.handshake{color:#8a5a00}pre{background:#f7f7f7;padding:.8em;overflow:auto}\
code{font-size:13px}nav a{margin-right:1em}";

fn page(title: &str, refresh: bool, body: &str) -> Html<String> {
    let refresh = if refresh {
        "<meta http-equiv=\"refresh\" content=\"3\">"
    } else {
        ""
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}\
         <title>{} · hookbr</title><style>{STYLE}</style></head><body>\
         <nav><a href=\"/\">deliveries</a><a href=\"/metrics\">metrics</a></nav>{body}</body></html>",
        escape(title)
    ))
}

#[derive(Debug, Default)]
struct Filters {
    state: Option<String>,
    provider: Option<String>,
    live: Option<String>,
}

impl Filters {
    fn from_uri(uri: &Uri) -> Self {
        let mut filters = Self::default();
        for (name, value) in form_pairs(uri.query().unwrap_or_default()) {
            match name.as_str() {
                "state" => filters.state = Some(value),
                "provider" => filters.provider = Some(value),
                "live" => filters.live = Some(value),
                _ => {}
            }
        }
        filters
    }
}

async fn list(State(admin): State<Admin>, uri: Uri) -> Response {
    let filters = Filters::from_uri(&uri);
    let mut body = String::from("<h1>Deliveries</h1>");
    let state = filters
        .state
        .as_deref()
        .filter(|state| !state.is_empty())
        .and_then(RowState::from_text);
    let provider = filters
        .provider
        .as_deref()
        .filter(|provider| !provider.is_empty())
        .and_then(|provider| provider.parse::<hookbr_core::Provider>().ok());
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/\">state <select name=\"state\" id=\"state\">{}</select> \
         provider <select name=\"provider\" id=\"provider\">{}</select> \
         <button type=\"submit\">filter</button></form>",
        options(
            &["", "pending", "in_flight", "done", "dead"],
            state.map(RowState::as_str)
        ),
        options(
            &["", "bonifiq", "foody", "iset", "grafeno"],
            provider.map(hookbr_core::Provider::as_str)
        ),
    );
    match &admin.inbox {
        Some(inbox) => {
            if let Ok(stats) = inbox.stats().await {
                let _ = write!(
                    body,
                    "<p id=\"stats\">pending {} · in flight {} · done {} · <span class=\"dead\">dead {}</span></p>",
                    stats.pending, stats.in_flight, stats.done, stats.dead
                );
            }
            let mut filter = ListFilter::new().limit(100);
            if let Some(state) = state {
                filter = filter.state(state);
            }
            if let Some(provider) = provider {
                filter = filter.provider(provider.as_str());
            }
            match inbox.list(filter).await {
                Ok(rows) => body.push_str(&rows_table(&rows)),
                Err(error) => {
                    let _ = write!(
                        body,
                        "<p class=\"failed\">the inbox failed: {}</p>",
                        escape(&error.to_string())
                    );
                }
            }
        }
        None => body.push_str("<p>direct mode: no inbox (recent requests below).</p>"),
    }
    body.push_str("<h2>Recent requests</h2><p>Every answer given to a provider, rejections included (they are never stored).</p>");
    body.push_str(&recent_table(&admin.observer));
    let live = filters.live.as_deref() != Some("0");
    page("Deliveries", live, &body).into_response()
}

fn options(values: &[&str], selected: Option<&str>) -> String {
    values
        .iter()
        .map(|value| {
            let mark = if Some(*value) == selected || (value.is_empty() && selected.is_none()) {
                " selected"
            } else {
                ""
            };
            let label = if value.is_empty() { "any" } else { value };
            format!("<option value=\"{value}\"{mark}>{label}</option>")
        })
        .collect()
}

/// The row's kind, decoded again from the stored bytes (`?` when they no longer decode).
fn kind_of(row: &InboxRow) -> String {
    Endpoint::from_text(&row.record.endpoint)
        .and_then(|endpoint| {
            let request = CoreRequest::new(&row.record.body).with_headers(&row.record.headers);
            WebhookEvent::decode(endpoint, &request).ok()
        })
        .map_or_else(|| "?".to_owned(), |event| event.kind().to_owned())
}

fn rows_table(rows: &[InboxRow]) -> String {
    if rows.is_empty() {
        return "<p id=\"empty\">no deliveries</p>".to_owned();
    }
    let mut html = String::from(
        "<table id=\"deliveries\"><tr><th>id</th><th>received</th><th>provider</th><th>kind</th>\
         <th>delivery id</th><th>state</th><th>attempts</th><th>last error</th><th></th></tr>",
    );
    for row in rows {
        let replay = if row.state == RowState::Dead {
            format!(
                "<form method=\"post\" action=\"/deliveries/{}/replay\"><button type=\"submit\" class=\"replay\">Replay</button></form>",
                row.id
            )
        } else {
            String::new()
        };
        let _ = write!(
            html,
            "<tr data-id=\"{id}\" data-state=\"{state}\"><td><a href=\"/deliveries/{id}\">{id}</a></td><td>{}</td><td>{}</td>\
             <td>{}</td><td><code>{}</code></td><td class=\"{state}\">{state}</td><td>{}</td><td>{}</td><td>{replay}</td></tr>",
            rfc3339_ms(row.record.received_at_ms),
            escape(&provider_of(row)),
            escape(&kind_of(row)),
            escape(&row.record.delivery_id),
            row.attempts,
            escape(row.last_error.as_deref().unwrap_or("")),
            id = row.id,
            state = row.state.as_str(),
        );
    }
    html.push_str("</table>");
    html
}

fn recent_table(observer: &Observer) -> String {
    let recent = observer.recent();
    if recent.is_empty() {
        return "<p>none yet</p>".to_owned();
    }
    let mut html = String::from(
        "<table id=\"recent\"><tr><th>at</th><th>endpoint</th><th>request</th><th>status</th><th>outcome</th><th>reason</th><th>ms</th></tr>",
    );
    for seen in recent.iter().take(100) {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td class=\"{outcome}\">{outcome}</td><td>{}</td><td>{:.1}</td></tr>",
            rfc3339_ms(seen.at_ms),
            escape(&seen.endpoint),
            escape(&seen.method),
            escape(&seen.path),
            seen.status,
            seen.reason.unwrap_or(""),
            // Microseconds to milliseconds for display.
            f64::from(u32::try_from(seen.micros).unwrap_or(u32::MAX)) / 1_000.0,
            outcome = seen.outcome,
        );
    }
    html.push_str("</table>");
    html
}

async fn detail(State(admin): State<Admin>, Path(id): Path<i64>) -> Response {
    let Some(inbox) = &admin.inbox else {
        return (StatusCode::NOT_FOUND, "no inbox").into_response();
    };
    let row = match inbox.get(id).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                page("Not found", false, "<p>no such delivery</p>"),
            )
                .into_response();
        }
        Err(error) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the inbox failed: {error}"),
            )
                .into_response();
        }
    };
    let record = &row.record;
    let mut body = format!(
        "<h1>Delivery {}</h1><table id=\"summary\">\
         <tr><th>endpoint</th><td>{}</td></tr><tr><th>delivery id</th><td><code>{}</code></td></tr>\
         <tr><th>state</th><td class=\"{state}\" id=\"state\">{state}</td></tr><tr><th>attempts</th><td>{}</td></tr>\
         <tr><th>received</th><td>{}</td></tr>\
         <tr><th>verification</th><td>authentic: matched {}</td></tr>",
        row.id,
        escape(&record.endpoint),
        escape(&record.delivery_id),
        row.attempts,
        rfc3339_ms(record.received_at_ms),
        escape(&record.matched_key),
        state = row.state.as_str(),
    );
    if let Some(error) = &row.last_error {
        let _ = write!(
            body,
            "<tr><th>last error</th><td class=\"failed\">{}</td></tr>",
            escape(error)
        );
    }
    if row.state == RowState::Pending && row.attempts > 0 {
        let _ = write!(
            body,
            "<tr><th>next attempt</th><td>{}</td></tr>",
            rfc3339_ms(row.next_attempt_at_ms)
        );
    }
    body.push_str("</table>");
    if row.state == RowState::Dead {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/deliveries/{}/replay\"><button type=\"submit\" id=\"replay\">Replay</button></form>",
            row.id
        );
    }
    let decoded = Endpoint::from_text(&record.endpoint).map(|endpoint| {
        let request = CoreRequest::new(&record.body).with_headers(&record.headers);
        WebhookEvent::decode(endpoint, &request)
    });
    body.push_str("<h2>Decoding</h2><ul id=\"decoding\">");
    match decoded {
        Some(Ok(event)) => {
            let _ = write!(
                body,
                "<li>kind <b>{}</b>{}</li>",
                escape(event.kind()),
                if event.is_known() {
                    ""
                } else {
                    " (not a documented kind: forwarded with known = false)"
                }
            );
            match event.drift() {
                Some(drift) => {
                    let _ = write!(
                        body,
                        "<li class=\"failed\">warning: {}</li>",
                        escape(&drift.to_string())
                    );
                }
                None => body.push_str("<li>no warnings</li>"),
            }
        }
        Some(Err(error)) => {
            let _ = write!(
                body,
                "<li class=\"failed\">cannot decode: {}</li>",
                escape(&error.to_string())
            );
        }
        None => body.push_str("<li class=\"failed\">unknown endpoint</li>"),
    }
    body.push_str("</ul><h2>Attempts</h2>");
    let attempts = admin.observer.attempts(row.id);
    if attempts.is_empty() {
        body.push_str("<p>none seen by this process (the last error, if any, is above)</p>");
    } else {
        body.push_str("<table id=\"attempts\"><tr><th>#</th><th>at</th><th>result</th></tr>");
        for attempt in attempts {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                attempt.attempt,
                rfc3339_ms(attempt.at_ms),
                if attempt.error.is_some() {
                    "failed"
                } else {
                    "done"
                },
                escape(attempt.error.as_deref().unwrap_or("delivered")),
            );
        }
        body.push_str("</table>");
    }
    body.push_str("<h2>Headers</h2><p>Only what decoding needs is stored; secret headers never are.</p><pre id=\"headers\">");
    for (name, value) in &record.headers {
        let _ = writeln!(body, "{}: {}", escape(name), escape(value));
    }
    body.push_str("</pre><h2>Body</h2><pre id=\"body\">");
    let pretty = match body_json(&row) {
        serde_json::Value::String(text) => text,
        value => serde_json::to_string_pretty(&value).unwrap_or_default(),
    };
    body.push_str(&escape(&pretty));
    body.push_str("</pre>");
    page(&format!("Delivery {}", row.id), false, &body).into_response()
}

async fn replay(State(admin): State<Admin>, Path(id): Path<i64>) -> Response {
    let Some(inbox) = &admin.inbox else {
        return (StatusCode::NOT_FOUND, "no inbox").into_response();
    };
    match inbox.replay(id).await {
        Ok(true) => Redirect::to(&format!("/deliveries/{id}")).into_response(),
        Ok(false) => (
            StatusCode::CONFLICT,
            "not dead-lettered (already replayed?)",
        )
            .into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the inbox failed: {error}"),
        )
            .into_response(),
    }
}

async fn metrics_text(State(admin): State<Admin>) -> Response {
    if let Some(inbox) = &admin.inbox {
        inbox_gauges(inbox.as_ref()).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn decoding_queries() {
        assert_eq!(
            form_pairs("token=a%2Bb+c&x=%zz"),
            vec![("token".into(), "a+b c".into()), ("x".into(), "%zz".into())]
        );
    }

    #[test]
    fn hosts() {
        let host = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert("host", HeaderValue::from_static(value));
            loopback_host(&headers)
        };
        for ok in [
            "127.0.0.1:9090",
            "localhost:9090",
            "localhost",
            "[::1]:9090",
            "127.0.0.2",
        ] {
            assert!(host(ok), "{ok}");
        }
        for bad in [
            "evil.example:9090",
            "evil.example",
            "[2001:db8::1]:80",
            "10.0.0.1:9090",
        ] {
            assert!(!host(bad), "{bad}");
        }
    }

    #[test]
    fn cookies_hold_a_digest() {
        let value = cookie_value("a+b;c d");
        assert_eq!(value.len(), 64);
        assert!(value.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!value.contains("a+b"));
    }

    #[test]
    fn origins() {
        let mut headers = HeaderMap::new();
        assert!(same_origin(&headers));
        headers.insert("host", HeaderValue::from_static("127.0.0.1:9090"));
        headers.insert("origin", HeaderValue::from_static("http://127.0.0.1:9090"));
        assert!(same_origin(&headers));
        headers.insert("origin", HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&headers));
    }
}
