//! Deliveries per minute over the last hour, by provider and outcome: the counters behind the
//! inspector's chart and per-provider health (issue 18 point 5).
//!
//! Fixed size whatever the traffic: 60 one-minute buckets × 4 providers × 4 outcomes, each
//! bucket stamped with the minute it counts, so a bucket older than an hour is simply read as
//! empty and reused. Kept in memory by the server process (direct and inbox mode alike): a
//! restart starts empty.

use hookbr_core::{Ack, Outcome, Provider};

/// How many one-minute buckets are kept (one hour).
pub(crate) const MINUTES: usize = 60;
/// One minute, in milliseconds.
const MINUTE_MS: i64 = 60_000;

/// The outcomes charted, in drawing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charted {
    /// Processed (direct mode) or stored (inbox mode).
    Accepted,
    /// Acknowledged as a duplicate.
    Duplicate,
    /// Refused before the handler.
    Rejected,
    /// The handler (direct mode) failed.
    HandlerFailed,
}

impl Charted {
    /// Every charted outcome, in drawing order.
    pub(crate) const ALL: [Self; 4] = [
        Self::Accepted,
        Self::Duplicate,
        Self::Rejected,
        Self::HandlerFailed,
    ];

    /// The label shown (the [`Outcome`] taxonomy's words).
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Accepted => "processed/stored",
            Self::Duplicate => "duplicate",
            Self::Rejected => "rejected",
            Self::HandlerFailed => "handler_failed",
        }
    }

    /// What an answer counts as; `None` for a Foody handshake (not a delivery) and an outcome
    /// this version does not know.
    pub(crate) fn of(outcome: Outcome) -> Option<Self> {
        match outcome {
            Outcome::Acknowledged(Ack::Handshake) => None,
            Outcome::Acknowledged(Ack::Duplicate) => Some(Self::Duplicate),
            Outcome::Processed | Outcome::Acknowledged(_) => Some(Self::Accepted),
            Outcome::Rejected { .. } => Some(Self::Rejected),
            Outcome::HandlerFailed => Some(Self::HandlerFailed),
            // An outcome this version does not know: not charted.
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counts of one minute: by provider ([`Provider::ALL`] order), then by [`Charted::ALL`].
pub(crate) type Counts = [[u32; Charted::ALL.len()]; Provider::ALL.len()];

fn provider_index(provider: Provider) -> usize {
    Provider::ALL
        .iter()
        .position(|known| *known == provider)
        .unwrap_or(0)
}

/// One count of `counts`, for reading.
fn cell(counts: &Counts, provider: Provider, outcome: Charted) -> u32 {
    counts
        .get(provider_index(provider))
        .and_then(|row| row.get(outcome.index()))
        .copied()
        .unwrap_or(0)
}

/// The bucket of a minute (ms since the epoch ÷ 60 000).
fn slot(minute: i64) -> usize {
    usize::try_from(minute.rem_euclid(MINUTES as i64)).unwrap_or(0)
}

/// One minute's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// The minute it counts (ms since the epoch ÷ 60 000).
    minute: i64,
    counts: Counts,
}

/// The bounded counters. See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Activity {
    buckets: [Bucket; MINUTES],
    /// When each provider's last delivery arrived (ms since the epoch).
    last_ms: [Option<i64>; Provider::ALL.len()],
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            buckets: [Bucket {
                minute: i64::MIN,
                counts: Counts::default(),
            }; MINUTES],
            last_ms: [None; Provider::ALL.len()],
        }
    }
}

impl Activity {
    /// Counts one answer to `provider` at `at_ms` (a delivery received).
    pub(crate) fn add(&mut self, provider: Provider, outcome: Charted, at_ms: i64) {
        if self.bump(provider, outcome, at_ms) {
            if let Some(last) = self.last_ms.get_mut(provider_index(provider)) {
                *last = Some(last.map_or(at_ms, |last| last.max(at_ms)));
            }
        }
    }

    /// Counts a failed attempt of the worker (inbox mode) as `handler_failed` at `at_ms`:
    /// not a delivery received.
    pub(crate) fn add_failed_attempt(&mut self, provider: Provider, at_ms: i64) {
        self.bump(provider, Charted::HandlerFailed, at_ms);
    }

    /// Adds one to the bucket of `at_ms`; `false` when that minute's bucket was already
    /// reused by a later minute.
    fn bump(&mut self, provider: Provider, outcome: Charted, at_ms: i64) -> bool {
        let minute = at_ms.div_euclid(MINUTE_MS);
        let Some(bucket) = self.buckets.get_mut(slot(minute)) else {
            return false;
        };
        if bucket.minute > minute {
            // Older than what the bucket already holds (a clock step back): dropped.
            return false;
        }
        if bucket.minute != minute {
            *bucket = Bucket {
                minute,
                counts: Counts::default(),
            };
        }
        if let Some(count) = bucket
            .counts
            .get_mut(provider_index(provider))
            .and_then(|row| row.get_mut(outcome.index()))
        {
            *count = count.saturating_add(1);
        }
        true
    }

    /// The last hour at `now_ms`: 60 minutes, oldest first, the last one the current minute.
    pub(crate) fn window(&self, now_ms: i64) -> Window {
        let now = now_ms.div_euclid(MINUTE_MS);
        let mut minutes = [Counts::default(); MINUTES];
        for (age, counts) in (0i64..).zip(minutes.iter_mut().rev()) {
            let minute = now.saturating_sub(age);
            if let Some(bucket) = self
                .buckets
                .get(slot(minute))
                .filter(|bucket| bucket.minute == minute)
            {
                *counts = bucket.counts;
            }
        }
        Window {
            minutes,
            last_ms: self.last_ms,
        }
    }
}

/// The last hour, as the page draws it.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    /// 60 minutes, oldest first.
    minutes: [Counts; MINUTES],
    /// When each provider's last delivery arrived (also before this hour).
    last_ms: [Option<i64>; Provider::ALL.len()],
}

impl Window {
    /// The hour's total of `provider` with `outcome`.
    pub(crate) fn total(&self, provider: Provider, outcome: Charted) -> u64 {
        self.minutes
            .iter()
            .map(|minute| u64::from(cell(minute, provider, outcome)))
            .sum()
    }

    /// The hour's total of `provider`, all outcomes.
    pub(crate) fn provider_total(&self, provider: Provider) -> u64 {
        Charted::ALL
            .iter()
            .map(|outcome| self.total(provider, *outcome))
            .sum()
    }

    /// The count of one minute (`index` 0 = the oldest) for `provider`, all outcomes.
    pub(crate) fn minute_total(&self, index: usize, provider: Provider) -> u32 {
        Charted::ALL.iter().fold(0u32, |sum, outcome| {
            sum.saturating_add(self.count(index, provider, *outcome))
        })
    }

    /// One count: minute `index` (0 = oldest), `provider`, `outcome`; 0 past the hour.
    pub(crate) fn count(&self, index: usize, provider: Provider, outcome: Charted) -> u32 {
        self.minutes
            .get(index)
            .map_or(0, |minute| cell(minute, provider, outcome))
    }

    /// The share of the hour's deliveries of `provider` that failed (rejected and
    /// handler_failed over all); `None` without any.
    pub(crate) fn error_rate(&self, provider: Provider) -> Option<f64> {
        let all = self.provider_total(provider);
        let failed =
            self.total(provider, Charted::Rejected) + self.total(provider, Charted::HandlerFailed);
        #[allow(clippy::cast_precision_loss, reason = "a percentage for display")]
        (all > 0).then(|| failed as f64 / all as f64)
    }

    /// When `provider`'s last delivery arrived.
    pub(crate) fn last(&self, provider: Provider) -> Option<i64> {
        self.last_ms
            .get(provider_index(provider))
            .copied()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE_MS;

    #[test]
    fn buckets_count_per_minute_provider_and_outcome() {
        let mut activity = Activity::default();
        activity.add(Provider::Foody, Charted::Accepted, T0 + 1);
        activity.add(Provider::Foody, Charted::Accepted, T0 + 59_999);
        activity.add(Provider::Foody, Charted::Rejected, T0 + 60_000);
        activity.add(Provider::Bonifiq, Charted::Duplicate, T0 + 61_000);
        let window = activity.window(T0 + 90_000);
        assert_eq!(window.count(58, Provider::Foody, Charted::Accepted), 2);
        assert_eq!(window.count(59, Provider::Foody, Charted::Rejected), 1);
        assert_eq!(window.count(59, Provider::Bonifiq, Charted::Duplicate), 1);
        assert_eq!(window.minute_total(59, Provider::Foody), 1);
        assert_eq!(window.provider_total(Provider::Foody), 3);
        assert_eq!(window.provider_total(Provider::Iset), 0);
        let rate = window.error_rate(Provider::Foody).unwrap();
        assert!((rate - 1.0 / 3.0).abs() < 1e-9, "{rate}");
        assert_eq!(window.error_rate(Provider::Iset), None);
        assert_eq!(window.last(Provider::Foody), Some(T0 + 60_000));
    }

    #[test]
    fn an_empty_hour_is_all_zero() {
        let window = Activity::default().window(T0);
        assert!(window.minutes.iter().all(|m| *m == Counts::default()));
        assert!(Provider::ALL.iter().all(|p| window.last(*p).is_none()));
    }

    #[test]
    fn the_clock_moves_past_buckets() {
        let mut activity = Activity::default();
        activity.add(Provider::Iset, Charted::Accepted, T0);
        // 59 minutes later it is the oldest bucket; 60 minutes later it is gone.
        let window = activity.window(T0 + 59 * MINUTE_MS);
        assert_eq!(window.count(0, Provider::Iset, Charted::Accepted), 1);
        let window = activity.window(T0 + 60 * MINUTE_MS);
        assert_eq!(window.provider_total(Provider::Iset), 0);
        // The slot is reused by the same minute of the next hour, counted afresh.
        activity.add(Provider::Iset, Charted::HandlerFailed, T0 + 60 * MINUTE_MS);
        let window = activity.window(T0 + 60 * MINUTE_MS);
        assert_eq!(window.provider_total(Provider::Iset), 1);
        assert_eq!(window.count(59, Provider::Iset, Charted::HandlerFailed), 1);
        // The last delivery is remembered past the hour.
        assert_eq!(
            activity.window(T0 + 500 * MINUTE_MS).last(Provider::Iset),
            Some(T0 + 60 * MINUTE_MS)
        );
        // A late answer for a minute whose bucket was reused is dropped, not mixed in.
        activity.add(Provider::Iset, Charted::Accepted, T0);
        assert_eq!(
            activity
                .window(T0 + 60 * MINUTE_MS)
                .total(Provider::Iset, Charted::Accepted),
            0
        );
    }

    #[test]
    fn counts_saturate() {
        let mut activity = Activity::default();
        activity.buckets[0] = Bucket {
            minute: 0,
            counts: [[u32::MAX; 4]; 4],
        };
        activity.add(Provider::ALL[0], Charted::Accepted, 0);
        assert_eq!(
            activity
                .window(0)
                .count(59, Provider::ALL[0], Charted::Accepted),
            u32::MAX
        );
    }
}
