//! The providers' routes: one per `[[endpoint]]`, each its own [`Receiver`] (with the
//! endpoint's [`RouteOptions`]) behind hookbr-axum's `WebhookLayer`, wrapped in the metrics
//! middleware.

use std::sync::Arc;

use axum::{Router, http::StatusCode, response::IntoResponse as _, routing::any};
use hookbr_axum::{Webhook, WebhookLayer};
use hookbr_core::{
    IdempotencyStore, Inbox, Receiver, RouteOptions, Webhooks, ledger::SignatureLedger,
};

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
    /// Grafeno's signature ledger where the claims keep none (direct mode without Redis).
    pub(crate) ledger: Option<Arc<dyn SignatureLedger>>,
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
    let webhooks = match &shared.ledger {
        Some(ledger) => webhooks.signature_ledger(ledger.clone()),
        None => webhooks,
    };
    let receivers = endpoints
        .into_iter()
        .fold(webhooks, |webhooks, endpoint| {
            // Checked at configuration time: no two endpoints share or overlap a route, and
            // every path is literal, so mounting cannot panic.
            let path = endpoint.route_path();
            let mut options = RouteOptions::new()
                .body_limit(endpoint.body_limit)
                .strict(endpoint.strict);
            if let Some(methods) = endpoint.methods {
                options = options.methods(methods);
            }
            if let Some(namespace) = endpoint.dedup_namespace {
                options = options.dedup_namespace(namespace);
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

fn mount(app: Router, path: &str, receiver: Arc<Receiver>, shared: &Shared) -> Router {
    let endpoint = receiver.endpoint();
    let name: Arc<str> = endpoint.to_text().into();
    let observed = observe::Route::new(
        shared.observer.clone(),
        &name,
        path,
        endpoint.provider().as_str(),
    );
    let dispatcher = shared.dispatcher.clone();
    // In inbox mode the layer answers every delivery itself (stored, duplicate or refused);
    // this handler runs only in direct mode.
    let direct = move |Webhook(verified): Webhook, body: axum::body::Bytes| {
        let dispatcher = dispatcher.clone();
        let name = name.clone();
        async move {
            match dispatcher.direct(&name, &verified, &body).await {
                Ok(note) => {
                    let mut response = StatusCode::OK.into_response();
                    if let Some(note) = note {
                        response.extensions_mut().insert(observe::Note(note));
                    }
                    response
                }
                // The status table's "handler failed": the layer releases the claim, so the
                // provider's retry is processed (503 would claim the store is unavailable).
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
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

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use hookbr_core::MemoryStore;

    use super::*;
    use crate::{Config, sink::Sinks};

    fn shared() -> Shared {
        let observer = Observer::new();
        Shared {
            claims: Claims::Store(Arc::new(MemoryStore::new())),
            ledger: None,
            forward_handshakes: false,
            dispatcher: Arc::new(Dispatcher::new(
                Sinks::new(&[], Vec::new(), None).unwrap(),
                observer.clone(),
                false,
            )),
            observer,
        }
    }

    /// xorshift64: a fixed sequence, so a failure is reproducible.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn pick<'a>(state: &mut u64, items: &[&'a str]) -> &'a str {
        let len = u64::try_from(items.len()).unwrap();
        items[usize::try_from(next(state) % len).unwrap()]
    }

    /// Configurations of two to four endpoints with paths built from the pieces the router and
    /// the normalisation treat specially: whatever `Config::parse` accepts mounts without a
    /// panic (axum panics on a duplicate, overlapping or non-literal route).
    #[test]
    fn no_accepted_configuration_panics_the_router() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s"), "s3cret").unwrap();
        // Mostly pieces of valid paths (so that many configurations pass and collide), now and
        // then one the check must refuse.
        let pieces = [
            "/", "/", "/", "/", "//", "h", "h", "x", "x", "a/", "%2F", ".", "..", "-", "/h", "/x",
            "{", "}", "{secret}", "*", ":", "?", "#", " ", "é", "\u{1}",
        ];
        let shared = shared();
        let (mut state, mut accepted) = (0x9E37_79B9_7F4A_7C15_u64, 0);
        for _ in 0..1_500 {
            let mut text = String::new();
            let endpoints = 2 + next(&mut state) % 2;
            for _ in 0..endpoints {
                let mut path = String::from(if next(&mut state) % 10 == 0 { "" } else { "/" });
                for _ in 0..(next(&mut state) % 4) {
                    path.push_str(pick(&mut state, &pieces));
                }
                let path = crate::config::toml_string(&path);
                let _ = match next(&mut state) % 3 {
                    0 => write!(
                        text,
                        "[[endpoint]]\nprovider = \"bonifiq\"\npath = {path}\nsecrets = [\"file:s\"]\n"
                    ),
                    1 => write!(
                        text,
                        "[[endpoint]]\nprovider = \"iset\"\nkind = \"order_upserted\"\npath = {path}\n\
                         secret_in = \"path\"\nsecrets = [\"file:s\"]\n"
                    ),
                    _ => write!(
                        text,
                        "[[endpoint]]\nprovider = \"iset\"\nkind = \"order_deleted\"\npath = {path}\n\
                         secrets = [\"file:s\"]\n"
                    ),
                };
            }
            if let Ok(config) = Config::parse(&text, dir.path()) {
                accepted += 1;
                let mounted = router(config.endpoints, &shared);
                assert!(mounted.is_ok(), "{text}: {:?}", mounted.err());
            }
        }
        // The generator reaches both sides of the check.
        assert!(accepted > 50, "only {accepted} accepted");
    }
}
