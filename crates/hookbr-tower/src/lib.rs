//! hookbr-tower: a [tower] [`Layer`](tower_layer::Layer) that runs the hookbr pipeline in front of
//! your service.
//!
//! [`WebhookLayer`] drives hookbr-core's [`Receiver`](hookbr_core::Receiver): it checks the
//! head ([`check_head`](hookbr_core::Receiver::check_head): method, every copy of the coding
//! headers, declared type and length, and a credential that lives in the head, so an
//! unauthenticated BonifiQ or iSET request gets `401` unread) before reading, buffers the body
//! within the receiver's limit (a chunked body is refused as soon as it crosses the limit),
//! [`accept`](hookbr_core::Receiver::accept)s the bytes as received, and then:
//!
//! * on success, calls the inner service with the [`Verified`] event in the request extensions
//!   and the original bytes as the body, and lets the core settle the idempotency claim by the
//!   inner service's answer ([`Pending::run`](hookbr_core::Pending::run)): a 2xx completes it
//!   and is sent as exactly `200` (Foody treats 201/204 as errors), anything else, an error or
//!   a panic releases it so the provider's retry is processed;
//! * otherwise sends the core's [`Answer`] with its status from the one table (duplicates
//!   `200` + `Hookbr-Duplicate: true`, Foody `hook_test` `200`, `401`, `409`, `413`, ...) and a
//!   small JSON body naming the category only.
//!
//! The layer's own answers carry the request's [`Outcome`] in their extensions (and a refusal
//! its [`Rejection`]) for logging and metrics layers further out; the inner service's
//! responses are left as they are, their outcome told by their status
//! ([`Outcome::of_response`]).
//!
//! No webhook policy lives here: every decision is hookbr-core's; this crate only reads bodies
//! and converts types.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hookbr_core::{Endpoint, Receiver, Secret, Verified, verify::HeaderSecretVerifier};
//! use hookbr_tower::WebhookLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let receiver = Receiver::builder(
//!     Endpoint::Bonifiq,
//!     HeaderSecretVerifier::bonifiq([Secret::new("s3cr3t")?])?,
//! )
//! .build()?;
//!
//! let service = ServiceBuilder::new()
//!     .layer(WebhookLayer::new(receiver))
//!     .service(service_fn(|request: Request<Full<Bytes>>| async move {
//!         let verified = request.extensions().get::<Verified>().expect("set by the layer");
//!         println!("{} {}", verified.provider(), verified.kind());
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
//!     }));
//!
//! let body = r#"{"Uuid":"f47ac10b-58cc-4372-a567-0e02b2c3d479","Topic":"Point_Add","Payload":{"Points":5}}"#;
//! let request = Request::post("/bonifiq")
//!     .header("X-Loyalty-Secret", "s3cr3t")
//!     .body(Full::new(Bytes::from(body)))?;
//! let response = service.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok(()) }
//! ```
//!
//! # Deployment caveats
//!
//! * Put the layer *inside* any decompression or body-rewriting layer's reach only if you
//!   understand that providers' tokens and signatures are checked on the bytes the layer sees;
//!   hookbr refuses encoded bodies (`415`) since no provider sends them.
//! * Reverse proxies must forward the provider's headers (`X-Loyalty-Secret`, `x-unique-key`).
//!
//! [tower]: https://docs.rs/tower

mod future;
mod headers;
mod layer;
mod response;
mod service;

pub use future::ResponseFuture;
pub use headers::HttpHeaders;
pub use hookbr_core::{Answer, Outcome, Rejection, Verified};
pub use layer::WebhookLayer;
pub use response::{AnswerResponse, DefaultAnswerResponse, respond};
pub use service::WebhookService;
