//! `/healthz` and `/readyz` on the admin listener, for load balancers and Kubernetes probes.
//!
//! Both answer without the admin token and whatever the `Host` (a load balancer probes with its
//! own), so they reveal nothing but fixed words: which check failed and a category, never an
//! error's text, an address, a path or a count.
//!
//! * `/healthz`: `200 {"status":"alive"}` while the process serves the admin listener.
//! * `/readyz`: `200 {"status":"ready","checks":{...}}` when every check passes, else `503
//!   {"status":"not ready","checks":{...}}` naming each check's state:
//!   * `listener`: the receiver is still serving its bound listener (`ok`, else `stopped`);
//!   * `inbox` (inbox mode): a primary-key lookup answers within [`INBOX_TIMEOUT`] (`ok`, else
//!     `unreachable: timed out` or `unreachable: query failed`; the error goes to the log);
//!   * `worker` (inbox mode): the worker task is running (`ok`, else `stopped`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use hookbr_core::Inbox;
use serde_json::{Map, Value, json};

use crate::lifecycle::log;

/// How long `/readyz` waits for the inbox.
pub(crate) const INBOX_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether a task is still running: true from [`Alive::new`] until the future given to
/// [`Alive::watch`] ends, panics or is dropped (aborted).
#[derive(Debug, Clone)]
pub(crate) struct Alive(Arc<AtomicBool>);

impl Alive {
    /// A task about to be started.
    pub(crate) fn new() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }

    /// Whether the task is still running.
    pub(crate) fn is_running(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// `task`, marking this not running when it ends however it ends.
    pub(crate) fn watch<F: Future>(&self, task: F) -> impl Future<Output = F::Output> + use<F> {
        let ended = Ended(self.0.clone());
        async move {
            let _ended = ended;
            task.await
        }
    }
}

/// Marks its task ended when dropped.
struct Ended(Arc<AtomicBool>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// What `/readyz` checks.
#[derive(Debug, Clone)]
pub(crate) struct Readiness {
    /// The receiver's serving task.
    pub(crate) receiver: Alive,
    /// The inbox, in inbox mode.
    pub(crate) inbox: Option<Arc<dyn Inbox>>,
    /// The worker's task, in inbox mode.
    pub(crate) worker: Option<Alive>,
}

/// The two routes, outside the admin token and `Host` rules.
pub(crate) fn routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

fn answer(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn healthz() -> Response {
    answer(StatusCode::OK, json!({"status": "alive"}))
}

async fn readyz(State(readiness): State<Readiness>) -> Response {
    let mut checks = Map::new();
    let mut ready = true;
    let mut check = |name: &str, state: Result<(), &'static str>| {
        ready &= state.is_ok();
        checks.insert(name.to_owned(), Value::from(state.err().unwrap_or("ok")));
    };
    check(
        "listener",
        if readiness.receiver.is_running() {
            Ok(())
        } else {
            Err("stopped")
        },
    );
    if let Some(inbox) = &readiness.inbox {
        let state = match tokio::time::timeout(INBOX_TIMEOUT, inbox.get(0)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                log(&format!("readiness: the inbox failed: {error}"));
                Err("unreachable: query failed")
            }
            Err(_) => {
                log("readiness: the inbox did not answer within 2 s");
                Err("unreachable: timed out")
            }
        };
        check("inbox", state);
    }
    if let Some(worker) = &readiness.worker {
        check(
            "worker",
            if worker.is_running() {
                Ok(())
            } else {
                Err("stopped")
            },
        );
    }
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    };
    answer(status, json!({"status": word, "checks": checks}))
}
