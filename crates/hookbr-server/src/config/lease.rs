//! The worker's lease against the time a batch of deliveries may take (`serve --check`
//! refuses a lease that one batch could outlast).
//!
//! The worker hands up to `concurrency` deliveries of a batch to the sinks at the same time,
//! so a batch of `batch` rows takes at most ⌈batch / concurrency⌉ deliveries one after another
//! per slot, each at most the sinks' timeouts added up (the sinks of one delivery run in
//! order).

use std::time::Duration;

use super::{InboxUrl, SinkConfig, WorkerConfig, value::problem};

/// The most rows a worker of `hookbr serve` claims per round (or `concurrency`, when higher,
/// so that every slot has a row): four per slot at the default concurrency, as many as the
/// lease covers (`worker_batch`).
const MAX_BATCH: usize = hookbr_store::worker::DEFAULT_BATCH;

/// `[worker] concurrency` by default: sized for HTTP sinks, which mostly wait on the network.
pub(crate) const DEFAULT_CONCURRENCY: usize = hookbr_store::worker::DEFAULT_CONCURRENCY;

/// The highest `[worker] concurrency` accepted.
pub(crate) const MAX_CONCURRENCY: usize = 1_024;

/// The longest one delivery may take: every sink's timeout, one after the other (the sinks
/// run in order), with the terms for a message (`sink[0].timeout = 10s + ...`).
fn per_delivery(sinks: &[SinkConfig]) -> (Duration, String) {
    let mut total = Duration::ZERO;
    let mut terms = Vec::with_capacity(sinks.len());
    for (index, sink) in sinks.iter().enumerate() {
        let timeout = match sink {
            SinkConfig::Http { timeout, .. }
            | SinkConfig::Command { timeout, .. }
            | SinkConfig::Nats { timeout, .. }
            | SinkConfig::Postgres { timeout, .. }
            | SinkConfig::Sqlite { timeout, .. } => *timeout,
        };
        total = total.saturating_add(timeout);
        terms.push(format!("sink[{index}].timeout = {}", text(timeout)));
    }
    (total, terms.join(" + "))
}

fn text(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// The rows a worker claims per round: as many as the lease covers when every sink takes its
/// whole timeout, with `concurrency` of them in flight at a time (1 to 16, or to `concurrency`
/// when higher), so that a batch never outlasts its lease even if renewing it fails.
pub(crate) fn worker_batch(lease: Duration, concurrency: usize, sinks: &[SinkConfig]) -> usize {
    let concurrency = concurrency.max(1);
    let most = MAX_BATCH.max(concurrency);
    let (per_delivery, _) = per_delivery(sinks);
    if per_delivery.is_zero() {
        return most;
    }
    // Deliveries one slot can run one after another within the lease.
    let fits = lease.as_millis() / per_delivery.as_millis().max(1);
    usize::try_from(fits)
        .unwrap_or(most)
        .saturating_mul(concurrency)
        .clamp(1, most)
}

/// Deliveries one slot of the worker runs one after another in a batch of `batch` rows.
fn rounds(batch: usize, concurrency: usize) -> usize {
    batch.div_ceil(concurrency.max(1))
}

/// Refuses (inbox mode) a `[worker] lease` shorter than the sinks' timeouts × the deliveries a
/// slot runs one after another per batch (⌈batch / concurrency⌉): even a batch of one row
/// could outlast it, and another instance would deliver the row again.
pub(super) fn check_lease(
    worker: &WorkerConfig,
    sinks: &[SinkConfig],
    inbox: &InboxUrl,
) -> Result<(), String> {
    if *inbox == InboxUrl::None {
        return Ok(());
    }
    let (per_delivery, terms) = per_delivery(sinks);
    let batch = worker_batch(worker.lease, worker.concurrency, sinks);
    let rounds = rounds(batch, worker.concurrency);
    let needed = per_delivery.saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX));
    if worker.lease >= needed {
        return Ok(());
    }
    Err(problem(
        "worker.lease",
        format!(
            "{} is shorter than the sinks' timeouts × batch: ({terms}) × {rounds} row per batch \
             = {}; set worker.lease to at least {} or lower the sinks' timeouts",
            text(worker.lease),
            text(needed),
            text(needed),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(timeout: Duration) -> SinkConfig {
        SinkConfig::Command {
            command: vec!["true".into()],
            timeout,
            mask: crate::config::SinkMask::Off,
        }
    }

    fn worker(lease: Duration) -> WorkerConfig {
        WorkerConfig {
            max_attempts: 8,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
            lease,
            concurrency: 1,
        }
    }

    #[test]
    fn batches_fit_the_lease() {
        let sinks = [command(Duration::from_secs(10))];
        assert_eq!(worker_batch(Duration::from_secs(60), 1, &sinks), 6);
        assert_eq!(
            worker_batch(Duration::from_secs(3600), 1, &sinks),
            MAX_BATCH
        );
        assert_eq!(worker_batch(Duration::from_secs(5), 1, &sinks), 1);
        assert_eq!(worker_batch(Duration::from_secs(5), 1, &[]), MAX_BATCH);
    }

    #[test]
    fn concurrent_batches_fit_the_lease_per_slot() {
        let sinks = [command(Duration::from_secs(10))];
        // Two deliveries per slot fit a 25 s lease: 2 × 4 slots.
        assert_eq!(worker_batch(Duration::from_secs(25), 4, &sinks), 8);
        assert_eq!(worker_batch(Duration::from_secs(60), 16, &sinks), MAX_BATCH);
        assert_eq!(worker_batch(Duration::from_secs(60), 64, &sinks), 64);
        assert_eq!(worker_batch(Duration::from_secs(5), 64, &sinks), 1);
        assert_eq!(worker_batch(Duration::from_secs(5), 64, &[]), 64);
        // 16 rows, 16 at a time: one sink timeout per batch, not 16.
        let mut concurrent = worker(Duration::from_secs(10));
        concurrent.concurrency = 16;
        let inbox = InboxUrl::Sqlite("inbox.sqlite3".into());
        assert!(check_lease(&concurrent, &sinks, &inbox).is_ok());
        for concurrency in [1, 3, 16, 100] {
            for lease_s in [1, 9, 10, 11, 25, 59, 60, 61, 3600] {
                let mut settings = worker(Duration::from_secs(lease_s));
                settings.concurrency = concurrency;
                let batch = worker_batch(settings.lease, concurrency, &sinks);
                let needed =
                    Duration::from_secs(10) * u32::try_from(rounds(batch, concurrency)).unwrap();
                assert_eq!(
                    check_lease(&settings, &sinks, &inbox).is_ok(),
                    settings.lease >= needed,
                    "lease {lease_s}s, concurrency {concurrency}, batch {batch}"
                );
                assert_eq!(
                    check_lease(&settings, &sinks, &inbox).is_ok(),
                    lease_s >= 10
                );
            }
        }
    }

    #[test]
    fn a_lease_shorter_than_a_delivery_is_refused() {
        let sinks = [
            command(Duration::from_secs(10)),
            command(Duration::from_millis(30_500)),
        ];
        let inbox = InboxUrl::Sqlite("inbox.sqlite3".into());
        let error = check_lease(&worker(Duration::from_secs(40)), &sinks, &inbox).unwrap_err();
        assert_eq!(
            error,
            "worker.lease: 40s is shorter than the sinks' timeouts × batch: (sink[0].timeout = \
             10s + sink[1].timeout = 30500ms) × 1 row per batch = 40500ms; set worker.lease to \
             at least 40500ms or lower the sinks' timeouts"
        );
        assert!(check_lease(&worker(Duration::from_millis(40_500)), &sinks, &inbox).is_ok());
        assert!(
            check_lease(&worker(Duration::from_secs(1)), &sinks, &InboxUrl::None).is_ok(),
            "direct mode has no worker"
        );
    }

    #[test]
    fn configurations_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "a-foody-token-of-some-length").unwrap();
        let config = |lease: &str, inbox: &str| {
            format!(
                "[inbox]\nurl = \"{inbox}\"\n[worker]\nlease = \"{lease}\"\n\
                 [[endpoint]]\nprovider = \"foody\"\npath = \"/foody\"\n\
                 tokens = [\"file:token\"]\n\
                 [[sink]]\ntype = \"command\"\ncommand = [\"true\"]\ntimeout = \"10s\"\n"
            )
        };
        let parse = |text: String| super::super::parse_text(&text, dir.path());
        let error = parse(config("9s", "sqlite:inbox.sqlite3")).unwrap_err();
        assert!(
            error.contains("worker.lease: 9s is shorter than")
                && error.contains("sink[0].timeout = 10s"),
            "{error}"
        );
        assert!(parse(config("10s", "sqlite:inbox.sqlite3")).is_ok());
        assert!(
            parse(config("9s", "none")).is_ok(),
            "direct mode has no worker"
        );
    }

    #[test]
    fn concurrency_is_read_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "a-foody-token-of-some-length").unwrap();
        let config = |worker: &str| {
            format!(
                "[inbox]\nurl = \"sqlite:inbox.sqlite3\"\n[worker]\n{worker}\n\
                 [[endpoint]]\nprovider = \"foody\"\npath = \"/foody\"\n\
                 tokens = [\"file:token\"]\n\
                 [[sink]]\ntype = \"command\"\ncommand = [\"true\"]\ntimeout = \"10s\"\n"
            )
        };
        let parse = |text: String| super::super::parse_text(&text, dir.path());
        assert_eq!(
            parse(config("")).unwrap().worker.concurrency,
            DEFAULT_CONCURRENCY
        );
        assert_eq!(DEFAULT_CONCURRENCY, 16);
        assert_eq!(
            parse(config("concurrency = 1")).unwrap().worker.concurrency,
            1
        );
        let zero = parse(config("concurrency = 0")).unwrap_err();
        assert!(
            zero.contains("worker.concurrency: must be at least 1"),
            "{zero}"
        );
        let many = parse(config("concurrency = 100000")).unwrap_err();
        assert!(
            many.contains("worker.concurrency: must be at most 1024"),
            "{many}"
        );
        // 32 at a time: a 10 s lease covers a batch of 32 rows of 10 s each.
        assert!(parse(config("concurrency = 32\nlease = \"10s\"")).is_ok());
    }
}
