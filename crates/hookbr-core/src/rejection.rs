//! [`Rejection`]: every way the pipeline can decline to hand a delivery to the application,
//! and the one table that maps each to an HTTP status.
//!
//! | outcome | [`RejectionKind`] | status |
//! |---|---|---|
//! | duplicate of a completed delivery | `Duplicate` | 200 + `Hookbr-Duplicate: true` |
//! | Foody `hook_test` answered by hookbr | `Handshake` | 200 |
//! | inbox mode: committed to the durable inbox | `Stored` | 200 |
//! | missing or invalid secret, token or signature | `Unauthorized` | 401 |
//! | method not allowed for the endpoint | `MethodNotAllowed` | 405 (+ `Allow`) |
//! | body over the limit | `PayloadTooLarge` | 413 |
//! | declared `Content-Type` that is not JSON where JSON is required, or a `Content-Encoding` other than `identity` | `UnsupportedMediaType` | 415 |
//! | not JSON / not the provider's format | `MalformedBody` | 400 |
//! | body could not be read (aborted, broken chunked encoding) | `UnreadableBody` | 400 |
//! | strict mode and a payload that does not fit its type | `PayloadMismatch` | 422 |
//! | concurrent copy in flight | `InFlight` | 409 |
//! | idempotency store unavailable | `StoreUnavailable` | 503 |
//! | handler failed (direct mode) | `HandlerFailed` | 500 |
//!
//! Every 2xx is exactly `200`: Foody treats any other code as an error.
//!
//! Response bodies are small JSON objects naming the category only. A `401` never says which
//! check failed (that would help a forger); [`Rejection::kind`] keeps the precise reason for
//! logs and metrics.
//!
//! ```
//! use hookbr_core::{Rejection, RejectionKind};
//!
//! let rejection = Rejection::from(RejectionKind::InFlight);
//! assert_eq!(rejection.status(), 409);
//! assert_eq!(rejection.body_text(), r#"{"status":409,"error":"in_flight"}"#);
//! ```

use std::fmt;

use crate::{ParseError, PayloadError, VerifyError, dedup::StoreError};

/// Response header set on the answer to a duplicate delivery.
pub const DUPLICATE_HEADER: &str = "Hookbr-Duplicate";

/// What the pipeline decided instead of delivering the event. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// The delivery was already processed to completion.
    Duplicate,
    /// A Foody `hook_test` handshake, authenticated and acknowledged by hookbr itself.
    Handshake,
    /// Inbox mode: the delivery is committed to the durable inbox; workers will process it.
    Stored,
    /// Authentication failed.
    Unauthorized(VerifyError),
    /// The HTTP method is not allowed for this endpoint.
    MethodNotAllowed {
        /// The methods that are, for the `Allow` header.
        allowed: Vec<String>,
    },
    /// The body exceeds the limit.
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The declared `Content-Type` is not JSON where JSON is required.
    UnsupportedMediaType,
    /// The body is not in the provider's format.
    MalformedBody(ParseError),
    /// The body could not be read (the client aborted, or sent a broken chunked encoding).
    UnreadableBody,
    /// Strict mode: a known kind's payload does not fit its type.
    PayloadMismatch(PayloadError),
    /// Another copy of this delivery is being processed right now.
    InFlight,
    /// The idempotency store (or inbox) could not be reached; the provider should retry.
    StoreUnavailable(StoreError),
    /// The application's handler failed; the claim was released so the retry is processed.
    HandlerFailed,
}

/// A delivery the pipeline did not hand to the application, with its HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    kind: RejectionKind,
}

impl Rejection {
    /// The reason, for logs and metrics.
    #[must_use]
    pub fn kind(&self) -> &RejectionKind {
        &self.kind
    }

    /// The HTTP status code to answer with (the only status table in hookbr).
    #[must_use]
    pub fn status(&self) -> u16 {
        match &self.kind {
            RejectionKind::Duplicate | RejectionKind::Handshake | RejectionKind::Stored => 200,
            RejectionKind::MalformedBody(_) | RejectionKind::UnreadableBody => 400,
            RejectionKind::Unauthorized(_) => 401,
            RejectionKind::MethodNotAllowed { .. } => 405,
            RejectionKind::InFlight => 409,
            RejectionKind::PayloadTooLarge { .. } => 413,
            RejectionKind::UnsupportedMediaType => 415,
            RejectionKind::PayloadMismatch(_) => 422,
            RejectionKind::HandlerFailed => 500,
            RejectionKind::StoreUnavailable(_) => 503,
        }
    }

    /// Whether the provider is told the delivery succeeded (status 200).
    #[must_use]
    pub fn is_acknowledgement(&self) -> bool {
        self.status() == 200
    }

    /// The category code used in the response body and as a metrics label, e.g. `unauthorized`.
    #[must_use]
    pub fn category(&self) -> &'static str {
        match &self.kind {
            RejectionKind::Duplicate => "duplicate",
            RejectionKind::Handshake => "handshake",
            RejectionKind::Stored => "stored",
            RejectionKind::Unauthorized(_) => "unauthorized",
            RejectionKind::MethodNotAllowed { .. } => "method_not_allowed",
            RejectionKind::PayloadTooLarge { .. } => "payload_too_large",
            RejectionKind::UnsupportedMediaType => "unsupported_media_type",
            RejectionKind::MalformedBody(_) => "malformed_body",
            RejectionKind::UnreadableBody => "unreadable_body",
            RejectionKind::PayloadMismatch(_) => "payload_mismatch",
            RejectionKind::InFlight => "in_flight",
            RejectionKind::StoreUnavailable(_) => "store_unavailable",
            RejectionKind::HandlerFailed => "handler_failed",
        }
    }

    /// The precise reason code for logs and metrics: the category, refined for authentication
    /// and parse failures (`invalid_signature`, `not_json`, ...). Never sent to the client.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match &self.kind {
            RejectionKind::Unauthorized(error) => error.code(),
            RejectionKind::MalformedBody(error) => error.code(),
            _ => self.category(),
        }
    }

    /// The response body: `{"status":<code>,"error":"<category>"}`.
    #[must_use]
    pub fn body_text(&self) -> String {
        format!(
            r#"{{"status":{},"error":"{}"}}"#,
            self.status(),
            self.category()
        )
    }

    /// The `Content-Type` of [`body_text`](Self::body_text).
    pub const CONTENT_TYPE: &'static str = "application/json";

    /// Extra response headers: `Hookbr-Duplicate: true` for duplicates, `Allow` for 405.
    #[must_use]
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match &self.kind {
            RejectionKind::Duplicate => vec![(DUPLICATE_HEADER, "true".to_owned())],
            RejectionKind::MethodNotAllowed { allowed } => vec![("Allow", allowed.join(", "))],
            _ => Vec::new(),
        }
    }
}

impl From<RejectionKind> for Rejection {
    fn from(kind: RejectionKind) -> Self {
        Self { kind }
    }
}

impl From<VerifyError> for Rejection {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Body(error) => RejectionKind::MalformedBody(error).into(),
            error => RejectionKind::Unauthorized(error).into(),
        }
    }
}

impl From<ParseError> for Rejection {
    fn from(error: ParseError) -> Self {
        RejectionKind::MalformedBody(error).into()
    }
}

impl From<StoreError> for Rejection {
    fn from(error: StoreError) -> Self {
        RejectionKind::StoreUnavailable(error).into()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            RejectionKind::Unauthorized(error) => write!(f, "unauthorized: {error}"),
            RejectionKind::MalformedBody(error) => write!(f, "malformed body: {error}"),
            RejectionKind::PayloadMismatch(error) => write!(f, "payload mismatch: {error}"),
            RejectionKind::StoreUnavailable(error) => write!(f, "store unavailable: {error}"),
            RejectionKind::PayloadTooLarge { limit } => {
                write!(f, "body larger than the {limit}-byte limit")
            }
            _ => f.write_str(self.category()),
        }
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<(RejectionKind, u16)> {
        vec![
            (RejectionKind::Duplicate, 200),
            (RejectionKind::Handshake, 200),
            (RejectionKind::Stored, 200),
            (
                RejectionKind::Unauthorized(VerifyError::InvalidSignature),
                401,
            ),
            (
                RejectionKind::MethodNotAllowed {
                    allowed: vec!["POST".into()],
                },
                405,
            ),
            (RejectionKind::PayloadTooLarge { limit: 10 }, 413),
            (RejectionKind::UnsupportedMediaType, 415),
            (RejectionKind::MalformedBody(ParseError::NotUtf8), 400),
            (RejectionKind::UnreadableBody, 400),
            (
                RejectionKind::PayloadMismatch(PayloadError::with_message("Point_Add", "x")),
                422,
            ),
            (RejectionKind::InFlight, 409),
            (
                RejectionKind::StoreUnavailable(StoreError::new("down")),
                503,
            ),
            (RejectionKind::HandlerFailed, 500),
        ]
    }

    #[test]
    fn status_table() {
        for (kind, status) in every_kind() {
            let rejection = Rejection::from(kind.clone());
            assert_eq!(rejection.status(), status, "{kind:?}");
            assert_eq!(rejection.is_acknowledgement(), status == 200);
            let body: serde_json::Value = serde_json::from_str(&rejection.body_text()).unwrap();
            assert_eq!(body["status"], status);
            assert_eq!(body["error"], rejection.category());
        }
    }

    #[test]
    fn duplicate_and_405_headers() {
        let duplicate = Rejection::from(RejectionKind::Duplicate);
        assert_eq!(
            duplicate.headers(),
            vec![(DUPLICATE_HEADER, "true".to_owned())]
        );
        let method = Rejection::from(RejectionKind::MethodNotAllowed {
            allowed: vec!["POST".into(), "PUT".into()],
        });
        assert_eq!(method.headers(), vec![("Allow", "POST, PUT".to_owned())]);
        assert!(
            Rejection::from(RejectionKind::InFlight)
                .headers()
                .is_empty()
        );
    }

    #[test]
    fn unauthorized_body_is_generic() {
        let rejection = Rejection::from(VerifyError::InvalidSecret {
            name: "X-Loyalty-Secret".into(),
        });
        assert_eq!(
            rejection.body_text(),
            r#"{"status":401,"error":"unauthorized"}"#
        );
        assert_eq!(rejection.reason(), "invalid_secret");
    }
}
