//! The providers' routes: one per `[[endpoint]]`, each its own [`Receiver`] (with the
//! endpoint's [`RouteOptions`]) behind hookbr-axum's `WebhookLayer`, wrapped in the metrics
//! middleware.

use std::sync::Arc;

use axum::{Router, http::StatusCode, routing::any};
use hookbr_axum::{Webhook, WebhookLayer};
use hookbr_core::{IdempotencyStore, Inbox, Receiver, RouteOptions, Webhooks};

use crate::{
    Error,
    config::EndpointConfig,
    dispatch::Dispatcher,
    observe::{self, Observer},
};

/// Where the receivers claim deliveries: the inbox (inbox mode) or a dedup store (direct
/// mode).
#[derive(Debug, Clone)]
pub(crate) enum Claims {
    /// Inbox mode: the durable insert is the claim; the worker runs the sinks.
    Inbox(Arc<dyn Inbox>),
    /// Direct mode: the sinks run in the request.
    Store(Arc<dyn IdempotencyStore>),
}

/// What every route shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub(crate) claims: Claims,
    pub(crate) forward_handshakes: bool,
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) observer: Arc<Observer>,
}

/// The router of every endpoint: core's [`Webhooks`] builds the receivers (the same route set
/// the axum and actix adapters mount), each mounted here behind the metrics middleware.
pub(crate) fn router(endpoints: Vec<EndpointConfig>, shared: &Shared) -> Result<Router, Error> {
    let webhooks = Webhooks::new().forward_handshakes(shared.forward_handshakes);
    let webhooks = match &shared.claims {
        Claims::Inbox(inbox) => webhooks.inbox(inbox.clone()),
        Claims::Store(store) => webhooks.store(store.clone()),
    };
    let receivers = endpoints
        .into_iter()
        .fold(webhooks, |webhooks, endpoint| {
            let path = route_path(&endpoint);
            let mut options = RouteOptions::new()
                .body_limit(endpoint.body_limit)
                .strict(endpoint.strict);
            if let Some(methods) = endpoint.methods {
                options = options.methods(methods);
            }
            webhooks.route_with(path, endpoint.endpoint, endpoint.verifier, options)
        })
        .build()
        .map_err(|error| Error::config(error.to_string()))?;
    Ok(receivers
        .into_iter()
        .fold(Router::new(), |app, (path, receiver)| {
            mount(app, &path, receiver, shared)
        }))
}

/// The route's path: iSET with the secret as the last path segment captures it (and the
/// inspector shows the route template, never the secret).
fn route_path(endpoint: &EndpointConfig) -> String {
    if endpoint.secret_segment {
        format!("{}/{{secret}}", endpoint.path.trim_end_matches('/'))
    } else {
        endpoint.path.clone()
    }
}

fn mount(app: Router, path: &str, receiver: Arc<Receiver>, shared: &Shared) -> Router {
    let endpoint = receiver.endpoint();
    let name: Arc<str> = endpoint.to_text().into();
    let observed = observe::Route {
        observer: shared.observer.clone(),
        endpoint: name.clone(),
        provider: endpoint.provider().as_str(),
    };
    let dispatcher = shared.dispatcher.clone();
    // In inbox mode the layer answers every delivery itself (stored, duplicate or refused);
    // this handler runs only in direct mode.
    let direct = move |Webhook(verified): Webhook| {
        let dispatcher = dispatcher.clone();
        let name = name.clone();
        async move {
            match dispatcher.direct(&name, &verified).await {
                Ok(()) => StatusCode::OK,
                // The status table's "handler failed": the layer releases the claim, so the
                // provider's retry is processed (503 would claim the store is unavailable).
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
            }
        }
    };
    app.route(
        path,
        any(direct)
            .layer(WebhookLayer::from_shared(receiver))
            .layer(axum::middleware::from_fn_with_state(
                observed,
                observe::record,
            )),
    )
}
