//! Two-phase idempotency: the [`IdempotencyStore`] trait and the in-memory [`MemoryStore`].
//!
//! Providers retry, so the same delivery can arrive twice, or twice at the same moment. Each
//! delivery id goes through:
//!
//! 1. [`claim`](IdempotencyStore::claim): [`Claim::New`] (process it; you hold a lease),
//!    [`Claim::InFlight`] (another copy holds the lease: answer `409`), or [`Claim::Done`]
//!    (already processed: answer `200` without running the handler).
//! 2. After the handler: [`complete`](IdempotencyStore::complete) when it succeeded, so copies
//!    are answered as duplicates for the retention period; [`release`](IdempotencyStore::release)
//!    when it failed, so the provider's retry is processed instead of dropped.
//!
//! A lease expires on its own, so a holder that crashed cannot block an id forever; a
//! [`ClaimToken`] makes sure only the current holder can complete or release.
//!
//! ```
//! use std::time::Duration;
//! use hookbr_core::{Claim, DeliveryId, IdempotencyStore, MemoryStore, Provider};
//! # futures_executor::block_on(async {
//! let store = MemoryStore::new();
//! let key = DeliveryId::new(Provider::Bonifiq, "4834c95e-84f7-485e-90de-09353df57fd3").key();
//! let Claim::New(token) = store.claim(key, Duration::from_secs(30)).await? else { panic!() };
//! assert_eq!(store.claim(key, Duration::from_secs(30)).await?, Claim::InFlight);
//! store.complete(key, token, Duration::from_secs(7 * 86_400)).await?;
//! assert_eq!(store.claim(key, Duration::from_secs(30)).await?, Claim::Done);
//! # Ok::<(), hookbr_core::StoreError>(()) }).unwrap();
//! ```

use std::{
    collections::VecDeque,
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use dashmap::DashMap;

use crate::{
    ConfigError, DedupKey,
    ledger::{BodyFingerprint, Seen},
};

/// The future returned by [`IdempotencyStore`] methods.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Proof of holding a claim, given by [`Claim::New`] and required to settle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimToken(u64);

impl ClaimToken {
    /// Wraps a raw token (for store implementations).
    #[must_use]
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw token (for store implementations).
    #[must_use]
    pub const fn into_raw(self) -> u64 {
        self.0
    }
}

/// The answer to [`IdempotencyStore::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First copy (or the previous holder's lease expired, or it released): process it.
    New(ClaimToken),
    /// Another copy is being processed now.
    InFlight,
    /// Already processed to completion.
    Done,
}

/// The store could not answer; the delivery should be refused with `503` so the provider
/// retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("idempotency store unavailable: {message}")]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// A store error with a message (no secrets, no payloads).
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// A two-phase idempotency store. See the module docs.
///
/// Implementations must make `claim` atomic: of any number of concurrent claims of one key,
/// exactly one gets [`Claim::New`].
pub trait IdempotencyStore: Send + Sync + fmt::Debug {
    /// Claims `key` for `lease`.
    fn claim(&self, key: DedupKey, lease: Duration) -> StoreFuture<'_, Claim>;

    /// Marks `key` processed; copies are answered [`Claim::Done`] for `retention`. A stale
    /// `token` (the lease expired and someone else claimed the key) is ignored.
    fn complete(
        &self,
        key: DedupKey,
        token: ClaimToken,
        retention: Duration,
    ) -> StoreFuture<'_, ()>;

    /// Gives `key` up so the next copy is processed. A stale `token` is ignored.
    fn release(&self, key: DedupKey, token: ClaimToken) -> StoreFuture<'_, ()>;

    /// The signature ledger ([`ledger`](crate::ledger)): compares `fingerprint` with the body
    /// fingerprint remembered for `key`, remembering it for `keep` when the key is new. `None`
    /// (the default) when this store keeps no ledger: the receiver then keeps one in memory.
    /// Stores shared by several instances should keep one, so that a body forged on one
    /// instance is refused on all.
    fn remember_body(
        &self,
        key: DedupKey,
        fingerprint: BodyFingerprint,
        keep: Duration,
    ) -> StoreFuture<'_, Option<Seen>> {
        let _ = (key, fingerprint, keep);
        Box::pin(std::future::ready(Ok(None)))
    }
}

impl<S: IdempotencyStore + ?Sized> IdempotencyStore for Arc<S> {
    fn claim(&self, key: DedupKey, lease: Duration) -> StoreFuture<'_, Claim> {
        (**self).claim(key, lease)
    }

    fn complete(
        &self,
        key: DedupKey,
        token: ClaimToken,
        retention: Duration,
    ) -> StoreFuture<'_, ()> {
        (**self).complete(key, token, retention)
    }

    fn release(&self, key: DedupKey, token: ClaimToken) -> StoreFuture<'_, ()> {
        (**self).release(key, token)
    }

    fn remember_body(
        &self,
        key: DedupKey,
        fingerprint: BodyFingerprint,
        keep: Duration,
    ) -> StoreFuture<'_, Option<Seen>> {
        (**self).remember_body(key, fingerprint, keep)
    }
}

/// A source of monotonic time in milliseconds, so that leases and retention can be tested
/// without sleeping.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since an arbitrary, fixed origin.
    fn now_millis(&self) -> u64;
}

/// The real clock: milliseconds since the clock was created.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A clock that only moves when told to (for tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_millis(&self) -> u64 {
        (**self).now_millis()
    }
}

/// Bits of an [`Entry`] holding the holder's tag (the low bits); the deadline is above them.
const TAG_BITS: u32 = 20;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
/// Tag value marking a completed entry.
const DONE: u64 = 0;
/// The latest deadline an entry can hold: 2^44 ms, about 557 years after the clock's origin.
const MAX_DEADLINE: u64 = (1 << (64 - TAG_BITS)) - 1;

/// One remembered delivery in 8 bytes (with the 16-byte key, 24 bytes per map slot):
/// `deadline << 20 | tag`, where the deadline is the lease end (in flight) or the retention end
/// (done) in clock milliseconds, saturated at [`MAX_DEADLINE`], and the tag is [`DONE`] or the
/// low 20 bits of a per-store counter, never 0.
///
/// The whole word is the holder's [`ClaimToken`]: a stale holder's token can only equal the
/// current one if both claims got the same deadline *and* counters 2^20 claims apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry(u64);

impl Entry {
    fn new(deadline: u64, tag: u64) -> Self {
        Self((deadline.min(MAX_DEADLINE) << TAG_BITS) | (tag & TAG_MASK))
    }

    fn deadline(self) -> u64 {
        self.0 >> TAG_BITS
    }

    fn is_done(self) -> bool {
        self.0 & TAG_MASK == DONE
    }

    /// Whether `token` is this in-flight entry's holder.
    fn held_by(self, token: ClaimToken) -> bool {
        !self.is_done() && self.0 == token.0
    }
}

/// Shards of a [`MemoryStore`]'s map. Eviction removes and inserts one entry per claim when
/// full, and a shard's table then rehashes now and then (its deleted slots used up): with
/// more, smaller shards, each such pause is shorter (dashmap's default is four per core).
const SHARDS: usize = 256;

/// The default capacity of a [`MemoryStore`]: one million remembered deliveries (about 52 MB).
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// An in-memory [`IdempotencyStore`] on a sharded concurrent map, for a single instance.
///
/// Each entry is a 16-byte [`DedupKey`] and 8 bytes of state (deadline and holder packed in one
/// word), about 52 bytes per remembered delivery at 1 M entries (`bench-server dedup-rss`).
///
/// # When full
///
/// Memory is bounded by the capacity (default [`DEFAULT_CAPACITY`]). Beside the map, the store
/// keeps its completed entries in a queue in the order they were completed. When a new key
/// would exceed the capacity, the claim evicts from the head of that queue: the completed
/// entries completed first, which (with one retention for all) are the expired ones and then
/// those closest to the end of their retention. Each claim pops only what it needs (usually
/// one entry; queue entries left stale by a re-claim are skipped), so making room costs O(1)
/// amortized instead of a scan of the map. Entries in flight are never evicted. Only when no
/// completed entry is left does the store scan for expired leases; if every entry is in
/// flight, `claim` fails with [`StoreError`] (the delivery is refused with `503` and the
/// provider retries) rather than forgetting a lease. An evicted delivery that arrives again is
/// processed again: size the capacity above the number of deliveries expected per retention
/// period, or use a durable store.
///
/// Contents are lost on restart; use hookbr-store's backends where that matters.
#[derive(Debug)]
pub struct MemoryStore<C = SystemClock> {
    map: DashMap<DedupKey, Entry>,
    len: AtomicUsize,
    capacity: usize,
    next_token: AtomicU64,
    clock: C,
    pruning: Mutex<()>,
    /// Completed entries in completion order: the key and the word written for it. An item is
    /// stale once the map holds another word for its key (re-claimed after expiry, evicted).
    completed: Mutex<VecDeque<(DedupKey, Entry)>>,
}

impl MemoryStore {
    /// A store with the default capacity and the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::with_clock(SystemClock::default())
    }

    /// A store remembering at most `capacity` deliveries.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroCapacity`] when `capacity` is 0.
    pub fn with_capacity(capacity: usize) -> Result<Self, ConfigError> {
        Self::new().capacity(capacity)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> MemoryStore<C> {
    /// A store with the default capacity and the given clock.
    #[must_use]
    pub fn with_clock(clock: C) -> Self {
        Self {
            map: DashMap::with_shard_amount(SHARDS),
            len: AtomicUsize::new(0),
            capacity: DEFAULT_CAPACITY,
            next_token: AtomicU64::new(DONE + 1),
            clock,
            pruning: Mutex::new(()),
            completed: Mutex::new(VecDeque::new()),
        }
    }

    /// Sets the capacity.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroCapacity`] when `capacity` is 0.
    pub fn capacity(mut self, capacity: usize) -> Result<Self, ConfigError> {
        if capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        self.capacity = capacity;
        Ok(self)
    }

    /// How many deliveries are remembered (in flight or done, expired ones included until
    /// pruned).
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn now(&self) -> u64 {
        self.clock.now_millis()
    }

    /// A fresh in-flight entry: a new tag from the counter (skipping [`DONE`]).
    fn new_claim(&self, deadline: u64) -> Entry {
        let tag = match self.next_token.fetch_add(1, Ordering::Relaxed) & TAG_MASK {
            DONE => 1,
            tag => tag,
        };
        Entry::new(deadline, tag)
    }

    /// The synchronous core of [`IdempotencyStore::claim`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store is full of deliveries in flight.
    pub fn claim_now(&self, key: DedupKey, lease: Duration) -> Result<Claim, StoreError> {
        let now = self.now();
        let lease_end = now.saturating_add(millis(lease));
        if self.len.load(Ordering::Relaxed) >= self.capacity && !self.map.contains_key(&key) {
            self.make_room(now)?;
        }
        match self.map.entry(key) {
            dashmap::Entry::Occupied(mut occupied) => {
                let entry = occupied.get_mut();
                if entry.deadline() <= now {
                    *entry = self.new_claim(lease_end);
                    Ok(Claim::New(ClaimToken(entry.0)))
                } else if entry.is_done() {
                    Ok(Claim::Done)
                } else {
                    Ok(Claim::InFlight)
                }
            }
            dashmap::Entry::Vacant(vacant) => {
                let entry = self.new_claim(lease_end);
                vacant.insert(entry);
                self.len.fetch_add(1, Ordering::Relaxed);
                Ok(Claim::New(ClaimToken(entry.0)))
            }
        }
    }

    /// The synchronous core of [`IdempotencyStore::complete`].
    pub fn complete_now(&self, key: DedupKey, token: ClaimToken, retention: Duration) {
        let deadline = self.now().saturating_add(millis(retention));
        let done = Entry::new(deadline, DONE);
        let settled = match self.map.get_mut(&key) {
            Some(mut entry) if entry.held_by(token) => {
                *entry = done;
                true
            }
            _ => false,
        };
        // The map's shard guard is dropped here: the queue's lock is never taken while holding
        // one (`make_room` takes the queue's lock, then shards).
        if settled {
            let mut completed = self.completed_queue();
            completed.push_back((key, done));
            self.trim(&mut completed);
        }
    }

    fn completed_queue(&self) -> std::sync::MutexGuard<'_, VecDeque<(DedupKey, Entry)>> {
        self.completed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `item` still describes the map's entry for its key.
    fn is_current(&self, item: &(DedupKey, Entry)) -> bool {
        self.map.get(&item.0).is_some_and(|entry| *entry == item.1)
    }

    /// Keeps the queue bounded when re-claims of expired keys leave stale items in it: above
    /// the capacity plus an eighth, each push looks at two items from the head, dropping stale
    /// ones and moving current ones to the tail (O(1) per push, never a scan).
    fn trim(&self, completed: &mut VecDeque<(DedupKey, Entry)>) {
        if completed.len() <= self.capacity + self.capacity / 8 {
            return;
        }
        for _ in 0..2 {
            let Some(item) = completed.pop_front() else {
                return;
            };
            if self.is_current(&item) {
                completed.push_back(item);
            }
        }
    }

    /// The synchronous core of [`IdempotencyStore::release`].
    pub fn release_now(&self, key: DedupKey, token: ClaimToken) {
        if self
            .map
            .remove_if(&key, |_, entry| entry.held_by(token))
            .is_some()
        {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn make_room(&self, now: u64) -> Result<(), StoreError> {
        {
            let mut completed = self.completed_queue();
            // Each item is popped once, so the work is O(1) amortized per claim; the count
            // bounds this claim's share even so.
            let mut budget = completed.len();
            while self.len.load(Ordering::Relaxed) >= self.capacity && budget > 0 {
                budget -= 1;
                let Some((key, word)) = completed.pop_front() else {
                    break;
                };
                if self
                    .map
                    .remove_if(&key, |_, entry| *entry == word)
                    .is_some()
                {
                    self.len.fetch_sub(1, Ordering::Relaxed);
                }
            }
            if self.len.load(Ordering::Relaxed) < self.capacity {
                return Ok(());
            }
        }
        // No completed entry left: the map holds only leases (in flight or expired). Drop the
        // expired ones; one scanner at a time, the others proceed (the map may briefly exceed
        // the capacity by the number of concurrent claims, never by more).
        let Ok(_guard) = self.pruning.try_lock() else {
            return Ok(());
        };
        self.map.retain(|_, entry| entry.deadline() > now);
        self.len.store(self.map.len(), Ordering::Relaxed);
        if self.map.len() < self.capacity {
            return Ok(());
        }
        Err(StoreError::new(
            "in-memory store is full of deliveries in flight",
        ))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl<C: Clock> IdempotencyStore for MemoryStore<C> {
    fn claim(&self, key: DedupKey, lease: Duration) -> StoreFuture<'_, Claim> {
        Box::pin(std::future::ready(self.claim_now(key, lease)))
    }

    fn complete(
        &self,
        key: DedupKey,
        token: ClaimToken,
        retention: Duration,
    ) -> StoreFuture<'_, ()> {
        self.complete_now(key, token, retention);
        Box::pin(std::future::ready(Ok(())))
    }

    fn release(&self, key: DedupKey, token: ClaimToken) -> StoreFuture<'_, ()> {
        self.release_now(key, token);
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    const LEASE: Duration = Duration::from_secs(30);
    const WEEK: Duration = Duration::from_secs(7 * 86_400);

    fn key(n: u32) -> DedupKey {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        DedupKey::from_bytes(bytes)
    }

    fn manual() -> (Arc<ManualClock>, MemoryStore<Arc<ManualClock>>) {
        let clock = Arc::new(ManualClock::default());
        (clock.clone(), MemoryStore::with_clock(clock))
    }

    #[test]
    fn claim_complete_duplicate() {
        let (_, store) = manual();
        let Claim::New(token) = store.claim_now(key(1), LEASE).unwrap() else {
            panic!("first claim must be new")
        };
        assert_eq!(store.claim_now(key(1), LEASE).unwrap(), Claim::InFlight);
        store.complete_now(key(1), token, WEEK);
        assert_eq!(store.claim_now(key(1), LEASE).unwrap(), Claim::Done);
        assert!(matches!(
            store.claim_now(key(2), LEASE).unwrap(),
            Claim::New(_)
        ));
    }

    #[test]
    fn release_lets_the_retry_through() {
        let (_, store) = manual();
        let Claim::New(token) = store.claim_now(key(1), LEASE).unwrap() else {
            panic!()
        };
        store.release_now(key(1), token);
        assert!(store.is_empty());
        assert!(matches!(
            store.claim_now(key(1), LEASE).unwrap(),
            Claim::New(_)
        ));
    }

    #[test]
    fn expired_lease_can_be_reclaimed_and_stale_token_is_ignored() {
        let (clock, store) = manual();
        let Claim::New(stale) = store.claim_now(key(1), LEASE).unwrap() else {
            panic!()
        };
        clock.advance(LEASE);
        let Claim::New(fresh) = store.claim_now(key(1), LEASE).unwrap() else {
            panic!("an expired lease must not block the id")
        };
        store.release_now(key(1), stale);
        store.complete_now(key(1), stale, WEEK);
        assert_eq!(store.claim_now(key(1), LEASE).unwrap(), Claim::InFlight);
        store.complete_now(key(1), fresh, WEEK);
        assert_eq!(store.claim_now(key(1), LEASE).unwrap(), Claim::Done);
    }

    #[test]
    fn same_deadline_different_holder_is_still_stale() {
        let (_, store) = manual();
        let Claim::New(first) = store.claim_now(key(1), LEASE).unwrap() else {
            panic!()
        };
        store.release_now(key(1), first);
        // Same clock, same lease: same deadline, so only the tag tells the holders apart.
        let Claim::New(second) = store.claim_now(key(1), LEASE).unwrap() else {
            panic!()
        };
        assert_ne!(first, second);
        store.release_now(key(1), first);
        store.complete_now(key(1), first, WEEK);
        assert_eq!(store.claim_now(key(1), LEASE).unwrap(), Claim::InFlight);
        store.complete_now(key(1), second, WEEK);
        assert_eq!(store.claim_now(key(1), LEASE).unwrap(), Claim::Done);
    }

    #[test]
    fn huge_durations_saturate() {
        let (clock, store) = manual();
        let Claim::New(token) = store.claim_now(key(1), Duration::MAX).unwrap() else {
            panic!()
        };
        assert_eq!(store.claim_now(key(1), LEASE).unwrap(), Claim::InFlight);
        store.complete_now(key(1), token, Duration::MAX);
        clock.advance(Duration::from_secs(100 * 365 * 86_400));
        assert_eq!(store.claim_now(key(1), LEASE).unwrap(), Claim::Done);
    }

    #[test]
    fn entry_packs_deadline_and_tag() {
        let entry = Entry::new(123_456, 7);
        assert_eq!((entry.deadline(), entry.is_done()), (123_456, false));
        assert!(entry.held_by(ClaimToken(entry.0)));
        let done = Entry::new(u64::MAX, DONE);
        assert_eq!((done.deadline(), done.is_done()), (MAX_DEADLINE, true));
        assert!(!done.held_by(ClaimToken(done.0)));
        assert_eq!(std::mem::size_of::<Entry>(), 8);
    }

    #[test]
    fn retention_expires() {
        let (clock, store) = manual();
        let Claim::New(token) = store.claim_now(key(1), LEASE).unwrap() else {
            panic!()
        };
        store.complete_now(key(1), token, WEEK);
        clock.advance(WEEK - Duration::from_millis(1));
        assert_eq!(store.claim_now(key(1), LEASE).unwrap(), Claim::Done);
        clock.advance(Duration::from_millis(1));
        assert!(matches!(
            store.claim_now(key(1), LEASE).unwrap(),
            Claim::New(_)
        ));
    }

    #[test]
    fn thousand_concurrent_claims_exactly_one_new() {
        let store = Arc::new(MemoryStore::new());
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    (0..125)
                        .filter(|_| matches!(store.claim_now(key(7), LEASE), Ok(Claim::New(_))))
                        .count()
                })
            })
            .collect();
        let news: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(news, 1);
    }

    #[test]
    fn full_store_evicts_oldest_done_first() {
        let (clock, store) = manual();
        let store = store.capacity(16).unwrap();
        for n in 0..16 {
            let Claim::New(token) = store.claim_now(key(n), LEASE).unwrap() else {
                panic!()
            };
            store.complete_now(key(n), token, WEEK);
            clock.advance(Duration::from_secs(1));
        }
        assert!(matches!(
            store.claim_now(key(100), LEASE).unwrap(),
            Claim::New(_)
        ));
        assert!(store.len() <= 16, "len {}", store.len());
        // The oldest completion was evicted, the newest is still remembered.
        assert!(matches!(
            store.claim_now(key(0), LEASE).unwrap(),
            Claim::New(_)
        ));
        assert_eq!(store.claim_now(key(15), LEASE).unwrap(), Claim::Done);
    }

    #[test]
    fn full_store_evicts_only_what_it_needs() {
        let (clock, store) = manual();
        let store = store.capacity(16).unwrap();
        for n in 0..16 {
            let Claim::New(token) = store.claim_now(key(n), LEASE).unwrap() else {
                panic!()
            };
            store.complete_now(key(n), token, WEEK);
            clock.advance(Duration::from_secs(1));
        }
        for n in 100..104 {
            assert!(matches!(
                store.claim_now(key(n), LEASE).unwrap(),
                Claim::New(_)
            ));
        }
        // Four new keys made room by evicting the four completed first, no more.
        assert_eq!(store.len(), 16);
        for n in 4..16 {
            assert_eq!(store.claim_now(key(n), LEASE).unwrap(), Claim::Done);
        }
    }

    #[test]
    fn stale_queue_items_are_skipped() {
        let (clock, store) = manual();
        let store = store.capacity(4).unwrap();
        let retention = Duration::from_secs(10);
        for n in 0..4 {
            let Claim::New(token) = store.claim_now(key(n), LEASE).unwrap() else {
                panic!()
            };
            store.complete_now(key(n), token, retention);
        }
        clock.advance(retention);
        // Key 0 expired and is claimed again (in flight): its queue item is stale, so making
        // room must not evict the new lease.
        let Claim::New(_) = store.claim_now(key(0), LEASE).unwrap() else {
            panic!()
        };
        assert!(matches!(
            store.claim_now(key(50), LEASE).unwrap(),
            Claim::New(_)
        ));
        assert_eq!(store.claim_now(key(0), LEASE).unwrap(), Claim::InFlight);
        assert_eq!(store.claim_now(key(50), LEASE).unwrap(), Claim::InFlight);
        assert!(store.len() <= 4, "len {}", store.len());
    }

    #[test]
    fn reclaiming_expired_keys_keeps_the_queue_bounded() {
        let (clock, store) = manual();
        let store = store.capacity(8).unwrap();
        let retention = Duration::from_secs(1);
        for _round in 0..1_000 {
            for n in 0..8 {
                let Claim::New(token) = store.claim_now(key(n), LEASE).unwrap() else {
                    panic!()
                };
                store.complete_now(key(n), token, retention);
            }
            clock.advance(retention);
        }
        assert!(store.len() <= 8);
        let queued = store.completed_queue().len();
        assert!(queued <= 8 + 8 / 8 + 2, "queue of {queued}");
    }

    #[test]
    fn full_of_in_flight_refuses_instead_of_forgetting() {
        let (_, store) = manual();
        let store = store.capacity(4).unwrap();
        for n in 0..4 {
            assert!(matches!(
                store.claim_now(key(n), LEASE).unwrap(),
                Claim::New(_)
            ));
        }
        assert!(store.claim_now(key(99), LEASE).is_err());
        for n in 0..4 {
            assert_eq!(store.claim_now(key(n), LEASE).unwrap(), Claim::InFlight);
        }
    }

    #[test]
    fn expired_entries_are_pruned_when_full() {
        let (clock, store) = manual();
        let store = store.capacity(4).unwrap();
        for n in 0..4 {
            store.claim_now(key(n), LEASE).unwrap();
        }
        clock.advance(LEASE);
        assert!(matches!(
            store.claim_now(key(50), LEASE).unwrap(),
            Claim::New(_)
        ));
        assert_eq!(store.len(), 1);
    }
}
