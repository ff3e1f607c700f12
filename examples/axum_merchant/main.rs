//! A merchant's axum server for all four providers. Configuration: environment variables, see
//! `merchant_common`.
//!
//! ```text
//! HOOKBR_BONIFIQ_SECRET=s3cr3t HOOKBR_FOODY_TOKEN=t0ken cargo run --example axum_merchant
//! ```

#![allow(
    clippy::print_stdout,
    reason = "an example that prints what it would do"
)]

use axum::http::StatusCode;
use hookbr_axum::{IntoRouter, Webhook, Webhooks};

async fn handle(Webhook(verified): Webhook) -> StatusCode {
    println!(
        "{} {} [{}] -> {}",
        verified.provider(),
        verified.kind(),
        verified.delivery_id(),
        merchant_common::handle(verified.event())
    );
    StatusCode::OK
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let routes = merchant_common::routes_from_env()?;
    print!("routes:\n{}", merchant_common::describe_routes(&routes));
    let app = routes
        .into_iter()
        .fold(Webhooks::new(), |webhooks, route| {
            webhooks.route(route.path, route.endpoint, route.verifier)
        })
        .into_router(handle)?;
    let addr = merchant_common::listen_addr();
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // Timeouts, a connection cap, header limits and HTTP/1.1 only: safe on a public port.
    hookbr_axum::serve(listener, app)
        .limits(hookbr_axum::ConnectionLimits::default())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
