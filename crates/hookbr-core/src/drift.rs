//! Schema-drift watch: tells when a provider's deliveries stop looking like they used to.
//!
//! A [`DriftTracker`] learns, per provider and event kind, the set of JSON field paths seen and
//! their JSON types (arrays folded to `[]`: `Payload.Items[].Sku`). The first delivery of a kind
//! sets its baseline; after that a delivery that brings
//!
//! * a field path never seen ([`ChangeKind::NewField`]),
//! * a known path with a JSON type never seen for it ([`ChangeKind::TypeChange`]; `null` is
//!   compatible with every type),
//! * a topic, event or change hookbr has no type for ([`ChangeKind::UnknownKind`]),
//! * a Foody order status outside the documented lifecycle ([`ChangeKind::UnknownStatus`]), or
//! * a known kind whose payload no longer fits its type ([`ChangeKind::Drifted`])
//!
//! produces a [`DriftRecord`]: first and last seen, how many deliveries showed it, and one
//! example body masked with [`privacy::mask_body`](crate::privacy::mask_body). Everything is
//! bounded: [`MAX_KINDS`] kinds, [`MAX_PATHS_PER_KIND`] paths per kind, [`MAX_DEPTH`] levels,
//! [`MAX_RECORDS`] records, examples of [`EXAMPLE_CHARS`] characters.
//!
//! ```
//! use hookbr_core::{Endpoint, Provider, Request, WebhookEvent, drift::{ChangeKind, DriftTracker}};
//!
//! let tracker = DriftTracker::new();
//! let seen = |body: &[u8]| {
//!     let event = WebhookEvent::decode(Endpoint::Foody, &Request::new(body)).unwrap();
//!     tracker.observe(Provider::Foody, event.kind(), body, Some(&event), 0)
//! };
//! // The baseline.
//! assert!(seen(br#"{"uid":"a","updateDate":"2020-06-19T17:42:12Z","event":"order_status_updated","token":"t","status":"open"}"#).is_empty());
//! // Foody adds a field.
//! let changes = seen(br#"{"uid":"a","updateDate":"2020-06-19T17:50:00Z","event":"order_status_updated","token":"t","status":"ready","orderId":"123"}"#);
//! assert_eq!(changes[0].change, ChangeKind::NewField);
//! assert_eq!(tracker.records()[0].detail, "orderId");
//! ```

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use serde::Serialize;
use serde_json::Value;

use crate::{Provider, WebhookEvent, privacy::mask_body};

/// The most (provider, kind) pairs tracked; deliveries of further kinds are not tracked.
pub const MAX_KINDS: usize = 256;
/// The most field paths remembered per kind; further new paths are still reported, once each
/// delivery, but not remembered.
pub const MAX_PATHS_PER_KIND: usize = 512;
/// How deep paths are followed (`a.b.c` is depth 3).
pub const MAX_DEPTH: usize = 16;
/// The most change records kept; further changes are counted ([`Observed::recorded`] is then
/// `false`) but not kept.
pub const MAX_RECORDS: usize = 1_000;
/// What replaces a drift example that showed a subject whose data was erased on request
/// ([`DriftTracker::redact`], `Inbox::erase_subject`).
pub const ERASED_EXAMPLE: &str = "[example erased on request]";

/// The longest example kept, in characters (cut with `…`).
pub const EXAMPLE_CHARS: usize = 4_096;
/// The longest path, kind or detail kept, in characters.
const TEXT_CHARS: usize = 200;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// A field path never seen for this kind.
    NewField,
    /// A known path with a new JSON type.
    TypeChange,
    /// A topic, event or change hookbr has no type for.
    UnknownKind,
    /// A status outside the documented lifecycle (Foody orders).
    UnknownStatus,
    /// A known kind whose payload did not fit its type.
    Drifted,
}

impl ChangeKind {
    /// The label used in metrics and output: `new_field`, `type_change`, `unknown_kind`,
    /// `unknown_status`, `drifted`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewField => "new_field",
            Self::TypeChange => "type_change",
            Self::UnknownKind => "unknown_kind",
            Self::UnknownStatus => "unknown_status",
            Self::Drifted => "drifted",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form.
    #[must_use]
    pub fn from_text(text: &str) -> Option<Self> {
        [
            Self::NewField,
            Self::TypeChange,
            Self::UnknownKind,
            Self::UnknownStatus,
            Self::Drifted,
        ]
        .into_iter()
        .find(|change| change.as_str() == text)
    }
}

/// The field paths seen for one provider and kind, with their JSON types (a bit set: 1 null,
/// 2 boolean, 4 number, 8 string, 16 array, 32 object), as an inbox persists them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KindShape {
    /// The provider.
    pub provider: Provider,
    /// The event kind.
    pub kind: String,
    /// `(path, types)`.
    pub paths: Vec<(String, u8)>,
}

impl KindShape {
    /// A shape (for stores that load one).
    #[must_use]
    pub fn new(provider: Provider, kind: impl Into<String>, paths: Vec<(String, u8)>) -> Self {
        Self {
            provider,
            kind: kind.into(),
            paths,
        }
    }
}

/// What a tracker knows, to persist and restore: its shapes and records. From
/// [`DriftTracker::take_unsaved`] it holds only what changed since the last call, with each
/// record's `count` being the deliveries counted since then (stores add it to theirs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DriftState {
    /// Paths per kind.
    pub shapes: Vec<KindShape>,
    /// Change records.
    pub records: Vec<DriftRecord>,
}

impl DriftState {
    /// A state (for stores that load one).
    #[must_use]
    pub fn new(shapes: Vec<KindShape>, records: Vec<DriftRecord>) -> Self {
        Self { shapes, records }
    }

    /// Whether there is nothing in it.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty() && self.records.is_empty()
    }
}

impl DriftRecord {
    /// A record (for stores that load one).
    #[allow(clippy::too_many_arguments, reason = "a plain record of eight fields")]
    #[must_use]
    pub fn new(
        provider: Provider,
        kind: impl Into<String>,
        change: ChangeKind,
        detail: impl Into<String>,
        first_seen_ms: i64,
        last_seen_ms: i64,
        count: u64,
        example: impl Into<String>,
    ) -> Self {
        Self {
            provider,
            kind: kind.into(),
            change,
            detail: detail.into(),
            first_seen_ms,
            last_seen_ms,
            count,
            example: example.into(),
        }
    }
}

/// One change, as first seen and counted since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DriftRecord {
    /// The provider.
    pub provider: Provider,
    /// The event kind (as [`WebhookEvent::kind`] gives it).
    pub kind: String,
    /// What changed.
    pub change: ChangeKind,
    /// The path (`Payload.Customer.Phone`), the type change (`Payload.Points: number → string`),
    /// the unknown kind or status, or the decode error.
    pub detail: String,
    /// When it was first seen (ms since the Unix epoch).
    pub first_seen_ms: i64,
    /// When it was last seen.
    pub last_seen_ms: i64,
    /// How many deliveries showed it (a type change: how many brought the new type before it
    /// was known, i.e. one).
    pub count: u64,
    /// The first delivery that showed it, with personal data masked.
    pub example: String,
}

/// A change one delivery showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Observed {
    /// What changed.
    pub change: ChangeKind,
    /// Whether this delivery is the first to show it.
    pub first: bool,
    /// Whether it is kept in the records (`false` once [`MAX_RECORDS`] are kept).
    pub recorded: bool,
}

/// The tracker. Cheap to share (`Arc`); one lock per observed delivery.
#[derive(Debug, Default)]
pub struct DriftTracker {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    kinds: HashMap<(Provider, String), Shape>,
    records: Vec<DriftRecord>,
    index: HashMap<(Provider, String, ChangeKind, String), usize>,
    /// Deliveries counted per record since the last [`DriftTracker::take_unsaved`].
    unsaved_counts: HashMap<usize, u64>,
    /// Paths learned since then.
    unsaved_paths: HashMap<(Provider, String), HashMap<String, u8>>,
}

impl Inner {
    fn learned(&mut self, provider: Provider, kind: &str, path: &str, bits: u8) {
        let paths = self
            .unsaved_paths
            .entry((provider, kind.to_owned()))
            .or_default();
        *paths.entry(path.to_owned()).or_default() |= bits;
    }
}

#[derive(Debug, Default)]
struct Shape {
    /// Path → the bit set of JSON types seen.
    paths: HashMap<String, u8>,
}

const NULL: u8 = 1;

fn type_bit(value: &Value) -> u8 {
    match value {
        Value::Null => NULL,
        Value::Bool(_) => 2,
        Value::Number(_) => 4,
        Value::String(_) => 8,
        Value::Array(_) => 16,
        Value::Object(_) => 32,
    }
}

fn type_names(bits: u8) -> String {
    let names = ["null", "boolean", "number", "string", "array", "object"];
    let mut out = Vec::new();
    for (index, name) in names.iter().enumerate() {
        if bits & (1 << index) != 0 {
            out.push(*name);
        }
    }
    out.join("|")
}

fn bounded(text: &str, max: usize) -> String {
    if text.chars().nth(max).is_none() {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The (path, type bits) pairs of a body: JSON, else an `a=1&b=2` form (every field a
/// string), else nothing.
fn paths_of(body: &[u8]) -> Vec<(String, u8)> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut out = Vec::new();
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        walk(&value, &mut String::new(), 0, &mut out);
        return out;
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return out;
    };
    let text = text.trim_end_matches(['\r', '\n']);
    if text.contains('=') && !text.chars().any(char::is_whitespace) {
        let mut seen = HashSet::new();
        for (key, _) in form_urlencoded::parse(text.as_bytes()).take(MAX_PATHS_PER_KIND) {
            let key = bounded(&key, TEXT_CHARS);
            if seen.insert(key.clone()) {
                out.push((key, 8));
            }
        }
    }
    out
}

fn walk(value: &Value, path: &mut String, depth: usize, out: &mut Vec<(String, u8)>) {
    if depth > 0 {
        out.push((path.clone(), type_bit(value)));
    }
    if depth >= MAX_DEPTH || out.len() > MAX_PATHS_PER_KIND * 2 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&bounded(key, TEXT_CHARS));
                walk(child, path, depth + 1, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            // Folded: every element under `[]`, each path once.
            let len = path.len();
            path.push_str("[]");
            let mut folded: Vec<(String, u8)> = Vec::new();
            for item in items.iter().take(64) {
                let mut inner = Vec::new();
                walk(item, path, depth + 1, &mut inner);
                for (child, bits) in inner {
                    match folded.iter_mut().find(|(seen, _)| *seen == child) {
                        Some((_, seen_bits)) => *seen_bits |= bits,
                        None => folded.push((child, bits)),
                    }
                }
            }
            out.extend(folded);
            path.truncate(len);
        }
        _ => {}
    }
}

impl DriftTracker {
    /// An empty tracker.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Observes one delivery of `provider`/`kind` (its stored body, and its decoded event
    /// when it decodes), at `now_ms`: the changes it shows. The first delivery of a kind only
    /// sets its baseline (unknown kinds, unknown statuses and drifted payloads are reported
    /// from the first one).
    pub fn observe(
        &self,
        provider: Provider,
        kind: &str,
        body: &[u8],
        event: Option<&WebhookEvent>,
        now_ms: i64,
    ) -> Vec<Observed> {
        let kind = bounded(kind, TEXT_CHARS);
        let mut found: Vec<(ChangeKind, String)> = Vec::new();
        if let Some(event) = event {
            if !event.is_known() {
                found.push((ChangeKind::UnknownKind, kind.clone()));
            }
            if let Some(error) = event.drift() {
                found.push((ChangeKind::Drifted, bounded(&error.to_string(), TEXT_CHARS)));
            }
            #[cfg(feature = "foody")]
            if let WebhookEvent::Foody(crate::foody::FoodyEvent::OrderStatusUpdated(update)) = event
            {
                if let crate::foody::FoodyStatus::Other(status) = &update.status {
                    found.push((ChangeKind::UnknownStatus, bounded(status, TEXT_CHARS)));
                }
            }
        }
        let paths = paths_of(body);
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (provider, kind.clone());
        let known_kinds = inner.kinds.len();
        let mut learned: Vec<(String, u8)> = Vec::new();
        match inner.kinds.get_mut(&key) {
            None => {
                if known_kinds < MAX_KINDS {
                    let shape = Shape {
                        paths: paths.iter().take(MAX_PATHS_PER_KIND).cloned().collect(),
                    };
                    learned.extend(shape.paths.iter().map(|(p, b)| (p.clone(), *b)));
                    inner.kinds.insert(key, shape);
                }
            }
            Some(shape) => {
                for (path, bits) in &paths {
                    let full = shape.paths.len() >= MAX_PATHS_PER_KIND;
                    match shape.paths.get_mut(path) {
                        None => {
                            found.push((ChangeKind::NewField, path.clone()));
                            if !full {
                                shape.paths.insert(path.clone(), *bits);
                                learned.push((path.clone(), *bits));
                            }
                        }
                        Some(seen) => {
                            let new = bits & !*seen;
                            if new != 0 && new != NULL && *seen != NULL {
                                found.push((
                                    ChangeKind::TypeChange,
                                    format!(
                                        "{path}: {} → {}",
                                        type_names(*seen & !NULL),
                                        type_names(new & !NULL)
                                    ),
                                ));
                            }
                            if new != 0 {
                                learned.push((path.clone(), *bits));
                            }
                            *seen |= bits;
                        }
                    }
                }
                // A path that was new once stays a change: count it on every delivery that
                // still has it.
                for (path, _) in &paths {
                    let record_key = (provider, kind.clone(), ChangeKind::NewField, path.clone());
                    if inner.index.contains_key(&record_key)
                        && !found.iter().any(|(change, detail)| {
                            *change == ChangeKind::NewField && detail == path
                        })
                    {
                        found.push((ChangeKind::NewField, path.clone()));
                    }
                }
            }
        }
        for (path, bits) in learned {
            inner.learned(provider, &kind, &path, bits);
        }
        let mut example = None;
        let mut observed = Vec::with_capacity(found.len());
        for (change, detail) in found {
            let record_key = (provider, kind.clone(), change, detail.clone());
            if let Some(&at) = inner.index.get(&record_key) {
                if let Some(record) = inner.records.get_mut(at) {
                    record.count += 1;
                    record.last_seen_ms = now_ms;
                }
                *inner.unsaved_counts.entry(at).or_default() += 1;
                observed.push(Observed {
                    change,
                    first: false,
                    recorded: true,
                });
                continue;
            }
            let recorded = inner.records.len() < MAX_RECORDS;
            if recorded {
                let example = example
                    .get_or_insert_with(|| {
                        let masked = mask_body(provider, &kind, body);
                        bounded(&String::from_utf8_lossy(&masked), EXAMPLE_CHARS)
                    })
                    .clone();
                let at = inner.records.len();
                inner.records.push(DriftRecord {
                    provider,
                    kind: kind.clone(),
                    change,
                    detail,
                    first_seen_ms: now_ms,
                    last_seen_ms: now_ms,
                    count: 1,
                    example,
                });
                inner.index.insert(record_key, at);
                inner.unsaved_counts.insert(at, 1);
            }
            observed.push(Observed {
                change,
                first: true,
                recorded,
            });
        }
        observed
    }

    /// Whether anything changed since the last [`take_unsaved`](Self::take_unsaved).
    #[must_use]
    pub fn has_unsaved(&self) -> bool {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        !inner.unsaved_paths.is_empty() || !inner.unsaved_counts.is_empty()
    }

    /// What changed since the last call (or since the tracker was made): paths learned, and
    /// the records counted with `count` = deliveries counted since then. A store adds it to
    /// what it keeps ([`Inbox::save_drift`](crate::Inbox::save_drift)).
    pub fn take_unsaved(&self) -> DriftState {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let paths = std::mem::take(&mut inner.unsaved_paths);
        let counts = std::mem::take(&mut inner.unsaved_counts);
        let shapes = paths
            .into_iter()
            .map(|((provider, kind), paths)| {
                KindShape::new(provider, kind, paths.into_iter().collect())
            })
            .collect();
        let records = counts
            .into_iter()
            .filter_map(|(at, count)| {
                let mut record = inner.records.get(at)?.clone();
                record.count = count;
                Some(record)
            })
            .collect();
        DriftState { shapes, records }
    }

    /// Adds a persisted state (at start-up, from the inbox): its paths become known, its
    /// records are shown and counted on. Bounded like everything else here; nothing of it is
    /// unsaved.
    pub fn restore(&self, state: DriftState) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for shape in state.shapes {
            let key = (shape.provider, bounded(&shape.kind, TEXT_CHARS));
            if !inner.kinds.contains_key(&key) && inner.kinds.len() >= MAX_KINDS {
                continue;
            }
            let known = inner.kinds.entry(key).or_default();
            for (path, bits) in shape.paths {
                if known.paths.len() >= MAX_PATHS_PER_KIND && !known.paths.contains_key(&path) {
                    break;
                }
                *known.paths.entry(path).or_default() |= bits;
            }
        }
        for record in state.records {
            let record_key = (
                record.provider,
                record.kind.clone(),
                record.change,
                record.detail.clone(),
            );
            if inner.index.contains_key(&record_key) || inner.records.len() >= MAX_RECORDS {
                continue;
            }
            let at = inner.records.len();
            inner.records.push(DriftRecord {
                example: bounded(&record.example, EXAMPLE_CHARS),
                ..record
            });
            inner.index.insert(record_key, at);
        }
    }

    /// Replaces every example that still shows `subject` (any of its
    /// [`spellings`](crate::privacy::Subject::spellings), case ignored: masking leaves a bare
    /// JSON number alone) with [`ERASED_EXAMPLE`]; returns how many.
    pub fn redact(&self, subject: &crate::privacy::Subject) -> u64 {
        let spellings = subject.spellings();
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut redacted = 0;
        for record in &mut inner.records {
            let example = record.example.to_lowercase();
            if spellings
                .iter()
                .any(|spelling| example.contains(spelling.as_str()))
            {
                record.example = ERASED_EXAMPLE.to_owned();
                redacted += 1;
            }
        }
        redacted
    }

    /// The change records, most recently seen first.
    #[must_use]
    pub fn records(&self) -> Vec<DriftRecord> {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut records = inner.records.clone();
        records.sort_by(|a, b| {
            b.last_seen_ms
                .cmp(&a.last_seen_ms)
                .then(a.first_seen_ms.cmp(&b.first_seen_ms))
        });
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_replaces_the_examples_that_show_a_subject() {
        let tracker = DriftTracker::new();
        let record = |detail: &str, example: &str| {
            DriftRecord::new(
                Provider::Bonifiq,
                "custom",
                ChangeKind::NewField,
                detail,
                1,
                1,
                1,
                example,
            )
        };
        tracker.restore(DriftState::new(
            Vec::new(),
            vec![
                record("ref", r#"{"ref":52998224725}"#),
                record("doc", r#"{"doc":"529.982.247-25"}"#),
                record("other", r#"{"ref":11144477735}"#),
            ],
        ));
        let subject = crate::privacy::Subject::parse("529.982.247-25").unwrap();
        assert_eq!(tracker.redact(&subject), 2);
        let examples: Vec<String> = tracker.records().into_iter().map(|r| r.example).collect();
        assert_eq!(
            examples.iter().filter(|e| *e == ERASED_EXAMPLE).count(),
            2,
            "{examples:?}"
        );
        assert!(examples.iter().any(|e| e.contains("11144477735")));
        assert_eq!(tracker.redact(&subject), 0);
    }

    #[test]
    fn paths_fold_arrays_and_forms() {
        let paths = paths_of(br#"{"a":{"b":[{"c":1},{"c":"x","d":null}]},"e":[]}"#);
        let get = |p: &str| {
            paths
                .iter()
                .find(|(path, _)| path == p)
                .map(|(_, bits)| *bits)
        };
        assert_eq!(get("a"), Some(32));
        assert_eq!(get("a.b"), Some(16));
        assert_eq!(get("a.b[]"), Some(32));
        assert_eq!(get("a.b[].c"), Some(4 | 8));
        assert_eq!(get("a.b[].d"), Some(NULL));
        assert_eq!(get("e"), Some(16));
        let form = paths_of(b"pedido_id=1&status=pago&status=x");
        assert_eq!(
            form,
            [("pedido_id".to_owned(), 8), ("status".to_owned(), 8)]
        );
        assert!(paths_of(b"\xff").is_empty());
    }

    #[test]
    fn bounded_in_depth_and_paths() {
        let deep = format!("{}1{}", "{\"a\":".repeat(40), "}".repeat(40));
        assert!(paths_of(deep.as_bytes()).len() <= MAX_DEPTH);
        let wide: String = (0..5_000)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let wide = format!("{{{wide}}}");
        let tracker = DriftTracker::new();
        tracker.observe(Provider::Iset, "order_upserted", b"{}", None, 0);
        let observed = tracker.observe(Provider::Iset, "order_upserted", wide.as_bytes(), None, 1);
        assert!(!observed.is_empty());
        let inner = tracker.inner.lock().unwrap();
        assert!(inner.records.len() <= MAX_RECORDS);
        assert!(
            inner
                .kinds
                .values()
                .all(|shape| shape.paths.len() <= MAX_PATHS_PER_KIND)
        );
    }

    #[test]
    fn unsaved_changes_round_trip() {
        let tracker = DriftTracker::new();
        tracker.observe(Provider::Iset, "x", br#"{"a":1}"#, None, 0);
        tracker.observe(Provider::Iset, "x", br#"{"a":1,"b":true}"#, None, 1);
        tracker.observe(Provider::Iset, "x", br#"{"a":1,"b":false}"#, None, 2);
        let unsaved = tracker.take_unsaved();
        assert_eq!(unsaved.records.len(), 1);
        assert_eq!(unsaved.records[0].count, 2);
        let mut paths = unsaved.shapes[0].paths.clone();
        paths.sort();
        assert_eq!(paths, [("a".to_owned(), 4), ("b".to_owned(), 2)]);
        assert!(tracker.take_unsaved().is_empty());
        tracker.observe(Provider::Iset, "x", br#"{"b":true}"#, None, 3);
        assert_eq!(tracker.take_unsaved().records[0].count, 1);

        // A restarted process restores the state: `b` is known, the record counts on.
        let restarted = DriftTracker::new();
        restarted.restore(DriftState::new(
            vec![KindShape::new(Provider::Iset, "x", paths)],
            tracker.records(),
        ));
        let observed = restarted.observe(Provider::Iset, "x", br#"{"a":1,"b":true}"#, None, 4);
        assert_eq!(observed.len(), 1);
        assert!(!observed[0].first);
        assert_eq!(restarted.records()[0].count, 4);
        assert_eq!(restarted.take_unsaved().records[0].count, 1);
    }

    #[test]
    fn type_changes_ignore_null() {
        let tracker = DriftTracker::new();
        let observe = |body: &[u8], at| tracker.observe(Provider::Iset, "x", body, None, at);
        assert!(observe(br#"{"a":"1","b":null}"#, 0).is_empty());
        assert!(observe(br#"{"a":null,"b":"x"}"#, 1).is_empty());
        let changes = observe(br#"{"a":1,"b":"y"}"#, 2);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].change, ChangeKind::TypeChange);
        assert_eq!(tracker.records()[0].detail, "a: string → number");
        // Now known: no change, and the record is not counted again.
        assert!(observe(br#"{"a":2}"#, 3).is_empty());
        assert_eq!(tracker.records()[0].count, 1);
    }
}
