//! The file as serde reads it: every key of `hookbr.toml`, unknown keys refused.
//!
//! An endpoint is read as one flat table (all providers' options) rather than a table tagged by
//! provider, so that an option of another provider is named as such (`endpoint[0].public_keys:
//! does not apply to provider foody`) instead of as an unknown key; [`super::endpoint`] then
//! turns it into the provider's [`VerifierSpec`](super::VerifierSpec).

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) server: RawServer,
    #[serde(default)]
    pub(super) inbox: RawInbox,
    #[serde(default)]
    pub(super) worker: RawWorker,
    #[serde(default, rename = "endpoint")]
    pub(super) endpoints: Vec<RawEndpoint>,
    #[serde(default, rename = "sink")]
    pub(super) sinks: Vec<RawSink>,
    pub(super) admin: Option<RawAdmin>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub(super) listen: Option<String>,
    pub(super) token: Option<String>,
    // Connection bounds of this listener (see `listener.rs`).
    pub(super) header_timeout: Option<String>,
    pub(super) body_timeout: Option<String>,
    pub(super) request_timeout: Option<String>,
    pub(super) idle_timeout: Option<String>,
    pub(super) max_connections: Option<u64>,
    pub(super) max_header_bytes: Option<u64>,
    pub(super) max_headers: Option<u64>,
    pub(super) http2: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) listen: Option<String>,
    pub(super) body_limit: Option<u64>,
    #[serde(default)]
    pub(super) strict: bool,
    #[serde(default)]
    pub(super) forward_handshakes: bool,
    #[serde(default)]
    pub(super) log_bodies: bool,
    // Connection bounds of this listener (see `listener.rs`).
    pub(super) header_timeout: Option<String>,
    pub(super) body_timeout: Option<String>,
    pub(super) request_timeout: Option<String>,
    pub(super) idle_timeout: Option<String>,
    pub(super) max_connections: Option<u64>,
    pub(super) max_header_bytes: Option<u64>,
    pub(super) max_headers: Option<u64>,
    pub(super) http2: Option<bool>,
    // TLS termination (see `tls.rs`).
    pub(super) tls_cert: Option<String>,
    pub(super) tls_key: Option<String>,
    pub(super) tls_handshake_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInbox {
    pub(super) url: Option<String>,
    pub(super) redis: Option<String>,
    pub(super) retention: Option<String>,
    pub(super) body_retention: Option<String>,
    pub(super) ledger: Option<String>,
    pub(super) encryption_key: Option<String>,
    pub(super) encryption_keys: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorker {
    pub(super) max_attempts: Option<u32>,
    pub(super) backoff: Option<String>,
    pub(super) max_backoff: Option<String>,
    pub(super) lease: Option<String>,
    pub(super) concurrency: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    pub(super) provider: String,
    pub(super) path: String,
    #[serde(default)]
    pub(super) secrets: Vec<String>,
    pub(super) header: Option<String>,
    #[serde(default)]
    pub(super) tokens: Vec<String>,
    pub(super) kind: Option<String>,
    pub(super) secret_in: Option<String>,
    pub(super) param: Option<String>,
    #[serde(default)]
    pub(super) public_keys: Vec<String>,
    pub(super) algorithm: Option<String>,
    pub(super) methods: Option<Vec<String>>,
    pub(super) body_limit: Option<u64>,
    pub(super) strict: Option<bool>,
    pub(super) dedup_namespace: Option<String>,
    pub(super) ordering: Option<String>,
    pub(super) hold_for: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub(super) enum RawSink {
    Http {
        url: String,
        secret: String,
        timeout: Option<String>,
        // TLS client of an https:// sink (see `sink.rs`).
        ca_file: Option<String>,
        insecure_skip_verify: Option<bool>,
        mask: Option<RawMask>,
    },
    Command {
        command: Vec<String>,
        timeout: Option<String>,
        mask: Option<RawMask>,
    },
    // JetStream (see `sink.rs` and `nats.rs`).
    Nats(RawNats),
    // Table sinks (see `table.rs`).
    Postgres(RawPostgresTable),
    Sqlite(RawSqliteTable),
}

/// `[[sink]] mask`: `true`/`false`, or a list of documented field paths.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawMask {
    All(bool),
    Fields(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPostgresTable {
    pub(super) url: String,
    pub(super) table: Option<String>,
    pub(super) notify: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) mask: Option<RawMask>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSqliteTable {
    pub(super) path: String,
    pub(super) table: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) mask: Option<RawMask>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNats {
    pub(super) url: String,
    pub(super) subject: Option<String>,
    pub(super) stream: Option<String>,
    pub(super) create_stream: Option<bool>,
    pub(super) credentials: Option<String>,
    pub(super) nkey: Option<String>,
    pub(super) token: Option<String>,
    pub(super) user: Option<String>,
    pub(super) password: Option<String>,
    pub(super) ca_file: Option<String>,
    pub(super) secret: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) mask: Option<RawMask>,
}
