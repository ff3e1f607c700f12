//! hookbr-axum next to what an axum application already has: `State`, other extractors, and
//! tower-http's `TraceLayer` and `CompressionLayer` around the router, through a real server.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Router, extract::State, http::StatusCode, routing::get};
use hookbr_axum::{IntoRouter, Webhook, Webhooks};
use hookbr_core::{
    Secret,
    bonifiq::BonifiqEvent,
    foody::FoodyEvent,
    testkit,
    verify::{BodyTokenVerifier, HeaderSecretVerifier},
};
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

#[derive(Clone, Default)]
struct AppState {
    handled: Arc<AtomicUsize>,
}

async fn on_bonifiq(
    State(state): State<AppState>,
    Webhook(verified): Webhook<BonifiqEvent>,
) -> (StatusCode, String) {
    state.handled.fetch_add(1, Ordering::SeqCst);
    (StatusCode::CREATED, format!("handled {}", verified.kind()))
}

#[tokio::test]
async fn works_with_state_trace_and_compression() {
    let state = AppState::default();
    let webhooks: Router<AppState> = Webhooks::new()
        .bonifiq(
            "/bonifiq",
            HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap(),
        )
        .into_router(on_bonifiq)
        .unwrap();
    let foody_only: Router<AppState> = Webhooks::new()
        .foody(
            "/foody-typed",
            BodyTokenVerifier::foody([Secret::new("t").unwrap()]).unwrap(),
        )
        .into_router(
            |Webhook(verified): Webhook<FoodyEvent>| async move { verified.kind().to_owned() },
        )
        .unwrap();
    let wrong_type: Router<AppState> = Webhooks::new()
        .foody(
            "/foody-as-bonifiq",
            BodyTokenVerifier::foody([Secret::new("t").unwrap()]).unwrap(),
        )
        .into_router(|Webhook(_): Webhook<BonifiqEvent>| async { "unreachable" })
        .unwrap();
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(webhooks)
        .merge(foody_only)
        .merge(wrong_type)
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state.clone());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let delivery = testkit::bonifiq_point_add("s");
    let post = |path: &str, d: &testkit::TestDelivery| {
        let mut request = client
            .post(format!("http://{addr}{path}"))
            .body(d.body.clone());
        for (name, value) in &d.headers {
            request = request.header(name, value);
        }
        request.header("Accept-Encoding", "gzip").send()
    };
    let response = post("/bonifiq", &delivery).await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "the handler's 201 is sent as exactly 200"
    );
    let forged = post("/bonifiq", &testkit::bonifiq_point_add("guess"))
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let duplicate = post("/bonifiq", &delivery).await.unwrap();
    assert_eq!(duplicate.headers()["hookbr-duplicate"], "true");
    assert_eq!(state.handled.load(Ordering::SeqCst), 1);

    let foody = testkit::foody_status("ready", "t");
    let typed = post("/foody-typed", &foody).await.unwrap();
    assert_eq!(typed.status(), 200);
    assert_eq!(typed.text().await.unwrap(), "order_status_updated");
    let mismatch = post("/foody-as-bonifiq", &testkit::foody_status("ready", "t"))
        .await
        .unwrap();
    assert_eq!(
        mismatch.status(),
        500,
        "a handler for another provider is a programming error"
    );

    let health = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
}
