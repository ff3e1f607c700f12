//! What authenticates a simulated delivery, checked once and applied to each body.

use hookbr_core::{Provider, testkit::SigningKey, verify::BONIFIQ_SECRET_HEADER};

use crate::{
    Error,
    json::{json_string, set_member},
    outgoing::Outgoing,
};

/// What authenticates a simulated delivery (the credentials the receiver is configured with).
/// Its `Debug` shows which credentials are set, never their values.
#[derive(Default)]
pub struct Credentials {
    /// BonifiQ / iSET secret.
    pub secret: Option<String>,
    /// BonifiQ header name (default `X-Loyalty-Secret`); iSET: send the secret in this header
    /// instead of the URL.
    pub secret_header: Option<String>,
    /// iSET query parameter carrying the secret (default `token`).
    pub secret_param: Option<String>,
    /// Foody body token.
    pub token: Option<String>,
    /// Grafeno signing key.
    pub signing_key: Option<SigningKey>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |value: &Option<String>| value.as_ref().map(|_| "<redacted>");
        f.debug_struct("Credentials")
            .field("secret", &set(&self.secret))
            .field("secret_header", &self.secret_header)
            .field("secret_param", &self.secret_param)
            .field("token", &set(&self.token))
            .field("signing_key", &self.signing_key)
            .finish()
    }
}

/// The validated credentials for one provider.
pub(crate) enum Auth<'a> {
    Header { name: String, secret: String },
    Token(String),
    Url { param: String, secret: String },
    Sign(&'a SigningKey),
}

fn header_value_ok(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl<'a> Auth<'a> {
    pub(crate) fn from_credentials(
        provider: Provider,
        credentials: &'a Credentials,
    ) -> Result<Self, Error> {
        let secret = |flag: &str| -> Result<String, Error> {
            let secret = credentials.secret.clone().ok_or_else(|| {
                Error::new(format!(
                    "{provider} needs --secret ({flag}); a value, env:NAME or file:PATH"
                ))
            })?;
            if secret.is_empty() {
                return Err(Error::new("--secret is empty"));
            }
            Ok(secret)
        };
        let header = |secret: String, name: &str| -> Result<Self, Error> {
            if !header_name_ok(name) {
                return Err(Error::new(format!(
                    "--secret-header {name:?} is not a valid header name"
                )));
            }
            if !header_value_ok(&secret) {
                return Err(Error::new(
                    "--secret has characters a header cannot carry (control characters or \
                     non-ASCII)",
                ));
            }
            Ok(Self::Header {
                name: name.to_owned(),
                secret,
            })
        };
        match provider {
            Provider::Bonifiq => {
                let name = credentials
                    .secret_header
                    .as_deref()
                    .unwrap_or(BONIFIQ_SECRET_HEADER);
                header(secret("the value of the secret header")?, name)
            }
            Provider::Foody => {
                let token = credentials.token.clone().ok_or_else(|| {
                    Error::new(
                        "foody needs --token (the trigger's token); a value, env:NAME or file:PATH",
                    )
                })?;
                if token.is_empty() {
                    return Err(Error::new("--token is empty"));
                }
                Ok(Self::Token(token))
            }
            Provider::Iset => {
                let secret = secret("the secret in the URL")?;
                match &credentials.secret_header {
                    Some(name) => header(secret, name),
                    None => Ok(Self::Url {
                        param: credentials
                            .secret_param
                            .clone()
                            .unwrap_or_else(|| "token".to_owned()),
                        secret,
                    }),
                }
            }
            Provider::Grafeno => credentials.signing_key.as_ref().map(Self::Sign).ok_or_else(
                || {
                    Error::new(
                        "grafeno needs --private-key PEM_FILE to sign (make a pair with `hookbr \
                         keygen`)",
                    )
                },
            ),
            other => Err(Error::new(format!("unsupported provider {other}"))),
        }
    }

    /// Authenticates `outgoing` (whose body is final but for the token or signature).
    pub(crate) fn apply(
        &self,
        outgoing: &mut Outgoing,
        unique_key: Option<&str>,
    ) -> Result<(), Error> {
        match self {
            Self::Header { name, secret } => {
                outgoing.wire.headers.push((name.clone(), secret.clone()));
            }
            Self::Url { param, secret } => {
                let mut query = outgoing.query();
                query.push((param.clone(), secret.clone()));
                outgoing.set_query(&query);
            }
            Self::Token(token) => {
                let text = String::from_utf8_lossy(&outgoing.wire.body).into_owned();
                outgoing.wire.body = set_member(&text, "token", &json_string(token))?.into_bytes();
            }
            Self::Sign(key) => {
                let unique_key = unique_key
                    .ok_or_else(|| Error::new("internal error: no x-unique-key to sign"))?;
                let signature = key.sign(unique_key.as_bytes())?;
                let text = String::from_utf8_lossy(&outgoing.wire.body).into_owned();
                outgoing.wire.body =
                    set_member(&text, "signature", &json_string(&signature))?.into_bytes();
                outgoing
                    .wire
                    .set_header(hookbr_core::grafeno::UNIQUE_KEY_HEADER, unique_key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let credentials = Credentials {
            secret: Some("s3cr3t".into()),
            token: Some("t0k3n".into()),
            ..Credentials::default()
        };
        let debug = format!("{credentials:?}");
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("t0k3n"),
            "{debug}"
        );
        assert!(debug.contains("<redacted>"), "{debug}");
    }
}
