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
use hookbr_actix::{ConnectionLimits, IntoServiceConfig, Webhook, Webhooks, serve};

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
    let listener = std::net::TcpListener::bind(&addr)?;
    println!("listening on http://{}", listener.local_addr()?);
    // Timeouts, a connection cap and HTTP/1.1 only, as far as actix-web can bound them (see
    // hookbr_actix::serve): two workers share the connection cap.
    let limits = ConnectionLimits::default();
    let server = HttpServer::new(move || App::new().configure(configure.clone()));
    serve::listen(serve::bounded(server, &limits, 2), listener, &limits)?
        .run()
        .await?;
    Ok(())
}
