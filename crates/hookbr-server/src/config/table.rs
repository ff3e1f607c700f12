//! `[[sink]] type = "postgres"` and `type = "sqlite"`: the table's name and the notification
//! channel, checked identifiers (they are written into SQL, so nothing else gets through).

use std::{fmt, path::Path, time::Duration};

use super::{
    raw::{RawPostgresTable, RawSqliteTable},
    reference::{rebase_file, resolve_value},
    sink::SinkConfig,
    value::{duration, problem},
};

/// The table a table sink writes to by default.
pub const DEFAULT_TABLE: &str = "hookbr_events";

/// The longest identifier PostgreSQL keeps whole (`NAMEDATALEN` - 1).
const MAX_IDENTIFIER: usize = 63;

/// A checked SQL identifier: lowercase ASCII letters, digits and `_`, not starting with a
/// digit, at most 63 characters (so it means the same quoted or not, in PostgreSQL and in
/// SQLite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier(String);

impl Identifier {
    /// Checks `name`.
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        let valid = !name.is_empty()
            && name.len() <= MAX_IDENTIFIER
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "`{name}` is not a plain identifier: lowercase letters, digits and _, not \
                 starting with a digit, at most {MAX_IDENTIFIER} characters"
            ))
        }
    }

    /// The name as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name quoted for SQL (`"hookbr_events"`): a reserved word is a name too.
    #[must_use]
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A table sink's table: `table` or `schema.table`, each a checked [`Identifier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// The schema (PostgreSQL) or attached database (SQLite), when given.
    pub schema: Option<Identifier>,
    /// The table.
    pub table: Identifier,
}

impl TableName {
    /// Checks `name` (`table` or `schema.table`).
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        match name.split_once('.') {
            Some((schema, table)) => Ok(Self {
                schema: Some(Identifier::parse(schema)?),
                table: Identifier::parse(table)?,
            }),
            None => Ok(Self {
                schema: None,
                table: Identifier::parse(name)?,
            }),
        }
    }

    /// The name quoted for SQL (`"shop"."hookbr_events"`).
    #[must_use]
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", schema.quoted(), self.table.quoted()),
            None => self.table.quoted(),
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.table),
            None => write!(f, "{}", self.table),
        }
    }
}

fn table(key: &str, table: Option<&str>) -> Result<TableName, String> {
    TableName::parse(table.unwrap_or(DEFAULT_TABLE))
        .map_err(|message| problem(format!("{key}.table"), message))
}

fn timeout(key: &str, timeout: Option<&str>) -> Result<Duration, String> {
    duration(&format!("{key}.timeout"), timeout, Duration::from_secs(10))
}

/// `type = "postgres"`: every key checked now (`serve --check`), the database at start-up.
pub(super) fn resolve_postgres(
    key: &str,
    raw: RawPostgresTable,
    base: &Path,
) -> Result<SinkConfig, String> {
    let RawPostgresTable {
        url,
        table: name,
        notify,
        timeout: wait,
        mask,
    } = raw;
    let mask = super::sink::resolve_mask(key, mask)?;
    let url_key = format!("{key}.url");
    let url =
        resolve_value(&rebase_file(&url, base)).map_err(|message| problem(&url_key, message))?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(problem(
            &url_key,
            "expected a postgres:// (or postgresql://) URL, or a reference to one (env:NAME, \
             file:PATH)",
        ));
    }
    let timeout = timeout(key, wait.as_deref())?;
    // The URL's form, sslmode and sslrootcert checked now (no connection is made).
    hookbr_store::PostgresDatabase::new(&url, 1, timeout)
        .map_err(|error| problem(&url_key, error.to_string()))?;
    let notify = notify
        .map(|channel| {
            Identifier::parse(&channel).map_err(|message| problem(format!("{key}.notify"), message))
        })
        .transpose()?;
    Ok(SinkConfig::Postgres {
        url,
        table: table(key, name.as_deref())?,
        notify,
        timeout,
        mask,
    })
}

/// `type = "sqlite"`: a relative `path` is relative to the configuration's folder.
pub(super) fn resolve_sqlite(
    key: &str,
    raw: RawSqliteTable,
    base: &Path,
) -> Result<SinkConfig, String> {
    let RawSqliteTable {
        path,
        table: name,
        timeout: wait,
        mask,
    } = raw;
    let mask = super::sink::resolve_mask(key, mask)?;
    let path_key = format!("{key}.path");
    let path =
        resolve_value(&rebase_file(&path, base)).map_err(|message| problem(&path_key, message))?;
    let path = path.strip_prefix("sqlite:").unwrap_or(&path);
    if path.is_empty() {
        return Err(problem(&path_key, "needs the database file's path"));
    }
    let path = if Path::new(path).is_relative() {
        base.join(path)
    } else {
        Path::new(path).to_path_buf()
    };
    let table = table(key, name.as_deref())?;
    if table.schema.is_some() {
        return Err(problem(
            format!("{key}.table"),
            "a SQLite table sink takes the table's name alone (no schema: the table is in the \
             file given by path)",
        ));
    }
    Ok(SinkConfig::Sqlite {
        path,
        table,
        timeout: timeout(key, wait.as_deref())?,
        mask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for good in ["hookbr_events", "_x", "a1", &"a".repeat(63)] {
            assert!(Identifier::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "1a",
            "Events",
            "a-b",
            "a b",
            "a\"b",
            "a;drop",
            "é",
            &"a".repeat(64),
        ] {
            assert!(Identifier::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            TableName::parse("shop.events").unwrap().quoted(),
            "\"shop\".\"events\""
        );
        assert_eq!(TableName::parse("order").unwrap().quoted(), "\"order\"");
        for bad in ["a.b.c", ".a", "a.", "a.\"b\""] {
            assert!(TableName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
