use std::{fmt, sync::Arc};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{MatchedKey, Verify, check_nonempty};
use crate::{
    ConfigError, ParseError, Request, Secret, VerifyError,
    providers::{body_text, json_str},
    secret::find_match,
};

/// Checks a token carried in a JSON body field: Foody's `token`.
///
/// The token is read from the body bytes as received. A body that is not a JSON object is a
/// [`VerifyError::Body`] (answered `400`), a body that names the field twice is refused (a
/// parser elsewhere could pick the other copy), and a missing or non-string field is
/// [`VerifyError::MissingToken`].
///
/// ```
/// use hookbr_core::{Request, Secret, verify::{BodyTokenVerifier, Verify}};
///
/// let verifier = BodyTokenVerifier::foody([Secret::new("2b100082b90d4ad9b4fezzed960cf652")?])?;
/// let body = br#"{"event":"hook_test","token":"2b100082b90d4ad9b4fezzed960cf652"}"#;
/// assert_eq!(verifier.verify(&Request::new(body))?.index(), 0);
/// assert!(verifier.verify(&Request::new(br#"{"token":"guess"}"#)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct BodyTokenVerifier {
    field: String,
    tokens: Vec<Secret>,
    labels: Vec<Option<Arc<str>>>,
}

impl BodyTokenVerifier {
    /// Requires body field `field` to equal one of `tokens`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an empty field name or an empty list.
    pub fn new(
        field: impl Into<String>,
        tokens: impl IntoIterator<Item = Secret>,
    ) -> Result<Self, ConfigError> {
        Self::labeled(
            field,
            tokens.into_iter().map(|token| (None::<Arc<str>>, token)),
        )
    }

    /// Like [`new`](Self::new), with a label per token.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an empty field name or an empty list.
    pub fn labeled<L: Into<Arc<str>>>(
        field: impl Into<String>,
        tokens: impl IntoIterator<Item = (Option<L>, Secret)>,
    ) -> Result<Self, ConfigError> {
        let field = field.into();
        if field.is_empty() {
            return Err(ConfigError::EmptyName { what: "body field" });
        }
        let (labels, tokens): (Vec<_>, Vec<_>) = tokens
            .into_iter()
            .map(|(label, token)| (label.map(Into::into), token))
            .unzip();
        check_nonempty(&tokens, "token")?;
        Ok(Self {
            field,
            tokens,
            labels,
        })
    }

    /// Foody Delivery: the body's `token` must equal one of `tokens`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NothingToAccept`] for an empty list.
    pub fn foody(tokens: impl IntoIterator<Item = Secret>) -> Result<Self, ConfigError> {
        Self::new("token", tokens)
    }
}

impl Verify for BodyTokenVerifier {
    fn verify(&self, request: &Request<'_>) -> Result<MatchedKey, VerifyError> {
        let text = body_text(request.body()).map_err(VerifyError::Body)?;
        let raw = find_field(text, &self.field)?.ok_or_else(|| VerifyError::MissingToken {
            field: self.field.clone(),
        })?;
        let token = json_str(raw).ok_or_else(|| VerifyError::MissingToken {
            field: self.field.clone(),
        })?;
        let index = find_match(&self.tokens, token.as_bytes()).ok_or_else(|| {
            VerifyError::InvalidToken {
                field: self.field.clone(),
            }
        })?;
        Ok(MatchedKey::new(
            index,
            self.labels.get(index).cloned().flatten(),
        ))
    }
}

/// Finds a top-level field of a JSON object without building the whole document.
fn find_field<'a>(text: &'a str, field: &str) -> Result<Option<&'a RawValue>, VerifyError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let found = FieldSeed { field }
        .deserialize(&mut deserializer)
        .and_then(|found| deserializer.end().map(|()| found));
    found.map_err(|error| {
        if error.is_data() {
            if text.trim_start().starts_with('{') {
                VerifyError::Body(ParseError::InvalidField {
                    field: "(duplicate key)",
                })
            } else {
                VerifyError::Body(ParseError::NotAnObject)
            }
        } else {
            VerifyError::Body(ParseError::from_json(&error))
        }
    })
}

struct FieldSeed<'f> {
    field: &'f str,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.field {
                if found.is_some() {
                    return Err(serde::de::Error::custom("duplicate field"));
                }
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> BodyTokenVerifier {
        BodyTokenVerifier::foody([Secret::new("t-old").unwrap(), Secret::new("t-new").unwrap()])
            .unwrap()
    }

    fn check(body: &str) -> Result<usize, VerifyError> {
        verifier()
            .verify(&Request::new(body.as_bytes()))
            .map(|m| m.index())
    }

    #[test]
    fn good_rotated_forged_missing() {
        assert_eq!(check(r#"{"event":"x","token":"t-old"}"#), Ok(0));
        assert_eq!(check(r#"{"token":"t-new","event":"x"}"#), Ok(1));
        assert_eq!(
            check(r#"{"token":"t-newer"}"#),
            Err(VerifyError::InvalidToken {
                field: "token".into()
            })
        );
        assert_eq!(
            check(r#"{"event":"x"}"#),
            Err(VerifyError::MissingToken {
                field: "token".into()
            })
        );
        assert_eq!(
            check(r#"{"token":12}"#),
            Err(VerifyError::MissingToken {
                field: "token".into()
            })
        );
    }

    #[test]
    fn escaped_token_is_compared_decoded() {
        assert_eq!(check(r#"{"tok\u0065n":"t-\u006fld"}"#), Ok(0));
    }

    #[test]
    fn duplicate_token_field_is_refused() {
        assert!(matches!(
            check(r#"{"token":"guess","token":"t-old"}"#),
            Err(VerifyError::Body(_))
        ));
    }

    #[test]
    fn not_json_is_a_body_error() {
        for body in [
            "",
            "token=t-old",
            "[\"t-old\"]",
            r#"{"token":"t-old"} trailing"#,
        ] {
            assert!(matches!(check(body), Err(VerifyError::Body(_))), "{body}");
        }
    }

    #[test]
    fn config_errors() {
        assert!(BodyTokenVerifier::foody([]).is_err());
        assert!(BodyTokenVerifier::new("", [Secret::new("x").unwrap()]).is_err());
    }
}
