//! hookbr-store: the durable inbox (SQLite, PostgreSQL), its workers, and dedup shared between
//! instances (Redis).
//!
//! | backend | for | status |
//! |---|---|---|
//! | [`RedisStore`] (feature `redis`, default) | several instances in direct mode sharing two-phase dedup | available |
//! | [`SqliteInbox`] (feature `sqlite`, default) | the durable inbox of one instance (inbox mode) | available; workers in [`worker`] |
//! | [`SqliteLedger`] (feature `sqlite`, default) | Grafeno's signature ledger in direct mode without Redis (the inboxes and Redis keep it themselves) | available |
//! | [`PostgresInbox`] (feature `postgres`, default) | the durable inbox shared by many instances behind a load balancer (inbox mode) | available; workers in [`worker`] claim with `FOR UPDATE SKIP LOCKED` |
//! | [`PostgresDatabase`] (feature `postgres`, default) | writing into another PostgreSQL database with the inbox's URL and TLS handling (hookbr's table sink); [`PostgresInbox::complete_with`] joins such writes to a row's done mark | available |
//!
//! `RedisStore` implements hookbr-core's [`IdempotencyStore`](hookbr_core::IdempotencyStore)
//! (plug it in with `Receiver::builder(..).store(..)` or `Webhooks::store`); the inboxes implement
//! [`Inbox`](hookbr_core::Inbox) (plug them in with `.inbox(..)`, and run a
//! [`worker::Worker`]). What each mode guarantees: `docs/MODES.md`.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use hookbr_core::{Endpoint, Receiver, Secret, verify::HeaderSecretVerifier};
//! use hookbr_store::RedisStore;
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379/").await?;
//! let receiver = Receiver::builder(
//!     Endpoint::Bonifiq,
//!     HeaderSecretVerifier::bonifiq([Secret::new("s3cr3t")?])?,
//! )
//! .store(Arc::new(store))
//! .build()?;
//! # Ok(()) }
//! ```

pub mod crypt;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_database;
#[cfg(feature = "postgres")]
mod postgres_insert;
#[cfg(feature = "postgres")]
mod postgres_tls;
#[cfg(feature = "redis")]
mod redis_store;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use crypt::{InboxKeys, Rekeyed};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresInbox, Statement};
#[cfg(feature = "postgres")]
pub use postgres_database::PostgresDatabase;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteInbox, SqliteLedger};
#[cfg(feature = "worker")]
pub mod worker;
