//! `[[sink]]`: where processed events go.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use hookbr_core::Secret;
use hookbr_tls::{ClientTls, Roots, Verify, is_loopback_host, url_host};

use super::{
    nats::{NatsAuth, NatsSubject, check_stream_name},
    raw::{RawMask, RawNats, RawSink},
    reference::resolve_secret,
    reference::{rebase_file, resolve_value},
    table::{Identifier, TableName, resolve_postgres, resolve_sqlite},
    value::{duration, problem, redact_url},
};

/// Where processed events go.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SinkConfig {
    /// POST normalized JSON to `url`, signed the Standard Webhooks way with `secret`.
    Http {
        /// The target URL.
        url: String,
        /// The HMAC key (decoded from `whsec_…`).
        secret: Arc<Secret>,
        /// Per-attempt timeout.
        timeout: Duration,
        /// The TLS client of an `https://` URL (`None` for `http://`): the system's roots, or
        /// `ca_file`'s; no verification with `insecure_skip_verify` (loopback hosts only).
        tls: Option<ClientTls>,
        /// What it receives masked (`mask`; nothing by default).
        mask: SinkMask,
    },
    /// Run `command` with the normalized JSON on stdin; exit 0 is success.
    Command {
        /// Program and arguments.
        command: Vec<String>,
        /// The longest a run may take before it is killed and counted as a failure.
        timeout: Duration,
        /// What it receives masked (`mask`; nothing by default).
        mask: SinkMask,
    },
    /// Publish the normalized JSON to a JetStream stream, `Nats-Msg-Id` = `webhook-id`.
    Nats {
        /// The server URL: `nats://host:port`, or `tls://host:port` for TLS.
        url: String,
        /// The subject template (`hookbr.{provider}.{kind}` by default).
        subject: NatsSubject,
        /// The stream that must capture the subject (checked at start-up).
        stream: String,
        /// Create the stream (capturing the subject's pattern) when it does not exist.
        create_stream: bool,
        /// The credentials.
        auth: NatsAuth,
        /// The TLS client of a `tls://` URL: the system's roots, or `ca_file`'s.
        tls: Option<ClientTls>,
        /// Signs `webhook-signature` the Standard Webhooks way when set.
        secret: Option<Arc<Secret>>,
        /// Per-attempt timeout: connecting, and publishing until the PubAck.
        timeout: Duration,
        /// What it receives masked (`mask`; nothing by default).
        mask: SinkMask,
    },
    /// Insert one row per event into a PostgreSQL table (`ON CONFLICT (webhook_id) DO
    /// NOTHING`), in the same transaction as the inbox row's done mark when the database is
    /// the inbox's own.
    Postgres {
        /// The connection URL, resolved (may hold a password: never printed).
        url: String,
        /// The table (`hookbr_events` by default).
        table: TableName,
        /// `NOTIFY` this channel with the `webhook-id`, in the insert's transaction.
        notify: Option<Identifier>,
        /// Per-attempt timeout: a connection, and the transaction.
        timeout: Duration,
        /// What it receives masked (`mask`; nothing by default).
        mask: SinkMask,
    },
    /// Insert one row per event into a SQLite table (`ON CONFLICT (webhook_id) DO NOTHING`).
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The table (`hookbr_events` by default).
        table: TableName,
        /// Per-attempt timeout (the wait for a lock held by another writer included).
        timeout: Duration,
        /// What it receives masked (`mask`; nothing by default).
        mask: SinkMask,
    },
}

/// What a sink receives masked (`[[sink]] mask`, docs/PRIVACY.md). By default nothing: the
/// application gets the data as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkMask {
    /// `mask = false` (the default): nothing masked.
    #[default]
    Off,
    /// `mask = true`: everything the inspector masks (the map, key rules and detectors;
    /// [`hookbr_core::privacy::mask_body`]) in `data.event`.
    All,
    /// `mask = ["Payload.Customer.Email", ...]`: only these documented fields (paths of
    /// [`hookbr_core::privacy::personal_fields`]; `Customer.Email` names the same field), by
    /// their class ([`hookbr_core::privacy::mask_fields`]).
    Fields(Vec<&'static str>),
}

impl SinkMask {
    /// ` (masked: …)` for the banner, empty when nothing is masked.
    fn describe(&self) -> String {
        match self {
            Self::Off => String::new(),
            Self::All => ", personal data masked".to_owned(),
            Self::Fields(paths) => format!(", masked: {}", paths.join(", ")),
        }
    }
}

/// Every documented personal-data path (all providers), in map order, without repeats.
fn documented_paths() -> Vec<&'static str> {
    let mut paths: Vec<&'static str> = Vec::new();
    for provider in hookbr_core::Provider::ALL {
        for field in hookbr_core::privacy::personal_fields(provider) {
            if !paths.contains(&field.path) {
                paths.push(field.path);
            }
        }
    }
    paths
}

/// `[[sink]] mask`: `true`, `false`, or a list of documented paths (each must name one:
/// `Payload.Customer.Email`, or its tail `Customer.Email`).
pub(super) fn resolve_mask(key: &str, raw: Option<RawMask>) -> Result<SinkMask, String> {
    match raw {
        None | Some(RawMask::All(false)) => Ok(SinkMask::Off),
        Some(RawMask::All(true)) => Ok(SinkMask::All),
        Some(RawMask::Fields(entries)) => {
            let documented = documented_paths();
            let mut paths: Vec<&'static str> = Vec::new();
            for (index, entry) in entries.iter().enumerate() {
                let entry = entry.trim();
                let found: Vec<&'static str> = documented
                    .iter()
                    .copied()
                    .filter(|path| {
                        !entry.is_empty()
                            && (*path == entry
                                || path
                                    .strip_suffix(entry)
                                    .is_some_and(|head| head.ends_with('.')))
                    })
                    .collect();
                if found.is_empty() {
                    return Err(problem(
                        format!("{key}.mask[{index}]"),
                        format!(
                            "{entry:?} is not a documented personal-data field (docs/PRIVACY.md);                              one of: {} (or mask = true for everything)",
                            documented.join(", ")
                        ),
                    ));
                }
                for path in found {
                    if !paths.contains(&path) {
                        paths.push(path);
                    }
                }
            }
            Ok(if paths.is_empty() {
                SinkMask::Off
            } else {
                SinkMask::Fields(paths)
            })
        }
    }
}

impl SinkConfig {
    /// What this sink receives masked.
    #[must_use]
    pub fn mask(&self) -> &SinkMask {
        match self {
            Self::Http { mask, .. }
            | Self::Command { mask, .. }
            | Self::Nats { mask, .. }
            | Self::Postgres { mask, .. }
            | Self::Sqlite { mask, .. } => mask,
        }
    }

    /// One line for a start-up banner (no secrets, no URL credentials), with what is masked.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("{}{}", self.describe_target(), self.mask().describe())
    }

    /// One line for a start-up banner (no secrets, no URL credentials).
    fn describe_target(&self) -> String {
        match self {
            Self::Http { url, tls, .. } => {
                let trust = match tls {
                    None => "",
                    Some(tls) if tls.verification() == Verify::Off => {
                        ", TLS certificate NOT verified (insecure_skip_verify)"
                    }
                    Some(tls) if matches!(tls.roots(), Roots::CaFile(_)) => ", TLS via ca_file",
                    Some(_) => ", TLS via the system's roots",
                };
                format!(
                    "forward to {} (Standard Webhooks signed{trust})",
                    redact_url(url)
                )
            }
            Self::Command { command, .. } => {
                format!("run {}", command.first().map_or("", String::as_str))
            }
            Self::Nats {
                url,
                subject,
                stream,
                tls,
                ..
            } => {
                let trust = match tls {
                    None => "",
                    Some(tls) if matches!(tls.roots(), Roots::CaFile(_)) => ", TLS via ca_file",
                    Some(_) => ", TLS via the system's roots",
                };
                format!(
                    "publish to NATS {} subject {subject} (JetStream stream {stream}{trust})",
                    redact_url(url)
                )
            }
            Self::Postgres {
                url, table, notify, ..
            } => format!(
                "insert into PostgreSQL table {table} at {}{}",
                redact_url(url),
                notify
                    .as_ref()
                    .map(|channel| format!(", NOTIFY {channel}"))
                    .unwrap_or_default()
            ),
            Self::Sqlite { path, table, .. } => {
                format!("insert into SQLite table {table} in {}", path.display())
            }
        }
    }
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

pub(super) fn resolve_sink(key: &str, raw: RawSink, base: &Path) -> Result<SinkConfig, String> {
    match raw {
        RawSink::Http {
            url,
            secret,
            timeout,
            ca_file,
            insecure_skip_verify,
            mask,
        } => {
            let mask = resolve_mask(key, mask)?;
            let url =
                resolve_value(&url).map_err(|message| problem(format!("{key}.url"), message))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(problem(
                    format!("{key}.url"),
                    "expected an http:// or https:// URL",
                ));
            }
            let tls = sink_tls(key, &url, ca_file.as_deref(), insecure_skip_verify, base)?;
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
                tls,
                mask,
            })
        }
        RawSink::Nats(raw) => resolve_nats(key, raw, base),
        RawSink::Postgres(raw) => resolve_postgres(key, raw, base),
        RawSink::Sqlite(raw) => resolve_sqlite(key, raw, base),
        RawSink::Command {
            command,
            timeout,
            mask,
        } => {
            let mask = resolve_mask(key, mask)?;
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
                mask,
            })
        }
    }
}

/// `type = "nats"`: every key checked now (`serve --check`), the server only at start-up.
fn resolve_nats(key: &str, raw: RawNats, base: &Path) -> Result<SinkConfig, String> {
    let RawNats {
        url,
        subject,
        stream,
        create_stream,
        credentials,
        nkey,
        token,
        user,
        password,
        ca_file,
        secret,
        timeout,
        mask,
    } = raw;
    let mask = resolve_mask(key, mask)?;
    let url = resolve_value(&url).map_err(|message| problem(format!("{key}.url"), message))?;
    let is_tls = url.starts_with("tls://");
    if !(url.starts_with("nats://") || is_tls) {
        return Err(problem(
            format!("{key}.url"),
            "expected a nats:// (or tls:// for TLS) URL",
        ));
    }
    let subject = NatsSubject::parse(subject.as_deref().unwrap_or(NatsSubject::DEFAULT))
        .map_err(|message| problem(format!("{key}.subject"), message))?;
    let stream = stream.ok_or_else(|| {
        problem(
            format!("{key}.stream"),
            "required: the JetStream stream that captures the subject",
        )
    })?;
    check_stream_name(&stream).map_err(|message| problem(format!("{key}.stream"), message))?;
    let set: Vec<&str> = [
        ("credentials", credentials.is_some()),
        ("nkey", nkey.is_some()),
        ("token", token.is_some()),
        ("user", user.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if let [_, second, ..] = set.as_slice() {
        return Err(problem(
            format!("{key}.{second}"),
            format!(
                "one way to authenticate only: {} are both set",
                set.join(" and ")
            ),
        ));
    }
    let secret_of = |name: &str, value: &str| -> Result<Arc<Secret>, String> {
        resolve_secret(&format!("{key}.{name}"), value, base).map(|(secret, _)| Arc::new(secret))
    };
    if password.is_some() && user.is_none() {
        return Err(problem(format!("{key}.password"), "needs user"));
    }
    let auth = if let Some(token) = token {
        NatsAuth::Token(secret_of("token", &token)?)
    } else if let Some(user) = user {
        let password = password
            .ok_or_else(|| problem(format!("{key}.user"), "needs password (by reference)"))?;
        NatsAuth::UserPassword {
            user: resolve_value(&user)
                .map_err(|message| problem(format!("{key}.user"), message))?,
            password: secret_of("password", &password)?,
        }
    } else if let Some(nkey) = nkey {
        let seed = secret_of("nkey", &nkey)?;
        if !seed.expose().starts_with(b"SU") {
            return Err(problem(
                format!("{key}.nkey"),
                "expected a user NKey seed (SU…)",
            ));
        }
        NatsAuth::NKey(seed)
    } else if let Some(credentials) = credentials {
        let creds = secret_of("credentials", &credentials)?;
        let text = std::str::from_utf8(creds.expose())
            .map_err(|_| problem(format!("{key}.credentials"), "not text"))?;
        async_nats::ConnectOptions::with_credentials(text).map_err(|_| {
            problem(
                format!("{key}.credentials"),
                "not a NATS credentials (.creds) file: expected a JWT and an NKey seed",
            )
        })?;
        NatsAuth::Credentials(creds)
    } else {
        NatsAuth::None
    };
    let tls = match (is_tls, ca_file) {
        (false, Some(_)) => {
            return Err(problem(
                format!("{key}.ca_file"),
                "applies to a tls:// url only",
            ));
        }
        (false, None) => None,
        (true, Some(ca_file)) => {
            let ca_key = format!("{key}.ca_file");
            if ca_file.starts_with("env:") {
                return Err(problem(&ca_key, "expected a path: file:PATH or PATH"));
            }
            let path = ca_file.strip_prefix("file:").unwrap_or(&ca_file);
            let rebased = rebase_file(&format!("file:{path}"), base);
            let tls = ClientTls::ca_file(rebased.strip_prefix("file:").unwrap_or(path));
            tls.config().map_err(|error| problem(&ca_key, error))?;
            Some(tls)
        }
        (true, None) => {
            let tls = ClientTls::system();
            tls.config()
                .map_err(|error| problem(format!("{key}.url"), error))?;
            Some(tls)
        }
    };
    let secret = secret
        .map(|secret| {
            let secret_key = format!("{key}.secret");
            let (secret, _) = resolve_secret(&secret_key, &secret, base)?;
            let text = String::from_utf8(secret.expose().to_vec())
                .map_err(|_| problem(&secret_key, "not text"))?;
            webhook_secret(text.trim())
                .map(Arc::new)
                .map_err(|message| problem(&secret_key, message))
        })
        .transpose()?;
    Ok(SinkConfig::Nats {
        url,
        subject,
        stream,
        create_stream: create_stream.unwrap_or(false),
        auth,
        tls,
        secret,
        timeout: duration(
            &format!("{key}.timeout"),
            timeout.as_deref(),
            Duration::from_secs(10),
        )?,
        mask,
    })
}

/// The TLS client of an `https://` sink, checked now (the CA file is read, the system's roots
/// are found) so that `serve --check` catches what every delivery would otherwise fail on.
fn sink_tls(
    key: &str,
    url: &str,
    ca_file: Option<&str>,
    insecure_skip_verify: Option<bool>,
    base: &Path,
) -> Result<Option<ClientTls>, String> {
    let insecure = insecure_skip_verify.unwrap_or(false);
    if !url.starts_with("https://") {
        for (name, set) in [
            ("ca_file", ca_file.is_some()),
            ("insecure_skip_verify", insecure),
        ] {
            if set {
                return Err(problem(
                    format!("{key}.{name}"),
                    "applies to an https:// url only",
                ));
            }
        }
        return Ok(None);
    }
    if insecure && ca_file.is_some() {
        return Err(problem(
            format!("{key}.insecure_skip_verify"),
            "excludes ca_file (ca_file verifies the certificate against a private CA)",
        ));
    }
    let tls = if insecure {
        let host = url_host(url).unwrap_or_default();
        if !is_loopback_host(host) {
            return Err(problem(
                format!("{key}.insecure_skip_verify"),
                format!(
                    "refused for host {host}: an unverified certificate is accepted only on \
                     loopback (127.0.0.1, ::1, localhost); trust the host's CA with ca_file \
                     instead"
                ),
            ));
        }
        ClientTls::insecure()
    } else if let Some(ca_file) = ca_file {
        let ca_key = format!("{key}.ca_file");
        if ca_file.starts_with("env:") {
            return Err(problem(&ca_key, "expected a path: file:PATH or PATH"));
        }
        let path = ca_file.strip_prefix("file:").unwrap_or(ca_file);
        let rebased = rebase_file(&format!("file:{path}"), base);
        let tls = ClientTls::ca_file(rebased.strip_prefix("file:").unwrap_or(path));
        tls.config().map_err(|error| problem(&ca_key, error))?;
        return Ok(Some(tls));
    } else {
        ClientTls::system()
    };
    tls.config()
        .map_err(|error| problem(format!("{key}.url"), error))?;
    Ok(Some(tls))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn masks() {
        let list = |entries: &[&str]| {
            resolve_mask(
                "sink[1]",
                Some(RawMask::Fields(
                    entries.iter().map(|entry| (*entry).to_owned()).collect(),
                )),
            )
        };
        assert_eq!(resolve_mask("sink[0]", None), Ok(SinkMask::Off));
        assert_eq!(
            resolve_mask("sink[0]", Some(RawMask::All(false))),
            Ok(SinkMask::Off)
        );
        assert_eq!(
            resolve_mask("sink[0]", Some(RawMask::All(true))),
            Ok(SinkMask::All)
        );
        assert_eq!(list(&[]), Ok(SinkMask::Off));
        // Whole paths and tails name the same field; repeats count once.
        assert_eq!(
            list(&[
                "Customer.Email",
                "Payload.Customer.Email",
                "Document",
                "data.pendencies[].text"
            ]),
            Ok(SinkMask::Fields(vec![
                "Payload.Customer.Email",
                "Payload.Customer.Document",
                "data.pendencies[].text"
            ]))
        );
        for bad in ["Email.Customer", "mail", "Customer", "", "Payload.Points"] {
            let error = list(&["Customer.Email", bad]).unwrap_err();
            assert!(error.contains("sink[1].mask[1]"), "{error}");
            assert!(error.contains("Payload.Customer.Email"), "{error}");
        }
    }

    #[test]
    fn every_sink_type_takes_mask() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sink.secret"),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .unwrap();
        let base = dir.path();
        for sink in [
            "type = \"command\"\ncommand = [\"true\"]",
            "type = \"sqlite\"\npath = \"app.sqlite3\"",
            "type = \"postgres\"\nurl = \"postgres://u@127.0.0.1/app\"",
            "type = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nstream = \"HOOKBR\"",
            "type = \"http\"\nurl = \"http://127.0.0.1:3000/\"\n\
             secret = \"file:sink.secret\"",
        ] {
            let resolved = |text: &str| {
                let raw: RawSink = toml::from_str(text).unwrap();
                resolve_sink("sink[0]", raw, base).unwrap()
            };
            let config = resolved(&format!("{sink}\nmask = [\"Customer.Email\"]\n"));
            assert_eq!(
                config.mask(),
                &SinkMask::Fields(vec!["Payload.Customer.Email"]),
                "{sink}"
            );
            assert!(
                config
                    .describe()
                    .ends_with(", masked: Payload.Customer.Email"),
                "{}",
                config.describe()
            );
            let config = resolved(&format!("{sink}\nmask = true\n"));
            assert_eq!(config.mask(), &SinkMask::All, "{sink}");
            assert_eq!(resolved(sink).mask(), &SinkMask::Off, "{sink}");
        }
    }
}
