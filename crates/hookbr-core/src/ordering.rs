//! The ordering guard: per entity, the latest [`Position`] forwarded, and whether a new
//! delivery comes before it (stale).
//!
//! Deliveries of one order, customer or charge arrive out of order (retries, parallel sends).
//! An endpoint with `ordering = "annotate"` forwards a delivery older than the latest one seen
//! for its entity with `"stale": true`; with `"drop-stale"` it does not forward it (the provider
//! still gets `200`). docs/ENTITIES.md ("Ordering guard") gives the rules:
//!
//! * stale means *strictly* before the latest position ([`Position::compare`] is `Less`); an
//!   equal position (a copy, or two changes of the same instant and rank) is not stale;
//! * after a terminal status (Foody `closed`, `cancelled`) every non-terminal delivery of the
//!   entity is stale, whatever its time: the lifecycle has ended;
//! * positions that do not compare (one has only a time, the other only a rank) are not stale
//!   and do not move the latest: hookbr does not guess;
//! * deliveries with no entity or no position pass untouched.
//!
//! The memory is bounded: the least recently seen entities are forgotten past the capacity
//! (a forgotten entity's next delivery is treated as its first).
//!
//! ```
//! use hookbr_core::{Endpoint, Request, WebhookEvent, ordering::{Guard, Verdict}};
//!
//! let foody = |status: &str, at: &str| {
//!     let body = format!(r#"{{"uid":"o-1","updateDate":"{at}","event":"order_status_updated","token":"t","status":"{status}"}}"#);
//!     WebhookEvent::decode(Endpoint::Foody, &Request::new(body.as_bytes())).unwrap()
//! };
//! let guard = Guard::new(1_000);
//! assert_eq!(guard.check(&foody("dispatched", "2020-06-19T17:42:12Z")), Verdict::Fresh);
//! assert_eq!(guard.check(&foody("open", "2020-06-19T17:30:00Z")), Verdict::Stale);
//! assert_eq!(guard.check(&foody("delivered", "2020-06-19T17:58:40Z")), Verdict::Fresh);
//! ```

use std::{
    cmp::Ordering as CmpOrdering,
    collections::{BTreeMap, HashMap},
    fmt,
    str::FromStr,
    sync::Mutex,
};

use crate::{
    WebhookEvent,
    entity::{Entity, Position},
};

/// What an endpoint does with deliveries that come before their entity's latest one
/// (`ordering` in `[[endpoint]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OrderingMode {
    /// No guard (the default): every delivery is forwarded as it comes.
    #[default]
    Off,
    /// Forward every delivery; the stale ones carry `"stale": true`.
    Annotate,
    /// Inbox mode: forward an entity's deliveries in position order, waiting a bounded time
    /// for an earlier one; what still comes late is forwarded with `"stale": true`.
    Hold,
    /// Do not forward stale deliveries (they are still acknowledged `200`).
    DropStale,
}

impl OrderingMode {
    /// The configuration word: `off`, `annotate`, `hold`, `drop-stale`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Annotate => "annotate",
            Self::Hold => "hold",
            Self::DropStale => "drop-stale",
        }
    }
}

impl fmt::Display for OrderingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderingMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "off" => Ok(Self::Off),
            "annotate" => Ok(Self::Annotate),
            "hold" => Ok(Self::Hold),
            "drop-stale" => Ok(Self::DropStale),
            other => Err(format!(
                "{other:?}: expected \"off\" (default), \"annotate\", \"hold\" or \"drop-stale\""
            )),
        }
    }
}

/// The guard's answer for one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// No entity or no position: not ordered.
    Untracked,
    /// Not before the latest position seen (or the first seen).
    Fresh,
    /// Strictly before the latest position seen, or a non-terminal status after a terminal one.
    Stale,
}

/// Whether `new` is stale against `latest`, and whether it becomes the latest.
#[must_use]
pub fn judge(latest: Option<&Position>, new: &Position) -> (Verdict, bool) {
    let Some(latest) = latest else {
        return (Verdict::Fresh, true);
    };
    if latest.terminal && !new.terminal {
        return (Verdict::Stale, false);
    }
    match new.compare(latest) {
        Some(CmpOrdering::Less) => (Verdict::Stale, false),
        Some(CmpOrdering::Greater) => (Verdict::Fresh, true),
        Some(CmpOrdering::Equal) | None => (Verdict::Fresh, false),
    }
}

/// A [`Position`] as an inbox keeps it: the time in milliseconds since the epoch (so two
/// times within one millisecond compare equal), the rank, and whether it is terminal. It
/// compares as [`Position::compare`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct StoredPosition {
    /// The provider's time, in milliseconds since the Unix epoch.
    pub at_ms: Option<i64>,
    /// The status rank.
    pub rank: Option<u8>,
    /// Whether the status ends the lifecycle.
    pub terminal: bool,
}

impl StoredPosition {
    /// A stored position (see the fields); `None` with neither a time nor a rank.
    #[must_use]
    pub fn new(at_ms: Option<i64>, rank: Option<u8>, terminal: bool) -> Option<Self> {
        (at_ms.is_some() || rank.is_some()).then_some(Self {
            at_ms,
            rank,
            terminal,
        })
    }

    /// How two stored positions compare: as [`Position::compare`].
    #[must_use]
    pub fn compare(&self, other: &Self) -> Option<CmpOrdering> {
        if let (Some(a), Some(b)) = (self.at_ms, other.at_ms) {
            if a != b {
                return Some(a.cmp(&b));
            }
        }
        match (self.rank, other.rank) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => (self.at_ms.is_some() && self.at_ms == other.at_ms).then_some(CmpOrdering::Equal),
        }
    }

    /// Whether this position comes strictly before `other`.
    #[must_use]
    pub fn precedes(&self, other: &Self) -> bool {
        self.compare(other) == Some(CmpOrdering::Less)
    }

    /// Whether this is the next status of a documented lifecycle after `latest` (`None`: the
    /// first status, rank 0): one rank more and not before it in time.
    #[must_use]
    pub fn is_next_after(&self, latest: Option<&Self>) -> bool {
        let Some(rank) = self.rank else {
            return false;
        };
        match latest {
            None => rank == 0,
            Some(latest) => {
                !latest.terminal
                    && latest.rank.and_then(|r| r.checked_add(1)) == Some(rank)
                    && self.compare(latest) == Some(CmpOrdering::Greater)
            }
        }
    }
}

impl From<&Position> for StoredPosition {
    fn from(position: &Position) -> Self {
        Self {
            at_ms: position.at.map(|at| {
                at.unix_seconds()
                    .saturating_mul(1_000)
                    .saturating_add(i64::from(at.subsec_nanos() / 1_000_000))
            }),
            rank: position.rank,
            terminal: position.terminal,
        }
    }
}

/// [`judge`] for stored positions: the verdict for `new` against `latest`, and whether it
/// becomes the latest.
#[must_use]
pub fn judge_stored(latest: Option<&StoredPosition>, new: &StoredPosition) -> (Verdict, bool) {
    let Some(latest) = latest else {
        return (Verdict::Fresh, true);
    };
    if latest.terminal && !new.terminal {
        return (Verdict::Stale, false);
    }
    match new.compare(latest) {
        Some(CmpOrdering::Less) => (Verdict::Stale, false),
        Some(CmpOrdering::Greater) => (Verdict::Fresh, true),
        Some(CmpOrdering::Equal) | None => (Verdict::Fresh, false),
    }
}

/// The latest position per entity, in memory, bounded (least recently seen forgotten first).
#[derive(Debug)]
pub struct Guard {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    latest: HashMap<Entity, (Position, u64)>,
    by_use: BTreeMap<u64, Entity>,
    tick: u64,
}

/// The capacity of [`Guard::default`]: 100 000 entities (a few MiB).
pub const DEFAULT_CAPACITY: usize = 100_000;

impl Default for Guard {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl Guard {
    /// A guard remembering at most `capacity` entities (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::default(),
        }
    }

    /// Judges `event` against its entity's latest position, and records it when it is later.
    pub fn check(&self, event: &WebhookEvent) -> Verdict {
        match (event.entity(), event.position()) {
            (Some(entity), Some(position)) => self.check_position(entity, &position),
            _ => Verdict::Untracked,
        }
    }

    /// [`check`](Self::check) for an entity and position already read.
    pub fn check_position(&self, entity: Entity, position: &Position) -> Verdict {
        let Ok(mut state) = self.state.lock() else {
            return Verdict::Untracked;
        };
        state.tick += 1;
        let tick = state.tick;
        let previous = state.latest.get(&entity).copied();
        let (verdict, advance) = judge(previous.as_ref().map(|(p, _)| p), position);
        if let Some((_, used)) = previous {
            state.by_use.remove(&used);
        }
        let kept = if advance {
            *position
        } else {
            previous.map_or(*position, |(p, _)| p)
        };
        state.by_use.insert(tick, entity.clone());
        state.latest.insert(entity, (kept, tick));
        while state.latest.len() > self.capacity {
            let Some((_, oldest)) = state.by_use.pop_first() else {
                break;
            };
            state.latest.remove(&oldest);
        }
        verdict
    }

    /// How many entities are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.state.lock().map_or(0, |state| state.latest.len())
    }

    /// Whether no entity is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Endpoint, Request, Timestamp};

    fn foody(uid: &str, status: &str, at: &str) -> WebhookEvent {
        let body = format!(
            r#"{{"uid":"{uid}","updateDate":"{at}","event":"order_status_updated","token":"t","status":"{status}"}}"#
        );
        WebhookEvent::decode(Endpoint::Foody, &Request::new(body.as_bytes())).unwrap()
    }

    #[test]
    fn a_shuffled_foody_order_is_judged_against_the_latest() {
        let guard = Guard::new(10);
        let seq = [
            ("dispatched", "2020-06-19T17:42:12Z", Verdict::Fresh),
            ("open", "2020-06-19T17:00:00Z", Verdict::Stale),
            ("delivered", "2020-06-19T17:58:40Z", Verdict::Fresh),
            ("ready", "2020-06-19T17:20:00Z", Verdict::Stale),
            ("delivered", "2020-06-19T17:58:40Z", Verdict::Fresh),
            ("closed", "2020-06-19T18:10:00Z", Verdict::Fresh),
        ];
        for (status, at, expected) in seq {
            assert_eq!(guard.check(&foody("o", status, at)), expected, "{status}");
        }
    }

    #[test]
    fn after_a_terminal_status_a_non_terminal_one_is_stale_whatever_its_time() {
        let guard = Guard::new(10);
        assert_eq!(
            guard.check(&foody("o", "cancelled", "2020-06-19T17:00:00Z")),
            Verdict::Fresh
        );
        assert_eq!(
            guard.check(&foody("o", "dispatched", "2020-06-19T18:00:00Z")),
            Verdict::Stale
        );
        assert_eq!(
            guard.check(&foody("o", "closed", "2020-06-19T18:30:00Z")),
            Verdict::Fresh
        );
    }

    #[test]
    fn incomparable_positions_and_untracked_events_pass() {
        let at = Some(Timestamp::parse("2020-06-19T17:00:00Z").unwrap());
        let timed = Position::new(at, None, false).unwrap();
        let ranked = Position::new(None, Some(1), false).unwrap();
        assert_eq!(judge(Some(&timed), &ranked), (Verdict::Fresh, false));
        let guard = Guard::new(10);
        let test = WebhookEvent::decode(
            Endpoint::Foody,
            &Request::new(br#"{"event":"hook_test","token":"t"}"#),
        )
        .unwrap();
        assert_eq!(guard.check(&test), Verdict::Untracked);
        assert!(guard.is_empty());
    }

    #[test]
    fn the_memory_is_bounded_least_recently_seen_first() {
        let guard = Guard::new(2);
        for uid in ["a", "b", "a", "c"] {
            guard.check(&foody(uid, "ready", "2020-06-19T17:00:00Z"));
        }
        assert_eq!(guard.len(), 2);
        // "b" was forgotten: an older delivery of it is judged as its first.
        assert_eq!(
            guard.check(&foody("b", "open", "2020-06-19T16:00:00Z")),
            Verdict::Fresh
        );
        // "c" is still there.
        assert_eq!(
            guard.check(&foody("c", "open", "2020-06-19T16:00:00Z")),
            Verdict::Stale
        );
    }
}
