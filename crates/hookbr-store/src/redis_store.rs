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
use redis::{Script, aio::ConnectionManager};

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

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`); keys are prefixed `hookbr:dedup:`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the URL is invalid or the server unreachable.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| store_error(&e))?;
        let connection = ConnectionManager::new(client)
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
    fn tokens_are_distinct_and_never_the_done_marker() {
        let tokens: std::collections::HashSet<u64> = (0..10_000).map(|_| new_token()).collect();
        assert_eq!(tokens.len(), 10_000);
        assert!(tokens.iter().all(|t| t.to_string() != DONE));
    }
}
