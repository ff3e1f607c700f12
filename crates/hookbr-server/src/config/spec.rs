//! [`VerifierSpec`]: what authenticates one provider's deliveries, built once into its
//! verifier.
//!
//! `hookbr.toml`'s `[[endpoint]]` tables and the flags of `hookbr verify` both end up here, so
//! provider → verifier construction exists once.

use hookbr_core::{
    ConfigError, Provider, Secret,
    verify::{
        AnyVerifier, BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier, RsaAlgorithm,
        RsaPublicKey, UrlSecretVerifier,
    },
};

/// A secret or key with the label reported when it matches (a configuration reference such as
/// `env:BONIFIQ_SECRET`, never the value), or `None`.
pub type Labeled<T> = (T, Option<String>);

/// How one provider's deliveries are authenticated. See the module docs.
///
/// ```
/// use hookbr_core::Secret;
/// use hookbr_server::config::VerifierSpec;
///
/// let spec = VerifierSpec::Foody {
///     tokens: vec![(Secret::new("t0ken")?, Some("env:FOODY_TOKEN".to_owned()))],
/// };
/// assert_eq!(spec.provider().as_str(), "foody");
/// let verifier = spec.build()?;
/// assert_eq!(verifier.name(), "body_token");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum VerifierSpec {
    /// BonifiQ: `header` equals one of `secrets`.
    Bonifiq {
        /// The header (`X-Loyalty-Secret` by default).
        header: String,
        /// The accepted secrets (several: rotation).
        secrets: Vec<Labeled<Secret>>,
    },
    /// Foody Delivery: the body's `token` equals one of `tokens`.
    Foody {
        /// The accepted tokens.
        tokens: Vec<Labeled<Secret>>,
    },
    /// iSET: a secret in the URL or a header.
    Iset {
        /// Where the secret travels.
        secret_in: SecretIn,
        /// The accepted secrets.
        secrets: Vec<Labeled<Secret>>,
    },
    /// Grafeno: an RSA signature of the `x-unique-key` header.
    Grafeno {
        /// Grafeno's public keys.
        public_keys: Vec<Labeled<RsaPublicKey>>,
        /// The signature scheme.
        algorithm: RsaAlgorithm,
    },
}

/// Where iSET's secret travels.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretIn {
    /// A query parameter of the URL.
    Query {
        /// Its name (`token` by default).
        param: String,
    },
    /// The last segment of the URL path.
    Path,
    /// A header.
    Header {
        /// Its name.
        name: String,
    },
}

/// A verifier construction error, with the option it is about (`header`, `param`) when it is
/// not the endpoint as a whole.
pub(crate) type SpecError = (Option<&'static str>, ConfigError);

impl VerifierSpec {
    /// The provider.
    #[must_use]
    pub fn provider(&self) -> Provider {
        match self {
            Self::Bonifiq { .. } => Provider::Bonifiq,
            Self::Foody { .. } => Provider::Foody,
            Self::Iset { .. } => Provider::Iset,
            Self::Grafeno { .. } => Provider::Grafeno,
        }
    }

    /// The verifier.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid header or parameter name, or an empty list.
    pub fn build(self) -> Result<AnyVerifier, ConfigError> {
        self.build_naming_option().map_err(|(_, error)| error)
    }

    /// [`build`](Self::build), saying which option an error is about.
    pub(crate) fn build_naming_option(self) -> Result<AnyVerifier, SpecError> {
        let whole = |error| (None, error);
        Ok(match self {
            Self::Bonifiq { header, secrets } => {
                HeaderSecretVerifier::labeled(header, swap(secrets))
                    .map_err(|error| (Some("header"), error))?
                    .into()
            }
            Self::Foody { tokens } => BodyTokenVerifier::labeled("token", swap(tokens))
                .map_err(whole)?
                .into(),
            Self::Iset { secret_in, secrets } => match secret_in {
                SecretIn::Query { param } => {
                    let (secrets, labels) = split(secrets);
                    with_labels(
                        UrlSecretVerifier::query_param(param, secrets)
                            .map_err(|error| (Some("param"), error))?,
                        labels,
                        UrlSecretVerifier::with_labels,
                    )
                    .into()
                }
                SecretIn::Path => {
                    let (secrets, labels) = split(secrets);
                    with_labels(
                        UrlSecretVerifier::path_segment(secrets).map_err(whole)?,
                        labels,
                        UrlSecretVerifier::with_labels,
                    )
                    .into()
                }
                SecretIn::Header { name } => HeaderSecretVerifier::labeled(name, swap(secrets))
                    .map_err(|error| (Some("header"), error))?
                    .into(),
            },
            Self::Grafeno {
                public_keys,
                algorithm,
            } => {
                let (keys, labels) = split(public_keys);
                with_labels(
                    GrafenoVerifier::new(keys).map_err(whole)?,
                    labels,
                    GrafenoVerifier::with_labels,
                )
                .with_algorithm(algorithm)
                .into()
            }
        })
    }
}

/// `(value, label)` pairs in the `(label, value)` order the labeled constructors take.
fn swap<T>(pairs: Vec<Labeled<T>>) -> Vec<(Option<String>, T)> {
    pairs
        .into_iter()
        .map(|(value, label)| (label, value))
        .collect()
}

/// The values, and their labels when every value has one.
fn split<T>(pairs: Vec<Labeled<T>>) -> (Vec<T>, Option<Vec<String>>) {
    let (values, labels): (Vec<T>, Vec<Option<String>>) = pairs.into_iter().unzip();
    (values, labels.into_iter().collect())
}

fn with_labels<V>(verifier: V, labels: Option<Vec<String>>, apply: fn(V, Vec<String>) -> V) -> V {
    match labels {
        Some(labels) => apply(verifier, labels),
        None => verifier,
    }
}

#[cfg(test)]
mod tests {
    use hookbr_core::{Request, verify::Verify as _};

    use super::*;

    fn secret(value: &str, label: Option<&str>) -> Labeled<Secret> {
        (Secret::new(value).unwrap(), label.map(str::to_owned))
    }

    #[test]
    fn labels_are_reported_on_match() {
        let verifier = VerifierSpec::Bonifiq {
            header: "X-Loyalty-Secret".into(),
            secrets: vec![secret("a", Some("env:A")), secret("b", Some("env:B"))],
        }
        .build()
        .unwrap();
        let headers = [("x-loyalty-secret", "b")];
        let matched = verifier
            .verify(&Request::new(b"{}").with_headers(&headers))
            .unwrap();
        assert_eq!((matched.index(), matched.label()), (1, Some("env:B")));

        let verifier = VerifierSpec::Iset {
            secret_in: SecretIn::Query {
                param: "token".into(),
            },
            secrets: vec![secret("s", None)],
        }
        .build()
        .unwrap();
        let matched = verifier
            .verify(&Request::new(b"{}").with_target("/i?token=s"))
            .unwrap();
        assert_eq!((matched.index(), matched.label()), (0, None));
    }

    #[test]
    fn errors_name_their_option() {
        let spec = VerifierSpec::Iset {
            secret_in: SecretIn::Header {
                name: "bad header".into(),
            },
            secrets: vec![secret("s", None)],
        };
        assert_eq!(spec.build_naming_option().unwrap_err().0, Some("header"));
        let spec = VerifierSpec::Iset {
            secret_in: SecretIn::Query { param: "".into() },
            secrets: vec![secret("s", None)],
        };
        assert_eq!(spec.build_naming_option().unwrap_err().0, Some("param"));
        let spec = VerifierSpec::Foody { tokens: Vec::new() };
        assert_eq!(spec.build_naming_option().unwrap_err().0, None);
    }
}
