use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, dev::Payload};
use hookbr_core::{FromWebhookEvent, Verified, WebhookEvent};

/// The verified event of the current delivery, put in the request extensions by
/// [`WebhookMiddleware`](crate::WebhookMiddleware). `Webhook` accepts every provider;
/// `Webhook<BonifiqEvent>` (or `FoodyEvent`, `IsetEvent`, `GrafenoEvent`) only that provider.
/// The event is moved out of the request extensions, so take it once per handler.
#[derive(Debug, Clone)]
pub struct Webhook<E = WebhookEvent>(pub Verified<E>);

impl<E> std::ops::Deref for Webhook<E> {
    type Target = Verified<E>;

    fn deref(&self) -> &Verified<E> {
        &self.0
    }
}

/// The [`Webhook`] extractor found no verified event of the requested type (the route is not
/// wrapped in [`WebhookMiddleware`](crate::WebhookMiddleware), or serves another provider).
/// A programming error, answered `500`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingWebhook {
    wrong_provider: bool,
}

impl std::fmt::Display for MissingWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.wrong_provider {
            "hookbr: the verified webhook belongs to another provider than the handler expects"
        } else {
            "hookbr: no verified webhook in the request: is the route wrapped in WebhookMiddleware?"
        })
    }
}

impl ResponseError for MissingWebhook {
    fn error_response(&self) -> HttpResponse {
        HttpResponse::InternalServerError().body(self.to_string())
    }
}

impl<E: FromWebhookEvent> FromRequest for Webhook<E> {
    type Error = MissingWebhook;
    type Future = Ready<Result<Self, MissingWebhook>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        // Moved out, not cloned: the event is the handler's from here on.
        let verified = request.extensions_mut().remove::<Verified>();
        ready(match verified {
            None => Err(MissingWebhook {
                wrong_provider: false,
            }),
            Some(verified) => verified
                .try_map(E::from_webhook_event)
                .map(Webhook)
                .map_err(|_| MissingWebhook {
                    wrong_provider: true,
                }),
        })
    }
}
