//! Serving [`Webhooks`](crate::Webhooks) on a public port within [`ConnectionLimits`] (the
//! same type as `hookbr_axum::serve`'s): [`bounded`] applies the limits to an
//! [`HttpServer`], [`listen`] binds it to a listener, HTTP/1.1 only unless
//! [`ConnectionLimits::http2`] is set.
//!
//! actix-web's defaults bound little (a 5 s first head, 25,000 connections per worker, no body
//! deadline at all: a body trickled at 1 B/s is kept forever). With [`bounded`]:
//!
//! * **head**: the first request head of a connection must be complete within
//!   [`header_timeout`](ConnectionLimits::header_timeout) (`408` and closed otherwise;
//!   actix-web's `client_request_timeout`);
//! * **body**: [`WebhookMiddleware`](crate::WebhookMiddleware) reads the whole body within
//!   [`body_timeout`](ConnectionLimits::body_timeout) of the head (`408` and the connection
//!   closed otherwise);
//! * **request**: the middleware's answer (body, checks and your handler) must be ready within
//!   [`request_timeout`](ConnectionLimits::request_timeout) of the head (`503` and closed
//!   otherwise; the handler's future is dropped, which releases the delivery's claim);
//! * **idle**: a kept-alive connection without a request is closed after
//!   [`idle_timeout`](ConnectionLimits::idle_timeout) (actix-web's `keep_alive`; zero turns
//!   keep-alive off, one request per connection);
//! * **count**: at most [`max_connections`](ConnectionLimits::max_connections) connections
//!   in all, split between the workers (actix-web counts per worker). At the cap actix-web
//!   stops accepting: new connections wait in the listen backlog until one closes (hookbr-axum
//!   instead closes the oldest connection without a complete request).
//!
//! The middleware takes the body and request deadlines from the connection (set by
//! [`bounded`] through `HttpServer::on_connect`); without [`bounded`] it uses
//! [`ConnectionLimits::default`]'s (30 s and 60 s). [`bounded`] replaces any `on_connect`
//! callback set before it; one set after it should insert the limits into the connection's
//! extensions itself (`extensions.insert(limits)`).
//!
//! # What actix-web cannot bound
//!
//! * **Header size and count** are fixed by actix-http 3.20: a head of at most 128 KiB (`431`
//!   beyond) and at most 96 header fields (`400` beyond);
//!   [`max_header_bytes`](ConnectionLimits::max_header_bytes) and
//!   [`max_headers`](ConnectionLimits::max_headers) are not applied.
//! * **The next head on a kept-alive connection**: actix-http arms its head timer for a
//!   connection's first request only. A client that completes one request and then trickles
//!   the next head is bounded by the idle timeout until its first byte, then only by the 128 KiB
//!   head limit. Where that matters, set `idle_timeout` to zero (keep-alive off).
//! * **HTTP/2** (`http2 = true`, which needs this crate's `http2` feature): the body and
//!   request deadlines apply per stream; actix-http has no per-stream head or idle timeout.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use actix_web::{App, HttpResponse, HttpServer};
//! use hookbr_actix::{ConnectionLimits, IntoServiceConfig, Webhook, Webhooks, serve};
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
//!     let mut limits = ConnectionLimits::default();
//!     limits.header_timeout = Duration::from_secs(5);
//!     limits.max_connections = 256;
//!     let server = HttpServer::new(move || App::new().configure(webhooks.clone()));
//!     let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
//!     serve::listen(serve::bounded(server, &limits, 2), listener, &limits)?
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```

use std::{fmt, io, net::TcpListener, time::Duration};

use actix_http::Request;
use actix_service::IntoServiceFactory;
use actix_web::{
    Error, HttpServer,
    body::MessageBody,
    dev::{AppConfig, Response, Service, ServiceFactory},
    http::KeepAlive,
};
pub use hookbr_core::ConnectionLimits;

/// The shortest head deadline given to actix-web (zero would turn its head timer off).
const MIN_HEADER_TIMEOUT: Duration = Duration::from_millis(1);

/// Applies `limits` to `server`, run by `workers` worker threads (at least one; the connection
/// cap is split between them). See the [module docs](self).
pub fn bounded<F, I, S, B>(
    server: HttpServer<F, I, S, B>,
    limits: &ConnectionLimits,
    workers: usize,
) -> HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let workers = workers.max(1);
    let keep_alive = if limits.idle_timeout.is_zero() {
        KeepAlive::Disabled
    } else {
        KeepAlive::Timeout(limits.idle_timeout)
    };
    let for_connections = *limits;
    server
        .workers(workers)
        .max_connections(limits.max_connections.div_ceil(workers).max(1))
        .client_request_timeout(limits.header_timeout.max(MIN_HEADER_TIMEOUT))
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(keep_alive)
        .on_connect(move |_, extensions| extensions.insert(for_connections).map_or((), drop))
}

/// Serves `server` on `listener`: HTTP/1.1 only, or also HTTP/2 cleartext (prior knowledge)
/// when `limits.http2` is set.
///
/// # Errors
///
/// The listener's address cannot be read, or `limits.http2` is set without this crate's
/// `http2` feature (`Unsupported`).
pub fn listen<F, I, S, B>(
    server: HttpServer<F, I, S, B>,
    listener: TcpListener,
    limits: &ConnectionLimits,
) -> io::Result<HttpServer<F, I, S, B>>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    if !limits.http2 {
        return server.listen(listener);
    }
    #[cfg(feature = "http2")]
    {
        server.listen_auto_h2c(listener)
    }
    #[cfg(not(feature = "http2"))]
    {
        drop((server, listener));
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "http2 = true needs hookbr-actix's `http2` feature",
        ))
    }
}
