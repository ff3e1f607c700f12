//! The actix-web servers: `actix-bare` and `actix-hookbr`, one worker each.

use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, http::StatusCode, web};
use hookbr_actix::{IntoServiceConfig, Webhook};

use crate::{BONIFIQ_PATH, FOODY_PATH, GRAFENO_PATH, baseline::RsaBaseline};

async fn bare(_body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok().finish()
}

async fn bare_rsa(
    request: HttpRequest,
    body: web::Bytes,
    baseline: web::Data<RsaBaseline>,
) -> HttpResponse {
    let unique_key = request
        .headers()
        .get("x-unique-key")
        .map(actix_web::http::header::HeaderValue::as_bytes);
    let status = baseline.verify(unique_key, &body);
    HttpResponse::new(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
}

async fn handler(Webhook(_verified): Webhook) -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// Serves `mode` (`actix-bare` or `actix-hookbr`) on `addr` with one worker until SIGTERM or
/// SIGINT.
pub(crate) fn serve(mode: &str, addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mode = mode.to_owned();
    let addr = addr.to_owned();
    actix_web::rt::System::new().block_on(async move {
        match mode.as_str() {
            "actix-bare" => {
                let baseline = web::Data::from(Arc::new(RsaBaseline::new()?));
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(baseline.clone())
                        .route(BONIFIQ_PATH, web::post().to(bare))
                        .route(FOODY_PATH, web::post().to(bare))
                        .route(GRAFENO_PATH, web::post().to(bare_rsa))
                })
                .workers(1)
                .shutdown_timeout(1)
                .bind(&addr)?;
                announce(&mode, &server.addrs());
                server.run().await?;
            }
            "actix-hookbr" => {
                let configure = crate::webhooks()?.configure(handler)?;
                let server = HttpServer::new(move || App::new().configure(configure.clone()))
                    .workers(1)
                    .shutdown_timeout(1)
                    .bind(&addr)?;
                announce(&mode, &server.addrs());
                server.run().await?;
            }
            other => return Err(format!("unknown actix mode {other:?}").into()),
        }
        Ok(())
    })
}

#[allow(clippy::print_stdout, reason = "the scripts wait for this line")]
fn announce(mode: &str, addrs: &[std::net::SocketAddr]) {
    if let Some(addr) = addrs.first() {
        println!("{mode} listening on {addr}");
    }
}
