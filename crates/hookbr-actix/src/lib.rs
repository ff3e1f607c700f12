//! hookbr-actix: receive BonifiQ, Foody Delivery, iSET and Grafeno webhooks in an actix-web 4
//! application, with the same contract as hookbr-axum.
//!
//! * [`WebhookMiddleware`] drives hookbr-core's `Receiver` before your handler: the head checks
//!   (a coding other than `identity` in any copy of `Content-Encoding`, or other than `chunked`
//!   in `Transfer-Encoding`, an oversized `Content-Length`, a missing or wrong BonifiQ header
//!   secret or iSET URL secret) before reading the body, at most the body limit read, then
//!   `accept` (verify, decode, claim the delivery id).
//!   The core's `Answer` — an acknowledgement (stored, duplicate, handshake) or a refusal — is
//!   sent with the status of its one table. On success the [`Verified`] event goes into the
//!   request extensions and the bytes back as the payload, and the core settles the claim from
//!   your handler's answer (`Pending::run`: 2xx completes it and is sent as exactly `200`;
//!   anything else, or a panic, releases it). The middleware's own answers carry the request's
//!   `Outcome` in their extensions (and a refusal its [`Rejection`]) for logging and metrics
//!   middleware; your handler's responses are told by their status (`Outcome::of_response`).
//! * [`Webhook<E>`] is the extractor your handler takes.
//! * [`IntoServiceConfig::configure`] mounts [`Webhooks`] (the providers' endpoints) in a few
//!   lines.
//! * [`Rejected`] implements `ResponseError` for a [`Rejection`].
//! * [`serve::bounded`] and [`serve::listen`] serve the app on a public port within
//!   [`ConnectionLimits`] (head, body, request and idle timeouts, a connection cap, HTTP/1.1
//!   unless HTTP/2 is asked for): actix-web's defaults have no body deadline at all.
//!
//! # Example
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, HttpServer};
//! use hookbr_actix::{IntoServiceConfig, Webhook, Webhooks};
//! use hookbr_core::{Secret, verify::HeaderSecretVerifier};
//!
//! async fn handle(Webhook(verified): Webhook) -> HttpResponse {
//!     println!("{} {}", verified.provider(), verified.kind());
//!     HttpResponse::Ok().finish()
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let webhooks = Webhooks::new()
//!         .bonifiq("/webhooks/bonifiq", HeaderSecretVerifier::bonifiq([Secret::new("s3cr3t")?])?)
//!         .configure(handle)?;
//!     HttpServer::new(move || App::new().configure(webhooks.clone()))
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! # Security note
//!
//! actix-web 4.18 / actix-http 3.20 predate the fixes for RUSTSEC-2026-0447/0448/0455
//! (compressed bodies decoded past the configured limits). This crate enables no `compress-*`
//! feature and the middleware refuses encoded bodies (`415`) before reading them; keep
//! compression features off in your application too until fixed releases are out.

mod error;
mod extract;
mod headers;
mod middleware;
mod routes;
pub mod serve;

pub use error::Rejected;
pub use extract::{MissingWebhook, Webhook};
pub use headers::ActixHeaders;
pub use hookbr_core::{Rejection, Verified, WebhookEvent, Webhooks};
pub use middleware::{WebhookMiddleware, WebhookMiddlewareService};
pub use routes::IntoServiceConfig;
pub use serve::ConnectionLimits;
