//! The business object behind a delivery ([`Entity`]) and where the delivery stands in that
//! object's history ([`Position`]).
//!
//! Providers send one delivery per change of an order, a customer, a registration, a charge;
//! deliveries arrive out of order (retries, parallel sends). [`WebhookEvent::entity`] names the
//! object (`foody.order` `4228df3a-…`) and [`WebhookEvent::position`] gives what the provider
//! says about order: its own timestamp (Foody `updateDate`, BonifiQ `Timestamp`, Grafeno charge
//! `updatedAt`) and, where the documents define a lifecycle (Foody orders), the status rank.
//! Where a provider gives no id or no timestamp the answer is `None`: hookbr does not invent an
//! order. docs/ENTITIES.md lists every rule with its source.
//!
//! ```
//! use hookbr_core::{Endpoint, Request, WebhookEvent};
//!
//! let dispatched = br#"{"uid":"4228df3a-a54a-40d7-b30f-1385eca4c3dd","updateDate":"2020-06-19T17:42:12Z",
//!   "event":"order_status_updated","token":"t","status":"dispatched"}"#;
//! let delivered = br#"{"uid":"4228df3a-a54a-40d7-b30f-1385eca4c3dd","updateDate":"2020-06-19T17:58:40Z",
//!   "event":"order_status_updated","token":"t","status":"delivered"}"#;
//! let first = WebhookEvent::decode(Endpoint::Foody, &Request::new(dispatched))?;
//! let second = WebhookEvent::decode(Endpoint::Foody, &Request::new(delivered))?;
//!
//! let entity = first.entity().unwrap();
//! assert_eq!((entity.kind, entity.id.as_str()), ("foody.order", "4228df3a-a54a-40d7-b30f-1385eca4c3dd"));
//! assert_eq!(second.entity(), first.entity());
//! assert!(first.position().unwrap().precedes(&second.position().unwrap()));
//! # Ok::<(), hookbr_core::ParseError>(())
//! ```
//!
//! [`WebhookEvent::entity`]: crate::WebhookEvent::entity
//! [`WebhookEvent::position`]: crate::WebhookEvent::position

use std::cmp::Ordering;

use serde::Serialize;

use crate::Timestamp;

/// `foody.order`: a Foody Delivery order, keyed by `uid`.
pub const FOODY_ORDER: &str = "foody.order";
/// `bonifiq.customer`: a BonifiQ loyalty customer, keyed by `Payload.Customer.Id`.
pub const BONIFIQ_CUSTOMER: &str = "bonifiq.customer";
/// `grafeno.registration`: a Grafeno registration (*cadastro*), keyed by `data.id`.
pub const GRAFENO_REGISTRATION: &str = "grafeno.registration";
/// `grafeno.charge`: a Grafeno charge (*cobrança*), keyed by `data.uuid`.
pub const GRAFENO_CHARGE: &str = "grafeno.charge";
/// `iset.order`: an iSET order (order created/changed/removed).
pub const ISET_ORDER: &str = "iset.order";
/// `iset.product`: an iSET product (product created/changed/removed).
pub const ISET_PRODUCT: &str = "iset.product";
/// `iset.stock`: an iSET product's stock (stock changed), keyed by the product id.
pub const ISET_STOCK: &str = "iset.stock";
/// `iset.category`: an iSET category (category created/changed/removed).
pub const ISET_CATEGORY: &str = "iset.category";

/// Every entity kind hookbr knows.
pub const KINDS: [&str; 8] = [
    FOODY_ORDER,
    BONIFIQ_CUSTOMER,
    GRAFENO_REGISTRATION,
    GRAFENO_CHARGE,
    ISET_ORDER,
    ISET_PRODUCT,
    ISET_STOCK,
    ISET_CATEGORY,
];

/// The business object a delivery is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct Entity {
    /// What kind of object: one of [`KINDS`] (`foody.order`, `bonifiq.customer`, ...).
    pub kind: &'static str,
    /// Its id, as the provider sent it (numbers as their decimal text).
    pub id: String,
}

impl Entity {
    /// An entity of `kind` with `id`; `None` when `id` is empty or blank.
    #[must_use]
    pub fn new(kind: &'static str, id: impl Into<String>) -> Option<Self> {
        let id = id.into();
        (!id.trim().is_empty()).then_some(Self { kind, id })
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// Where a delivery stands in its entity's history, from what the provider sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct Position {
    /// The provider's own time of the change (Foody `updateDate`, BonifiQ `Timestamp`, Grafeno
    /// charge `updatedAt`).
    pub at: Option<Timestamp>,
    /// The status's rank in a documented lifecycle (Foody: `open` 0, `ready` 1, `dispatched` 2,
    /// `delivered` 3, `closed`/`cancelled` 4); `None` without one or for an unknown status.
    pub rank: Option<u8>,
    /// Whether the status ends the lifecycle (Foody `closed`, `cancelled`).
    pub terminal: bool,
}

impl Position {
    /// A position; `None` when it has neither a time nor a rank (nothing to order by).
    #[must_use]
    pub fn new(at: Option<Timestamp>, rank: Option<u8>, terminal: bool) -> Option<Self> {
        (at.is_some() || rank.is_some()).then_some(Self { at, rank, terminal })
    }

    /// How two deliveries of one entity are ordered: by time when both have one and the times
    /// differ; else by rank when both have one; else equal when both times are equal; else
    /// `None` (not comparable: hookbr does not guess).
    ///
    /// ```
    /// use hookbr_core::{Timestamp, entity::Position};
    /// use std::cmp::Ordering;
    ///
    /// let at = |t: &str| Some(Timestamp::parse(t).unwrap());
    /// let dispatched = Position::new(at("2020-06-19T17:42:12Z"), Some(2), false).unwrap();
    /// let delivered = Position::new(at("2020-06-19T17:58:40Z"), Some(3), false).unwrap();
    /// let same_second = Position::new(at("2020-06-19T17:42:12Z"), Some(3), false).unwrap();
    /// assert_eq!(dispatched.compare(&delivered), Some(Ordering::Less));
    /// // Same time: the lifecycle decides.
    /// assert_eq!(dispatched.compare(&same_second), Some(Ordering::Less));
    /// ```
    #[must_use]
    pub fn compare(&self, other: &Self) -> Option<Ordering> {
        if let (Some(a), Some(b)) = (self.at, other.at) {
            if a != b {
                return Some(a.cmp(&b));
            }
        }
        match (self.rank, other.rank) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => (self.at.is_some() && self.at == other.at).then_some(Ordering::Equal),
        }
    }

    /// Whether this position comes strictly before `other`.
    #[must_use]
    pub fn precedes(&self, other: &Self) -> bool {
        self.compare(other) == Some(Ordering::Less)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<Timestamp> {
        Some(Timestamp::parse(text).unwrap())
    }

    #[test]
    fn compare() {
        let early = Position::new(at("2024-01-01T00:00:00Z"), None, false).unwrap();
        let late = Position::new(at("2024-01-01T00:00:01Z"), None, false).unwrap();
        let ranked = Position::new(None, Some(1), false).unwrap();
        assert_eq!(early.compare(&late), Some(Ordering::Less));
        assert_eq!(late.compare(&early), Some(Ordering::Greater));
        assert_eq!(early.compare(&early), Some(Ordering::Equal));
        assert_eq!(early.compare(&ranked), None);
        assert_eq!(ranked.compare(&ranked), Some(Ordering::Equal));
        assert!(Position::new(None, None, true).is_none());
        assert!(Entity::new(FOODY_ORDER, " ").is_none());
    }
}
