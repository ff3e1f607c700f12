//! `hookbr.toml`: the receiver's configuration, read by `hookbr serve` and `hookbr inbox`.
//!
//! Parsing happens in two steps: serde reads the TOML into `Raw*` structs (unknown keys are
//! refused, so a typo is an error rather than a silently ignored option), then [`Config::load`]
//! resolves secret references and checks every value, naming the key of the first problem
//! (`endpoint[1].tokens[0]: environment variable FOODY_TOKEN is not set`). Secrets, tokens and
//! sink keys are accepted only by reference (`env:NAME` or `file:PATH`), so a configuration
//! file can be committed and reviewed without leaking them.

use std::{fmt, fs, net::SocketAddr, path::Path, sync::Arc, time::Duration};

use hookbr_core::{
    Endpoint, Provider, Secret,
    iset::IsetKind,
    verify::{
        AnyVerifier, BONIFIQ_SECRET_HEADER, BodyTokenVerifier, GrafenoVerifier,
        HeaderSecretVerifier, RsaAlgorithm, RsaPublicKey, UrlSecretVerifier,
    },
};
use serde::Deserialize;

use crate::Failure;

/// The default listen address: loopback, so nothing is exposed until the merchant says so.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default inbox: a SQLite file next to the configuration.
pub(crate) const DEFAULT_INBOX: &str = "sqlite:hookbr-inbox.sqlite3";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    inbox: RawInbox,
    #[serde(default)]
    worker: RawWorker,
    #[serde(default, rename = "endpoint")]
    endpoints: Vec<RawEndpoint>,
    #[serde(default, rename = "sink")]
    sinks: Vec<RawSink>,
    admin: Option<RawAdmin>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Option<String>,
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    body_limit: Option<u64>,
    #[serde(default)]
    strict: bool,
    #[serde(default)]
    forward_handshakes: bool,
    #[serde(default)]
    log_bodies: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInbox {
    url: Option<String>,
    redis: Option<String>,
    retention: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorker {
    max_attempts: Option<u32>,
    backoff: Option<String>,
    max_backoff: Option<String>,
    lease: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    provider: String,
    path: String,
    #[serde(default)]
    secrets: Vec<String>,
    header: Option<String>,
    #[serde(default)]
    tokens: Vec<String>,
    kind: Option<String>,
    secret_in: Option<String>,
    param: Option<String>,
    #[serde(default)]
    public_keys: Vec<String>,
    algorithm: Option<String>,
    methods: Option<Vec<String>>,
    body_limit: Option<u64>,
    strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum RawSink {
    Http {
        url: String,
        secret: String,
        timeout: Option<String>,
    },
    Command {
        command: Vec<String>,
        timeout: Option<String>,
    },
}

/// Where verified deliveries are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InboxUrl {
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

/// A URL for display: `scheme://host[:port]/path`, with any user information replaced by
/// `***` and the query (which may carry `password=`) dropped. Anything unparsable is `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    // The host starts after the last '@' (user information may itself hold '/' or ':').
    let (had_userinfo, rest) = match rest.rsplit_once('@') {
        Some((_, after)) => (true, after),
        None => (false, rest),
    };
    let userinfo = if had_userinfo { "***@" } else { "" };
    format!("{scheme}://{userinfo}{rest}")
}

impl InboxUrl {
    /// Parses `sqlite:PATH`, `postgres://…`/`postgresql://…` or `none`.
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
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

/// One route of the receiver.
#[derive(Debug)]
pub(crate) struct EndpointConfig {
    /// The provider endpoint.
    pub(crate) endpoint: Endpoint,
    /// The URL path.
    pub(crate) path: String,
    /// What authenticates deliveries.
    pub(crate) verifier: AnyVerifier,
    /// Accepted methods (`None`: the provider's defaults).
    pub(crate) methods: Option<Vec<String>>,
    /// The body limit in bytes.
    pub(crate) body_limit: usize,
    /// Strict decoding (422 for drifted payloads).
    pub(crate) strict: bool,
    /// The secret is one more path segment after `path` (iSET `secret_in = "path"`).
    pub(crate) secret_segment: bool,
}

/// Where processed events go.
#[derive(Debug, Clone)]
pub(crate) enum SinkConfig {
    /// POST normalized JSON to `url`, signed the Standard Webhooks way with `secret`.
    Http {
        /// The target URL.
        url: String,
        /// The HMAC key (decoded from `whsec_…`).
        secret: Arc<Secret>,
        /// Per-attempt timeout.
        timeout: Duration,
    },
    /// Run `command` with the normalized JSON on stdin; exit 0 is success.
    Command {
        /// Program and arguments.
        command: Vec<String>,
        /// The longest a run may take before it is killed and counted as a failure.
        timeout: Duration,
    },
}

/// Worker settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkerConfig {
    /// Attempts before a delivery is dead-lettered.
    pub(crate) max_attempts: u32,
    /// The first retry delay (doubles each attempt, ±20 % jitter).
    pub(crate) backoff: Duration,
    /// The longest retry delay.
    pub(crate) max_backoff: Duration,
    /// How long a claimed row is reserved for a worker.
    pub(crate) lease: Duration,
}

/// A checked configuration.
#[derive(Debug)]
pub(crate) struct Config {
    /// Where providers post.
    pub(crate) listen: SocketAddr,
    /// Hand Foody `hook_test` to the sinks.
    pub(crate) forward_handshakes: bool,
    /// Log each stored body (secrets redacted) when the worker takes it.
    pub(crate) log_bodies: bool,
    /// The inbox.
    pub(crate) inbox: InboxUrl,
    /// Redis URL for shared deduplication in direct mode.
    pub(crate) redis: Option<String>,
    /// Completed rows older than this are pruned.
    pub(crate) retention: Duration,
    /// Worker settings.
    pub(crate) worker: WorkerConfig,
    /// The routes.
    pub(crate) endpoints: Vec<EndpointConfig>,
    /// The sinks.
    pub(crate) sinks: Vec<SinkConfig>,
    /// The admin listener (inspector and /metrics), when `[admin]` is present.
    pub(crate) admin: Option<AdminConfig>,
}

/// The admin listener.
#[derive(Debug, Clone)]
pub(crate) struct AdminConfig {
    /// Its address (127.0.0.1:9090 by default).
    pub(crate) listen: SocketAddr,
    /// The access token, required for a non-loopback address.
    pub(crate) token: Option<Arc<Secret>>,
}

/// A configuration problem: the key and what is wrong with it.
fn problem(key: impl fmt::Display, message: impl fmt::Display) -> String {
    format!("{key}: {message}")
}

impl Config {
    /// Reads and checks `path`. Errors are usage failures (exit 2) that name the file and key.
    pub(crate) fn load(path: &Path) -> Result<Self, Failure> {
        let text = fs::read_to_string(path)
            .map_err(|error| Failure::usage(format!("cannot read {}: {error}", path.display())))?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Self::parse(&text, base)
            .map_err(|message| Failure::usage(format!("{}: {message}", path.display())))
    }

    /// Parses `text`; relative `file:` references and SQLite paths are taken from `base`.
    pub(crate) fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| toml_error(text, &error))?;
        resolve(raw, base)
    }

    /// Only the inbox location (for `hookbr inbox`, which needs no secrets).
    pub(crate) fn load_inbox(path: &Path) -> Result<InboxUrl, Failure> {
        let text = fs::read_to_string(path)
            .map_err(|error| Failure::usage(format!("cannot read {}: {error}", path.display())))?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let raw: RawConfig = toml::from_str(&text).map_err(|error| {
            Failure::usage(format!("{}: {}", path.display(), toml_error(&text, &error)))
        })?;
        inbox_url(raw.inbox.url.as_deref(), base)
            .map_err(|message| Failure::usage(format!("{}: {message}", path.display())))
    }
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
        Some(value) => resolve_value(&rebase_file(value, base))
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

/// `env:NAME` → the variable; `file:PATH` → the file's text without its trailing newline;
/// anything else → itself ([`hookbr_core::reference::resolve`], its message on failure).
pub(crate) fn resolve_value(value: &str) -> Result<String, String> {
    hookbr_core::reference::resolve(value).map_err(|error| error.to_string())
}

/// A secret given by reference only.
fn resolve_secret(key: &str, value: &str, base: &Path) -> Result<(Secret, String), String> {
    let value = rebase_file(value, base);
    if !value.starts_with("env:") && !value.starts_with("file:") {
        return Err(problem(
            key,
            "secrets are given by reference (env:NAME or file:PATH), never inline",
        ));
    }
    let resolved = resolve_value(&value).map_err(|message| problem(key, message))?;
    let secret = Secret::new(resolved).map_err(|_| problem(key, "the secret is empty"))?;
    Ok((secret, reference_label(&value)))
}

/// The label shown when this secret matches: the reference, never the value.
fn reference_label(value: &str) -> String {
    value.to_owned()
}

fn rebase_file(value: &str, base: &Path) -> String {
    match value.strip_prefix("file:") {
        Some(path) if Path::new(path).is_relative() => {
            format!("file:{}", base.join(path).to_string_lossy())
        }
        _ => value.to_owned(),
    }
}

/// `500ms`, `30s`, `5m`, `2h`, `7d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: ms, s, m, h or d (e.g. \"30s\")"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like \"30s\""))?;
    let millis = match unit {
        "ms" => Some(number),
        "s" => number.checked_mul(1_000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        "d" => number.checked_mul(86_400_000),
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m, h or d)"
            ));
        }
    }
    .ok_or_else(|| format!("{text:?} is too long"))?;
    if millis == 0 {
        return Err(format!("{text:?} must be more than zero"));
    }
    Ok(Duration::from_millis(millis))
}

fn duration(key: &str, value: Option<&str>, default: Duration) -> Result<Duration, String> {
    value.map_or(Ok(default), |text| {
        parse_duration(text).map_err(|message| problem(key, message))
    })
}

fn limit(key: &str, value: Option<u64>, default: usize) -> Result<usize, String> {
    match value {
        None => Ok(default),
        Some(0) => Err(problem(key, "must be more than zero")),
        Some(bytes) => usize::try_from(bytes).map_err(|_| problem(key, "too large")),
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
    let body_limit = limit(
        "server.body_limit",
        raw.server.body_limit,
        hookbr_core::pipeline::DEFAULT_BODY_LIMIT,
    )?;
    let inbox = inbox_url(raw.inbox.url.as_deref(), base)?;
    let redis = raw
        .inbox
        .redis
        .as_deref()
        .map(|value| {
            let url = resolve_value(&rebase_file(value, base))
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
    let retention = duration(
        "inbox.retention",
        raw.inbox.retention.as_deref(),
        Duration::from_secs(7 * 86_400),
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
    let mut paths = std::collections::HashSet::new();
    for (index, endpoint) in raw.endpoints.into_iter().enumerate() {
        let key = format!("endpoint[{index}]");
        let config = resolve_endpoint(&key, endpoint, body_limit, raw.server.strict, base)?;
        if !paths.insert(config.path.clone()) {
            return Err(problem(
                format!("{key}.path"),
                format!("{:?} is used by another endpoint", config.path),
            ));
        }
        endpoints.push(config);
    }
    let sinks = raw
        .sinks
        .into_iter()
        .enumerate()
        .map(|(index, sink)| resolve_sink(&format!("sink[{index}]"), sink, base))
        .collect::<Result<Vec<_>, _>>()?;
    let admin = raw
        .admin
        .as_ref()
        .map(|admin| resolve_admin(admin, base))
        .transpose()?;
    if inbox == InboxUrl::None && sinks.is_empty() {
        return Err(problem(
            "sink",
            "direct mode (inbox.url = \"none\") needs at least one [[sink]]: without an inbox \
             and a sink, deliveries would be acknowledged and dropped",
        ));
    }
    Ok(Config {
        admin,
        listen,
        forward_handshakes: raw.server.forward_handshakes,
        log_bodies: raw.server.log_bodies,
        inbox,
        redis,
        retention,
        worker,
        endpoints,
        sinks,
    })
}

fn resolve_admin(raw: &RawAdmin, base: &Path) -> Result<AdminConfig, String> {
    let text = raw.listen.as_deref().unwrap_or("127.0.0.1:9090");
    let listen: SocketAddr = text.parse().map_err(|_| {
        problem(
            "admin.listen",
            format!("{text:?} is not an address like \"127.0.0.1:9090\""),
        )
    })?;
    let token = raw
        .token
        .as_deref()
        .map(|value| resolve_secret("admin.token", value, base).map(|(secret, _)| Arc::new(secret)))
        .transpose()?;
    if !listen.ip().is_loopback() && token.is_none() {
        return Err(problem(
            "admin.token",
            format!(
                "required when admin.listen ({listen}) is not a loopback address: the inspector \
                 shows deliveries and can replay them"
            ),
        ));
    }
    Ok(AdminConfig { listen, token })
}

/// Refuses options that do not apply to the endpoint's provider.
fn only_for(key: &str, option: &str, present: bool, provider: Provider) -> Result<(), String> {
    if present {
        Err(problem(
            format!("{key}.{option}"),
            format!("does not apply to provider {provider}"),
        ))
    } else {
        Ok(())
    }
}

fn secrets(
    key: &str,
    field: &str,
    values: &[String],
    base: &Path,
) -> Result<Vec<(Secret, String)>, String> {
    if values.is_empty() {
        return Err(problem(
            format!("{key}.{field}"),
            "needs at least one reference, e.g. [\"env:MY_SECRET\"] (more for rotation)",
        ));
    }
    values
        .iter()
        .enumerate()
        .map(|(index, value)| resolve_secret(&format!("{key}.{field}[{index}]"), value, base))
        .collect()
}

fn resolve_endpoint(
    key: &str,
    raw: RawEndpoint,
    default_limit: usize,
    default_strict: bool,
    base: &Path,
) -> Result<EndpointConfig, String> {
    let provider: Provider = raw.provider.parse().map_err(|_| {
        problem(
            format!("{key}.provider"),
            format!(
                "unknown provider {:?} (bonifiq, foody, iset or grafeno)",
                raw.provider
            ),
        )
    })?;
    if !raw.path.starts_with('/')
        || raw
            .path
            .contains(|c: char| c.is_whitespace() || matches!(c, ':' | '*' | '{' | '}' | '?' | '#'))
    {
        return Err(problem(
            format!("{key}.path"),
            format!(
                "{:?} must be a literal path: start with '/', no spaces, no ':', '*', '{{', '}}', \
                 '?' or '#'",
                raw.path
            ),
        ));
    }
    if provider != Provider::Iset {
        only_for(key, "kind", raw.kind.is_some(), provider)?;
        only_for(key, "secret_in", raw.secret_in.is_some(), provider)?;
        only_for(key, "param", raw.param.is_some(), provider)?;
    }
    if !matches!(provider, Provider::Bonifiq | Provider::Iset) {
        only_for(key, "secrets", !raw.secrets.is_empty(), provider)?;
        only_for(key, "header", raw.header.is_some(), provider)?;
    }
    if provider != Provider::Foody {
        only_for(key, "tokens", !raw.tokens.is_empty(), provider)?;
    }
    if provider != Provider::Grafeno {
        only_for(key, "public_keys", !raw.public_keys.is_empty(), provider)?;
        only_for(key, "algorithm", raw.algorithm.is_some(), provider)?;
    }
    let invalid = |error: hookbr_core::ConfigError| problem(key, error);
    let labeled =
        |pairs: Vec<(Secret, String)>| -> (Vec<Secret>, Vec<String>) { pairs.into_iter().unzip() };
    let with_labels = |secrets: Vec<Secret>, labels: Vec<String>| {
        labels
            .into_iter()
            .map(Some)
            .zip(secrets)
            .collect::<Vec<_>>()
    };
    let (endpoint, verifier): (Endpoint, AnyVerifier) = match provider {
        Provider::Bonifiq => {
            let (secrets, labels) = labeled(secrets(key, "secrets", &raw.secrets, base)?);
            let header = raw.header.as_deref().unwrap_or(BONIFIQ_SECRET_HEADER);
            let verifier = HeaderSecretVerifier::labeled(header, with_labels(secrets, labels))
                .map_err(|error| problem(format!("{key}.header"), error))?;
            (Endpoint::Bonifiq, verifier.into())
        }
        Provider::Foody => {
            let (secrets, labels) = labeled(secrets(key, "tokens", &raw.tokens, base)?);
            let verifier = BodyTokenVerifier::labeled("token", with_labels(secrets, labels))
                .map_err(invalid)?;
            (Endpoint::Foody, verifier.into())
        }
        Provider::Iset => {
            let kind_text = raw.kind.as_deref().ok_or_else(|| {
                problem(
                    format!("{key}.kind"),
                    "iset endpoints need a kind: order_upserted, order_deleted, \
                     product_upserted, product_deleted, stock_changed, category_upserted or \
                     category_deleted (one URL per kind)",
                )
            })?;
            let kind: IsetKind = kind_text
                .parse()
                .map_err(|error| problem(format!("{key}.kind"), error))?;
            let (secrets, labels) = labeled(secrets(key, "secrets", &raw.secrets, base)?);
            let verifier: AnyVerifier = match raw.secret_in.as_deref().unwrap_or("query") {
                "query" => {
                    only_for(key, "header", raw.header.is_some(), provider)?;
                    UrlSecretVerifier::query_param(raw.param.as_deref().unwrap_or("token"), secrets)
                        .map_err(|error| problem(format!("{key}.param"), error))?
                        .with_labels(labels)
                        .into()
                }
                "path" => {
                    only_for(key, "param", raw.param.is_some(), provider)?;
                    UrlSecretVerifier::path_segment(secrets)
                        .map_err(invalid)?
                        .with_labels(labels)
                        .into()
                }
                "header" => {
                    only_for(key, "param", raw.param.is_some(), provider)?;
                    let header = raw.header.as_deref().ok_or_else(|| {
                        problem(
                            format!("{key}.header"),
                            "secret_in = \"header\" needs header",
                        )
                    })?;
                    HeaderSecretVerifier::labeled(header, with_labels(secrets, labels))
                        .map_err(|error| problem(format!("{key}.header"), error))?
                        .into()
                }
                other => {
                    return Err(problem(
                        format!("{key}.secret_in"),
                        format!("{other:?}: expected \"query\", \"path\" or \"header\""),
                    ));
                }
            };
            (Endpoint::Iset(kind), verifier)
        }
        Provider::Grafeno => {
            if raw.public_keys.is_empty() {
                return Err(problem(
                    format!("{key}.public_keys"),
                    "needs at least one PEM file, e.g. [\"file:grafeno_public.pem\"]",
                ));
            }
            let mut keys = Vec::with_capacity(raw.public_keys.len());
            let mut labels = Vec::with_capacity(raw.public_keys.len());
            for (index, value) in raw.public_keys.iter().enumerate() {
                let item = format!("{key}.public_keys[{index}]");
                let value = rebase_file(value, base);
                if !value.starts_with("env:") && !value.starts_with("file:") {
                    return Err(problem(
                        item,
                        "expected file:PATH (or env:NAME holding the PEM)",
                    ));
                }
                let pem = resolve_value(&value).map_err(|message| problem(&item, message))?;
                keys.push(RsaPublicKey::from_pem(&pem).map_err(|error| problem(&item, error))?);
                labels.push(reference_label(&value));
            }
            let algorithm = match raw.algorithm.as_deref().unwrap_or("pkcs1-sha256") {
                "pkcs1-sha256" => RsaAlgorithm::Pkcs1Sha256,
                "pkcs1-sha512" => RsaAlgorithm::Pkcs1Sha512,
                "pkcs1-sha1" => RsaAlgorithm::Pkcs1Sha1,
                "pss-sha256" => RsaAlgorithm::PssSha256,
                other => {
                    return Err(problem(
                        format!("{key}.algorithm"),
                        format!(
                            "{other:?}: expected pkcs1-sha256 (default), pkcs1-sha512, \
                             pkcs1-sha1 or pss-sha256"
                        ),
                    ));
                }
            };
            let verifier = GrafenoVerifier::new(keys)
                .map_err(invalid)?
                .with_labels(labels)
                .with_algorithm(algorithm);
            (Endpoint::Grafeno, verifier.into())
        }
        other => {
            return Err(problem(
                format!("{key}.provider"),
                format!("{other} is not supported"),
            ));
        }
    };
    let methods = raw
        .methods
        .map(|methods| {
            if methods.is_empty() {
                return Err(problem(format!("{key}.methods"), "must not be empty"));
            }
            methods
                .into_iter()
                .map(|method| {
                    let upper = method.to_ascii_uppercase();
                    if upper.is_empty() || !upper.bytes().all(|b| b.is_ascii_uppercase()) {
                        Err(problem(
                            format!("{key}.methods"),
                            format!("{method:?} is not an HTTP method"),
                        ))
                    } else {
                        Ok(upper)
                    }
                })
                .collect()
        })
        .transpose()?;
    Ok(EndpointConfig {
        endpoint,
        path: raw.path,
        verifier,
        methods,
        body_limit: limit(&format!("{key}.body_limit"), raw.body_limit, default_limit)?,
        strict: raw.strict.unwrap_or(default_strict),
        secret_segment: raw.secret_in.as_deref() == Some("path"),
    })
}

/// Decodes a Standard Webhooks secret: `whsec_` + base64 of 24 to 64 random bytes.
pub(crate) fn webhook_secret(text: &str) -> Result<Secret, String> {
    use base64::Engine as _;
    let encoded = text.strip_prefix("whsec_").ok_or(
        "expected a Standard Webhooks secret: whsec_ followed by base64 (`hookbr init` prints a fresh one)",
    )?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "the part after whsec_ is not base64".to_owned())?;
    if !(24..=64).contains(&bytes.len()) {
        return Err(format!(
            "the key is {} bytes; Standard Webhooks keys are 24 to 64 bytes",
            bytes.len()
        ));
    }
    Secret::new(bytes).map_err(|_| "the key is empty".to_owned())
}

fn resolve_sink(key: &str, raw: RawSink, base: &Path) -> Result<SinkConfig, String> {
    match raw {
        RawSink::Http {
            url,
            secret,
            timeout,
        } => {
            let url =
                resolve_value(&url).map_err(|message| problem(format!("{key}.url"), message))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(problem(
                    format!("{key}.url"),
                    "expected an http:// or https:// URL",
                ));
            }
            let secret_key = format!("{key}.secret");
            let (secret, _) = resolve_secret(&secret_key, &secret, base)?;
            let text = String::from_utf8(secret.expose().to_vec())
                .map_err(|_| problem(&secret_key, "not text"))?;
            let secret =
                webhook_secret(text.trim()).map_err(|message| problem(&secret_key, message))?;
            Ok(SinkConfig::Http {
                url,
                secret: Arc::new(secret),
                timeout: duration(
                    &format!("{key}.timeout"),
                    timeout.as_deref(),
                    Duration::from_secs(10),
                )?,
            })
        }
        RawSink::Command { command, timeout } => {
            if command.first().is_none_or(String::is_empty) {
                return Err(problem(
                    format!("{key}.command"),
                    "needs the program and its arguments, e.g. [\"php\", \"handle.php\"]",
                ));
            }
            Ok(SinkConfig::Command {
                command,
                timeout: duration(
                    &format!("{key}.timeout"),
                    timeout.as_deref(),
                    Duration::from_secs(30),
                )?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/base"))
    }

    const FOODY: &str = "[[endpoint]]\nprovider = \"foody\"\npath = \"/foody\"\ntokens = [\"env:HOOKBR_CONFIG_TEST_TOKEN\"]\n";

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("30").unwrap_err().contains("unit"));
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(parse_duration("3w").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("99999999999999999999d").is_err());
    }

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
    fn no_endpoint_is_an_error() {
        assert!(parse("").unwrap_err().starts_with("endpoint"));
    }

    #[test]
    fn file_references_resolve_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("token.txt"), "t0ken\n").unwrap();
        let text = "[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"file:token.txt\"]\n\
                    [[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"file:token.txt\"]\n";
        let error = Config::parse(text, dir.path()).unwrap_err();
        assert!(error.starts_with("endpoint[1].path"), "{error}");
        let single = text.split("[[endpoint]]").nth(1).unwrap();
        let config = Config::parse(&format!("[[endpoint]]{single}"), dir.path()).unwrap();
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
        fs::write(dir.path().join("t"), "t0ken").unwrap();
        let endpoint = "[[endpoint]]\nprovider = \"foody\"\npath = \"/f\"\ntokens = [\"file:t\"]\n";
        let config = Config::parse(&format!("[admin]\n{endpoint}"), dir.path()).unwrap();
        assert_eq!(config.admin.unwrap().listen.to_string(), "127.0.0.1:9090");
        let error = Config::parse(
            &format!("[admin]\nlisten = \"0.0.0.0:9090\"\n{endpoint}"),
            dir.path(),
        )
        .unwrap_err();
        assert!(error.starts_with("admin.token: required"), "{error}");
        let config = Config::parse(
            &format!("[admin]\nlisten = \"0.0.0.0:9090\"\ntoken = \"file:t\"\n{endpoint}"),
            dir.path(),
        )
        .unwrap();
        assert!(config.admin.unwrap().token.is_some());
        assert!(Config::parse(endpoint, dir.path()).unwrap().admin.is_none());
    }

    #[test]
    fn webhook_secrets() {
        assert!(webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(webhook_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(
            webhook_secret("whsec_c2hvcnQ=")
                .unwrap_err()
                .contains("24 to 64")
        );
        assert!(webhook_secret("whsec_!!!").is_err());
    }
}
