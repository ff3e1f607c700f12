use std::{fmt, sync::Arc};

use actix_web::{FromRequest, Handler, Responder, web};
use hookbr_core::{
    ConfigError, Endpoint, IdempotencyStore, MemoryStore, Receiver, iset::IsetKind,
    verify::AnyVerifier,
};

use crate::WebhookMiddleware;

/// Mounts provider endpoints on an actix-web `App`, each wrapped in its own
/// [`WebhookMiddleware`]. All routes share one idempotency store (in memory by default) across
/// every worker.
///
/// Routes accept every method at the actix level so that hookbr answers a wrong one with its
/// own `405`.
#[must_use]
pub struct Webhooks {
    routes: Vec<(String, Endpoint, AnyVerifier)>,
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
                    .map(|(path, endpoint, _)| (path, endpoint))
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
        self.routes.push((path.into(), endpoint, verifier.into()));
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

    /// iSET notifications of `kind` at `path`.
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

    /// Builds the receivers once and returns a function for `App::configure` (clone it into
    /// each worker's app factory), every route served by `handler`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a route's settings are invalid (a zero body limit, a path mounted
    /// twice or not starting with `/`).
    pub fn configure<F, Args>(
        self,
        handler: F,
    ) -> Result<impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static, ConfigError>
    where
        F: Handler<Args> + Clone + Send + 'static,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        hookbr_core::check_route_paths(self.routes.iter().map(|(path, _, _)| path.as_str()))?;
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let mut routes = Vec::with_capacity(self.routes.len());
        for (path, endpoint, verifier) in self.routes {
            let mut builder = Receiver::builder(endpoint, verifier)
                .store(store.clone())
                .strict(self.strict)
                .forward_handshakes(self.forward_handshakes);
            if let Some(limit) = self.body_limit {
                builder = builder.body_limit(limit);
            }
            routes.push((path, Arc::new(builder.build()?)));
        }
        Ok(move |config: &mut web::ServiceConfig| {
            for (path, receiver) in &routes {
                config.service(
                    web::resource(path.as_str())
                        .wrap(WebhookMiddleware::from_shared(receiver.clone()))
                        .route(web::route().to(handler.clone())),
                );
            }
        })
    }
}
