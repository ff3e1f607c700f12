//! The providers' routes: one per `[[endpoint]]`, each its own [`Receiver`] behind
//! hookbr-axum's `WebhookLayer`, wrapped in the metrics middleware.

use std::sync::Arc;

use axum::{Router, http::StatusCode, routing::any};
use hookbr_axum::{Webhook, WebhookLayer};
use hookbr_core::{IdempotencyStore, Inbox, Receiver};

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

/// The router of every endpoint.
pub(crate) fn router(endpoints: Vec<EndpointConfig>, shared: &Shared) -> Result<Router, Error> {
    endpoints
        .into_iter()
        .try_fold(Router::new(), |app, endpoint| mount(app, endpoint, shared))
}

fn receiver(endpoint: EndpointConfig, shared: &Shared) -> Result<Receiver, Error> {
    let mut builder = Receiver::builder(endpoint.endpoint, endpoint.verifier)
        .body_limit(endpoint.body_limit)
        .strict(endpoint.strict)
        .forward_handshakes(shared.forward_handshakes);
    if let Some(methods) = endpoint.methods {
        builder = builder.methods(methods);
    }
    builder = match &shared.claims {
        Claims::Inbox(inbox) => builder.inbox(inbox.clone()),
        Claims::Store(store) => builder.store(store.clone()),
    };
    builder
        .build()
        .map_err(|error| Error::config(format!("{}: {error}", endpoint.path)))
}

fn mount(app: Router, endpoint: EndpointConfig, shared: &Shared) -> Result<Router, Error> {
    // iSET with the secret as the last path segment: the route captures it (and the inspector
    // shows the route template, never the secret).
    let path = if endpoint.secret_segment {
        format!("{}/{{secret}}", endpoint.path.trim_end_matches('/'))
    } else {
        endpoint.path.clone()
    };
    let name: Arc<str> = endpoint.endpoint.to_text().into();
    let observed = observe::Route {
        observer: shared.observer.clone(),
        endpoint: name.clone(),
        provider: endpoint.endpoint.provider().as_str(),
    };
    let layer = WebhookLayer::from_shared(Arc::new(receiver(endpoint, shared)?));
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
    Ok(app.route(
        &path,
        any(direct)
            .layer(layer)
            .layer(axum::middleware::from_fn_with_state(
                observed,
                observe::record,
            )),
    ))
}
