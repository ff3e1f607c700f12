//! Entity keys and positions on the providers' examples (`crates/hookbr-core/fixtures`, the
//! seeds' examples and the bodies built from providers.md), as docs/ENTITIES.md states them.

#![cfg(all(
    feature = "bonifiq",
    feature = "foody",
    feature = "iset",
    feature = "grafeno",
    feature = "testkit"
))]

use std::cmp::Ordering;

use hookbr_core::{
    Endpoint, Request, Timestamp, WebhookEvent,
    entity::{self, Entity, Position},
    iset::IsetKind,
    testkit::fixture,
};

fn decode(endpoint: Endpoint, path: &str) -> WebhookEvent {
    let body = fixture(path).unwrap_or_else(|| panic!("no fixture {path}"));
    WebhookEvent::decode(endpoint, &Request::new(body.as_bytes())).unwrap()
}

fn entity_of(event: &WebhookEvent) -> Option<(&'static str, String)> {
    event.entity().map(|Entity { kind, id, .. }| (kind, id))
}

fn at(text: &str) -> Option<Timestamp> {
    Some(Timestamp::parse(text).unwrap())
}

const FOODY_ORDER_UID: &str = "4228df3a-a54a-40d7-b30f-1385eca4c3dd";

/// The seed's order through its documented lifecycle, in order.
const FOODY_LIFECYCLE: [&str; 5] = [
    "foody/status_open.json",
    "foody/status_ready.json",
    "foody/order_status_updated.json", // dispatched: seed 002's own example
    "foody/status_delivered.json",
    "foody/status_closed.json",
];

#[test]
fn foody_orders() {
    for (rank, path) in FOODY_LIFECYCLE.iter().enumerate() {
        let event = decode(Endpoint::Foody, path);
        assert_eq!(
            entity_of(&event),
            Some((entity::FOODY_ORDER, FOODY_ORDER_UID.to_owned())),
            "{path}"
        );
        let position = event.position().unwrap();
        assert_eq!(position.rank, Some(u8::try_from(rank).unwrap()), "{path}");
        assert_eq!(position.at, event.occurred_at(), "{path}");
        assert_eq!(position.terminal, rank == 4, "{path}");
    }
    let dispatched = decode(Endpoint::Foody, "foody/order_status_updated.json");
    assert_eq!(
        dispatched.position().unwrap().at,
        at("2020-06-19T17:42:12Z")
    );

    // Both spellings of cancelled: terminal, same rank as closed, and (same instant, written
    // with two offsets) equal positions.
    let cancelled = decode(Endpoint::Foody, "foody/status_cancelled.json");
    let canceled = decode(Endpoint::Foody, "foody/status_canceled.json");
    let (a, b) = (cancelled.position().unwrap(), canceled.position().unwrap());
    assert!(a.terminal && b.terminal);
    assert_eq!(a.rank, Some(4));
    assert_eq!(a.compare(&b), Some(Ordering::Equal));
    assert_eq!(cancelled.entity(), canceled.entity());
    assert_ne!(cancelled.entity(), dispatched.entity());

    // The handshake is about no order; an undocumented event gets no key.
    let hook_test = decode(Endpoint::Foody, "foody/hook_test.json");
    assert_eq!((hook_test.entity(), hook_test.position()), (None, None));
    let unknown = decode(Endpoint::Foody, "foody/unknown_event.json");
    assert_eq!((unknown.entity(), unknown.position()), (None, None));
}

/// Every order of the five lifecycle deliveries sorts back to the lifecycle.
#[test]
fn shuffled_foody_sequences_sort_back() {
    let events: Vec<Position> = FOODY_LIFECYCLE
        .iter()
        .map(|path| decode(Endpoint::Foody, path).position().unwrap())
        .collect();
    let mut indexes: Vec<usize> = (0..events.len()).collect();
    let mut permutations = 0;
    // Heap's algorithm, iteratively: all 120 orders.
    let mut counters = vec![0_usize; indexes.len()];
    let mut check = |order: &[usize]| {
        let mut sorted = order.to_vec();
        sorted.sort_by(|a, b| events[*a].compare(&events[*b]).unwrap());
        assert_eq!(sorted, [0, 1, 2, 3, 4], "from {order:?}");
        permutations += 1;
    };
    check(&indexes);
    let mut i = 0;
    while i < indexes.len() {
        if counters[i] < i {
            if i % 2 == 0 {
                indexes.swap(0, i);
            } else {
                indexes.swap(counters[i], i);
            }
            check(&indexes);
            counters[i] += 1;
            i = 0;
        } else {
            counters[i] = 0;
            i += 1;
        }
    }
    assert_eq!(permutations, 120);
}

/// A delivery with the same `updateDate` but a later status comes after; a drifted body with a
/// `uid` keeps its key.
#[test]
fn foody_ties_and_drift() {
    let body = |status: &str, date: &str| {
        format!(
            r#"{{"uid":"{FOODY_ORDER_UID}","updateDate":"{date}","event":"order_status_updated","token":"t","status":"{status}"}}"#
        )
    };
    let decode_text =
        |text: &str| WebhookEvent::decode(Endpoint::Foody, &Request::new(text.as_bytes())).unwrap();
    let ready = decode_text(&body("ready", "2020-06-19T17:42:12Z"))
        .position()
        .unwrap();
    let dispatched = decode_text(&body("dispatched", "2020-06-19T17:42:12Z"))
        .position()
        .unwrap();
    assert!(ready.precedes(&dispatched));
    // An unknown status has no rank: only the time orders it.
    let other = decode_text(&body("em_preparo", "2020-06-19T17:42:12Z"))
        .position()
        .unwrap();
    assert_eq!(other.rank, None);
    assert_eq!(other.compare(&ready), Some(Ordering::Equal));
    // Drifted (`updateDate` is not a date): the key stays, the position keeps only the rank.
    let drifted = decode_text(&body("delivered", "ontem"));
    assert!(drifted.drift().is_some());
    assert_eq!(drifted.entity().unwrap().id, FOODY_ORDER_UID);
    let position = drifted.position().unwrap();
    assert_eq!((position.at, position.rank), (None, Some(3)));
}

#[test]
fn bonifiq_customers() {
    // Seed 000's example: Customer.Id "152740926", Timestamp without offset (UTC).
    let event = decode(Endpoint::Bonifiq, "bonifiq/point_add_legacy.json");
    assert_eq!(
        entity_of(&event),
        Some((entity::BONIFIQ_CUSTOMER, "152740926".to_owned()))
    );
    let position = event.position().unwrap();
    assert_eq!(position.at, at("2024-03-01T13:16:11.396371Z"));
    assert_eq!((position.rank, position.terminal), (None, false));

    // BQ-COMM's examples send `"Id": null`: no key, but still a time.
    let event = decode(
        Endpoint::Bonifiq,
        "bonifiq/earn_purchase_points_legacy.json",
    );
    assert_eq!(event.entity(), None);
    assert_eq!(
        event.position().unwrap().at,
        at("2024-06-20T16:50:13.3951893Z")
    );

    // Unknown topics and drifted payloads still carry the documented Customer object.
    let unknown = decode(Endpoint::Bonifiq, "bonifiq/unknown_topic.json");
    assert_eq!(unknown.entity().unwrap().id, "152740926");
    let drifted = decode(Endpoint::Bonifiq, "bonifiq/drifted_point_add.json");
    assert!(drifted.drift().is_some());
    assert_eq!(drifted.entity().unwrap().id, "152740926");

    // A numeric Id is kept as its text.
    let numeric = WebhookEvent::decode(
        Endpoint::Bonifiq,
        &Request::new(
            br#"{"Uuid":"u","Timestamp":"2025-04-15T14:30:00.123Z","Topic":"Point_Add","Payload":{"Points":1,"Customer":{"Id":42}}}"#,
        ),
    )
    .unwrap();
    assert_eq!(numeric.entity().unwrap().id, "42");

    // Custom bodies have neither.
    let custom = decode(Endpoint::Bonifiq, "bonifiq/custom_body.json");
    assert_eq!((custom.entity(), custom.position()), (None, None));
}

#[test]
fn grafeno_registrations_and_charges() {
    for (path, id) in [
        (
            "grafeno/cadastro_approved.json",
            "4056455d-8614-45a9-adf5-1592c28499fc",
        ),
        (
            "grafeno/cadastro_validation_pendencies.json",
            "8ecd3308-f779-4c95-830e-49a5f767ebc2",
        ),
        (
            "grafeno/cadastro_rejected.json",
            "17e4ae95-9348-4089-8870-4d4d2de61e49",
        ),
    ] {
        let event = decode(Endpoint::Grafeno, path);
        assert_eq!(
            entity_of(&event),
            Some((entity::GRAFENO_REGISTRATION, id.to_owned())),
            "{path}"
        );
        // Seed 004: no timestamp in a registration notification, and no documented order.
        assert_eq!(event.position(), None, "{path}");
    }
    let charge = decode(Endpoint::Grafeno, "grafeno/boleto_criado.json");
    assert_eq!(
        entity_of(&charge),
        Some((
            entity::GRAFENO_CHARGE,
            "5f0c2a7e-8b3d-4c1a-9e6f-2d7b8a9c0e1f".to_owned()
        ))
    );
    let position = charge.position().unwrap();
    assert_eq!(position.at, at("2026-03-10T10:15:02.311-03:00"));
    assert_eq!(position.rank, None);
    for path in [
        "grafeno/boleto_falha_registro.json",
        "grafeno/cobranca_atualizacao.json",
        "grafeno/atualizacao_cobranca.json",
    ] {
        let event = decode(Endpoint::Grafeno, path);
        assert_eq!(
            event.entity().unwrap().kind,
            entity::GRAFENO_CHARGE,
            "{path}"
        );
    }
    let unknown = decode(Endpoint::Grafeno, "grafeno/unknown_change.json");
    assert_eq!((unknown.entity(), unknown.position()), (None, None));
}

#[test]
fn iset_entities_have_no_position() {
    for (kind, path, entity_kind) in [
        (
            IsetKind::OrderUpserted,
            "iset/order_upserted.json",
            entity::ISET_ORDER,
        ),
        (
            IsetKind::OrderUpserted,
            "iset/order_upserted_form.txt",
            entity::ISET_ORDER,
        ),
        (
            IsetKind::OrderDeleted,
            "iset/order_deleted.json",
            entity::ISET_ORDER,
        ),
        (
            IsetKind::ProductUpserted,
            "iset/product_upserted.json",
            entity::ISET_PRODUCT,
        ),
        (
            IsetKind::ProductDeleted,
            "iset/product_deleted.json",
            entity::ISET_PRODUCT,
        ),
        (
            IsetKind::StockChanged,
            "iset/stock_changed.json",
            entity::ISET_STOCK,
        ),
        (
            IsetKind::CategoryUpserted,
            "iset/category_upserted.json",
            entity::ISET_CATEGORY,
        ),
        (
            IsetKind::CategoryDeleted,
            "iset/category_deleted.json",
            entity::ISET_CATEGORY,
        ),
    ] {
        let event = decode(Endpoint::Iset(kind), path);
        let found = event
            .entity()
            .unwrap_or_else(|| panic!("{path}: no entity"));
        assert_eq!(found.kind, entity_kind, "{path}");
        let WebhookEvent::Iset(iset) = &event else {
            unreachable!()
        };
        assert_eq!(Some(found.id.as_str()), iset.entity_id(), "{path}");
        assert_eq!(event.position(), None, "{path}");
    }
    let no_id = WebhookEvent::decode(
        Endpoint::Iset(IsetKind::OrderUpserted),
        &Request::new(br#"{"status":"pago"}"#),
    )
    .unwrap();
    assert_eq!(no_id.entity(), None);
}

#[test]
fn every_kind_is_listed() {
    for kind in entity::KINDS {
        let (provider, object) = kind.split_once('.').unwrap();
        assert!(provider.parse::<hookbr_core::Provider>().is_ok(), "{kind}");
        assert!(!object.is_empty());
    }
}
