//! [`Provider`], [`DeliveryId`] and the fixed-size [`DedupKey`] the idempotency stores keep.
//!
//! | provider | delivery id |
//! |---|---|
//! | BonifiQ | the envelope's `Uuid`; a digest of the body for custom (non-envelope) bodies |
//! | Foody | a digest of (`uid`, `status`, `updateDate`): `uid` is the *order* id, so it repeats |
//! | iSET | a digest of (kind, body): iSET sends no id |
//! | Grafeno | the `x-unique-key` header (`<uuid>-<status>`) |
//!
//! Ids are namespaced by provider: the same string from two providers is two deliveries. Their
//! [`key`](DeliveryId::key) is also namespaced by the route that received them
//! ([`DeliveryId::in_namespace`]; the routes of [`Webhooks`](crate::Webhooks) use their path), so
//! two endpoints of one provider on one server (two tenants, two BonifiQ programmes) never
//! answer each other's deliveries as duplicates.

use std::{fmt, str::FromStr, sync::Arc};

use sha2::{Digest, Sha256};

/// The four providers hookbr knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Provider {
    /// BonifiQ (loyalty programme).
    Bonifiq,
    /// Foody Delivery (food delivery orders).
    Foody,
    /// iSET (e-commerce platform).
    Iset,
    /// Grafeno (banking: registrations and charges).
    Grafeno,
}

/// How a provider's deliveries are authenticated, and what that credential covers: what the
/// merchant's application can rely on (docs/SECURITY.md). No provider signs its body.
///
/// ```
/// use hookbr_core::Provider;
///
/// let grafeno = Provider::Grafeno.authentication();
/// assert_eq!((grafeno.by, grafeno.covers), ("rsa-signature", "x-unique-key"));
/// assert_eq!(Provider::Foody.authentication().covers, "sender");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Authentication {
    /// The credential: `header-secret` (BonifiQ), `body-token` (Foody), `url-secret` (iSET),
    /// `rsa-signature` (Grafeno).
    pub by: &'static str,
    /// What it proves: `sender` (whoever sent it knows the credential; the body is not
    /// covered), or `x-unique-key` (Grafeno signs that header only: the entity and its new
    /// status, not the body).
    pub covers: &'static str,
}

impl Provider {
    /// How this provider's deliveries are authenticated, and what the credential covers.
    #[must_use]
    pub fn authentication(self) -> Authentication {
        let (by, covers) = match self {
            Self::Bonifiq => ("header-secret", "sender"),
            Self::Foody => ("body-token", "sender"),
            Self::Iset => ("url-secret", "sender"),
            Self::Grafeno => ("rsa-signature", "x-unique-key"),
        };
        Authentication { by, covers }
    }

    /// Every provider, in a fixed order.
    pub const ALL: [Provider; 4] = [Self::Bonifiq, Self::Foody, Self::Iset, Self::Grafeno];

    /// The lower-case name used in configuration, the CLI and metrics: `bonifiq`, `foody`,
    /// `iset`, `grafeno`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bonifiq => "bonifiq",
            Self::Foody => "foody",
            Self::Iset => "iset",
            Self::Grafeno => "grafeno",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown provider name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}: expected bonifiq, foody, iset or grafeno")]
pub struct UnknownProvider(String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|provider| provider.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

impl serde::Serialize for Provider {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The identity of one delivery, used to drop duplicates. See the module docs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DeliveryId {
    provider: Provider,
    value: Box<str>,
    namespace: Option<Arc<str>>,
}

impl DeliveryId {
    /// An id as the provider sent it (BonifiQ `Uuid`, Grafeno `x-unique-key`).
    #[must_use]
    pub fn new(provider: Provider, value: impl Into<Box<str>>) -> Self {
        Self {
            provider,
            value: value.into(),
            namespace: None,
        }
    }

    /// The same id, deduplicated within `namespace` (`None`: the provider's namespace only):
    /// the [`key`](Self::key) of one id differs between namespaces. The pipeline sets the
    /// route's namespace ([`ReceiverBuilder::dedup_namespace`](crate::ReceiverBuilder::dedup_namespace)).
    ///
    /// ```
    /// use hookbr_core::{DeliveryId, Provider};
    ///
    /// let id = DeliveryId::new(Provider::Bonifiq, "f47ac10b-58cc-4372-a567-0e02b2c3d479");
    /// let tenant_a = id.clone().in_namespace(Some("/webhooks/a".into()));
    /// let tenant_b = id.clone().in_namespace(Some("/webhooks/b".into()));
    /// assert_ne!(tenant_a.key(), tenant_b.key());
    /// assert_eq!(tenant_a.as_str(), id.as_str());
    /// ```
    #[must_use]
    pub fn in_namespace(mut self, namespace: Option<Arc<str>>) -> Self {
        self.namespace = namespace;
        self
    }

    /// The deduplication namespace, if any (see [`in_namespace`](Self::in_namespace)).
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// An id derived from several fields: the hex of a SHA-256 over the length-prefixed parts,
    /// truncated to 128 bits (32 hex characters).
    #[must_use]
    pub fn digest_of(provider: Provider, parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        // Lower-case hex, two digits a byte (`char::from_digit` rather than `write!`: the
        // formatting machinery was a fifth of a Foody delivery's own work).
        let hex = |nibble: u8| char::from_digit(u32::from(nibble), 16).unwrap_or('0');
        let value = digest
            .iter()
            .take(16)
            .flat_map(|&byte| [hex(byte >> 4), hex(byte & 0x0f)])
            .collect::<String>();
        Self::new(provider, value)
    }

    /// The provider this id belongs to.
    #[must_use]
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The id as a string (without the provider namespace).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The fixed-size key an idempotency store (or the inbox) keeps for this id: a digest of
    /// the provider, the namespace and the id.
    #[must_use]
    pub fn key(&self) -> DedupKey {
        let mut hasher = Sha256::new();
        hasher.update(self.provider.as_str());
        match &self.namespace {
            // Without a namespace: the key of earlier versions.
            None => hasher.update([0]),
            Some(namespace) => {
                // Length-prefixed, so no (namespace, id) pair can collide with another.
                hasher.update([1]);
                hasher.update((namespace.len() as u64).to_be_bytes());
                hasher.update(namespace.as_bytes());
            }
        }
        hasher.update(self.value.as_bytes());
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        DedupKey(key)
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl fmt::Debug for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            None => write!(f, "DeliveryId({}:{})", self.provider, self.value),
            Some(namespace) => write!(
                f,
                "DeliveryId({}:{} in {namespace:?})",
                self.provider, self.value
            ),
        }
    }
}

/// A 128-bit digest of (provider, namespace, delivery id): what idempotency stores remember, so
/// that each entry has the same small size whatever the provider's id looks like.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupKey([u8; 16]);

impl DedupKey {
    /// Builds a key from its bytes (for stores that persist keys).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The key's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DedupKey(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip() {
        for provider in Provider::ALL {
            assert_eq!(provider.as_str().parse::<Provider>().unwrap(), provider);
        }
        assert_eq!("BonifiQ".parse::<Provider>().unwrap(), Provider::Bonifiq);
        assert!("stripe".parse::<Provider>().is_err());
    }

    #[test]
    fn keys_are_namespaced_by_provider() {
        let a = DeliveryId::new(Provider::Bonifiq, "same");
        let b = DeliveryId::new(Provider::Grafeno, "same");
        assert_ne!(a.key(), b.key());
        assert_eq!(a.key(), DeliveryId::new(Provider::Bonifiq, "same").key());
    }

    #[test]
    fn keys_are_namespaced_by_route() {
        let id = DeliveryId::new(Provider::Bonifiq, "same");
        let plain = id.key();
        let a = id.clone().in_namespace(Some("/a".into()));
        let b = id.clone().in_namespace(Some("/b".into()));
        assert_ne!(a.key(), b.key());
        assert_ne!(a.key(), plain);
        assert_eq!(id.clone().in_namespace(None).key(), plain);
        assert_eq!(a.key(), id.clone().in_namespace(Some("/a".into())).key());
        assert_eq!(a.namespace(), Some("/a"));
        // The namespace is length-prefixed: moving bytes between it and the id changes the key.
        let shifted = DeliveryId::new(Provider::Bonifiq, "/asame").in_namespace(Some("".into()));
        assert_ne!(shifted.key(), a.key());
        assert_ne!(
            DeliveryId::new(Provider::Bonifiq, "e")
                .in_namespace(Some("/a".into()))
                .key(),
            DeliveryId::new(Provider::Bonifiq, "")
                .in_namespace(Some("/ae".into()))
                .key()
        );
        assert!(format!("{a:?}").contains("\"/a\""));
    }

    #[test]
    fn digests_are_length_prefixed() {
        let a = DeliveryId::digest_of(Provider::Foody, &[b"ab", b"c"]);
        let b = DeliveryId::digest_of(Provider::Foody, &[b"a", b"bc"]);
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    }

    /// Derived ids are persisted (dedup keys, inbox rows): their text never changes. Expected
    /// values computed outside Rust (SHA-256 of the length-prefixed parts, first 16 bytes in
    /// lower-case hex).
    #[test]
    fn digests_keep_their_text() {
        assert_eq!(
            DeliveryId::digest_of(Provider::Foody, &[b"ab", b"c"]).as_str(),
            "601d5476e2ccfe2c87a2bba7a3226597"
        );
        assert_eq!(
            DeliveryId::digest_of(Provider::Foody, &[b"uid", b"CANCELED"]).as_str(),
            "4d9d141e0e173d6ef8e497d55bf02565"
        );
    }
}
