//! The ordering guard of `hookbr serve` (`ordering` in `[[endpoint]]`, docs/ENTITIES.md).
//!
//! Direct mode judges in memory (a bounded map of the latest position per entity, kept across
//! reloads). Inbox mode judges in the inbox (`Inbox::judge_entity`: one latest position per
//! entity in a table, atomic across workers and instances), and with `hold` the worker
//! forwards an entity's deliveries in position order: a delivery waits (is rescheduled, not
//! failed) while an earlier one of its entity is stored and not yet forwarded, and, unless it
//! is the next status of a documented lifecycle, until `hold_for` after it was received in
//! case an earlier one is still on its way; never past twice `hold_for`.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use hookbr_core::{
    Inbox, InboxRow, WebhookEvent,
    inbox::{EntityMark, RowState, now_ms},
    ordering::{Guard, OrderingMode, StoredPosition, Verdict},
};
use hookbr_store::worker::Failure;

/// How soon a delivery held behind an earlier stored one looks again.
const RECHECK_MS: i64 = 200;

/// At most this many stored deliveries of one entity are read to decide a hold (the most
/// recent ones).
const HOLD_SCAN: usize = 500;

/// What the dispatcher does with one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Forward it; `stale` is the message's `"stale"` field (`None`: not guarded, no field).
    Forward { stale: Option<bool> },
    /// Do not forward it (`drop-stale`); the provider still got `200`.
    Drop,
}

/// The guard's state of one server.
#[derive(Debug, Default)]
pub(crate) struct Ordering {
    /// Direct mode (and inboxes that keep no entities).
    guard: Guard,
    /// Inbox mode: where the guard is kept.
    inbox: OnceLock<Arc<dyn Inbox>>,
}

impl Ordering {
    /// Keeps the guard in `inbox` from now on (inbox mode).
    pub(crate) fn keep_in(&self, inbox: Arc<dyn Inbox>) {
        let _ = self.inbox.set(inbox);
    }

    /// Direct mode: judges `event` under `mode` in memory.
    pub(crate) fn decide(&self, mode: OrderingMode, event: &WebhookEvent) -> Decision {
        if mode == OrderingMode::Off {
            return Decision::Forward { stale: None };
        }
        outcome(mode, event, self.guard.check(event))
    }

    /// Inbox mode: judges stored row `id` (`event` decoded from it) under `mode`, in the
    /// inbox when it keeps entities, else in memory.
    pub(crate) async fn decide_stored(
        &self,
        mode: OrderingMode,
        id: i64,
        event: &WebhookEvent,
    ) -> Result<Decision, Failure> {
        if mode == OrderingMode::Off {
            return Ok(Decision::Forward { stale: None });
        }
        let verdict = match self.inbox.get() {
            Some(inbox) => inbox
                .judge_entity(id)
                .await
                .map_err(|error| Failure::retry(format!("ordering guard: {error}")))?,
            None => None,
        };
        let verdict = verdict.unwrap_or_else(|| self.guard.check(event));
        Ok(outcome(mode, event, verdict))
    }

    /// `hold`: `Some` failure that reschedules `row` when it must wait (see the module docs),
    /// `None` when it may be forwarded now.
    pub(crate) async fn hold(
        &self,
        row: &InboxRow,
        event: &WebhookEvent,
        hold_for: Duration,
    ) -> Result<Option<Failure>, Failure> {
        let (Some(inbox), Some(entity), Some(position)) =
            (self.inbox.get(), event.entity(), event.position())
        else {
            return Ok(None);
        };
        let mine = StoredPosition::from(&position);
        let hold_ms = i64::try_from(hold_for.as_millis()).unwrap_or(i64::MAX);
        let due = row.record.received_at_ms.saturating_add(hold_ms);
        let last = due.saturating_add(hold_ms);
        let now = now_ms();
        if now >= last {
            return Ok(None);
        }
        let deliveries = inbox
            .entity_deliveries(entity.kind.to_owned(), entity.id, HOLD_SCAN)
            .await
            .map_err(|error| Failure::retry(format!("ordering guard: {error}")))?;
        let others = || deliveries.iter().filter(|other| other.row.id != row.id);
        let earlier_open = others().any(|other| {
            other.mark != Some(EntityMark::Stale)
                && matches!(other.row.state, RowState::Pending | RowState::InFlight)
                && other.position.is_some_and(|at| {
                    at.precedes(&mine)
                        || (other.row.id < row.id && at.compare(&mine).is_some_and(|o| o.is_eq()))
                })
        });
        let latest = others()
            .filter(|other| other.mark == Some(EntityMark::Passed))
            .filter_map(|other| other.position)
            .reduce(|a, b| if a.precedes(&b) { b } else { a });
        let until = if earlier_open {
            now.saturating_add(RECHECK_MS).min(last)
        } else if now >= due || mine.is_next_after(latest.as_ref()) {
            return Ok(None);
        } else {
            due
        };
        inbox
            .hold_entity(row.id, row.claim)
            .await
            .map_err(|error| Failure::retry(format!("ordering guard: {error}")))?;
        Ok(Some(Failure::hold(
            until,
            "held for ordering (ordering = \"hold\"): waiting for an earlier delivery",
        )))
    }
}

/// What `mode` does with `verdict`, counting `hookbr_stale_total{provider,kind,action}` for a
/// stale delivery.
fn outcome(mode: OrderingMode, event: &WebhookEvent, verdict: Verdict) -> Decision {
    match verdict {
        Verdict::Fresh => Decision::Forward { stale: Some(false) },
        Verdict::Stale => {
            let kind = event.entity().map_or("other", |entity| entity.kind);
            metrics::counter!(
                "hookbr_stale_total",
                "provider" => event.provider().as_str(),
                "kind" => kind,
                "action" => mode.as_str()
            )
            .increment(1);
            if mode == OrderingMode::DropStale {
                Decision::Drop
            } else {
                Decision::Forward { stale: Some(true) }
            }
        }
        _ => Decision::Forward { stale: None },
    }
}
