//! The error types: [`ConfigError`] (at build time), [`VerifyError`] (authentication),
//! [`ParseError`] (bytes that are not the provider's format) and [`PayloadError`] (a known kind
//! whose payload did not fit its type).
//!
//! Messages name the header or field at fault, never its value. All of them fold into a
//! [`Rejection`](crate::Rejection), which owns the mapping to HTTP status codes.

/// A receiver or verifier was misconfigured. Returned when it is built, never on a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A secret or token was empty.
    #[error("a secret or token is empty")]
    EmptySecret,
    /// A verifier was given no secret, token or key to accept.
    #[error("no {what} configured: at least one is required")]
    NothingToAccept {
        /// What is missing ("secret", "token", "public key").
        what: &'static str,
    },
    /// A header name is not a valid HTTP header name.
    #[error("invalid header name {name:?}")]
    InvalidHeaderName {
        /// The offending name.
        name: String,
    },
    /// A field or query parameter name is empty.
    #[error("the {what} name is empty")]
    EmptyName {
        /// Which name ("body field", "query parameter").
        what: &'static str,
    },
    /// A public key could not be read.
    #[error("unreadable public key: {reason}")]
    InvalidKey {
        /// What was wrong with it.
        reason: String,
    },
    /// An RSA key is shorter than 2048 bits.
    #[error("RSA key of {bits} bits refused: at least 2048 bits are required")]
    WeakKey {
        /// The modulus length found.
        bits: usize,
    },
    /// The body limit is zero.
    #[error("the body limit must be at least 1 byte")]
    ZeroBodyLimit,
    /// No HTTP method is allowed.
    #[error("at least one HTTP method must be allowed")]
    NoMethods,
    /// A route path cannot be mounted.
    #[error("route {path:?}: {reason}")]
    InvalidRoute {
        /// The path.
        path: String,
        /// Why (`must start with '/'`, `mounted twice`).
        reason: &'static str,
    },
    /// A lease or retention of zero (use `without_store` to turn deduplication off).
    #[error("leases and retention must be longer than zero")]
    ZeroDuration,
    /// The in-memory store was given a capacity of zero.
    #[error("the idempotency store capacity must be at least 1")]
    ZeroCapacity,
}

/// Why a delivery failed authentication. Every variant answers `401`, with a generic body; the
/// variant itself is for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing header {name}")]
    MissingHeader {
        /// The header's name.
        name: String,
    },
    /// A secret header is present but matches no accepted secret.
    #[error("header {name} does not match any accepted secret")]
    InvalidSecret {
        /// The header's name.
        name: String,
    },
    /// The body has no token field (or it is not a string).
    #[error("body field {field} is missing")]
    MissingToken {
        /// The field's name.
        field: String,
    },
    /// The body token matches no accepted token.
    #[error("body field {field} does not match any accepted token")]
    InvalidToken {
        /// The field's name.
        field: String,
    },
    /// The URL carries no secret where one is expected.
    #[error("the URL carries no secret")]
    MissingUrlSecret,
    /// The URL secret matches no accepted secret.
    #[error("the URL secret does not match any accepted secret")]
    InvalidUrlSecret,
    /// The body has no `signature` field.
    #[error("body field signature is missing")]
    MissingSignature,
    /// The signature is not valid base64, or its length fits no configured key.
    #[error("malformed signature: {reason}")]
    MalformedSignature {
        /// What is wrong with it (never the value).
        reason: &'static str,
    },
    /// The signature does not verify with any configured key.
    #[error("the signature does not verify with any configured key")]
    InvalidSignature,
    /// The `x-unique-key` header is not `<uuid>-<status>`.
    #[error("header {name} is not <uuid>-<status>")]
    MalformedUniqueKey {
        /// The header's name.
        name: String,
    },
    /// The status suffix of `x-unique-key` differs from the body's `change`.
    #[error("the signed status in {name} differs from the body's change")]
    StatusMismatch {
        /// The header's name.
        name: String,
    },
    /// The body had to be read to authenticate (a body token or signature) and is not in the
    /// provider's format. Answered `400`, like any malformed body.
    #[error("cannot authenticate: {0}")]
    Body(ParseError),
}

impl VerifyError {
    /// A short snake_case code for logs and metrics, e.g. `invalid_signature`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader { .. } => "missing_header",
            Self::InvalidSecret { .. } => "invalid_secret",
            Self::MissingToken { .. } => "missing_token",
            Self::InvalidToken { .. } => "invalid_token",
            Self::MissingUrlSecret => "missing_url_secret",
            Self::InvalidUrlSecret => "invalid_url_secret",
            Self::MissingSignature => "missing_signature",
            Self::MalformedSignature { .. } => "malformed_signature",
            Self::InvalidSignature => "invalid_signature",
            Self::MalformedUniqueKey { .. } => "malformed_unique_key",
            Self::StatusMismatch { .. } => "status_mismatch",
            Self::Body(error) => error.code(),
        }
    }
}

/// The body is not in the provider's format at all. Answers `400` (`413` for
/// [`TooManyFields`](Self::TooManyFields)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is empty.
    #[error("the body is empty")]
    Empty,
    /// The body is not valid UTF-8.
    #[error("the body is not valid UTF-8")]
    NotUtf8,
    /// The body is not JSON.
    #[error("the body is not JSON (line {line}, column {column})")]
    NotJson {
        /// 1-based line of the first syntax error.
        line: usize,
        /// 1-based column of the first syntax error.
        column: usize,
    },
    /// The body is neither JSON nor `application/x-www-form-urlencoded`.
    #[error("the body is neither JSON nor form-urlencoded")]
    NotJsonNorForm,
    /// The body is JSON but not an object where the provider sends one.
    #[error("the body is JSON but not an object")]
    NotAnObject,
    /// A required field is absent.
    #[error("required field {field} is missing")]
    MissingField {
        /// The wire name of the field.
        field: &'static str,
    },
    /// A required field has the wrong JSON type.
    #[error("field {field} has the wrong type")]
    InvalidField {
        /// The wire name of the field.
        field: &'static str,
    },
    /// A form body has more fields than hookbr decodes (iSET; answers `413`).
    #[error("the form has more than {limit} fields")]
    TooManyFields {
        /// The most fields accepted.
        limit: usize,
    },
}

impl ParseError {
    /// A short snake_case code for logs and metrics, e.g. `not_json`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty_body",
            Self::NotUtf8 => "not_utf8",
            Self::NotJson { .. } => "not_json",
            Self::NotJsonNorForm => "not_json_nor_form",
            Self::NotAnObject => "not_an_object",
            Self::MissingField { .. } => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
            Self::TooManyFields { .. } => "too_many_fields",
        }
    }

    pub(crate) fn from_json(error: &serde_json::Error) -> Self {
        Self::NotJson {
            line: error.line(),
            column: error.column(),
        }
    }
}

/// A known event kind whose payload did not fit its Rust type (the provider changed a field's
/// type, or dropped a required one). In lenient mode (the default) the event is still accepted
/// and this error travels with the raw payload; in strict mode it answers `422`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} payload does not fit its type: {message}")]
pub struct PayloadError {
    kind: String,
    message: String,
}

impl PayloadError {
    pub(crate) fn new(kind: impl Into<String>, error: &serde_json::Error) -> Self {
        Self {
            kind: kind.into(),
            message: redact_quoted(&error.to_string()),
        }
    }

    pub(crate) fn with_message(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// The event kind whose payload drifted.
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The decoder's message (field and position; never a value).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// serde_json quotes the offending value in "invalid type" messages; payloads carry personal
/// data (e-mails, documents), so quoted text is elided before a message is kept.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    // serde quotes strings in `"` and numbers, booleans and chars in backticks.
    let mut inside: Option<char> = None;
    for c in message.chars() {
        match inside {
            Some(open) if c == open => {
                out.push('…');
                out.push(c);
                inside = None;
            }
            Some(_) => {}
            None if c == '"' || c == '`' => {
                out.push(c);
                inside = Some(c);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_error_hides_values() {
        let error = serde_json::from_str::<i64>(r#""ana@example.com""#).unwrap_err();
        let payload = PayloadError::new("Point_Add", &error);
        assert!(
            !payload.to_string().contains("ana@example.com"),
            "{payload}"
        );
        assert!(payload.message().contains("invalid type"));
        let error = serde_json::from_str::<String>("12345678900").unwrap_err();
        let payload = PayloadError::new("Point_Add", &error);
        assert!(!payload.to_string().contains("12345678900"), "{payload}");
    }
}
