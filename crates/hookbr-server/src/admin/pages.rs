//! The inspector's pages: server-rendered HTML with no script and no external resource.
//!
//! Every function here renders data it is given; the handlers in the parent module fetch it.

use std::fmt::Write as _;

use axum::response::Html;
use hookbr_core::{
    ParseError, Provider, WebhookEvent,
    inbox::{InboxStats, RowState},
};

use crate::{
    inbox::{RowDetail, RowSummary},
    observe::{Attempt, Seen},
    time::rfc3339_ms,
};

/// One row of the deliveries table: the summary and the kind decoded again (`?` when the
/// stored bytes no longer decode).
pub(super) type ListedRow = (RowSummary, String);

/// What the deliveries page shows.
#[derive(Debug)]
pub(super) struct ListPage {
    /// The state filter.
    pub(super) state: Option<RowState>,
    /// The provider filter.
    pub(super) provider: Option<Provider>,
    /// The inbox's part (`None` in direct mode).
    pub(super) inbox: Option<InboxPart>,
    /// The recent requests, newest first.
    pub(super) recent: Vec<Seen>,
    /// Refresh every few seconds.
    pub(super) live: bool,
}

/// The inbox's counts (when it answered) and rows (or its error).
#[derive(Debug)]
pub(super) struct InboxPart {
    pub(super) stats: Option<InboxStats>,
    pub(super) rows: Result<Vec<ListedRow>, String>,
}

/// What a delivery's page shows.
#[derive(Debug)]
pub(super) struct DetailPage {
    /// The row.
    pub(super) row: RowDetail,
    /// The stored bytes decoded again (`None`: unknown endpoint).
    pub(super) decoded: Option<Result<WebhookEvent, ParseError>>,
    /// The attempts this process made.
    pub(super) attempts: Vec<Attempt>,
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
th{background:#f4f4f4}.done,.stored,.processed{color:#176f2c}.dead,.rejected,.failed{color:#b3261e;font-weight:600}\
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

/// The page of an unknown delivery id.
pub(super) fn not_found() -> Html<String> {
    page("Not found", false, "<p>no such delivery</p>")
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

/// The deliveries page.
pub(super) fn list(view: &ListPage) -> Html<String> {
    let mut body = String::from("<h1>Deliveries</h1>");
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/\">state <select name=\"state\" id=\"state\">{}</select> \
         provider <select name=\"provider\" id=\"provider\">{}</select> \
         <button type=\"submit\">filter</button></form>",
        options(
            &["", "pending", "in_flight", "done", "dead"],
            view.state.map(RowState::as_str)
        ),
        options(
            &["", "bonifiq", "foody", "iset", "grafeno"],
            view.provider.map(Provider::as_str)
        ),
    );
    match &view.inbox {
        Some(InboxPart { stats, rows }) => {
            if let Some(stats) = stats {
                let _ = write!(
                    body,
                    "<p id=\"stats\">pending {} · in flight {} · done {} · <span class=\"dead\">dead {}</span></p>",
                    stats.pending, stats.in_flight, stats.done, stats.dead
                );
            }
            match rows {
                Ok(rows) => body.push_str(&rows_table(rows)),
                Err(error) => {
                    let _ = write!(
                        body,
                        "<p class=\"failed\">the inbox failed: {}</p>",
                        escape(error)
                    );
                }
            }
        }
        None => body.push_str("<p>direct mode: no inbox (recent requests below).</p>"),
    }
    body.push_str("<h2>Recent requests</h2><p>Every answer given to a provider, rejections included (they are never stored).</p>");
    body.push_str(&recent_table(&view.recent));
    page("Deliveries", view.live, &body)
}

fn rows_table(rows: &[ListedRow]) -> String {
    if rows.is_empty() {
        return "<p id=\"empty\">no deliveries</p>".to_owned();
    }
    let mut html = String::from(
        "<table id=\"deliveries\"><tr><th>id</th><th>received</th><th>provider</th><th>kind</th>\
         <th>delivery id</th><th>state</th><th>attempts</th><th>last error</th><th></th></tr>",
    );
    for (row, kind) in rows {
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
            row.received_at,
            escape(&row.provider),
            escape(kind),
            escape(&row.delivery_id),
            row.attempts,
            escape(row.last_error.as_deref().unwrap_or("")),
            id = row.id,
            state = row.state.as_str(),
        );
    }
    html.push_str("</table>");
    html
}

fn recent_table(recent: &[Seen]) -> String {
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

/// A delivery's page.
pub(super) fn detail(view: &DetailPage) -> Html<String> {
    let row = &view.row.summary;
    let mut body = format!(
        "<h1>Delivery {}</h1><table id=\"summary\">\
         <tr><th>endpoint</th><td>{}</td></tr><tr><th>delivery id</th><td><code>{}</code></td></tr>\
         <tr><th>state</th><td class=\"{state}\" id=\"state\">{state}</td></tr><tr><th>attempts</th><td>{}</td></tr>\
         <tr><th>received</th><td>{}</td></tr>\
         <tr><th>verification</th><td>authentic: matched {}</td></tr>",
        row.id,
        escape(&row.endpoint),
        escape(&row.delivery_id),
        row.attempts,
        row.received_at,
        escape(&row.matched_key),
        state = row.state.as_str(),
    );
    if let Some(error) = &row.last_error {
        let _ = write!(
            body,
            "<tr><th>last error</th><td class=\"failed\">{}</td></tr>",
            escape(error)
        );
    }
    if let Some(next) = row.next_attempt_at.as_ref().filter(|_| row.attempts > 0) {
        let _ = write!(body, "<tr><th>next attempt</th><td>{next}</td></tr>");
    }
    body.push_str("</table>");
    if row.state == RowState::Dead {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/deliveries/{}/replay\"><button type=\"submit\" id=\"replay\">Replay</button></form>",
            row.id
        );
    }
    body.push_str("<h2>Decoding</h2><ul id=\"decoding\">");
    match &view.decoded {
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
    if view.attempts.is_empty() {
        body.push_str("<p>none seen by this process (the last error, if any, is above)</p>");
    } else {
        body.push_str("<table id=\"attempts\"><tr><th>#</th><th>at</th><th>result</th></tr>");
        for attempt in &view.attempts {
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
    for (name, value) in &view.row.headers {
        let _ = writeln!(body, "{}: {}", escape(name), escape(value));
    }
    body.push_str("</pre><h2>Body</h2><pre id=\"body\">");
    body.push_str(&escape(&view.row.body_text()));
    body.push_str("</pre>");
    page(&format!("Delivery {}", row.id), false, &body)
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
}
