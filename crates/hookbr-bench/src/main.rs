//! `bench-server <mode> <addr>`: a server for load measurements on loopback.
//!
//! | mode | route | what runs |
//! |---|---|---|
//! | `bare` | `POST /bonifiq` | axum only: `async fn(Bytes) -> StatusCode::OK`, the upper limit |
//! | `hookbr` | `POST /bonifiq` | hookbr-axum: BonifiQ header secret, decode, in-memory dedup |
//!
//! The secret is `bench-secret`. Runs until killed; `scripts/bench-adapters` drives it with wrk.

#![allow(clippy::print_stdout, reason = "a command-line tool")]

use axum::{Router, http::StatusCode, routing::post};
use bytes::Bytes;
use hookbr_axum::{Webhook, Webhooks};
use hookbr_core::{Secret, verify::HeaderSecretVerifier};

async fn bare(_body: Bytes) -> StatusCode {
    StatusCode::OK
}

async fn handler(Webhook(_verified): Webhook) -> StatusCode {
    StatusCode::OK
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench-server <bare|hookbr> <addr>";
    let mode = args.next().ok_or(usage)?;
    let addr = args.next().ok_or(usage)?;
    let app: Router = match mode.as_str() {
        "bare" => Router::new().route("/bonifiq", post(bare)),
        "hookbr" => Webhooks::new()
            .bonifiq(
                "/bonifiq",
                HeaderSecretVerifier::bonifiq([Secret::new("bench-secret")?])?,
            )
            .into_router(handler)?,
        other => return Err(format!("unknown mode {other:?}; {usage}").into()),
    };
    // One worker thread: the script pins the server to one core and the load to the other.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("{mode} listening on {}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
