//! hookbr-store: idempotency stores shared between instances.
//!
//! | backend | for | status |
//! |---|---|---|
//! | [`RedisStore`] (feature `redis`, default) | several instances in direct mode sharing two-phase dedup | available |
//! | [`SqliteInbox`] (feature `sqlite`, default) | the durable inbox of one instance (inbox mode) | available; workers in [`worker`] |
//! | [`PostgresInbox`] (feature `postgres`, default) | the durable inbox shared by many instances behind a load balancer (inbox mode) | available; workers in [`worker`] claim with `FOR UPDATE SKIP LOCKED` |
//!
//! Every backend implements hookbr-core's [`IdempotencyStore`](hookbr_core::IdempotencyStore),
//! so it plugs into any receiver with `Receiver::builder(..).store(Arc::new(store))` or the
//! adapters' `Webhooks::store`.
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

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis_store;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PostgresInbox;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteInbox;
#[cfg(feature = "worker")]
pub mod worker;
