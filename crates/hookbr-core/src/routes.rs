//! [`Webhooks`]: the set of webhook routes an application mounts, shared by the framework
//! adapters.

use std::{fmt, sync::Arc};

#[cfg(feature = "iset")]
use crate::iset::IsetKind;
use crate::{
    ConfigError, Endpoint, IdempotencyStore, Inbox, MemoryStore, Receiver, verify::AnyVerifier,
};

struct Route {
    path: String,
    endpoint: Endpoint,
    verifier: AnyVerifier,
}

/// The webhook routes of an application: a path per provider endpoint with its verifier, and
/// the settings every route shares (idempotency store or inbox, body limit, strict decoding,
/// handshakes). All routes share one idempotency store (an in-memory one by default).
///
/// Framework adapters mount it: `hookbr_axum::IntoRouter::into_router` and
/// `hookbr_actix::IntoServiceConfig::configure`.
///
/// ```
/// use hookbr_core::{Secret, Webhooks, verify::HeaderSecretVerifier};
///
/// let receivers = Webhooks::new()
///     .bonifiq("/webhooks/bonifiq", HeaderSecretVerifier::bonifiq([Secret::new("s3cr3t")?])?)
///     .build()?;
/// assert_eq!(receivers[0].0, "/webhooks/bonifiq");
/// # Ok::<(), hookbr_core::ConfigError>(())
/// ```
#[must_use]
pub struct Webhooks {
    routes: Vec<Route>,
    store: Option<Arc<dyn IdempotencyStore>>,
    inbox: Option<Arc<dyn Inbox>>,
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
            inbox: None,
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
    #[cfg(feature = "bonifiq")]
    pub fn bonifiq(self, path: impl Into<String>, verifier: impl Into<AnyVerifier>) -> Self {
        self.route(path, Endpoint::Bonifiq, verifier)
    }

    /// Foody Delivery at `path`.
    #[cfg(feature = "foody")]
    pub fn foody(self, path: impl Into<String>, verifier: impl Into<AnyVerifier>) -> Self {
        self.route(path, Endpoint::Foody, verifier)
    }

    /// iSET notifications of `kind` at `path` (register one URL per kind in iSET's panel).
    #[cfg(feature = "iset")]
    pub fn iset(
        self,
        path: impl Into<String>,
        kind: IsetKind,
        verifier: impl Into<AnyVerifier>,
    ) -> Self {
        self.route(path, Endpoint::Iset(kind), verifier)
    }

    /// Grafeno at `path`.
    #[cfg(feature = "grafeno")]
    pub fn grafeno(self, path: impl Into<String>, verifier: impl Into<AnyVerifier>) -> Self {
        self.route(path, Endpoint::Grafeno, verifier)
    }

    /// The idempotency store shared by every route (default: one in-memory store).
    pub fn store(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Inbox mode for every route: verified deliveries are committed to `inbox` and answered
    /// `200`; the handler is not called (run a `hookbr_store::worker::Worker` instead).
    pub fn inbox(mut self, inbox: Arc<dyn Inbox>) -> Self {
        self.inbox = Some(inbox);
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

    /// Builds one receiver per route, all sharing the store (or inbox).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a route's settings are invalid (a zero body limit, a path mounted
    /// twice or not starting with `/`).
    pub fn build(self) -> Result<Vec<(String, Arc<Receiver>)>, ConfigError> {
        check_route_paths(self.routes.iter().map(|route| route.path.as_str()))?;
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let mut receivers = Vec::with_capacity(self.routes.len());
        for route in self.routes {
            let mut builder = Receiver::builder(route.endpoint, route.verifier)
                .store(store.clone())
                .strict(self.strict)
                .forward_handshakes(self.forward_handshakes);
            if let Some(limit) = self.body_limit {
                builder = builder.body_limit(limit);
            }
            if let Some(inbox) = &self.inbox {
                builder = builder.inbox(inbox.clone());
            }
            receivers.push((route.path, Arc::new(builder.build()?)));
        }
        Ok(receivers)
    }
}

/// Checks route paths before a framework router sees them (axum panics on a duplicate or a path
/// without a leading `/`; hookbr reports a [`ConfigError`] instead).
fn check_route_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for path in paths {
        let reason = if !path.starts_with('/') {
            "must start with '/'"
        } else if !seen.insert(path) {
            "mounted twice"
        } else {
            continue;
        };
        return Err(ConfigError::InvalidRoute {
            path: path.to_owned(),
            reason,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Secret, verify::HeaderSecretVerifier};

    #[test]
    fn bad_paths_are_config_errors() {
        let verifier = || HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
        let twice = Webhooks::new()
            .bonifiq("/a", verifier())
            .bonifiq("/a", verifier())
            .build();
        assert!(matches!(twice, Err(ConfigError::InvalidRoute { .. })));
        let relative = Webhooks::new().bonifiq("a", verifier()).build();
        assert!(matches!(relative, Err(ConfigError::InvalidRoute { .. })));
        let zero = Webhooks::new()
            .bonifiq("/a", verifier())
            .body_limit(0)
            .build();
        assert!(matches!(zero, Err(ConfigError::ZeroBodyLimit)));
        let shared = Webhooks::new()
            .bonifiq("/a", verifier())
            .bonifiq("/b", verifier())
            .build()
            .unwrap();
        assert_eq!(shared.len(), 2);
    }
}
