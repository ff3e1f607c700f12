//! A merchant's actix-web server for all four providers. Configuration: environment variables,
//! see `merchant_common`.
//!
//! ```text
//! HOOKBR_BONIFIQ_SECRET=s3cr3t HOOKBR_FOODY_TOKEN=t0ken cargo run --example actix_merchant
//! ```

#![allow(
    clippy::print_stdout,
    reason = "an example that prints what it would do"
)]

use actix_web::{App, HttpResponse, HttpServer};
use hookbr_actix::{IntoServiceConfig, Webhook, Webhooks};

async fn handle(Webhook(verified): Webhook) -> HttpResponse {
    println!(
        "{} {} [{}] -> {}",
        verified.provider(),
        verified.kind(),
        verified.delivery_id(),
        merchant_common::handle(verified.event())
    );
    HttpResponse::Ok().finish()
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let routes = merchant_common::routes_from_env()?;
    print!("routes:\n{}", merchant_common::describe_routes(&routes));
    let configure = routes
        .into_iter()
        .fold(Webhooks::new(), |webhooks, route| {
            webhooks.route(route.path, route.endpoint, route.verifier)
        })
        .configure(handle)?;
    let addr = merchant_common::listen_addr();
    let server = HttpServer::new(move || App::new().configure(configure.clone())).bind(&addr)?;
    println!("listening on http://{addr}");
    server.run().await?;
    Ok(())
}
