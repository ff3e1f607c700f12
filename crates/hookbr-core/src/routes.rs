//! [`Webhooks`]: the set of webhook routes an application mounts, shared by the framework
//! adapters.

use std::{fmt, sync::Arc};

#[cfg(feature = "iset")]
use crate::iset::IsetKind;
use crate::{
    ConfigError, Endpoint, IdempotencyStore, Inbox, MemoryStore, Receiver, ledger::SignatureLedger,
    verify::AnyVerifier,
};

struct Route {
    path: String,
    endpoint: Endpoint,
    verifier: AnyVerifier,
    options: RouteOptions,
}

/// Settings of one route that override the [`Webhooks`]-wide ones (every field `None` by
/// default: the shared setting, else the [`Receiver`] default).
///
/// ```
/// use hookbr_core::{Endpoint, RouteOptions, Secret, Webhooks, verify::BodyTokenVerifier};
///
/// let receivers = Webhooks::new()
///     .body_limit(1024 * 1024)
///     .route_with(
///         "/webhooks/foody",
///         Endpoint::Foody,
///         BodyTokenVerifier::foody([Secret::new("t0ken")?])?,
///         RouteOptions::new().body_limit(64 * 1024).strict(true),
///     )
///     .build()?;
/// assert_eq!(receivers[0].1.body_limit(), 64 * 1024);
/// # Ok::<(), hookbr_core::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct RouteOptions {
    body_limit: Option<usize>,
    strict: Option<bool>,
    methods: Option<Vec<String>>,
    exact_200: Option<bool>,
    forward_handshakes: Option<bool>,
    dedup_namespace: Option<String>,
}

impl RouteOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// This route's body limit in bytes ([`ReceiverBuilder::body_limit`](crate::ReceiverBuilder::body_limit);
    /// default: the endpoint's, [`Endpoint::default_body_limit`]: 1 MiB for BonifiQ and iSET,
    /// 64 KiB for Foody and Grafeno).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    /// Strict decoding on this route ([`ReceiverBuilder::strict`](crate::ReceiverBuilder::strict)).
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = Some(strict);
        self
    }

    /// The methods this route accepts ([`ReceiverBuilder::methods`](crate::ReceiverBuilder::methods)).
    pub fn methods<S: Into<String>>(mut self, methods: impl IntoIterator<Item = S>) -> Self {
        self.methods = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    /// Whether a 2xx of the handler is sent as exactly `200` ([`ReceiverBuilder::exact_200`](crate::ReceiverBuilder::exact_200)).
    pub fn exact_200(mut self, exact: bool) -> Self {
        self.exact_200 = Some(exact);
        self
    }

    /// Hand Foody `hook_test` to the handler ([`ReceiverBuilder::forward_handshakes`](crate::ReceiverBuilder::forward_handshakes)).
    pub fn forward_handshakes(mut self, forward: bool) -> Self {
        self.forward_handshakes = Some(forward);
        self
    }

    /// This route's deduplication namespace ([`ReceiverBuilder::dedup_namespace`](crate::ReceiverBuilder::dedup_namespace);
    /// default: the route's path). Routes that share a store only answer each other's
    /// deliveries as duplicates when they share a namespace: give two routes the same one to
    /// deduplicate across them on purpose (e.g. an old and a new URL registered for one
    /// BonifiQ subscription during a migration).
    pub fn dedup_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.dedup_namespace = Some(namespace.into());
        self
    }
}

/// The webhook routes of an application: a path per provider endpoint with its verifier and
/// its own [`RouteOptions`], and the settings every route shares (idempotency store or inbox,
/// body limit, strict decoding, handshakes, exact 200). All routes share one idempotency store
/// (an in-memory one by default), and each route deduplicates in its own namespace, its path:
/// two routes of one provider (two tenants) never answer each other's deliveries as
/// duplicates, unless given one namespace on purpose ([`RouteOptions::dedup_namespace`]).
///
/// Framework adapters mount it: `hookbr_axum::IntoRouter::into_router`,
/// `hookbr_actix::IntoServiceConfig::configure`, and `hookbr serve` from its configuration.
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
    ledger: Option<Arc<dyn SignatureLedger>>,
    shared: RouteOptions,
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
            .field("shared", &self.shared)
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
            ledger: None,
            shared: RouteOptions::new(),
        }
    }

    /// Adds a route for `endpoint` at `path`, authenticated by `verifier`.
    pub fn route(
        self,
        path: impl Into<String>,
        endpoint: Endpoint,
        verifier: impl Into<AnyVerifier>,
    ) -> Self {
        self.route_with(path, endpoint, verifier, RouteOptions::new())
    }

    /// Adds a route with its own settings (see [`RouteOptions`]).
    pub fn route_with(
        mut self,
        path: impl Into<String>,
        endpoint: Endpoint,
        verifier: impl Into<AnyVerifier>,
        options: RouteOptions,
    ) -> Self {
        self.routes.push(Route {
            path: path.into(),
            endpoint,
            verifier: verifier.into(),
            options,
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

    /// The signature ledger of every Grafeno route, used when the store (or inbox) keeps none
    /// (default: one in memory per route, lost on restart). See [`ledger`](crate::ledger).
    pub fn signature_ledger(mut self, ledger: Arc<dyn SignatureLedger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// The body limit of every route without its own (default: each endpoint's,
    /// [`Endpoint::default_body_limit`]: 1 MiB for BonifiQ and iSET, 64 KiB for Foody and
    /// Grafeno).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.shared = self.shared.body_limit(bytes);
        self
    }

    /// Strict decoding on every route without its own setting (`422` for drifted payloads;
    /// default off).
    pub fn strict(mut self, strict: bool) -> Self {
        self.shared = self.shared.strict(strict);
        self
    }

    /// Hand Foody `hook_test` to the handler instead of answering it in hookbr, on every route
    /// without its own setting (default off).
    pub fn forward_handshakes(mut self, forward: bool) -> Self {
        self.shared = self.shared.forward_handshakes(forward);
        self
    }

    /// Whether a 2xx of the handler is sent as exactly `200`, on every route without its own
    /// setting (default on: Foody treats 201 and 204 as failures).
    pub fn exact_200(mut self, exact: bool) -> Self {
        self.shared = self.shared.exact_200(exact);
        self
    }

    /// One deduplication namespace for every route without its own, instead of each route's
    /// path: every such route answers a delivery another one completed as a duplicate.
    pub fn dedup_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.shared = self.shared.dedup_namespace(namespace);
        self
    }

    /// Builds one receiver per route, all sharing the store (or inbox).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a route's settings are invalid (a zero body limit, no methods, a
    /// path mounted twice or not starting with `/`).
    pub fn build(self) -> Result<Vec<(String, Arc<Receiver>)>, ConfigError> {
        check_route_paths(self.routes.iter().map(|route| route.path.as_str()))?;
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let mut receivers = Vec::with_capacity(self.routes.len());
        for route in self.routes {
            let options = &route.options;
            let shared = &self.shared;
            let mut builder = Receiver::builder(route.endpoint, route.verifier)
                .store(store.clone())
                .strict(options.strict.or(shared.strict).unwrap_or(false))
                .forward_handshakes(
                    options
                        .forward_handshakes
                        .or(shared.forward_handshakes)
                        .unwrap_or(false),
                )
                .exact_200(options.exact_200.or(shared.exact_200).unwrap_or(true));
            if let Some(limit) = options.body_limit.or(shared.body_limit) {
                builder = builder.body_limit(limit);
            }
            if let Some(methods) = options.methods.as_ref().or(shared.methods.as_ref()) {
                builder = builder.methods(methods.iter().cloned());
            }
            if let Some(inbox) = &self.inbox {
                builder = builder.inbox(inbox.clone());
            }
            if let Some(ledger) = &self.ledger {
                builder = builder.signature_ledger(ledger.clone());
            }
            let namespace = options
                .dedup_namespace
                .as_ref()
                .or(shared.dedup_namespace.as_ref())
                .unwrap_or(&route.path);
            builder = builder.dedup_namespace(namespace.as_str());
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

    #[cfg(feature = "testkit")]
    #[test]
    fn each_route_deduplicates_in_its_own_namespace() {
        use crate::testkit;
        let verifier = || HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
        let receivers = Webhooks::new()
            .bonifiq("/tenant-a", verifier())
            .bonifiq("/tenant-b", verifier())
            .route_with(
                "/tenant-b-old",
                Endpoint::Bonifiq,
                verifier(),
                RouteOptions::new().dedup_namespace("/tenant-b"),
            )
            .build()
            .unwrap();
        let namespaces: Vec<_> = receivers
            .iter()
            .map(|(_, receiver)| receiver.dedup_namespace())
            .collect();
        assert_eq!(
            namespaces,
            [Some("/tenant-a"), Some("/tenant-b"), Some("/tenant-b")]
        );
        let delivery = testkit::bonifiq_point_add("s");
        let run = |index: usize| {
            let receiver: &Receiver = &receivers[index].1;
            futures_executor::block_on(receiver.process(&delivery.request()))
        };
        let first = run(0).expect("new on tenant a");
        futures_executor::block_on(receivers[0].1.complete(&first)).unwrap();
        let other = run(1).expect("the same delivery is new on tenant b (one shared store)");
        futures_executor::block_on(receivers[1].1.complete(&other)).unwrap();
        assert_ne!(first.settlement(), other.settlement());
        let shared = run(2).expect_err("the old URL shares tenant b's namespace");
        assert_eq!(shared.ack(), Some(crate::Ack::Duplicate));
        let one = Webhooks::new()
            .dedup_namespace("all")
            .bonifiq("/a", verifier())
            .bonifiq("/b", verifier())
            .build()
            .unwrap();
        assert!(one.iter().all(|(_, r)| r.dedup_namespace() == Some("all")));
    }

    #[test]
    fn route_options_override_the_shared_ones() {
        use crate::Request;
        let verifier = || HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
        let receivers = Webhooks::new()
            .body_limit(100)
            .bonifiq("/shared", verifier())
            .route_with(
                "/own",
                Endpoint::Bonifiq,
                verifier(),
                RouteOptions::new().body_limit(10).methods(["put"]),
            )
            .build()
            .unwrap();
        assert_eq!(receivers[0].1.body_limit(), 100);
        assert_eq!(receivers[1].1.body_limit(), 10);
        let headers = [("X-Loyalty-Secret", "s")];
        let post = Request::new(b"").with_method("POST").with_headers(&headers);
        assert!(receivers[0].1.check_head(&post).is_ok());
        assert_eq!(receivers[1].1.check_head(&post).unwrap_err().status(), 405);
        let none = Webhooks::new()
            .route_with(
                "/x",
                Endpoint::Bonifiq,
                verifier(),
                RouteOptions::new().methods(Vec::<String>::new()),
            )
            .build();
        assert!(matches!(none, Err(ConfigError::NoMethods)));
    }
}
