//! The inspector's pages: server-rendered HTML with no script and no external resource.
//!
//! Every function here renders data it is given; the handlers in the parent module fetch it.
//! Templates are `maud` macros: checked at compile time, and every interpolated value is
//! escaped unless it is explicitly `PreEscaped`.

use std::sync::OnceLock;

use axum::response::Html;
use hookbr_core::{
    DecodeRecordError, Provider, WebhookEvent,
    drift::DriftRecord,
    inbox::{InboxStats, RowState},
    timestamp::rfc3339_millis,
};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::{
    inbox::{RowDetail, RowSummary},
    observe::{Attempt, Seen},
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
    /// The search text and what it found (`?q=`).
    pub(super) search: Option<(String, Result<super::entities::Found, String>)>,
    /// The last hour of deliveries (the chart and per-provider health).
    pub(super) activity: crate::activity::Window,
    /// Now, ms since the epoch (for relative times).
    pub(super) now_ms: i64,
    /// The oldest pending deliveries (inbox mode).
    pub(super) oldest: super::chart::Oldest,
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
    /// The stored bytes decoded again.
    pub(super) decoded: Result<WebhookEvent, DecodeRecordError>,
    /// The attempts this process made.
    pub(super) attempts: Vec<Attempt>,
    /// Whether `[admin] token` is set (without it nothing can be revealed).
    pub(super) can_reveal: bool,
    /// The entity the delivery is about, and its timeline's address.
    pub(super) entity: Option<(String, hookbr_core::entity::Entity)>,
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}\
th{background:#f4f4f4}.done,.stored,.processed{color:#176f2c}.dead,.rejected,.failed,.handler_failed{color:#b3261e;font-weight:600}\
.pending,.in_flight,.duplicate,.handshake{color:#8a5a00}pre{background:#f7f7f7;padding:.8em;overflow:auto}\
code{font-size:13px}nav a{margin-right:1em}\
.pictures{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}.pictures svg{max-width:100%}\
.note{color:#555;font-size:12px}";

/// The Content-Security-Policy of every admin answer: exactly what these pages use. Their one
/// stylesheet is allowed by its digest (not `'unsafe-inline'`: an injected `style` attribute or
/// element would not apply), forms post to the inspector itself, and nothing else loads:
/// no script, no image, no frame, and no page may frame the inspector.
pub(super) fn content_security_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(STYLE.as_bytes());
        format!(
            "default-src 'none'; style-src 'sha256-{}'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    })
}

pub(super) fn page(title: &str, refresh: bool, body: &Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                @if refresh {
                    meta http-equiv="refresh" content="3";
                }
                title { (title) " · hookbr" }
                // A constant of this file, not data.
                style { (PreEscaped(STYLE)) }
            }
            body {
                nav {
                    a href="/" { "deliveries" }
                    a href="/drift" { "drift" }
                    a href="/metrics" { "metrics" }
                }
                (body)
            }
        }
    };
    Html(markup.into_string())
}

/// The page of an unknown delivery id.
pub(super) fn not_found() -> Html<String> {
    page("Not found", false, &html! { p { "no such delivery" } })
}

fn options(values: &[&str], selected: Option<&str>) -> Markup {
    html! {
        @for value in values {
            option value=(value) selected[Some(*value) == selected || (value.is_empty() && selected.is_none())] {
                @if value.is_empty() { "any" } @else { (value) }
            }
        }
    }
}

/// The Drift page: every schema change seen since the server started, most recent first,
/// with one example each (personal data masked when it was recorded).
pub(super) fn drift(records: &[DriftRecord]) -> Html<String> {
    let body = html! {
        h1 { "Drift" }
        p {
            "Field paths, JSON types, kinds and statuses the providers sent that differ from "
            "what this server saw first (per provider and kind), and payloads that no longer fit "
            "their type. Examples have personal data masked."
        }
        @if records.is_empty() {
            p id="no-drift" { "no drift seen" }
        } @else {
            table id="drift" {
                tr {
                    th { "provider" } th { "kind" } th { "change" } th { "detail" }
                    th { "first seen" } th { "last seen" } th { "count" }
                }
                @for record in records {
                    tr data-change=(record.change.as_str()) {
                        td { (record.provider) }
                        td { (record.kind) }
                        td { (record.change.as_str()) }
                        td { code { (record.detail) } }
                        td { (rfc3339_millis(record.first_seen_ms)) }
                        td { (rfc3339_millis(record.last_seen_ms)) }
                        td { (record.count) }
                    }
                    tr class="example" {
                        td colspan="7" {
                            details {
                                summary { "example" }
                                pre { code { (record.example) } }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Drift", false, &body)
}

/// The deliveries page.
pub(super) fn list(view: &ListPage) -> Html<String> {
    let body = html! {
        h1 { "Deliveries" }
        section class="pictures" aria-label="the last hour" {
            div { (super::chart::svg(&view.activity)) }
            div {
                (super::chart::health(&view.activity, view.now_ms, &view.oldest))
                p class="note" {
                    "Counted in memory by this server process since it started"
                    @if view.inbox.is_some() {
                        ": a restart starts the chart empty (the inbox below keeps the deliveries)"
                    }
                    ". Failed attempts of the worker count as handler_failed."
                }
            }
        }
        form method="get" action="/" {
            "state "
            select name="state" id="state" {
                (options(&["", "pending", "in_flight", "done", "dead"], view.state.map(RowState::as_str)))
            }
            " provider "
            select name="provider" id="provider" {
                (options(&["", "bonifiq", "foody", "iset", "grafeno"], view.provider.map(Provider::as_str)))
            }
            " "
            button type="submit" { "filter" }
        }
        @if view.inbox.is_some() {
            (super::entities::search_box(view.search.as_ref().map(|(text, _)| text.as_str())))
        }
        @if let Some((text, found)) = &view.search {
            (super::entities::search_results(text, found))
        }
        @match &view.inbox {
            Some(InboxPart { stats, rows }) => {
                @if let Some(stats) = stats {
                    p id="stats" {
                        "pending " (stats.pending) " · in flight " (stats.in_flight)
                        " · done " (stats.done) " · "
                        span class="dead" { "dead " (stats.dead) }
                    }
                }
                @match rows {
                    Ok(rows) => (rows_table(rows)),
                    Err(error) => p class="failed" { "the inbox failed: " (error) },
                }
            }
            None => p { "direct mode: no inbox (recent requests below)." },
        }
        h2 { "Recent requests" }
        p { "Every answer given to a provider, rejections included (they are never stored)." }
        (recent_table(&view.recent))
    };
    page("Deliveries", view.live, &body)
}

fn rows_table(rows: &[ListedRow]) -> Markup {
    html! {
        @if rows.is_empty() {
            p id="empty" { "no deliveries" }
        } @else {
            table id="deliveries" {
                tr {
                    th { "id" } th { "received" } th { "provider" } th { "kind" }
                    th { "delivery id" } th { "state" } th { "attempts" } th { "last error" } th {}
                }
                @for (row, kind) in rows {
                    @let state = row.state.as_str();
                    tr data-id=(row.id) data-state=(state) {
                        td { a href={ "/deliveries/" (row.id) } { (row.id) } }
                        td { (row.received_at) }
                        td { (row.provider) }
                        td { (kind) }
                        td { code { (row.delivery_id) } }
                        td class=(state) { (state) }
                        td { (row.attempts) }
                        td { (row.last_error.as_deref().unwrap_or("")) }
                        td {
                            @if row.state == RowState::Dead {
                                form method="post" action={ "/deliveries/" (row.id) "/replay" } {
                                    button type="submit" class="replay" { "Replay" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn recent_table(recent: &[Seen]) -> Markup {
    html! {
        @if recent.is_empty() {
            p { "none yet" }
        } @else {
            table id="recent" {
                tr {
                    th { "at" } th { "endpoint" } th { "request" } th { "status" }
                    th { "outcome" } th { "reason" } th { "ms" }
                }
                @for seen in recent.iter().take(100) {
                    tr {
                        td { (rfc3339_millis(seen.at_ms)) }
                        td { (seen.endpoint) }
                        td { (seen.method) " " (seen.path) }
                        td { (seen.status) }
                        td class=(seen.outcome) { (seen.outcome) }
                        td { (seen.reason.unwrap_or("")) }
                        // Microseconds to milliseconds for display.
                        td { (format!("{:.1}", f64::from(u32::try_from(seen.micros).unwrap_or(u32::MAX)) / 1_000.0)) }
                    }
                }
            }
        }
    }
}

fn decoding(decoded: &Result<WebhookEvent, DecodeRecordError>) -> Markup {
    html! {
        @match decoded {
            Ok(event) => {
                li {
                    "kind " b { (event.kind()) }
                    @if !event.is_known() {
                        " (not a documented kind: forwarded with known = false)"
                    }
                }
                @match event.drift() {
                    Some(drift) => li class="failed" { "warning: " (drift) },
                    None => li { "no warnings" },
                }
            }
            Err(DecodeRecordError::UnknownEndpoint(_)) => li class="failed" { "unknown endpoint" },
            // "cannot decode: …"
            Err(error) => li class="failed" { (error) },
        }
    }
}

/// A delivery's page.
pub(super) fn detail(view: &DetailPage) -> Html<String> {
    let row = &view.row.summary;
    let state = row.state.as_str();
    let body = html! {
        h1 { "Delivery " (row.id) }
        table id="summary" {
            tr { th { "endpoint" } td { (row.endpoint) } }
            tr { th { "delivery id" } td { code { (row.delivery_id) } } }
            tr { th { "state" } td class=(state) id="state" { (state) } }
            tr { th { "attempts" } td { (row.attempts) } }
            tr { th { "received" } td { (row.received_at) } }
            tr { th { "verification" } td { "authentic: matched " (row.matched_key) } }
            @if let Some((href, entity)) = &view.entity {
                tr { th { "entity" } td { a id="entity" href=(href) { (entity.kind) " " (entity.id) } " (timeline)" } }
            }
            @if let Some(error) = &row.last_error {
                tr { th { "last error" } td class="failed" { (error) } }
            }
            @if let Some(next) = row.next_attempt_at.as_ref().filter(|_| row.attempts > 0) {
                tr { th { "next attempt" } td { (next) } }
            }
        }
        @if row.state == RowState::Dead {
            form method="post" action={ "/deliveries/" (row.id) "/replay" } {
                button type="submit" id="replay" { "Replay" }
            }
        }
        h2 { "Decoding" }
        ul id="decoding" {
            @match &view.row.body_removed {
                Some(notice) => li { (notice) ": nothing to decode" },
                None => (decoding(&view.decoded)),
            }
        }
        h2 { "Attempts" }
        @if view.attempts.is_empty() {
            p { "none seen by this process (the last error, if any, is above)" }
        } @else {
            table id="attempts" {
                tr { th { "#" } th { "at" } th { "result" } }
                @for attempt in &view.attempts {
                    tr {
                        td { (attempt.attempt) }
                        td { (rfc3339_millis(attempt.at_ms)) }
                        td class=(if attempt.error.is_some() { "failed" } else { "done" }) {
                            (attempt.error.as_deref().unwrap_or("delivered"))
                        }
                    }
                }
            }
        }
        @if view.row.revealed {
            p id="revealed" class="failed" {
                "Revealed: personal data shown unmasked (this reveal was logged). "
                a href={ "/deliveries/" (row.id) } { "back to the masked view" }
            }
        } @else {
            p id="masked" { "Personal data is masked (CPF, e-mail, phone, name, ...: docs/PRIVACY.md)." }
            @if view.can_reveal {
                form method="post" action={ "/deliveries/" (row.id) "/reveal" } id="reveal" {
                    "Reveal this delivery: admin token "
                    input type="password" name="token" required autocomplete="off";
                    " reason "
                    input type="text" name="reason" required maxlength="500";
                    " "
                    button type="submit" { "Reveal (logged)" }
                }
            } @else {
                p id="no-reveal" { "Revealing it needs an admin token: set [admin] token." }
            }
        }
        h2 { "Headers" }
        p { "Only what decoding needs is stored; secret headers never are." }
        pre id="headers" {
            @for (name, value) in &view.row.headers {
                (name) ": " (value) "\n"
            }
        }
        h2 { "Body" }
        pre id="body" { (view.row.body_text()) }
    };
    page(&format!("Delivery {}", row.id), false, &body)
}

#[cfg(test)]
mod tests {
    use hookbr_core::{DedupKey, InboxRecord, InboxRow};

    use super::*;

    #[test]
    fn the_list_page_stays_small() {
        let longest = "x".repeat(crate::observe::FIELD_CHARS);
        let seen = Seen {
            at_ms: i64::MAX,
            endpoint: longest.as_str().into(),
            method: crate::observe::OTHER_METHOD,
            path: longest.as_str().into(),
            status: 503,
            outcome: "handler_failed",
            reason: Some("store_unavailable"),
            micros: u64::MAX,
        };
        let html = list(&ListPage {
            state: None,
            provider: None,
            inbox: None,
            recent: vec![seen; 500],
            live: true,
            search: None,
            activity: crate::activity::Activity::default().window(0),
            now_ms: 0,
            oldest: crate::admin::chart::Oldest::Direct,
        })
        .0;
        assert!(html.len() < 100_000, "{} bytes", html.len());
    }

    #[test]
    fn the_policy_allows_the_stylesheet_by_its_digest() {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(STYLE.as_bytes()));
        let policy = content_security_policy();
        assert!(
            policy.contains(&format!("style-src 'sha256-{digest}'")),
            "{policy}"
        );
        // The page holds the stylesheet byte for byte, so the digest matches what it serves.
        assert!(not_found().0.contains(&format!("<style>{STYLE}</style>")));
        assert!(!not_found().0.contains("<script"));
    }

    #[test]
    fn personal_data_is_masked_unless_revealed() {
        let record = InboxRecord::new(
            "iset:order_upserted".into(),
            "d".into(),
            DedupKey::from_bytes([0; 16]),
            b"pedido=1&cpf=52998224725&email=joao%40example.com".to_vec(),
            vec![("x-buyer".into(), "joao@example.com".into())],
            "#0".into(),
            0,
        );
        let row = InboxRow::new(7, record);
        let page = |row: RowDetail, can_reveal: bool| {
            detail(&DetailPage {
                decoded: Err(DecodeRecordError::UnknownEndpoint("x".into())),
                attempts: Vec::new(),
                row,
                can_reveal,
                entity: None,
            })
            .0
        };
        let masked = page(RowDetail::new(&row), true);
        for raw in ["52998224725", "joao@example.com", "joao%40example.com"] {
            assert!(!masked.contains(raw), "{raw} in {masked}");
        }
        assert!(masked.contains("cpf=***982247**"), "{masked}");
        assert!(masked.contains("id=\"reveal\""), "{masked}");
        let without_token = page(RowDetail::new(&row), false);
        assert!(!without_token.contains("id=\"reveal\""), "{without_token}");
        assert!(
            without_token.contains("id=\"no-reveal\""),
            "{without_token}"
        );
        let revealed = page(RowDetail::revealed(&row), true);
        assert!(revealed.contains("cpf=52998224725"), "{revealed}");
        assert!(revealed.contains("joao@example.com"), "{revealed}");
        assert!(revealed.contains("id=\"revealed\""), "{revealed}");
        assert!(!revealed.contains("id=\"reveal\""), "{revealed}");
    }

    #[test]
    fn data_is_escaped() {
        let record = InboxRecord::new(
            "<b>bonifiq".into(),
            "<script>alert(1)</script>".into(),
            DedupKey::from_bytes([0; 16]),
            b"{\"a\":\"</pre><img src=x>\"}".to_vec(),
            vec![("x-evil".into(), "\"><svg>".into())],
            "#0 (env:<i>)".into(),
            0,
        );
        let decoded = record.decode();
        let html = detail(&DetailPage {
            row: RowDetail::new(&InboxRow::new(7, record)),
            decoded,
            attempts: Vec::new(),
            can_reveal: true,
            entity: None,
        })
        .0;
        for raw in ["<script>", "<img", "<svg>", "<b>bonifiq", "<i>"] {
            assert!(!html.contains(raw), "{raw} in {html}");
        }
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<td class=\"pending\" id=\"state\">pending</td>"),
            "{html}"
        );
    }
}
