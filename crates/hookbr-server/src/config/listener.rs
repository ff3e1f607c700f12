//! The connection bounds of a listener (`[server]` and `[admin]`): timeouts, the connection
//! cap, header limits and HTTP/2, as a [`ConnectionLimits`].

use std::time::Duration;

use hookbr_axum::{ConnectionLimits, serve::MIN_HEADER_BYTES};

use super::{
    SinkConfig,
    raw::{RawAdmin, RawServer},
    value::{duration, problem},
};

/// The most connections a listener may be configured to hold.
const MAX_CONNECTIONS: u64 = 1_000_000;
/// The largest request head that may be configured.
const MAX_HEADER_BYTES: u64 = 1_048_576;
/// The most header fields that may be configured.
const MAX_HEADERS: u64 = 1_000;
/// The admin listener's default connection cap (one person's browser and a scraper).
const ADMIN_MAX_CONNECTIONS: usize = 64;
/// In direct mode, the default request timeout leaves this much beyond the sinks' timeouts.
const DIRECT_MARGIN: Duration = Duration::from_secs(10);

/// The listener keys of one section, as read.
pub(super) struct RawListener<'a> {
    section: &'static str,
    header_timeout: Option<&'a str>,
    body_timeout: Option<&'a str>,
    request_timeout: Option<&'a str>,
    idle_timeout: Option<&'a str>,
    max_connections: Option<u64>,
    max_header_bytes: Option<u64>,
    max_headers: Option<u64>,
    http2: Option<bool>,
}

impl RawServer {
    pub(super) fn listener(&self) -> RawListener<'_> {
        RawListener {
            section: "server",
            header_timeout: self.header_timeout.as_deref(),
            body_timeout: self.body_timeout.as_deref(),
            request_timeout: self.request_timeout.as_deref(),
            idle_timeout: self.idle_timeout.as_deref(),
            max_connections: self.max_connections,
            max_header_bytes: self.max_header_bytes,
            max_headers: self.max_headers,
            http2: self.http2,
        }
    }
}

impl RawAdmin {
    pub(super) fn listener(&self) -> RawListener<'_> {
        RawListener {
            section: "admin",
            header_timeout: self.header_timeout.as_deref(),
            body_timeout: self.body_timeout.as_deref(),
            request_timeout: self.request_timeout.as_deref(),
            idle_timeout: self.idle_timeout.as_deref(),
            max_connections: self.max_connections,
            max_header_bytes: self.max_header_bytes,
            max_headers: self.max_headers,
            http2: self.http2,
        }
    }
}

/// `[server]`'s bounds.
pub(super) fn server_limits(raw: &RawListener<'_>) -> Result<ConnectionLimits, String> {
    limits(raw, ConnectionLimits::default())
}

/// In direct mode (`sinks` run inside the request), the request timeout must outlast the sinks'
/// timeouts, run one after another: the default grows to cover them with a margin, and a
/// shorter explicit value is refused.
pub(super) fn direct_mode(
    limits: &mut ConnectionLimits,
    raw: &RawListener<'_>,
    sinks: &[SinkConfig],
) -> Result<(), String> {
    let sinks_time = sinks
        .iter()
        .map(|sink| match sink {
            SinkConfig::Http { timeout, .. }
            | SinkConfig::Command { timeout, .. }
            | SinkConfig::Nats { timeout, .. }
            | SinkConfig::Postgres { timeout, .. }
            | SinkConfig::Sqlite { timeout, .. } => *timeout,
        })
        .fold(Duration::ZERO, Duration::saturating_add);
    if raw.request_timeout.is_none() {
        limits.request_timeout = limits
            .request_timeout
            .max(sinks_time.saturating_add(DIRECT_MARGIN));
    }
    if limits.request_timeout <= sinks_time {
        return Err(problem(
            "server.request_timeout",
            format!(
                "must be longer than the sinks' timeouts together ({} s) in direct mode \
                 (inbox.url = \"none\"), where they run inside the request",
                sinks_time.as_secs_f64()
            ),
        ));
    }
    Ok(())
}

/// `[admin]`'s bounds.
pub(super) fn admin_limits(raw: &RawListener<'_>) -> Result<ConnectionLimits, String> {
    limits(raw, admin_defaults())
}

/// `[admin]`'s default bounds: the receiver's, with fewer connections.
pub(super) fn admin_defaults() -> ConnectionLimits {
    let mut defaults = ConnectionLimits::default();
    defaults.max_connections = ADMIN_MAX_CONNECTIONS;
    defaults
}

fn limits(raw: &RawListener<'_>, defaults: ConnectionLimits) -> Result<ConnectionLimits, String> {
    let section = raw.section;
    let key = |name: &str| format!("{section}.{name}");
    let timeout = |name, value, default| duration(&key(name), value, default);
    let number = |name, value, min, max, default| {
        Ok::<_, String>(count(&key(name), value, min, max)?.unwrap_or(default))
    };
    let mut limits = defaults;
    limits.header_timeout = timeout(
        "header_timeout",
        raw.header_timeout,
        defaults.header_timeout,
    )?;
    limits.body_timeout = timeout("body_timeout", raw.body_timeout, defaults.body_timeout)?;
    limits.request_timeout = timeout(
        "request_timeout",
        raw.request_timeout,
        defaults.request_timeout,
    )?;
    limits.idle_timeout = timeout("idle_timeout", raw.idle_timeout, defaults.idle_timeout)?;
    limits.max_connections = number(
        "max_connections",
        raw.max_connections,
        1,
        MAX_CONNECTIONS,
        defaults.max_connections,
    )?;
    limits.max_header_bytes = number(
        "max_header_bytes",
        raw.max_header_bytes,
        MIN_HEADER_BYTES as u64,
        MAX_HEADER_BYTES,
        defaults.max_header_bytes,
    )?;
    limits.max_headers = number(
        "max_headers",
        raw.max_headers,
        1,
        MAX_HEADERS,
        defaults.max_headers,
    )?;
    limits.http2 = raw.http2.unwrap_or(defaults.http2);
    Ok(limits)
}

/// A whole number within `min..=max`.
fn count(key: &str, value: Option<u64>, min: u64, max: u64) -> Result<Option<usize>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    if !(min..=max).contains(&value) {
        return Err(problem(key, format!("must be from {min} to {max}")));
    }
    usize::try_from(value)
        .map(Some)
        .map_err(|_| problem(key, "too large"))
}

#[cfg(test)]
mod tests {
    use super::super::{Config, parse_text};

    const FOODY: &str =
        "[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"file:t\"]\n";

    /// `text` and a Foody endpoint whose token file exists.
    fn parse(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t"), "t0ken").unwrap();
        parse_text(&format!("{text}\n{FOODY}"), dir.path())
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err()
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("[server]\nheader_timeout = \"0s\"", "server.header_timeout"),
            ("[server]\nbody_timeout = \"10\"", "server.body_timeout"),
            (
                "[server]\nrequest_timeout = \"1w\"",
                "server.request_timeout",
            ),
            ("[server]\nidle_timeout = \"x\"", "server.idle_timeout"),
            ("[server]\nmax_connections = 0", "server.max_connections"),
            (
                "[server]\nmax_header_bytes = 100",
                "server.max_header_bytes",
            ),
            ("[server]\nmax_headers = 0", "server.max_headers"),
            ("[admin]\nmax_connections = 0", "admin.max_connections"),
            ("[admin]\nheader_timeout = \"0ms\"", "admin.header_timeout"),
            ("[admin]\nmax_headers = 100000", "admin.max_headers"),
        ] {
            let error = error(text);
            assert!(error.starts_with(&format!("{key}: ")), "{text}: {error}");
        }
        let error = error("[server]\nhttp2 = \"yes\"");
        assert!(error.contains("http2"), "{error}");
    }

    #[test]
    fn defaults_and_values() {
        let config = parse("[admin]").unwrap();
        assert_eq!(config.limits, hookbr_axum::ConnectionLimits::default());
        let admin = config.admin.unwrap().limits;
        assert_eq!(admin.max_connections, 64);
        assert!(!admin.http2);
        let config = parse(
            "[server]\nheader_timeout = \"2s\"\nbody_timeout = \"3s\"\nrequest_timeout = \"4s\"\n\
             idle_timeout = \"5s\"\nmax_connections = 6\nmax_header_bytes = 9000\n\
             max_headers = 8\nhttp2 = true\n[admin]\nhttp2 = true\nmax_connections = 2",
        )
        .unwrap();
        let limits = config.limits;
        assert_eq!(
            (
                limits.header_timeout.as_secs(),
                limits.body_timeout.as_secs(),
                limits.request_timeout.as_secs(),
                limits.idle_timeout.as_secs()
            ),
            (2, 3, 4, 5)
        );
        assert_eq!(
            (
                limits.max_connections,
                limits.max_header_bytes,
                limits.max_headers,
                limits.http2
            ),
            (6, 9000, 8, true)
        );
        let admin = config.admin.unwrap().limits;
        assert_eq!((admin.max_connections, admin.http2), (2, true));
    }

    #[test]
    fn direct_mode_requests_outlast_the_sinks() {
        let direct = "[inbox]\nurl = \"none\"\n[[sink]]\ntype = \"command\"\ncommand = [\"true\"]\n\
                      timeout = \"40s\"\n[[sink]]\ntype = \"command\"\ncommand = [\"true\"]\ntimeout = \"40s\"\n";
        let config = parse(direct).unwrap();
        assert_eq!(config.limits.request_timeout.as_secs(), 90);
        let error = error(&format!("[server]\nrequest_timeout = \"80s\"\n{direct}"));
        assert!(error.starts_with("server.request_timeout: "), "{error}");
        assert_eq!(parse("").unwrap().limits.request_timeout.as_secs(), 60);
    }
}
