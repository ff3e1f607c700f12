//! A pool of connections to any PostgreSQL database, with the inbox's URL handling (libpq's
//! `sslmode`/`sslrootcert` on rustls) and error messages, but no schema of its own: for
//! writing into a merchant's database (hookbr's `type = "postgres"` table sink).

use std::{fmt, time::Duration};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use hookbr_core::StoreError;
use tokio_postgres::{IsolationLevel, Row, types::ToSql};

use crate::{
    postgres::{Statement, pg_error, pool_error},
    postgres_tls,
};

/// Connections to a PostgreSQL database given by a URL like the inbox's
/// (`postgres://user[:password]@host[:port]/database?sslmode=verify-full&sslrootcert=...`;
/// see [`PostgresInbox`](crate::PostgresInbox) for TLS). Nothing is created or migrated;
/// connections are opened when first needed, so [`new`](Self::new) does not touch the server.
///
/// Errors name the operation and the failure class (`postgres: insert: server error 42P01
/// (syntax error or access rule violation)`), never a bound value or the password.
///
/// ```no_run
/// use hookbr_store::PostgresDatabase;
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let database = PostgresDatabase::new("postgres://app@127.0.0.1/app", 4, std::time::Duration::from_secs(5))?;
/// database.transaction("insert", &[("INSERT INTO events (id) VALUES ($1) ON CONFLICT DO NOTHING", &[&"msg_1"])]).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresDatabase {
    pool: Pool,
}

impl fmt::Debug for PostgresDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresDatabase")
            .field("pool_size", &status.max_size)
            .field("connections", &status.size)
            .finish_non_exhaustive()
    }
}

impl PostgresDatabase {
    /// A pool of at most `size` connections (at least 1) to `url`; waiting for a connection,
    /// opening one and checking one out each give up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the URL (or its `sslmode`/`sslrootcert`) is invalid.
    pub fn new(url: &str, size: usize, timeout: Duration) -> Result<Self, StoreError> {
        let (url, ssl_mode, tls) = postgres_tls::split(url)?;
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|_| StoreError::new("postgres: connect: invalid connection URL"))?;
        config.ssl_mode(ssl_mode);
        config.connect_timeout(timeout);
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .build()
            .map_err(|_| StoreError::new("postgres: connect: cannot build the pool"))?;
        Ok(Self { pool })
    }

    /// Runs `statements` in one transaction (READ COMMITTED) and commits.
    ///
    /// # Errors
    ///
    /// [`StoreError`] naming `operation` when a connection cannot be had or a statement or
    /// the commit fails (nothing is kept).
    pub async fn transaction(
        &self,
        operation: &'static str,
        statements: &[Statement<'_>],
    ) -> Result<(), StoreError> {
        let failed = |error: tokio_postgres::Error| pg_error(operation, &error);
        let mut client = self
            .pool
            .get()
            .await
            .map_err(|error| pool_error(operation, &error))?;
        let transaction = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await
            .map_err(failed)?;
        for (sql, parameters) in statements {
            let statement = transaction.prepare_cached(sql).await.map_err(failed)?;
            transaction
                .execute(&statement, parameters)
                .await
                .map_err(failed)?;
        }
        transaction.commit().await.map_err(failed)
    }

    /// The rows of one query.
    ///
    /// # Errors
    ///
    /// [`StoreError`] naming `operation` when a connection cannot be had or the query fails.
    pub async fn query(
        &self,
        operation: &'static str,
        sql: &str,
        parameters: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|error| pool_error(operation, &error))?;
        client
            .query(sql, parameters)
            .await
            .map_err(|error| pg_error(operation, &error))
    }
}
