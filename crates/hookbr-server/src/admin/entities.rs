//! The entity pages: `/entities/{kind}/{id}` lists every stored delivery of one entity in
//! position order with its state (as `hookbr inbox entity`), and the deliveries page's search
//! box (`?q=`) finds a delivery by row id or delivery id, and entities by id.

use axum::{
    extract::{Path, State},
    http::{StatusCode, Uri, header},
    response::{Html, IntoResponse, Response},
};
use hookbr_core::{
    Inbox,
    entity::{Entity, KINDS},
    inbox::{EntityDelivery, ListFilter},
};
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Admin, Unavailable, pages, query};
use crate::inbox::{self, RowSummary, TimelineEntry};

/// How many of the most recent rows a search by delivery id reads (delivery ids are not
/// indexed; row ids and entity ids are).
const SEARCH_RECENT: usize = 1_000;

/// The inspector's address of entity `kind` `id` (the id percent-encoded as one path segment).
pub(super) fn href(entity: &Entity) -> String {
    format!("/entities/{}/{}", entity.kind, encode_segment(&entity.id))
}

/// Percent-encodes everything but the unreserved characters (RFC 3986).
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `GET /entities/{kind}/{id}`: the timeline page, or with `?format=json` the JSON of
/// `hookbr inbox entity --json`.
pub(super) async fn timeline(
    State(admin): State<Admin>,
    Path((kind, id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, Unavailable> {
    let store = admin.inbox()?;
    if !KINDS.contains(&kind.as_str()) {
        return Ok((StatusCode::NOT_FOUND, pages::not_found()).into_response());
    }
    let entries = inbox::entity(store, &kind, &id)
        .await
        .map_err(Unavailable::failed)?;
    let json = query::form_pairs(uri.query().unwrap_or_default())
        .iter()
        .any(|(name, value)| name == "format" && value == "json");
    Ok(if json {
        let entries: Vec<Value> = entries.iter().map(TimelineEntry::to_json).collect();
        let body = json!({ "kind": kind, "id": id, "deliveries": entries });
        (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    } else {
        timeline_page(&kind, &id, &entries).into_response()
    })
}

fn timeline_page(kind: &str, id: &str, entries: &[TimelineEntry]) -> Html<String> {
    let body = html! {
        h1 { "Entity " (kind) " " code { (id) } }
        p { "Every stored delivery of this entity, in the provider's order (its time, then the status rank); the state says what the ordering guard and the worker did." }
        @if entries.is_empty() {
            p id="empty" { "no stored deliveries of this entity" }
        } @else {
            table id="timeline" {
                tr {
                    th { "id" } th { "position" } th { "rank" } th { "state" }
                    th { "received" } th { "delivery id" } th { "attempts" }
                }
                @for entry in entries {
                    tr data-id=(entry.summary.id) data-state=(entry.state) {
                        td { a href={ "/deliveries/" (entry.summary.id) } { (entry.summary.id) } }
                        td { (entry.position_at.as_deref().unwrap_or("-")) }
                        td {
                            @match entry.rank {
                                Some(rank) => (rank),
                                None => "-",
                            }
                            @if entry.terminal { " (terminal)" }
                        }
                        td class=(state_class(entry.state)) { (entry.state) }
                        td { (entry.summary.received_at) }
                        td { code { (entry.summary.delivery_id) } }
                        td { (entry.summary.attempts) }
                    }
                }
            }
        }
    };
    pages::page(&format!("Entity {kind}"), false, &body)
}

/// The stylesheet class of a timeline state.
fn state_class(state: &str) -> &'static str {
    match state {
        "forwarded" => "done",
        "dead" | "stale" => "dead",
        _ => "pending",
    }
}

/// What a search found.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// Entities with that id, and how many deliveries each has.
    pub(super) entities: Vec<(Entity, usize)>,
    /// Deliveries with that row id or delivery id.
    pub(super) rows: Vec<RowSummary>,
}

/// Searches `store` for `text`: a row id, a delivery id (among the most recent rows), an
/// entity id (of any kind, from the entity index).
pub(super) async fn search(store: &dyn Inbox, text: &str) -> Result<Found, String> {
    let text = text.trim();
    let mut found = Found::default();
    if text.is_empty() {
        return Ok(found);
    }
    if let Ok(id) = text.parse::<i64>() {
        if let Some(row) = store.get(id).await.map_err(|e| e.to_string())? {
            found.rows.push(RowSummary::new(&row));
        }
    }
    let recent = store
        .list(ListFilter::new().limit(SEARCH_RECENT))
        .await
        .map_err(|e| e.to_string())?;
    for row in recent.iter().filter(|row| row.record.delivery_id == text) {
        if found.rows.iter().all(|seen| seen.id != row.id) {
            found.rows.push(RowSummary::new(row));
        }
    }
    for kind in KINDS {
        let deliveries: Vec<EntityDelivery> = store
            .entity_deliveries(kind.to_owned(), text.to_owned(), inbox::TIMELINE_LIMIT)
            .await
            .map_err(|e| e.to_string())?;
        if let (false, Some(entity)) = (deliveries.is_empty(), Entity::new(kind, text)) {
            found.entities.push((entity, deliveries.len()));
        }
    }
    Ok(found)
}

/// The search box of the deliveries page.
pub(super) fn search_box(text: Option<&str>) -> Markup {
    html! {
        form method="get" action="/" id="search" {
            "search "
            input type="search" name="q" value=(text.unwrap_or("")) placeholder="delivery id or entity id" size="40";
            " "
            button type="submit" { "search" }
        }
    }
}

/// What a search found, on the deliveries page.
pub(super) fn search_results(text: &str, found: &Result<Found, String>) -> Markup {
    html! {
        h2 { "Search: " code { (text) } }
        @match found {
            Err(error) => p class="failed" { "the inbox failed: " (error) },
            Ok(found) if found.entities.is_empty() && found.rows.is_empty() => {
                p id="no-match" { "nothing found (delivery ids are searched among the most recent " (SEARCH_RECENT) " deliveries)" }
            }
            Ok(found) => {
                @if !found.entities.is_empty() {
                    ul id="found-entities" {
                        @for (entity, count) in &found.entities {
                            li {
                                a href=(href(entity)) { (entity.kind) " " (entity.id) }
                                " (" (count) " deliver" @if *count == 1 { "y" } @else { "ies" } ")"
                            }
                        }
                    }
                }
                @if !found.rows.is_empty() {
                    ul id="found-deliveries" {
                        @for row in &found.rows {
                            li {
                                a href={ "/deliveries/" (row.id) } { "delivery " (row.id) }
                                " " code { (row.delivery_id) } " " (row.state.as_str())
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_escaped_path_segment() {
        let entity = Entity::new("bonifiq.customer", "a b/c?d@e.com").unwrap();
        assert_eq!(
            href(&entity),
            "/entities/bonifiq.customer/a%20b%2Fc%3Fd%40e.com"
        );
    }

    #[test]
    fn entity_data_is_escaped() {
        let html = timeline_page("foody.order", "<script>", &[]).0;
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
    }
}
