//! hookbr-sim: the provider simulator behind `hookbr send`, `hookbr demo` and the benches.
//!
//! It builds deliveries exactly as BonifiQ, Foody Delivery, iSET and Grafeno send them and
//! sends them the way those providers do:
//!
//! * [`build`]: a built-in sample ([`kinds`] lists them; each is a wire fixture of
//!   `hookbr_core::testkit`, the one copy of each sample body) or a template file, with fresh
//!   ids, authenticated with [`Credentials`] (header secret, body token, URL secret, or an RSA
//!   signature by a [`SigningKey`]);
//! * [`tamper`]: the forged variants a receiver must refuse ([`Tamper`]);
//! * [`send`]: each provider's per-attempt timeout, idea of "accepted" and retry schedule, a
//!   [`Batch`](send::Batch) sent with bounded concurrency into a [`Report`](send::Report);
//! * [`keygen`]: RSA key pairs for local Grafeno simulation.
//!
//! The outgoing request is `hookbr_core::testkit::TestDelivery`, the type the core tests and
//! the benches use, inside an [`Outgoing`] that adds what hookbr will make of it (kind and
//! delivery id).
//!
//! # Example
//!
//! ```
//! use hookbr_core::{Endpoint, Provider, Receiver, Secret, verify::BodyTokenVerifier};
//! use hookbr_sim::{Credentials, Tamper};
//!
//! # futures_executor::block_on(async {
//! let token = "2b100082b90d4ad9b4fezzed960cf652";
//! let credentials = Credentials { token: Some(token.into()), ..Credentials::default() };
//! let delivery = hookbr_sim::build(Provider::Foody, Some("ready"), None, &credentials)?;
//! assert_eq!(delivery.kind, "order_status_updated");
//!
//! let receiver =
//!     Receiver::builder(Endpoint::Foody, BodyTokenVerifier::foody([Secret::new(token)?])?)
//!         .build()?;
//! let verified = receiver.process(&delivery.wire.request()).await.unwrap();
//! assert_eq!(verified.delivery_id().as_str(), delivery.delivery_id);
//!
//! let mut forged = delivery.clone();
//! hookbr_sim::tamper(&mut forged, Tamper::Signature);
//! assert_eq!(receiver.process(&forged.wire.request()).await.unwrap_err().status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
//!
//! Sending it (`hookbr send` does this, with a progress bar):
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use hookbr_core::Provider;
//! # use hookbr_sim::{Credentials, send::{self, Batch}};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! # let credentials = Credentials { token: Some("t".into()), ..Credentials::default() };
//! let delivery = Arc::new(hookbr_sim::build(Provider::Foody, None, None, &credentials)?);
//! let batch = Batch {
//!     url: "http://127.0.0.1:8080/webhooks/foody".into(),
//!     deliveries: vec![delivery; 3], // the same delivery three times: two duplicates
//!     concurrency: 1,
//!     retries: send::retry_waits(Provider::Foody),
//! };
//! let report = batch.send(&send::client()?, || {}).await;
//! assert_eq!(report.delivered(), 3);
//! # Ok(()) }
//! ```

mod catalog;
mod credentials;
mod error;
pub mod files;
mod json;
pub mod keygen;
mod outgoing;
mod random;
mod sample;
pub mod send;
mod tamper;
mod template;

pub use catalog::kinds;
pub use credentials::Credentials;
pub use error::Error;
#[doc(no_inline)]
pub use hookbr_core::testkit::{SigningKey, random_uuid};
pub use json::minify;
pub use outgoing::Outgoing;
pub use sample::build;
pub use tamper::{Tamper, tamper};
