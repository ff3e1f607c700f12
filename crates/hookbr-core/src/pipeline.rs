//! The receive pipeline: one [`Receiver`] per route, and the only place webhook policy lives.
//!
//! [`Receiver::process`] runs, in order:
//!
//! 1. **Head** — method allowed (`405`), no `Content-Encoding` other than `identity` and no
//!    `Transfer-Encoding` other than `chunked`/`identity`, in any copy of the header (`415`),
//!    declared `Content-Type` is JSON where the provider sends JSON (`415`), `Content-Length`
//!    within the body limit (`413`), then the credential when it is in the head (BonifiQ's
//!    header secret, iSET's URL secret: `401`, see [`Verify::verify_head`]). Adapters call
//!    [`Receiver::check_head`] before reading the body, so an oversized or unauthenticated
//!    body is never read, then [`Receiver::accept`] for the remaining steps.
//! 2. **Size** — the body read is within the limit (`413`). The default limit is the
//!    endpoint's ([`Endpoint::default_body_limit`]): 1 MiB where the credential is in the head,
//!    64 KiB where it is in the body (Foody, Grafeno), so an unauthenticated client can make the
//!    server read at most that much.
//! 3. **Authenticate** — the verifier on the bytes as received (`401`; `400` when the body had to
//!    be parsed to find a token or signature and is not the provider's format).
//! 4. **Decode** — into a [`WebhookEvent`] (`400`); in strict mode a drifted payload is `422`.
//! 5. **Handshake** — Foody `hook_test` is answered `200` here unless forwarded.
//! 6. **Delivery id** — per provider; a digest of the body when the provider gives none. Its
//!    key is namespaced by the route ([`ReceiverBuilder::dedup_namespace`]).
//! 7. **Signature ledger** — Grafeno only (its signature covers `x-unique-key`, not the
//!    body): the first body seen under a delivery key is remembered for 400 days; the same key
//!    with another body is refused `401` (`signature_reused`) before anything is stored or
//!    claimed ([`ledger`](crate::ledger)).
//! 8. **Claim** — `409` for a copy in flight, `200` + `Hookbr-Duplicate` for a completed one,
//!    `503` when the store is unavailable. In inbox mode ([`ReceiverBuilder::inbox`]) the claim
//!    is the durable insert: `200` once committed, `200` + `Hookbr-Duplicate` for a stored copy,
//!    `503` when the inbox is unavailable.
//! 9. **Handler and settlement** — the application runs; a 2xx completes the claim and is
//!    answered exactly `200` (Foody treats 201/204 as errors), anything else, an error or a
//!    panic releases it so the provider's retry is processed (a panic is answered `500`).
//!
//! The result of steps 1-8 is a [`Verified`] event for the application, or an [`Answer`]
//! that already knows its HTTP status: an acknowledgement ([`Ack`]: stored, duplicate,
//! handshake) or a refusal ([`Rejection`]).
//!
//! Framework adapters drive the whole flow without any webhook policy of their own:
//! [`check_head`](Receiver::check_head) before reading the body, [`accept`](Receiver::accept)
//! after, then [`Accepted::into_parts`] to hand the event over and [`Pending::finish`] with
//! what the handler did ([`HandlerOutcome`]); the returned [`Finish`] says which status to
//! send and the request's [`Outcome`]. Code that calls its handler itself can use
//! [`process`](Receiver::process), then [`complete`](Receiver::complete) or
//! [`release`](Receiver::release).
//!
//! ```
//! use hookbr_core::{Endpoint, Receiver, Request, Secret, WebhookEvent, verify::HeaderSecretVerifier};
//! # futures_executor::block_on(async {
//! let receiver = Receiver::builder(
//!     Endpoint::Bonifiq,
//!     HeaderSecretVerifier::bonifiq([Secret::new("s3cr3t")?])?,
//! )
//! .build()?;
//!
//! let body = br#"{"Uuid":"f47ac10b-58cc-4372-a567-0e02b2c3d479","Timestamp":"2025-04-15T14:30:00.123Z",
//!   "Topic":"Communication_EarnPurchasePoints","Payload":{"EarnedPoints":50,"ObjectiveType":0,"Customer":{}}}"#;
//! let headers = [("X-Loyalty-Secret", "s3cr3t"), ("Content-Type", "application/json")];
//! let request = Request::new(body).with_headers(&headers);
//!
//! let verified = receiver.process(&request).await.expect("authentic");
//! assert_eq!(verified.kind(), "Communication_EarnPurchasePoints");
//! receiver.complete(&verified).await?;
//!
//! let again = receiver.process(&request).await.unwrap_err();
//! assert_eq!((again.status(), again.category()), (200, "duplicate"));
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
//!
//! The same flow as an adapter drives it:
//!
//! ```
//! use std::sync::Arc;
//! use hookbr_core::{Endpoint, HandlerOutcome, Outcome, Receiver, Request, Secret, verify::HeaderSecretVerifier};
//! # futures_executor::block_on(async {
//! let receiver = Arc::new(
//!     Receiver::builder(Endpoint::Bonifiq, HeaderSecretVerifier::bonifiq([Secret::new("s3cr3t")?])?)
//!         .build()?,
//! );
//! # let body = br#"{"Uuid":"f47ac10b-58cc-4372-a567-0e02b2c3d479","Timestamp":"2025-04-15T14:30:00.123Z",
//! #   "Topic":"Communication_EarnPurchasePoints","Payload":{"EarnedPoints":50,"ObjectiveType":0,"Customer":{}}}"#;
//! let headers = [("X-Loyalty-Secret", "s3cr3t")];
//! let head = Request::new(&[]).with_method("POST").with_headers(&headers);
//! receiver.check_head(&head).expect("the head is fine"); // before reading the body
//! let accepted = receiver.clone().accept(&head.with_body(body)).await.expect("authentic");
//! let (verified, pending) = accepted.into_parts();
//! assert_eq!(verified.kind(), "Communication_EarnPurchasePoints");
//! // ... the application answers 204 ...
//! let finish = pending.finish(HandlerOutcome::Status(204)).await;
//! assert_eq!((finish.status(), finish.outcome()), (200, Outcome::Processed));
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

use std::{fmt, future::Future, sync::Arc, time::Duration};

use crate::{
    Ack, Answer, ConfigError, Endpoint, Outcome, Rejection, RejectionKind, Request, Settlement,
    Verified, WebhookEvent,
    dedup::{Claim, IdempotencyStore, MemoryStore, StoreError},
    inbox::{Inbox, InboxRecord, Inserted},
    ledger::{BodyFingerprint, LEDGER_RETENTION, MemoryLedger, Seen, SignatureLedger},
    verify::{AnyVerifier, MatchedKey, Verify},
};

/// The default body limit of endpoints authenticated on the head (BonifiQ, iSET): 1 MiB. A
/// request without their credential is refused before its body is read.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default body limit of endpoints whose credential is in the body (Foody's token,
/// Grafeno's signature): 64 KiB, so an unauthenticated client can make the server read no more
/// than that. Their deliveries are a few KiB.
pub const BODY_CREDENTIAL_LIMIT: usize = 64 * 1024;
/// The request headers kept with a stored delivery: what decoding needs again. Secret headers
/// are never stored.
const DECODE_HEADERS: [&str; 2] = ["content-type", "x-unique-key"];

/// The default claim lease: 60 s (Foody gives up after 10 s and BonifiQ after 30 s, so a
/// handler still running after a minute has lost its caller).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// The default retention of completed deliveries: 7 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default retention of deliveries identified only by a digest of their body (iSET, custom
/// BonifiQ bodies): 1 hour, enough for retries without merging two real events that happen to
/// have the same body a day apart.
pub const DEFAULT_SYNTHETIC_RETENTION: Duration = Duration::from_secs(3600);

/// Runs the pipeline for one route. See the module docs.
///
/// Cheap to share: wrap it in an `Arc` (the adapters do).
pub struct Receiver<V = AnyVerifier> {
    endpoint: Endpoint,
    verifier: V,
    body_limit: usize,
    strict: bool,
    methods: Vec<String>,
    forward_handshakes: bool,
    exact_200: bool,
    lease: Duration,
    retention: Duration,
    synthetic_retention: Duration,
    dedup_namespace: Option<Arc<str>>,
    store: Option<Arc<dyn IdempotencyStore>>,
    inbox: Option<Arc<dyn Inbox>>,
    /// The signature ledger kept when the store (or inbox) keeps none; `None` for endpoints
    /// whose credential needs no ledger.
    ledger: Option<Arc<dyn SignatureLedger>>,
}

impl<V> fmt::Debug for Receiver<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("endpoint", &self.endpoint)
            .field("body_limit", &self.body_limit)
            .field("strict", &self.strict)
            .field("methods", &self.methods)
            .field("forward_handshakes", &self.forward_handshakes)
            .field("exact_200", &self.exact_200)
            .field("lease", &self.lease)
            .field("retention", &self.retention)
            .field("synthetic_retention", &self.synthetic_retention)
            .field("dedup_namespace", &self.dedup_namespace)
            .field("store", &self.store)
            .field("inbox", &self.inbox)
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Receiver`]; every setting is checked in [`build`](Self::build).
#[must_use]
pub struct ReceiverBuilder<V> {
    receiver: Receiver<V>,
}

impl<V> fmt::Debug for ReceiverBuilder<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.receiver.fmt(f)
    }
}

impl<V: Verify> Receiver<V> {
    /// Starts a receiver for `endpoint`, authenticated by `verifier`. Defaults: the
    /// endpoint's body limit ([`Endpoint::default_body_limit`]: 1 MiB, 64 KiB for Foody and
    /// Grafeno), lenient decoding, the endpoint's default methods, `hook_test` answered by
    /// hookbr, an in-memory idempotency store, 60 s leases, 7-day retention, no
    /// deduplication namespace beyond the provider.
    pub fn builder(endpoint: Endpoint, verifier: V) -> ReceiverBuilder<V> {
        ReceiverBuilder {
            receiver: Self {
                endpoint,
                verifier,
                body_limit: endpoint.default_body_limit(),
                strict: false,
                methods: endpoint
                    .default_methods()
                    .iter()
                    .map(|method| (*method).to_owned())
                    .collect(),
                forward_handshakes: false,
                exact_200: true,
                lease: DEFAULT_LEASE,
                retention: DEFAULT_RETENTION,
                synthetic_retention: DEFAULT_SYNTHETIC_RETENTION,
                dedup_namespace: None,
                store: Some(Arc::new(MemoryStore::new())),
                inbox: None,
                ledger: keeps_body_fingerprints(endpoint)
                    .then(|| Arc::new(MemoryLedger::new()) as Arc<dyn SignatureLedger>),
            },
        }
    }
}

impl<V> ReceiverBuilder<V> {
    /// The largest body accepted, in bytes (default: [`Endpoint::default_body_limit`], 1 MiB
    /// for BonifiQ and iSET, 64 KiB for Foody and Grafeno).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.receiver.body_limit = bytes;
        self
    }

    /// Strict mode: a known kind whose payload does not fit its type is refused with `422`
    /// instead of being delivered with the raw JSON (default off).
    pub fn strict(mut self, strict: bool) -> Self {
        self.receiver.strict = strict;
        self
    }

    /// The HTTP methods accepted (others get `405`).
    pub fn methods<S: Into<String>>(mut self, methods: impl IntoIterator<Item = S>) -> Self {
        self.receiver.methods = methods
            .into_iter()
            .map(|method| method.into().trim().to_ascii_uppercase())
            .collect();
        self
    }

    /// Hand Foody `hook_test` handshakes to the application instead of answering them in the
    /// pipeline (default off).
    pub fn forward_handshakes(mut self, forward: bool) -> Self {
        self.receiver.forward_handshakes = forward;
        self
    }

    /// Whether a 2xx answer of the handler is sent as exactly `200` (default `true`: Foody
    /// treats 201 and 204 as failures).
    pub fn exact_200(mut self, exact: bool) -> Self {
        self.receiver.exact_200 = exact;
        self
    }

    /// The idempotency store (default: a [`MemoryStore`] per receiver). Share one store between
    /// receivers, or use a durable one from hookbr-store.
    pub fn store(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.receiver.store = Some(store);
        self
    }

    /// Inbox mode: store each verified delivery in `inbox` and answer `200` once it is
    /// committed (a copy of a stored delivery is answered as a duplicate); workers run the
    /// application's handler later. The idempotency store is not used in this mode: the
    /// inbox's unique delivery key is the claim.
    pub fn inbox(mut self, inbox: Arc<dyn Inbox>) -> Self {
        self.receiver.inbox = Some(inbox);
        self
    }

    /// The signature ledger used when the store (or inbox) keeps none (default: a
    /// [`MemoryLedger`] per Grafeno receiver, lost on restart; other endpoints need none and
    /// ignore it). See [`ledger`](crate::ledger).
    pub fn signature_ledger(mut self, ledger: Arc<dyn SignatureLedger>) -> Self {
        if keeps_body_fingerprints(self.receiver.endpoint) {
            self.receiver.ledger = Some(ledger);
        }
        self
    }

    /// No deduplication: every authentic delivery reaches the application. Grafeno's
    /// signature ledger is still kept (in memory): it is authentication, not deduplication.
    pub fn without_store(mut self) -> Self {
        self.receiver.store = None;
        self
    }

    /// How long a claim protects a delivery being processed (default 60 s).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.receiver.lease = lease;
        self
    }

    /// How long a completed delivery is remembered (default 7 days).
    pub fn retention(mut self, retention: Duration) -> Self {
        self.receiver.retention = retention;
        self
    }

    /// How long a completed delivery whose id is only a digest of its body (iSET, custom
    /// BonifiQ bodies) is remembered (default 1 hour).
    pub fn synthetic_id_retention(mut self, retention: Duration) -> Self {
        self.receiver.synthetic_retention = retention;
        self
    }

    /// The deduplication namespace: delivery keys are a digest of the provider, this
    /// namespace and the delivery id, so receivers that share a store (or an inbox) only
    /// answer each other's deliveries as duplicates when they share a namespace. Default: none
    /// (the provider's namespace); [`Webhooks`](crate::Webhooks) gives each route its path.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use hookbr_core::{Endpoint, MemoryStore, Receiver, Request, Secret, verify::HeaderSecretVerifier};
    /// # futures_executor::block_on(async {
    /// let store = Arc::new(MemoryStore::new());
    /// let tenant = |namespace: &str| {
    ///     let verifier = HeaderSecretVerifier::bonifiq([Secret::new("s3cr3t")?])?;
    ///     Receiver::builder(Endpoint::Bonifiq, verifier)
    ///         .store(store.clone())
    ///         .dedup_namespace(namespace)
    ///         .build()
    /// };
    /// let (a, b) = (tenant("tenant-a")?, tenant("tenant-b")?);
    /// let body = br#"{"Uuid":"f47ac10b-58cc-4372-a567-0e02b2c3d479","Timestamp":"2025-04-15T14:30:00Z",
    ///   "Topic":"Point_Add","Payload":{}}"#;
    /// let headers = [("X-Loyalty-Secret", "s3cr3t")];
    /// let delivery = Request::new(body).with_headers(&headers);
    /// a.complete(&a.process(&delivery).await.expect("new for tenant a")).await?;
    /// let for_b = b.process(&delivery).await.expect("not a duplicate for tenant b");
    /// assert_eq!(for_b.delivery_id().namespace(), Some("tenant-b"));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn dedup_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.receiver.dedup_namespace = Some(namespace.into().into());
        self
    }

    /// Checks the settings and returns the receiver.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroBodyLimit`], [`ConfigError::NoMethods`],
    /// [`ConfigError::ZeroDuration`].
    pub fn build(self) -> Result<Receiver<V>, ConfigError> {
        let receiver = self.receiver;
        if receiver.body_limit == 0 {
            return Err(ConfigError::ZeroBodyLimit);
        }
        if receiver
            .methods
            .iter()
            .all(|method| method.trim().is_empty())
        {
            return Err(ConfigError::NoMethods);
        }
        if receiver.lease.is_zero()
            || receiver.retention.is_zero()
            || receiver.synthetic_retention.is_zero()
        {
            // A zero lease would let concurrent copies through; zero retention would forget
            // every delivery at once. `without_store` is the way to turn deduplication off.
            return Err(ConfigError::ZeroDuration);
        }
        Ok(receiver)
    }
}

impl<V: Verify> Receiver<V> {
    /// The route's endpoint.
    #[must_use]
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// The body limit in bytes.
    #[must_use]
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// The verifier.
    #[must_use]
    pub fn verifier(&self) -> &V {
        &self.verifier
    }

    /// The deduplication namespace, if any ([`ReceiverBuilder::dedup_namespace`]).
    #[must_use]
    pub fn dedup_namespace(&self) -> Option<&str> {
        self.dedup_namespace.as_deref()
    }

    /// Checks what can be checked before the body is read: method, `Content-Encoding` and
    /// `Transfer-Encoding` (every copy), `Content-Type`, `Content-Length`, then the credential
    /// when it is in the head ([`Verify::verify_head`]: BonifiQ's header secret, iSET's URL
    /// secret). The body of `head` is ignored.
    ///
    /// # Errors
    ///
    /// The [`Rejection`] to answer with (`405`, `415`, `413` or `401`).
    ///
    /// The [`HeadChecked`] it returns lets [`accept_checked`](Self::accept_checked) skip the
    /// credential check when the head already decided it.
    pub fn check_head(&self, head: &Request<'_>) -> Result<HeadChecked, Rejection> {
        self.head_checks(head, None)
    }

    /// [`check_head`](Self::check_head), with the body's length when it is already known
    /// ([`process`](Self::process)): an oversized body is then `413` before the head's
    /// credential is looked at, as a declared `Content-Length` would be.
    fn head_checks(
        &self,
        head: &Request<'_>,
        body_len: Option<usize>,
    ) -> Result<HeadChecked, Rejection> {
        if !self.methods.iter().any(|method| method == head.method()) {
            return Err(RejectionKind::MethodNotAllowed {
                allowed: self.methods.clone(),
            }
            .into());
        }
        // No provider compresses its deliveries; refusing encoded bodies up front also keeps
        // decompression (and its size amplification) out of the receive path. Every copy of
        // the header counts: a proxy or framework may honour another copy than the first.
        if head.declares_coding() {
            return Err(RejectionKind::UnsupportedMediaType.into());
        }
        if self.endpoint.requires_json() && head.declares_json() == Some(false) {
            return Err(RejectionKind::UnsupportedMediaType.into());
        }
        // Every copy counts here too (HTTP servers refuse copies that differ, but a
        // `HeaderSource` need not be one).
        let within_limit = head.every_value("content-length", |value| {
            std::str::from_utf8(value)
                .ok()
                .and_then(|value| value.trim().parse::<u64>().ok())
                .is_none_or(|length| length <= self.body_limit as u64)
        });
        if !within_limit || body_len.is_some_and(|length| length > self.body_limit) {
            return Err(self.too_large());
        }
        // A credential in the head is checked before a byte of the body is read; the pipeline
        // verifies the whole request again after the body (`accept` cannot know whether this
        // ran).
        match self.verifier.verify_head(head) {
            Some(Err(error)) => Err(error.into()),
            Some(Ok(matched)) => Ok(HeadChecked {
                matched: Some(matched),
            }),
            None => Ok(HeadChecked { matched: None }),
        }
    }

    /// The rejection for a body over the limit (for adapters that detect it while streaming).
    #[must_use]
    pub fn too_large(&self) -> Rejection {
        RejectionKind::PayloadTooLarge {
            limit: self.body_limit,
        }
        .into()
    }

    /// Runs steps 1-8 on a delivery (see the module docs); the caller runs its handler, then
    /// [`complete`](Self::complete)s or [`release`](Self::release)s.
    ///
    /// # Errors
    ///
    /// The [`Answer`] to send instead of calling the application: an acknowledgement
    /// (duplicate, stored, handshake: `200`) or a refusal.
    pub async fn process(&self, request: &Request<'_>) -> Result<Verified, Answer> {
        let head = self.head_checks(request, Some(request.body().len()))?;
        let (verified, _) = self.after_head(request, head.matched).await?;
        Ok(verified)
    }

    /// Steps 2-8 for adapters that have run [`check_head`](Self::check_head) on this request's
    /// head before reading the body: the head checks are not repeated. The [`Accepted`]
    /// delivery holds the claim until [`Pending::finish`] settles it (or releases it when
    /// dropped, e.g. when the client hangs up).
    ///
    /// # Errors
    ///
    /// As [`process`](Self::process), except for the head checks' `405`, `415` and declared-size
    /// `413`, which are the caller's to have answered.
    pub async fn accept(self: Arc<Self>, request: &Request<'_>) -> Result<Accepted<V>, Answer> {
        self.accept_checked(HeadChecked { matched: None }, request)
            .await
    }

    /// [`accept`](Self::accept) for the request whose head [`check_head`](Self::check_head)
    /// passed with `head`: when that check already matched the credential (a header or URL
    /// secret, [`Verify::verify_head`]), it is not compared a second time. `request` must be
    /// the request whose head was checked, now with its body.
    ///
    /// # Errors
    ///
    /// As [`accept`](Self::accept).
    pub async fn accept_checked(
        self: Arc<Self>,
        head: HeadChecked,
        request: &Request<'_>,
    ) -> Result<Accepted<V>, Answer> {
        let (verified, settlement) = self.after_head(request, head.matched).await?;
        Ok(Accepted {
            verified,
            pending: Pending::new(self, settlement),
        })
    }

    /// Steps 2-8. `matched` is the credential [`Verify::verify_head`] matched on this request's
    /// head, if it decided there: a verifier's head answer is what `verify` would answer too
    /// (the trait's contract), so it is not computed twice.
    async fn after_head(
        &self,
        request: &Request<'_>,
        matched: Option<MatchedKey>,
    ) -> Result<(Verified, Settlement), Answer> {
        if request.body().len() > self.body_limit {
            return Err(self.too_large().into());
        }
        let matched = match matched {
            Some(matched) => matched,
            None => self.verifier.verify(request)?,
        };
        let event = WebhookEvent::decode(self.endpoint, request)?;
        if self.strict {
            if let Some(drift) = event.drift() {
                return Err(RejectionKind::PayloadMismatch(drift.clone()).into());
            }
        }
        if event.is_handshake() && !self.forward_handshakes {
            return Err(Ack::Handshake.into());
        }
        let (delivery_id, synthetic) = event.dedup_id(request);
        let delivery_id = delivery_id.in_namespace(self.dedup_namespace.clone());
        let key = delivery_id.key();
        self.check_signature_reuse(key, request.body(), &delivery_id)
            .await?;
        #[cfg(feature = "tracing")]
        {
            // Fills the fields a surrounding span declared (hookbr-tower's `delivery` span);
            // a no-op otherwise.
            let span = tracing::Span::current();
            span.record("kind", event.kind());
            span.record("delivery_id", delivery_id.as_str());
        }
        if let Some(inbox) = &self.inbox {
            // Foody's token authenticated the delivery; the copy at rest does not keep it.
            #[cfg(feature = "foody")]
            let body = match self.endpoint.provider() {
                crate::Provider::Foody => crate::foody::redact_token(request.body()),
                _ => request.body().to_vec(),
            };
            #[cfg(not(feature = "foody"))]
            let body = request.body().to_vec();
            let record = InboxRecord::new(
                self.endpoint.to_text(),
                delivery_id.as_str().to_owned(),
                key,
                body,
                DECODE_HEADERS
                    .iter()
                    .filter_map(|name| {
                        let value = std::str::from_utf8(request.header(name)?).ok()?;
                        Some(((*name).to_owned(), value.to_owned()))
                    })
                    .collect(),
                matched.to_string(),
                crate::inbox::now_ms(),
            )
            .noted(&event);
            return Err(match inbox.insert(record).await? {
                Inserted::New(_) => Ack::Stored.into(),
                Inserted::Duplicate => Ack::Duplicate.into(),
            });
        }
        let claim = match &self.store {
            None => None,
            Some(store) => match store.claim(key, self.lease).await? {
                Claim::New(token) => Some(token),
                Claim::InFlight => return Err(RejectionKind::InFlight.into()),
                Claim::Done => return Err(Ack::Duplicate.into()),
            },
        };
        let settlement = Settlement {
            key,
            claim,
            synthetic,
        };
        Ok((
            Verified::new(event, delivery_id, matched, claim, synthetic),
            settlement,
        ))
    }
}

impl<V> Receiver<V> {
    /// Step 7: refuses a body other than the first one seen under `key`, where the credential
    /// does not cover the body (Grafeno). The inbox or the store keeps the ledger when it can,
    /// else the receiver's [`SignatureLedger`].
    async fn check_signature_reuse(
        &self,
        key: crate::DedupKey,
        body: &[u8],
        delivery_id: &crate::DeliveryId,
    ) -> Result<(), Answer> {
        let Some(ledger) = &self.ledger else {
            return Ok(());
        };
        let fingerprint = BodyFingerprint::of(body);
        let kept = match (&self.inbox, &self.store) {
            (Some(inbox), _) => {
                inbox
                    .remember_body(key, fingerprint, LEDGER_RETENTION)
                    .await?
            }
            (None, Some(store)) => {
                store
                    .remember_body(key, fingerprint, LEDGER_RETENTION)
                    .await?
            }
            (None, None) => None,
        };
        let seen = match kept {
            Some(seen) => seen,
            None => ledger.remember(key, fingerprint, LEDGER_RETENTION).await?,
        };
        if seen != Seen::Different {
            return Ok(());
        }
        #[cfg(feature = "tracing")]
        tracing::warn!(
            target: "hookbr::rejection",
            provider = delivery_id.provider().as_str(),
            endpoint = %self.endpoint.to_text(),
            delivery_id = delivery_id.as_str(),
            "a genuine signature was presented with another body than the first one seen for its delivery key: refused"
        );
        #[cfg(not(feature = "tracing"))]
        let _ = delivery_id;
        Err(RejectionKind::SignatureReused.into())
    }

    /// The handler succeeded: remember the delivery so copies are answered as duplicates.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached (the lease will expire and a retry will
    /// be processed again).
    pub async fn complete<E>(&self, verified: &Verified<E>) -> Result<(), StoreError> {
        self.settle(verified.settlement(), true).await
    }

    /// The handler failed or panicked: give the claim up so the provider's retry is processed.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached (the lease will expire on its own).
    pub async fn release<E>(&self, verified: &Verified<E>) -> Result<(), StoreError> {
        self.settle(verified.settlement(), false).await
    }

    /// Completes (`succeeded`) or releases a claim, from a [`Settlement`] taken before the
    /// event was handed over.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached.
    pub async fn settle(&self, settlement: Settlement, succeeded: bool) -> Result<(), StoreError> {
        match (&self.store, settlement.claim) {
            (Some(store), Some(token)) if succeeded => {
                let retention = if settlement.synthetic {
                    self.synthetic_retention
                } else {
                    self.retention
                };
                store.complete(settlement.key, token, retention).await
            }
            (Some(store), Some(token)) => store.release(settlement.key, token).await,
            _ => Ok(()),
        }
    }
}

/// Whether deliveries of `endpoint` go through the signature ledger: where the credential is
/// a per-delivery signature that does not cover the body (Grafeno's covers `x-unique-key`).
/// The other providers' credentials are static secrets: whoever saw one delivery can already
/// send any body under a fresh id, so a ledger of their ids would prove nothing.
fn keeps_body_fingerprints(endpoint: Endpoint) -> bool {
    endpoint.provider() == crate::Provider::Grafeno
}

/// What [`Receiver::check_head`] found on a request's head: the credential it matched when the
/// head alone decides ([`Verify::verify_head`]), for [`Receiver::accept_checked`].
///
/// Only `check_head` makes one, so `accept_checked` never takes a credential nobody checked.
#[derive(Debug, Clone)]
#[must_use = "pass it to `Receiver::accept_checked`, or the credential is checked again"]
pub struct HeadChecked {
    matched: Option<MatchedKey>,
}

impl HeadChecked {
    /// Whether the head's credential was matched (the body is not needed to authenticate).
    #[must_use]
    pub fn authenticated(&self) -> bool {
        self.matched.is_some()
    }
}

/// A delivery that passed steps 1-8 ([`Receiver::accept`]): the event for the application and
/// the claim to settle once the handler has answered.
#[derive(Debug)]
#[must_use = "hand the event to the application, then finish the pending claim"]
pub struct Accepted<V = AnyVerifier> {
    verified: Verified,
    pending: Pending<V>,
}

impl<V> Accepted<V> {
    /// The verified event.
    pub fn verified(&self) -> &Verified {
        &self.verified
    }

    /// The event to hand to the application, and the claim to [`finish`](Pending::finish)
    /// with what the application did.
    pub fn into_parts(self) -> (Verified, Pending<V>) {
        (self.verified, self.pending)
    }
}

/// What the application's handler did, as the adapter saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerOutcome {
    /// It answered with this HTTP status.
    Status(u16),
    /// It returned an error (the adapter passes the error on).
    Error,
    /// It panicked (the adapter caught the panic).
    Panicked,
}

/// What [`Pending::run`] did with the application's handler, with the claim already settled.
#[derive(Debug)]
#[must_use]
pub enum Handled<R, E> {
    /// The handler answered: send `response` with `status` (exactly `200` for a 2xx unless
    /// [`ReceiverBuilder::exact_200`] is off).
    Response {
        /// The handler's response.
        response: R,
        /// The status to send it with.
        status: u16,
        /// [`Outcome::Processed`], or [`Outcome::HandlerFailed`] for a non-2xx status (what
        /// [`Outcome::of_response`] tells from `status`).
        outcome: Outcome,
    },
    /// The handler returned an error (the claim is released): pass it on.
    Error(E),
    /// The handler panicked (the claim is released): send this answer, the `500` refusal.
    Panicked(Answer),
}

impl<R, E> Handled<R, E> {
    /// The adapter's result: `send` turns the handler's response, its status and outcome into
    /// what the adapter returns; `answer` does so for the `500` answer of a panic; an error is
    /// passed on.
    ///
    /// # Errors
    ///
    /// The handler's own error.
    pub fn into_result<T>(
        self,
        send: impl FnOnce(R, u16, Outcome) -> T,
        answer: impl FnOnce(Answer) -> T,
    ) -> Result<T, E> {
        match self {
            Self::Response {
                response,
                status,
                outcome,
            } => Ok(send(response, status, outcome)),
            Self::Error(error) => Err(error),
            Self::Panicked(failed) => Ok(answer(failed)),
        }
    }
}

/// What to answer once the handler has run ([`Pending::finish`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Finish {
    status: u16,
    outcome: Outcome,
    replacement: Option<Rejection>,
}

impl Finish {
    /// The status to send with the handler's response: exactly `200` for any 2xx (unless
    /// [`ReceiverBuilder::exact_200`] is off), the handler's own status otherwise; `500` after
    /// an error or a panic.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// What happened, for logs and metrics.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The answer to send instead of the handler's response: `Some` after a panic (there is
    /// no response to send), the `500` refusal.
    #[must_use]
    pub fn replacement(&self) -> Option<&Rejection> {
        self.replacement.as_ref()
    }
}

/// The claim of an accepted delivery, settled by [`finish`](Self::finish); released when
/// dropped unsettled, so a request cancelled mid-handler (the client hung up, a timeout layer
/// fired) does not leave copies answered `409` until the lease expires.
///
/// The release on drop polls the store's future once, without a runtime: immediate for
/// [`MemoryStore`]; a store that needs I/O to release falls back on its lease.
#[must_use = "finish the claim with `finish`, or it is released when dropped"]
pub struct Pending<V = AnyVerifier> {
    receiver: Arc<Receiver<V>>,
    settlement: Option<Settlement>,
}

impl<V> Pending<V> {
    /// Guards `settlement` of a delivery received by `receiver` (for code that ran
    /// [`Receiver::process`] itself; adapters get one from [`Accepted::into_parts`]).
    pub fn new(receiver: Arc<Receiver<V>>, settlement: Settlement) -> Self {
        Self {
            receiver,
            settlement: Some(settlement),
        }
    }

    /// Settles the claim by what the handler did — a 2xx completes it, anything else releases
    /// it so the provider's retry is processed — and says what to answer.
    ///
    /// A failed `complete` only means a retry would be processed again once the lease
    /// expires; the work is done, so the provider still gets its `200`.
    pub async fn finish(self, handler: HandlerOutcome) -> Finish {
        let exact_200 = self.receiver.exact_200;
        let succeeded =
            matches!(handler, HandlerOutcome::Status(status) if (200..300).contains(&status));
        let _ = self.settle(succeeded).await;
        match handler {
            HandlerOutcome::Status(status) if succeeded => Finish {
                status: if exact_200 { 200 } else { status },
                outcome: Outcome::Processed,
                replacement: None,
            },
            HandlerOutcome::Status(status) => Finish {
                status,
                outcome: Outcome::HandlerFailed,
                replacement: None,
            },
            HandlerOutcome::Error | HandlerOutcome::Panicked => {
                let failed = Rejection::from(RejectionKind::HandlerFailed);
                Finish {
                    status: failed.status(),
                    outcome: Outcome::HandlerFailed,
                    replacement: (handler == HandlerOutcome::Panicked).then_some(failed),
                }
            }
        }
    }

    /// Runs the application's handler — `call` starts it — catching a panic in the call or in
    /// the future it returns, then [`finish`](Self::finish)es by what it did (`status` reads
    /// the status of its response).
    pub async fn run<F, R, E>(
        self,
        call: impl FnOnce() -> F,
        status: impl FnOnce(&R) -> u16,
    ) -> Handled<R, E>
    where
        F: Future<Output = Result<R, E>>,
    {
        use futures_util::FutureExt as _;
        // The handler is the application's code: a panic in it must not take the server's
        // task (or the claim) with it.
        let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
            Ok(future) => std::panic::AssertUnwindSafe(future)
                .catch_unwind()
                .await
                .ok(),
            Err(_) => None,
        };
        match result {
            Some(Ok(response)) => {
                let finish = self.finish(HandlerOutcome::Status(status(&response))).await;
                Handled::Response {
                    response,
                    status: finish.status,
                    outcome: finish.outcome,
                }
            }
            Some(Err(error)) => {
                let _ = self.finish(HandlerOutcome::Error).await;
                Handled::Error(error)
            }
            None => {
                let finish = self.finish(HandlerOutcome::Panicked).await;
                let failed = finish
                    .replacement
                    .unwrap_or_else(|| RejectionKind::HandlerFailed.into());
                Handled::Panicked(failed.into())
            }
        }
    }

    /// Completes (`succeeded`) or releases the claim.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached.
    pub async fn settle(mut self, succeeded: bool) -> Result<(), StoreError> {
        match self.settlement.take() {
            Some(settlement) => self.receiver.settle(settlement, succeeded).await,
            None => Ok(()),
        }
    }
}

impl<V> Drop for Pending<V> {
    fn drop(&mut self) {
        if let Some(settlement) = self.settlement.take() {
            let release = self.receiver.settle(settlement, false);
            let mut release = std::pin::pin!(release);
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            let _ = release.as_mut().poll(&mut context);
        }
    }
}

impl<V> fmt::Debug for Pending<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("settlement", &self.settlement)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Secret, verify::HeaderSecretVerifier};

    fn receiver() -> Receiver<HeaderSecretVerifier> {
        let verifier = HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
        Receiver::builder(Endpoint::Bonifiq, verifier)
            .build()
            .unwrap()
    }

    #[test]
    fn head_checks() {
        let receiver = receiver();
        let check = |method: &str, headers: &[(&str, &str)]| {
            let mut headers = headers.to_vec();
            headers.push(("X-Loyalty-Secret", "s"));
            receiver
                .check_head(&Request::new(b"").with_method(method).with_headers(&headers))
                .map(|_| ())
                .map_err(|r| r.status())
        };
        assert_eq!(check("POST", &[]), Ok(()));
        assert_eq!(check("PUT", &[]), Ok(()));
        assert_eq!(check("GET", &[]), Err(405));
        assert_eq!(check("POST", &[("Content-Encoding", "gzip")]), Err(415));
        assert_eq!(check("POST", &[("Content-Encoding", "identity")]), Ok(()));
        assert_eq!(check("POST", &[("Content-Type", "text/plain")]), Err(415));
        assert_eq!(
            check(
                "POST",
                &[("Content-Type", "application/json; charset=utf-8")]
            ),
            Ok(())
        );
        assert_eq!(check("POST", &[("Content-Length", "1048577")]), Err(413));
        assert_eq!(check("POST", &[("Content-Length", "1048576")]), Ok(()));
        // Every copy of a coding header counts.
        assert_eq!(
            check(
                "POST",
                &[
                    ("Content-Encoding", "identity"),
                    ("Content-Encoding", "gzip")
                ]
            ),
            Err(415)
        );
        assert_eq!(check("POST", &[("Transfer-Encoding", "chunked")]), Ok(()));
        assert_eq!(
            check("POST", &[("Transfer-Encoding", "gzip, chunked")]),
            Err(415)
        );
    }

    #[cfg(feature = "foody")]
    #[test]
    fn head_credentials_are_checked_before_the_body() {
        let receiver = receiver();
        let check = |headers: &[(&str, &str)]| {
            receiver
                .check_head(&Request::new(b"").with_headers(&headers))
                .map(|_| ())
                .map_err(|r| (r.status(), r.reason()))
        };
        assert_eq!(check(&[("X-Loyalty-Secret", "s")]), Ok(()));
        assert_eq!(check(&[]), Err((401, "missing_header")));
        assert_eq!(
            check(&[("X-Loyalty-Secret", "guess"), ("Content-Length", "999999")]),
            Err((401, "invalid_secret"))
        );
        // The other head checks come first, as before.
        assert_eq!(
            check(&[("Content-Encoding", "gzip")]),
            Err((415, "unsupported_media_type"))
        );
        // A body-borne credential is left for after the body.
        let foody = Receiver::builder(
            Endpoint::Foody,
            crate::verify::BodyTokenVerifier::foody([Secret::new("t").unwrap()]).unwrap(),
        )
        .build()
        .unwrap();
        assert!(foody.check_head(&Request::new(b"")).is_ok());
    }

    #[cfg(feature = "foody")]
    #[test]
    fn default_body_limits_follow_the_credential() {
        assert_eq!(receiver().body_limit(), DEFAULT_BODY_LIMIT);
        let foody = Receiver::builder(
            Endpoint::Foody,
            crate::verify::BodyTokenVerifier::foody([Secret::new("t").unwrap()]).unwrap(),
        )
        .build()
        .unwrap();
        assert_eq!(foody.body_limit(), BODY_CREDENTIAL_LIMIT);
        let length = BODY_CREDENTIAL_LIMIT + 1;
        let headers = [("Content-Length", length.to_string())];
        assert_eq!(
            foody
                .check_head(&Request::new(b"").with_headers(&headers))
                .unwrap_err()
                .status(),
            413
        );
    }

    fn accept(
        receiver: &Arc<Receiver<HeaderSecretVerifier>>,
    ) -> Result<Accepted<HeaderSecretVerifier>, Answer> {
        let delivery = br#"{"Uuid":"f47ac10b-58cc-4372-a567-0e02b2c3d479","Timestamp":"2025-04-15T14:30:00Z","Topic":"Point_Add","Payload":{}}"#;
        let headers = [("X-Loyalty-Secret", "s")];
        futures_executor::block_on(
            receiver
                .clone()
                .accept(&Request::new(delivery).with_headers(&headers)),
        )
    }

    #[test]
    fn finish_settles_by_the_handler_outcome() {
        let receiver = Arc::new(receiver());
        let finish = |outcome| {
            let (_, pending) = accept(&receiver).unwrap().into_parts();
            futures_executor::block_on(pending.finish(outcome))
        };
        let failed = finish(HandlerOutcome::Status(503));
        assert_eq!(
            (failed.status(), failed.outcome()),
            (503, Outcome::HandlerFailed)
        );
        assert!(failed.replacement().is_none());
        let error = finish(HandlerOutcome::Error);
        assert_eq!(
            (error.status(), error.outcome()),
            (500, Outcome::HandlerFailed)
        );
        let panicked = finish(HandlerOutcome::Panicked);
        assert_eq!(panicked.status(), 500);
        assert_eq!(
            panicked.replacement().map(Rejection::category),
            Some("handler_failed")
        );
        // Every failure above released the claim: this copy is processed, and 204 becomes 200.
        let done = finish(HandlerOutcome::Status(204));
        assert_eq!((done.status(), done.outcome()), (200, Outcome::Processed));
        let copy = accept(&receiver).unwrap_err();
        assert_eq!(copy.ack(), Some(Ack::Duplicate));
    }

    #[test]
    fn run_catches_panics_and_settles() {
        let receiver = Arc::new(receiver());
        let run = |handler: u8| {
            let (_, pending) = accept(&receiver).unwrap().into_parts();
            futures_executor::block_on(pending.run(
                || {
                    assert!(handler != 0, "panics when called");
                    async move {
                        match handler {
                            1 => panic!("panics while awaited"),
                            2 => Err("the handler's error"),
                            _ => Ok(201_u16),
                        }
                    }
                },
                |status| *status,
            ))
        };
        for panicking in [0, 1] {
            let Handled::Panicked(answer) = run(panicking) else {
                panic!("a panic is caught");
            };
            assert_eq!(
                (answer.status(), answer.category()),
                (500, "handler_failed")
            );
        }
        assert!(matches!(run(2), Handled::Error("the handler's error")));
        // Every failure released the claim: this copy runs, and its 201 is sent as 200.
        let Handled::Response {
            response,
            status,
            outcome,
        } = run(3)
        else {
            panic!("answered");
        };
        assert_eq!((response, status, outcome), (201, 200, Outcome::Processed));
        assert_eq!(accept(&receiver).unwrap_err().ack(), Some(Ack::Duplicate));
    }

    #[test]
    fn exact_200_can_be_turned_off_and_drop_releases() {
        let verifier = HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
        let receiver = Arc::new(
            Receiver::builder(Endpoint::Bonifiq, verifier)
                .exact_200(false)
                .build()
                .unwrap(),
        );
        drop(accept(&receiver).unwrap());
        let (_, pending) = accept(&receiver).expect("released on drop").into_parts();
        let finish = futures_executor::block_on(pending.finish(HandlerOutcome::Status(202)));
        assert_eq!(finish.status(), 202);
    }

    /// A verifier that decides on the head and counts how often each check runs.
    #[derive(Debug, Default)]
    struct Counting {
        heads: std::sync::atomic::AtomicUsize,
        wholes: std::sync::atomic::AtomicUsize,
    }

    impl Verify for Counting {
        fn verify(&self, request: &Request<'_>) -> Result<MatchedKey, crate::VerifyError> {
            self.wholes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.verify_head(request).expect("decides on the head")
        }

        fn verify_head(
            &self,
            head: &Request<'_>,
        ) -> Option<Result<MatchedKey, crate::VerifyError>> {
            self.heads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some(match head.header("X-Loyalty-Secret") {
                Some(b"s") => Ok(MatchedKey::new(0, None)),
                _ => Err(crate::VerifyError::MissingHeader {
                    name: "X-Loyalty-Secret".to_owned(),
                }),
            })
        }
    }

    /// `accept_checked` takes the head's verdict; `accept` checks the credential itself.
    #[test]
    fn the_head_verdict_is_not_computed_twice() {
        use std::sync::atomic::Ordering::Relaxed;
        let verifier = Arc::new(Counting::default());
        let receiver = Arc::new(
            Receiver::builder(Endpoint::Bonifiq, verifier.clone())
                .build()
                .unwrap(),
        );
        let body = br#"{"Uuid":"f47ac10b-58cc-4372-a567-0e02b2c3d479","Timestamp":"2025-04-15T14:30:00Z","Topic":"Point_Add","Payload":{}}"#;
        let headers = [("X-Loyalty-Secret", "s")];
        let request = Request::new(body).with_headers(&headers);
        let checked = receiver.check_head(&request).unwrap();
        assert!(checked.authenticated());
        let accepted =
            futures_executor::block_on(receiver.clone().accept_checked(checked, &request));
        assert!(accepted.is_ok());
        assert_eq!(
            (verifier.heads.load(Relaxed), verifier.wholes.load(Relaxed)),
            (1, 0)
        );
        drop(accepted);
        // Without the head's verdict the whole request is verified.
        assert!(futures_executor::block_on(receiver.clone().accept(&request)).is_ok());
        assert_eq!(verifier.wholes.load(Relaxed), 1);
        // A refused head never reaches the body.
        let bare = Request::new(body);
        assert_eq!(receiver.check_head(&bare).unwrap_err().status(), 401);
    }

    #[test]
    fn builder_validates() {
        let verifier = HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
        let error = Receiver::builder(Endpoint::Bonifiq, verifier.clone())
            .body_limit(0)
            .build()
            .unwrap_err();
        assert_eq!(error, ConfigError::ZeroBodyLimit);
        let error = Receiver::builder(Endpoint::Bonifiq, verifier)
            .methods(Vec::<String>::new())
            .build()
            .unwrap_err();
        assert_eq!(error, ConfigError::NoMethods);
        let verifier = HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
        let error = Receiver::builder(Endpoint::Bonifiq, verifier)
            .lease(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(error, ConfigError::ZeroDuration);
    }

    #[test]
    fn methods_are_case_insensitive_in_config() {
        let verifier = HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
        let receiver = Receiver::builder(Endpoint::Bonifiq, verifier)
            .methods(["put"])
            .build()
            .unwrap();
        let headers = [("X-Loyalty-Secret", "s")];
        assert!(
            receiver
                .check_head(&Request::new(b"").with_method("PUT").with_headers(&headers))
                .is_ok()
        );
    }

    #[cfg(feature = "testkit")]
    mod signature_reuse {
        use serde_json::json;

        use super::*;
        use crate::{
            dedup::ManualClock,
            testkit::{self, TestDelivery, TestKey},
            verify::GrafenoVerifier,
        };

        fn grafeno(clock: &Arc<ManualClock>) -> (Receiver<GrafenoVerifier>, Arc<MemoryLedger>) {
            let ledger = Arc::new(MemoryLedger::with_clock(clock.clone()));
            let receiver = Receiver::builder(
                Endpoint::Grafeno,
                GrafenoVerifier::new([TestKey::rsa_2048().public_key()]).unwrap(),
            )
            .store(Arc::new(MemoryStore::with_clock(clock.clone())))
            .signature_ledger(ledger.clone())
            .build()
            .unwrap();
            (receiver, ledger)
        }

        /// The genuine delivery's header and signature with another `data`: the signature
        /// still verifies (it covers `x-unique-key` only).
        fn forged(genuine: &TestDelivery) -> TestDelivery {
            genuine
                .clone()
                .with_json_field("data", json!({"id": "attacker-chosen"}))
        }

        fn run(
            receiver: &Receiver<GrafenoVerifier>,
            delivery: &TestDelivery,
        ) -> Result<(), (u16, &'static str)> {
            let verified = futures_executor::block_on(receiver.process(&delivery.request()))
                .map_err(|answer| (answer.status(), answer.reason()))?;
            futures_executor::block_on(receiver.complete(&verified)).unwrap();
            Ok(())
        }

        #[test]
        fn another_body_after_dedup_retention_is_refused() {
            let clock = Arc::new(ManualClock::default());
            let (receiver, _) = grafeno(&clock);
            let genuine = testkit::grafeno_registration("approved", TestKey::rsa_2048());
            let forged = forged(&genuine);
            assert_ne!(forged.body, genuine.body);
            assert_eq!(run(&receiver, &genuine), Ok(()));
            // Within retention: the forged copy is refused, not answered as a duplicate.
            assert_eq!(run(&receiver, &forged), Err((401, "signature_reused")));
            assert_eq!(run(&receiver, &genuine), Err((200, "duplicate")));
            // Dedup retention is over (before this change, the forged body was then accepted).
            clock.advance(DEFAULT_RETENTION + Duration::from_secs(1));
            assert_eq!(run(&receiver, &forged), Err((401, "signature_reused")));
            // So it stays for the ledger's 400 days ...
            clock.advance(LEDGER_RETENTION - DEFAULT_RETENTION - Duration::from_secs(2));
            assert_eq!(run(&receiver, &forged), Err((401, "signature_reused")));
            // ... and the genuine body is never refused (after retention it is processed again,
            // as any delivery whose retention ended).
            assert_eq!(run(&receiver, &genuine), Ok(()));
        }

        #[test]
        fn a_forged_body_first_makes_the_genuine_one_refused_not_a_duplicate() {
            let clock = Arc::new(ManualClock::default());
            let (receiver, _) = grafeno(&clock);
            let genuine = testkit::grafeno_registration("approved", TestKey::rsa_2048());
            let forged = forged(&genuine);
            // hookbr cannot tell which body the signer sent: the first one seen wins ...
            assert_eq!(run(&receiver, &forged), Ok(()));
            // ... and the other is refused and counted (before this change: 200 duplicate, so
            // the genuine delivery was silently dropped).
            assert_eq!(run(&receiver, &genuine), Err((401, "signature_reused")));
            assert_eq!(run(&receiver, &forged), Err((200, "duplicate")));
        }

        #[test]
        fn the_ledger_is_checked_before_the_claim_and_without_a_store() {
            let clock = Arc::new(ManualClock::default());
            let (receiver, ledger) = grafeno(&clock);
            let genuine = testkit::grafeno_registration("approved", TestKey::rsa_2048());
            // A copy in flight, then a forged body: refused by the ledger, not `409`.
            let verified =
                futures_executor::block_on(receiver.process(&genuine.request())).unwrap();
            assert_eq!(
                run(&receiver, &forged(&genuine)),
                Err((401, "signature_reused"))
            );
            futures_executor::block_on(receiver.release(&verified)).unwrap();
            assert_eq!(ledger.len(), 1);
            // An unauthenticated body never reaches the ledger.
            assert_eq!(
                run(&receiver, &forged(&genuine).tamper_signature()).map_err(|(s, _)| s),
                Err(401)
            );
            assert_eq!(ledger.len(), 1);

            let without_store = Receiver::builder(
                Endpoint::Grafeno,
                GrafenoVerifier::new([TestKey::rsa_2048().public_key()]).unwrap(),
            )
            .without_store()
            .build()
            .unwrap();
            assert_eq!(run(&without_store, &genuine), Ok(()));
            assert_eq!(run(&without_store, &genuine), Ok(()));
            assert_eq!(
                run(&without_store, &forged(&genuine)),
                Err((401, "signature_reused"))
            );
        }

        #[test]
        fn other_providers_keep_no_ledger() {
            let verifier = HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
            let receiver = Receiver::builder(Endpoint::Bonifiq, verifier)
                .signature_ledger(Arc::new(MemoryLedger::new()))
                .build()
                .unwrap();
            assert!(receiver.ledger.is_none());
        }
    }

    #[cfg(feature = "testkit")]
    #[test]
    fn digest_ids_have_the_shorter_retention() {
        use crate::{dedup::ManualClock, iset::IsetKind, testkit, verify::UrlSecretVerifier};
        let clock = Arc::new(ManualClock::default());
        let store = Arc::new(MemoryStore::with_clock(clock.clone()));
        let verifier =
            UrlSecretVerifier::query_param("token", [Secret::new("k").unwrap()]).unwrap();
        let receiver = Receiver::builder(Endpoint::Iset(IsetKind::StockChanged), verifier)
            .store(store)
            .build()
            .unwrap();
        let delivery = testkit::iset(IsetKind::StockChanged, 1, "k");
        let run = || futures_executor::block_on(receiver.process(&delivery.request()));
        let verified = run().unwrap();
        assert!(verified.has_synthetic_id());
        futures_executor::block_on(receiver.complete(&verified)).unwrap();
        assert_eq!(run().unwrap_err().ack(), Some(Ack::Duplicate));
        clock.advance(DEFAULT_SYNTHETIC_RETENTION);
        assert!(
            run().is_ok(),
            "the same body an hour later is a new notification"
        );
    }
}
