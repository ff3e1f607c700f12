//! The drift tracker on the providers' examples: a stable stream shows nothing, and each kind
//! of change is reported once, counted, with a masked example.

#![cfg(all(
    feature = "bonifiq",
    feature = "foody",
    feature = "iset",
    feature = "grafeno",
    feature = "testkit"
))]

use hookbr_core::{
    Endpoint, Request, WebhookEvent,
    drift::{ChangeKind, DriftTracker},
    iset::IsetKind,
    testkit::fixture,
};

fn observe(tracker: &DriftTracker, endpoint: Endpoint, body: &[u8], at: i64) -> Vec<ChangeKind> {
    let event = WebhookEvent::decode(endpoint, &Request::new(body)).ok();
    let kind = event.as_ref().map_or("?", WebhookEvent::kind).to_owned();
    tracker
        .observe(endpoint.provider(), &kind, body, event.as_ref(), at)
        .into_iter()
        .map(|observed| observed.change)
        .collect()
}

fn fixture_bytes(path: &str) -> &'static [u8] {
    fixture(path).unwrap().as_bytes()
}

#[test]
fn a_stable_stream_shows_no_drift() {
    let tracker = DriftTracker::new();
    for round in 0..3 {
        for path in [
            "foody/status_open.json",
            "foody/status_ready.json",
            "foody/order_status_updated.json",
            "foody/status_delivered.json",
            "foody/status_closed.json",
            "foody/status_cancelled.json",
        ] {
            let changes = observe(&tracker, Endpoint::Foody, fixture_bytes(path), round);
            assert!(changes.is_empty(), "{path}: {changes:?}");
        }
        for path in [
            "grafeno/cadastro_approved.json",
            "grafeno/cadastro_rejected.json",
            "grafeno/boleto_criado.json",
            "grafeno/boleto_falha_registro.json",
        ] {
            let changes = observe(&tracker, Endpoint::Grafeno, fixture_bytes(path), round);
            assert!(changes.is_empty(), "{path}: {changes:?}");
        }
    }
    assert!(tracker.records().is_empty());
}

#[test]
fn each_change_is_reported_counted_and_masked() {
    let tracker = DriftTracker::new();
    let bonifiq = |path: &str, at| observe(&tracker, Endpoint::Bonifiq, fixture_bytes(path), at);
    assert!(bonifiq("bonifiq/point_add_legacy.json", 1).is_empty());
    // `Payload.Points` as a string: the decode drifts and the type changed.
    let changes = bonifiq("bonifiq/drifted_point_add.json", 2);
    assert!(changes.contains(&ChangeKind::Drifted), "{changes:?}");
    assert!(changes.contains(&ChangeKind::TypeChange), "{changes:?}");
    // An unknown topic, twice: one record, counted twice.
    assert_eq!(
        bonifiq("bonifiq/unknown_topic.json", 3),
        [ChangeKind::UnknownKind]
    );
    assert_eq!(
        bonifiq("bonifiq/unknown_topic.json", 4),
        [ChangeKind::UnknownKind]
    );

    // Foody: a status outside the lifecycle, and a new field.
    let foody = |body: &str, at| observe(&tracker, Endpoint::Foody, body.as_bytes(), at);
    let body = |status: &str, extra: &str| {
        format!(
            r#"{{"uid":"4228df3a-a54a-40d7-b30f-1385eca4c3dd","updateDate":"2020-06-19T17:42:12Z","event":"order_status_updated","token":"2b100082b90d4ad9b4fezzed960cf652","status":"{status}"{extra}}}"#
        )
    };
    assert!(foody(&body("open", ""), 5).is_empty());
    assert_eq!(foody(&body("em_rota", ""), 6), [ChangeKind::UnknownStatus]);
    let with_customer = body("ready", r#","customerEmail":"joao@example.com""#);
    assert_eq!(foody(&with_customer, 7), [ChangeKind::NewField]);
    assert_eq!(foody(&with_customer, 8), [ChangeKind::NewField]);

    // iSET form bodies are tracked by field name.
    let iset = Endpoint::Iset(IsetKind::OrderUpserted);
    assert!(observe(&tracker, iset, b"pedido_id=1&status=pago", 9).is_empty());
    assert_eq!(
        observe(&tracker, iset, b"pedido_id=2&status=pago&cupom=X", 10),
        [ChangeKind::NewField]
    );

    let records = tracker.records();
    let find = |change: ChangeKind, detail: &str| {
        records
            .iter()
            .find(|record| record.change == change && record.detail.contains(detail))
            .unwrap_or_else(|| panic!("no {change:?} {detail}: {records:#?}"))
    };
    let unknown = find(ChangeKind::UnknownKind, "Order_Created");
    assert_eq!(
        (unknown.count, unknown.first_seen_ms, unknown.last_seen_ms),
        (2, 3, 4)
    );
    assert!(!unknown.example.contains("teste@bonifiq.com.br"));
    assert!(unknown.example.contains("t***@b***.com.br"));
    find(ChangeKind::TypeChange, "Payload.Points: number → string");
    let new_field = find(ChangeKind::NewField, "customerEmail");
    assert_eq!(new_field.count, 2);
    assert!(
        !new_field.example.contains("joao@example.com"),
        "{}",
        new_field.example
    );
    assert!(
        !new_field
            .example
            .contains("2b100082b90d4ad9b4fezzed960cf652")
    );
    find(ChangeKind::UnknownStatus, "em_rota");
    find(ChangeKind::NewField, "cupom");
    // Most recently seen first.
    assert_eq!(records[0].detail, "cupom");
}
