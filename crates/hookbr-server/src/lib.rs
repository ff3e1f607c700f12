//! hookbr-server: the self-hosted hookbr receiver as a library, the engine of `hookbr serve`.
//!
//! From a checked [`Config`] (a `hookbr.toml`), a [`ServerBuilder`] mounts one route per
//! `[[endpoint]]` (each with its provider's verifier, body limit, methods and strictness), and
//! hands every verified, deduplicated delivery to the sinks as one normalized JSON message:
//!
//! * **inbox mode** (default, SQLite or PostgreSQL): the delivery is committed before the
//!   provider gets its `200`; a worker forwards it with retries, backoff and dead-lettering, and
//!   completed rows are pruned after the retention;
//! * **direct mode** (`inbox.url = "none"`): the sinks run inside the request; a failing sink
//!   answers `500` and releases the claim, so the provider's retry is processed.
//!
//! Sinks ([`sink`]) POST the message signed the Standard Webhooks way, run a command with it
//! on stdin, publish it to a NATS JetStream stream (once in the stream), or insert it into a
//! PostgreSQL or SQLite table (once in the table; in the inbox row's done-mark transaction when
//! the table is in the inbox's database). An optional admin listener serves the inspector pages and Prometheus `/metrics`.
//! [`inbox`] has the inbox's operations (list, show, replay, stats) as data.
//!
//! With `[server] tls_cert`/`tls_key` the receiver terminates TLS itself, and picks up a renewed
//! certificate from the files without dropping connections. [`Server::reload`] (SIGHUP,
//! `hookbr reload`, the admin listener's `POST /reload`) reads the configuration again, checks
//! it whole and swaps it in atomically, or refuses it with the reason ([`reload`]).
//!
//! # Example
//!
//! ```no_run
//! use hookbr_server::{Config, ServerBuilder, lifecycle};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), hookbr_server::Error> {
//! let config = Config::load("hookbr.toml".as_ref())?;
//! let server = ServerBuilder::new(config)
//!     .listen("127.0.0.1:0".parse().unwrap())
//!     .start()
//!     .await?;
//! println!("providers post to http://{}", server.addr());
//! lifecycle::shutdown_signal().await;
//! server.stop().await
//! # }
//! ```
//!
//! # Logs and metrics
//!
//! Logs go through `tracing`; the embedding program installs the subscriber. Targets:
//!
//! * `hookbr`: service messages (INFO), dead-lettering included;
//! * `hookbr::delivery`: one span per request (from hookbr-tower), and a WARN event when the
//!   sinks failed inside a request (direct mode);
//! * `hookbr::rejection` (from hookbr-tower): one DEBUG event per refused delivery or failed
//!   handler, one TRACE event per delivery acknowledged without the sinks (stored, duplicate,
//!   handshake);
//! * `hookbr::worker`: each attempt at the sinks, in both modes (INFO when delivered, WARN when
//!   a sink failed), and, only with `[server] log_bodies = true`, each stored body at INFO as
//!   the worker takes it (Foody's token redacted, personal data masked).
//! * `hookbr::audit`: each reveal of a delivery's personal data in the inspector (WARN: the
//!   delivery id, the reason and who; never the data).
//!
//! Metrics go through the `metrics` crate: the server installs a Prometheus recorder once per
//! process and serves it at the admin listener's `/metrics` (names in the README).

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::indexing_slicing))]

mod activity;
mod admin;
pub mod config;
mod dispatch;
mod error;
mod health;
pub mod inbox;
pub mod lifecycle;
mod observe;
mod ordering;
pub mod reload;
mod routes;
mod server;
pub mod sink;

pub use config::Config;
pub use error::Error;
pub use reload::{ReloadHandle, Reloaded};
pub use server::{Server, ServerBuilder, ShutdownHandle};
