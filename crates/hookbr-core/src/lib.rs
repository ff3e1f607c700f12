//! hookbr-core: receive the webhooks of BonifiQ, Foody Delivery, iSET and Grafeno safely.
//!
//! This crate is the sans-IO heart of hookbr: no web framework, no runtime, no network (only
//! [`reference`](mod@reference) reads an environment variable or a file, for configuration). It holds
//!
//! * typed events per provider ([`bonifiq`], [`foody`], [`iset`], [`grafeno`]) under one
//!   [`WebhookEvent`] enum, open to kinds and fields the providers add later;
//! * verifiers for each provider's authentication scheme ([`verify`]), with rotation and
//!   constant-time comparisons, and the redacted [`Secret`] type;
//! * delivery ids and the two-phase [`IdempotencyStore`] with an in-memory implementation
//!   ([`dedup`]);
//! * the pipeline ([`Receiver`]) that turns a request into a [`Verified`] event or an
//!   [`Answer`] with its HTTP status — an acknowledgement or a [`Rejection`] ([`rejection`]
//!   has the one status table) — and settles the claim by what the handler did; framework
//!   adapters only drive it.
//!
//! Web frameworks plug in through `hookbr-tower`/`hookbr-axum` and `hookbr-actix`.
//!
//! # Example
//!
//! ```
//! use hookbr_core::{
//!     Endpoint, Receiver, Request, Secret, WebhookEvent,
//!     foody::{FoodyEvent, FoodyStatus},
//!     verify::BodyTokenVerifier,
//! };
//! # futures_executor::block_on(async {
//! let receiver = Receiver::builder(
//!     Endpoint::Foody,
//!     BodyTokenVerifier::foody([Secret::new("2b100082b90d4ad9b4fezzed960cf652")?])?,
//! )
//! .build()?;
//!
//! let body = br#"{"uid":"4228df3a-a54a-40d7-b30f-1385eca4c3dd","updateDate":"2020-06-19T17:42:12Z",
//!   "event":"order_status_updated","token":"2b100082b90d4ad9b4fezzed960cf652","status":"dispatched"}"#;
//! match receiver.process(&Request::new(body)).await {
//!     Ok(verified) => {
//!         if let WebhookEvent::Foody(FoodyEvent::OrderStatusUpdated(update)) = verified.event() {
//!             assert_eq!(update.status, FoodyStatus::Dispatched);
//!         }
//!         receiver.complete(&verified).await?; // the handler succeeded
//!     }
//!     Err(rejection) => panic!("answer {} {}", rejection.status(), rejection.body_text()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `bonifiq` | yes | BonifiQ events |
//! | `foody` | yes | Foody Delivery events |
//! | `iset` | yes | iSET events |
//! | `grafeno` | yes | Grafeno events and the RSA verifier (on `aws-lc-rs`) |
//! | `testkit` | no | [`testkit`]: authentic and forged deliveries, test RSA keys |
//! | `tracing` | no | `trace`: the per-delivery span and rejection events the adapters emit |
//!
//! # Crypto
//!
//! RSA signatures are verified with [`aws-lc-rs`](https://docs.rs/aws-lc-rs) (PKCS#1 v1.5 or PSS,
//! 2048 to 8192 bits), each configured key parsed once into a `ParsedPublicKey` when the verifier
//! is built (`ring` 0.17 rebuilds the key on every verify, about 40 % more instructions per
//! RSA-2048 verify); the `rsa` crate is not used (about 10× slower and flagged by
//! RUSTSEC-2023-0071). The testkit signs its deliveries with `ring`.
//! Shared secrets are compared with `subtle` on SHA-256 digests, so neither the value nor its
//! length leaks through timing.

#![cfg_attr(docsrs, feature(doc_cfg))]
// This crate parses bytes from the network: no unwrap and no unchecked indexing outside tests.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::indexing_slicing))]
// Builds with only some providers leave shared helpers unused; the full build checks them.
#![cfg_attr(
    not(all(
        feature = "bonifiq",
        feature = "foody",
        feature = "iset",
        feature = "grafeno"
    )),
    allow(dead_code, unused_imports, unused_variables, unreachable_code)
)]

#[cfg(not(any(
    feature = "bonifiq",
    feature = "foody",
    feature = "iset",
    feature = "grafeno"
)))]
compile_error!("hookbr-core needs at least one provider feature: bonifiq, foody, iset or grafeno");

pub mod dedup;
mod delivery_id;
pub mod drift;
pub mod entity;
mod error;
mod event;
pub mod inbox;
pub mod ledger;
mod limits;
pub mod ordering;
pub mod pipeline;
pub mod privacy;
pub mod providers;
pub mod reference;
pub mod rejection;
mod request;
mod routes;
mod secret;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod timestamp;
#[cfg(feature = "tracing")]
pub mod trace;
pub mod verify;

#[doc(inline)]
pub use dedup::{Claim, ClaimToken, IdempotencyStore, MemoryStore, StoreError};
pub use delivery_id::{Authentication, DedupKey, DeliveryId, Provider, UnknownProvider};
pub use error::{ConfigError, ParseError, PayloadError, VerifyError};
pub use event::{Endpoint, FromWebhookEvent, Settlement, Verified, WebhookEvent};
#[doc(inline)]
pub use inbox::{DecodeRecordError, Inbox, InboxRecord, InboxRow, Inserted, RowOutcome};
pub use limits::ConnectionLimits;
#[doc(inline)]
pub use pipeline::{
    Accepted, Finish, Handled, HandlerOutcome, HeadChecked, Pending, Receiver, ReceiverBuilder,
};
#[cfg(feature = "bonifiq")]
#[doc(inline)]
pub use providers::bonifiq;
#[cfg(feature = "foody")]
#[doc(inline)]
pub use providers::foody;
#[cfg(feature = "grafeno")]
#[doc(inline)]
pub use providers::grafeno;
#[cfg(feature = "iset")]
#[doc(inline)]
pub use providers::iset;
#[doc(inline)]
pub use rejection::{Ack, Answer, Outcome, Rejection, RejectionKind};
pub use request::{HeaderSource, Request};
pub use routes::{RouteOptions, Webhooks};
pub use secret::Secret;
pub use timestamp::{Timestamp, TimestampError};
