//! The simulator's one error type.

use std::fmt;

use hookbr_core::{Provider, testkit::SigningKeyError};

/// Why a delivery could not be built, a key read or generated, or a client started.
///
/// Every such error is the caller's input (a missing or unusable credential, an unknown kind, a
/// file that is not the provider's format): `hookbr` exits 2 for it. The message names the
/// `hookbr send` option that supplies the faulty value (`--secret`, `--token`,
/// `--private-key`, `--kind`, `--file`), never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// `kind` is not one of `provider`'s `kinds` (`--kind`).
    pub(crate) fn unknown_kind(provider: Provider, kind: &str, kinds: &[&str]) -> Self {
        Self::new(format!(
            "unknown {provider} kind {kind:?}: expected one of {}",
            kinds.join(", ")
        ))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<SigningKeyError> for Error {
    fn from(error: SigningKeyError) -> Self {
        Self::new(match error {
            SigningKeyError::NotPem => "the private key is not PEM: expected -----BEGIN PRIVATE \
                                        KEY----- (PKCS#8) or -----BEGIN RSA PRIVATE KEY----- \
                                        (PKCS#1), as `hookbr keygen` writes"
                .to_owned(),
            SigningKeyError::Encrypted => "the private key is encrypted: decrypt it first \
                                           (openssl pkcs8 -in KEY -out PLAIN.pem)"
                .to_owned(),
            SigningKeyError::PublicKey => "this is a public key: signing needs the private key \
                                           (PREFIX.key.pem from `hookbr keygen`)"
                .to_owned(),
            other => other.to_string(),
        })
    }
}
