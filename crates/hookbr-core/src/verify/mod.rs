//! Authentication of deliveries: the [`Verify`] trait and one verifier per scheme.
//!
//! | provider | scheme | verifier |
//! |---|---|---|
//! | BonifiQ | static header(s) configured by the merchant, e.g. `X-Loyalty-Secret` | [`HeaderSecretVerifier`] |
//! | Foody | `token` field of the JSON body | [`BodyTokenVerifier`] |
//! | iSET | a secret in the configured URL (query parameter or path segment), optionally a header | [`UrlSecretVerifier`] |
//! | Grafeno | RSA signature (base64 `signature` field) over the `x-unique-key` header | [`GrafenoVerifier`] |
//!
//! Every verifier accepts several secrets or keys, so that one can be rotated without downtime,
//! and reports which one matched as a [`MatchedKey`] (an index and an optional label, never the
//! value). Secrets are compared in constant time. Verifiers are built fallibly: an empty secret or
//! an RSA key under 2048 bits is a [`ConfigError`] at start-up, not a
//! surprise on the first request.
//!
//! ```
//! use hookbr_core::{Request, Secret, verify::{HeaderSecretVerifier, Verify}};
//!
//! let verifier = HeaderSecretVerifier::bonifiq([Secret::new("old")?, Secret::new("new")?])?;
//! let headers = [("X-Loyalty-Secret", "new")];
//! let matched = verifier.verify(&Request::new(b"{}").with_headers(&headers))?;
//! assert_eq!(matched.index(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Deployment caveats
//!
//! * Proxies must pass the body through unchanged: Grafeno's binding and Foody's token are
//!   checked on the bytes as received.
//! * Some proxies drop unknown headers: make sure `x-unique-key` (Grafeno) and the BonifiQ
//!   secret header reach the application.
//! * iSET's URL secret travels in the URL: keep access logs that record query strings private,
//!   or prefer a secret path segment.

use std::{fmt, sync::Arc};

use crate::{ConfigError, Request, VerifyError};

mod body_token;
#[cfg(feature = "grafeno")]
mod rsa_signature;
mod shared_secret;
mod url_secret;

pub use body_token::BodyTokenVerifier;
#[cfg(feature = "grafeno")]
pub use rsa_signature::{GrafenoVerifier, RsaAlgorithm, RsaPublicKey, SignedContent};
pub use shared_secret::{BONIFIQ_SECRET_HEADER, HeaderSecretVerifier};
pub use url_secret::UrlSecretVerifier;

/// Which configured secret or key authenticated a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MatchedKey {
    index: usize,
    label: Option<Arc<str>>,
}

impl MatchedKey {
    pub(crate) fn new(index: usize, label: Option<Arc<str>>) -> Self {
        Self { index, label }
    }

    /// The position of the matching secret or key in the verifier's list (0-based).
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// The label given to it when configured, if any.
    #[must_use]
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }
}

impl fmt::Display for MatchedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.label {
            Some(label) => write!(f, "#{} ({label})", self.index),
            None => write!(f, "#{}", self.index),
        }
    }
}

/// Authenticates one delivery.
///
/// Implemented by every verifier in this module, by [`AnyVerifier`], and by closures of the
/// same shape, so custom schemes plug into the pipeline.
pub trait Verify {
    /// Checks `request`; on success, says which secret or key matched.
    ///
    /// # Errors
    ///
    /// [`VerifyError`] naming the failed check (never a secret value).
    fn verify(&self, request: &Request<'_>) -> Result<MatchedKey, VerifyError>;
}

impl<F> Verify for F
where
    F: Fn(&Request<'_>) -> Result<MatchedKey, VerifyError>,
{
    fn verify(&self, request: &Request<'_>) -> Result<MatchedKey, VerifyError> {
        self(request)
    }
}

impl<V: Verify + ?Sized> Verify for Arc<V> {
    fn verify(&self, request: &Request<'_>) -> Result<MatchedKey, VerifyError> {
        (**self).verify(request)
    }
}

/// One of the built-in verifiers, chosen at run time (configuration files, the CLI).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyVerifier {
    /// Static header secrets (BonifiQ, optionally iSET).
    HeaderSecret(HeaderSecretVerifier),
    /// A token in the JSON body (Foody).
    BodyToken(BodyTokenVerifier),
    /// A secret in the URL (iSET).
    UrlSecret(UrlSecretVerifier),
    /// An RSA signature (Grafeno).
    #[cfg(feature = "grafeno")]
    Grafeno(GrafenoVerifier),
    /// Every listed verifier must pass (e.g. iSET URL secret plus a header); the first one's
    /// match is reported.
    All(Vec<AnyVerifier>),
}

impl AnyVerifier {
    /// A short name for messages: `header_secret`, `body_token`, `url_secret`, `grafeno`, `all`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::HeaderSecret(_) => "header_secret",
            Self::BodyToken(_) => "body_token",
            Self::UrlSecret(_) => "url_secret",
            #[cfg(feature = "grafeno")]
            Self::Grafeno(_) => "grafeno",
            Self::All(_) => "all",
        }
    }
}

impl Verify for AnyVerifier {
    fn verify(&self, request: &Request<'_>) -> Result<MatchedKey, VerifyError> {
        match self {
            Self::HeaderSecret(verifier) => verifier.verify(request),
            Self::BodyToken(verifier) => verifier.verify(request),
            Self::UrlSecret(verifier) => verifier.verify(request),
            #[cfg(feature = "grafeno")]
            Self::Grafeno(verifier) => verifier.verify(request),
            Self::All(verifiers) => {
                let mut first = None;
                for verifier in verifiers {
                    let matched = verifier.verify(request)?;
                    first.get_or_insert(matched);
                }
                first.ok_or(VerifyError::MissingUrlSecret)
            }
        }
    }
}

macro_rules! any_from {
    ($($variant:ident($ty:ty)),*) => {$(
        impl From<$ty> for AnyVerifier {
            fn from(verifier: $ty) -> Self {
                Self::$variant(verifier)
            }
        }
    )*};
}

any_from!(
    HeaderSecret(HeaderSecretVerifier),
    BodyToken(BodyTokenVerifier),
    UrlSecret(UrlSecretVerifier)
);
#[cfg(feature = "grafeno")]
any_from!(Grafeno(GrafenoVerifier));

/// Labels for a list of secrets or keys: `(label, value)` pairs or bare values.
pub(crate) fn check_nonempty<T>(items: &[T], what: &'static str) -> Result<(), ConfigError> {
    if items.is_empty() {
        Err(ConfigError::NothingToAccept { what })
    } else {
        Ok(())
    }
}
