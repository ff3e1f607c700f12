use bytes::Bytes;
use hookbr_core::Rejection;
use http::{HeaderName, HeaderValue, Response, StatusCode, header::CONTENT_TYPE};

const DUPLICATE: HeaderName = HeaderName::from_static("hookbr-duplicate");
const TRUE: HeaderValue = HeaderValue::from_static("true");

/// How a [`Rejection`] becomes a response. Implemented by [`DefaultRejectionResponse`] and by
/// closures `Fn(&Rejection) -> Response<B>`.
///
/// Whatever the strategy, the layer inserts the [`Rejection`] into the response extensions.
pub trait RejectionResponse<B> {
    /// The response for `rejection`.
    fn rejection_response(&self, rejection: &Rejection) -> Response<B>;
}

impl<B, F> RejectionResponse<B> for F
where
    F: Fn(&Rejection) -> Response<B>,
{
    fn rejection_response(&self, rejection: &Rejection) -> Response<B> {
        self(rejection)
    }
}

/// The default answer: the rejection's status, its extra headers (`Hookbr-Duplicate`, `Allow`),
/// and `application/json` body `{"status":…,"error":"<category>"}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRejectionResponse;

impl<B: From<Bytes>> RejectionResponse<B> for DefaultRejectionResponse {
    fn rejection_response(&self, rejection: &Rejection) -> Response<B> {
        let mut response = Response::new(B::from(Bytes::from(rejection.body_text())));
        *response.status_mut() =
            StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(Rejection::CONTENT_TYPE),
        );
        for (name, value) in rejection.headers() {
            // Every duplicate carries `Hookbr-Duplicate: true`: a ready-made name and value
            // instead of parsing (and copying) both on each answer.
            if name.eq_ignore_ascii_case(DUPLICATE.as_str()) && value == "true" {
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
