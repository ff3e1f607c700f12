//! hookbr-axum: receive BonifiQ, Foody Delivery, iSET and Grafeno webhooks in an [axum] 0.8
//! application.
//!
//! * [`IntoRouter::into_router`] mounts [`Webhooks`] (one route per provider endpoint), each
//!   behind a [`WebhookLayer`] that verifies, deduplicates and decodes.
//! * [`Webhook<E>`] is the extractor your handler takes: the [`Verified`] event the layer put in
//!   the request extensions (the body is never parsed twice). `E` is [`WebhookEvent`] or one
//!   provider's event type (`BonifiqEvent`, `FoodyEvent`, ...).
//! * [`Rejected`] turns a [`Rejection`] into a response, for code that runs the core pipeline
//!   itself.
//! * [`serve()`] serves the router on a public port within [`ConnectionLimits`] (head, body,
//!   request and idle timeouts, a connection cap, header limits, HTTP/1.1 unless HTTP/2 is
//!   asked for): use it rather than `axum::serve`, which bounds none of these. With
//!   [`Serve::tls`] it terminates TLS (1.2 and 1.3, rustls on `ring`) with a certificate that
//!   can be replaced while serving ([`tls`]), the handshake bounded too.
//!
//! The handler's 2xx completes the delivery's claim and is sent to the provider as exactly
//! `200`; any other status, or a panic, releases it so the provider's retry is processed.
//!
//! # Example
//!
//! ```no_run
//! use axum::http::StatusCode;
//! use hookbr_axum::{IntoRouter, Webhook, Webhooks};
//! use hookbr_core::{Secret, WebhookEvent, foody::FoodyEvent, verify::{BodyTokenVerifier, HeaderSecretVerifier}};
//!
//! async fn handle(Webhook(verified): Webhook) -> StatusCode {
//!     match verified.event() {
//!         WebhookEvent::Foody(FoodyEvent::OrderStatusUpdated(update)) => {
//!             println!("order {} is {}", update.uid, update.status);
//!         }
//!         other => println!("{} {}", other.provider(), other.kind()),
//!     }
//!     StatusCode::OK
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = Webhooks::new()
//!     .bonifiq("/webhooks/bonifiq", HeaderSecretVerifier::bonifiq([Secret::new("s3cr3t")?])?)
//!     .foody("/webhooks/foody", BodyTokenVerifier::foody([Secret::new("t0ken")?])?)
//!     .into_router(handle)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! hookbr_axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! [axum]: https://docs.rs/axum

mod extract;
mod rejection;
mod router;
pub mod serve;
mod stats;
pub mod tls;

pub use extract::{MissingWebhook, Webhook};
pub use hookbr_core::{Rejection, Verified, WebhookEvent, Webhooks};
pub use hookbr_tower::WebhookLayer;
pub use rejection::Rejected;
pub use router::IntoRouter;
pub use serve::{ConnectionLimits, ConnectionStats, Serve, serve};
