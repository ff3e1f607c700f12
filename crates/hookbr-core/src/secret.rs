//! [`Secret`]: a shared secret or token that never shows up in logs and is compared in
//! constant time.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::ConfigError;

/// A shared secret (BonifiQ header value, Foody token, iSET URL secret).
///
/// * `Debug` and `Display` print `[REDACTED]`, so a secret cannot leak through a log line or a
///   panic message by accident.
/// * [`Secret::matches`] compares in constant time, and compares SHA-256 digests so that the
///   time taken does not even reveal the secret's length.
/// * The bytes are zeroed when the value is dropped.
/// * An empty secret is refused: a receiver configured with `""` would accept anyone who
///   sends an empty header.
///
/// ```
/// use hookbr_core::Secret;
///
/// let secret = Secret::new("s3cr3t-value")?;
/// assert!(secret.matches(b"s3cr3t-value"));
/// assert!(!secret.matches(b"guess"));
/// assert_eq!(format!("{secret:?}"), "Secret([REDACTED])");
/// assert!(Secret::new("").is_err());
/// # Ok::<(), hookbr_core::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Secret {
    value: Zeroizing<Vec<u8>>,
    digest: [u8; 32],
}

impl Secret {
    /// Wraps a secret value.
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] when `value` is empty.
    pub fn new(value: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let value = Zeroizing::new(value.into());
        if value.is_empty() {
            return Err(ConfigError::EmptySecret);
        }
        let digest = Sha256::digest(value.as_slice()).into();
        Ok(Self { value, digest })
    }

    /// Whether `candidate` equals this secret, in time independent of both values.
    #[must_use]
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let candidate: [u8; 32] = Sha256::digest(candidate).into();
        bool::from(self.digest.ct_eq(&candidate))
    }

    /// The secret's bytes, for code that must send it (test clients, simulators).
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.value
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl TryFrom<&str> for Secret {
    type Error = ConfigError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<String> for Secret {
    type Error = ConfigError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

/// Finds which of `secrets` equals `candidate`, checking every one of them so that the time
/// taken does not depend on which (if any) matched.
pub(crate) fn find_match(secrets: &[Secret], candidate: &[u8]) -> Option<usize> {
    let mut found = None;
    for (index, secret) in secrets.iter().enumerate() {
        if secret.matches(candidate) && found.is_none() {
            found = Some(index);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_everywhere() {
        let secret = Secret::new("hunter2").unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret}").contains("hunter2"));
        assert!(!format!("{:?}", Some(secret.clone())).contains("hunter2"));
    }

    #[test]
    fn matches_only_the_exact_value() {
        let secret = Secret::new("abc").unwrap();
        assert!(secret.matches(b"abc"));
        for other in [&b""[..], b"ab", b"abcd", b"ABC", b"abd"] {
            assert!(!secret.matches(other), "{other:?}");
        }
    }

    #[test]
    fn empty_is_refused() {
        assert!(matches!(Secret::new(""), Err(ConfigError::EmptySecret)));
        assert!(Secret::try_from(String::new()).is_err());
    }

    #[test]
    fn find_match_reports_the_index() {
        let secrets = [Secret::new("old").unwrap(), Secret::new("new").unwrap()];
        assert_eq!(find_match(&secrets, b"old"), Some(0));
        assert_eq!(find_match(&secrets, b"new"), Some(1));
        assert_eq!(find_match(&secrets, b"neither"), None);
    }
}
