use actix_web::{
    HttpResponse, ResponseError,
    http::{
        StatusCode,
        header::{CONTENT_TYPE, HeaderName, HeaderValue},
    },
};
use hookbr_core::Rejection;

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
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            CONTENT_TYPE,
            HeaderValue::from_static(Rejection::CONTENT_TYPE),
        ));
        for (name, value) in self.0.headers() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                response.insert_header((name, value));
            }
        }
        let mut response = response.body(self.0.body_text());
        response.extensions_mut().insert(self.0.clone());
        response
    }
}

impl From<Rejection> for Rejected {
    fn from(rejection: Rejection) -> Self {
        Self(rejection)
    }
}
