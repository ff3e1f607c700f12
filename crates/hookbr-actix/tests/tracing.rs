//! The `tracing` feature: one `delivery` span per request with the delivery's fields, and the
//! refusals at `hookbr::rejection`, through a real actix service.
#![cfg(feature = "tracing")]

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, test, web};
use hookbr_actix::WebhookMiddleware;
use hookbr_core::{Endpoint, Receiver, Secret, testkit, verify::HeaderSecretVerifier};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn traces_a_span_per_delivery() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let verifier = HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
    let receiver = Receiver::builder(Endpoint::Bonifiq, verifier)
        .build()
        .unwrap();
    let app = test::init_service(
        App::new().service(
            web::resource("/bonifiq")
                .wrap(WebhookMiddleware::new(receiver))
                .to(|| async {
                    tracing::info!("in the handler");
                    HttpResponse::Ok().finish()
                }),
        ),
    )
    .await;
    let authentic = testkit::bonifiq_point_add("s");
    let forged = testkit::bonifiq_point_add("wrong-secret");
    for delivery in [&authentic, &authentic, &forged] {
        let mut request = test::TestRequest::post()
            .uri("/bonifiq")
            .set_payload(delivery.body.clone());
        for (name, value) in &delivery.headers {
            request = request.insert_header((name.as_str(), value.as_str()));
        }
        let _ = test::call_service(&app, request.to_request()).await;
    }
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let uuid = serde_json::from_slice::<serde_json::Value>(&authentic.body).unwrap()["Uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let handler = log
        .lines()
        .find(|line| line.contains("in the handler"))
        .unwrap();
    assert!(
        handler.contains("kind=\"Point_Add\"")
            && handler.contains(&format!("delivery_id=\"{uuid}\"")),
        "{log}"
    );
    let duplicate = log
        .lines()
        .find(|line| line.contains("acknowledged"))
        .unwrap();
    assert!(duplicate.contains("outcome=\"duplicate\""), "{log}");
    let rejected = log.lines().find(|line| line.contains(" rejected")).unwrap();
    assert!(
        rejected.contains("hookbr::rejection") && rejected.contains("reason=\"invalid_secret\""),
        "{log}"
    );
    assert!(!log.contains("wrong-secret"), "{log}");
}
