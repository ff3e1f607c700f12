//! Changing the configuration of a running server: [`ReloadHandle::reload`] (SIGHUP,
//! `hookbr reload`, the admin listener's `POST /reload`), and the TLS certificate watcher.
//!
//! A reload reads `hookbr.toml` again with every `env:`/`file:` reference, checks all of it as
//! `serve --check` does, and builds the new routes (verifiers, body limits, methods) and sinks
//! before anything changes. Only then are they swapped in, at once: a request that has started
//! keeps the routes it started with (each request takes the current router when it arrives),
//! the worker takes the current sinks for each attempt. A configuration that fails any check is
//! refused with the reason and the running one keeps serving. The inbox, the deduplication
//! store, the metrics and the inspector's records are the same before and after.
//!
//! What a reload cannot change (the listeners and their bounds, TLS on or off, the inbox and
//! Redis, the worker's settings, the whole `[admin]` section) keeps its running value: the
//! reload succeeds and says which keys need a restart ([`Reloaded::warnings`]).
//!
//! The TLS certificate and key files are also watched: every [`TLS_POLL_INTERVAL`] their size,
//! modification time and inode are compared with the last look, and a change reloads the pair
//! (checked first; a pair that does not match, e.g. while an ACME client is between writing the
//! two files, is refused with a warning and the previous certificate keeps serving).

use std::{
    fmt,
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError, RwLock},
    time::{Duration, SystemTime},
};

use axum::{Router, extract::Request, response::Response, routing::future::RouteFuture};
use hookbr_axum::tls::TlsCertificate;
use hookbr_core::ledger::SignatureLedger;
use sha2::Digest as _;
use tokio::sync::{mpsc, watch};
use tower_service::Service;

use crate::{
    Config, Error,
    config::{InboxUrl, TlsConfig},
    dispatch::Dispatcher,
    lifecycle::{log, stopped},
    observe::Observer,
    routes::{self, Claims, Shared},
    sink::{InboxDatabase, Message, Sinks},
};

/// How often the TLS certificate and key files are looked at for a change.
pub const TLS_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// What a reload replaces: the receiver's routes and the sinks.
#[derive(Debug)]
pub(crate) struct Live {
    router: RwLock<Router>,
    dispatcher: RwLock<Arc<Dispatcher>>,
}

impl Live {
    pub(crate) fn new(router: Router, dispatcher: Arc<Dispatcher>) -> Arc<Self> {
        Arc::new(Self {
            router: RwLock::new(router),
            dispatcher: RwLock::new(dispatcher),
        })
    }

    /// The sinks an attempt starting now uses.
    pub(crate) fn dispatcher(&self) -> Arc<Dispatcher> {
        self.dispatcher
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn router(&self) -> Router {
        self.router
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn swap(&self, router: Router, dispatcher: Arc<Dispatcher>) {
        *self.router.write().unwrap_or_else(PoisonError::into_inner) = router;
        *self
            .dispatcher
            .write()
            .unwrap_or_else(PoisonError::into_inner) = dispatcher;
    }

    /// The receiver's app: every request is handed to the router current when it arrives.
    pub(crate) fn app(self: &Arc<Self>) -> Router {
        Router::new().fallback_service(Current(self.clone()))
    }
}

/// The service behind [`Live::app`].
#[derive(Debug, Clone)]
struct Current(Arc<Live>);

impl Service<Request> for Current {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = RouteFuture<std::convert::Infallible>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let mut router = self.0.router();
        <Router as Service<Request>>::call(&mut router, request)
    }
}

/// The outcome of a reload that was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// The routes, inbox and sinks now served (as in the start-up banner).
    pub summary: Vec<String>,
    /// Changed keys a reload cannot apply (they keep their running value until a restart),
    /// and other warnings.
    pub warnings: Vec<String>,
}

/// Reloads a running [`Server`](crate::Server)'s configuration (cloneable). See the
/// [module docs](self).
#[derive(Clone)]
pub struct ReloadHandle(Arc<Reloader>);

impl fmt::Debug for ReloadHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadHandle")
            .field("path", &self.0.path)
            .finish_non_exhaustive()
    }
}

/// Values a reload cannot change, as configured at start (compared, never shown).
pub(crate) type Fixed = Vec<(&'static str, String)>;

/// The restart-only values of `config`.
pub(crate) fn fixed(config: &Config) -> Fixed {
    let inbox = match &config.inbox {
        InboxUrl::Sqlite(path) => format!("sqlite:{path}"),
        InboxUrl::Postgres(url) => digest(url.as_bytes()),
        InboxUrl::None => "none".to_owned(),
    };
    let admin = config.admin.as_ref().map(|admin| {
        format!(
            "{} {:?} {}",
            admin.listen,
            admin.limits,
            admin
                .token
                .as_ref()
                .map(|token| digest(token.expose()))
                .unwrap_or_default()
        )
    });
    vec![
        ("server.listen", config.listen.to_string()),
        (
            "[server] connection bounds (timeouts, max_connections, max_header_bytes, \
             max_headers, http2, tls_handshake_timeout)",
            format!("{:?}", config.limits),
        ),
        (
            "TLS on or off (server.tls_cert/tls_key set or not)",
            config.tls.is_some().to_string(),
        ),
        ("inbox.url", inbox),
        (
            "inbox.encryption_key / encryption_keys",
            config
                .encryption_keys
                .iter()
                .map(|key| format!("{}:{}", key.id, key.reference))
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "inbox.redis",
            config
                .redis
                .as_deref()
                .map(|url| digest(url.as_bytes()))
                .unwrap_or_default(),
        ),
        ("inbox.retention", format!("{:?}", config.retention)),
        (
            "inbox.body_retention",
            format!("{:?}", config.body_retention),
        ),
        ("[worker]", format!("{:?}", config.worker)),
        ("[admin]", format!("{admin:?}")),
    ]
}

fn digest(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Everything a reload needs from the running server.
pub(crate) struct Reloader {
    pub(crate) path: Option<PathBuf>,
    pub(crate) fixed: Fixed,
    pub(crate) live: Arc<Live>,
    pub(crate) claims: Claims,
    /// Grafeno's signature ledger of direct mode, shared by every reload's routes.
    pub(crate) ledger: Option<Arc<dyn SignatureLedger>>,
    pub(crate) observer: Arc<Observer>,
    pub(crate) channels: Vec<mpsc::UnboundedSender<Message>>,
    /// The PostgreSQL inbox's database (for table sinks writing into it).
    pub(crate) database: Option<InboxDatabase>,
    pub(crate) tls: Option<Arc<TlsState>>,
    pub(crate) lock: tokio::sync::Mutex<()>,
}

impl ReloadHandle {
    pub(crate) fn new(reloader: Reloader) -> Self {
        Self(Arc::new(reloader))
    }

    /// Reads the configuration file again (every `env:`/`file:` reference included), checks
    /// it whole, and swaps the new routes and sinks in. Reloads run one at a time.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] with the reason when the new configuration is refused (the running
    /// one keeps serving), or when the server was not started from a file
    /// ([`ServerBuilder::config_path`](crate::ServerBuilder::config_path)).
    pub async fn reload(&self) -> Result<Reloaded, Error> {
        let reloader = &self.0;
        let _one_at_a_time = reloader.lock.lock().await;
        let Some(path) = &reloader.path else {
            return Err(Error::config(
                "this server was not started from a configuration file: nothing to reload",
            ));
        };
        // Reading the files (and every reference) is blocking work: off the runtime's threads.
        let load = path.clone();
        let loaded = tokio::task::spawn_blocking(move || Config::load(&load))
            .await
            .unwrap_or_else(|_| Err(Error::runtime("reading the configuration failed")));
        let outcome = match loaded {
            Ok(config) => reloader.apply(config).await,
            Err(error) => Err(error),
        };
        match &outcome {
            Ok(reloaded) => {
                log(&format!(
                    "reloaded {}: the new configuration serves from now on",
                    path.display()
                ));
                for line in &reloaded.warnings {
                    tracing::warn!(target: "hookbr", "{line}");
                }
            }
            Err(error) => tracing::warn!(
                target: "hookbr",
                "reload refused, the running configuration keeps serving: {error}"
            ),
        }
        outcome
    }
}

impl Reloader {
    /// Builds everything from `config` (nothing changes on an error), then swaps.
    async fn apply(&self, config: Config) -> Result<Reloaded, Error> {
        let mut warnings: Vec<String> = fixed(&config)
            .into_iter()
            .zip(&self.fixed)
            .filter(|((_, new), (_, running))| new != running)
            .map(|((key, _), _)| {
                format!("{key} changed: it needs a restart (the running value is kept)")
            })
            .collect();
        let summary = config.summary();
        let sinks = Sinks::new(&config.sinks, self.channels.clone(), self.database.as_ref())?;
        // A NATS sink connects and checks its stream before anything is swapped.
        let max_backoff = (!matches!(config.inbox, crate::config::InboxUrl::None))
            .then_some(config.worker.max_backoff);
        sinks
            .check(max_backoff)
            .await
            .map_err(|error| Error::config(error.to_string()))?;
        let dispatcher = Arc::new(
            Dispatcher::new(sinks, self.observer.clone(), config.log_bodies)
                .with_ordering(&config.endpoints),
        );
        let shared = Shared {
            claims: self.claims.clone(),
            ledger: self.ledger.clone(),
            forward_handshakes: config.forward_handshakes,
            dispatcher: dispatcher.clone(),
            observer: self.observer.clone(),
        };
        let router = routes::router(config.endpoints, &shared)?;
        self.live.swap(router, dispatcher);
        if let (Some(state), Some(tls)) = (&self.tls, config.tls) {
            warnings.extend(tls.key_file_warning());
            state.install(tls);
        }
        Ok(Reloaded { summary, warnings })
    }
}

/// The size, modification time and inode of each watched file (`None`: unreadable).
type Fingerprint = Vec<Option<(u64, Option<SystemTime>, u64)>>;

fn fingerprint(files: &[PathBuf]) -> Fingerprint {
    files
        .iter()
        .map(|path| {
            std::fs::metadata(path).ok().map(|metadata| {
                #[cfg(unix)]
                let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
                #[cfg(not(unix))]
                let inode = 0;
                (metadata.len(), metadata.modified().ok(), inode)
            })
        })
        .collect()
}

/// The receiver's certificate and where it comes from.
pub(crate) struct TlsState {
    pub(crate) certificate: Arc<TlsCertificate>,
    /// The references in force and the files' last fingerprint.
    source: Mutex<(TlsConfig, Fingerprint)>,
}

impl TlsState {
    pub(crate) fn new(config: TlsConfig) -> Arc<Self> {
        if let Some(warning) = config.key_file_warning() {
            tracing::warn!(target: "hookbr", "{warning}");
        }
        let certificate = Arc::new(TlsCertificate::new(Arc::unwrap_or_clone(
            config.certified_key(),
        )));
        let seen = fingerprint(&config.files());
        Arc::new(Self {
            certificate,
            source: Mutex::new((config, seen)),
        })
    }

    /// A checked configuration's pair, from a reload.
    fn install(&self, config: TlsConfig) {
        self.certificate
            .replace(Arc::unwrap_or_clone(config.certified_key()));
        let seen = fingerprint(&config.files());
        *self.source.lock().unwrap_or_else(PoisonError::into_inner) = (config, seen);
    }

    /// Reloads the pair when a watched file changed.
    fn poll(&self) {
        let mut source = self.source.lock().unwrap_or_else(PoisonError::into_inner);
        let now = fingerprint(&source.0.files());
        if now == source.1 {
            return;
        }
        source.1 = now;
        match source.0.reread() {
            Ok(pair) => {
                self.certificate.replace(pair);
                log(&format!(
                    "TLS certificate reloaded from {}: new connections get it",
                    source.0.cert
                ));
            }
            Err(error) => tracing::warn!(
                target: "hookbr",
                "TLS certificate files changed but were refused, the previous certificate \
                 keeps serving: {error}"
            ),
        }
    }

    /// Polls the files every [`TLS_POLL_INTERVAL`] until `stop`.
    pub(crate) async fn watch(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let mut stop = std::pin::pin!(stopped(stop));
        loop {
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(TLS_POLL_INTERVAL) => {}
            }
            let state = self.clone();
            // File system calls: off the runtime's worker threads.
            let _ = tokio::task::spawn_blocking(move || state.poll()).await;
        }
    }
}
