//! The worker's lease against the time a batch of deliveries may take (`serve --check`
//! refuses a lease that one batch could outlast).

use std::time::Duration;

use super::{InboxUrl, SinkConfig, WorkerConfig, value::problem};

/// The most rows a worker of `hookbr serve` claims per round.
const MAX_BATCH: usize = 16;

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
/// whole timeout (1 to 16), so that a batch never outlasts its lease even if renewing it
/// fails.
pub(crate) fn worker_batch(lease: Duration, sinks: &[SinkConfig]) -> usize {
    let (per_delivery, _) = per_delivery(sinks);
    if per_delivery.is_zero() {
        return MAX_BATCH;
    }
    let fits = lease.as_millis() / per_delivery.as_millis().max(1);
    usize::try_from(fits)
        .unwrap_or(MAX_BATCH)
        .clamp(1, MAX_BATCH)
}

/// Refuses (inbox mode) a `[worker] lease` shorter than the sinks' timeouts × the batch: even
/// a batch of one row could outlast it, and another instance would deliver the row again.
pub(super) fn check_lease(
    worker: &WorkerConfig,
    sinks: &[SinkConfig],
    inbox: &InboxUrl,
) -> Result<(), String> {
    if *inbox == InboxUrl::None {
        return Ok(());
    }
    let (per_delivery, terms) = per_delivery(sinks);
    let batch = worker_batch(worker.lease, sinks);
    let needed = per_delivery.saturating_mul(u32::try_from(batch).unwrap_or(u32::MAX));
    if worker.lease >= needed {
        return Ok(());
    }
    Err(problem(
        "worker.lease",
        format!(
            "{} is shorter than the sinks' timeouts × batch: ({terms}) × {batch} row per batch \
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
        }
    }

    fn worker(lease: Duration) -> WorkerConfig {
        WorkerConfig {
            max_attempts: 8,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
            lease,
        }
    }

    #[test]
    fn batches_fit_the_lease() {
        let sinks = [command(Duration::from_secs(10))];
        assert_eq!(worker_batch(Duration::from_secs(60), &sinks), 6);
        assert_eq!(worker_batch(Duration::from_secs(3600), &sinks), MAX_BATCH);
        assert_eq!(worker_batch(Duration::from_secs(5), &sinks), 1);
        assert_eq!(worker_batch(Duration::from_secs(5), &[]), MAX_BATCH);
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
}
