//! `hookbr.toml`: the receiver's configuration.
//!
//! Parsing happens in two steps: serde reads the TOML into flat `Raw*` structs (unknown keys
//! are refused, so a typo is an error rather than a silently ignored option), then
//! [`Config::parse`] resolves secret references and checks every value, naming the key of the
//! first problem (`endpoint[1].tokens[0]: environment variable FOODY_TOKEN is not set`).
//! Secrets, tokens and sink keys are accepted only by reference (`env:NAME` or `file:PATH`), so
//! a configuration file can be committed and reviewed without leaking them. Each endpoint's
//! provider options become a [`VerifierSpec`], the one place a verifier is built from
//! configuration.
//!
//! ```
//! use hookbr_server::config::{Config, InboxUrl};
//!
//! let error = Config::parse(
//!     "[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"env:HOOKBR_DOC_UNSET\"]\n",
//!     std::path::Path::new("."),
//! )
//! .unwrap_err();
//! assert_eq!(
//!     error.to_string(),
//!     "endpoint[0].tokens[0]: environment variable HOOKBR_DOC_UNSET is not set"
//! );
//! assert_eq!(InboxUrl::parse("none"), Ok(InboxUrl::None));
//! ```

use std::{
    fmt, fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use hookbr_axum::ConnectionLimits;
use hookbr_core::Secret;

use crate::Error;

mod encryption;
mod endpoint;
pub(crate) mod lease;
mod listener;
mod nats;
mod raw;
mod reference;
mod sink;
mod spec;
mod table;
mod tls;
mod value;

pub use encryption::{DEFAULT_KEY_ID, InboxKeyRef, resolve_keys};
pub use endpoint::EndpointConfig;
pub use nats::{NatsAuth, NatsSubject, subject_covers, subject_token};
pub(crate) use reference::resolve_value;
#[cfg(test)]
pub(crate) use sink::webhook_secret;
pub use sink::{SinkConfig, SinkMask};
pub use spec::{Labeled, SecretIn, VerifierSpec};
pub use table::{DEFAULT_TABLE, Identifier, TableName};
pub use tls::TlsConfig;

use raw::{RawAdmin, RawConfig};
pub(crate) use value::redact_url;
use value::{duration, limit, problem};

/// The commented configuration `hookbr init` writes: every option with its default and the
/// provider documentation it comes from.
pub const TEMPLATE: &str = include_str!("hookbr.toml");

/// The default listen address: loopback, so nothing is exposed until the merchant says so.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default inbox: a SQLite file next to the configuration.
const DEFAULT_INBOX: &str = "sqlite:hookbr-inbox.sqlite3";
/// Where Grafeno's signature ledger is kept in direct mode without Redis.
const DEFAULT_LEDGER: &str = "sqlite:hookbr-ledger.sqlite3";
/// The default admin listener.
const DEFAULT_ADMIN: &str = "127.0.0.1:9090";
/// The shortest `[admin] token` accepted, in characters: a token is the inspector's only
/// credential off loopback, so it must not be guessable.
pub const ADMIN_TOKEN_MIN_CHARS: usize = 32;

/// Where verified deliveries are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InboxUrl {
    /// A SQLite file.
    Sqlite(String),
    /// A PostgreSQL connection URL (may hold a password: never printed).
    Postgres(String),
    /// No inbox: sinks run inside the request (direct mode).
    None,
}

impl fmt::Display for InboxUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{path}"),
            Self::Postgres(url) => f.write_str(&redact_url(url)),
            Self::None => f.write_str("none (direct mode)"),
        }
    }
}

impl InboxUrl {
    /// Parses `sqlite:PATH`, `postgres://…`/`postgresql://…` or `none`.
    ///
    /// # Errors
    ///
    /// What is expected instead, for anything else.
    pub fn parse(value: &str) -> Result<Self, String> {
        if let Some(path) = value.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("sqlite: needs a file path, e.g. sqlite:hookbr-inbox.sqlite3".into());
            }
            Ok(Self::Sqlite(path.to_owned()))
        } else if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            Ok(Self::Postgres(value.to_owned()))
        } else if value == "none" {
            Ok(Self::None)
        } else {
            Err("expected sqlite:PATH, postgres://… or none".into())
        }
    }
}

/// Worker settings.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// The first retry delay (doubles each attempt, ±20 % jitter).
    pub backoff: Duration,
    /// The longest retry delay.
    pub max_backoff: Duration,
    /// How long a claimed row is reserved for a worker.
    pub lease: Duration,
    /// Deliveries of a batch the worker hands to the sinks at the same time (`[worker]
    /// concurrency`, default 16; 1 handles them one after another).
    pub concurrency: usize,
}

/// `[inbox] body_retention` by default: as long as completed rows are kept by default
/// (`retention`), so nothing changes for a configuration that sets neither; see
/// docs/PRIVACY.md for shorter values.
pub const DEFAULT_BODY_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// A checked configuration. See the module docs.
#[derive(Debug)]
#[non_exhaustive]
pub struct Config {
    /// Where providers post.
    pub listen: SocketAddr,
    /// The bounds of that listener's connections (`[server]` timeouts, connection cap, header
    /// limits, HTTP/2).
    pub limits: ConnectionLimits,
    /// Hand Foody `hook_test` to the sinks.
    pub forward_handshakes: bool,
    /// Log each stored body (secrets redacted) when the worker takes it.
    pub log_bodies: bool,
    /// The inbox.
    pub inbox: InboxUrl,
    /// Redis URL for shared deduplication in direct mode.
    pub redis: Option<String>,
    /// The inbox's encryption keys (`[inbox] encryption_key` / `encryption_keys`), the one
    /// that seals new rows first; empty: rows are stored in clear. Resolved when the inbox is
    /// opened ([`resolve_keys`]).
    pub encryption_keys: Vec<InboxKeyRef>,
    /// Completed rows older than this are pruned.
    pub retention: Duration,
    /// Completed rows older than this lose their body and headers, keeping their delivery key
    /// until `retention` (`[inbox] body_retention`, default 7 days).
    pub body_retention: Duration,
    /// Direct mode without Redis, with a Grafeno endpoint: the SQLite file keeping Grafeno's
    /// signature ledger (`[inbox] ledger`, default `sqlite:hookbr-ledger.sqlite3` next to the
    /// configuration); `None` (`"memory"`): in memory, lost on restart. The inboxes and Redis
    /// keep the ledger themselves.
    pub ledger: Option<PathBuf>,
    /// Worker settings.
    pub worker: WorkerConfig,
    /// The routes.
    pub endpoints: Vec<EndpointConfig>,
    /// The sinks.
    pub sinks: Vec<SinkConfig>,
    /// The admin listener (inspector and /metrics), when `[admin]` is present.
    pub admin: Option<AdminConfig>,
    /// TLS termination on the receiver's listener, when `[server] tls_cert` and `tls_key` are
    /// set (the pair already read and checked).
    pub tls: Option<TlsConfig>,
}

/// The admin listener.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AdminConfig {
    /// Its address (127.0.0.1:9090 by default).
    pub listen: SocketAddr,
    /// The access token, required for a non-loopback address; at least
    /// [`ADMIN_TOKEN_MIN_CHARS`] characters.
    pub token: Option<Arc<Secret>>,
    /// The bounds of its connections (`[admin]` timeouts, connection cap, header limits,
    /// HTTP/2; at most 64 connections by default).
    pub limits: ConnectionLimits,
}

impl AdminConfig {
    /// A listener on `listen` without an access token (a loopback address: the server refuses
    /// any other without a token).
    #[must_use]
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            token: None,
            limits: listener::admin_defaults(),
        }
    }
}

impl Config {
    /// Reads and checks the file at `path`; relative `file:` references and SQLite paths are
    /// taken from its folder.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the file and the key of the first problem.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = read(path)?;
        parse_text(&text, base_of(path))
            .map_err(|message| Error::config(format!("{}: {message}", path.display())))
    }

    /// Parses `text`; relative `file:` references and SQLite paths are taken from `base`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the key of the first problem.
    pub fn parse(text: &str, base: &Path) -> Result<Self, Error> {
        parse_text(text, base).map_err(Error::Config)
    }

    /// Only the inbox location of the file at `path` (for `hookbr inbox`, which needs no
    /// secrets).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the file and the problem.
    pub fn load_inbox(path: &Path) -> Result<InboxUrl, Error> {
        let text = read(path)?;
        let raw: RawConfig = toml::from_str(&text).map_err(|error| {
            Error::config(format!("{}: {}", path.display(), toml_error(&text, &error)))
        })?;
        inbox_url(raw.inbox.url.as_deref(), base_of(path))
            .map_err(|message| Error::config(format!("{}: {message}", path.display())))
    }

    /// Only the inbox's encryption keys of the file at `path` (for `hookbr inbox`), not yet
    /// resolved ([`resolve_keys`]).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the file and the problem.
    pub fn load_inbox_keys(path: &Path) -> Result<Vec<InboxKeyRef>, Error> {
        let text = read(path)?;
        let raw: RawConfig = toml::from_str(&text).map_err(|error| {
            Error::config(format!("{}: {}", path.display(), toml_error(&text, &error)))
        })?;
        encryption::parse_keys(&raw.inbox, base_of(path))
            .map_err(|message| Error::config(format!("{}: {message}", path.display())))
    }

    /// Only the `[admin]` section of the file at `path` (for `hookbr reload`, which asks the
    /// running server through its admin listener); `None` without one.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the file and the problem.
    pub fn load_admin(path: &Path) -> Result<Option<AdminConfig>, Error> {
        let text = read(path)?;
        let raw: RawConfig = toml::from_str(&text).map_err(|error| {
            Error::config(format!("{}: {}", path.display(), toml_error(&text, &error)))
        })?;
        raw.admin
            .as_ref()
            .map(|admin| resolve_admin(admin, base_of(path)))
            .transpose()
            .map_err(|message| Error::config(format!("{}: {message}", path.display())))
    }

    /// One line per route, the inbox and each sink, for a start-up banner (no secrets).
    #[must_use]
    pub fn summary(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .endpoints
            .iter()
            .map(|endpoint| {
                format!(
                    "  {} {} → {}",
                    endpoint.methods_text(),
                    endpoint.path,
                    endpoint.endpoint.to_text()
                )
            })
            .collect();
        if let Some(tls) = &self.tls {
            lines.push(format!(
                "  tls: certificate {}, key {} (TLS 1.2/1.3; files checked for renewal every {} s)",
                tls.cert,
                tls.key,
                crate::reload::TLS_POLL_INTERVAL.as_secs()
            ));
        }
        lines.push(format!("  inbox: {}", self.inbox));
        if self.sinks.is_empty() {
            lines.push(
                "  no [[sink]] configured: deliveries are stored and marked done (see `hookbr inbox list`)"
                    .to_owned(),
            );
        }
        for sink in &self.sinks {
            lines.push(format!("  sink: {}", sink.describe()));
        }
        lines
    }
}

fn read(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path)
        .map_err(|error| Error::config(format!("cannot read {}: {error}", path.display())))
}

fn base_of(path: &Path) -> &Path {
    path.parent().unwrap_or_else(|| Path::new("."))
}

/// [`Config::parse`] with the bare message.
fn parse_text(text: &str, base: &Path) -> Result<Config, String> {
    let raw: RawConfig = toml::from_str(text).map_err(|error| toml_error(text, &error))?;
    resolve(raw, base)
}

/// One line: where in the file and what serde said (which names the key).
fn toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map_or(1, |before| before.matches('\n').count() + 1);
            let source = text.lines().nth(line - 1).unwrap_or_default().trim();
            if source.is_empty() {
                format!("line {line}: {message}")
            } else {
                format!("line {line} ({source}): {message}")
            }
        }
        None => message,
    }
}

fn inbox_url(url: Option<&str>, base: &Path) -> Result<InboxUrl, String> {
    let value = match url {
        Some(value) => resolve_value(&reference::rebase_file(value, base))
            .map_err(|message| problem("inbox.url", message))?,
        None => DEFAULT_INBOX.to_owned(),
    };
    match InboxUrl::parse(&value).map_err(|message| problem("inbox.url", message))? {
        InboxUrl::Sqlite(path) if Path::new(&path).is_relative() => Ok(InboxUrl::Sqlite(
            base.join(path).to_string_lossy().into_owned(),
        )),
        other => Ok(other),
    }
}

/// `[inbox] ledger`: `"sqlite:PATH"` (relative to the configuration) or `"memory"`.
fn ledger_path(value: Option<&str>, base: &Path) -> Result<Option<PathBuf>, String> {
    let value = value.unwrap_or(DEFAULT_LEDGER).trim();
    if value == "memory" {
        return Ok(None);
    }
    match value.strip_prefix("sqlite:") {
        Some(path) if !path.trim().is_empty() => Ok(Some(base.join(path.trim()))),
        _ => Err(problem(
            "inbox.ledger",
            format!("{value:?}: expected \"sqlite:PATH\" or \"memory\""),
        )),
    }
}

fn resolve(raw: RawConfig, base: &Path) -> Result<Config, String> {
    let listen = raw.server.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen: SocketAddr = listen.parse().map_err(|_| {
        problem(
            "server.listen",
            format!("{listen:?} is not an address like \"127.0.0.1:8080\""),
        )
    })?;
    let mut limits = listener::server_limits(&raw.server.listener())?;
    let tls = tls::resolve_tls(&raw.server, base, &mut limits)?;
    // Unset: each endpoint gets its provider's default (`Endpoint::default_body_limit`).
    let body_limit = raw
        .server
        .body_limit
        .map(|bytes| limit("server.body_limit", Some(bytes), 0))
        .transpose()?;
    let inbox = inbox_url(raw.inbox.url.as_deref(), base)?;
    let redis = raw
        .inbox
        .redis
        .as_deref()
        .map(|value| {
            let url = resolve_value(&reference::rebase_file(value, base))
                .map_err(|message| problem("inbox.redis", message))?;
            if url.starts_with("redis://") || url.starts_with("rediss://") {
                Ok(url)
            } else {
                Err(problem("inbox.redis", "expected a redis:// URL"))
            }
        })
        .transpose()?;
    if redis.is_some() && inbox != InboxUrl::None {
        return Err(problem(
            "inbox.redis",
            "shared Redis deduplication is for direct mode (inbox.url = \"none\"); the inbox \
             already deduplicates",
        ));
    }
    let ledger = ledger_path(raw.inbox.ledger.as_deref(), base)?;
    let encryption_keys = encryption::parse_keys(&raw.inbox, base)?;
    if !encryption_keys.is_empty() && inbox == InboxUrl::None {
        return Err(problem(
            "inbox.encryption_key",
            "encrypts the inbox's rows: there is no inbox in direct mode (inbox.url = \"none\")",
        ));
    }
    let retention = duration(
        "inbox.retention",
        raw.inbox.retention.as_deref(),
        Duration::from_secs(7 * 86_400),
    )?;
    let body_retention = duration(
        "inbox.body_retention",
        raw.inbox.body_retention.as_deref(),
        DEFAULT_BODY_RETENTION,
    )?;
    let worker = WorkerConfig {
        max_attempts: match raw.worker.max_attempts {
            Some(0) => return Err(problem("worker.max_attempts", "must be at least 1")),
            Some(attempts) => attempts,
            None => 8,
        },
        backoff: duration(
            "worker.backoff",
            raw.worker.backoff.as_deref(),
            Duration::from_secs(1),
        )?,
        max_backoff: duration(
            "worker.max_backoff",
            raw.worker.max_backoff.as_deref(),
            Duration::from_secs(3_600),
        )?,
        lease: duration(
            "worker.lease",
            raw.worker.lease.as_deref(),
            Duration::from_secs(60),
        )?,
        concurrency: match raw.worker.concurrency {
            Some(0) => return Err(problem("worker.concurrency", "must be at least 1")),
            Some(n) if n > lease::MAX_CONCURRENCY => {
                return Err(problem(
                    "worker.concurrency",
                    format!("must be at most {}", lease::MAX_CONCURRENCY),
                ));
            }
            Some(n) => n,
            None => lease::DEFAULT_CONCURRENCY,
        },
    };
    if worker.max_backoff < worker.backoff {
        return Err(problem(
            "worker.max_backoff",
            "must not be shorter than worker.backoff",
        ));
    }
    if raw.endpoints.is_empty() {
        return Err(problem(
            "endpoint",
            "no [[endpoint]] configured: add one per provider URL (see `hookbr init`)",
        ));
    }
    let mut endpoints = Vec::with_capacity(raw.endpoints.len());
    for (index, endpoint) in raw.endpoints.into_iter().enumerate() {
        let key = format!("endpoint[{index}]");
        endpoints.push(endpoint::resolve_endpoint(
            &key,
            endpoint,
            body_limit,
            raw.server.strict,
            base,
        )?);
        // Against the earlier ones, so the first problem in file order is named.
        endpoint::check_last_route(&endpoints)?;
    }
    let sinks = raw
        .sinks
        .into_iter()
        .enumerate()
        .map(|(index, sink)| sink::resolve_sink(&format!("sink[{index}]"), sink, base))
        .collect::<Result<Vec<_>, _>>()?;
    let admin = raw
        .admin
        .as_ref()
        .map(|admin| resolve_admin(admin, base))
        .transpose()?;
    lease::check_lease(&worker, &sinks, &inbox)?;
    if inbox == InboxUrl::None && sinks.is_empty() {
        return Err(problem(
            "sink",
            "direct mode (inbox.url = \"none\") needs at least one [[sink]]: without an inbox \
             and a sink, deliveries would be acknowledged and dropped",
        ));
    }
    if inbox == InboxUrl::None {
        listener::direct_mode(&mut limits, &raw.server.listener(), &sinks)?;
        if let Some(index) = endpoints
            .iter()
            .position(|endpoint| endpoint.ordering == hookbr_core::ordering::OrderingMode::Hold)
        {
            return Err(problem(
                format!("endpoint[{index}].ordering"),
                "\"hold\" needs the inbox (the worker holds deliveries); in direct mode use \
                 \"annotate\" or \"drop-stale\"",
            ));
        }
    }
    Ok(Config {
        admin,
        tls,
        listen,
        limits,
        forward_handshakes: raw.server.forward_handshakes,
        log_bodies: raw.server.log_bodies,
        inbox,
        redis,
        encryption_keys,
        retention,
        body_retention,
        ledger,
        worker,
        endpoints,
        sinks,
    })
}

fn resolve_admin(raw: &RawAdmin, base: &Path) -> Result<AdminConfig, String> {
    let text = raw.listen.as_deref().unwrap_or(DEFAULT_ADMIN);
    let listen: SocketAddr = text.parse().map_err(|_| {
        problem(
            "admin.listen",
            format!("{text:?} is not an address like \"127.0.0.1:9090\""),
        )
    })?;
    let token = raw
        .token
        .as_deref()
        .map(|value| {
            reference::resolve_secret("admin.token", value, base)
                .map(|(secret, _)| Arc::new(secret))
        })
        .transpose()?;
    if let Some(token) = &token {
        if String::from_utf8_lossy(token.expose()).chars().count() < ADMIN_TOKEN_MIN_CHARS {
            return Err(problem(
                "admin.token",
                format!(
                    "too short: use at least {ADMIN_TOKEN_MIN_CHARS} random characters (e.g. \
                     the output of `openssl rand -hex 32`)"
                ),
            ));
        }
    }
    if !listen.ip().is_loopback() && token.is_none() {
        return Err(problem(
            "admin.token",
            format!(
                "required when admin.listen ({listen}) is not a loopback address: the inspector \
                 shows deliveries and can replay them"
            ),
        ));
    }
    let limits = listener::admin_limits(&raw.listener())?;
    Ok(AdminConfig {
        listen,
        token,
        limits,
    })
}

/// `text` as a TOML basic string, for tests that write configurations.
#[cfg(test)]
pub(crate) fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookbr_core::ordering::OrderingMode;

    fn parse(text: &str) -> Result<Config, String> {
        parse_text(text, Path::new("/base"))
    }

    const FOODY: &str = "[[endpoint]]\nprovider = \"foody\"\npath = \"/foody\"\ntokens = [\"env:HOOKBR_CONFIG_TEST_TOKEN\"]\n";

    #[test]
    fn inbox_urls() {
        assert_eq!(
            InboxUrl::parse("sqlite:x.db"),
            Ok(InboxUrl::Sqlite("x.db".into()))
        );
        assert_eq!(InboxUrl::parse("none"), Ok(InboxUrl::None));
        assert!(InboxUrl::parse("mysql://x").is_err());
        let pg = InboxUrl::Postgres("postgres://hookbr:hunter2@db:5432/hookbr".into());
        assert_eq!(pg.to_string(), "postgres://***@db:5432/hookbr");
        assert!(!pg.to_string().contains("hunter2"));
        for leaky in [
            "postgres://127.0.0.1:1/db?password=hunter2",
            "postgres://u:hun/ter2@db/x",
            "postgresql://u:hunter2@db:5432/x?sslmode=disable&password=hunter2",
        ] {
            let shown = InboxUrl::Postgres(leaky.into()).to_string();
            assert!(
                !shown.contains("hunter2") && !shown.contains("ter2"),
                "{shown}"
            );
        }
        assert_eq!(
            redact_url("http://app:k3y@127.0.0.1:3000/hooks?key=k3y"),
            "http://***@127.0.0.1:3000/hooks"
        );
        assert_eq!(redact_url("nonsense"), "***");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let error = parse("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap_err();
        assert!(error.contains("line 3"), "{error}");
        assert!(error.contains("lisen"), "{error}");
    }

    #[test]
    fn missing_endpoint_fields_name_the_key() {
        let error = parse("[[endpoint]]\nprovider = \"foody\"\n").unwrap_err();
        assert!(error.contains("path"), "{error}");
        let error = parse("[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\n").unwrap_err();
        assert!(error.starts_with("endpoint[0].tokens"), "{error}");
    }

    #[test]
    fn inline_secrets_are_refused() {
        let error =
            parse("[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"abc\"]\n")
                .unwrap_err();
        assert!(error.starts_with("endpoint[0].tokens[0]"), "{error}");
        assert!(error.contains("by reference"), "{error}");
        assert!(!error.contains("abc"), "{error}");
    }

    #[test]
    fn unset_variables_are_named() {
        let error = parse(
            "[[endpoint]]\nprovider = \"bonifiq\"\npath = \"/b\"\nsecrets = [\"env:HOOKBR_SURELY_UNSET_42\"]\n",
        )
        .unwrap_err();
        assert_eq!(
            error,
            "endpoint[0].secrets[0]: environment variable HOOKBR_SURELY_UNSET_42 is not set"
        );
    }

    #[test]
    fn options_of_other_providers_are_refused() {
        let error = parse(&format!("{FOODY}public_keys = [\"file:k.pem\"]\n")).unwrap_err();
        assert!(error.starts_with("endpoint[0].public_keys"), "{error}");
        let error = parse(
            "[[endpoint]]\nprovider = \"iset\"\npath = \"/i\"\nsecrets = [\"file:/dev/null\"]\n",
        )
        .unwrap_err();
        assert!(error.starts_with("endpoint[0].kind"), "{error}");
    }

    #[test]
    fn ordering_is_checked_per_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("token.txt"), "t0ken").unwrap();
        let endpoint = |extra: &str| {
            format!(
                "[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\n\
                 tokens = [\"file:token.txt\"]\n{extra}"
            )
        };
        let config = parse_text(&endpoint(""), dir.path()).unwrap();
        assert_eq!(config.endpoints[0].ordering, OrderingMode::Off);
        let config = parse_text(&endpoint("ordering = \"hold\"\n"), dir.path()).unwrap();
        assert_eq!(config.endpoints[0].ordering, OrderingMode::Hold);
        assert_eq!(config.endpoints[0].hold_for, Duration::from_secs(30));
        let config = parse_text(
            &endpoint("ordering = \"hold\"\nhold_for = \"5s\"\n"),
            dir.path(),
        )
        .unwrap();
        assert_eq!(config.endpoints[0].hold_for, Duration::from_secs(5));
        for (extra, key) in [
            ("ordering = \"sorted\"\n", "endpoint[0].ordering"),
            (
                "ordering = \"annotate\"\nhold_for = \"5s\"\n",
                "endpoint[0].hold_for",
            ),
            (
                "ordering = \"hold\"\nhold_for = \"0s\"\n",
                "endpoint[0].hold_for",
            ),
        ] {
            let error = parse_text(&endpoint(extra), dir.path()).unwrap_err();
            assert!(error.starts_with(key), "{extra}: {error}");
        }
        // Direct mode has no worker to hold deliveries.
        let direct = format!(
            "[inbox]\nurl = \"none\"\n\n[[sink]]\ntype = \"command\"\ncommand = [\"true\"]\n\n{}",
            endpoint("ordering = \"hold\"\n")
        );
        let error = parse_text(&direct, dir.path()).unwrap_err();
        assert!(error.starts_with("endpoint[0].ordering"), "{error}");
        let direct = direct.replace("\"hold\"", "\"drop-stale\"");
        assert_eq!(
            parse_text(&direct, dir.path()).unwrap().endpoints[0].ordering,
            OrderingMode::DropStale
        );
    }

    #[test]
    fn no_endpoint_is_an_error() {
        assert!(parse("").unwrap_err().starts_with("endpoint"));
    }

    #[test]
    fn file_references_resolve_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("token.txt"), "t0ken\n").unwrap();
        let text = "[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"file:token.txt\"]\n\
                    [[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"file:token.txt\"]\n";
        let error = parse_text(text, dir.path()).unwrap_err();
        assert!(error.starts_with("endpoint[1].path"), "{error}");
        let single = text.split("[[endpoint]]").nth(1).unwrap();
        let config = parse_text(&format!("[[endpoint]]{single}"), dir.path()).unwrap();
        assert_eq!(config.endpoints.len(), 1);
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(
            config.inbox,
            InboxUrl::Sqlite(
                dir.path()
                    .join("hookbr-inbox.sqlite3")
                    .to_string_lossy()
                    .into()
            )
        );
    }

    #[test]
    fn admin_listener_off_loopback_needs_a_token() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("t"), "t0ken-of-32-characters-or-more!!").unwrap();
        let endpoint = "[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"file:t\"]\n";
        let config = parse_text(&format!("[admin]\n{endpoint}"), dir.path()).unwrap();
        assert_eq!(config.admin.unwrap().listen.to_string(), "127.0.0.1:9090");
        let error = parse_text(
            &format!("[admin]\nlisten = \"0.0.0.0:9090\"\n{endpoint}"),
            dir.path(),
        )
        .unwrap_err();
        assert!(error.starts_with("admin.token: required"), "{error}");
        let config = parse_text(
            &format!("[admin]\nlisten = \"0.0.0.0:9090\"\ntoken = \"file:t\"\n{endpoint}"),
            dir.path(),
        )
        .unwrap();
        assert!(config.admin.unwrap().token.is_some());
        assert!(parse_text(endpoint, dir.path()).unwrap().admin.is_none());
    }

    #[test]
    fn body_limits_default_to_the_providers() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("t"), "t0ken").unwrap();
        let endpoints = "[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"file:t\"]\n\
             [[endpoint]]\nprovider = \"bonifiq\"\npath = \"/b\"\nsecrets = [\"file:t\"]\n\
             [[endpoint]]\nprovider = \"foody\"\npath = \"/g\"\ntokens = [\"file:t\"]\n\
             body_limit = 1000\n";
        let limits = |text: &str| -> Vec<usize> {
            parse_text(text, dir.path())
                .unwrap()
                .endpoints
                .iter()
                .map(|endpoint| endpoint.body_limit)
                .collect()
        };
        assert_eq!(limits(endpoints), [64 * 1024, 1024 * 1024, 1000]);
        assert_eq!(
            limits(&format!("[server]\nbody_limit = 2048\n{endpoints}")),
            [2048, 2048, 1000]
        );
        let error = parse_text(
            &format!("[server]\nbody_limit = 0\n{endpoints}"),
            dir.path(),
        )
        .unwrap_err();
        assert!(error.starts_with("server.body_limit:"), "{error}");
    }

    #[test]
    fn dedup_namespaces_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("t"), "t0ken").unwrap();
        let endpoint = |namespace: &str| {
            format!(
                "[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"file:t\"]\n{namespace}"
            )
        };
        let config = parse_text(&endpoint(""), dir.path()).unwrap();
        assert_eq!(config.endpoints[0].dedup_namespace, None);
        let config = parse_text(&endpoint("dedup_namespace = \"shop-1\"\n"), dir.path()).unwrap();
        assert_eq!(
            config.endpoints[0].dedup_namespace.as_deref(),
            Some("shop-1")
        );
        for bad in ["\"\"", "\"two words\"", &format!("\"{}\"", "x".repeat(101))] {
            let error = parse_text(&endpoint(&format!("dedup_namespace = {bad}\n")), dir.path())
                .unwrap_err();
            assert!(
                error.starts_with("endpoint[0].dedup_namespace: "),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn admin_tokens_have_a_minimum_length() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = "[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"file:f\"]\n";
        fs::write(dir.path().join("f"), "foody").unwrap();
        let admin = |token: &str| {
            fs::write(dir.path().join("t"), token).unwrap();
            parse_text(
                &format!("[admin]\nlisten = \"0.0.0.0:9090\"\ntoken = \"file:t\"\n{endpoint}"),
                dir.path(),
            )
        };
        let short = "s3cret-but-only-31-characters!!";
        assert_eq!(short.chars().count(), ADMIN_TOKEN_MIN_CHARS - 1);
        let error = admin(short).unwrap_err();
        assert!(error.starts_with("admin.token: too short"), "{error}");
        assert!(error.contains("32"), "{error}");
        assert!(!error.contains(short), "{error}");
        assert!(admin(&format!("{short}x")).is_ok());
        // Counted in characters, not bytes: 16 two-byte characters are 16 characters.
        assert!(admin(&"é".repeat(16)).is_err());
        // On loopback a token is optional, but one that is set is held to the same rule.
        fs::write(dir.path().join("t"), "short").unwrap();
        let error = parse_text(
            &format!("[admin]\ntoken = \"file:t\"\n{endpoint}"),
            dir.path(),
        )
        .unwrap_err();
        assert!(error.starts_with("admin.token: too short"), "{error}");
    }

    /// A configuration with these `(provider, path)` endpoints (iSET ones with the secret in
    /// the path), all sharing one secret file in `dir`.
    fn routes(dir: &Path, endpoints: &[(&str, &str)]) -> Result<Config, String> {
        fs::write(dir.join("s"), "s3cret").unwrap();
        let mut text = String::new();
        for (provider, path) in endpoints {
            let path = toml_string(path);
            text.push_str(&match *provider {
                "iset" => format!(
                    "[[endpoint]]\nprovider = \"iset\"\nkind = \"order_upserted\"\npath = {path}\n\
                     secret_in = \"path\"\nsecrets = [\"file:s\"]\n"
                ),
                "iset-query" => format!(
                    "[[endpoint]]\nprovider = \"iset\"\nkind = \"order_upserted\"\npath = {path}\n\
                     secrets = [\"file:s\"]\n"
                ),
                _ => format!(
                    "[[endpoint]]\nprovider = \"bonifiq\"\npath = {path}\nsecrets = [\"file:s\"]\n"
                ),
            });
        }
        parse_text(&text, dir)
    }

    #[test]
    fn routes_are_compared_after_normalisation() {
        let dir = tempfile::tempdir().unwrap();
        let error = routes(dir.path(), &[("iset", "/h"), ("iset", "/h/")]).unwrap_err();
        assert_eq!(
            error,
            "endpoint[1].path: \"/h/\" is served as \"/h/{secret}\", like endpoint[0] (\"/h\"): \
             one route cannot serve two endpoints"
        );
        for clash in [
            [("iset", "/"), ("iset", "//")],
            [("iset", "/h//"), ("iset", "/h")],
            [("bonifiq", "/a"), ("bonifiq", "/a")],
            [("iset", "/h"), ("bonifiq", "/h/x")],
            [("bonifiq", "/h/x"), ("iset", "/h/")],
            [("iset", "/"), ("bonifiq", "/bonifiq")],
            [("iset", "/h"), ("iset-query", "/h")],
        ] {
            let error = routes(dir.path(), &clash).unwrap_err();
            assert!(
                error.starts_with("endpoint[1].path: "),
                "{clash:?}: {error}"
            );
        }
        // Different routes: a literal path and a secret segment under it, trailing slashes on
        // literal paths (axum routes them apart), deeper or sibling paths.
        for fine in [
            [("bonifiq", "/h"), ("bonifiq", "/h/")],
            [("iset", "/h"), ("bonifiq", "/h/x/y")],
            [("iset", "/h"), ("bonifiq", "/hx")],
            [("iset", "/a"), ("iset", "/b")],
            [("iset", "/h"), ("iset", "/h/x")],
        ] {
            let config =
                routes(dir.path(), &fine).unwrap_or_else(|error| panic!("{fine:?}: {error}"));
            let templates: Vec<String> = config
                .endpoints
                .iter()
                .map(EndpointConfig::route_path)
                .collect();
            assert_ne!(templates[0], templates[1]);
        }
        let config = routes(dir.path(), &[("iset", "/h//")]).unwrap();
        assert_eq!(config.endpoints[0].route_path(), "/h/{secret}");
    }

    #[test]
    fn paths_are_literal_printable_ascii() {
        let dir = tempfile::tempdir().unwrap();
        for bad in [
            "",
            "h",
            "/a b",
            "/{id}",
            "/a/{",
            "/a}",
            "/*rest",
            "/a/*",
            "/:id",
            "/a?b",
            "/a#b",
            "/caf\u{e9}",
            "/a\u{1}",
            "/a\tb",
            "/\u{7f}",
        ] {
            let error = routes(dir.path(), &[("bonifiq", bad)]).unwrap_err();
            assert!(
                error.starts_with("endpoint[0].path: ") && error.contains("literal path"),
                "{bad:?}: {error}"
            );
        }
        for good in ["/", "/a", "/a/b/", "/a%20b", "/a-b_c.d~e", "/a@b!$&'()+,;="] {
            routes(dir.path(), &[("bonifiq", good)])
                .unwrap_or_else(|error| panic!("{good:?}: {error}"));
        }
    }

    #[test]
    fn the_template_is_a_valid_configuration_but_for_its_references() {
        // Every reference points at something that does not exist here, so the check stops at
        // the first endpoint's secret: proof that everything before it (server, inbox, worker)
        // parsed, and that the template names keys serve understands.
        let error = parse_text(
            &TEMPLATE.replace("env:HOOKBR_", "env:HOOKBR_UNSET_IN_TEST_"),
            std::path::Path::new("/nonexistent"),
        )
        .unwrap_err();
        assert_eq!(
            error,
            "endpoint[0].secrets[0]: environment variable HOOKBR_UNSET_IN_TEST_BONIFIQ_SECRET is not set"
        );
    }
}
