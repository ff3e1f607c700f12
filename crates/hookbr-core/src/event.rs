//! [`WebhookEvent`], the typed event an application matches on, [`Endpoint`] (which provider a
//! route receives) and [`Verified`], the proof that the pipeline accepted a delivery.

use serde::{Serialize, Serializer};

#[cfg(feature = "bonifiq")]
use crate::bonifiq::BonifiqEvent;
#[cfg(feature = "foody")]
use crate::foody::FoodyEvent;
#[cfg(feature = "grafeno")]
use crate::grafeno::GrafenoEvent;
#[cfg(feature = "iset")]
use crate::iset::{IsetEvent, IsetKind};
use crate::{
    DeliveryId, ParseError, PayloadError, Provider, Request, Timestamp,
    dedup::ClaimToken,
    entity::{Entity, Position},
    verify::MatchedKey,
};

/// What a route receives: a provider and, for iSET, the notification kind (iSET has one URL
/// list per kind and no kind field in its body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// BonifiQ.
    #[cfg(feature = "bonifiq")]
    Bonifiq,
    /// Foody Delivery.
    #[cfg(feature = "foody")]
    Foody,
    /// iSET, for one notification kind.
    #[cfg(feature = "iset")]
    Iset(IsetKind),
    /// Grafeno.
    #[cfg(feature = "grafeno")]
    Grafeno,
}

impl Endpoint {
    /// The provider.
    #[must_use]
    pub fn provider(self) -> Provider {
        match self {
            #[cfg(feature = "bonifiq")]
            Self::Bonifiq => Provider::Bonifiq,
            #[cfg(feature = "foody")]
            Self::Foody => Provider::Foody,
            #[cfg(feature = "iset")]
            Self::Iset(_) => Provider::Iset,
            #[cfg(feature = "grafeno")]
            Self::Grafeno => Provider::Grafeno,
        }
    }

    /// A stable text form for storage and configuration: `bonifiq`, `foody`, `grafeno`, or
    /// `iset:<kind>` (e.g. `iset:order_upserted`).
    #[must_use]
    pub fn to_text(self) -> String {
        match self {
            #[cfg(feature = "iset")]
            Self::Iset(kind) => format!("iset:{kind}"),
            #[allow(unreachable_patterns)]
            other => other.provider().as_str().to_owned(),
        }
    }

    /// Parses [`to_text`](Self::to_text)'s form.
    #[must_use]
    pub fn from_text(text: &str) -> Option<Self> {
        match text.split_once(':') {
            #[cfg(feature = "iset")]
            Some(("iset", kind)) => kind.parse().ok().map(Self::Iset),
            Some(_) => None,
            None => match text.parse::<Provider>().ok()? {
                #[cfg(feature = "bonifiq")]
                Provider::Bonifiq => Some(Self::Bonifiq),
                #[cfg(feature = "foody")]
                Provider::Foody => Some(Self::Foody),
                #[cfg(feature = "grafeno")]
                Provider::Grafeno => Some(Self::Grafeno),
                _ => None,
            },
        }
    }

    /// Whether the provider sends JSON (so a declared non-JSON `Content-Type` is refused).
    #[must_use]
    pub fn requires_json(self) -> bool {
        match self {
            #[cfg(feature = "iset")]
            Self::Iset(_) => false,
            #[allow(unreachable_patterns)]
            _ => true,
        }
    }

    /// The body limit a route of this endpoint gets by default, in bytes: 1 MiB
    /// ([`DEFAULT_BODY_LIMIT`](crate::pipeline::DEFAULT_BODY_LIMIT)) for BonifiQ and iSET,
    /// whose credential is checked on the head before the body is read; 64 KiB
    /// ([`BODY_CREDENTIAL_LIMIT`](crate::pipeline::BODY_CREDENTIAL_LIMIT)) for Foody and
    /// Grafeno, whose token or signature is in the body (their deliveries are a few KiB).
    ///
    /// ```
    /// use hookbr_core::Endpoint;
    ///
    /// assert_eq!(Endpoint::Bonifiq.default_body_limit(), 1024 * 1024);
    /// assert_eq!(Endpoint::Foody.default_body_limit(), 64 * 1024);
    /// ```
    #[must_use]
    pub fn default_body_limit(self) -> usize {
        match self {
            #[cfg(feature = "foody")]
            Self::Foody => crate::pipeline::BODY_CREDENTIAL_LIMIT,
            #[cfg(feature = "grafeno")]
            Self::Grafeno => crate::pipeline::BODY_CREDENTIAL_LIMIT,
            #[allow(unreachable_patterns)]
            _ => crate::pipeline::DEFAULT_BODY_LIMIT,
        }
    }

    /// The HTTP methods accepted by default: `POST`, plus `PUT` for BonifiQ (whose
    /// subscriptions can choose the method).
    #[must_use]
    pub fn default_methods(self) -> &'static [&'static str] {
        match self {
            #[cfg(feature = "bonifiq")]
            Self::Bonifiq => &["POST", "PUT"],
            #[allow(unreachable_patterns)]
            _ => &["POST"],
        }
    }
}

/// A decoded delivery from any provider. Match on it:
///
/// ```
/// use hookbr_core::{WebhookEvent, bonifiq::BonifiqEvent, foody::FoodyEvent};
///
/// fn handle(event: &WebhookEvent) -> String {
///     match event {
///         WebhookEvent::Bonifiq(BonifiqEvent::Envelope(envelope)) => {
///             format!("loyalty {}", envelope.topic.as_str())
///         }
///         WebhookEvent::Foody(FoodyEvent::OrderStatusUpdated(update)) => {
///             format!("order {} is {}", update.uid, update.status)
///         }
///         other => format!("{} {}", other.provider(), other.kind()),
///     }
/// }
/// ```
///
/// Serializes as the provider's own JSON shape, with its wire field names, minus
/// authentication material (Foody's `token`, Grafeno's `signature`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// A BonifiQ delivery.
    #[cfg(feature = "bonifiq")]
    Bonifiq(BonifiqEvent),
    /// A Foody Delivery webhook.
    #[cfg(feature = "foody")]
    Foody(FoodyEvent),
    /// An iSET notification.
    #[cfg(feature = "iset")]
    Iset(IsetEvent),
    /// A Grafeno notification.
    #[cfg(feature = "grafeno")]
    Grafeno(GrafenoEvent),
}

impl WebhookEvent {
    /// Decodes the body of `request`, received on `endpoint`. No authentication happens here:
    /// use a [`Receiver`](crate::Receiver) for that.
    ///
    /// # Errors
    ///
    /// [`ParseError`] when the body is not in the provider's format.
    pub fn decode(endpoint: Endpoint, request: &Request<'_>) -> Result<Self, ParseError> {
        let body = request.body();
        Ok(match endpoint {
            #[cfg(feature = "bonifiq")]
            Endpoint::Bonifiq => Self::Bonifiq(BonifiqEvent::from_slice(body)?),
            #[cfg(feature = "foody")]
            Endpoint::Foody => Self::Foody(FoodyEvent::from_slice(body)?),
            #[cfg(feature = "iset")]
            Endpoint::Iset(kind) => Self::Iset(IsetEvent::from_slice(
                kind,
                request.media_type().as_deref(),
                body,
            )?),
            #[cfg(feature = "grafeno")]
            Endpoint::Grafeno => Self::Grafeno(GrafenoEvent::from_slice(body)?),
        })
    }

    /// The provider.
    #[must_use]
    pub fn provider(&self) -> Provider {
        match self {
            #[cfg(feature = "bonifiq")]
            Self::Bonifiq(_) => Provider::Bonifiq,
            #[cfg(feature = "foody")]
            Self::Foody(_) => Provider::Foody,
            #[cfg(feature = "iset")]
            Self::Iset(_) => Provider::Iset,
            #[cfg(feature = "grafeno")]
            Self::Grafeno(_) => Provider::Grafeno,
        }
    }

    /// The event kind: BonifiQ's topic name (`custom` for custom bodies), Foody's `event`, the
    /// iSET kind, Grafeno's `change` as received.
    #[must_use]
    pub fn kind(&self) -> &str {
        match self {
            #[cfg(feature = "bonifiq")]
            Self::Bonifiq(event) => event.kind(),
            #[cfg(feature = "foody")]
            Self::Foody(event) => event.kind(),
            #[cfg(feature = "iset")]
            Self::Iset(event) => event.kind.as_str(),
            #[cfg(feature = "grafeno")]
            Self::Grafeno(event) => event.change_str(),
        }
    }

    /// Whether hookbr has a typed variant for this kind.
    #[must_use]
    pub fn is_known(&self) -> bool {
        match self {
            #[cfg(feature = "bonifiq")]
            Self::Bonifiq(event) => event.is_known(),
            #[cfg(feature = "foody")]
            Self::Foody(event) => event.is_known(),
            #[cfg(feature = "iset")]
            Self::Iset(_) => true,
            #[cfg(feature = "grafeno")]
            Self::Grafeno(event) => event.is_known(),
        }
    }

    /// When the event occurred, where the provider says: BonifiQ `Timestamp`, Foody
    /// `updateDate`.
    #[must_use]
    pub fn occurred_at(&self) -> Option<Timestamp> {
        match self {
            #[cfg(feature = "bonifiq")]
            Self::Bonifiq(event) => event.occurred_at(),
            #[cfg(feature = "foody")]
            Self::Foody(event) => event.occurred_at(),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The business object this delivery is about (`foody.order`, `bonifiq.customer`, ...),
    /// where the provider's documents give an id for it; see [`entity`](crate::entity).
    #[must_use]
    pub fn entity(&self) -> Option<Entity> {
        match self {
            #[cfg(feature = "bonifiq")]
            Self::Bonifiq(event) => event.entity(),
            #[cfg(feature = "foody")]
            Self::Foody(event) => event.entity(),
            #[cfg(feature = "iset")]
            Self::Iset(event) => event.entity(),
            #[cfg(feature = "grafeno")]
            Self::Grafeno(event) => event.entity(),
        }
    }

    /// Where this delivery stands in its entity's history: the provider's own timestamp and,
    /// for documented lifecycles, the status rank. `None` where the provider gives neither
    /// (iSET, Grafeno registrations); see [`entity`](crate::entity).
    #[must_use]
    pub fn position(&self) -> Option<Position> {
        match self {
            #[cfg(feature = "bonifiq")]
            Self::Bonifiq(event) => event.position(),
            #[cfg(feature = "foody")]
            Self::Foody(event) => event.position(),
            #[cfg(feature = "iset")]
            Self::Iset(event) => event.position(),
            #[cfg(feature = "grafeno")]
            Self::Grafeno(event) => event.position(),
        }
    }

    /// Why a known kind's payload did not fit its type (lenient mode keeps such events).
    #[must_use]
    pub fn drift(&self) -> Option<&PayloadError> {
        match self {
            #[cfg(feature = "bonifiq")]
            Self::Bonifiq(event) => event.drift(),
            #[cfg(feature = "foody")]
            Self::Foody(event) => event.drift(),
            #[cfg(feature = "grafeno")]
            Self::Grafeno(event) => event.drift(),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The provider's delivery id, where one can be derived (see
    /// [`DeliveryId`](crate::DeliveryId)); `request` supplies Grafeno's `x-unique-key`.
    #[must_use]
    pub fn delivery_id(&self, request: &Request<'_>) -> Option<DeliveryId> {
        let _ = request;
        match self {
            #[cfg(feature = "bonifiq")]
            Self::Bonifiq(event) => event.delivery_id(),
            #[cfg(feature = "foody")]
            Self::Foody(event) => event.delivery_id(),
            #[cfg(feature = "iset")]
            Self::Iset(event) => event.delivery_id(),
            #[cfg(feature = "grafeno")]
            Self::Grafeno(_) => GrafenoEvent::delivery_id(request),
        }
    }

    /// The id hookbr deduplicates this delivery on, and whether it is only a digest of the
    /// body (`true` for iSET, which sends no id, and for bodies without one, such as custom
    /// BonifiQ templates): the provider's [`delivery_id`](Self::delivery_id) where it gives
    /// one, else a digest of the body. A digest catches retries but would also merge two real
    /// events with equal bodies, hence the shorter retention of such ids.
    #[must_use]
    pub fn dedup_id(&self, request: &Request<'_>) -> (DeliveryId, bool) {
        let provider = self.provider();
        match self.delivery_id(request) {
            Some(id) if provider != crate::Provider::Iset => (id, false),
            Some(id) => (id, true),
            None => (
                DeliveryId::digest_of(provider, &[b"body", request.body()]),
                true,
            ),
        }
    }

    /// Whether this is a handshake the provider sends to validate the URL (Foody `hook_test`).
    #[must_use]
    pub fn is_handshake(&self) -> bool {
        match self {
            #[cfg(feature = "foody")]
            Self::Foody(FoodyEvent::HookTest(_)) => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

impl Serialize for WebhookEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            #[cfg(feature = "bonifiq")]
            Self::Bonifiq(event) => event.serialize(serializer),
            #[cfg(feature = "foody")]
            Self::Foody(event) => event.serialize(serializer),
            #[cfg(feature = "iset")]
            Self::Iset(event) => event.serialize(serializer),
            #[cfg(feature = "grafeno")]
            Self::Grafeno(event) => event.serialize(serializer),
        }
    }
}

/// An event that passed the whole pipeline: authenticated, decoded, and claimed for processing.
///
/// Only [`Receiver::process`](crate::Receiver::process) constructs it, so a handler that takes a
/// `Verified<_>` cannot be handed an unverified event by mistake.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified<E = WebhookEvent> {
    event: E,
    delivery_id: DeliveryId,
    matched: MatchedKey,
    claim: Option<ClaimToken>,
    synthetic_id: bool,
}

impl<E> Verified<E> {
    pub(crate) fn new(
        event: E,
        delivery_id: DeliveryId,
        matched: MatchedKey,
        claim: Option<ClaimToken>,
        synthetic_id: bool,
    ) -> Self {
        Self {
            event,
            delivery_id,
            matched,
            claim,
            synthetic_id,
        }
    }

    /// Whether the delivery id is only a digest of the body (iSET, custom BonifiQ bodies):
    /// such ids are remembered for a shorter time.
    #[must_use]
    pub fn has_synthetic_id(&self) -> bool {
        self.synthetic_id
    }

    /// The event.
    #[must_use]
    pub fn event(&self) -> &E {
        &self.event
    }

    /// The event, consuming the proof.
    #[must_use]
    pub fn into_event(self) -> E {
        self.event
    }

    /// The delivery id the claim was made for.
    #[must_use]
    pub fn delivery_id(&self) -> &DeliveryId {
        &self.delivery_id
    }

    /// Which configured secret or key authenticated the delivery.
    #[must_use]
    pub fn matched_key(&self) -> &MatchedKey {
        &self.matched
    }

    /// The idempotency claim held for this delivery (`None` without a store).
    #[must_use]
    pub fn claim(&self) -> Option<ClaimToken> {
        self.claim
    }

    /// What settling this delivery's claim needs (a small `Copy` value), so an adapter can hand
    /// the event itself to the application and still settle afterwards.
    #[must_use]
    pub fn settlement(&self) -> Settlement {
        Settlement {
            key: self.delivery_id.key(),
            claim: self.claim,
            synthetic: self.synthetic_id,
        }
    }

    /// Converts the event, keeping the proof and the claim. Meant for narrowing (extractors
    /// that hand a handler a provider's own event type, see [`FromWebhookEvent`]); whatever
    /// `convert` returns is what the holder of the result sees.
    ///
    /// # Errors
    ///
    /// The original `Verified` when `convert` refuses the event.
    pub fn try_map<E2>(
        self,
        convert: impl FnOnce(E) -> Result<E2, E>,
    ) -> Result<Verified<E2>, Self> {
        let Self {
            event,
            delivery_id,
            matched,
            claim,
            synthetic_id,
        } = self;
        match convert(event) {
            Ok(event) => Ok(Verified {
                event,
                delivery_id,
                matched,
                claim,
                synthetic_id,
            }),
            Err(event) => Err(Self {
                event,
                delivery_id,
                matched,
                claim,
                synthetic_id,
            }),
        }
    }
}

/// The claim of one verified delivery, for [`Receiver::settle`](crate::Receiver::settle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    pub(crate) key: crate::DedupKey,
    pub(crate) claim: Option<ClaimToken>,
    pub(crate) synthetic: bool,
}

/// Event types a [`WebhookEvent`] can be narrowed to: `WebhookEvent` itself and each provider's
/// event (`BonifiqEvent`, `FoodyEvent`, `IsetEvent`, `GrafenoEvent`).
pub trait FromWebhookEvent: Sized {
    /// The narrowed event, or the original when it is another provider's.
    ///
    /// # Errors
    ///
    /// The original event when it does not belong to `Self`.
    fn from_webhook_event(event: WebhookEvent) -> Result<Self, WebhookEvent>;
}

impl FromWebhookEvent for WebhookEvent {
    fn from_webhook_event(event: WebhookEvent) -> Result<Self, WebhookEvent> {
        Ok(event)
    }
}

macro_rules! narrow {
    ($($feature:literal, $variant:ident, $ty:ty;)*) => {$(
        #[cfg(feature = $feature)]
        impl FromWebhookEvent for $ty {
            fn from_webhook_event(event: WebhookEvent) -> Result<Self, WebhookEvent> {
                match event {
                    WebhookEvent::$variant(event) => Ok(event),
                    #[allow(unreachable_patterns)]
                    other => Err(other),
                }
            }
        }
    )*};
}

narrow! {
    "bonifiq", Bonifiq, BonifiqEvent;
    "foody", Foody, FoodyEvent;
    "iset", Iset, IsetEvent;
    "grafeno", Grafeno, GrafenoEvent;
}

impl<E> std::ops::Deref for Verified<E> {
    type Target = E;

    fn deref(&self) -> &E {
        &self.event
    }
}
