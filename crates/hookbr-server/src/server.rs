//! [`ServerBuilder`] and the running [`Server`].
//!
//! One route per `[[endpoint]]`, each with its own verifier, body limit, methods and strictness.
//! In inbox mode (the default, SQLite) a verified delivery is committed before the provider is
//! answered `200`, and a worker hands it to the sinks with retries and dead-lettering. In direct
//! mode (`inbox.url = "none"`) the sinks run inside the request and the provider's own retry is
//! the only retry. Both listeners are served by [`hookbr_axum::serve()`] within their
//! [`ConnectionLimits`] (`[server]`/`[admin]` keys), the receiver's over TLS when
//! `[server] tls_cert`/`tls_key` are set. [`Server::stop`] stops accepting connections,
//! finishes the requests in flight and the worker's round; [`Server::reload`] applies a changed
//! configuration file without a restart ([`crate::reload`]).

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::Router;
use hookbr_axum::{ConnectionLimits, ConnectionStats, tls::server_config};
use hookbr_core::{
    IdempotencyStore, Inbox, MemoryStore, Provider,
    ledger::{MemoryLedger, SignatureLedger},
};
use hookbr_store::{
    RedisStore, SqliteLedger,
    worker::{Delivered, Worker, WorkerOptions},
};
use tokio::{net::TcpListener, sync::mpsc, sync::watch, task::JoinHandle};

use crate::{
    Error,
    admin::{self, AdminServer},
    config::{self, AdminConfig, Config, WorkerConfig},
    dispatch::Dispatcher,
    health::{Alive, Readiness},
    lifecycle::{log, open_inbox_database, prune_loop, stopped},
    observe::{self, Observer},
    reload::{self, Live, ReloadHandle, Reloaded, Reloader, TlsState},
    routes::{self, Claims, Shared},
    sink::{Message, Sinks},
};

/// Starts a [`Server`] from a checked [`Config`]. See the crate docs.
#[derive(Debug)]
#[must_use = "a builder does nothing until `start`"]
pub struct ServerBuilder {
    config: Config,
    channels: Vec<mpsc::UnboundedSender<Message>>,
    path: Option<PathBuf>,
    fixed: reload::Fixed,
}

impl ServerBuilder {
    /// A server for `config`.
    pub fn new(config: Config) -> Self {
        Self {
            fixed: reload::fixed(&config),
            config,
            channels: Vec::new(),
            path: None,
        }
    }

    /// The file `config` was loaded from: [`Server::reload`] (SIGHUP, `hookbr reload`, the
    /// admin listener's `POST /reload`) reads it again. Without it there is nothing to reload.
    pub fn config_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Listens on `listen` instead of the configuration's `[server] listen` (`127.0.0.1:0`
    /// picks a free port: read it from [`Server::addr`]).
    pub fn listen(mut self, listen: SocketAddr) -> Self {
        self.config.listen = listen;
        self
    }

    /// Bounds the receiver's connections with `limits` instead of the configuration's
    /// `[server]` keys.
    pub fn limits(mut self, limits: ConnectionLimits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Serves the inspector and `/metrics` as `admin` says, instead of the configuration's
    /// `[admin]`.
    pub fn admin(mut self, admin: AdminConfig) -> Self {
        self.config.admin = Some(admin);
        self
    }

    /// Also hands every processed event to `sender` (after the configured sinks), e.g. to
    /// watch what was processed.
    pub fn sink_channel(mut self, sender: mpsc::UnboundedSender<Message>) -> Self {
        self.channels.push(sender);
        self
    }

    /// Opens the inbox, binds the listeners (both before anything runs, so a port conflict
    /// stops nothing half-way), and starts serving and working.
    ///
    /// # Errors
    ///
    /// [`Error::Runtime`] when the inbox, Redis or an address cannot be used;
    /// [`Error::Config`] for a route the pipeline refuses or an admin address off loopback
    /// without a token.
    pub async fn start(self) -> Result<Server, Error> {
        let Self {
            config,
            channels,
            path,
            fixed,
        } = self;
        let keys = crate::config::resolve_keys(&config.encryption_keys)?;
        let (inbox, database) = open_inbox_database(&config.inbox, keys, true).await?;
        let claims = claims(inbox.as_ref(), config.redis.as_deref()).await?;
        let observer = Observer::new();
        if let Some(inbox) = &inbox {
            observer.keep_drift_in(inbox.clone()).await;
            observer.ordering.keep_in(inbox.clone());
        }
        let _ = observe::prometheus();
        let sinks = Sinks::new(&config.sinks, channels.clone(), database.as_ref())?;
        sinks
            .check(inbox.is_some().then_some(config.worker.max_backoff))
            .await?;
        let dispatcher = Arc::new(
            Dispatcher::new(sinks, observer.clone(), config.log_bodies)
                .with_ordering(&config.endpoints),
        );
        let ledger = direct_ledger(&config, inbox.is_none())?;
        let shared = Shared {
            claims: claims.clone(),
            ledger: ledger.clone(),
            forward_handshakes: config.forward_handshakes,
            dispatcher: dispatcher.clone(),
            observer: observer.clone(),
        };
        let live = Live::new(routes::router(config.endpoints, &shared)?, dispatcher);
        let tls = config.tls.map(TlsState::new);
        let tls_config = tls
            .as_ref()
            .map(|tls| server_config(tls.certificate.clone()))
            .transpose()
            .map_err(|error| Error::runtime(error.to_string()))?;
        let reload = ReloadHandle::new(Reloader {
            path,
            fixed,
            live: live.clone(),
            claims,
            ledger,
            observer: observer.clone(),
            channels,
            database,
            tls: tls.clone(),
            lock: tokio::sync::Mutex::new(()),
        });
        let (listener, addr) = bind(config.listen).await?;
        let (stop, stop_rx) = watch::channel(false);
        let receiver_stats = ConnectionStats::new();
        let receiver_alive = Alive::new();
        let worker_alive = inbox.as_ref().map(|_| Alive::new());
        let admin = match config.admin {
            Some(admin) => Some(
                admin::start(
                    admin.listen,
                    admin.token,
                    admin.limits,
                    admin::Watched {
                        inbox: inbox.clone(),
                        observer: observer.clone(),
                        receiver: receiver_stats.clone(),
                        readiness: Readiness {
                            receiver: receiver_alive.clone(),
                            inbox: inbox.clone(),
                            worker: worker_alive.clone(),
                        },
                    },
                    reload.clone(),
                    stop_rx.clone(),
                )
                .await?,
            ),
            None => None,
        };
        let tls_on = tls_config.is_some();
        let http = serve(
            listener,
            live.app(),
            config.limits,
            tls_config,
            receiver_stats,
            &receiver_alive,
            stop_rx.clone(),
        );
        let watcher = tls.map(|tls| tokio::spawn(tls.watch(stop_rx.clone())));
        let worker = inbox.as_ref().map(|inbox| {
            work(
                &worker_alive.clone().unwrap_or_else(Alive::new),
                inbox.clone(),
                live,
                config.worker,
                config::lease::worker_batch(
                    config.worker.lease,
                    config.worker.concurrency,
                    &config.sinks,
                ),
                (config.retention, config.body_retention),
                stop_rx,
            )
        });
        Ok(Server {
            addr,
            inbox,
            stop: Arc::new(stop),
            http,
            worker,
            admin,
            watcher,
            reload,
            tls: tls_on,
            observer,
        })
    }
}

/// Where deliveries are claimed: the inbox, else Redis (shared between direct-mode instances),
/// else memory.
async fn claims(inbox: Option<&Arc<dyn Inbox>>, redis: Option<&str>) -> Result<Claims, Error> {
    Ok(match (inbox, redis) {
        (Some(inbox), _) => Claims::Inbox(inbox.clone()),
        (None, Some(url)) => {
            let store = RedisStore::connect(url)
                .await
                .map_err(|error| Error::runtime(format!("cannot reach Redis: {error}")))?;
            Claims::Store(Arc::new(store) as Arc<dyn IdempotencyStore>)
        }
        (None, None) => Claims::Store(Arc::new(MemoryStore::new())),
    })
}

/// Direct mode without Redis keeps Grafeno's signature ledger in its own SQLite file
/// (`[inbox] ledger`), so that a restart does not forget it; the inboxes and Redis keep it
/// themselves, and without a Grafeno endpoint nothing needs it.
fn direct_ledger(config: &Config, direct: bool) -> Result<Option<Arc<dyn SignatureLedger>>, Error> {
    let grafeno = config
        .endpoints
        .iter()
        .any(|endpoint| endpoint.endpoint.provider() == Provider::Grafeno);
    if !direct || config.redis.is_some() || !grafeno {
        return Ok(None);
    }
    let Some(path) = &config.ledger else {
        log(
            "Grafeno's signature ledger is in memory (inbox.ledger = \"memory\"): a restart forgets it",
        );
        // One for the process's life: every reload's routes share it.
        return Ok(Some(Arc::new(MemoryLedger::new())));
    };
    let ledger = SqliteLedger::open(path)
        .map_err(|error| Error::runtime(format!("cannot open the signature ledger: {error}")))?;
    Ok(Some(Arc::new(ledger)))
}

async fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), Error> {
    let failed =
        |error: std::io::Error| Error::runtime(format!("cannot listen on {listen}: {error}"));
    let listener = TcpListener::bind(listen).await.map_err(failed)?;
    let addr = listener.local_addr().map_err(failed)?;
    Ok((listener, addr))
}

/// Serves `app` within `limits` (over TLS with `tls`) until `stop`, counting connections into
/// `stats`; `alive` says whether it still serves.
pub(crate) fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
    stats: ConnectionStats,
    alive: &Alive,
    stop: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    let serving = hookbr_axum::serve(listener, app)
        .limits(limits)
        .stats(stats)
        .with_graceful_shutdown(stopped(stop));
    let serving = match tls {
        Some(tls) => serving.tls(tls),
        None => serving,
    };
    tokio::spawn(alive.watch(serving.into_future()))
}

/// The worker and the pruner, until `stop`; `alive` says whether they still run.
fn work(
    alive: &Alive,
    inbox: Arc<dyn Inbox>,
    live: Arc<Live>,
    settings: WorkerConfig,
    batch: usize,
    (retention, body_retention): (Duration, Duration),
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    // The lease is renewed while a batch runs; the batch is what the lease covers anyway.
    let options = WorkerOptions::default()
        .max_attempts(settings.max_attempts)
        .backoff(settings.backoff, settings.max_backoff)
        .lease(settings.lease)
        .batch(batch)
        .concurrency(settings.concurrency);
    // Each attempt takes the sinks current when it starts (a reload swaps them).
    let settle = live.clone();
    let worker = Worker::new(
        inbox.clone(),
        move |delivered: Delivered| {
            let dispatcher = live.dispatcher();
            async move { dispatcher.stored(&delivered).await }
        },
        options,
    )
    .on_settled(move |settled| settle.dispatcher().settled(settled));
    let pruner = prune_loop(inbox, retention, body_retention, stop.clone());
    tokio::spawn(alive.watch(async move {
        tokio::join!(worker.run(stopped(stop)), pruner);
    }))
}

/// A running receiver. See the crate docs.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    inbox: Option<Arc<dyn Inbox>>,
    stop: Arc<watch::Sender<bool>>,
    http: JoinHandle<std::io::Result<()>>,
    worker: Option<JoinHandle<()>>,
    admin: Option<AdminServer>,
    watcher: Option<JoinHandle<()>>,
    reload: ReloadHandle,
    tls: bool,
    /// Its drift watch is saved one last time when it stops.
    observer: Arc<Observer>,
}

/// Asks a [`Server`] to stop, from anywhere (cloneable).
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    /// Stops accepting requests; [`Server::stop`] then waits for the rest.
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl Server {
    /// The address providers post to.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether providers post over HTTPS (`[server] tls_cert`/`tls_key`).
    #[must_use]
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// Reads the configuration file again and swaps it in (see [`crate::reload`]).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] with the reason when the new configuration is refused; the running
    /// one keeps serving.
    pub async fn reload(&self) -> Result<Reloaded, Error> {
        self.reload.reload().await
    }

    /// A handle that reloads the configuration from another task.
    #[must_use]
    pub fn reload_handle(&self) -> ReloadHandle {
        self.reload.clone()
    }

    /// The admin listener's address, when there is one.
    #[must_use]
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|admin| admin.addr)
    }

    /// The inbox, in inbox mode.
    #[must_use]
    pub fn inbox(&self) -> Option<&Arc<dyn Inbox>> {
        self.inbox.as_ref()
    }

    /// Ends the worker task as a crash would (its readiness check then fails); for tests of
    /// `/readyz`.
    #[doc(hidden)]
    pub fn abort_worker(&self) {
        if let Some(worker) = &self.worker {
            worker.abort();
        }
    }

    /// A handle that stops the server from another task.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.stop.clone())
    }

    /// Stops accepting, finishes the requests in flight (30 s at most) and the worker's round.
    ///
    /// # Errors
    ///
    /// [`Error::Runtime`] when the listener failed while serving.
    pub async fn stop(self) -> Result<(), Error> {
        let _ = self.stop.send(true);
        // A slow or stalled client must not keep the process up forever.
        let mut http = self.http;
        let served = match tokio::time::timeout(Duration::from_secs(30), &mut http).await {
            Ok(served) => served,
            Err(_) => {
                log("requests still in flight after 30 s: closing them");
                http.abort();
                Ok(Ok(()))
            }
        };
        if let Some(worker) = self.worker {
            let _ = worker.await;
        }
        // What the drift watch saw since its last save (saves are at most once a second).
        self.observer.flush_drift().await;
        if let Some(admin) = self.admin {
            admin.join().await;
        }
        if let Some(watcher) = self.watcher {
            let _ = watcher.await;
        }
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(Error::runtime(format!("the server failed: {error}"))),
            Err(_) => Err(Error::runtime("the server task failed")),
        }
    }
}
