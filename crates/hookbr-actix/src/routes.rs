use actix_web::{FromRequest, Handler, Responder, web};
use hookbr_core::{ConfigError, Webhooks};

use crate::WebhookMiddleware;

/// Mounts [`Webhooks`] on an actix-web `App`, each route wrapped in its own
/// [`WebhookMiddleware`]; the receivers (and their shared store) are built once and shared by
/// every worker.
///
/// Routes accept every method at the actix level so that hookbr answers a wrong one with its
/// own `405`.
pub trait IntoServiceConfig {
    /// Builds the receivers once and returns a function for `App::configure` (clone it into
    /// each worker's app factory), every route served by `handler`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a route's settings are invalid (a zero body limit, a path mounted
    /// twice or not starting with `/`).
    fn configure<F, Args>(
        self,
        handler: F,
    ) -> Result<impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static, ConfigError>
    where
        F: Handler<Args> + Clone + Send + 'static,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static;
}

impl IntoServiceConfig for Webhooks {
    fn configure<F, Args>(
        self,
        handler: F,
    ) -> Result<impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static, ConfigError>
    where
        F: Handler<Args> + Clone + Send + 'static,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let routes = self.build()?;
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
