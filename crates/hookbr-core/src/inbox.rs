//! The durable inbox: the [`Inbox`] trait that inbox mode and its workers use.
//!
//! In inbox mode the pipeline verifies and decodes a delivery, then [`Inbox::insert`]s its raw
//! bytes; the provider gets `200` only once the insert is committed, and a copy of a stored
//! delivery is answered as a duplicate from the unique delivery key. Workers then
//! [`claim_due`](Inbox::claim_due) rows with a lease, run the application's handler,
//! [`renew`](Inbox::renew) the lease while it runs, and [`complete`](Inbox::complete) or
//! [`fail`](Inbox::fail) them (retry later, or dead-letter).
//! hookbr-store implements it on SQLite and PostgreSQL.
//!
//! # Lease fencing
//!
//! Each claim gives the row a new claim token ([`InboxRow::claim`]), never equal to one the
//! row had before (not even after a replay, which resets the attempts). `complete`, `fail`
//! and `renew` take the token back and change the row only while it is still in flight under
//! that token: a worker whose lease expired and whose row another worker claimed again is
//! told so (`false`) and changes nothing, so a stale worker can neither move a `done` row
//! back nor overwrite the outcome of the attempt that now owns the row. The batch forms
//! ([`settle_many`](Inbox::settle_many), [`complete_many`](Inbox::complete_many),
//! [`renew_many`](Inbox::renew_many)) fence each row in the same way.

use std::{fmt, time::Duration};

use crate::{
    DedupKey,
    dedup::StoreFuture,
    ledger::{BodyFingerprint, Seen},
    ordering::StoredPosition,
};

/// A verified delivery to store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboxRecord {
    /// The endpoint's text form ([`Endpoint::to_text`](crate::Endpoint::to_text)).
    pub endpoint: String,
    /// The delivery id as the provider gave it (or its digest).
    pub delivery_id: String,
    /// The unique key: [`DeliveryId::key`](crate::DeliveryId::key), a digest of the provider,
    /// the route's deduplication namespace and the delivery id (the key the idempotency store
    /// would use in direct mode).
    pub key: DedupKey,
    /// The body bytes as received; the pipeline stores Foody's with the value of its `token`
    /// replaced by `"[redacted]"` (`foody::redact_token`).
    pub body: Vec<u8>,
    /// The headers needed to decode the body again (`content-type`, `x-unique-key`); never
    /// the secret headers.
    pub headers: Vec<(String, String)>,
    /// Which configured secret or key authenticated it (index and label, never the value).
    pub matched_key: String,
    /// When it was received, in milliseconds since the Unix epoch.
    pub received_at_ms: i64,
    /// The entity note the pipeline read from the event it decoded, so the inbox does not
    /// decode the body a second time ([`entity_note`](Self::entity_note)).
    note: NoteCache,
}

/// What [`InboxRecord::entity_note`] answers, when already known.
type EntityNote = Option<(crate::entity::Entity, Option<StoredPosition>)>;

/// A cache of what the record's bytes say, not part of its value: two records that differ only
/// in it are equal.
#[derive(Debug, Clone, Default)]
struct NoteCache(Option<EntityNote>);

impl PartialEq for NoteCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for NoteCache {}

impl InboxRecord {
    /// A record (see the field docs).
    #[must_use]
    pub fn new(
        endpoint: String,
        delivery_id: String,
        key: DedupKey,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
        matched_key: String,
        received_at_ms: i64,
    ) -> Self {
        Self {
            endpoint,
            delivery_id,
            key,
            body,
            headers,
            matched_key,
            received_at_ms,
            note: NoteCache::default(),
        }
    }

    /// Remembers the entity note of `event`, the decoded form of this record's bytes.
    pub(crate) fn noted(mut self, event: &crate::WebhookEvent) -> Self {
        self.note = NoteCache(Some(Self::note_of(event)));
        self
    }

    fn note_of(event: &crate::WebhookEvent) -> EntityNote {
        let entity = event.entity()?;
        Some((entity, event.position().as_ref().map(StoredPosition::from)))
    }
}

impl InboxRecord {
    /// Decodes the stored bytes again, as the pipeline did when the delivery arrived (workers,
    /// the inspector and `hookbr inbox` all use this).
    ///
    /// # Errors
    ///
    /// [`DecodeRecordError`] when the endpoint text is not one this build knows, or the bytes
    /// no longer decode (a build with another provider feature set, a changed decoder).
    pub fn decode(&self) -> Result<crate::WebhookEvent, DecodeRecordError> {
        let endpoint = crate::Endpoint::from_text(&self.endpoint)
            .ok_or_else(|| DecodeRecordError::UnknownEndpoint(self.endpoint.clone()))?;
        let request = crate::Request::new(&self.body).with_headers(&self.headers);
        crate::WebhookEvent::decode(endpoint, &request).map_err(DecodeRecordError::Parse)
    }

    /// The entity of the stored delivery and its position, for the inbox's entity index;
    /// `None` when it has no entity or does not decode. A record built by the pipeline
    /// carries what its decoded event said; any other is decoded again. (A caller that changes
    /// the body of a record the pipeline built gets the note of the body as received.)
    #[must_use]
    pub fn entity_note(&self) -> Option<(crate::entity::Entity, Option<StoredPosition>)> {
        match &self.note.0 {
            Some(note) => note.clone(),
            None => Self::note_of(&self.decode().ok()?),
        }
    }
}

/// Why a stored delivery does not decode any more ([`InboxRecord::decode`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeRecordError {
    /// The row names an endpoint this build does not know.
    #[error("unknown endpoint {0:?} in the inbox")]
    UnknownEndpoint(String),
    /// The stored bytes are not the provider's format.
    #[error("cannot decode: {0}")]
    Parse(#[source] crate::ParseError),
}

/// What [`Inbox::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored as a new row (its id).
    New(i64),
    /// A row with the same delivery key already exists.
    Duplicate,
}

/// A row's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RowState {
    /// Waiting for (another) attempt.
    Pending,
    /// Claimed by a worker whose lease has not expired.
    InFlight,
    /// Processed to completion.
    Done,
    /// Failed too often: waits for a replay.
    Dead,
}

impl RowState {
    /// The stored text: `pending`, `in_flight`, `done`, `dead`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form.
    #[must_use]
    pub fn from_text(text: &str) -> Option<Self> {
        [Self::Pending, Self::InFlight, Self::Done, Self::Dead]
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

impl fmt::Display for RowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboxRow {
    /// The row id.
    pub id: i64,
    /// The stored delivery.
    pub record: InboxRecord,
    /// Its state.
    pub state: RowState,
    /// Attempts so far.
    pub attempts: u32,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When the next attempt is due (ms since the epoch).
    pub next_attempt_at_ms: i64,
    /// The claim token of the last claim (`0` before the first): what
    /// [`Inbox::complete`], [`Inbox::fail`] and [`Inbox::renew`] take back to prove the caller
    /// still holds the row.
    pub claim: i64,
    /// When and why the body and headers were removed (the record then holds none); `None`
    /// while they are kept.
    pub body_removed: Option<BodyRemoved>,
}

/// Why a row's body and headers are gone while its delivery key stays
/// ([`InboxRow::body_removed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyRemovedReason {
    /// The row was completed longer ago than `[inbox] body_retention`
    /// ([`Inbox::drop_bodies`]).
    Retention,
    /// It named a person whose data was erased on request ([`Inbox::erase_subject`]).
    Erased,
}

impl BodyRemovedReason {
    /// The stored text: `retention` or `erased`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retention => "retention",
            Self::Erased => "erased",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form.
    #[must_use]
    pub fn from_text(text: &str) -> Option<Self> {
        [Self::Retention, Self::Erased]
            .into_iter()
            .find(|reason| reason.as_str() == text)
    }
}

/// When and why a row's body was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BodyRemoved {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// Why.
    pub reason: BodyRemovedReason,
}

impl BodyRemoved {
    /// A removal at `at_ms` for `reason`.
    #[must_use]
    pub fn new(at_ms: i64, reason: BodyRemovedReason) -> Self {
        Self { at_ms, reason }
    }
}

/// What [`Inbox::erase_subject`] did: the rows whose body and headers it removed, counted by
/// the state they were in (an erased row that was not done is marked done: there is nothing
/// left to process), and the masked drift examples it redacted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Erasure {
    /// The subject's index entry ([`Subject::hash`](crate::privacy::Subject::hash) under this
    /// inbox's salt): what the receipt names instead of the subject.
    pub subject_hash: [u8; 32],
    /// Rows that were waiting for an attempt.
    pub pending: u64,
    /// Rows a worker held (it may still deliver the copy it read).
    pub in_flight: u64,
    /// Rows already processed.
    pub done: u64,
    /// Dead-lettered rows.
    pub dead: u64,
    /// Drift examples that contained the subject, replaced by a notice.
    pub drift_examples: u64,
}

impl Erasure {
    /// No row erased yet, for `subject_hash`.
    #[must_use]
    pub fn new(subject_hash: [u8; 32]) -> Self {
        Self {
            subject_hash,
            ..Self::default()
        }
    }

    /// Rows erased, all states together.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.pending + self.in_flight + self.done + self.dead
    }

    /// Counts one erased row that was in `state`.
    pub fn count(&mut self, state: RowState) {
        match state {
            RowState::Pending => self.pending += 1,
            RowState::InFlight => self.in_flight += 1,
            RowState::Done => self.done += 1,
            RowState::Dead => self.dead += 1,
        }
    }
}

/// The most subjects the inbox indexes per row. A row naming more (a batch export, a report)
/// is indexed under its first ones and marked, and erasure reads the bodies of marked rows to
/// find the others: the index stays bounded and erasure stays complete.
pub const MAX_SUBJECTS_PER_ROW: usize = 32;

/// The index entries of `record` under `salt`: the hashes of the subjects its body names
/// ([`privacy::subjects`](crate::privacy::subjects)), at most [`MAX_SUBJECTS_PER_ROW`], and
/// whether there were more.
#[must_use]
pub fn subject_hashes(record: &InboxRecord, salt: &[u8]) -> (Vec<[u8; 32]>, bool) {
    let mut entries = index_entries(&record.body, salt);
    let overflow = entries.len() > MAX_SUBJECTS_PER_ROW;
    entries.truncate(MAX_SUBJECTS_PER_ROW);
    (entries, overflow)
}

/// What a store writes to its subject index for a stored `body`: the hashes of at most
/// [`MAX_SUBJECTS_PER_ROW`] subjects, then the [`overflow_marker`] when the body names more.
/// The one definition for inserts and for indexing rows stored before the index existed.
#[must_use]
pub fn index_entries(body: &[u8], salt: &[u8]) -> Vec<[u8; 32]> {
    let found = crate::privacy::subjects(body);
    let mut entries: Vec<[u8; 32]> = found
        .iter()
        .take(MAX_SUBJECTS_PER_ROW)
        .map(|subject| subject.hash(salt))
        .collect();
    if found.len() > MAX_SUBJECTS_PER_ROW {
        entries.push(overflow_marker(salt));
    }
    entries
}

/// The index entry that marks a row naming more than [`MAX_SUBJECTS_PER_ROW`] subjects.
#[must_use]
pub fn overflow_marker(salt: &[u8]) -> [u8; 32] {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(salt)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(b"overflow:");
    mac.finalize().into_bytes().into()
}

impl InboxRow {
    /// A pending row with no attempts (for store implementations, which then set the state
    /// fields).
    #[must_use]
    pub fn new(id: i64, record: InboxRecord) -> Self {
        let next_attempt_at_ms = record.received_at_ms;
        Self {
            id,
            record,
            state: RowState::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_at_ms,
            claim: 0,
            body_removed: None,
        }
    }
}

/// Counts per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboxStats {
    /// Rows waiting for an attempt.
    pub pending: u64,
    /// Rows claimed by a worker.
    pub in_flight: u64,
    /// Rows processed.
    pub done: u64,
    /// Dead-lettered rows.
    pub dead: u64,
    /// Receive time of the oldest row not done (ms since the epoch).
    pub oldest_pending_ms: Option<i64>,
}

/// A filter for [`Inbox::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListFilter {
    /// Only this state.
    pub state: Option<RowState>,
    /// Only endpoints of this provider (`bonifiq`, ...).
    pub provider: Option<String>,
    /// Only rows received at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// At most this many rows, newest first (0 means 100).
    pub limit: usize,
}

impl ListFilter {
    /// No filter, the default limit.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Only rows in `state`.
    #[must_use]
    pub fn state(mut self, state: RowState) -> Self {
        self.state = Some(state);
        self
    }

    /// Only rows of `provider` (`bonifiq`, `foody`, `iset`, `grafeno`).
    #[must_use]
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Only rows received at or after `since_ms`.
    #[must_use]
    pub fn since_ms(mut self, since_ms: i64) -> Self {
        self.since_ms = Some(since_ms);
        self
    }

    /// At most `limit` rows.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// One attempt's outcome to record ([`Inbox::settle_many`]): what [`Inbox::complete`] or
/// [`Inbox::fail`] would record for one row, fenced by its claim token in the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    /// The handler succeeded: mark row `id` done (as [`Inbox::complete`]).
    Completed {
        /// The row id.
        id: i64,
        /// The claim token the worker holds ([`InboxRow::claim`]).
        claim: i64,
    },
    /// The handler failed: retry at `retry_at_ms`, or dead-letter when `None` (as
    /// [`Inbox::fail`]).
    Failed {
        /// The row id.
        id: i64,
        /// The claim token the worker holds ([`InboxRow::claim`]).
        claim: i64,
        /// The handler's error, kept as the row's last error.
        error: String,
        /// When to try again (ms since the epoch); `None` dead-letters the row.
        retry_at_ms: Option<i64>,
    },
}

impl RowOutcome {
    /// The row this outcome is for.
    #[must_use]
    pub fn id(&self) -> i64 {
        match self {
            Self::Completed { id, .. } | Self::Failed { id, .. } => *id,
        }
    }

    /// The claim token it carries.
    #[must_use]
    pub fn claim(&self) -> i64 {
        match self {
            Self::Completed { claim, .. } | Self::Failed { claim, .. } => *claim,
        }
    }
}

/// A durable inbox. See the module docs.
pub trait Inbox: Send + Sync + fmt::Debug {
    /// Stores `record`; resolves only once the row is durable.
    fn insert(&self, record: InboxRecord) -> StoreFuture<'_, Inserted>;

    /// Claims up to `limit` rows that are due (pending and due, or in flight with an expired
    /// lease), marks them in flight for `lease`, counts the attempt and gives each a new claim
    /// token ([`InboxRow::claim`]).
    fn claim_due(&self, limit: usize, lease: Duration) -> StoreFuture<'_, Vec<InboxRow>>;

    /// The handler succeeded: marks row `id` done if it is still in flight under `claim`.
    /// `false` when the lease was lost (another worker claimed the row again): nothing changed.
    fn complete(&self, id: i64, claim: i64) -> StoreFuture<'_, bool>;

    /// The handler failed with `error`: retry at `retry_at_ms`, or dead-letter when `None`, if
    /// row `id` is still in flight under `claim`. `false` when the lease was lost: nothing
    /// changed.
    fn fail(
        &self,
        id: i64,
        claim: i64,
        error: String,
        retry_at_ms: Option<i64>,
    ) -> StoreFuture<'_, bool>;

    /// Extends the lease of row `id` to `lease` from now, if it is still in flight under
    /// `claim`; `false` when the lease was lost.
    fn renew(&self, id: i64, claim: i64, lease: Duration) -> StoreFuture<'_, bool>;

    /// Records the outcomes of several attempts at once, each fenced by its claim token
    /// exactly as [`complete`](Self::complete) and [`fail`](Self::fail) are: the answer has one
    /// entry per outcome, in order, `false` where the lease was lost (that row is unchanged).
    ///
    /// The default records them one after another. The SQLite and PostgreSQL inboxes record a
    /// whole batch in one transaction (one commit, one round trip): either every outcome is
    /// recorded or, on `Err`, none is (the rows stay in flight and are claimed again once
    /// their lease expires). With the default, an `Err` may come after some were recorded.
    fn settle_many(&self, outcomes: Vec<RowOutcome>) -> StoreFuture<'_, Vec<bool>> {
        Box::pin(async move {
            let mut settled = Vec::with_capacity(outcomes.len());
            for outcome in outcomes {
                settled.push(match outcome {
                    RowOutcome::Completed { id, claim } => self.complete(id, claim).await?,
                    RowOutcome::Failed {
                        id,
                        claim,
                        error,
                        retry_at_ms,
                    } => self.fail(id, claim, error, retry_at_ms).await?,
                });
            }
            Ok(settled)
        })
    }

    /// Marks the rows `(id, claim)` done, each only if it is still in flight under its claim
    /// token ([`complete`](Self::complete) for a batch): one `bool` per row, in order, `false`
    /// where the lease was lost. Recorded by [`settle_many`](Self::settle_many).
    fn complete_many(&self, rows: &[(i64, i64)]) -> StoreFuture<'_, Vec<bool>> {
        self.settle_many(
            rows.iter()
                .map(|&(id, claim)| RowOutcome::Completed { id, claim })
                .collect(),
        )
    }

    /// Extends the leases of the rows `(id, claim)` to `lease` from now, each only if it is
    /// still in flight under its claim token ([`renew`](Self::renew) for a batch): one `bool`
    /// per row, in order. The default renews them one after another; SQLite and PostgreSQL in
    /// one transaction.
    fn renew_many(&self, rows: &[(i64, i64)], lease: Duration) -> StoreFuture<'_, Vec<bool>> {
        let rows = rows.to_vec();
        Box::pin(async move {
            let mut renewed = Vec::with_capacity(rows.len());
            for (id, claim) in rows {
                renewed.push(self.renew(id, claim, lease).await?);
            }
            Ok(renewed)
        })
    }

    /// Rows matching `filter`, newest first.
    fn list(&self, filter: ListFilter) -> StoreFuture<'_, Vec<InboxRow>>;

    /// One row.
    fn get(&self, id: i64) -> StoreFuture<'_, Option<InboxRow>>;

    /// Puts a dead-lettered row back to pending (attempts reset); `false` if it was not dead.
    fn replay(&self, id: i64) -> StoreFuture<'_, bool>;

    /// Puts every dead-lettered row back to pending; returns how many.
    fn replay_dead(&self) -> StoreFuture<'_, u64>;

    /// Deletes completed rows received before `before_ms`; returns how many.
    fn prune(&self, before_ms: i64) -> StoreFuture<'_, u64>;

    /// Removes the body and headers of completed rows received before `before_ms` (`[inbox]
    /// body_retention`), keeping the row with its delivery key and state until
    /// [`prune`](Self::prune), so deduplication and the signature ledger do not need the
    /// personal data; the row then reads with an empty body and
    /// [`InboxRow::body_removed`] set. Returns how many. The default removes nothing.
    fn drop_bodies(&self, before_ms: i64) -> StoreFuture<'_, u64> {
        let _ = before_ms;
        Box::pin(std::future::ready(Ok(0)))
    }

    /// Erases one person's data on request: every row whose body names `subject` (found
    /// through the index of salted subject hashes kept at insert time, never by reading every
    /// body) loses its body and headers and is marked done, keeping its delivery key, and the
    /// masked drift examples that still show the subject are redacted. `None` (the default)
    /// when this inbox keeps no subject index.
    fn erase_subject(&self, subject: crate::privacy::Subject) -> StoreFuture<'_, Option<Erasure>> {
        let _ = subject;
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Counts per state.
    fn stats(&self) -> StoreFuture<'_, InboxStats>;

    /// The receive time (ms since the epoch) of the oldest row not done of each provider,
    /// from a walk of the open rows, oldest first, that stops after `scan` of them (the
    /// SQLite and PostgreSQL inboxes walk their index of open rows by receive time, so the
    /// cost is bounded whatever the inbox holds). A provider with no open row among those
    /// `scan` is absent. `None` (the default) when this inbox cannot tell.
    fn oldest_open_by_provider(
        &self,
        scan: usize,
    ) -> StoreFuture<'_, Option<Vec<(crate::Provider, i64)>>> {
        let _ = scan;
        Box::pin(std::future::ready(Ok(None)))
    }

    /// The signature ledger ([`ledger`](crate::ledger)): compares `fingerprint` with the body
    /// fingerprint remembered for `key`, remembering it for `keep` when the key is new; the
    /// pipeline asks before [`insert`](Self::insert), and refuses a [`Seen::Different`] body.
    /// Entries must outlive [`prune`](Self::prune) of their rows (they are pruned after
    /// `keep`). `None` (the default) when this inbox keeps no ledger: the receiver then keeps
    /// one in memory, lost on restart.
    fn remember_body(
        &self,
        key: DedupKey,
        fingerprint: BodyFingerprint,
        keep: Duration,
    ) -> StoreFuture<'_, Option<Seen>> {
        let _ = (key, fingerprint, keep);
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Adds what a [`DriftTracker`](crate::drift::DriftTracker) learned since its last save
    /// ([`take_unsaved`](crate::drift::DriftTracker::take_unsaved)): paths are merged (type
    /// bits or-ed), record counts added, first/last seen widened, the first example kept.
    /// `false` (the default) when this inbox keeps no drift state.
    fn save_drift(&self, state: crate::drift::DriftState) -> StoreFuture<'_, bool> {
        let _ = state;
        Box::pin(std::future::ready(Ok(false)))
    }

    /// The drift state kept by [`save_drift`](Self::save_drift) (at most
    /// [`MAX_RECORDS`](crate::drift::MAX_RECORDS) records, most recently seen first); `None`
    /// (the default) when this inbox keeps none.
    fn load_drift(&self) -> StoreFuture<'_, Option<crate::drift::DriftState>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    /// The ordering guard, durable (`ordering = "annotate" | "hold" | "drop-stale"` in inbox
    /// mode): judges row `id` against its entity's latest position that passed, atomically
    /// with other workers, records the new latest when it is later, and marks the row
    /// [`EntityMark::Passed`] or [`EntityMark::Stale`]. `Ok(Some(Verdict::Untracked))` when
    /// the row has no entity or no position; `Ok(None)` (the default) when this inbox keeps
    /// no entities (the caller then judges in memory).
    fn judge_entity(&self, id: i64) -> StoreFuture<'_, Option<crate::ordering::Verdict>> {
        let _ = id;
        Box::pin(std::future::ready(Ok(None)))
    }

    /// `ordering = "hold"`: marks row `id`, in flight under `claim`, [`EntityMark::Held`] and
    /// gives back the attempt its claim counted (holding is not a failure); the worker then
    /// schedules it again. `false` when the claim is no longer current, or (the default) this
    /// inbox keeps no entities.
    fn hold_entity(&self, id: i64, claim: i64) -> StoreFuture<'_, bool> {
        let _ = (id, claim);
        Box::pin(std::future::ready(Ok(false)))
    }

    /// The stored deliveries of entity `kind` `id` (at most `limit`, the most recent), from
    /// an index on the entity (not a scan of bodies), in position order
    /// ([`EntityDelivery::sort`]). Empty (the default) when this inbox keeps no entities.
    fn entity_deliveries(
        &self,
        kind: String,
        id: String,
        limit: usize,
    ) -> StoreFuture<'_, Vec<EntityDelivery>> {
        let _ = (kind, id, limit);
        Box::pin(std::future::ready(Ok(Vec::new())))
    }
}

/// What the ordering guard recorded for a stored delivery of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntityMark {
    /// It passed the guard (not older than its entity's latest): forwarded, or being.
    Passed,
    /// It was older than its entity's latest (annotated `stale`, or not forwarded).
    Stale,
    /// The worker is holding it back for an earlier delivery (`ordering = "hold"`).
    Held,
}

impl EntityMark {
    /// `passed`, `stale`, `held` (the stored text).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Stale => "stale",
            Self::Held => "held",
        }
    }

    /// The mark named `text` ([`as_str`](Self::as_str)).
    #[must_use]
    pub fn from_text(text: &str) -> Option<Self> {
        match text {
            "passed" => Some(Self::Passed),
            "stale" => Some(Self::Stale),
            "held" => Some(Self::Held),
            _ => None,
        }
    }
}

/// One stored delivery of an entity ([`Inbox::entity_deliveries`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntityDelivery {
    /// The inbox row.
    pub row: InboxRow,
    /// Its position, as stored (`None`: the provider gives none).
    pub position: Option<StoredPosition>,
    /// What the ordering guard recorded (`None`: not judged, or no guard).
    pub mark: Option<EntityMark>,
}

impl EntityDelivery {
    /// A delivery of an entity (see the fields).
    #[must_use]
    pub fn new(row: InboxRow, position: Option<StoredPosition>, mark: Option<EntityMark>) -> Self {
        Self {
            row,
            position,
            mark,
        }
    }

    /// Its state on the timeline: `stale` (the guard found a later one first), `dead`,
    /// `forwarded` (done), `held` (waiting for an earlier one), else `pending`.
    #[must_use]
    pub fn state(&self) -> &'static str {
        match (self.mark, self.row.state) {
            (Some(EntityMark::Stale), _) => "stale",
            (_, RowState::Dead) => "dead",
            (_, RowState::Done) => "forwarded",
            (Some(EntityMark::Held), _) => "held",
            _ => "pending",
        }
    }

    /// Sorts `deliveries` in position order: by [`StoredPosition::compare`] where it decides,
    /// then by arrival (row id); deliveries without a position last, by arrival.
    pub fn sort(deliveries: &mut [Self]) {
        deliveries.sort_by(|a, b| match (&a.position, &b.position) {
            (Some(x), Some(y)) => x
                .compare(y)
                .filter(|order| order.is_ne())
                .unwrap_or_else(|| a.row.id.cmp(&b.row.id)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.row.id.cmp(&b.row.id),
        });
    }
}

/// The first receive time of each provider in `rows` (`(endpoint, received_at_ms)`, oldest
/// first): what [`Inbox::oldest_open_by_provider`] answers from its walk. An endpoint names its
/// provider before any `:` (`iset:order_upserted`); rows of an endpoint naming no provider are
/// skipped.
pub fn oldest_per_provider(
    rows: impl IntoIterator<Item = (String, i64)>,
) -> Vec<(crate::Provider, i64)> {
    let mut oldest: Vec<(crate::Provider, i64)> = Vec::new();
    for (endpoint, received_at) in rows {
        let name = endpoint.split(':').next().unwrap_or_default();
        let Ok(provider) = name.parse::<crate::Provider>() else {
            continue;
        };
        match oldest.iter_mut().find(|(known, _)| *known == provider) {
            Some((_, at)) => *at = (*at).min(received_at),
            None => oldest.push((provider, received_at)),
        }
    }
    oldest
}

/// Milliseconds since the Unix epoch, now.
#[must_use]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;

    /// The note the pipeline hands over with a record ([`InboxRecord::noted`]) is what decoding
    /// the record's bytes again says, for every provider; and records compare by their value.
    #[cfg(feature = "testkit")]
    #[test]
    fn a_noted_record_says_what_decoding_it_again_says() {
        use crate::{
            Endpoint, WebhookEvent,
            iset::IsetKind,
            testkit::{self, TestKey},
        };
        let mut deliveries = vec![
            (Endpoint::Bonifiq, testkit::bonifiq_point_add("s")),
            (
                Endpoint::Bonifiq,
                testkit::bonifiq_earn_purchase_points("s"),
            ),
            (Endpoint::Foody, testkit::foody_status("dispatched", "t")),
            (Endpoint::Foody, testkit::foody_hook_test("t")),
            (
                Endpoint::Grafeno,
                testkit::grafeno_boleto_criado(TestKey::rsa_2048()),
            ),
        ];
        for kind in IsetKind::ALL {
            deliveries.push((Endpoint::Iset(kind), testkit::iset(kind, 42, "t")));
        }
        let mut with_entity = 0;
        for (endpoint, delivery) in &deliveries {
            let event = WebhookEvent::decode(*endpoint, &delivery.request()).unwrap();
            // As the pipeline stores it: Foody's token redacted.
            let body = match endpoint.provider() {
                Provider::Foody => crate::foody::redact_token(&delivery.body),
                _ => delivery.body.clone(),
            };
            let plain = InboxRecord::new(
                endpoint.to_text(),
                "id".to_owned(),
                DedupKey::from_bytes([7; 16]),
                body,
                delivery.headers.clone(),
                "#0".to_owned(),
                1,
            );
            let noted = plain.clone().noted(&event);
            assert_eq!(noted.entity_note(), plain.entity_note(), "{endpoint:?}");
            assert_eq!(noted, plain, "the note is not part of the value");
            with_entity += usize::from(noted.entity_note().is_some());
        }
        assert!(
            with_entity >= 5,
            "most samples name an entity: {with_entity}"
        );
    }

    #[test]
    fn the_first_row_of_each_provider_is_its_oldest() {
        let rows = [
            ("iset:order_upserted", 5),
            ("bonifiq", 7),
            ("iset:stock_upserted", 9),
            ("unknown", 1),
            ("foody", 11),
            ("bonifiq", 3),
        ]
        .map(|(endpoint, at)| (endpoint.to_owned(), at));
        assert_eq!(
            oldest_per_provider(rows),
            vec![
                (Provider::Iset, 5),
                (Provider::Bonifiq, 3),
                (Provider::Foody, 11)
            ]
        );
        assert!(oldest_per_provider(Vec::new()).is_empty());
    }
}
