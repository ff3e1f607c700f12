//! Workers: run the application's handler on inbox rows, with retries, backoff and
//! dead-lettering.
//!
//! A [`Worker`] claims due rows with a lease, decodes each (the bytes were verified when they
//! were stored), and calls the handler. `Ok` completes the row; `Err` (or a panic) schedules a
//! retry after an exponential backoff with jitter, and after `max_attempts` moves the row to
//! dead-letter with the last error kept, where `Inbox::replay` can revive it. A handler that
//! knows retrying cannot help (a certificate the sink's TLS client refuses) returns
//! [`Failure::permanent`]: the row is dead-lettered at once. A worker that
//! crashes leaves its rows in flight until their lease expires; another worker then takes them.
//!
//! **Concurrency.** A round claims up to [`WorkerOptions::batch`] rows and runs the handler on
//! up to [`WorkerOptions::concurrency`] of them at a time (16 by default: HTTP sinks spend their
//! time waiting on the network), starting them oldest due first. **Rows of a batch may finish,
//! and be recorded, in any order**: a handler must not rely on the order of deliveries (the
//! providers do not guarantee one either). The outcomes are recorded in batches
//! ([`Inbox::settle_many`]: one transaction for all the attempts that finished while the
//! previous batch was being recorded). With `concurrency = 1` the rows are handled one after
//! another, as before.
//!
//! **Workers own what they hold.** While a batch is being handled, the worker renews the lease
//! of every row of the batch not recorded yet (waiting, running, or finished and being
//! recorded), every third of the lease ([`Inbox::renew_many`]), so a slow but alive handler
//! keeps its rows. Completing or failing a row carries the claim token
//! ([`InboxRow::claim`]): if the lease was lost anyway (the inbox was unreachable for a whole
//! lease, the process was paused) and another worker claimed the row again, the store refuses
//! the change, so a stale worker can neither move a `done` row back nor count its outcome.
//! The worker then logs the lost lease (`warn`, target `hookbr::worker`) and counts it in
//! [`Round::lost`], not as an attempt result; a row of the batch whose lease was lost before
//! its turn is not handed to the handler at all.
//!
//! ```no_run
//! use std::sync::Arc;
//! use hookbr_store::{SqliteInbox, worker::{Delivered, Worker, WorkerOptions}};
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let inbox = Arc::new(SqliteInbox::open("hookbr-inbox.sqlite3")?);
//! let worker = Worker::new(inbox, |delivered: Delivered| async move {
//!     println!("{} {}", delivered.event.provider(), delivered.event.kind());
//!     Ok::<(), String>(())
//! }, WorkerOptions::default());
//! worker.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```

use std::{
    fmt,
    future::Future,
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::{FutureExt as _, StreamExt as _, stream::FuturesUnordered};
use hookbr_core::{
    StoreError, WebhookEvent,
    inbox::{Inbox, InboxRow, RowOutcome, now_ms},
};

/// The batch of outcomes being recorded, and the attempts they are for.
type Settling<'a> = std::pin::Pin<
    Box<dyn Future<Output = Result<(Vec<Attempt>, Vec<bool>), StoreError>> + Send + 'a>,
>;

/// One attempt the worker ran (or could not run: a row that no longer decodes), waiting for
/// its outcome to be recorded.
#[derive(Debug)]
struct Attempt {
    endpoint: String,
    attempts: u32,
    /// Whether the handler ran (the hook hears only about those).
    handled: bool,
    /// Whether the handler's own transaction marked the row done
    /// ([`Delivered::completed_by_handler`]): nothing is left to settle.
    done_by_handler: bool,
    outcome: RowOutcome,
    recorded: Recorded,
}

/// A stored delivery handed to the handler.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivered {
    /// The row (id, delivery id, attempts so far including this one, ...).
    pub row: InboxRow,
    /// The decoded event.
    pub event: WebhookEvent,
    /// Set by [`completed_by_handler`](Self::completed_by_handler).
    completed: Arc<AtomicBool>,
}

impl Delivered {
    /// Tells the worker that the handler already marked the row done itself, fenced by the
    /// row's claim and in the same transaction as its own write
    /// (`PostgresInbox::complete_with` returned `true`): when the handler then returns `Ok`, the worker records the attempt as
    /// completed without completing the row a second time (which would find it no longer in
    /// flight and look like a lost lease).
    pub fn completed_by_handler(&self) {
        self.completed.store(true, Ordering::Release);
    }
}

/// A handler's failure: retried with backoff (any `String` error converts to this), or
/// [`permanent`](Self::permanent): dead-lettered at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    message: String,
    permanent: bool,
    /// [`hold`](Self::hold): try again at this time (ms since the epoch), not a failure.
    hold_until_ms: Option<i64>,
}

impl Failure {
    /// A failure worth retrying later (a timeout, a refused connection, an HTTP 503).
    #[must_use]
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
            hold_until_ms: None,
        }
    }

    /// Not a failure: the handler holds the row back until `until_ms` (ms since the epoch),
    /// e.g. waiting for an earlier delivery of the same entity. The row is scheduled again
    /// then, with `message` as its note (its last error), and never dead-lettered for it; the
    /// handler gives the attempt back itself (`Inbox::hold_entity`).
    #[must_use]
    pub fn hold(until_ms: i64, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
            hold_until_ms: Some(until_ms),
        }
    }

    /// A failure that retrying cannot fix (the row is dead-lettered at once, with `message`
    /// as its last error; fix the cause, then replay it).
    #[must_use]
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
            hold_until_ms: None,
        }
    }

    /// The error text.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying cannot help.
    #[must_use]
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::retry(message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Worker settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// Rows claimed per round (default [`DEFAULT_BATCH`], 64).
    pub batch: usize,
    /// How long a claimed row is reserved for this worker (default 60 s); renewed every third
    /// of it while the batch is being handled.
    pub lease: Duration,
    /// Pause when nothing is due (default 200 ms).
    pub idle: Duration,
    /// Attempts before dead-lettering (default 8).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt (default 1 s).
    pub base_backoff: Duration,
    /// Longest retry delay (default 1 h).
    pub max_backoff: Duration,
    /// Rows of a batch handled at the same time (default 16, sized for HTTP sinks that wait
    /// on the network; 1 handles them one after another). Rows of one batch may finish in any
    /// order.
    pub concurrency: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            batch: DEFAULT_BATCH,
            lease: Duration::from_secs(60),
            idle: Duration::from_millis(200),
            max_attempts: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// The longest a finished row waits for others before its outcome is recorded (see
/// [`Worker::run_once`]): recording rows together costs one transaction (and on SQLite one
/// fsync) per batch instead of one per row.
pub const SETTLE_WAIT: Duration = Duration::from_millis(5);

/// [`WorkerOptions::batch`] by default: four rows per slot at the default concurrency, so a
/// round's claim and its recorded batches are few transactions for many rows.
pub const DEFAULT_BATCH: usize = 64;

/// [`WorkerOptions::concurrency`] by default.
pub const DEFAULT_CONCURRENCY: usize = 16;

impl WorkerOptions {
    /// Sets the attempts before dead-lettering.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the backoff bounds.
    #[must_use]
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_backoff = base;
        self.max_backoff = max.max(base);
        self
    }

    /// Sets the pause when nothing is due.
    #[must_use]
    pub fn idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// Sets the rows claimed per round (at least 1).
    #[must_use]
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Sets how many rows of a batch are handled at the same time (at least 1).
    ///
    /// ```
    /// use hookbr_store::worker::WorkerOptions;
    /// assert_eq!(WorkerOptions::default().concurrency(0).concurrency, 1);
    /// ```
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Sets the lease of a claimed row (at least 3 ms, so that it can be renewed).
    ///
    /// ```
    /// use std::time::Duration;
    /// use hookbr_store::worker::WorkerOptions;
    /// let options = WorkerOptions::default().lease(Duration::from_secs(120)).batch(4);
    /// assert_eq!((options.lease, options.batch), (Duration::from_secs(120), 4));
    /// ```
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(3));
        self
    }
}

/// Runs a handler over an inbox. See the module docs.
pub struct Worker<H> {
    inbox: Arc<dyn Inbox>,
    handler: H,
    options: WorkerOptions,
    jitter: AtomicU64,
    on_settled: Option<SettledHook>,
}

type SettledHook = Box<dyn Fn(&Settled) + Send + Sync>;

/// What became of one attempt the handler ran, once the store answered (see
/// [`Worker::on_settled`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settled {
    /// The row id.
    pub id: i64,
    /// The row's endpoint text (`bonifiq`, `foody:<name>`, ...).
    pub endpoint: String,
    /// The attempt (1 for the first).
    pub attempt: u32,
    /// What the store recorded.
    pub recorded: Recorded,
}

/// What the store recorded for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recorded {
    /// The row is done.
    Completed,
    /// The handler failed; the row is retried later.
    Retried {
        /// The handler's error.
        error: String,
    },
    /// The handler failed for the last allowed time, or permanently; the row is dead-lettered.
    Dead {
        /// The handler's error.
        error: String,
    },
    /// The lease was lost (another worker claimed the row again): nothing was recorded, and
    /// the attempt does not count as a result.
    Lost,
    /// The handler held the row back ([`Failure::hold`]); it is scheduled again at
    /// `until_ms`.
    Held {
        /// When it is due again (ms since the epoch).
        until_ms: i64,
    },
}

impl<H> fmt::Debug for Worker<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("inbox", &self.inbox)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What happened to the rows of one round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Round {
    /// Rows completed.
    pub completed: usize,
    /// Rows scheduled for a retry.
    pub retried: usize,
    /// Rows moved to dead-letter.
    pub dead: usize,
    /// Rows whose lease was lost (another worker claimed them again): their outcome was not
    /// recorded, and a row whose lease was lost before its turn was not handled.
    pub lost: usize,
    /// Rows the handler held back ([`Failure::hold`]).
    pub held: usize,
}

impl Round {
    /// Rows whose outcome was recorded in the round (lost leases not included).
    #[must_use]
    pub fn total(&self) -> usize {
        self.completed + self.retried + self.dead
    }
}

/// The rows of the batch in progress: the ones not finished yet (renewed), and the ones whose
/// lease was found lost.
#[derive(Debug, Default)]
struct Held {
    open: Vec<(i64, i64)>,
    lost: Vec<i64>,
}

fn lock(held: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    held.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<H, F, E> Worker<H>
where
    H: Fn(Delivered) -> F + Send + Sync,
    F: Future<Output = Result<(), E>> + Send,
    E: Into<Failure>,
{
    /// A worker running `handler` over `inbox`.
    pub fn new(inbox: Arc<dyn Inbox>, handler: H, options: WorkerOptions) -> Self {
        let seed = u64::try_from(now_ms()).unwrap_or(1) | 1;
        Self {
            inbox,
            handler,
            options,
            jitter: AtomicU64::new(seed),
            on_settled: None,
        }
    }

    /// Calls `hook` after each attempt the handler ran, with what the store recorded (a lost
    /// lease included), e.g. to count results in metrics only once they are recorded.
    #[must_use]
    pub fn on_settled(mut self, hook: impl Fn(&Settled) + Send + Sync + 'static) -> Self {
        self.on_settled = Some(Box::new(hook));
        self
    }

    /// Claims and handles one batch of due rows, renewing the leases of the rows not finished
    /// yet every third of the lease while it runs.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the inbox cannot be reached (rows already claimed keep their lease
    /// and are retried by a later round).
    pub async fn run_once(&self) -> Result<Round, StoreError> {
        let rows = self
            .inbox
            .claim_due(self.options.batch, self.options.lease)
            .await?;
        if rows.is_empty() {
            return Ok(Round::default());
        }
        let held = Mutex::new(Held {
            open: rows.iter().map(|row| (row.id, row.claim)).collect(),
            lost: Vec::new(),
        });
        tokio::select! {
            round = self.handle(rows, &held) => round,
            never = self.renew(&held) => match never {},
        }
    }

    /// Runs the handler on the rows, up to `concurrency` at a time (started oldest due first),
    /// and records the outcomes in batches, each one [`Inbox::settle_many`] (one transaction,
    /// and on SQLite one fsync): a batch is recorded once half the slots' worth of rows
    /// finished, when nothing is left running, or [`SETTLE_WAIT`] after its first row
    /// finished, and never while the previous one is being recorded. A finished row keeps its
    /// lease renewed until recorded; its slot is free at once.
    async fn handle(&self, rows: Vec<InboxRow>, held: &Mutex<Held>) -> Result<Round, StoreError> {
        let mut round = Round::default();
        let mut queue = rows.into_iter();
        let mut running = FuturesUnordered::new();
        let mut finished: Vec<Attempt> = Vec::new();
        let mut settling: Option<Settling<'_>> = None;
        let concurrency = self.options.concurrency.max(1);
        let enough = (concurrency / 2).max(1);
        // When the oldest finished row not being recorded finished.
        let mut waiting_since: Option<tokio::time::Instant> = None;
        loop {
            while running.len() < concurrency {
                let Some(row) = queue.next() else { break };
                if lock(held).lost.contains(&row.id) {
                    // Another worker holds it now: handing it to the handler would deliver it
                    // twice.
                    round.lost += 1;
                    continue;
                }
                running.push(self.attempt(row));
            }
            // Rows the handler's own transaction already marked done (with their claim) are
            // recorded as they are: settling them again would report a lost lease.
            if finished.iter().any(|attempt| attempt.done_by_handler) {
                let (done, open): (Vec<_>, Vec<_>) = std::mem::take(&mut finished)
                    .into_iter()
                    .partition(|attempt| attempt.done_by_handler);
                finished = open;
                for attempt in done {
                    self.record(attempt, true, held, &mut round);
                }
            }
            if finished.is_empty() {
                waiting_since = None;
            }
            let due = waiting_since.is_some_and(|since| since.elapsed() >= SETTLE_WAIT);
            if settling.is_none()
                && !finished.is_empty()
                && (finished.len() >= enough || running.is_empty() || due)
            {
                waiting_since = None;
                let attempts = std::mem::take(&mut finished);
                let outcomes = attempts.iter().map(|a| a.outcome.clone()).collect();
                let inbox = &self.inbox;
                settling = Some(Box::pin(async move {
                    let stored = inbox.settle_many(outcomes).await?;
                    Ok((attempts, stored))
                }));
            }
            if running.is_empty() && settling.is_none() {
                return Ok(round);
            }
            tokio::select! {
                Some(attempt) = running.next(), if !running.is_empty() => {
                    waiting_since.get_or_insert_with(tokio::time::Instant::now);
                    finished.push(attempt);
                    // Every attempt that is already over joins the same batch.
                    while let Some(Some(attempt)) = running.next().now_or_never() {
                        finished.push(attempt);
                    }
                }
                recorded = async { settling.as_mut().expect("guarded").await }, if settling.is_some() => {
                    settling = None;
                    let (attempts, stored) = recorded?;
                    for (attempt, stored) in attempts.into_iter().zip(stored) {
                        self.record(attempt, stored, held, &mut round);
                    }
                }
                () = tokio::time::sleep_until(
                    waiting_since.map_or_else(tokio::time::Instant::now, |since| since + SETTLE_WAIT),
                ), if settling.is_none() && waiting_since.is_some() => {}
            }
        }
    }

    /// One run of the handler on `row` (decoded first), and what to record for it.
    async fn attempt(&self, row: InboxRow) -> Attempt {
        let (id, claim, attempts) = (row.id, row.claim, row.attempts);
        let endpoint = row.record.endpoint.clone();
        let completed = Arc::new(AtomicBool::new(false));
        let (handled, result) = match decode(&row) {
            Ok(event) => {
                let call = (self.handler)(Delivered {
                    row,
                    event,
                    completed: completed.clone(),
                });
                let result = match AssertUnwindSafe(call).catch_unwind().await {
                    Ok(result) => result.map_err(Into::into),
                    Err(_) => Err(Failure::retry("the handler panicked")),
                };
                (true, result)
            }
            Err(error) => (false, Err(Failure::retry(error))),
        };
        let result_ok = result.is_ok();
        let (outcome, recorded) = match result {
            Ok(()) => (RowOutcome::Completed { id, claim }, Recorded::Completed),
            Err(Failure {
                message,
                hold_until_ms: Some(until),
                ..
            }) => (
                RowOutcome::Failed {
                    id,
                    claim,
                    error: message,
                    retry_at_ms: Some(until),
                },
                Recorded::Held { until_ms: until },
            ),
            Err(Failure {
                message, permanent, ..
            }) if permanent || attempts >= self.options.max_attempts => (
                RowOutcome::Failed {
                    id,
                    claim,
                    error: message.clone(),
                    retry_at_ms: None,
                },
                Recorded::Dead { error: message },
            ),
            Err(Failure { message: error, .. }) => {
                let retry_at = now_ms().saturating_add(self.backoff_ms(attempts));
                (
                    RowOutcome::Failed {
                        id,
                        claim,
                        error: error.clone(),
                        retry_at_ms: Some(retry_at),
                    },
                    Recorded::Retried { error },
                )
            }
        };
        Attempt {
            endpoint,
            attempts,
            handled,
            done_by_handler: result_ok && completed.load(Ordering::Acquire),
            outcome,
            recorded,
        }
    }

    /// Counts what the store recorded for `attempt` (`stored`: its outcome was accepted) and
    /// tells the hook.
    fn record(&self, attempt: Attempt, stored: bool, held: &Mutex<Held>, round: &mut Round) {
        let id = attempt.outcome.id();
        lock(held).open.retain(|&(open, _)| open != id);
        let recorded = if stored {
            attempt.recorded
        } else {
            tracing::warn!(
                target: "hookbr::worker",
                row = id,
                attempt = attempt.attempts,
                "lease lost: another worker claimed the row again; this attempt's outcome \
                 is not recorded"
            );
            Recorded::Lost
        };
        match recorded {
            Recorded::Completed => round.completed += 1,
            Recorded::Retried { .. } => round.retried += 1,
            Recorded::Dead { .. } => round.dead += 1,
            Recorded::Lost => round.lost += 1,
            Recorded::Held { .. } => round.held += 1,
        }
        if let (true, Some(on_settled)) = (attempt.handled, &self.on_settled) {
            on_settled(&Settled {
                id,
                endpoint: attempt.endpoint,
                attempt: attempt.attempts,
                recorded,
            });
        }
    }

    /// Renews the leases of the open rows (handled or waiting, not yet recorded) every third
    /// of the lease, in one [`Inbox::renew_many`] per turn, forever (the caller stops it when
    /// the batch is done).
    async fn renew(&self, held: &Mutex<Held>) -> std::convert::Infallible {
        let lease = self.options.lease;
        let every = (lease / 3).max(Duration::from_millis(1));
        loop {
            tokio::time::sleep(every).await;
            let open = lock(held).open.clone();
            if open.is_empty() {
                continue;
            }
            match self.inbox.renew_many(&open, lease).await {
                Ok(renewed) => {
                    let mut held = lock(held);
                    for (&(id, _), renewed) in open.iter().zip(renewed) {
                        // Finished meanwhile: not lost, just no longer in flight.
                        if !renewed && held.open.iter().any(|&(open, _)| open == id) {
                            held.lost.push(id);
                            tracing::warn!(
                                target: "hookbr::worker",
                                row = id,
                                "lease lost: another worker claimed the row again"
                            );
                        }
                    }
                }
                Err(error) => tracing::warn!(
                    target: "hookbr::worker",
                    rows = open.len(),
                    error = %error,
                    "cannot renew the leases; retrying"
                ),
            }
        }
    }

    /// Runs rounds until `shutdown` resolves; the round in progress is finished first, so no
    /// row is left half-handled.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let pause = match self.run_once().await {
                Ok(round) if round.total() + round.lost > 0 => Duration::ZERO,
                _ => self.options.idle,
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Exponential backoff with ±20 % jitter, in milliseconds.
    fn backoff_ms(&self, attempts: u32) -> i64 {
        let exponent = attempts.saturating_sub(1).min(30);
        let base = self
            .options
            .base_backoff
            .as_millis()
            .saturating_mul(1 << exponent);
        let capped = base.min(self.options.max_backoff.as_millis());
        // xorshift: spread retries of many rows without a dependency on a random crate.
        let mut x = self.jitter.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter.store(x, Ordering::Relaxed);
        let factor = 80 + u128::from(x % 41); // 80..=120 %
        i64::try_from(capped * factor / 100).unwrap_or(i64::MAX)
    }
}

fn decode(row: &InboxRow) -> Result<WebhookEvent, String> {
    row.record.decode().map_err(|error| error.to_string())
}
