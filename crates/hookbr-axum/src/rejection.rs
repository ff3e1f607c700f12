use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use hookbr_core::{Answer, Outcome, Rejection};
use hookbr_tower::{AnswerResponse, DefaultAnswerResponse};

/// A [`Rejection`] as an axum response: its status, its headers (`Hookbr-Duplicate`, `Allow`)
/// and the small JSON body of hookbr-core, with the rejection in the response extensions.
#[derive(Debug, Clone)]
pub struct Rejected(pub Rejection);

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        let answer = Answer::Refused(self.0);
        let mut response: Response<Body> = DefaultAnswerResponse.answer_response(&answer);
        response.extensions_mut().insert(Outcome::from(&answer));
        if let Answer::Refused(rejection) = answer {
            response.extensions_mut().insert(rejection);
        }
        response
    }
}

impl From<Rejection> for Rejected {
    fn from(rejection: Rejection) -> Self {
        Self(rejection)
    }
}
