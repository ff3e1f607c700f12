use axum::{
    extract::FromRequestParts,
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use hookbr_core::{FromWebhookEvent, Verified, WebhookEvent};

/// The verified event of the current delivery. See the [crate docs](crate).
///
/// `Webhook` (that is, `Webhook<WebhookEvent>`) accepts every provider; `Webhook<BonifiqEvent>`
/// (or `FoodyEvent`, `IsetEvent`, `GrafenoEvent`) only that provider's deliveries.
///
/// The event is moved out of the request extensions, so take it once per handler.
#[derive(Debug, Clone)]
pub struct Webhook<E = WebhookEvent>(pub Verified<E>);

impl<E> std::ops::Deref for Webhook<E> {
    type Target = Verified<E>;

    fn deref(&self) -> &Verified<E> {
        &self.0
    }
}

/// The [`Webhook`] extractor found no verified event of the requested type: the route is not
/// behind a [`WebhookLayer`](hookbr_tower::WebhookLayer), or the layer serves another provider.
/// A programming error, answered `500`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingWebhook {
    wrong_provider: bool,
}

impl MissingWebhook {
    /// The message sent in the response body.
    #[must_use]
    pub fn body_text(&self) -> &'static str {
        if self.wrong_provider {
            "hookbr: the verified webhook belongs to another provider than the handler expects"
        } else {
            "hookbr: no verified webhook in the request: is the route behind WebhookLayer?"
        }
    }
}

impl IntoResponse for MissingWebhook {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.body_text()).into_response()
    }
}

impl<S, E> FromRequestParts<S> for Webhook<E>
where
    S: Send + Sync,
    E: FromWebhookEvent + Send,
{
    type Rejection = MissingWebhook;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Moved out, not cloned: the event is the handler's from here on.
        let verified = parts
            .extensions
            .remove::<Verified>()
            .ok_or(MissingWebhook {
                wrong_provider: false,
            })?;
        verified
            .try_map(E::from_webhook_event)
            .map(Webhook)
            .map_err(|_| MissingWebhook {
                wrong_provider: true,
            })
    }
}
