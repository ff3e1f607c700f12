use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use hookbr_core::Rejection;
use hookbr_tower::{DefaultRejectionResponse, RejectionResponse};

/// A [`Rejection`] as an axum response: its status, its headers (`Hookbr-Duplicate`, `Allow`)
/// and the small JSON body of hookbr-core, with the rejection in the response extensions.
#[derive(Debug, Clone)]
pub struct Rejected(pub Rejection);

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        let mut response: Response<Body> = DefaultRejectionResponse.rejection_response(&self.0);
        response.extensions_mut().insert(self.0);
        response
    }
}

impl From<Rejection> for Rejected {
    fn from(rejection: Rejection) -> Self {
        Self(rejection)
    }
}
