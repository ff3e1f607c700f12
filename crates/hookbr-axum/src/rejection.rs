use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use hookbr_core::{Answer, Rejection};
use hookbr_tower::{DefaultAnswerResponse, respond};

/// A [`Rejection`] as an axum response: its status, its headers (`Hookbr-Duplicate`, `Allow`)
/// and the small JSON body of hookbr-core, with the rejection and its
/// [`Outcome`](hookbr_core::Outcome) in the response extensions.
#[derive(Debug, Clone)]
pub struct Rejected(pub Rejection);

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        respond::<Body, _>(&DefaultAnswerResponse, Answer::Refused(self.0))
    }
}

impl From<Rejection> for Rejected {
    fn from(rejection: Rejection) -> Self {
        Self(rejection)
    }
}
