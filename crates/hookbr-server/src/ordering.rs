//! The ordering guard of `hookbr serve` (`ordering` in `[[endpoint]]`, docs/ENTITIES.md):
//! the latest position per entity (shared by direct mode and the worker, kept across
//! reloads), and the deliveries the worker holds back with `ordering = "hold"`.

use std::{
    collections::HashMap,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering as AtomicOrdering},
    },
    time::Duration,
};

use hookbr_core::{
    WebhookEvent,
    entity::{Entity, Position},
    inbox::now_ms,
    ordering::{Guard, OrderingMode, Verdict},
};

/// How often a held delivery looks again whether it may go.
const HOLD_POLL: Duration = Duration::from_millis(20);

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
    guard: Guard,
    /// The deliveries being held or forwarded under `hold`, per entity: (ticket, position).
    held: Mutex<HashMap<Entity, Vec<(u64, Position)>>>,
    tickets: AtomicU64,
}

/// Removes a held delivery from [`Ordering::held`] when dropped (forwarded, failed or
/// cancelled alike).
#[derive(Debug)]
pub(crate) struct Release<'a> {
    ordering: &'a Ordering,
    entity: Entity,
    ticket: u64,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let mut held = self
            .ordering
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(list) = held.get_mut(&self.entity) {
            list.retain(|(ticket, _)| *ticket != self.ticket);
            if list.is_empty() {
                held.remove(&self.entity);
            }
        }
    }
}

impl Ordering {
    /// Judges `event` under `mode`, counts `hookbr_stale_total{provider,kind,action}` for a
    /// stale one, and says what to do.
    pub(crate) fn decide(&self, mode: OrderingMode, event: &WebhookEvent) -> Decision {
        if mode == OrderingMode::Off {
            return Decision::Forward { stale: None };
        }
        match self.guard.check(event) {
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

    /// `hold`: waits until `event` is the lowest position of its entity among the deliveries
    /// held, and either it is the next status of a documented lifecycle or `hold_for` has
    /// passed since it was received; never past twice `hold_for` after it was received. The
    /// returned [`Release`] keeps it in the held set until it is dropped (after forwarding), so
    /// the next one waits for it.
    pub(crate) async fn hold(
        &self,
        event: &WebhookEvent,
        received_at_ms: i64,
        hold_for: Duration,
    ) -> Option<Release<'_>> {
        let (Some(entity), Some(position)) = (event.entity(), event.position()) else {
            return None;
        };
        let ticket = self.tickets.fetch_add(1, AtomicOrdering::Relaxed);
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(entity.clone())
            .or_default()
            .push((ticket, position));
        let release = Release {
            ordering: self,
            entity,
            ticket,
        };
        let hold_ms = i64::try_from(hold_for.as_millis()).unwrap_or(i64::MAX);
        let due = received_at_ms.saturating_add(hold_ms);
        let last = due.saturating_add(hold_ms);
        loop {
            let now = now_ms();
            if now >= last || self.may_go(&release.entity, ticket, &position, now >= due) {
                return Some(release);
            }
            let wait = u64::try_from(last.saturating_sub(now)).unwrap_or(0);
            tokio::time::sleep(HOLD_POLL.min(Duration::from_millis(wait.max(1)))).await;
        }
    }

    /// Whether held delivery `ticket` at `position` may be forwarded: no other held delivery
    /// of the entity comes before it (or is forwarding at the same position), and it is due or
    /// is the lifecycle's next status after the latest forwarded one.
    fn may_go(&self, entity: &Entity, ticket: u64, position: &Position, due: bool) -> bool {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let blocked = held.get(entity).is_some_and(|list| {
            list.iter().any(|(other, at)| {
                *other != ticket
                    && (at.precedes(position)
                        || (*other < ticket && at.compare(position).is_some_and(|o| o.is_eq())))
            })
        });
        if blocked {
            return false;
        }
        due || self.guard.is_next(entity, position)
    }
}
