//! Real servers on 127.0.0.1:0 for both adapters, configured identically: the four providers'
//! routes (and a second BonifiQ route, `/bonifiq-b`, for per-endpoint deduplication), one
//! handler whose behaviour a test picks with the `X-Test-Behavior` request header, and call
//! counters per delivery id.

use std::{
    collections::HashMap,
    net::{SocketAddr, TcpListener},
    sync::{Arc, Mutex},
};

use hookbr_core::{
    IdempotencyStore, Verified,
    iset::IsetKind,
    testkit::TestKey,
    verify::{BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier, UrlSecretVerifier},
};

use crate::support::{
    BONIFIQ_SECRET, BONIFIQ_SECRET_NEW, FOODY_TOKEN, FOODY_TOKEN_NEW, ISET_TOKEN, secret,
};

/// The body limit of the test servers.
pub(crate) const LIMIT: usize = 4096;

/// Which adapter serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Adapter {
    Axum,
    Actix,
}

/// What the handler saw: calls per delivery id; and the gate `hold` handlers wait on.
#[derive(Debug, Default)]
pub(crate) struct Calls(Mutex<HashMap<String, usize>>, tokio::sync::Notify);

impl Calls {
    /// Lets one `hold` handler finish.
    pub(crate) fn release_one(&self) {
        self.1.notify_one();
    }

    fn record(&self, id: &str) -> usize {
        let mut calls = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = calls.entry(id.to_owned()).or_default();
        *count += 1;
        *count
    }

    /// How often the handler ran for `id`.
    pub(crate) fn of(&self, id: &str) -> usize {
        let calls = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        calls.get(id).copied().unwrap_or(0)
    }

    /// How often the handler ran in all.
    pub(crate) fn total(&self) -> usize {
        let calls = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        calls.values().sum()
    }
}

/// The handler's behaviour for one call: `ok` (200), `created` (201), `fail-first` (500 on the
/// first call for a delivery id), `panic-first` (panics on the first call), `hold` (200 once the
/// test calls [`Calls::release_one`], to keep a delivery in flight).
async fn behave(calls: &Calls, verified: &Verified, behavior: &str) -> u16 {
    let count = calls.record(verified.delivery_id().as_str());
    match behavior {
        "created" => 201,
        "fail-first" if count == 1 => 500,
        "panic-first" if count == 1 => panic!("handler panics on purpose"),
        "hold" => {
            calls.1.notified().await;
            200
        }
        _ => 200,
    }
}

/// A running server.
pub(crate) struct Server {
    pub(crate) adapter: Adapter,
    pub(crate) addr: SocketAddr,
    pub(crate) calls: Arc<Calls>,
    stop: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Server {
    /// `http://127.0.0.1:port` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// Every route of the test servers: (path, provider setup).
fn webhooks<W>(new: impl FnOnce() -> W, route: impl Fn(W, &str, Route) -> W) -> W {
    let mut w = new();
    for (path, r) in routes() {
        w = route(w, path, r);
    }
    w
}

/// One route's provider and verifier.
pub(crate) enum Route {
    Bonifiq(HeaderSecretVerifier),
    Foody(BodyTokenVerifier),
    Iset(IsetKind, UrlSecretVerifier),
    Grafeno(GrafenoVerifier),
}

fn routes() -> Vec<(&'static str, Route)> {
    vec![
        (
            "/bonifiq",
            Route::Bonifiq(
                HeaderSecretVerifier::bonifiq([secret(BONIFIQ_SECRET), secret(BONIFIQ_SECRET_NEW)])
                    .expect("valid"),
            ),
        ),
        (
            "/bonifiq-b",
            Route::Bonifiq(HeaderSecretVerifier::bonifiq([secret(BONIFIQ_SECRET)]).expect("valid")),
        ),
        (
            "/foody",
            Route::Foody(
                BodyTokenVerifier::foody([secret(FOODY_TOKEN), secret(FOODY_TOKEN_NEW)])
                    .expect("valid"),
            ),
        ),
        (
            "/iset/order_upserted",
            Route::Iset(
                IsetKind::OrderUpserted,
                UrlSecretVerifier::query_param("token", [secret(ISET_TOKEN)]).expect("valid"),
            ),
        ),
        (
            "/grafeno",
            Route::Grafeno(
                GrafenoVerifier::new([
                    TestKey::other_2048().public_key(),
                    TestKey::rsa_2048().public_key(),
                ])
                .expect("valid"),
            ),
        ),
    ]
}

macro_rules! mount {
    ($w:expr, $path:expr, $route:expr) => {
        match $route {
            Route::Bonifiq(v) => $w.bonifiq($path, v),
            Route::Foody(v) => $w.foody($path, v),
            Route::Iset(kind, v) => $w.iset($path, kind, v),
            Route::Grafeno(v) => $w.grafeno($path, v),
        }
    };
}

/// Starts a server of `adapter` with every route; `strict` turns on strict decoding.
pub(crate) async fn start(adapter: Adapter, strict: bool) -> Server {
    start_with(adapter, strict, None).await
}

/// Like [`start`], with the idempotency store shared by the routes (default: in memory).
pub(crate) async fn start_with(
    adapter: Adapter,
    strict: bool,
    store: Option<Arc<dyn IdempotencyStore>>,
) -> Server {
    match adapter {
        Adapter::Axum => start_axum(strict, store, Some(LIMIT)).await,
        Adapter::Actix => start_actix(strict, store, Some(LIMIT)),
    }
}

/// Like [`start`], with every endpoint's default body limit (1 MiB for BonifiQ and iSET,
/// 64 KiB for Foody and Grafeno) instead of [`LIMIT`].
pub(crate) async fn start_with_default_limits(adapter: Adapter) -> Server {
    match adapter {
        Adapter::Axum => start_axum(false, None, None).await,
        Adapter::Actix => start_actix(false, None, None),
    }
}

async fn start_axum(
    strict: bool,
    store: Option<Arc<dyn IdempotencyStore>>,
    limit: Option<usize>,
) -> Server {
    use axum::http::{HeaderMap, StatusCode};
    use hookbr_axum::{IntoRouter, Webhook, Webhooks};

    let calls = Arc::new(Calls::default());
    let state = calls.clone();
    let handler = move |Webhook(verified): Webhook, headers: HeaderMap| {
        let calls = state.clone();
        async move {
            let behavior = headers
                .get("x-test-behavior")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("ok")
                .to_owned();
            let status = behave(&calls, &verified, &behavior).await;
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
        }
    };
    let router = webhooks(
        || {
            let mut webhooks = Webhooks::new().strict(strict);
            if let Some(limit) = limit {
                webhooks = webhooks.body_limit(limit);
            }
            match store {
                Some(store) => webhooks.store(store),
                None => webhooks,
            }
        },
        |w, path, route| mount!(w, path, route),
    )
    .into_router(handler)
    .expect("valid configuration");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await;
    });
    Server {
        adapter: Adapter::Axum,
        addr,
        calls,
        stop: Some(Box::new(move || {
            let _ = stop_tx.send(());
        })),
    }
}

fn start_actix(
    strict: bool,
    store: Option<Arc<dyn IdempotencyStore>>,
    limit: Option<usize>,
) -> Server {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, http::StatusCode};
    use hookbr_actix::{IntoServiceConfig, Webhook, Webhooks};

    let calls = Arc::new(Calls::default());
    let state = calls.clone();
    let handler = move |Webhook(verified): Webhook, request: HttpRequest| {
        let calls = state.clone();
        async move {
            let behavior = request
                .headers()
                .get("x-test-behavior")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("ok")
                .to_owned();
            let status = behave(&calls, &verified, &behavior).await;
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK)).finish()
        }
    };
    let configure = webhooks(
        || {
            let mut webhooks = Webhooks::new().strict(strict);
            if let Some(limit) = limit {
                webhooks = webhooks.body_limit(limit);
            }
            match store {
                Some(store) => webhooks.store(store),
                None => webhooks,
            }
        },
        |w, path, route| mount!(w, path, route),
    )
    .configure(handler)
    .expect("valid configuration");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || App::new().configure(configure.clone()))
                .workers(2)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
            let _ = handle_tx.send(server.handle());
            let _ = server.await;
        });
    });
    let handle = handle_rx.recv().expect("actix server starts");
    Server {
        adapter: Adapter::Actix,
        addr,
        calls,
        stop: Some(Box::new(move || {
            // Stopping needs a runtime; a short-lived one is enough.
            std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(handle.stop(false));
            });
        })),
    }
}
