//! The inbox's operations as data: what `hookbr inbox` prints and the inspector shows.
//!
//! Rows become [`RowSummary`] and [`RowDetail`] (times as RFC 3339 text, Foody's body token
//! redacted, personal data masked unless [revealed](RowDetail::revealed)), with the JSON shapes
//! of `hookbr inbox --json`; printing is the caller's. Every surface a person looks at (the
//! inspector, `hookbr inbox show`, the `log_bodies` log line) shows bodies through
//! [`RowDetail`] and the one helper behind it, which masks with
//! [`hookbr_core::privacy::mask_body`].
//!
//! ```no_run
//! use hookbr_core::inbox::{ListFilter, RowState};
//! use hookbr_server::{config::InboxUrl, inbox};
//!
//! # async fn run() -> Result<(), hookbr_server::Error> {
//! let store = inbox::open_existing(&InboxUrl::Sqlite("hookbr-inbox.sqlite3".into())).await?;
//! for row in inbox::list(store.as_ref(), ListFilter::new().state(RowState::Dead)).await? {
//!     println!("{} {} {}", row.id, row.delivery_id, row.last_error.unwrap_or_default());
//! }
//! # Ok(()) }
//! ```

use std::{path::Path, sync::Arc};

use hookbr_core::{
    Endpoint, Inbox, InboxRecord, InboxRow, Provider, StoreError,
    inbox::{
        BodyRemoved, BodyRemovedReason, EntityDelivery, Erasure, ListFilter, RowState, now_ms,
    },
    privacy::{Subject, mask_body, mask_text},
    timestamp::rfc3339_millis,
};
use serde_json::{Value, json};

use crate::{
    Error,
    config::{InboxKeyRef, InboxUrl, resolve_keys},
    lifecycle::open_inbox_with_keys,
};

/// One row, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RowSummary {
    /// The row id.
    pub id: i64,
    /// The provider (the endpoint text when the endpoint is unknown).
    pub provider: String,
    /// The endpoint text (`bonifiq`, `iset:order_upserted`, …).
    pub endpoint: String,
    /// The delivery id (personal data in it masked).
    pub delivery_id: String,
    /// `pending`, `in_flight`, `done` or `dead`.
    pub state: RowState,
    /// Attempts so far.
    pub attempts: u32,
    /// The last attempt's error (personal data in it masked).
    pub last_error: Option<String>,
    /// When it was received (RFC 3339, milliseconds).
    pub received_at: String,
    /// When the next attempt is due, for a pending row.
    pub next_attempt_at: Option<String>,
    /// The label of the secret or key that authenticated it.
    pub matched_key: String,
}

impl RowSummary {
    /// The summary of `row`, personal data in its delivery id and last error masked.
    #[must_use]
    pub fn new(row: &InboxRow) -> Self {
        Self::shown(row, Shown::Masked)
    }

    fn shown(row: &InboxRow, shown: Shown) -> Self {
        let text = |value: &str| match shown {
            Shown::Masked => mask_text(value),
            Shown::Revealed => value.to_owned(),
        };
        Self {
            id: row.id,
            provider: provider_of(&row.record),
            endpoint: row.record.endpoint.clone(),
            delivery_id: text(&row.record.delivery_id),
            state: row.state,
            attempts: row.attempts,
            last_error: row.last_error.as_deref().map(text),
            received_at: rfc3339_millis(row.record.received_at_ms),
            next_attempt_at: (row.state == RowState::Pending)
                .then(|| rfc3339_millis(row.next_attempt_at_ms)),
            matched_key: row.record.matched_key.clone(),
        }
    }

    /// The JSON object of `hookbr inbox list --json`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "provider": self.provider,
            "endpoint": self.endpoint,
            "delivery_id": self.delivery_id,
            "state": self.state.as_str(),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "received_at": self.received_at,
            "next_attempt_at": self.next_attempt_at,
            "matched_key": self.matched_key,
        })
    }
}

/// One row in full.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RowDetail {
    /// What the list shows.
    pub summary: RowSummary,
    /// The stored headers (only what decoding needs; never a secret header), values masked
    /// unless revealed.
    pub headers: Vec<(String, String)>,
    /// The body: JSON when it is JSON (Foody's `token` redacted), else a string; personal data
    /// masked unless revealed; for a row whose body was removed, the notice saying so.
    pub body: Value,
    /// Whether this is the unmasked view ([`RowDetail::revealed`]).
    pub revealed: bool,
    /// Why the body is gone (`body removed after 7 days (body_retention)`, `body erased on
    /// request at …`), when it is.
    pub body_removed: Option<String>,
}

impl RowDetail {
    /// The detail of `row`, personal data masked (docs/PRIVACY.md): what every surface shows
    /// by default.
    #[must_use]
    pub fn new(row: &InboxRow) -> Self {
        Self::shown(row, Shown::Masked)
    }

    /// The detail of `row` unmasked (Foody's `token` still redacted: a secret, not personal
    /// data). Only for an explicit reveal, which the caller audits ([`audit_reveal`]).
    #[must_use]
    pub fn revealed(row: &InboxRow) -> Self {
        Self::shown(row, Shown::Revealed)
    }

    fn shown(row: &InboxRow, shown: Shown) -> Self {
        let headers = row
            .record
            .headers
            .iter()
            .map(|(name, value)| {
                let value = match shown {
                    Shown::Masked => mask_text(value),
                    Shown::Revealed => value.clone(),
                };
                (name.clone(), value)
            })
            .collect();
        let body_removed = row
            .body_removed
            .map(|removed| removal_notice(removed, row.record.received_at_ms));
        Self {
            summary: RowSummary::shown(row, shown),
            headers,
            body: match &body_removed {
                Some(notice) => Value::String(format!("[{notice}]")),
                None => shown_body(&row.record, shown),
            },
            revealed: shown == Shown::Revealed,
            body_removed,
        }
    }

    /// The JSON object of `hookbr inbox show --json`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut value = self.summary.to_json();
        if let Some(object) = value.as_object_mut() {
            let headers = self
                .headers
                .iter()
                .map(|(name, value)| json!([name, value]))
                .collect();
            object.insert("headers".into(), Value::Array(headers));
            object.insert("body".into(), self.body.clone());
            object.insert("body_removed".into(), json!(self.body_removed));
        }
        value
    }

    /// The body as text: pretty-printed JSON, or the string.
    #[must_use]
    pub fn body_text(&self) -> String {
        pretty(&self.body)
    }
}

/// Counts per state and the oldest delivery not done.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSummary {
    /// Rows waiting for an attempt.
    pub pending: u64,
    /// Rows claimed by a worker.
    pub in_flight: u64,
    /// Rows processed.
    pub done: u64,
    /// Dead-lettered rows.
    pub dead: u64,
    /// When the oldest row not done was received (RFC 3339).
    pub oldest_pending_at: Option<String>,
    /// How long ago, in milliseconds.
    pub oldest_pending_age_ms: Option<i64>,
}

impl StatsSummary {
    /// The JSON object of `hookbr inbox stats --json`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "pending": self.pending,
            "in_flight": self.in_flight,
            "done": self.done,
            "dead": self.dead,
            "oldest_pending_at": self.oldest_pending_at,
            "oldest_pending_age_ms": self.oldest_pending_age_ms,
        })
    }
}

/// What [`replay`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replayed {
    /// Put back in the queue.
    pub replayed: Vec<i64>,
    /// Not replayed: no such row, or not dead-lettered.
    pub not_dead: Vec<i64>,
}

impl Replayed {
    /// The JSON object of `hookbr inbox replay --json`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({ "replayed": self.replayed, "not_dead": self.not_dead })
    }
}

/// What a removed body's row says instead: `body removed after 7 days (body_retention)` or
/// `body erased on request at 2026-…Z`.
#[must_use]
pub fn removal_notice(removed: BodyRemoved, received_at_ms: i64) -> String {
    match removed.reason {
        BodyRemovedReason::Erased => format!(
            "body erased on request at {}",
            rfc3339_millis(removed.at_ms)
        ),
        _ => {
            let days = removed.at_ms.saturating_sub(received_at_ms).max(0) / 86_400_000;
            let unit = if days == 1 { "day" } else { "days" };
            format!("body removed after {days} {unit} (body_retention)")
        }
    }
}

/// What [`erase`] did, as `hookbr inbox erase` and `POST /erase` report it. It names the
/// subject by its index hash only, never by the identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErasureReceipt {
    /// `cpf`, `cnpj` or `email`.
    pub subject_kind: &'static str,
    /// The subject's salted hash in this inbox (hex), as the index keeps it.
    pub subject_hash: String,
    /// When the erasure committed (RFC 3339).
    pub erased_at: String,
    /// What the inbox erased.
    pub erasure: Erasure,
}

/// Says that completed deliveries past retention are already gone: the receipt's last line.
pub const RETENTION_NOTE: &str = "completed deliveries older than [inbox] retention had \
     already been deleted, and bodies older than [inbox] body_retention removed, by the \
     server's hourly prune: nothing of them was left to erase";

impl ErasureReceipt {
    /// The JSON object of `hookbr inbox erase --json` and `POST /erase`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let rows = &self.erasure;
        json!({
            "subject_kind": self.subject_kind,
            "subject_hash": self.subject_hash,
            "erased_at": self.erased_at,
            "rows": {
                "pending": rows.pending,
                "in_flight": rows.in_flight,
                "done": rows.done,
                "dead": rows.dead,
                "total": rows.rows(),
            },
            "drift_examples": rows.drift_examples,
            "nothing_matched": rows.rows() == 0 && rows.drift_examples == 0,
            "note": RETENTION_NOTE,
        })
    }

    /// The receipt as lines of text.
    #[must_use]
    pub fn to_text(&self) -> String {
        let rows = &self.erasure;
        let mut text = format!(
            "erasure receipt
subject      {} with hash {}
erased at    {}
",
            self.subject_kind, self.subject_hash, self.erased_at
        );
        if rows.rows() == 0 && rows.drift_examples == 0 {
            text.push_str(
                "nothing matched: no stored delivery names this subject
",
            );
        } else {
            text.push_str(&format!(
                "rows erased  {} (pending {}, in_flight {}, done {}, dead {}): body and \
                 headers removed, delivery key kept for deduplication
\
                 drift examples redacted  {}
",
                rows.rows(),
                rows.pending,
                rows.in_flight,
                rows.done,
                rows.dead,
                rows.drift_examples
            ));
            if rows.in_flight > 0 {
                text.push_str(
                    "note: a worker held some of these rows and may still deliver the copy it \
                     had read
",
                );
            }
        }
        text.push_str(&format!("note: {RETENTION_NOTE}"));
        text
    }
}

/// Erases `subject`'s data from `inbox` ([`Inbox::erase_subject`]) and makes the receipt.
///
/// # Errors
///
/// [`Error::Config`] when the inbox keeps no subject index, [`Error::Runtime`] when it fails.
pub async fn erase(inbox: &dyn Inbox, subject: Subject) -> Result<ErasureReceipt, Error> {
    let subject_kind = subject.kind().as_str();
    let erasure = inbox
        .erase_subject(subject)
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| Error::config("this inbox keeps no subject index: cannot erase"))?;
    Ok(ErasureReceipt {
        subject_kind,
        subject_hash: erasure
            .subject_hash
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
        erased_at: rfc3339_millis(now_ms()),
        erasure,
    })
}

fn store_error(error: &StoreError) -> Error {
    Error::runtime(format!("the inbox failed: {error}"))
}

/// Opens the inbox of an existing deployment: refuses direct mode (there is none) and a SQLite
/// path with no file (opening would create an empty database, and a typo would look like an
/// empty inbox).
///
/// # Errors
///
/// [`Error::Config`] for direct mode or a missing SQLite file, [`Error::Runtime`] when the
/// inbox cannot be opened.
pub async fn open_existing(url: &InboxUrl) -> Result<Arc<dyn Inbox>, Error> {
    open_existing_with_keys(url, &[]).await
}

/// [`open_existing`] with the inbox's encryption keys (resolved here): rows sealed under a key
/// not given are refused with an error naming their key id.
///
/// # Errors
///
/// As [`open_existing`]; [`Error::Runtime`] when a key cannot be resolved.
pub async fn open_existing_with_keys(
    url: &InboxUrl,
    keys: &[InboxKeyRef],
) -> Result<Arc<dyn Inbox>, Error> {
    check_existing(url)?;
    let keys = resolve_keys(keys)?;
    open_inbox_with_keys(url, keys)
        .await?
        .ok_or_else(|| Error::config("no inbox configured"))
}

/// Refuses direct mode and a missing SQLite file ([`open_existing`]).
fn check_existing(url: &InboxUrl) -> Result<(), Error> {
    if *url == InboxUrl::None {
        return Err(Error::config(
            "this configuration runs in direct mode (inbox.url = \"none\"): there is no inbox",
        ));
    }
    if let InboxUrl::Sqlite(path) = url {
        if !Path::new(path).exists() {
            return Err(Error::config(format!(
                "no inbox at {path} (has `hookbr serve` run with this configuration?)"
            )));
        }
    }
    Ok(())
}

/// What [`rekey`] did in total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RekeyReport {
    /// The key id every row is now under (the first configured key).
    pub key_id: String,
    /// Rows re-encrypted under it.
    pub rekeyed: u64,
    /// Rows that could not be opened (their key is not configured, or their ciphertext was
    /// altered): left as they are.
    pub failed: u64,
    /// Batches (transactions) run.
    pub batches: u64,
    /// The first failures' messages.
    pub errors: Vec<String>,
}

impl RekeyReport {
    /// The JSON object of `hookbr inbox rekey --json`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "key_id": self.key_id,
            "rekeyed": self.rekeyed,
            "failed": self.failed,
            "batches": self.batches,
            "errors": self.errors,
        })
    }
}

/// Re-encrypts every row of the inbox at `url` that is not under the first of `keys`
/// (plaintext rows included), `batch` rows per transaction, oldest first; `progress` sees the
/// totals after each batch. Interrupted, it starts over where rows are still under another
/// key (rows already moved are skipped), so it can be run again until it reports no failure.
///
/// # Errors
///
/// [`Error::Config`] without keys or for direct mode; [`Error::Runtime`] when a key cannot be
/// resolved or the inbox fails.
pub async fn rekey(
    url: &InboxUrl,
    keys: &[InboxKeyRef],
    batch: usize,
    mut progress: impl FnMut(&RekeyReport),
) -> Result<RekeyReport, Error> {
    check_existing(url)?;
    let keys = resolve_keys(keys)?.ok_or_else(|| {
        Error::config("no [inbox] encryption_key or encryption_keys configured: nothing to rekey")
    })?;
    let mut report = RekeyReport {
        key_id: keys.current_id().to_owned(),
        ..RekeyReport::default()
    };
    let failed = |error: &dyn std::fmt::Display| {
        Error::runtime(format!("cannot rekey the inbox {url}: {error}"))
    };
    enum Opened {
        Sqlite(hookbr_store::SqliteInbox),
        Postgres(hookbr_store::PostgresInbox),
    }
    let opened = match url {
        InboxUrl::Sqlite(path) => Opened::Sqlite(
            hookbr_store::SqliteInbox::open(path)
                .map_err(|e| failed(&e))?
                .with_keys(Some(keys.clone())),
        ),
        InboxUrl::Postgres(database) => Opened::Postgres(
            hookbr_store::PostgresInbox::connect_with_pool_size(database, 1)
                .await
                .map_err(|e| failed(&e))?
                .with_keys(Some(keys.clone())),
        ),
        InboxUrl::None => return Err(Error::config("there is no inbox in direct mode")),
    };
    let mut after = 0;
    // Every pass moves `after` forward past at least one row, or stops.
    for _ in 0..u32::MAX {
        let (done, last) = match &opened {
            Opened::Sqlite(inbox) => inbox.rekey(after, batch).await,
            Opened::Postgres(inbox) => inbox.rekey(after, batch).await,
        }
        .map_err(|e| failed(&e))?;
        report.batches += 1;
        report.rekeyed += done.rekeyed;
        report.failed += done.failed;
        for error in done.errors {
            if report.errors.len() < 10 {
                report.errors.push(error);
            }
        }
        progress(&report);
        if !done.more || last <= after {
            break;
        }
        after = last;
    }
    Ok(report)
}

/// Rows matching `filter`, newest first.
///
/// # Errors
///
/// [`Error::Runtime`] when the inbox fails.
pub async fn list(inbox: &dyn Inbox, filter: ListFilter) -> Result<Vec<RowSummary>, Error> {
    let rows = inbox.list(filter).await.map_err(|e| store_error(&e))?;
    Ok(rows.iter().map(RowSummary::new).collect())
}

/// Row `id` in full, if there is one, personal data masked.
///
/// # Errors
///
/// [`Error::Runtime`] when the inbox fails.
pub async fn show(inbox: &dyn Inbox, id: i64) -> Result<Option<RowDetail>, Error> {
    let row = inbox.get(id).await.map_err(|e| store_error(&e))?;
    Ok(row.as_ref().map(RowDetail::new))
}

/// Row `id` in full, if there is one, unmasked ([`RowDetail::revealed`]): the caller audits
/// the reveal with [`audit_reveal`].
///
/// # Errors
///
/// [`Error::Runtime`] when the inbox fails.
pub async fn show_revealed(inbox: &dyn Inbox, id: i64) -> Result<Option<RowDetail>, Error> {
    let row = inbox.get(id).await.map_err(|e| store_error(&e))?;
    Ok(row.as_ref().map(RowDetail::revealed))
}

/// Puts the dead-lettered rows among `ids` back in the queue.
///
/// # Errors
///
/// [`Error::Runtime`] when the inbox fails.
pub async fn replay(inbox: &dyn Inbox, ids: &[i64]) -> Result<Replayed, Error> {
    let mut replayed = Replayed::default();
    for &id in ids {
        if inbox.replay(id).await.map_err(|e| store_error(&e))? {
            replayed.replayed.push(id);
        } else {
            replayed.not_dead.push(id);
        }
    }
    Ok(replayed)
}

/// Puts every dead-lettered row back in the queue; returns how many.
///
/// # Errors
///
/// [`Error::Runtime`] when the inbox fails.
pub async fn replay_dead(inbox: &dyn Inbox) -> Result<u64, Error> {
    inbox.replay_dead().await.map_err(|e| store_error(&e))
}

/// Counts per state and the age of the oldest row not done.
///
/// # Errors
///
/// [`Error::Runtime`] when the inbox fails.
pub async fn stats(inbox: &dyn Inbox) -> Result<StatsSummary, Error> {
    let stats = inbox.stats().await.map_err(|e| store_error(&e))?;
    Ok(StatsSummary {
        pending: stats.pending,
        in_flight: stats.in_flight,
        done: stats.done,
        dead: stats.dead,
        oldest_pending_at: stats.oldest_pending_ms.map(rfc3339_millis),
        oldest_pending_age_ms: stats
            .oldest_pending_ms
            .map(|at| now_ms().saturating_sub(at).max(0)),
    })
}

/// Writes the audit line of a reveal (target `hookbr::audit`, WARN): which delivery, why, and
/// who (`cli`, or the admin token), never the data.
pub fn audit_reveal(id: i64, reason: &str, who: &str) {
    // One line whatever the reason holds.
    let reason: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    tracing::warn!(
        target: "hookbr::audit",
        action = "reveal",
        delivery = id,
        reason = %reason,
        who = %who,
        "delivery {id} revealed unmasked by {who}: {reason}"
    );
}

/// Whether a body is shown masked (the default) or revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    /// Personal data masked ([`mask_body`]).
    Masked,
    /// As stored (an audited reveal).
    Revealed,
}

/// The provider of a record (its endpoint text when the endpoint is unknown).
pub(crate) fn provider_of(record: &InboxRecord) -> String {
    Endpoint::from_text(&record.endpoint).map_or_else(
        || record.endpoint.clone(),
        |endpoint| endpoint.provider().as_str().to_owned(),
    )
}

/// The body as a person sees it: personal data masked by [`mask_body`] (by the record's
/// provider and kind; an unknown endpoint gets the detectors and key rules only), unless
/// revealed; then [`body_json`]. The one helper behind the inspector, `hookbr inbox show` and
/// the `log_bodies` line.
pub(crate) fn shown_body(record: &InboxRecord, shown: Shown) -> Value {
    match shown {
        Shown::Revealed => body_json(record, &record.body),
        Shown::Masked => {
            let (provider, kind) = match Endpoint::from_text(&record.endpoint) {
                Some(endpoint) => (
                    endpoint.provider(),
                    record
                        .decode()
                        .map_or_else(|_| "unknown".to_owned(), |event| event.kind().to_owned()),
                ),
                // `custom`: the map does not apply, detectors and key rules do.
                None => (Provider::Bonifiq, "custom".to_owned()),
            };
            body_json(record, &mask_body(provider, &kind, &record.body))
        }
    }
}

/// `body` (the record's, masked or not) as JSON when it is JSON (Foody's `token` redacted),
/// else as text. A Foody body that does not parse is never shown: it would carry the token.
fn body_json(record: &InboxRecord, body: &[u8]) -> Value {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let foody = provider_of(record) == "foody";
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            if foody {
                if let Some(token) = value.get_mut("token") {
                    *token = Value::String(hookbr_core::foody::REDACTED_TOKEN.into());
                }
            }
            value
        }
        Err(_) if foody => Value::String("[not JSON: hidden, it may carry the token]".into()),
        Err(_) => Value::String(String::from_utf8_lossy(body).into_owned()),
    }
}

/// A body value as text: pretty-printed JSON, or the string itself.
pub(crate) fn pretty(body: &Value) -> String {
    match body {
        Value::String(text) => text.clone(),
        value => serde_json::to_string_pretty(value).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use hookbr_core::DedupKey;

    use super::*;

    fn row(endpoint: &str, body: &[u8]) -> InboxRow {
        InboxRow::new(
            1,
            InboxRecord::new(
                endpoint.into(),
                "d".into(),
                DedupKey::from_bytes([0; 16]),
                body.to_vec(),
                Vec::new(),
                "#0".into(),
                0,
            ),
        )
    }

    fn body_json(row: &InboxRow) -> Value {
        super::shown_body(&row.record, Shown::Masked)
    }

    #[test]
    fn foody_tokens_never_show() {
        let token = "t0ken-5ecret";
        for body in [
            format!(r#"{{"uid":"u","token":"{token}"}}"#).into_bytes(),
            [
                b"\xEF\xBB\xBF".as_slice(),
                format!(r#"{{"token":"{token}"}}"#).as_bytes(),
            ]
            .concat(),
            format!(r#"{{"token":"{token}""#).into_bytes(),
        ] {
            let shown = body_json(&row("foody", &body)).to_string();
            assert!(!shown.contains(token), "{shown}");
        }
        assert_eq!(
            body_json(&row("foody", br#"{"token":"x"}"#))["token"],
            "[redacted]"
        );
        // Other providers' bodies are shown as they are (their secrets are never in the body).
        assert_eq!(
            body_json(&row("iset:order_upserted", b"id=1&x=2")),
            "id=1&x=2"
        );
    }

    #[test]
    fn summaries_keep_the_json_shape() {
        let detail = RowDetail::new(&row("foody", br#"{"token":"x","uid":"u"}"#));
        let json = detail.to_json();
        assert_eq!(json["provider"], "foody");
        assert_eq!(json["state"], "pending");
        assert_eq!(json["received_at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(json["next_attempt_at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(json["body"]["token"], "[redacted]");
        assert_eq!(json["headers"], json!([]));
        assert!(detail.body_text().contains("\"uid\": \"u\""));
    }
}

/// The most deliveries an entity timeline shows (the most recent ones).
pub const TIMELINE_LIMIT: usize = 1_000;

/// One delivery on an entity's timeline ([`entity`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimelineEntry {
    /// The row, as listed.
    pub summary: RowSummary,
    /// `forwarded`, `stale`, `held`, `pending` or `dead` ([`EntityDelivery::state`]).
    pub state: &'static str,
    /// The provider's time of the change (RFC 3339, milliseconds), when it gives one.
    pub position_at: Option<String>,
    /// The status rank in a documented lifecycle, when there is one.
    pub rank: Option<u8>,
    /// Whether the status ends the lifecycle.
    pub terminal: bool,
}

impl TimelineEntry {
    fn new(delivery: &EntityDelivery) -> Self {
        Self {
            summary: RowSummary::new(&delivery.row),
            state: delivery.state(),
            position_at: delivery
                .position
                .and_then(|position| position.at_ms)
                .map(rfc3339_millis),
            rank: delivery.position.and_then(|position| position.rank),
            terminal: delivery.position.is_some_and(|position| position.terminal),
        }
    }

    /// The JSON object of `hookbr inbox entity --json` (one per delivery).
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.summary.id,
            "delivery_id": self.summary.delivery_id,
            "endpoint": self.summary.endpoint,
            "received_at": self.summary.received_at,
            "position_at": self.position_at,
            "rank": self.rank,
            "terminal": self.terminal,
            "state": self.state,
            "row_state": self.summary.state.as_str(),
            "attempts": self.summary.attempts,
        })
    }
}

/// Every stored delivery of entity `kind` `id` (at most [`TIMELINE_LIMIT`], the most recent)
/// in position order, with its state, from the inbox's entity index.
///
/// # Errors
///
/// [`Error::Config`] for a `kind` hookbr does not know (`hookbr_core::entity::KINDS`),
/// [`Error::Runtime`] when the inbox fails.
pub async fn entity(inbox: &dyn Inbox, kind: &str, id: &str) -> Result<Vec<TimelineEntry>, Error> {
    if !hookbr_core::entity::KINDS.contains(&kind) {
        return Err(Error::config(format!(
            "unknown entity kind {kind:?}: expected one of {}",
            hookbr_core::entity::KINDS.join(", ")
        )));
    }
    let deliveries = inbox
        .entity_deliveries(kind.to_owned(), id.to_owned(), TIMELINE_LIMIT)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(deliveries.iter().map(TimelineEntry::new).collect())
}
