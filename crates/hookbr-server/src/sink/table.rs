//! The table sinks: one row per event in the merchant's own PostgreSQL or SQLite table,
//! `INSERT ... ON CONFLICT (webhook_id) DO NOTHING`, so a retry, a replay or a concurrent copy
//! never makes a second row (a conflict counts as delivered).
//!
//! When a PostgreSQL sink's database is the inbox's own (the same URL), the insert runs in
//! the transaction that marks the inbox row done, fenced by the row's claim token
//! ([`PostgresInbox::complete_with`]): the row is in the table exactly when the inbox row is
//! done, and a worker that lost its lease inserts nothing.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use hookbr_core::{inbox::now_ms, timestamp::rfc3339_millis};
use hookbr_store::{PostgresDatabase, PostgresInbox, Statement};
use rusqlite::{Connection, OpenFlags};
use tokio_postgres::types::ToSql;

use super::{Failed, message::Message};
use crate::config::{Identifier, TableName, redact_url};

/// The columns every table sink's table needs, in insert order.
pub(crate) const COLUMNS: [&str; 9] = [
    "webhook_id",
    "provider",
    "kind",
    "endpoint",
    "known",
    "occurred_at",
    "received_at",
    "message",
    "inserted_at",
];

/// The migration of a PostgreSQL table sink's table (`hookbr sink migrate` runs it).
#[must_use]
pub fn postgres_migration(table: &TableName) -> String {
    let name = table.quoted();
    let index = Identifier::parse(&format!("{}_inserted_at", table.table)).map_or_else(
        |_| "\"hookbr_events_inserted_at\"".to_owned(),
        |i| i.quoted(),
    );
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (\n    \
         webhook_id  TEXT        PRIMARY KEY,\n    \
         provider    TEXT        NOT NULL,\n    \
         kind        TEXT        NOT NULL,\n    \
         endpoint    TEXT        NOT NULL,\n    \
         known       BOOLEAN     NOT NULL,\n    \
         occurred_at TIMESTAMPTZ,\n    \
         received_at TIMESTAMPTZ NOT NULL,\n    \
         message     JSONB       NOT NULL,\n    \
         inserted_at TIMESTAMPTZ NOT NULL DEFAULT now()\n\
         );\n\
         CREATE INDEX IF NOT EXISTS {index} ON {name} (inserted_at);\n"
    )
}

/// The migration of a SQLite table sink's table (`hookbr sink migrate` runs it).
#[must_use]
pub fn sqlite_migration(table: &TableName) -> String {
    let name = table.quoted();
    let index = Identifier::parse(&format!("{}_inserted_at", table.table)).map_or_else(
        |_| "\"hookbr_events_inserted_at\"".to_owned(),
        |i| i.quoted(),
    );
    // SQLite names an index's database on the index, and its table without one.
    let (index, on) = match &table.schema {
        Some(schema) => (format!("{}.{index}", schema.quoted()), table.table.quoted()),
        None => (index, name.clone()),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (\n    \
         webhook_id  TEXT    NOT NULL PRIMARY KEY,\n    \
         provider    TEXT    NOT NULL,\n    \
         kind        TEXT    NOT NULL,\n    \
         endpoint    TEXT    NOT NULL,\n    \
         known       INTEGER NOT NULL CHECK (known IN (0, 1)),\n    \
         occurred_at TEXT,\n    \
         received_at TEXT    NOT NULL,\n    \
         message     TEXT    NOT NULL CHECK (json_valid(message)),\n    \
         inserted_at TEXT    NOT NULL\n\
         );\n\
         CREATE INDEX IF NOT EXISTS {index} ON {on} (inserted_at);\n"
    )
}

/// What `hookbr sink migrate` (and the start-up check) say when a table or column is missing.
fn missing_help(what: &str) -> String {
    format!(
        "{what}: run `hookbr sink migrate --config <your hookbr.toml>` (or the SQL in the README)"
    )
}

/// One event's column values.
struct Values<'a> {
    id: &'a str,
    provider: &'a str,
    kind: &'a str,
    endpoint: &'a str,
    known: bool,
    occurred_at_ms: Option<i64>,
    received_at_ms: i64,
    message: &'a str,
}

impl<'a> Values<'a> {
    fn new(message: &'a Message) -> Result<Self, Failed> {
        Ok(Self {
            id: &message.id,
            provider: message.provider,
            kind: &message.kind,
            endpoint: &message.endpoint,
            known: message.known,
            occurred_at_ms: message.occurred_at_ms,
            received_at_ms: message.received_at_ms,
            message: std::str::from_utf8(&message.body)
                .map_err(|_| Failed::from("the message is not UTF-8".to_owned()))?,
        })
    }

    /// The parameters of [`PostgresTable::insert`], with the channel of `notify`.
    fn postgres<'v>(&'v self, notify: Option<&'v String>) -> Vec<&'v (dyn ToSql + Sync)> {
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![
            &self.id,
            &self.provider,
            &self.kind,
            &self.endpoint,
            &self.known,
            &self.occurred_at_ms,
            &self.received_at_ms,
            &self.message,
        ];
        if let Some(channel) = notify {
            values.push(channel);
        }
        values
    }
}

/// One `type = "postgres"` sink.
#[derive(Debug)]
pub(super) struct PostgresTable {
    /// `sink[N]`, for messages.
    pub(super) key: String,
    url: String,
    table: TableName,
    timeout: Duration,
    database: PostgresDatabase,
    /// The inbox, when the table is in its database: the insert joins the done mark.
    pub(super) inbox: Option<PostgresInbox>,
    insert: String,
    /// The channel (as a parameter of `pg_notify`).
    notify: Option<String>,
}

impl PostgresTable {
    /// The sink `key` writing to `table` at `url` (no connection yet); `inbox` when `url` is
    /// the inbox's own database.
    pub(super) fn new(
        key: String,
        url: &str,
        table: &TableName,
        notify: Option<&Identifier>,
        timeout: Duration,
        inbox: Option<PostgresInbox>,
    ) -> Result<Self, String> {
        let database =
            PostgresDatabase::new(url, 4, timeout).map_err(|error| format!("{key}: {error}"))?;
        let name = table.quoted();
        let columns = COLUMNS.join(", ");
        let values = "$1, $2, $3, $4, $5, \
             'epoch'::timestamptz + $6::bigint * interval '1 millisecond', \
             'epoch'::timestamptz + $7::bigint * interval '1 millisecond', \
             $8::text::jsonb, now()";
        // The notification only for a row this transaction inserted: a conflict (the row was
        // already there, so its listeners already heard) notifies nobody.
        let insert = if notify.is_some() {
            format!(
                "WITH inserted AS (INSERT INTO {name} ({columns}) VALUES ({values}) \
                 ON CONFLICT (webhook_id) DO NOTHING RETURNING webhook_id) \
                 SELECT pg_notify($9::text, webhook_id) FROM inserted"
            )
        } else {
            format!(
                "INSERT INTO {name} ({columns}) VALUES ({values}) \
                 ON CONFLICT (webhook_id) DO NOTHING"
            )
        };
        Ok(Self {
            key,
            url: url.to_owned(),
            table: table.clone(),
            timeout,
            database,
            inbox,
            insert,
            notify: notify.map(|channel| channel.as_str().to_owned()),
        })
    }

    /// The table exists with every column and a unique `webhook_id` (start-up and reload).
    pub(super) async fn check(&self) -> Result<(), String> {
        let attempt = async {
            let name = self.table.quoted();
            let columns: Vec<String> = self
                .database
                .query(
                    "check table",
                    "SELECT a.attname::text FROM pg_attribute a \
                     WHERE a.attrelid = to_regclass($1::text) AND a.attnum > 0 \
                     AND NOT a.attisdropped",
                    &[&name],
                )
                .await
                .map_err(|error| format!("{}: {error}", self.where_()))?
                .iter()
                .filter_map(|row| row.try_get::<_, String>(0).ok())
                .collect();
            if columns.is_empty() {
                return Err(missing_help(&format!(
                    "table {} does not exist in {}",
                    self.table,
                    redact_url(&self.url)
                )));
            }
            check_columns(&self.table, &columns)?;
            let unique: bool = self
                .database
                .query(
                    "check table",
                    "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a \
                     ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
                     WHERE i.indrelid = to_regclass($1::text) AND i.indisunique \
                     AND i.indnkeyatts = 1 AND a.attname = 'webhook_id')",
                    &[&name],
                )
                .await
                .map_err(|error| format!("{}: {error}", self.where_()))?
                .first()
                .and_then(|row| row.try_get(0).ok())
                .unwrap_or(false);
            if !unique {
                return Err(missing_help(&format!(
                    "table {} has no primary key or unique index on webhook_id alone, which \
                     ON CONFLICT (webhook_id) needs",
                    self.table
                )));
            }
            Ok(())
        };
        tokio::time::timeout(self.timeout, attempt)
            .await
            .map_err(|_| {
                format!(
                    "{}: no answer within {} ms",
                    self.where_(),
                    self.timeout.as_millis()
                )
            })?
    }

    /// `table T at URL` (the password redacted), for messages.
    fn where_(&self) -> String {
        format!("table {} at {}", self.table, redact_url(&self.url))
    }

    /// Inserts `message` in its own transaction (no inbox row to join: direct mode, or a
    /// database other than the inbox's).
    pub(super) async fn insert(&self, message: &Message) -> Result<(), Failed> {
        let values = Values::new(message)?;
        let parameters = values.postgres(self.notify.as_ref());
        let statements = [(self.insert.as_str(), parameters.as_slice())];
        let attempt = self.database.transaction("insert", &statements);
        tokio::time::timeout(self.timeout, attempt)
            .await
            .map_err(|_| self.timed_out())?
            .map_err(|error| Failed::from(format!("insert into {}: {error}", self.where_())))
    }

    fn timed_out(&self) -> Failed {
        Failed::from(format!(
            "insert into {}: no answer within {} ms",
            self.where_(),
            self.timeout.as_millis()
        ))
    }

    /// Migrates the table (`CREATE TABLE IF NOT EXISTS`).
    pub(super) async fn migrate(&self) -> Result<(), String> {
        let sql = postgres_migration(&self.table);
        let statements: Vec<Statement<'_>> = sql
            .split_inclusive(";\n")
            .map(str::trim)
            .filter(|statement| !statement.is_empty())
            .map(|statement| (statement, &[] as &[&(dyn ToSql + Sync)]))
            .collect();
        tokio::time::timeout(
            self.timeout,
            self.database.transaction("migrate", &statements),
        )
        .await
        .map_err(|_| {
            format!(
                "{}: no answer within {} ms",
                self.where_(),
                self.timeout.as_millis()
            )
        })?
        .map_err(|error| format!("{}: {error}", self.where_()))
    }

    pub(super) fn table(&self) -> &TableName {
        &self.table
    }
}

/// Inserts each table's message (masked as that sink says) into every sink of `tables` (all
/// in the inbox's database) in the transaction that marks row `id` done under `claim`.
/// `Ok(false)`: the lease was lost, nothing was inserted.
pub(super) async fn insert_with_done_mark(
    inbox: &PostgresInbox,
    joined: &[(&PostgresTable, Message)],
    id: i64,
    claim: i64,
) -> Result<bool, Failed> {
    let values = joined
        .iter()
        .map(|(_, message)| Values::new(message))
        .collect::<Result<Vec<_>, _>>()?;
    let tables: Vec<&PostgresTable> = joined.iter().map(|(table, _)| *table).collect();
    let parameters: Vec<Vec<&(dyn ToSql + Sync)>> = tables
        .iter()
        .zip(&values)
        .map(|(table, values)| values.postgres(table.notify.as_ref()))
        .collect();
    let statements: Vec<Statement<'_>> = tables
        .iter()
        .zip(&parameters)
        .map(|(table, parameters)| (table.insert.as_str(), parameters.as_slice()))
        .collect();
    let timeout = tables
        .iter()
        .map(|table| table.timeout)
        .fold(Duration::ZERO, Duration::saturating_add);
    let names: Vec<String> = tables.iter().map(|table| table.table.to_string()).collect();
    tokio::time::timeout(timeout, inbox.complete_with(id, claim, &statements))
        .await
        .map_err(|_| {
            Failed::from(format!(
                "insert into {} with the inbox's done mark: no answer within {} ms",
                names.join(", "),
                timeout.as_millis()
            ))
        })?
        .map_err(|error| {
            Failed::from(format!(
                "insert into {} with the inbox's done mark: {error}",
                names.join(", ")
            ))
        })
}

fn check_columns(table: &TableName, found: &[String]) -> Result<(), String> {
    let missing: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|column| !found.iter().any(|name| name == column))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(missing_help(&format!(
        "table {table} lacks the column{} {}",
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", ")
    )))
}

/// One `type = "sqlite"` sink: one connection, used off the runtime's threads.
#[derive(Debug)]
pub(super) struct SqliteTable {
    /// `sink[N]`, for messages.
    pub(super) key: String,
    path: PathBuf,
    table: TableName,
    timeout: Duration,
    connection: Arc<Mutex<Option<Connection>>>,
    insert: Arc<str>,
}

impl SqliteTable {
    pub(super) fn new(key: String, path: PathBuf, table: &TableName, timeout: Duration) -> Self {
        let insert = format!(
            "INSERT INTO {} ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (webhook_id) DO NOTHING",
            table.quoted(),
            COLUMNS.join(", ")
        );
        Self {
            key,
            path,
            table: table.clone(),
            timeout,
            connection: Arc::new(Mutex::new(None)),
            insert: insert.into(),
        }
    }

    fn where_(&self) -> String {
        format!("table {} in {}", self.table, self.path.display())
    }

    /// Runs `work` on the connection (opened once, without creating the file unless
    /// `create`), off the runtime's threads, within the timeout.
    async fn with<T: Send + 'static>(
        &self,
        create: bool,
        work: impl FnOnce(&mut Connection) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let connection = self.connection.clone();
        let path = self.path.clone();
        let timeout = self.timeout;
        let task = tokio::task::spawn_blocking(move || {
            let mut slot = connection.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                if create {
                    flags |= OpenFlags::SQLITE_OPEN_CREATE;
                }
                let opened = Connection::open_with_flags(&path, flags)
                    .map_err(|error| format!("cannot open the database: {error}"))?;
                opened
                    .busy_timeout(timeout)
                    .map_err(|error| format!("cannot set the busy timeout: {error}"))?;
                *slot = Some(opened);
            }
            match slot.as_mut() {
                Some(connection) => {
                    let result = work(connection);
                    if result.is_err() {
                        // A fresh connection next time (the file may have been replaced).
                        *slot = None;
                    }
                    result
                }
                None => Err("no connection".to_owned()),
            }
        });
        tokio::time::timeout(timeout.saturating_add(Duration::from_secs(1)), task)
            .await
            .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
            .map_err(|_| "the database task failed".to_owned())?
    }

    /// The table exists with every column (start-up and reload).
    pub(super) async fn check(&self) -> Result<(), String> {
        let table = self.table.clone();
        let found = self
            .with(false, move |connection| {
                let schema = table.schema.as_ref().map_or("main", Identifier::as_str);
                let mut statement = connection
                    .prepare("SELECT name FROM pragma_table_info(?1, ?2)")
                    .map_err(|error| error.to_string())?;
                let names = statement
                    .query_map([table.table.as_str(), schema], |row| {
                        row.get::<_, String>(0)
                    })
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .map_err(|error| error.to_string())?;
                Ok(names)
            })
            .await
            .map_err(|error| format!("{}: {error}", self.where_()))?;
        if found.is_empty() {
            return Err(missing_help(&format!(
                "table {} does not exist in {}",
                self.table,
                self.path.display()
            )));
        }
        check_columns(&self.table, &found)
    }

    /// Inserts `message` (autocommit).
    pub(super) async fn insert(&self, message: &Message) -> Result<(), Failed> {
        let values = Values::new(message)?;
        let row = (
            values.id.to_owned(),
            values.provider.to_owned(),
            values.kind.to_owned(),
            values.endpoint.to_owned(),
            values.known,
            values.occurred_at_ms.map(rfc3339_millis),
            rfc3339_millis(values.received_at_ms),
            values.message.to_owned(),
            rfc3339_millis(now_ms()),
        );
        let insert = self.insert.clone();
        self.with(false, move |connection| {
            connection
                .prepare_cached(&insert)
                .and_then(|mut statement| {
                    statement.execute(rusqlite::params![
                        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8
                    ])
                })
                .map(drop)
                .map_err(|error| error.to_string())
        })
        .await
        .map_err(|error| Failed::from(format!("insert into {}: {error}", self.where_())))
    }

    /// Migrates the table (`CREATE TABLE IF NOT EXISTS`), creating the file if needed.
    pub(super) async fn migrate(&self) -> Result<(), String> {
        let sql = sqlite_migration(&self.table);
        self.with(true, move |connection| {
            let transaction = connection
                .transaction()
                .map_err(|error| error.to_string())?;
            transaction
                .execute_batch(&sql)
                .map_err(|error| error.to_string())?;
            transaction.commit().map_err(|error| error.to_string())
        })
        .await
        .map_err(|error| format!("{}: {error}", self.where_()))
    }

    pub(super) fn table(&self) -> &TableName {
        &self.table
    }

    pub(super) fn path(&self) -> &std::path::Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_shows_the_migrations_that_run() {
        let readme = include_str!("../../../../README.md");
        let table = TableName::parse(crate::config::DEFAULT_TABLE).unwrap();
        assert!(readme.contains(&postgres_migration(&table)));
        assert!(readme.contains(&sqlite_migration(&table)));
        let qualified = TableName::parse("shop.events").unwrap();
        assert!(
            sqlite_migration(&qualified).contains(
                "CREATE INDEX IF NOT EXISTS \"shop\".\"events_inserted_at\" ON \"events\""
            )
        );
    }
}
