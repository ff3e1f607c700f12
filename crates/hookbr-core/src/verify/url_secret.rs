use std::sync::Arc;

use super::{MatchedKey, Verify, check_nonempty};
use crate::{ConfigError, Request, Secret, VerifyError, secret::find_match};

#[derive(Debug, Clone)]
enum Location {
    Query(String),
    PathSegment,
}

/// Checks a secret embedded in the URL the provider was given: iSET, which documents no
/// signature or token, is configured with a URL such as `https://shop.example/iset/orders?token=…`
/// or `https://shop.example/iset/<secret>/orders`.
///
/// ```
/// use hookbr_core::{Request, Secret, verify::{UrlSecretVerifier, Verify}};
///
/// let by_query = UrlSecretVerifier::query_param("token", [Secret::new("k3y")?])?;
/// assert!(by_query.verify(&Request::new(b"").with_target("/iset/orders?token=k3y")).is_ok());
/// let by_path = UrlSecretVerifier::path_segment([Secret::new("k3y")?])?;
/// assert!(by_path.verify(&Request::new(b"").with_target("/iset/k3y/orders")).is_ok());
/// assert!(by_path.verify(&Request::new(b"").with_target("/iset/orders")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The secret travels in the URL, so access logs that record URLs hold it: keep them private.
#[derive(Debug, Clone)]
pub struct UrlSecretVerifier {
    location: Location,
    secrets: Vec<Secret>,
    labels: Vec<Option<Arc<str>>>,
}

impl UrlSecretVerifier {
    /// The query parameter `name` (percent-decoded) must equal one of `secrets`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an empty name or an empty list.
    pub fn query_param(
        name: impl Into<String>,
        secrets: impl IntoIterator<Item = Secret>,
    ) -> Result<Self, ConfigError> {
        let name = name.into();
        if name.is_empty() {
            return Err(ConfigError::EmptyName {
                what: "query parameter",
            });
        }
        Self::build(Location::Query(name), secrets)
    }

    /// Some segment of the URL path (percent-decoded) must equal one of `secrets`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NothingToAccept`] for an empty list.
    pub fn path_segment(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, ConfigError> {
        Self::build(Location::PathSegment, secrets)
    }

    fn build(
        location: Location,
        secrets: impl IntoIterator<Item = Secret>,
    ) -> Result<Self, ConfigError> {
        let secrets: Vec<Secret> = secrets.into_iter().collect();
        check_nonempty(&secrets, "secret")?;
        Ok(Self {
            location,
            labels: vec![None; secrets.len()],
            secrets,
        })
    }

    /// Labels the secrets, in order (reported on match).
    #[must_use]
    pub fn with_labels<L: Into<Arc<str>>>(mut self, labels: impl IntoIterator<Item = L>) -> Self {
        for (slot, label) in self.labels.iter_mut().zip(labels) {
            *slot = Some(label.into());
        }
        self
    }
}

fn percent_decode(text: &str) -> Vec<u8> {
    // A path segment is not a form: `+` stays `+`.
    let escaped = text.replace('+', "%2B");
    form_urlencoded::parse(format!("x={escaped}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned().into_bytes())
        .unwrap_or_default()
}

impl Verify for UrlSecretVerifier {
    fn verify(&self, request: &Request<'_>) -> Result<MatchedKey, VerifyError> {
        let index = match &self.location {
            Location::Query(name) => {
                let query = request.query().ok_or(VerifyError::MissingUrlSecret)?;
                let mut values = form_urlencoded::parse(query.as_bytes())
                    .filter(|(key, _)| key == name.as_str());
                let value = values.next().ok_or(VerifyError::MissingUrlSecret)?;
                if values.next().is_some() {
                    return Err(VerifyError::InvalidUrlSecret);
                }
                find_match(&self.secrets, value.1.as_bytes())
            }
            Location::PathSegment => request
                .path()
                .split('/')
                .filter(|segment| !segment.is_empty())
                .find_map(|segment| find_match(&self.secrets, &percent_decode(segment))),
        }
        .ok_or(VerifyError::InvalidUrlSecret)?;
        Ok(MatchedKey::new(
            index,
            self.labels.get(index).cloned().flatten(),
        ))
    }

    /// Decides on the head alone: the secret is in the URL, so a request without it is refused
    /// before its body is read.
    fn verify_head(&self, head: &Request<'_>) -> Option<Result<MatchedKey, VerifyError>> {
        Some(self.verify(head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Vec<Secret> {
        vec![Secret::new("old").unwrap(), Secret::new("n w+").unwrap()]
    }

    fn check(verifier: &UrlSecretVerifier, target: &str) -> Result<usize, VerifyError> {
        verifier
            .verify(&Request::new(b"").with_target(target))
            .map(|m| m.index())
    }

    #[test]
    fn query_param() {
        let v = UrlSecretVerifier::query_param("token", secrets()).unwrap();
        assert_eq!(check(&v, "/iset?token=old"), Ok(0));
        assert_eq!(check(&v, "/iset?a=1&token=n+w%2B"), Ok(1));
        assert_eq!(
            check(&v, "/iset?token=new"),
            Err(VerifyError::InvalidUrlSecret)
        );
        assert_eq!(check(&v, "/iset"), Err(VerifyError::MissingUrlSecret));
        assert_eq!(
            check(&v, "/iset?tok=old"),
            Err(VerifyError::MissingUrlSecret)
        );
        assert_eq!(
            check(&v, "/iset?token=guess&token=old"),
            Err(VerifyError::InvalidUrlSecret),
            "a repeated parameter is refused"
        );
    }

    #[test]
    fn path_segment() {
        let v = UrlSecretVerifier::path_segment(secrets())
            .unwrap()
            .with_labels(["a", "b"]);
        assert_eq!(check(&v, "/iset/old/orders"), Ok(0));
        assert_eq!(check(&v, "/iset/n%20w+/orders"), Ok(1));
        assert_eq!(
            check(&v, "/iset/orders"),
            Err(VerifyError::InvalidUrlSecret)
        );
        let matched = v.verify(&Request::new(b"").with_target("/old")).unwrap();
        assert_eq!(matched.label(), Some("a"));
    }

    #[test]
    fn config_errors() {
        assert!(UrlSecretVerifier::query_param("", secrets()).is_err());
        assert!(UrlSecretVerifier::path_segment([]).is_err());
    }
}
