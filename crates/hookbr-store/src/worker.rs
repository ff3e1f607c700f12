//! Workers: run the application's handler on inbox rows, with retries, backoff and
//! dead-lettering.
//!
//! A [`Worker`] claims due rows with a lease, decodes each (the bytes were verified when they
//! were stored), and calls the handler. `Ok` completes the row; `Err` (or a panic) schedules a
//! retry after an exponential backoff with jitter, and after `max_attempts` moves the row to
//! dead-letter with the last error kept, where `Inbox::replay` can revive it. A worker that
//! crashes leaves its rows in flight until their lease expires; another worker then takes them.
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
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::FutureExt as _;
use hookbr_core::{
    StoreError, WebhookEvent,
    inbox::{Inbox, InboxRow, now_ms},
};

/// A stored delivery handed to the handler.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivered {
    /// The row (id, delivery id, attempts so far including this one, ...).
    pub row: InboxRow,
    /// The decoded event.
    pub event: WebhookEvent,
}

/// Worker settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// Rows claimed per round (default 16).
    pub batch: usize,
    /// How long a claimed row is reserved for this worker (default 60 s).
    pub lease: Duration,
    /// Pause when nothing is due (default 200 ms).
    pub idle: Duration,
    /// Attempts before dead-lettering (default 8).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt (default 1 s).
    pub base_backoff: Duration,
    /// Longest retry delay (default 1 h).
    pub max_backoff: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            batch: 16,
            lease: Duration::from_secs(60),
            idle: Duration::from_millis(200),
            max_attempts: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

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
}

/// Runs a handler over an inbox. See the module docs.
pub struct Worker<H> {
    inbox: Arc<dyn Inbox>,
    handler: H,
    options: WorkerOptions,
    jitter: AtomicU64,
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
}

impl Round {
    /// Rows handled in the round.
    #[must_use]
    pub fn total(&self) -> usize {
        self.completed + self.retried + self.dead
    }
}

impl<H, F> Worker<H>
where
    H: Fn(Delivered) -> F + Send + Sync,
    F: Future<Output = Result<(), String>> + Send,
{
    /// A worker running `handler` over `inbox`.
    pub fn new(inbox: Arc<dyn Inbox>, handler: H, options: WorkerOptions) -> Self {
        let seed = u64::try_from(now_ms()).unwrap_or(1) | 1;
        Self {
            inbox,
            handler,
            options,
            jitter: AtomicU64::new(seed),
        }
    }

    /// Claims and handles one batch of due rows.
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
        let mut round = Round::default();
        for row in rows {
            let id = row.id;
            let attempts = row.attempts;
            let outcome = match decode(&row) {
                Ok(event) => {
                    let call = (self.handler)(Delivered { row, event });
                    match AssertUnwindSafe(call).catch_unwind().await {
                        Ok(result) => result,
                        Err(_) => Err("the handler panicked".to_owned()),
                    }
                }
                Err(error) => Err(error),
            };
            match outcome {
                Ok(()) => {
                    self.inbox.complete(id).await?;
                    round.completed += 1;
                }
                Err(error) if attempts >= self.options.max_attempts => {
                    self.inbox.fail(id, error, None).await?;
                    round.dead += 1;
                }
                Err(error) => {
                    let retry_at = now_ms().saturating_add(self.backoff_ms(attempts));
                    self.inbox.fail(id, error, Some(retry_at)).await?;
                    round.retried += 1;
                }
            }
        }
        Ok(round)
    }

    /// Runs rounds until `shutdown` resolves; the round in progress is finished first, so no
    /// row is left half-handled.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let pause = match self.run_once().await {
                Ok(round) if round.total() > 0 => Duration::ZERO,
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
