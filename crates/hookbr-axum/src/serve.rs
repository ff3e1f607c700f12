//! [`serve`]: serves a [`Router`] (e.g. one built from [`Webhooks`](crate::Webhooks)) on a TCP
//! listener with connection-level bounds ([`ConnectionLimits`]), so that a client without any
//! credential cannot hold a connection, a task or memory for long.
//!
//! `axum::serve` has no timeouts and no connection cap: a client that sends one header byte per
//! second, or trickles a body, is kept forever, and it serves HTTP/2 cleartext (h2c) whenever
//! some crate in the build enables hyper-util's `http2` feature. This serves HTTP/1.1 only
//! unless [`ConnectionLimits::http2`] is set, and bounds every connection:
//!
//! * **head**: a new connection must deliver a complete request head within
//!   [`header_timeout`](ConnectionLimits::header_timeout), and so must a kept-alive connection
//!   from the first byte of its next request; at most
//!   [`max_header_bytes`](ConnectionLimits::max_header_bytes) and
//!   [`max_headers`](ConnectionLimits::max_headers) (`431` beyond);
//! * **body**: the whole body must arrive within [`body_timeout`](ConnectionLimits::body_timeout)
//!   of the head (`408` and the connection closed otherwise);
//! * **request**: the response must start within
//!   [`request_timeout`](ConnectionLimits::request_timeout) of the head (`503` otherwise; the
//!   handler's future is dropped, which releases a delivery's claim);
//! * **idle**: a kept-alive connection without a request is closed after
//!   [`idle_timeout`](ConnectionLimits::idle_timeout);
//! * **count**: at most [`max_connections`](ConnectionLimits::max_connections) connections.
//!   At the cap, a new connection closes the oldest one that is not holding a complete request
//!   (idle, still sending its head, or still sending its body), so clients that connect and
//!   stall cannot lock out a provider's delivery; only when every connection holds a complete
//!   request in its handler is the new one refused (`503`, closed).
//!
//! With [`Serve::tls`] the listener speaks HTTPS only (see [`tls`](crate::tls)): the TLS
//! handshake must end within [`tls_handshake_timeout`](ConnectionLimits::tls_handshake_timeout)
//! (a client that connects and sends nothing, or stalls mid-handshake, is closed), a connection
//! still in its handshake counts against the cap and is the first to be closed there, and the
//! bounds above apply to the decrypted HTTP once the handshake is done.
//!
//! [`Serve::stats`] counts the open connections and the ones each bound closed
//! ([`ConnectionStats`], by [`CloseReason`]), for metrics.
//!
//! HTTP/2 connections (with `http2 = true`) get the same bounds: the head and idle timeouts
//! apply while no stream is open, the body and request timeouts to each stream, the header size
//! to the header list, and at most 64 concurrent streams per connection.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use axum::http::StatusCode;
//! use hookbr_axum::{ConnectionLimits, IntoRouter, Webhook, Webhooks};
//! use hookbr_core::{Secret, verify::HeaderSecretVerifier};
//!
//! async fn handle(Webhook(verified): Webhook) -> StatusCode {
//!     println!("{}", verified.event().kind());
//!     StatusCode::OK
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = Webhooks::new()
//!     .bonifiq("/webhooks/bonifiq", HeaderSecretVerifier::bonifiq([Secret::new("s3cr3t")?])?)
//!     .into_router(handle)?;
//! let mut limits = ConnectionLimits::default();
//! limits.header_timeout = Duration::from_secs(5);
//! limits.max_connections = 256;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! hookbr_axum::serve(listener, app)
//!     .limits(limits)
//!     .with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; })
//!     .await?;
//! # Ok(()) }
//! ```

use std::{
    collections::BTreeMap,
    convert::Infallible,
    fmt,
    future::{Future, IntoFuture},
    io,
    pin::{Pin, pin},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::Request,
    http::{HeaderValue, StatusCode, Version, header},
    response::{IntoResponse, Response},
};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, Semaphore, watch},
    task::JoinSet,
};
use tokio_rustls::{TlsAcceptor, rustls::ServerConfig, server::TlsStream};
use tower_service::Service;

pub use crate::stats::{CloseReason, ConnectionStats};

/// The smallest [`ConnectionLimits::max_header_bytes`] (hyper's smallest read buffer); smaller
/// values are raised to it.
pub const MIN_HEADER_BYTES: usize = 8_192;

/// Concurrent streams allowed on one HTTP/2 connection.
const MAX_STREAMS: u32 = 64;

/// What [`serve`] bounds: hookbr-core's `ConnectionLimits`,
/// shared with hookbr-actix. See the [module docs](mod@crate::serve) for how each field is
/// applied here; [`max_header_bytes`](ConnectionLimits::max_header_bytes) is raised to at least
/// [`MIN_HEADER_BYTES`].
pub use hookbr_core::ConnectionLimits;

/// The hyper connection builder for `limits`.
fn builder(limits: &ConnectionLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    let header_bytes = limits.max_header_bytes.max(MIN_HEADER_BYTES);
    builder
        .http1()
        .timer(TokioTimer::new())
        // The connection's own watchdog enforces the head and idle timeouts; hyper's is a
        // backstop (it also runs while a kept-alive connection is idle).
        .header_read_timeout(
            limits
                .header_timeout
                .saturating_add(limits.idle_timeout)
                .min(Duration::from_secs(86_400)),
        )
        .max_buf_size(header_bytes)
        .max_headers(limits.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(MAX_STREAMS);
    if limits.http2 {
        builder
    } else {
        builder.http1_only()
    }
}

/// Serves `router` on `listener` within [`ConnectionLimits`] (the defaults unless
/// [`Serve::limits`] says otherwise). See the [module docs](mod@crate::serve).
///
/// The returned [`Serve`] runs when awaited: until the graceful-shutdown signal if one is set
/// ([`Serve::with_graceful_shutdown`]), then until the connections in flight are done (each
/// still within its limits). Dropping it (or aborting its task) closes every connection.
pub fn serve(listener: TcpListener, router: Router) -> Serve {
    Serve {
        listener,
        router,
        limits: ConnectionLimits::default(),
        signal: None,
        stats: ConnectionStats::default(),
        tls: None,
    }
}

/// A server being set up by [`serve`]; await it to run it.
#[must_use = "a server does nothing until awaited"]
pub struct Serve {
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    signal: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    stats: ConnectionStats,
    tls: Option<Arc<ServerConfig>>,
}

impl fmt::Debug for Serve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("limits", &self.limits)
            .field("graceful_shutdown", &self.signal.is_some())
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Serve {
    /// Serves within `limits` instead of the defaults.
    pub fn limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Serves HTTPS with `config` (build it with [`tls::server_config`](crate::tls::server_config)
    /// for a certificate that can be replaced while serving): every connection must complete a
    /// TLS handshake within [`ConnectionLimits::tls_handshake_timeout`] first. The ALPN
    /// protocols of `config` are replaced by `http/1.1` (and `h2` when
    /// [`ConnectionLimits::http2`] is set).
    pub fn tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Stops accepting when `signal` resolves; connections are then asked to finish (HTTP/1.1:
    /// after the request in flight; HTTP/2: `GOAWAY`) and the server resolves once they have.
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.signal = Some(Box::pin(signal));
        self
    }

    /// Counts open connections and the ones closed by each bound into `stats` (keep a clone
    /// to read them).
    pub fn stats(mut self, stats: ConnectionStats) -> Self {
        self.stats = stats;
        self
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self))
    }
}

async fn run(serve: Serve) -> io::Result<()> {
    let Serve {
        listener,
        router,
        limits,
        signal,
        stats,
        tls,
    } = serve;
    let tls = tls.map(|config| {
        let mut config = Arc::unwrap_or_clone(config);
        config.alpn_protocols = if limits.http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        TlsAcceptor::from(Arc::new(config))
    });
    let signal: Pin<Box<dyn Future<Output = ()> + Send>> = match signal {
        Some(signal) => signal,
        None => Box::pin(std::future::pending()),
    };
    let shared = Arc::new(Shared {
        builder: builder(&limits),
        router,
        tls,
        limits,
        epoch: Instant::now(),
        open: Mutex::new(BTreeMap::new()),
        next_id: AtomicU64::new(0),
        stats,
    });
    let (stop, stopping) = watch::channel(false);
    let polite = Arc::new(Semaphore::new(POLITE_REFUSALS));
    let mut tasks = JoinSet::new();
    let mut signal = pin!(signal);
    loop {
        let stream = tokio::select! {
            () = &mut signal => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    if !is_connection_error(&error) {
                        // Out of file descriptors or similar: let connections finish.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
        };
        match shared.admit() {
            Some(connection) => {
                tasks.spawn(serve_connection(
                    shared.clone(),
                    connection,
                    stream,
                    stopping.clone(),
                ));
            }
            None => {
                shared.stats.close(CloseReason::Refused);
                // A TLS client would not understand a cleartext answer: closed at once.
                if shared.tls.is_none() {
                    refuse(stream, &polite, &mut tasks);
                }
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Refused connections answered at once; beyond, they are closed without an answer.
const POLITE_REFUSALS: usize = 64;
/// How long a refused connection is given to take its answer.
const REFUSAL_TIME: Duration = Duration::from_millis(500);

/// Answers a connection over the cap `503` and closes it, reading what the client sent
/// meanwhile (so that the close does not reset the answer away); at most [`POLITE_REFUSALS`] at
/// once, for [`REFUSAL_TIME`] each.
fn refuse(stream: TcpStream, polite: &Arc<Semaphore>, tasks: &mut JoinSet<()>) {
    let Ok(permit) = polite.clone().try_acquire_owned() else {
        return;
    };
    tasks.spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let _ = tokio::time::timeout(REFUSAL_TIME, async {
            stream
                .write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\
                      content-length: 0\r\n\r\n",
                )
                .await?;
            stream.shutdown().await?;
            let mut sink = [0_u8; 4096];
            for _ in 0..16 {
                if stream.read(&mut sink).await? == 0 {
                    break;
                }
            }
            Ok::<(), io::Error>(())
        })
        .await;
    });
}

/// What every connection of one [`serve`] shares.
struct Shared {
    builder: Builder<TokioExecutor>,
    router: Router,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    /// Times are kept as milliseconds since this instant.
    epoch: Instant,
    /// The open connections by id (ids grow, so the first is the oldest).
    open: Mutex<BTreeMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
    stats: ConnectionStats,
}

impl Shared {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// `millis` after the epoch, plus `after`; `None` past what an `Instant` can hold.
    fn at(&self, millis: u64, after: Duration) -> Option<Instant> {
        self.epoch
            .checked_add(Duration::from_millis(millis))?
            .checked_add(after)
    }

    /// Registers a new connection, closing the oldest one without a complete request when at
    /// the cap; `None` when every open connection holds a complete request.
    fn admit(&self) -> Option<Arc<Connection>> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.len() >= self.limits.max_connections {
            let victim = open
                .iter()
                .find(|(_, connection)| connection.complete.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id)?;
            if let Some(victim) = open.remove(&victim) {
                victim.shed.notify_one();
                self.stats.close(CloseReason::ConnectionCap);
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let now = self.now();
        let connection = Arc::new(Connection {
            id,
            in_flight: AtomicUsize::new(0),
            complete: AtomicUsize::new(0),
            // A new connection is reading its first head from the start.
            head_started: AtomicU64::new(now),
            idle_since: AtomicU64::new(now),
            changed: Notify::new(),
            shed: Notify::new(),
        });
        open.insert(id, connection.clone());
        self.stats.opened();
        Some(connection)
    }

    fn leave(&self, id: u64) {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }
}

/// `head_started` when no head is being read.
const NONE: u64 = u64::MAX;

/// One connection's state, shared by its task, its I/O and its requests.
struct Connection {
    id: u64,
    /// Requests between their head and their response.
    in_flight: AtomicUsize,
    /// Requests in flight whose body has been received whole.
    complete: AtomicUsize,
    /// When the first byte arrived while no request was in flight (a head being read), or
    /// [`NONE`].
    head_started: AtomicU64,
    /// When the last request in flight ended.
    idle_since: AtomicU64,
    /// Wakes the connection's task to recompute its deadline.
    changed: Notify,
    /// Closes the connection (shed at the cap).
    shed: Notify,
}

impl Connection {
    /// When the connection must be closed unless something happens before: `None` while a
    /// request is in flight (each request has its own timeouts), or too far to represent.
    fn deadline(&self, shared: &Shared) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let head_started = self.head_started.load(Ordering::Acquire);
        if head_started == NONE {
            shared.at(
                self.idle_since.load(Ordering::Acquire),
                shared.limits.idle_timeout,
            )
        } else {
            shared.at(head_started, shared.limits.header_timeout)
        }
    }
}

/// Removes the connection from the open set when its task ends.
struct Leave<'a>(&'a Shared, u64);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.leave(self.1);
        self.0.stats.left();
    }
}

async fn serve_connection(
    shared: Arc<Shared>,
    connection: Arc<Connection>,
    stream: TcpStream,
    mut stopping: watch::Receiver<bool>,
) {
    let _leave = Leave(&shared, connection.id);
    let stream = match &shared.tls {
        None => Stream::Plain(stream),
        Some(acceptor) => {
            let handshake =
                tokio::time::timeout(shared.limits.tls_handshake_timeout, acceptor.accept(stream));
            let stream = tokio::select! {
                handshake = handshake => match handshake {
                    Ok(Ok(stream)) => stream,
                    // Not TLS, an old protocol version, no common cipher...
                    Ok(Err(_)) => {
                        shared.stats.close(CloseReason::TlsHandshakeFailed);
                        return;
                    }
                    // ...or too slow.
                    Err(_) => {
                        shared.stats.close(CloseReason::TlsHandshakeTimeout);
                        return;
                    }
                },
                () = connection.shed.notified() => return,
            };
            // The head timeout starts now.
            let now = shared.now();
            connection.head_started.store(now, Ordering::Release);
            connection.idle_since.store(now, Ordering::Release);
            Stream::Tls(Box::new(stream))
        }
    };
    let io = TokioIo::new(Tracked {
        inner: stream,
        shared: shared.clone(),
        connection: connection.clone(),
    });
    let service = {
        let shared = shared.clone();
        let connection = connection.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            respond(shared.clone(), connection.clone(), request)
        })
    };
    let mut served = pin!(shared.builder.serve_connection(io, service));
    let mut graceful = false;
    loop {
        let deadline = connection.deadline(&shared);
        let expired = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = served.as_mut() => return,
            () = connection.shed.notified() => return,
            () = connection.changed.notified() => {}
            () = expired => {
                if connection
                    .deadline(&shared)
                    .is_some_and(|deadline| deadline <= Instant::now())
                {
                    let reason = if connection.head_started.load(Ordering::Acquire) == NONE {
                        CloseReason::Idle
                    } else {
                        CloseReason::HeaderTimeout
                    };
                    shared.stats.close(reason);
                    return;
                }
            }
            _ = stopping.wait_for(|stop| *stop), if !graceful => {
                graceful = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

/// One request: the router's answer within the body and request timeouts.
async fn respond(
    shared: Arc<Shared>,
    connection: Arc<Connection>,
    request: hyper::Request<Incoming>,
) -> Result<Response, Infallible> {
    let flight = InFlight::start(&shared, &connection);
    let version = request.version();
    let (parts, body) = request.into_parts();
    let body = Watched::new(body, flight.clone());
    let mut router = shared.router.clone();
    std::future::poll_fn(|cx| <Router as Service<Request>>::poll_ready(&mut router, cx)).await?;
    let answer = router.call(Request::from_parts(parts, Body::new(body)));
    let limits = shared.limits;
    let body_late = async {
        tokio::time::sleep(limits.body_timeout).await;
        if flight.body_received() {
            std::future::pending::<()>().await;
        }
    };
    let mut response = tokio::select! {
        biased;
        response = answer => return response,
        () = body_late => {
            shared.stats.close(CloseReason::BodyTimeout);
            (StatusCode::REQUEST_TIMEOUT, "the request body was not received in time").into_response()
        }
        () = tokio::time::sleep(limits.request_timeout) => {
            shared.stats.close(CloseReason::RequestTimeout);
            (StatusCode::SERVICE_UNAVAILABLE, "the request took too long").into_response()
        }
    };
    if version < Version::HTTP_2 {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response)
}

/// A request between its head and its response; its drop ends it.
struct InFlight {
    shared: Arc<Shared>,
    connection: Arc<Connection>,
    /// Whether the body was received whole (counted in `complete`), and whether the request
    /// has ended (nothing is counted any more).
    state: Mutex<(bool, bool)>,
}

impl InFlight {
    fn start(shared: &Arc<Shared>, connection: &Arc<Connection>) -> Arc<Self> {
        connection.in_flight.fetch_add(1, Ordering::AcqRel);
        connection.head_started.store(NONE, Ordering::Release);
        Arc::new(Self {
            shared: shared.clone(),
            connection: connection.clone(),
            state: Mutex::new((false, false)),
        })
    }

    fn body_received(&self) -> bool {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    /// The body has been received whole: the connection is no longer shed at the cap.
    fn received(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.0 && !state.1 {
            state.0 = true;
            self.connection.complete.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        state.1 = true;
        if state.0 {
            self.connection.complete.fetch_sub(1, Ordering::AcqRel);
        }
        self.connection
            .idle_since
            .store(self.shared.now(), Ordering::Release);
        if self.connection.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.connection.changed.notify_one();
        }
    }
}

/// A request body that tells its [`InFlight`] when it has been received whole.
struct Watched {
    inner: Incoming,
    flight: Option<Arc<InFlight>>,
}

impl Watched {
    fn new(inner: Incoming, flight: Arc<InFlight>) -> Self {
        let mut body = Self {
            inner,
            flight: Some(flight),
        };
        if http_body::Body::is_end_stream(&body.inner) {
            body.done();
        }
        body
    }

    fn done(&mut self) {
        if let Some(flight) = self.flight.take() {
            flight.received();
        }
    }
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.done(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.done(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection's byte stream: TCP, or TLS over TCP.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(stream) => stream.is_write_vectored(),
            Self::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The connection's stream, noting when a request head starts arriving.
struct Tracked {
    inner: Stream,
    shared: Arc<Shared>,
    connection: Arc<Connection>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before
            && self.connection.in_flight.load(Ordering::Acquire) == 0
            && self
                .connection
                .head_started
                .compare_exchange(NONE, self.shared.now(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.connection.changed.notify_one();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
