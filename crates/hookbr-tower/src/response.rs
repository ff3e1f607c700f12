use bytes::Bytes;
use hookbr_core::{Answer, Rejection};
use http::{HeaderName, HeaderValue, Response, StatusCode, header::CONTENT_TYPE};

const DUPLICATE: HeaderName = HeaderName::from_static("hookbr-duplicate");
const TRUE: HeaderValue = HeaderValue::from_static("true");

/// How an [`Answer`] of the pipeline (an acknowledgement or a refusal) becomes a response.
/// Implemented by [`DefaultAnswerResponse`] and by closures `Fn(&Answer) -> Response<B>`.
///
/// Whatever the strategy, the layer inserts the request's
/// [`Outcome`](hookbr_core::Outcome) into the response extensions, and the [`Rejection`] for a
/// refusal.
pub trait AnswerResponse<B> {
    /// The response for `answer`.
    fn answer_response(&self, answer: &Answer) -> Response<B>;
}

impl<B, F> AnswerResponse<B> for F
where
    F: Fn(&Answer) -> Response<B>,
{
    fn answer_response(&self, answer: &Answer) -> Response<B> {
        self(answer)
    }
}

/// The default answer: the status of hookbr-core's table, the extra headers
/// (`Hookbr-Duplicate`, `Allow`), and an `application/json` body
/// `{"status":…,"error":"<category>"}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultAnswerResponse;

impl<B: From<Bytes>> AnswerResponse<B> for DefaultAnswerResponse {
    fn answer_response(&self, answer: &Answer) -> Response<B> {
        let mut response = Response::new(B::from(Bytes::from(answer.body_text())));
        *response.status_mut() =
            StatusCode::from_u16(answer.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(Rejection::CONTENT_TYPE),
        );
        for (name, value) in answer.headers() {
            if name.eq_ignore_ascii_case(DUPLICATE.as_str()) && value == "true" {
                // Every duplicate carries `Hookbr-Duplicate: true`: a ready-made name and value
                // instead of parsing (and copying) both on each answer.
                headers.insert(DUPLICATE, TRUE);
            } else if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// The pipeline's own [`Answer`] as a response built by `strategy`, with the request's
/// [`Outcome`](hookbr_core::Outcome) (and a refusal's [`Rejection`]) in its extensions, as
/// the layer sends it.
pub fn respond<B, R: AnswerResponse<B>>(strategy: &R, answer: Answer) -> Response<B> {
    let mut response = strategy.answer_response(&answer);
    let (outcome, rejection) = answer.into_extensions();
    response.extensions_mut().insert(outcome);
    if let Some(rejection) = rejection {
        response.extensions_mut().insert(rejection);
    }
    response
}
