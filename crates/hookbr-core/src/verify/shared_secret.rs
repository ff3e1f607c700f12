use std::sync::Arc;

use super::{MatchedKey, Verify, check_nonempty};
use crate::{ConfigError, Request, Secret, VerifyError, secret::find_match};

/// The header BonifiQ's docs suggest for the shared secret.
pub const BONIFIQ_SECRET_HEADER: &str = "X-Loyalty-Secret";

#[derive(Debug, Clone)]
struct Rule {
    /// The name as configured, for errors.
    name: String,
    /// The name in lowercase, for lookups: header names are case-insensitive, and adapters
    /// find lowercase names without parsing them.
    lookup: String,
    secrets: Vec<Secret>,
    labels: Vec<Option<Arc<str>>>,
}

/// Checks static secret headers: BonifiQ's custom headers (default `X-Loyalty-Secret`) and,
/// optionally, iSET.
///
/// Each configured header must be present and equal one of its accepted secrets (several make
/// rotation possible). The match reported is the first header's. See the
/// [module docs](crate::verify).
///
/// ```
/// use hookbr_core::{Request, Secret, verify::{HeaderSecretVerifier, Verify}};
///
/// let verifier = HeaderSecretVerifier::new("X-Loyalty-Secret", [Secret::new("s1")?])?
///     .and_header("X-Store", [Secret::new("loja-42")?])?;
/// let ok = [("x-loyalty-secret", "s1"), ("x-store", "loja-42")];
/// assert!(verifier.verify(&Request::new(b"").with_headers(&ok)).is_ok());
/// let forged = [("x-loyalty-secret", "s1")];
/// assert!(verifier.verify(&Request::new(b"").with_headers(&forged)).is_err());
/// # Ok::<(), hookbr_core::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct HeaderSecretVerifier {
    rules: Vec<Rule>,
}

pub(crate) fn validate_header_name(name: &str) -> Result<(), ConfigError> {
    // RFC 9110 token characters.
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(ConfigError::InvalidHeaderName {
            name: name.to_owned(),
        })
    }
}

impl HeaderSecretVerifier {
    /// Requires header `name` to equal one of `secrets`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid header name or an empty list.
    pub fn new(
        name: impl Into<String>,
        secrets: impl IntoIterator<Item = Secret>,
    ) -> Result<Self, ConfigError> {
        Self::labeled(
            name,
            secrets.into_iter().map(|secret| (None::<Arc<str>>, secret)),
        )
    }

    /// Like [`new`](Self::new), with a label per secret (reported on match, e.g. `"2026-q1"`).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid header name or an empty list.
    pub fn labeled<L: Into<Arc<str>>>(
        name: impl Into<String>,
        secrets: impl IntoIterator<Item = (Option<L>, Secret)>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            rules: vec![rule(name.into(), secrets)?],
        })
    }

    /// `X-Loyalty-Secret` must equal one of `secrets` (BonifiQ's documented suggestion).
    ///
    /// # Errors
    ///
    /// [`ConfigError::NothingToAccept`] for an empty list.
    pub fn bonifiq(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, ConfigError> {
        Self::new(BONIFIQ_SECRET_HEADER, secrets)
    }

    /// Also requires header `name` to equal one of `secrets`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid header name or an empty list.
    pub fn and_header(
        mut self,
        name: impl Into<String>,
        secrets: impl IntoIterator<Item = Secret>,
    ) -> Result<Self, ConfigError> {
        self.rules.push(rule(
            name.into(),
            secrets.into_iter().map(|secret| (None::<Arc<str>>, secret)),
        )?);
        Ok(self)
    }
}

fn rule<L: Into<Arc<str>>>(
    name: String,
    secrets: impl IntoIterator<Item = (Option<L>, Secret)>,
) -> Result<Rule, ConfigError> {
    validate_header_name(&name)?;
    let (labels, secrets): (Vec<_>, Vec<_>) = secrets
        .into_iter()
        .map(|(label, secret)| (label.map(Into::into), secret))
        .unzip();
    check_nonempty(&secrets, "secret")?;
    Ok(Rule {
        lookup: name.to_ascii_lowercase(),
        name,
        secrets,
        labels,
    })
}

impl Verify for HeaderSecretVerifier {
    fn verify(&self, request: &Request<'_>) -> Result<MatchedKey, VerifyError> {
        let mut first = None;
        for rule in &self.rules {
            let value = request
                .header(&rule.lookup)
                .ok_or_else(|| VerifyError::MissingHeader {
                    name: rule.name.clone(),
                })?;
            let index = find_match(&rule.secrets, value.trim_ascii()).ok_or_else(|| {
                VerifyError::InvalidSecret {
                    name: rule.name.clone(),
                }
            })?;
            first.get_or_insert_with(|| {
                MatchedKey::new(index, rule.labels.get(index).cloned().flatten())
            });
        }
        first.ok_or(VerifyError::MissingHeader {
            name: BONIFIQ_SECRET_HEADER.to_owned(),
        })
    }

    /// Decides on the head alone: the secret is a header, so a request without it is refused
    /// before its body is read.
    fn verify_head(&self, head: &Request<'_>) -> Option<Result<MatchedKey, VerifyError>> {
        Some(self.verify(head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(values: &[&str]) -> Vec<Secret> {
        values.iter().map(|v| Secret::new(*v).unwrap()).collect()
    }

    fn check(
        verifier: &HeaderSecretVerifier,
        headers: &[(&str, &str)],
    ) -> Result<usize, VerifyError> {
        verifier
            .verify(&Request::new(b"{}").with_headers(&headers))
            .map(|m| m.index())
    }

    #[test]
    fn good_forged_missing_rotated() {
        let v = HeaderSecretVerifier::bonifiq(secrets(&["old", "new"])).unwrap();
        assert_eq!(check(&v, &[("X-Loyalty-Secret", "old")]), Ok(0));
        assert_eq!(check(&v, &[("x-loyalty-secret", "new")]), Ok(1));
        assert_eq!(
            check(&v, &[("X-Loyalty-Secret", "older")]),
            Err(VerifyError::InvalidSecret {
                name: "X-Loyalty-Secret".into()
            })
        );
        assert_eq!(
            check(&v, &[]),
            Err(VerifyError::MissingHeader {
                name: "X-Loyalty-Secret".into()
            })
        );
        assert!(check(&v, &[("X-Loyalty-Secret", "")]).is_err());
    }

    #[test]
    fn labels_are_reported() {
        let v = HeaderSecretVerifier::labeled(
            "X-Secret",
            [
                (Some("2025"), Secret::new("a").unwrap()),
                (Some("2026"), Secret::new("b").unwrap()),
            ],
        )
        .unwrap();
        let headers = [("X-Secret", "b")];
        let matched = v.verify(&Request::new(b"").with_headers(&headers)).unwrap();
        assert_eq!(matched.label(), Some("2026"));
        assert_eq!(matched.to_string(), "#1 (2026)");
    }

    #[test]
    fn config_errors() {
        assert_eq!(
            HeaderSecretVerifier::bonifiq([]).unwrap_err(),
            ConfigError::NothingToAccept { what: "secret" }
        );
        assert!(matches!(
            HeaderSecretVerifier::new("Bad Header", secrets(&["x"])),
            Err(ConfigError::InvalidHeaderName { .. })
        ));
        assert!(HeaderSecretVerifier::new("", secrets(&["x"])).is_err());
    }

    #[test]
    fn every_header_is_required() {
        let v = HeaderSecretVerifier::new("A", secrets(&["1"]))
            .unwrap()
            .and_header("B", secrets(&["2"]))
            .unwrap();
        assert_eq!(check(&v, &[("A", "1"), ("B", "2")]), Ok(0));
        assert!(check(&v, &[("A", "1"), ("B", "1")]).is_err());
        assert!(check(&v, &[("B", "2")]).is_err());
    }
}
