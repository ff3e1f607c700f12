//! The signature ledger: which body was first seen under each Grafeno delivery key, remembered
//! far beyond deduplication retention.
//!
//! Grafeno's RSA signature covers the `x-unique-key` header, not the body
//! ([`Provider::authentication`](crate::Provider::authentication)): anyone who has seen one
//! genuine delivery can send its header and signature with another body, and the signature
//! still verifies. The ledger closes that: the first time a verified delivery key is seen, a
//! [`BodyFingerprint`] of its body is remembered; a later copy with the same key and the same
//! body is an ordinary copy (deduplicated as before), one with the same key and *another* body
//! is refused `401` with reason `signature_reused` ([`RejectionKind::SignatureReused`](crate::RejectionKind::SignatureReused))
//! before anything is stored. Entries are kept [`LEDGER_RETENTION`] (400 days), so neither the
//! end of deduplication retention nor a purge of inbox rows lets a forged body through.
//!
//! Where entries live: the durable inboxes and Redis keep them
//! ([`Inbox::remember_body`](crate::Inbox::remember_body),
//! [`IdempotencyStore::remember_body`](crate::IdempotencyStore::remember_body)); with a store
//! that keeps none (the in-memory [`MemoryStore`](crate::MemoryStore)) the receiver's own
//! [`SignatureLedger`] keeps them: a bounded [`MemoryLedger`] by default, lost on restart, or a
//! durable one ([`ReceiverBuilder::signature_ledger`](crate::ReceiverBuilder::signature_ledger),
//! e.g. hookbr-store's `SqliteLedger`, which `hookbr serve` uses in direct mode).
//!
//! ```
//! use hookbr_core::ledger::{BodyFingerprint, MemoryLedger, Seen};
//! use hookbr_core::{DeliveryId, Provider};
//!
//! let ledger = MemoryLedger::new();
//! let key = DeliveryId::new(Provider::Grafeno, "31216ba1-c507-688c-bea7-b7adf8cf2c1c-approved").key();
//! let genuine = BodyFingerprint::of(br#"{"change":"approved","data":{"id":"1"}}"#);
//! let forged = BodyFingerprint::of(br#"{"change":"approved","data":{"id":"2"}}"#);
//! assert_eq!(ledger.remember_now(key, genuine), Seen::First);
//! assert_eq!(ledger.remember_now(key, genuine), Seen::Same);
//! assert_eq!(ledger.remember_now(key, forged), Seen::Different);
//! ```

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use sha2::{Digest, Sha256};

use crate::{
    ConfigError, DedupKey,
    dedup::{Clock, StoreFuture, SystemClock},
};

/// How long a delivery key's body fingerprint is remembered: 400 days, far beyond the 7-day
/// deduplication retention (and above a year, so a yearly event cannot be replayed either).
pub const LEDGER_RETENTION: Duration = Duration::from_secs(400 * 24 * 3600);

/// The default capacity of a [`MemoryLedger`]: one million keys (about 80 MB when full; only
/// a genuinely signed delivery adds an entry, so an attacker cannot fill it).
pub const DEFAULT_LEDGER_CAPACITY: usize = 1_000_000;

/// The first 128 bits of the SHA-256 of a body's content.
///
/// A JSON body is hashed in a canonical form (object keys sorted, no insignificant
/// whitespace), so a genuine retry that the provider serialized again, with its fields in
/// another order or spaced differently, is the same body; any change of a value, a key or an
/// array's order is another body. Bytes that are not JSON are hashed as received.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyFingerprint([u8; 16]);

/// The canonical form of a JSON body, written while serde_json's tokenizer reads it (no
/// `serde_json::Value` tree is built): every scalar as serde_json writes it, every object's
/// entries sorted by key, the last of duplicate keys kept, no insignificant whitespace. The
/// same bytes as serializing the parsed `serde_json::Value` with its objects' keys sorted
/// (the reference the property test `streaming_canonical_form_matches_the_value_one` checks
/// against), since it sees the same visitor calls a `Value` would (numbers, escapes, depth
/// limit, trailing characters).
mod canonical {
    use std::{borrow::Cow, fmt, ops::Range};

    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    /// A key serde_json's `Value` reads specially (its `raw_value` feature): a body carrying
    /// one is fingerprinted through the reference path.
    const PRIVATE_KEY_PREFIX: &str = "$serde_json::private::";

    /// Where the canonical bytes go.
    #[derive(Debug, Default)]
    pub(super) struct Canonical {
        /// The canonical text written so far.
        pub(super) out: Vec<u8>,
        /// Set when a key serde_json's `Value` would treat specially was seen.
        pub(super) private_key: bool,
    }

    /// Writes the canonical form of `body` into `canonical`; `Err` when `body` is not one JSON
    /// value for serde_json (the caller hashes the bytes as received).
    pub(super) fn write(body: &[u8], canonical: &mut Canonical) -> Result<(), serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        Seed(canonical).deserialize(&mut deserializer)?;
        deserializer.end()
    }

    struct Seed<'s>(&'s mut Canonical);

    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    fn write_json<E: de::Error, T: serde::Serialize + ?Sized>(
        out: &mut Vec<u8>,
        value: &T,
    ) -> Result<(), E> {
        serde_json::to_writer(out, value).map_err(E::custom)
    }

    impl<'de> Visitor<'de> for Seed<'_> {
        type Value = ();

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("any JSON value")
        }

        fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
            self.0
                .out
                .extend_from_slice(if value { b"true" } else { b"false" });
            Ok(())
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
            write_json(&mut self.0.out, &value)
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
            write_json(&mut self.0.out, &value)
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
            // As `Value` keeps it: a non-finite float (never parsed from JSON) is `null`.
            if value.is_finite() {
                write_json(&mut self.0.out, &value)
            } else {
                self.visit_unit()
            }
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
            write_json(&mut self.0.out, value)
        }

        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            self.0.out.extend_from_slice(b"null");
            Ok(())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let canonical = self.0;
            canonical.out.push(b'[');
            let mut first = true;
            loop {
                let at = canonical.out.len();
                if !first {
                    canonical.out.push(b',');
                }
                if seq.next_element_seed(Seed(canonical))?.is_none() {
                    canonical.out.truncate(at);
                    break;
                }
                first = false;
            }
            canonical.out.push(b']');
            Ok(())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let canonical = self.0;
            let start = canonical.out.len();
            canonical.out.push(b'{');
            // Each entry written `"key":value` in arrival order (commas between), remembered
            // with its decoded key; reordered below only when the keys were not already
            // strictly ascending.
            let mut entries: Vec<(Cow<'de, str>, Range<usize>)> = Vec::new();
            let mut sorted = true;
            while let Some(key) = map.next_key_seed(KeySeed)? {
                if key.starts_with(PRIVATE_KEY_PREFIX) {
                    canonical.private_key = true;
                }
                if let Some((previous, _)) = entries.last() {
                    sorted &= *previous < key;
                    canonical.out.push(b',');
                }
                let at = canonical.out.len();
                write_json(&mut canonical.out, key.as_ref())?;
                canonical.out.push(b':');
                map.next_value_seed(Seed(canonical))?;
                entries.push((key, at..canonical.out.len()));
            }
            if !sorted {
                // Stable: duplicate keys stay in arrival order, and the last one is kept.
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                let mut object = Vec::with_capacity(canonical.out.len() - start + 1);
                object.push(b'{');
                let mut first = true;
                for (n, (key, range)) in entries.iter().enumerate() {
                    if entries.get(n + 1).is_some_and(|(next, _)| next == key) {
                        continue;
                    }
                    if !first {
                        object.push(b',');
                    }
                    first = false;
                    object.extend_from_slice(canonical.out.get(range.clone()).unwrap_or_default());
                }
                canonical.out.truncate(start);
                canonical.out.extend_from_slice(&object);
            }
            canonical.out.push(b'}');
            Ok(())
        }
    }

    /// An object's key, borrowed from the body when it has no escape.
    struct KeySeed;

    impl<'de> DeserializeSeed<'de> for KeySeed {
        type Value = Cow<'de, str>;

        fn deserialize<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for KeySeed {
        type Value = Cow<'de, str>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("an object key")
        }

        fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(value))
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(value.to_owned()))
        }

        fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(value))
        }
    }
}

/// Feeds `value` to `hasher` in a canonical form: objects with their keys sorted, every string
/// and number as serde_json writes it (whatever the map order serde_json was built with). The
/// reference [`canonical`] must match; used for the rare bodies it defers to.
fn hash_canonical(value: &serde_json::Value, hasher: &mut Sha256) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            hasher.update(b"{");
            for (n, (key, item)) in entries.into_iter().enumerate() {
                if n > 0 {
                    hasher.update(b",");
                }
                hash_canonical(&Value::String(key.clone()), hasher);
                hasher.update(b":");
                hash_canonical(item, hasher);
            }
            hasher.update(b"}");
        }
        Value::Array(items) => {
            hasher.update(b"[");
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    hasher.update(b",");
                }
                hash_canonical(item, hasher);
            }
            hasher.update(b"]");
        }
        scalar => hasher.update(scalar.to_string().as_bytes()),
    }
}

impl BodyFingerprint {
    /// The fingerprint of `body`.
    #[must_use]
    pub fn of(body: &[u8]) -> Self {
        // The canonical text is at most about the body's size: one allocation, no regrowth.
        let mut canonical = canonical::Canonical {
            out: Vec::with_capacity(body.len().saturating_add(16)),
            private_key: false,
        };
        match canonical::write(body, &mut canonical) {
            Ok(()) if !canonical.private_key => {
                let mut hasher = Sha256::new();
                hasher.update(b"json:");
                hasher.update(&canonical.out);
                Self::from_digest(hasher)
            }
            Ok(()) => Self::of_value_parse(body),
            Err(_) => {
                let mut hasher = Sha256::new();
                hasher.update(b"bytes:");
                hasher.update(body);
                Self::from_digest(hasher)
            }
        }
    }

    /// The fingerprint through a parsed `serde_json::Value` (the definition [`of`](Self::of)
    /// streams; kept for bodies with keys `Value` reads specially, and as the tests' reference).
    fn of_value_parse(body: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => {
                hasher.update(b"json:");
                hash_canonical(&value, &mut hasher);
            }
            Err(_) => {
                hasher.update(b"bytes:");
                hasher.update(body);
            }
        }
        Self::from_digest(hasher)
    }

    fn from_digest(hasher: Sha256) -> Self {
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        Self(bytes)
    }

    /// Rebuilds a fingerprint from its bytes (for stores that persist it).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The fingerprint's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for BodyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BodyFingerprint(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

/// What the ledger knew of a delivery key ([`MemoryLedger::remember_now`],
/// [`IdempotencyStore::remember_body`](crate::IdempotencyStore::remember_body),
/// [`Inbox::remember_body`](crate::Inbox::remember_body)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Seen {
    /// The key was not known: its fingerprint is now remembered.
    First,
    /// The key is known with this very body (a retry or a copy).
    Same,
    /// The key is known with another body: the signature is being reused.
    Different,
}

impl Seen {
    /// Compares the remembered fingerprint with the presented one (`None`: nothing was
    /// remembered, so the presented one now is).
    #[must_use]
    pub fn compare(remembered: Option<BodyFingerprint>, presented: BodyFingerprint) -> Self {
        match remembered {
            None => Self::First,
            Some(remembered) if remembered == presented => Self::Same,
            Some(_) => Self::Different,
        }
    }
}

/// Where a receiver keeps its signature ledger when its store (or inbox) keeps none. See the
/// module docs.
pub trait SignatureLedger: Send + Sync + fmt::Debug {
    /// Compares `fingerprint` with the one remembered for `key`, remembering it for `keep` when
    /// the key is new (or its entry expired).
    fn remember(
        &self,
        key: DedupKey,
        fingerprint: BodyFingerprint,
        keep: Duration,
    ) -> StoreFuture<'_, Seen>;
}

impl<L: SignatureLedger + ?Sized> SignatureLedger for Arc<L> {
    fn remember(
        &self,
        key: DedupKey,
        fingerprint: BodyFingerprint,
        keep: Duration,
    ) -> StoreFuture<'_, Seen> {
        (**self).remember(key, fingerprint, keep)
    }
}

/// The in-memory ledger of one receiver: bounded in count and age, lost on restart.
///
/// Entries are kept in arrival order; one older than the retention ([`LEDGER_RETENTION`]) or
/// beyond the capacity ([`DEFAULT_LEDGER_CAPACITY`]) is forgotten, oldest first. Each entry is
/// the 16-byte key, the 16-byte fingerprint and an 8-byte time.
#[derive(Debug)]
pub struct MemoryLedger {
    entries: Mutex<Entries>,
    capacity: usize,
    retention: u64,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<DedupKey, (BodyFingerprint, u64)>,
    order: VecDeque<(DedupKey, u64)>,
}

impl Default for MemoryLedger {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryLedger {
    /// A ledger with the default capacity and retention and the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::with_clock(SystemClock::default())
    }

    /// A ledger with the default capacity and retention and the given clock.
    #[must_use]
    pub fn with_clock(clock: impl Clock + 'static) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            capacity: DEFAULT_LEDGER_CAPACITY,
            retention: millis(LEDGER_RETENTION),
            clock: Arc::new(clock),
        }
    }

    /// Sets the capacity.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroCapacity`] when `capacity` is 0.
    pub fn capacity(mut self, capacity: usize) -> Result<Self, ConfigError> {
        if capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        self.capacity = capacity;
        Ok(self)
    }

    /// Sets how long an entry is kept (default [`LEDGER_RETENTION`]).
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = millis(retention);
        self
    }

    /// How many keys are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().by_key.len()
    }

    /// Whether no key is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the map inconsistent with itself in a
        // way that matters here (at worst an entry is forgotten early).
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Compares `fingerprint` with the one remembered for `key`, remembering it when the key is
    /// new (or its entry expired).
    pub fn remember_now(&self, key: DedupKey, fingerprint: BodyFingerprint) -> Seen {
        let now = self.clock.now_millis();
        let mut entries = self.lock();
        let Entries { by_key, order } = &mut *entries;
        // Forget what expired, and what is beyond the capacity, oldest first.
        while let Some(&(oldest, at)) = order.front() {
            let expired = now.saturating_sub(at) >= self.retention;
            if !expired && by_key.len() < self.capacity {
                break;
            }
            order.pop_front();
            if by_key.get(&oldest).is_some_and(|&(_, seen)| seen == at) {
                by_key.remove(&oldest);
            }
        }
        let seen = Seen::compare(
            by_key.get(&key).map(|&(remembered, _)| remembered),
            fingerprint,
        );
        if seen == Seen::First {
            by_key.insert(key, (fingerprint, now));
            order.push_back((key, now));
        }
        seen
    }
}

impl SignatureLedger for MemoryLedger {
    /// [`remember_now`](Self::remember_now); entries are kept for the ledger's own retention
    /// ([`retention`](Self::retention)), whatever `keep` says.
    fn remember(
        &self,
        key: DedupKey,
        fingerprint: BodyFingerprint,
        keep: Duration,
    ) -> StoreFuture<'_, Seen> {
        let _ = keep;
        Box::pin(std::future::ready(Ok(self.remember_now(key, fingerprint))))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::ManualClock;

    fn key(n: u32) -> DedupKey {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        DedupKey::from_bytes(bytes)
    }

    #[test]
    fn json_formatting_is_not_a_different_body() {
        let genuine = BodyFingerprint::of(
            br#"{"signature":"c2ln","change":"approved","data":{"id":"1","tags":["a","b"],"n":1.5}}"#,
        );
        // The same content serialized again: other key order, whitespace, escapes.
        let resent = BodyFingerprint::of(
            b"{ \"change\": \"approved\",\n  \"data\": {\"n\": 1.5, \"tags\": [\"a\", \"b\"], \"id\": \"\\u0031\"},\n  \"signature\": \"c2ln\" }",
        );
        assert_eq!(genuine, resent);
        // Any change of a value, a key or an array's order is another body.
        for other in [
            &br#"{"signature":"c2ln","change":"approved","data":{"id":"2","tags":["a","b"],"n":1.5}}"#[..],
            br#"{"signature":"c2ln","change":"approved","data":{"id":"1","tags":["b","a"],"n":1.5}}"#,
            br#"{"signature":"c2ln","change":"approved","data":{"ID":"1","tags":["a","b"],"n":1.5}}"#,
            br#"{"signature":"c2ln","change":"approved","data":{"id":"1","tags":["a","b"],"n":"1.5"}}"#,
            br#"{"signature":"c2ln","change":"approved","data":{"id":"1","tags":["a","b"],"n":1.5},"x":null}"#,
        ] {
            assert_ne!(genuine, BodyFingerprint::of(other), "{}", String::from_utf8_lossy(other));
        }
        // Bytes that are not JSON are compared as received, and never equal a JSON body.
        assert_eq!(
            BodyFingerprint::of(b"a=1&b=2"),
            BodyFingerprint::of(b"a=1&b=2")
        );
        assert_ne!(
            BodyFingerprint::of(b"a=1&b=2"),
            BodyFingerprint::of(b"b=2&a=1")
        );
        assert_ne!(BodyFingerprint::of(b"\"x\""), BodyFingerprint::of(b"x"));
    }

    mod streaming {
        use proptest::prelude::*;

        use super::BodyFingerprint;

        fn space() -> impl Strategy<Value = String> {
            prop::sample::select(vec!["", "", " ", "\n", "\t", "\r\n ", "  "])
                .prop_map(str::to_owned)
        }

        /// A JSON string token: plain and non-ASCII text, every escape (a lone surrogate too,
        /// which serde_json refuses), few distinct keys so objects repeat them.
        fn string() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop::sample::select(vec![
                    "a",
                    "b",
                    "id",
                    "Id",
                    "é",
                    "😀",
                    " ",
                    "\\\"",
                    "\\\\",
                    "\\/",
                    "\\n",
                    "\\t",
                    "\\u0041",
                    "\\u00e9",
                    "\\u001f",
                    "\\ud83d\\ude00",
                    "\\ud800",
                    "\\u0000",
                    "$serde_json::private::RawValue",
                    "\u{7f}",
                ]),
                0..4,
            )
            .prop_map(|pieces| format!("\"{}\"", pieces.concat()))
        }

        fn number() -> impl Strategy<Value = String> {
            (
                any::<bool>(),
                prop::sample::select(vec![
                    "0",
                    "1",
                    "7",
                    "10",
                    "255",
                    "9007199254740993",
                    "18446744073709551615",
                    "18446744073709551616",
                    "9223372036854775808",
                    "123456789012345678901234567890",
                ]),
                prop::option::of(prop::sample::select(vec![
                    ".0",
                    ".5",
                    ".25",
                    ".1000",
                    ".333333333333333333333",
                ])),
                prop::option::of(prop::sample::select(vec![
                    "e0", "E+2", "e-7", "e308", "e400", "e-400", "E-0",
                ])),
            )
                .prop_map(|(negative, digits, fraction, exponent)| {
                    format!(
                        "{}{digits}{}{}",
                        if negative { "-" } else { "" },
                        fraction.unwrap_or(""),
                        exponent.unwrap_or("")
                    )
                })
        }

        fn json() -> impl Strategy<Value = String> {
            let leaf = prop_oneof![
                Just("null".to_owned()),
                Just("true".to_owned()),
                Just("false".to_owned()),
                number(),
                string(),
            ];
            leaf.prop_recursive(5, 48, 6, |inner| {
                prop_oneof![
                    (
                        prop::collection::vec((space(), inner.clone()), 0..6),
                        space()
                    )
                        .prop_map(|(items, end)| {
                            let items: Vec<_> =
                                items.into_iter().map(|(s, v)| format!("{s}{v}")).collect();
                            format!("[{}{end}]", items.join(","))
                        }),
                    (
                        prop::collection::vec((space(), string(), space(), inner), 0..6),
                        space()
                    )
                        .prop_map(|(entries, end)| {
                            let entries: Vec<_> = entries
                                .into_iter()
                                .map(|(s, k, t, v)| format!("{s}{k}{t}:{v}"))
                                .collect();
                            format!("{{{}{end}}}", entries.join(","))
                        }),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4096))]

            /// The streaming canonicalizer gives the fingerprint of the parsed-`Value` one on
            /// every body, JSON or not.
            #[test]
            fn streaming_canonical_form_matches_the_value_one(
                (lead, body, trail) in (space(), json(), space()),
                cut in any::<prop::sample::Index>(),
                byte in any::<u8>(),
                mutate in 0..4u8,
            ) {
                let mut bytes = format!("{lead}{body}{trail}").into_bytes();
                let at = cut.index(bytes.len() + 1);
                match mutate {
                    1 => bytes.truncate(at),
                    2 => bytes.insert(at, byte),
                    3 if at < bytes.len() => bytes[at] = byte,
                    _ => {}
                }
                prop_assert_eq!(
                    BodyFingerprint::of(&bytes),
                    BodyFingerprint::of_value_parse(&bytes),
                    "{}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }

        #[test]
        fn nesting_limit_and_edge_cases_match() {
            for depth in [126, 127, 128, 129, 130] {
                for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                    let body = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                    assert_eq!(
                        BodyFingerprint::of(body.as_bytes()),
                        BodyFingerprint::of_value_parse(body.as_bytes()),
                        "depth {depth}"
                    );
                }
            }
            for body in [
                &b""[..],
                b" ",
                b"{}",
                b"[]",
                b"-0",
                b"-0.0",
                b"1e400",
                b"1.0",
                b"{\"b\":1,\"a\":2,\"b\":3}",
                b"{\"a\":1,\"a\":2}",
                b"{\"$serde_json::private::RawValue\":\"[1]\"}",
                b"\"\xff\"",
                b"[1,]",
                b"{\"a\":1,}",
                b"nul",
                b"{} {}",
            ] {
                assert_eq!(
                    BodyFingerprint::of(body),
                    BodyFingerprint::of_value_parse(body),
                    "{}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }

    #[test]
    fn first_same_different() {
        let ledger = MemoryLedger::new();
        let (a, b) = (BodyFingerprint::of(b"a"), BodyFingerprint::of(b"b"));
        assert_eq!(ledger.remember_now(key(1), a), Seen::First);
        assert_eq!(ledger.remember_now(key(1), a), Seen::Same);
        assert_eq!(ledger.remember_now(key(1), b), Seen::Different);
        // The first body stays the reference.
        assert_eq!(ledger.remember_now(key(1), a), Seen::Same);
        assert_eq!(ledger.remember_now(key(2), b), Seen::First);
        assert_eq!(ledger.len(), 2);
    }

    #[test]
    fn entries_outlive_dedup_retention_and_expire_after_their_own() {
        let clock = Arc::new(ManualClock::default());
        let ledger = MemoryLedger::with_clock(clock.clone());
        let (a, b) = (BodyFingerprint::of(b"a"), BodyFingerprint::of(b"b"));
        assert_eq!(ledger.remember_now(key(1), a), Seen::First);
        clock.advance(LEDGER_RETENTION - Duration::from_millis(1));
        assert_eq!(ledger.remember_now(key(1), b), Seen::Different);
        clock.advance(Duration::from_millis(1));
        assert_eq!(ledger.remember_now(key(1), b), Seen::First);
        assert_eq!(ledger.len(), 1);
    }

    #[test]
    fn bounded_in_count_oldest_forgotten_first() {
        let ledger = MemoryLedger::new().capacity(3).unwrap();
        let a = BodyFingerprint::of(b"a");
        for n in 0..10 {
            assert_eq!(ledger.remember_now(key(n), a), Seen::First);
            assert!(ledger.len() <= 3);
        }
        assert_eq!(ledger.remember_now(key(9), a), Seen::Same);
        assert_eq!(ledger.remember_now(key(0), a), Seen::First);
        assert!(MemoryLedger::new().capacity(0).is_err());
    }

    #[test]
    fn fingerprints_are_stable_and_short() {
        let fingerprint = BodyFingerprint::of(b"{}");
        assert_eq!(
            fingerprint,
            BodyFingerprint::from_bytes(*fingerprint.as_bytes())
        );
        assert_eq!(fingerprint, BodyFingerprint::of(b"{} "));
        assert_ne!(fingerprint, BodyFingerprint::of(b"[]"));
        // Stores persist fingerprints: the canonical form must not change between releases.
        assert_eq!(
            BodyFingerprint::of(br#"{ "a" : [1, "x"] }"#).as_bytes(),
            &[
                0x82, 0x5b, 0xe4, 0x11, 0xac, 0x4b, 0xa6, 0xee, 0xfe, 0x5f, 0x83, 0x66, 0x54, 0x58,
                0xf0, 0x9d
            ]
        );
        assert_eq!(
            format!("{fingerprint:?}").len(),
            "BodyFingerprint()".len() + 32
        );
    }
}
