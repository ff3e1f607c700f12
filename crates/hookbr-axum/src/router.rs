use axum::{Router, handler::Handler, routing::any};
use hookbr_core::{ConfigError, Webhooks};
use hookbr_tower::WebhookLayer;

/// Mounts [`Webhooks`] on an axum [`Router`], each route behind its own [`WebhookLayer`].
///
/// Routes accept every method at the axum level so that hookbr answers a wrong one with its
/// own `405` (BonifiQ subscriptions may use `PUT`).
pub trait IntoRouter {
    /// Builds the router, every route served by `handler`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a route's settings are invalid (a zero body limit, a path mounted
    /// twice or not starting with `/`).
    fn into_router<H, T, S>(self, handler: H) -> Result<Router<S>, ConfigError>
    where
        H: Handler<T, S> + Clone,
        T: 'static,
        S: Clone + Send + Sync + 'static;
}

impl IntoRouter for Webhooks {
    #[allow(
        clippy::needless_pass_by_value,
        reason = "axum takes handlers by value; each route gets a clone"
    )]
    fn into_router<H, T, S>(self, handler: H) -> Result<Router<S>, ConfigError>
    where
        H: Handler<T, S> + Clone,
        T: 'static,
        S: Clone + Send + Sync + 'static,
    {
        let mut router = Router::new();
        for (path, receiver) in self.build()? {
            let layer = WebhookLayer::from_shared(receiver);
            router = router.route(&path, any(handler.clone()).layer(layer));
        }
        Ok(router)
    }
}
