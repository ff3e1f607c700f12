use std::{fmt, sync::Arc};

use axum::{Router, handler::Handler, routing::any};
use hookbr_core::{
    ConfigError, Endpoint, IdempotencyStore, MemoryStore, Receiver, iset::IsetKind,
    verify::AnyVerifier,
};
use hookbr_tower::WebhookLayer;

struct Route {
    path: String,
    endpoint: Endpoint,
    verifier: AnyVerifier,
}

/// Mounts provider endpoints on an axum [`Router`], each behind its own
/// [`WebhookLayer`]. All routes share one idempotency store (an in-memory one by default).
///
/// Routes accept every method at the axum level so that hookbr answers a wrong one with its
/// own `405` (BonifiQ subscriptions may use `PUT`).
#[must_use]
pub struct Webhooks {
    routes: Vec<Route>,
    store: Option<Arc<dyn IdempotencyStore>>,
    body_limit: Option<usize>,
    strict: bool,
    forward_handshakes: bool,
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhooks")
            .field(
                "routes",
                &self
                    .routes
                    .iter()
                    .map(|route| (&route.path, route.endpoint))
                    .collect::<Vec<_>>(),
            )
            .field("body_limit", &self.body_limit)
            .field("strict", &self.strict)
            .finish_non_exhaustive()
    }
}

impl Default for Webhooks {
    fn default() -> Self {
        Self::new()
    }
}

impl Webhooks {
    /// No routes yet.
    pub fn new() -> Self {
        Self {
            routes: Vec::new(),
            store: None,
            body_limit: None,
            strict: false,
            forward_handshakes: false,
        }
    }

    /// Adds a route for `endpoint` at `path`, authenticated by `verifier`.
    pub fn route(
        mut self,
        path: impl Into<String>,
        endpoint: Endpoint,
        verifier: impl Into<AnyVerifier>,
    ) -> Self {
        self.routes.push(Route {
            path: path.into(),
            endpoint,
            verifier: verifier.into(),
        });
        self
    }

    /// BonifiQ at `path`.
    pub fn bonifiq(self, path: impl Into<String>, verifier: impl Into<AnyVerifier>) -> Self {
        self.route(path, Endpoint::Bonifiq, verifier)
    }

    /// Foody Delivery at `path`.
    pub fn foody(self, path: impl Into<String>, verifier: impl Into<AnyVerifier>) -> Self {
        self.route(path, Endpoint::Foody, verifier)
    }

    /// iSET notifications of `kind` at `path` (register one URL per kind in iSET's panel).
    pub fn iset(
        self,
        path: impl Into<String>,
        kind: IsetKind,
        verifier: impl Into<AnyVerifier>,
    ) -> Self {
        self.route(path, Endpoint::Iset(kind), verifier)
    }

    /// Grafeno at `path`.
    pub fn grafeno(self, path: impl Into<String>, verifier: impl Into<AnyVerifier>) -> Self {
        self.route(path, Endpoint::Grafeno, verifier)
    }

    /// The idempotency store shared by every route (default: one in-memory store).
    pub fn store(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The body limit of every route (default 1 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    /// Strict decoding on every route (`422` for drifted payloads; default off).
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Hand Foody `hook_test` to the handler instead of answering it in hookbr (default off).
    pub fn forward_handshakes(mut self, forward: bool) -> Self {
        self.forward_handshakes = forward;
        self
    }

    /// Builds the router, every route served by `handler`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a route's settings are invalid (a zero body limit, a path mounted
    /// twice or not starting with `/`).
    #[allow(
        clippy::needless_pass_by_value,
        reason = "axum takes handlers by value; each route gets a clone"
    )]
    pub fn into_router<H, T, S>(self, handler: H) -> Result<Router<S>, ConfigError>
    where
        H: Handler<T, S> + Clone,
        T: 'static,
        S: Clone + Send + Sync + 'static,
    {
        hookbr_core::check_route_paths(self.routes.iter().map(|route| route.path.as_str()))?;
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let mut router = Router::new();
        for route in self.routes {
            let mut builder = Receiver::builder(route.endpoint, route.verifier)
                .store(store.clone())
                .strict(self.strict)
                .forward_handshakes(self.forward_handshakes);
            if let Some(limit) = self.body_limit {
                builder = builder.body_limit(limit);
            }
            let layer = WebhookLayer::new(builder.build()?);
            router = router.route(&route.path, any(handler.clone()).layer(layer));
        }
        Ok(router)
    }
}

#[cfg(test)]
mod tests {
    use hookbr_core::{Secret, verify::HeaderSecretVerifier};

    use super::*;

    #[test]
    fn bad_paths_are_config_errors() {
        let verifier = || HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
        let handler = || async { "ok" };
        let twice = Webhooks::new()
            .bonifiq("/a", verifier())
            .bonifiq("/a", verifier())
            .into_router::<_, _, ()>(handler);
        assert!(matches!(twice, Err(ConfigError::InvalidRoute { .. })));
        let relative = Webhooks::new()
            .bonifiq("a", verifier())
            .into_router::<_, _, ()>(handler);
        assert!(matches!(relative, Err(ConfigError::InvalidRoute { .. })));
        let zero = Webhooks::new()
            .bonifiq("/a", verifier())
            .body_limit(0)
            .into_router::<_, _, ()>(handler);
        assert!(matches!(zero, Err(ConfigError::ZeroBodyLimit)));
    }
}
