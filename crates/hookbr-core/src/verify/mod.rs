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

    /// Checks what can be checked on the head alone (method, target, headers; the body of
    /// `head` is empty), before the body is read: `Some` answer when the credential is in the
    /// head (BonifiQ's header secret, iSET's URL secret), so a request without it is refused
    /// `401` without its body being read; `None` when the body is needed to decide (the
    /// default: Foody's token and Grafeno's signature are in the body).
    ///
    /// [`Receiver::check_head`](crate::Receiver::check_head) calls it. A verifier only answers
    /// here what [`verify`](Self::verify) would answer on the whole request: an adapter that
    /// passes the head's [`HeadChecked`](crate::HeadChecked) to
    /// [`Receiver::accept_checked`](crate::Receiver::accept_checked) takes a `Some(Ok(..))`
    /// answer as the verdict and `verify` is not called again for that request (with
    /// [`Receiver::accept`](crate::Receiver::accept) or `None` here, it is).
    ///
    /// ```
    /// use hookbr_core::{Request, Secret, verify::{BodyTokenVerifier, HeaderSecretVerifier, Verify}};
    ///
    /// let head = Request::new(b"").with_target("/webhooks/bonifiq");
    /// let bonifiq = HeaderSecretVerifier::bonifiq([Secret::new("s3cr3t")?])?;
    /// assert!(matches!(bonifiq.verify_head(&head), Some(Err(_))));
    /// let foody = BodyTokenVerifier::foody([Secret::new("t0ken")?])?;
    /// assert!(foody.verify_head(&head).is_none());
    /// # Ok::<(), hookbr_core::ConfigError>(())
    /// ```
    fn verify_head(&self, head: &Request<'_>) -> Option<Result<MatchedKey, VerifyError>> {
        let _ = head;
        None
    }
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

    fn verify_head(&self, head: &Request<'_>) -> Option<Result<MatchedKey, VerifyError>> {
        (**self).verify_head(head)
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

    fn verify_head(&self, head: &Request<'_>) -> Option<Result<MatchedKey, VerifyError>> {
        match self {
            Self::HeaderSecret(verifier) => verifier.verify_head(head),
            Self::BodyToken(verifier) => verifier.verify_head(head),
            Self::UrlSecret(verifier) => verifier.verify_head(head),
            #[cfg(feature = "grafeno")]
            Self::Grafeno(verifier) => verifier.verify_head(head),
            Self::All(verifiers) => {
                // A failed head check refuses at once; the head decides alone only when every
                // listed verifier can.
                let mut first = None;
                let mut decided = true;
                for verifier in verifiers {
                    match verifier.verify_head(head) {
                        Some(Err(error)) => return Some(Err(error)),
                        Some(Ok(matched)) => {
                            first.get_or_insert(matched);
                        }
                        None => decided = false,
                    }
                }
                if decided {
                    Some(first.ok_or(VerifyError::MissingUrlSecret))
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    #[test]
    fn all_decides_on_the_head_only_when_every_verifier_can() {
        let secret = |value: &str| Secret::new(value).unwrap();
        let url: AnyVerifier = UrlSecretVerifier::query_param("token", [secret("k")])
            .unwrap()
            .into();
        let header: AnyVerifier = HeaderSecretVerifier::new("X-Store", [secret("42")])
            .unwrap()
            .into();
        let token: AnyVerifier = BodyTokenVerifier::foody([secret("t")]).unwrap().into();
        let headers = [("X-Store", "42")];
        let good = Request::new(b"")
            .with_target("/h?token=k")
            .with_headers(&headers);
        let bad = Request::new(b"").with_target("/h?token=guess");
        let both = AnyVerifier::All(vec![url.clone(), header]);
        assert_eq!(
            both.verify_head(&good).map(|m| m.map(|m| m.index())),
            Some(Ok(0))
        );
        assert_eq!(
            both.verify_head(&bad),
            Some(Err(VerifyError::InvalidUrlSecret))
        );
        let with_body = AnyVerifier::All(vec![url, token]);
        assert!(
            with_body.verify_head(&good).is_none(),
            "the token is in the body"
        );
        assert_eq!(
            with_body.verify_head(&bad),
            Some(Err(VerifyError::InvalidUrlSecret)),
            "but a wrong URL secret is refused on the head"
        );
        assert!(
            AnyVerifier::All(Vec::new())
                .verify_head(&good)
                .is_some_and(|r| r.is_err())
        );
        let closure = |_: &Request<'_>| Ok(MatchedKey::new(0, None));
        assert!(closure.verify_head(&good).is_none());
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
