//! `bench-server <mode> <addr> [database]`: a server for load measurements and crash tests on
//! loopback.
//!
//! | mode | route | what runs |
//! |---|---|---|
//! | `bare` | `POST /bonifiq` | axum only: `async fn(Bytes) -> StatusCode::OK`, the upper limit |
//! | `hookbr` | `POST /bonifiq` | hookbr-axum direct mode: header secret, decode, in-memory dedup |
//! | `inbox-sqlite` | `POST /bonifiq` | hookbr-axum inbox mode on the SQLite file `database`, plus a worker |
//! | `inbox-postgres` | `POST /bonifiq` | the same on PostgreSQL, `database` being its URL |
//! | `redis-direct` | `POST /bonifiq` | direct mode with dedup shared on Redis (`database` = URL), 20 ms handler |
//!
//! The secret is `bench-secret`. Runs until killed (SIGTERM or SIGINT stop it gracefully).

#![allow(clippy::print_stdout, reason = "a command-line tool")]

use std::sync::Arc;

use axum::{Router, http::StatusCode, routing::post};
use bytes::Bytes;
use hookbr_axum::{IntoRouter, Webhook, Webhooks};
use hookbr_core::inbox::Inbox;
use hookbr_core::{Secret, verify::HeaderSecretVerifier};
use hookbr_store::{
    PostgresInbox, RedisStore, SqliteInbox,
    worker::{Delivered, Worker, WorkerOptions},
};

async fn bare(_body: Bytes) -> StatusCode {
    StatusCode::OK
}

async fn handler(Webhook(_verified): Webhook) -> StatusCode {
    StatusCode::OK
}

/// 20 ms of "work", so that concurrent copies overlap the first one.
async fn slow_handler(Webhook(_verified): Webhook) -> StatusCode {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    StatusCode::OK
}

fn webhooks() -> Result<Webhooks, Box<dyn std::error::Error>> {
    Ok(Webhooks::new().bonifiq(
        "/bonifiq",
        HeaderSecretVerifier::bonifiq([Secret::new("bench-secret")?])?,
    ))
}

async fn shutdown() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench-server <bare|hookbr|inbox-sqlite|inbox-postgres|redis-direct> <addr> [database]";
    let mode = args.next().ok_or(usage)?;
    let addr = args.next().ok_or(usage)?;
    let database = args.next();
    // One worker thread: the scripts pin the server to one core and the load to the other.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut worker = None;
        let app: Router = match mode.as_str() {
            "bare" => Router::new().route("/bonifiq", post(bare)),
            "hookbr" => webhooks()?.into_router(handler)?,
            "redis-direct" => {
                let url = database.ok_or("redis-direct needs a Redis URL")?;
                let store = RedisStore::connect(&url).await?;
                webhooks()?
                    .store(Arc::new(store))
                    .into_router(slow_handler)?
            }
            "inbox-sqlite" | "inbox-postgres" => {
                let database = database.ok_or("inbox modes need a database path or URL")?;
                let inbox: Arc<dyn Inbox> = if mode == "inbox-sqlite" {
                    Arc::new(SqliteInbox::open(database)?)
                } else {
                    Arc::new(PostgresInbox::connect(&database).await?)
                };
                let mut options = WorkerOptions::default();
                // Crash tests shorten the lease so rows of a killed process come back quickly.
                if let Some(ms) = std::env::var("HOOKBR_WORKER_LEASE_MS")
                    .ok()
                    .and_then(|ms| ms.parse().ok())
                {
                    options.lease = std::time::Duration::from_millis(ms);
                }
                worker = Some(Worker::new(
                    inbox.clone(),
                    |_: Delivered| async { Ok::<(), String>(()) },
                    options,
                ));
                webhooks()?.inbox(inbox).into_router(handler)?
            }
            other => return Err(format!("unknown mode {other:?}; {usage}").into()),
        };
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("{mode} listening on {}", listener.local_addr()?);
        let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown());
        match worker {
            Some(worker) => {
                let (served, ()) = tokio::join!(serve, worker.run(shutdown()));
                served?;
            }
            None => serve.await?,
        }
        Ok(())
    })
}
