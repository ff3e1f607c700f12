use actix_web::{
    HttpResponse, ResponseError,
    http::{
        StatusCode,
        header::{CONTENT_TYPE, HeaderName, HeaderValue},
    },
};
use hookbr_core::{Answer, Rejection};

/// A [`Rejection`] as an actix-web error: its status, its headers (`Hookbr-Duplicate`, `Allow`)
/// and hookbr-core's small JSON body.
#[derive(Debug, Clone)]
pub struct Rejected(pub Rejection);

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for Rejected {
    fn status_code(&self) -> StatusCode {
        // actix-web uses `http` 0.2: convert through the number.
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        answer_response(Answer::Refused(self.0.clone()))
    }
}

/// The pipeline's own [`Answer`] as a response: its status, its headers
/// (`Hookbr-Duplicate`, `Allow`) and hookbr-core's small JSON body, with the request's
/// [`Outcome`](hookbr_core::Outcome) (and a refusal's [`Rejection`]) in the response extensions for outer logging
/// and metrics middleware.
pub(crate) fn answer_response(answer: Answer) -> HttpResponse {
    // actix-web uses `http` 0.2: convert through the number.
    let status = StatusCode::from_u16(answer.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.insert_header((
        CONTENT_TYPE,
        HeaderValue::from_static(Rejection::CONTENT_TYPE),
    ));
    for (name, value) in answer.headers() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.insert_header((name, value));
        }
    }
    let mut response = response.body(answer.body_text());
    let (outcome, rejection) = answer.into_extensions();
    response.extensions_mut().insert(outcome);
    if let Some(rejection) = rejection {
        response.extensions_mut().insert(rejection);
    }
    response
}

impl From<Rejection> for Rejected {
    fn from(rejection: Rejection) -> Self {
        Self(rejection)
    }
}
