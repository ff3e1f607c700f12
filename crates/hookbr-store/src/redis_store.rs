use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use hookbr_core::{
    Claim, ClaimToken, DedupKey, IdempotencyStore, StoreError,
    dedup::StoreFuture,
    ledger::{BodyFingerprint, Seen},
};
use redis::{
    Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

/// How long one command may wait for Redis's answer before the request fails (`503`, retried
/// by the provider). redis-rs' default, 500 ms, turned a busy Redis (a snapshot, a loaded
/// machine) into refused deliveries that would have been answered in time: providers wait
/// seconds for their `200`.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The value of a completed key (the scripts below spell it out).
#[cfg(test)]
const DONE: &str = "done";

/// Claims atomically: a fresh key gets the caller's token with the lease as its expiry.
/// Returns 0 (new), 1 (done) or 2 (in flight).
const CLAIM: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
if redis.call('GET', KEYS[1]) == 'done' then return 1 end
return 2
"#;

/// Completes only the holder's claim (a stale token is ignored).
const COMPLETE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// Releases only the holder's claim.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// Remembers a body fingerprint for a fresh key (`SET NX PX`), else compares.
/// Returns 0 (first), 1 (same body) or 2 (another body).
const REMEMBER_BODY: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 2
"#;

/// Two-phase deduplication on Redis, shared by every instance that points at the same server
/// and key prefix.
///
/// A claim is `SET key <token> NX PX <lease>`; completing sets the key to `done` with the
/// retention as its expiry; both complete and release run as Lua scripts that first check the
/// caller's token, so a holder whose lease expired cannot settle someone else's claim. Memory
/// is bounded by Redis's own expiry: nothing outlives its retention.
///
/// It also keeps the signature ledger ([`IdempotencyStore::remember_body`], Grafeno): the first
/// body fingerprint per delivery key under `<prefix>ledger:<key>`, expiring after the time the
/// pipeline asks (400 days), so a body forged on one instance is refused on every instance.
/// Give Redis a `maxmemory-policy` that does not evict keys with an expiry (`noeviction`), or
/// ledger entries can be dropped early.
///
/// A command Redis does not answer within 2 s fails its request (`503`, which the provider
/// retries); a claim Redis made but answered too late expires with its lease.
///
/// Redis answers from memory: with persistence off, a Redis restart forgets completed
/// deliveries (copies are then processed again). For "never lost" use the durable inbox.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    claim: Script,
    complete: Script,
    release: Script,
    remember_body: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

static TOKEN_SEED: AtomicU64 = AtomicU64::new(0);

/// A token unique across processes: time, process id and a counter.
fn new_token() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let count = TOKEN_SEED.fetch_add(1, Ordering::Relaxed);
    (nanos ^ (u64::from(std::process::id()) << 40))
        .wrapping_add(count.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        | 1
}

fn store_error(error: &redis::RedisError) -> StoreError {
    // The category only: a Redis error message may echo the command's arguments.
    StoreError::new(format!("redis: {:?}", error.kind()))
}

fn push_hex(text: &mut String, bytes: &[u8]) {
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// `rediss://` (TLS): the URL without `ca_file`, and the client trusting `ca_file`'s CA (or
/// the system's roots).
fn tls_client(url: &str) -> Result<redis::Client, StoreError> {
    hookbr_tls::install_default_provider();
    let (url, ca_file) = take_ca_file(url);
    let root_cert = match &ca_file {
        Some(path) => {
            // Checked here for a message naming the file (the client only says "invalid").
            hookbr_tls::ca_file_roots(std::path::Path::new(path))
                .map_err(|error| StoreError::new(format!("redis: connect: {error}")))?;
            Some(std::fs::read(path).map_err(|error| {
                StoreError::new(format!("redis: connect: CA file {path}: {error}"))
            })?)
        }
        None => None,
    };
    redis::Client::build_with_tls(
        url.as_str(),
        redis::TlsCertificates {
            client_tls: None,
            root_cert,
        },
    )
    .map_err(|e| store_error(&e))
}

/// `url` without its `ca_file=PATH` query parameter, and that path (percent-decoded).
fn take_ca_file(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let mut ca_file = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("ca_file=") {
            Some(path) => {
                ca_file = Some(
                    form_urlencoded::parse(format!("p={path}").as_bytes())
                        .next()
                        .map_or_else(|| path.to_owned(), |(_, value)| value.into_owned()),
                );
                false
            }
            None => true,
        })
        .collect();
    let mut rest = base.to_owned();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    if let Some(fragment) = fragment {
        rest.push('#');
        rest.push_str(fragment);
    }
    (rest, ca_file)
}

/// `host:port` of a `redis://` or `rediss://` URL, for messages.
fn host_port(url: &str) -> String {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host_port.ends_with(']') || !host_port.contains(':') {
        format!("{host_port}:6379")
    } else {
        host_port.to_owned()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`, or `rediss://` for TLS); keys are prefixed
    /// `hookbr:dedup:`.
    ///
    /// `rediss://` verifies the server's certificate and name against the system's roots, or
    /// only against the CA certificates (PEM) of `ca_file`:
    /// `rediss://redis.internal:6380/0?ca_file=/etc/hookbr/redis-ca.pem`. A refused
    /// certificate fails at once: `redis: connect: TLS handshake with redis.internal:6380
    /// failed: certificate not trusted (unknown issuer)`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the URL is invalid, the CA file unreadable, the server unreachable
    /// or its certificate refused.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = if url.starts_with("rediss://") {
            let client = tls_client(url)?;
            // One attempt first: a certificate error is said now, not retried by the
            // connection manager's backoff.
            if let Err(error) = client.get_multiplexed_async_connection().await {
                return Err(match hookbr_tls::describe(&error) {
                    Some(why) => StoreError::new(format!(
                        "redis: connect: TLS handshake with {} failed: {why}",
                        host_port(url)
                    )),
                    None => store_error(&error),
                });
            }
            client
        } else {
            redis::Client::open(url).map_err(|e| store_error(&e))?
        };
        let connection = ConnectionManager::new_with_config(
            client,
            ConnectionManagerConfig::new().set_response_timeout(Some(RESPONSE_TIMEOUT)),
        )
        .await
        .map_err(|e| store_error(&e))?;
        Ok(Self {
            connection,
            prefix: "hookbr:dedup:".to_owned(),
            claim: Script::new(CLAIM),
            complete: Script::new(COMPLETE),
            release: Script::new(RELEASE),
            remember_body: Script::new(REMEMBER_BODY),
        })
    }

    /// Uses `prefix` for keys (to share one Redis between applications).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, key: DedupKey) -> String {
        let mut name = String::with_capacity(self.prefix.len() + 32);
        name.push_str(&self.prefix);
        push_hex(&mut name, key.as_bytes());
        name
    }

    fn ledger_key(&self, key: DedupKey) -> String {
        let mut name = String::with_capacity(self.prefix.len() + 39);
        name.push_str(&self.prefix);
        name.push_str("ledger:");
        push_hex(&mut name, key.as_bytes());
        name
    }
}

impl IdempotencyStore for RedisStore {
    fn claim(&self, key: DedupKey, lease: Duration) -> StoreFuture<'_, Claim> {
        Box::pin(async move {
            let token = new_token();
            let mut connection = self.connection.clone();
            let answer: i64 = self
                .claim
                .key(self.key(key))
                .arg(token.to_string())
                .arg(millis(lease))
                .invoke_async(&mut connection)
                .await
                .map_err(|e| store_error(&e))?;
            Ok(match answer {
                0 => Claim::New(ClaimToken::from_raw(token)),
                1 => Claim::Done,
                _ => Claim::InFlight,
            })
        })
    }

    fn complete(
        &self,
        key: DedupKey,
        token: ClaimToken,
        retention: Duration,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 = self
                .complete
                .key(self.key(key))
                .arg(token.into_raw().to_string())
                .arg(millis(retention))
                .invoke_async(&mut connection)
                .await
                .map_err(|e| store_error(&e))?;
            Ok(())
        })
    }

    fn release(&self, key: DedupKey, token: ClaimToken) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 = self
                .release
                .key(self.key(key))
                .arg(token.into_raw().to_string())
                .invoke_async(&mut connection)
                .await
                .map_err(|e| store_error(&e))?;
            Ok(())
        })
    }

    fn remember_body(
        &self,
        key: DedupKey,
        fingerprint: BodyFingerprint,
        keep: Duration,
    ) -> StoreFuture<'_, Option<Seen>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let mut value = String::with_capacity(32);
            push_hex(&mut value, fingerprint.as_bytes());
            let answer: i64 = self
                .remember_body
                .key(self.ledger_key(key))
                .arg(value)
                .arg(millis(keep))
                .invoke_async(&mut connection)
                .await
                .map_err(|e| store_error(&e))?;
            Ok(Some(match answer {
                0 => Seen::First,
                1 => Seen::Same,
                _ => Seen::Different,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_file_is_taken_out_of_the_url() {
        assert_eq!(
            take_ca_file("rediss://h:6380/0?ca_file=%2Fetc%2Fca.pem&protocol=resp3"),
            (
                "rediss://h:6380/0?protocol=resp3".to_owned(),
                Some("/etc/ca.pem".to_owned())
            )
        );
        assert_eq!(
            take_ca_file("rediss://h/0?ca_file=/ca.pem"),
            ("rediss://h/0".to_owned(), Some("/ca.pem".to_owned()))
        );
        assert_eq!(
            take_ca_file("rediss://h/0"),
            ("rediss://h/0".to_owned(), None)
        );
        assert_eq!(
            host_port("rediss://:pw@h.example:6380/0?x"),
            "h.example:6380"
        );
        assert_eq!(host_port("rediss://h.example/0"), "h.example:6379");
    }

    #[test]
    fn tokens_are_distinct_and_never_the_done_marker() {
        let tokens: std::collections::HashSet<u64> = (0..10_000).map(|_| new_token()).collect();
        assert_eq!(tokens.len(), 10_000);
        assert!(tokens.iter().all(|t| t.to_string() != DONE));
    }
}
