//! [`ServerBuilder`] and the running [`Server`].
//!
//! One route per `[[endpoint]]`, each with its own verifier, body limit, methods and strictness.
//! In inbox mode (the default, SQLite) a verified delivery is committed before the provider is
//! answered `200`, and a worker hands it to the sinks with retries and dead-lettering. In direct
//! mode (`inbox.url = "none"`) the sinks run inside the request and the provider's own retry is
//! the only retry. Both listeners are served by [`hookbr_axum::serve()`] within their
//! [`ConnectionLimits`] (`[server]`/`[admin]` keys). [`Server::stop`] stops accepting
//! connections, finishes the requests in flight and the worker's round.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use hookbr_axum::ConnectionLimits;
use hookbr_core::{IdempotencyStore, Inbox, MemoryStore};
use hookbr_store::{
    RedisStore,
    worker::{Delivered, Worker, WorkerOptions},
};
use tokio::{net::TcpListener, sync::mpsc, sync::watch, task::JoinHandle};

use crate::{
    Error,
    admin::{self, AdminServer},
    config::{self, AdminConfig, Config, WorkerConfig},
    dispatch::Dispatcher,
    lifecycle::{log, open_inbox, prune_loop, stopped},
    observe::{self, Observer},
    routes::{self, Claims, Shared},
    sink::{Message, Sinks},
};

/// Starts a [`Server`] from a checked [`Config`]. See the crate docs.
#[derive(Debug)]
#[must_use = "a builder does nothing until `start`"]
pub struct ServerBuilder {
    config: Config,
    channels: Vec<mpsc::UnboundedSender<Message>>,
}

impl ServerBuilder {
    /// A server for `config`.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            channels: Vec::new(),
        }
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
        let Self { config, channels } = self;
        let inbox = open_inbox(&config.inbox).await?;
        let claims = claims(inbox.as_ref(), config.redis.as_deref()).await?;
        let observer = Observer::new();
        let _ = observe::prometheus();
        let dispatcher = Arc::new(Dispatcher::new(
            Sinks::new(&config.sinks, channels)?,
            observer.clone(),
            config.log_bodies,
        ));
        let shared = Shared {
            claims,
            forward_handshakes: config.forward_handshakes,
            dispatcher: dispatcher.clone(),
            observer: observer.clone(),
        };
        let app = routes::router(config.endpoints, &shared)?;
        let (listener, addr) = bind(config.listen).await?;
        let (stop, stop_rx) = watch::channel(false);
        let admin = match config.admin {
            Some(admin) => Some(
                admin::start(
                    admin.listen,
                    admin.token,
                    admin.limits,
                    inbox.clone(),
                    observer,
                    stop_rx.clone(),
                )
                .await?,
            ),
            None => None,
        };
        let http = serve(listener, app, config.limits, stop_rx.clone());
        let worker = inbox.as_ref().map(|inbox| {
            work(
                inbox.clone(),
                dispatcher,
                config.worker,
                config::lease::worker_batch(config.worker.lease, &config.sinks),
                config.retention,
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

async fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), Error> {
    let failed =
        |error: std::io::Error| Error::runtime(format!("cannot listen on {listen}: {error}"));
    let listener = TcpListener::bind(listen).await.map_err(failed)?;
    let addr = listener.local_addr().map_err(failed)?;
    Ok((listener, addr))
}

/// Serves `app` within `limits` until `stop`.
pub(crate) fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(
        hookbr_axum::serve(listener, app)
            .limits(limits)
            .with_graceful_shutdown(stopped(stop))
            .into_future(),
    )
}

/// The worker and the pruner, until `stop`.
fn work(
    inbox: Arc<dyn Inbox>,
    dispatcher: Arc<Dispatcher>,
    settings: WorkerConfig,
    batch: usize,
    retention: Duration,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    // The lease is renewed while a batch runs; the batch is what the lease covers anyway.
    let options = WorkerOptions::default()
        .max_attempts(settings.max_attempts)
        .backoff(settings.backoff, settings.max_backoff)
        .lease(settings.lease)
        .batch(batch);
    let settle = dispatcher.clone();
    let worker = Worker::new(
        inbox.clone(),
        move |delivered: Delivered| {
            let dispatcher = dispatcher.clone();
            async move { dispatcher.stored(&delivered).await }
        },
        options,
    )
    .on_settled(move |settled| settle.settled(settled));
    let pruner = prune_loop(inbox, retention, stop.clone());
    tokio::spawn(async move {
        tokio::join!(worker.run(stopped(stop)), pruner);
    })
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
        if let Some(admin) = self.admin {
            admin.join().await;
        }
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(Error::runtime(format!("the server failed: {error}"))),
            Err(_) => Err(Error::runtime("the server task failed")),
        }
    }
}
