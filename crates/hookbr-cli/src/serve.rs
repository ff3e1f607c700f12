//! `hookbr serve`: the receiver described by a `hookbr.toml`.
//!
//! One route per `[[endpoint]]`, each with its own verifier, body limit, methods and strictness.
//! In inbox mode (the default, SQLite) a verified delivery is committed before the provider is
//! answered `200`, and a worker hands it to the sinks with retries and dead-lettering. In direct
//! mode (`inbox.url = "none"`) the sinks run inside the request and the provider's own retry is
//! the only retry. SIGINT/SIGTERM stop accepting connections, finish the requests in flight and
//! the worker's round, then exit.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::{Router, http::StatusCode, routing::any};
use hookbr_axum::{Webhook, WebhookLayer};
use hookbr_core::{IdempotencyStore, Inbox, MemoryStore, Receiver, inbox::now_ms};
use hookbr_store::{
    PostgresInbox, RedisStore, SqliteInbox,
    worker::{Delivered, Worker, WorkerOptions},
};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    Failure,
    admin::{self, AdminServer},
    config::{AdminConfig, Config, InboxUrl},
    observe::{self, Attempt, Observer},
    sink::{Message, Processed, Sinks},
};

/// `hookbr serve` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The configuration file (write one with `hookbr init`).
    #[arg(long, short, default_value = "hookbr.toml", value_name = "PATH")]
    config: PathBuf,
    /// Only check the configuration (every key, secret reference and key file), print the
    /// routes, and exit: 0 when valid, 2 otherwise.
    #[arg(long)]
    check: bool,
}

/// A service message (target `hookbr`), through `tracing`.
pub(crate) fn log(line: &str) {
    tracing::info!(target: "hookbr", "{line}");
}

/// Logs to stderr, filtered by `HOOKBR_LOG` (`tracing` directives; default `info`). The
/// targets are documented in the crate docs: `hookbr` (service), `hookbr::delivery` (one span
/// per request), `hookbr::rejection` (refused deliveries, shown by default), `hookbr::worker`
/// (attempts).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOOKBR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hookbr::rejection=debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Opens the configured inbox.
pub(crate) async fn open_inbox(url: &InboxUrl) -> Result<Option<Arc<dyn Inbox>>, Failure> {
    let failed = |error: &dyn std::fmt::Display| {
        Failure::runtime(format!("cannot open the inbox {url}: {error}"))
    };
    Ok(match url {
        InboxUrl::Sqlite(path) => Some(Arc::new(SqliteInbox::open(path).map_err(|e| failed(&e))?)),
        InboxUrl::Postgres(database) => Some(Arc::new(
            PostgresInbox::connect(database)
                .await
                .map_err(|e| failed(&e))?,
        )),
        InboxUrl::None => None,
    })
}

/// A running receiver.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    inbox: Option<Arc<dyn Inbox>>,
    stop: watch::Sender<bool>,
    http: JoinHandle<std::io::Result<()>>,
    worker: Option<JoinHandle<()>>,
    admin: Option<AdminServer>,
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

impl Server {
    /// Opens the inbox, binds `config.listen` (or `listen`) and the admin listener (from the
    /// configuration, or `admin`), and starts serving and working.
    pub(crate) async fn start(
        config: Config,
        sinks: Sinks,
        listen: Option<SocketAddr>,
        admin: Option<AdminConfig>,
    ) -> Result<Self, Failure> {
        let inbox = open_inbox(&config.inbox).await?;
        let observer = Observer::new();
        let _ = observe::prometheus();
        let store: Option<Arc<dyn IdempotencyStore>> = match (&inbox, &config.redis) {
            (Some(_), _) => None,
            (None, Some(url)) => {
                Some(Arc::new(RedisStore::connect(url).await.map_err(
                    |error| Failure::runtime(format!("cannot reach Redis: {error}")),
                )?))
            }
            (None, None) => Some(Arc::new(MemoryStore::new())),
        };
        let sinks = Arc::new(sinks);
        let mut app = Router::new();
        for endpoint in config.endpoints {
            let mut builder = Receiver::builder(endpoint.endpoint, endpoint.verifier)
                .body_limit(endpoint.body_limit)
                .strict(endpoint.strict)
                .forward_handshakes(config.forward_handshakes);
            if let Some(methods) = endpoint.methods {
                builder = builder.methods(methods);
            }
            builder = match (&inbox, &store) {
                (Some(inbox), _) => builder.inbox(inbox.clone()),
                (None, Some(store)) => builder.store(store.clone()),
                (None, None) => builder,
            };
            let receiver = builder
                .build()
                .map_err(|error| Failure::usage(format!("{}: {error}", endpoint.path)))?;
            let layer = WebhookLayer::from_shared(Arc::new(receiver));
            let route_name = endpoint.endpoint.to_text();
            let observed = observe::Route {
                observer: observer.clone(),
                endpoint: route_name.clone().into(),
                provider: endpoint.endpoint.provider().as_str(),
            };
            let sinks = sinks.clone();
            let direct = move |Webhook(verified): Webhook| {
                let sinks = sinks.clone();
                let endpoint = route_name.clone();
                async move {
                    let id = verified.delivery_id();
                    let label = verified.matched_key().to_string();
                    let processed = Processed {
                        endpoint: &endpoint,
                        delivery_id: id.as_str(),
                        key: id.key(),
                        matched_key: &label,
                        received_at_ms: now_ms(),
                        attempt: 1,
                        event: verified.event(),
                    };
                    match deliver(&sinks, &processed).await {
                        Ok(()) => StatusCode::OK,
                        // Not a 2xx: hookbr releases the claim and the provider's retry comes
                        // through.
                        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                    }
                }
            };
            // iSET with the secret as the last path segment: the route captures it (and the
            // inspector shows the route template, never the secret).
            let path = if endpoint.secret_segment {
                format!("{}/{{secret}}", endpoint.path.trim_end_matches('/'))
            } else {
                endpoint.path.clone()
            };
            app = app.route(
                &path,
                any(direct)
                    .layer(layer)
                    .layer(axum::middleware::from_fn_with_state(
                        observed,
                        observe::record,
                    )),
            );
        }
        let listen = listen.unwrap_or(config.listen);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|error| Failure::runtime(format!("cannot listen on {listen}: {error}")))?;
        let addr = listener
            .local_addr()
            .map_err(|error| Failure::runtime(format!("cannot listen on {listen}: {error}")))?;
        let (stop, stop_rx) = watch::channel(false);
        // Both listeners are bound before anything runs, so a port conflict stops nothing
        // half-way.
        let admin = match admin.or(config.admin) {
            Some(admin) => Some(
                admin::start(
                    admin.listen,
                    admin.token,
                    inbox.clone(),
                    observer.clone(),
                    stop_rx.clone(),
                )
                .await?,
            ),
            None => None,
        };
        let http = tokio::spawn({
            let stop_rx = stop_rx.clone();
            async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped(stop_rx))
                    .await
            }
        });
        let worker = inbox.as_ref().map(|inbox| {
            let mut options = WorkerOptions::default()
                .max_attempts(config.worker.max_attempts)
                .backoff(config.worker.backoff, config.worker.max_backoff);
            options.lease = config.worker.lease;
            let max_attempts = config.worker.max_attempts;
            let log_bodies = config.log_bodies;
            let observer = observer.clone();
            let worker = Worker::new(
                inbox.clone(),
                move |delivered: Delivered| {
                    let sinks = sinks.clone();
                    let observer = observer.clone();
                    async move {
                        if log_bodies {
                            tracing::info!(
                                target: "hookbr::worker",
                                row = delivered.row.id,
                                body = %crate::inbox::body_json(&delivered.row),
                                "body (secrets redacted)"
                            );
                        }
                        handle(&sinks, &delivered, max_attempts, &observer).await
                    }
                },
                options,
            );
            let pruner = prune_loop(inbox.clone(), config.retention, stop_rx.clone());
            tokio::spawn(async move {
                tokio::join!(worker.run(stopped(stop_rx)), pruner);
            })
        });
        Ok(Self {
            addr,
            inbox,
            stop,
            http,
            worker,
            admin,
        })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin listener's address, when there is one.
    pub(crate) fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|admin| admin.addr)
    }

    /// The inbox, in inbox mode.
    pub(crate) fn inbox(&self) -> Option<&Arc<dyn Inbox>> {
        self.inbox.as_ref()
    }

    /// Stops accepting, finishes the requests in flight and the worker's round.
    pub(crate) async fn stop(self) -> Result<(), Failure> {
        let _ = self.stop.send(true);
        // Requests in flight get 30 s to finish (a slow or stalled client must not keep the
        // process up forever); the worker then finishes its round.
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
            Ok(Err(error)) => Err(Failure::runtime(format!("the server failed: {error}"))),
            Err(_) => Err(Failure::runtime("the server task failed")),
        }
    }
}

/// Deletes completed rows older than `retention`, hourly.
async fn prune_loop(inbox: Arc<dyn Inbox>, retention: Duration, stop: watch::Receiver<bool>) {
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let mut stop = std::pin::pin!(stopped(stop));
    loop {
        if let Ok(pruned) = inbox.prune(now_ms().saturating_sub(retention_ms)).await {
            if pruned > 0 {
                log(&format!("pruned {pruned} completed deliveries"));
            }
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(Duration::from_secs(3_600)) => {}
        }
    }
}

async fn deliver(sinks: &Sinks, processed: &Processed<'_>) -> Result<(), String> {
    let message = Message::new(processed)?;
    let result = sinks.deliver(&message).await;
    match &result {
        Ok(()) => tracing::info!(
            target: "hookbr::worker",
            event_type = %message.event_type,
            delivery_id = processed.delivery_id,
            attempt = processed.attempt,
            "delivered"
        ),
        Err(error) => tracing::warn!(
            target: "hookbr::worker",
            event_type = %message.event_type,
            delivery_id = processed.delivery_id,
            attempt = processed.attempt,
            error = %error,
            "sink failed"
        ),
    }
    result
}

/// The worker's handler: one inbox row to the sinks.
async fn handle(
    sinks: &Sinks,
    delivered: &Delivered,
    max_attempts: u32,
    observer: &Observer,
) -> Result<(), String> {
    let record = &delivered.row.record;
    let processed = Processed {
        endpoint: &record.endpoint,
        delivery_id: &record.delivery_id,
        key: record.key,
        matched_key: &record.matched_key,
        received_at_ms: record.received_at_ms,
        attempt: delivered.row.attempts,
        event: &delivered.event,
    };
    let result = deliver(sinks, &processed).await;
    let dead = result.is_err() && delivered.row.attempts >= max_attempts;
    observer.attempt(
        delivered.row.id,
        delivered.event.provider().as_str(),
        Attempt {
            at_ms: now_ms(),
            attempt: delivered.row.attempts,
            error: result.as_ref().err().cloned(),
        },
        dead,
    );
    if dead {
        log(&format!(
            "dead-lettered row {} after {max_attempts} attempts; fix the cause, then `hookbr inbox replay {}`",
            delivered.row.id, delivered.row.id
        ));
    }
    result
}

/// Waits for SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match terminate {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A multi-threaded tokio runtime.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::runtime(format!("cannot start the runtime: {error}")))
}

/// Runs `hookbr serve`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let config = Config::load(&args.config)?;
    let sinks = Sinks::new(&config.sinks).map_err(Failure::runtime)?;
    if !args.check {
        init_tracing();
    }
    let banner = banner(&config, &sinks);
    if args.check {
        crate::print_line(&format!(
            "{}: valid; listens on {}\n{}",
            args.config.display(),
            config.listen,
            banner.join("\n")
        ));
        return Ok(());
    }
    runtime()?.block_on(async move {
        let server = Server::start(config, sinks, None, None).await?;
        log(&format!(
            "hookbr {} listening on http://{}",
            env!("CARGO_PKG_VERSION"),
            server.addr()
        ));
        if let Some(admin) = server.admin_addr() {
            log(&format!(
                "inspector on http://{admin}/ (metrics: http://{admin}/metrics)"
            ));
        }
        for line in banner {
            log(&line);
        }
        shutdown_signal().await;
        log("stopping: finishing the requests in flight and the worker's round");
        server.stop().await?;
        log("stopped");
        Ok(())
    })
}

fn banner(config: &Config, sinks: &Sinks) -> Vec<String> {
    let mut lines: Vec<String> = config
        .endpoints
        .iter()
        .map(|endpoint| {
            let methods = endpoint.methods.as_ref().map_or_else(
                || endpoint.endpoint.default_methods().join("|"),
                |methods| methods.join("|"),
            );
            format!(
                "  {methods} {} → {}",
                endpoint.path,
                endpoint.endpoint.to_text()
            )
        })
        .collect();
    lines.push(format!("  inbox: {}", config.inbox));
    if sinks.len() == 0 {
        lines.push(
            "  no [[sink]] configured: deliveries are stored and marked done (see `hookbr inbox list`)"
                .to_owned(),
        );
    }
    for sink in sinks.describe() {
        lines.push(format!("  sink: {sink}"));
    }
    lines
}
