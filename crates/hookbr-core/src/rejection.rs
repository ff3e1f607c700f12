//! The one status table: every answer the pipeline gives without (or instead of) the
//! application's handler, and the HTTP status of each.
//!
//! An [`Answer`] is either an [`Ack`] — the provider is told the delivery succeeded, and it
//! did: it is stored, already processed, or a handshake — or a [`Rejection`], a refusal.
//! [`Outcome`] is what happened to one request, for logs and metrics (the adapters put it in
//! the response extensions).
//!
//! | outcome | type | status |
//! |---|---|---|
//! | duplicate of a completed delivery | [`Ack::Duplicate`] | 200 + `Hookbr-Duplicate: true` |
//! | Foody `hook_test` answered by hookbr | [`Ack::Handshake`] | 200 |
//! | inbox mode: committed to the durable inbox | [`Ack::Stored`] | 200 |
//! | missing or invalid secret, token or signature | `Unauthorized` | 401 |
//! | a genuine Grafeno signature (delivery key) already seen with another body | `SignatureReused` | 401 |
//! | method not allowed for the endpoint | `MethodNotAllowed` | 405 (+ `Allow`) |
//! | body over the limit | `PayloadTooLarge` | 413 |
//! | iSET form of more than 1,000 fields (`iset::MAX_FORM_FIELDS`) | `MalformedBody(TooManyFields)` | 413 |
//! | declared `Content-Type` that is not JSON where JSON is required, or a `Content-Encoding` other than `identity` | `UnsupportedMediaType` | 415 |
//! | not JSON / not the provider's format | `MalformedBody` | 400 |
//! | body could not be read (aborted, broken chunked encoding) | `UnreadableBody` | 400 |
//! | strict mode and a payload that does not fit its type | `PayloadMismatch` | 422 |
//! | concurrent copy in flight | `InFlight` | 409 |
//! | idempotency store unavailable | `StoreUnavailable` | 503 |
//! | handler failed or panicked (direct mode; `hookbr serve`: a sink failed) | `HandlerFailed` | 500 |
//!
//! The refusals are the variants of [`RejectionKind`]. Every 2xx is exactly `200`: Foody
//! treats any other code as an error.
//!
//! `SignatureReused` is a `401` because the credential does not authenticate this request: the
//! signature is genuine, but it was first presented with another body, so the body in hand is
//! not the one the signer sent (see [`ledger`](crate::ledger)). It is permanent (a retry of the
//! same request gets it again), unlike `409`, which tells the provider to retry a copy in
//! flight; and like every `401` it answers `{"error":"unauthorized"}`, the precise reason
//! (`signature_reused`) going to logs and metrics only.
//!
//! Response bodies are small JSON objects naming the category only. A `401` never says which
//! check failed (that would help a forger); [`Rejection::kind`] keeps the precise reason for
//! logs and metrics.
//!
//! ```
//! use hookbr_core::{Ack, Answer, Outcome, Rejection, RejectionKind};
//!
//! let rejection = Rejection::from(RejectionKind::InFlight);
//! assert_eq!(rejection.status(), 409);
//! assert_eq!(rejection.body_text(), r#"{"status":409,"error":"in_flight"}"#);
//!
//! let duplicate = Answer::from(Ack::Duplicate);
//! assert_eq!((duplicate.status(), duplicate.category()), (200, "duplicate"));
//! assert_eq!(Outcome::from(&duplicate).as_str(), "duplicate");
//! assert_eq!(Outcome::from(&Answer::from(rejection)).as_str(), "rejected");
//! ```

use std::fmt;

use crate::{ParseError, PayloadError, VerifyError, dedup::StoreError};

/// Response header set on the answer to a duplicate delivery.
pub const DUPLICATE_HEADER: &str = "Hookbr-Duplicate";

/// Why the pipeline refused a delivery. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
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
    /// A genuine signature whose delivery key was first seen with another body (Grafeno signs
    /// `x-unique-key`, not the body): refused before anything is stored
    /// ([`ledger`](crate::ledger)).
    SignatureReused,
}

/// A refused delivery, with its HTTP answer.
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
            RejectionKind::MalformedBody(ParseError::TooManyFields { .. }) => 413,
            RejectionKind::MalformedBody(_) | RejectionKind::UnreadableBody => 400,
            RejectionKind::Unauthorized(_) | RejectionKind::SignatureReused => 401,
            RejectionKind::MethodNotAllowed { .. } => 405,
            RejectionKind::InFlight => 409,
            RejectionKind::PayloadTooLarge { .. } => 413,
            RejectionKind::UnsupportedMediaType => 415,
            RejectionKind::PayloadMismatch(_) => 422,
            RejectionKind::HandlerFailed => 500,
            RejectionKind::StoreUnavailable(_) => 503,
        }
    }

    /// The category code used in the response body and as a metrics label, e.g. `unauthorized`.
    #[must_use]
    pub fn category(&self) -> &'static str {
        match &self.kind {
            RejectionKind::Unauthorized(_) | RejectionKind::SignatureReused => "unauthorized",
            RejectionKind::MethodNotAllowed { .. } => "method_not_allowed",
            RejectionKind::PayloadTooLarge { .. }
            | RejectionKind::MalformedBody(ParseError::TooManyFields { .. }) => "payload_too_large",
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
            RejectionKind::SignatureReused => "signature_reused",
            _ => self.category(),
        }
    }

    /// The response body: `{"status":<code>,"error":"<category>"}`.
    #[must_use]
    pub fn body_text(&self) -> String {
        body_text(self.status(), self.category())
    }

    /// The `Content-Type` of [`body_text`](Self::body_text).
    pub const CONTENT_TYPE: &'static str = "application/json";

    /// Extra response headers: `Allow` for 405.
    #[must_use]
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match &self.kind {
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
            RejectionKind::SignatureReused => {
                f.write_str("unauthorized: a known signature with another body")
            }
            _ => f.write_str(self.category()),
        }
    }
}

impl std::error::Error for Rejection {}

fn body_text(status: u16, category: &str) -> String {
    format!(r#"{{"status":{status},"error":"{category}"}}"#)
}

/// The provider is told the delivery succeeded, without the application's handler running
/// now: it is stored for the workers, already processed, or a handshake. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ack {
    /// Inbox mode: the delivery is committed to the durable inbox; workers will process it.
    Stored,
    /// The delivery was already processed to completion (or, in inbox mode, is stored).
    Duplicate,
    /// A Foody `hook_test` handshake, authenticated and acknowledged by hookbr itself.
    Handshake,
}

impl Ack {
    /// The category code used in the response body and as a metrics label.
    #[must_use]
    pub fn category(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
            Self::Handshake => "handshake",
        }
    }
}

/// What the pipeline answers instead of handing the delivery to the application: an
/// acknowledgement or a refusal, each with its status from the one table (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The provider is told the delivery succeeded (exactly `200`).
    Ack(Ack),
    /// The delivery is refused.
    Refused(Rejection),
}

impl Answer {
    /// The HTTP status code to answer with.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Ack(_) => 200,
            Self::Refused(rejection) => rejection.status(),
        }
    }

    /// Whether the provider is told the delivery succeeded.
    #[must_use]
    pub fn is_acknowledgement(&self) -> bool {
        matches!(self, Self::Ack(_))
    }

    /// The acknowledgement, if it is one.
    #[must_use]
    pub fn ack(&self) -> Option<Ack> {
        match self {
            Self::Ack(ack) => Some(*ack),
            Self::Refused(_) => None,
        }
    }

    /// The refusal, if it is one.
    #[must_use]
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Ack(_) => None,
            Self::Refused(rejection) => Some(rejection),
        }
    }

    /// The refusal's reason, if it is one.
    #[must_use]
    pub fn kind(&self) -> Option<&RejectionKind> {
        self.rejection().map(Rejection::kind)
    }

    /// The category code used in the response body and as a metrics label (`duplicate`,
    /// `unauthorized`, ...).
    #[must_use]
    pub fn category(&self) -> &'static str {
        match self {
            Self::Ack(ack) => ack.category(),
            Self::Refused(rejection) => rejection.category(),
        }
    }

    /// The precise reason code for logs and metrics (see [`Rejection::reason`]); the category
    /// for an acknowledgement.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Ack(ack) => ack.category(),
            Self::Refused(rejection) => rejection.reason(),
        }
    }

    /// The response body: `{"status":<code>,"error":"<category>"}` (the same shape for
    /// acknowledgements, whose "error" names what happened).
    #[must_use]
    pub fn body_text(&self) -> String {
        body_text(self.status(), self.category())
    }

    /// What adapters put in the response extensions: the request's [`Outcome`], and the
    /// [`Rejection`] of a refusal.
    #[must_use]
    pub fn into_extensions(self) -> (Outcome, Option<Rejection>) {
        let outcome = Outcome::from(&self);
        match self {
            Self::Ack(_) => (outcome, None),
            Self::Refused(rejection) => (outcome, Some(rejection)),
        }
    }

    /// Extra response headers: `Hookbr-Duplicate: true` for duplicates, `Allow` for 405.
    #[must_use]
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Ack(Ack::Duplicate) => vec![(DUPLICATE_HEADER, "true".to_owned())],
            Self::Ack(_) => Vec::new(),
            Self::Refused(rejection) => rejection.headers(),
        }
    }
}

impl From<Ack> for Answer {
    fn from(ack: Ack) -> Self {
        Self::Ack(ack)
    }
}

impl<T: Into<Rejection>> From<T> for Answer {
    fn from(rejection: T) -> Self {
        Self::Refused(rejection.into())
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ack(ack) => f.write_str(ack.category()),
            Self::Refused(rejection) => rejection.fmt(f),
        }
    }
}

/// What happened to one request: the one taxonomy of tracing (`outcome` field of the
/// `delivery` span), metrics and the inspector. Adapters put it in the response extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The application's handler ran and succeeded (direct mode).
    Processed,
    /// Acknowledged without the handler: see [`Ack`].
    Acknowledged(Ack),
    /// Refused before the handler.
    Rejected {
        /// [`Rejection::category`].
        category: &'static str,
        /// [`Rejection::reason`].
        reason: &'static str,
    },
    /// The handler failed, returned an error or panicked; the claim was released.
    HandlerFailed,
}

impl Outcome {
    /// The label: `processed`, `stored`, `duplicate`, `handshake`, `rejected` or
    /// `handler_failed`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Acknowledged(ack) => ack.category(),
            Self::Rejected { .. } => "rejected",
            Self::HandlerFailed => "handler_failed",
        }
    }

    /// The precise reason of a refusal (`invalid_secret`, `not_json`, ...).
    #[must_use]
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Self::Rejected { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The outcome of a response: the one in its extensions (every answer of the pipeline
    /// carries one), else the handler's — [`Processed`](Self::Processed) for a 2xx,
    /// [`HandlerFailed`](Self::HandlerFailed) otherwise, as [`Pending::finish`](crate::Pending::finish)
    /// settled it. Adapters leave the handler's responses as they are (no allocation per
    /// delivery for an answer the status already tells).
    #[must_use]
    pub fn of_response(status: u16, extension: Option<&Outcome>) -> Self {
        match extension {
            Some(outcome) => *outcome,
            None if (200..300).contains(&status) => Self::Processed,
            None => Self::HandlerFailed,
        }
    }

    /// Whether the delivery was taken: processed or acknowledged.
    #[must_use]
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Processed | Self::Acknowledged(_))
    }
}

impl From<&Rejection> for Outcome {
    fn from(rejection: &Rejection) -> Self {
        match rejection.kind() {
            RejectionKind::HandlerFailed => Self::HandlerFailed,
            _ => Self::Rejected {
                category: rejection.category(),
                reason: rejection.reason(),
            },
        }
    }
}

impl From<&Answer> for Outcome {
    fn from(answer: &Answer) -> Self {
        match answer {
            Answer::Ack(ack) => Self::Acknowledged(*ack),
            Answer::Refused(rejection) => rejection.into(),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<(RejectionKind, u16)> {
        vec![
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
            (
                RejectionKind::MalformedBody(ParseError::TooManyFields { limit: 1000 }),
                413,
            ),
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
            (RejectionKind::SignatureReused, 401),
        ]
    }

    #[test]
    fn status_table() {
        for (kind, status) in every_kind() {
            let rejection = Rejection::from(kind.clone());
            assert_eq!(rejection.status(), status, "{kind:?}");
            let answer = Answer::from(rejection.clone());
            assert_eq!(answer.status(), status);
            assert!(!answer.is_acknowledgement());
            assert_eq!(answer.body_text(), rejection.body_text());
            let body: serde_json::Value = serde_json::from_str(&rejection.body_text()).unwrap();
            assert_eq!(body["status"], status);
            assert_eq!(body["error"], rejection.category());
        }
        for (ack, category) in [
            (Ack::Duplicate, "duplicate"),
            (Ack::Handshake, "handshake"),
            (Ack::Stored, "stored"),
        ] {
            let answer = Answer::from(ack);
            assert_eq!((answer.status(), answer.category()), (200, category));
            assert!(answer.is_acknowledgement());
            assert_eq!(Outcome::from(&answer).as_str(), category);
            let body: serde_json::Value = serde_json::from_str(&answer.body_text()).unwrap();
            assert_eq!(body["status"], 200);
        }
    }

    #[test]
    fn one_outcome_per_answer() {
        let refused = Answer::from(VerifyError::InvalidSignature);
        let outcome = Outcome::from(&refused);
        assert_eq!(
            (outcome.as_str(), outcome.reason()),
            ("rejected", Some("invalid_signature"))
        );
        assert!(!outcome.is_accepted());
        let failed = Outcome::from(&Rejection::from(RejectionKind::HandlerFailed));
        assert_eq!(failed, Outcome::HandlerFailed);
        assert_eq!(failed.as_str(), "handler_failed");
        assert!(Outcome::Processed.is_accepted());
    }

    #[test]
    fn duplicate_and_405_headers() {
        let duplicate = Answer::from(Ack::Duplicate);
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
        let reused = Rejection::from(RejectionKind::SignatureReused);
        assert_eq!(reused.body_text(), rejection.body_text());
        assert_eq!(
            (reused.category(), reused.reason()),
            ("unauthorized", "signature_reused")
        );
    }
}
