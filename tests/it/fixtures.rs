//! Every file under `crates/hookbr-core/fixtures/` decodes to the right typed event, field by
//! field; events serialize with the wire field names and without tokens or signatures.

use hookbr_core::{
    DeliveryId, Endpoint, ParseError, Provider, Request, WebhookEvent,
    bonifiq::{
        BonifiqEnvelope, BonifiqEvent, BonifiqPayload, BonifiqTopic, EarnPointsPayload,
        ObjectiveType, PointAction, PointPayload, PointType, PointsBalance, TopicField,
    },
    foody::{FoodyEvent, FoodyStatus},
    grafeno::{
        self, Amount, Boleto, Charge, GrafenoChange, GrafenoData, GrafenoEvent, Registration,
    },
    iset::{IsetBody, IsetEvent, IsetKind},
    testkit,
};
use serde_json::{Value, json};

/// The fixture at `path` (`hookbr_core::testkit::fixture`).
fn fixture(path: &str) -> &'static str {
    testkit::fixture(path).unwrap_or_else(|| panic!("no fixture {path}"))
}

/// The token in every Foody fixture: it must never come out of a decoded event.
const FIXTURE_FOODY_TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";

/// Every fixture file is checked here: `every_fixture_file_is_listed` (testkit) ties
/// [`testkit::fixture_paths`] to the directory, this test ties each path to a `fixture` call in
/// this module.
#[test]
fn every_fixture_is_covered() {
    let source: String = include_str!("fixtures.rs").split_whitespace().collect();
    let missing: Vec<&str> = testkit::fixture_paths()
        .filter(|path| !source.contains(&format!("fixture(\"{path}\")")))
        .collect();
    assert_eq!(
        missing,
        Vec::<&str>::new(),
        "fixture files without a test here"
    );
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

// ---------------------------------------------------------------- BonifiQ

fn bonifiq(text: &str) -> BonifiqEvent {
    BonifiqEvent::from_slice(text.as_bytes()).unwrap()
}

fn envelope(event: &BonifiqEvent) -> &BonifiqEnvelope {
    match event {
        BonifiqEvent::Envelope(envelope) => envelope,
        other => panic!("expected the standard envelope, got {other:?}"),
    }
}

fn point_payload(envelope: &BonifiqEnvelope) -> &PointPayload {
    match &envelope.payload {
        BonifiqPayload::PointAdd(p)
        | BonifiqPayload::PointRemove(p)
        | BonifiqPayload::PointUpdate(p) => p,
        other => panic!("expected a point payload, got {other:?}"),
    }
}

fn earn_payload(envelope: &BonifiqEnvelope) -> &EarnPointsPayload {
    match &envelope.payload {
        BonifiqPayload::EarnPurchasePoints(p) | BonifiqPayload::EarnBirthdayPoints(p) => p,
        other => panic!("expected an earn-points payload, got {other:?}"),
    }
}

fn assert_balances(balance: Option<&PointsBalance>, points: i64, cashback: i64) {
    match balance {
        Some(PointsBalance::Balances {
            points_balance,
            cashback_balance,
        }) => {
            assert_eq!(*points_balance, Some(points));
            assert_eq!(
                cashback_balance
                    .as_ref()
                    .and_then(serde_json::Number::as_i64),
                Some(cashback)
            );
        }
        other => panic!("expected PointsBalance::Balances, got {other:?}"),
    }
}

#[test]
fn bonifiq_point_add_legacy() {
    let event = bonifiq(fixture("bonifiq/point_add_legacy.json"));
    let envelope = envelope(&event);
    assert_eq!(envelope.uuid, "4834c95e-84f7-485e-90de-09353df57fd3");
    assert_eq!(
        envelope.timestamp.unwrap().to_string(),
        "2024-03-01T13:16:11.396371Z"
    );
    assert_eq!(envelope.topic, BonifiqTopic::PointAdd);
    assert_eq!(envelope.topic_field, TopicField::Id(0));
    assert_eq!(envelope.topic_name.as_deref(), Some("Point_Add"));
    assert!(matches!(envelope.payload, BonifiqPayload::PointAdd(_)));
    let payload = point_payload(envelope);
    assert_eq!(payload.points, 200);
    assert_eq!(payload.point_type, Some(PointType(0)));
    assert_eq!(payload.point_action, Some(PointAction(1)));
    assert_eq!(payload.point_id, Some(4740));
    assert_eq!(
        payload.customer.email.as_deref(),
        Some("teste@bonifiq.com.br")
    );
    assert_eq!(payload.customer.id.as_deref(), Some("152740926"));
    assert_eq!(payload.customer.name.as_deref(), Some("Teste Nivel Base"));
    assert_eq!(payload.customer.phone, None);
    assert_eq!(payload.customer.document, None);
    assert_eq!(payload.customer.birthday_date, None);
    assert_eq!(payload.customer.points_balance, None);
    assert_balances(payload.points_balance.as_ref(), 300, 210);

    assert_eq!(
        event.delivery_id(),
        Some(DeliveryId::new(
            Provider::Bonifiq,
            "4834c95e-84f7-485e-90de-09353df57fd3"
        ))
    );
    assert_eq!(event.kind(), "Point_Add");
    assert!(event.is_known());
    assert_eq!(event.drift(), None);
    assert_eq!(
        event.occurred_at().map(|t| t.to_string()).as_deref(),
        Some("2024-03-01T13:16:11.396371Z")
    );
}

#[test]
fn bonifiq_point_add_with_integer_topic_only() {
    let event = bonifiq(fixture("bonifiq/point_add_int_only.json"));
    let envelope = envelope(&event);
    assert_eq!(envelope.uuid, "9b1f7c52-3d0e-4a8b-b6f1-2c4e5a7d9e10");
    assert_eq!(envelope.topic_field, TopicField::Id(0));
    assert_eq!(envelope.topic_name, None);
    assert_eq!(
        envelope.topic,
        BonifiqTopic::PointAdd,
        "integer 0 is Point_Add"
    );
    assert!(matches!(envelope.payload, BonifiqPayload::PointAdd(_)));
    let payload = point_payload(envelope);
    assert_eq!(payload.points, 200);
    assert_eq!(payload.point_id, Some(4741));
    assert_balances(payload.points_balance.as_ref(), 300, 210);
    assert_eq!(
        envelope.timestamp.unwrap().to_string(),
        "2024-03-01T13:20:45.118204Z"
    );
    assert_eq!(event.kind(), "Point_Add");
}

#[test]
fn bonifiq_point_remove() {
    let event = bonifiq(fixture("bonifiq/point_remove.json"));
    let envelope = envelope(&event);
    assert_eq!(envelope.uuid, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f");
    assert_eq!(envelope.topic_field, TopicField::Id(1));
    assert_eq!(envelope.topic_name.as_deref(), Some("Point_Remove"));
    assert_eq!(
        envelope.topic,
        BonifiqTopic::PointRemove,
        "TopicName resolves the topic"
    );
    assert!(matches!(envelope.payload, BonifiqPayload::PointRemove(_)));
    let payload = point_payload(envelope);
    assert_eq!(payload.points, 100);
    assert_eq!(payload.point_id, Some(4752));
    assert_eq!(payload.point_type, Some(PointType(0)));
    assert_balances(payload.points_balance.as_ref(), 200, 210);
    assert_eq!(
        payload.customer.email.as_deref(),
        Some("teste@bonifiq.com.br")
    );
    assert_eq!(event.kind(), "Point_Remove");
    assert!(event.is_known());
}

#[test]
fn bonifiq_point_update() {
    let event = bonifiq(fixture("bonifiq/point_update.json"));
    let envelope = envelope(&event);
    assert_eq!(envelope.uuid, "2f6a8c1e-4b3d-4e9a-9c7f-5d1e3b2a4c6f");
    assert_eq!(envelope.topic_field, TopicField::Id(2));
    assert_eq!(envelope.topic, BonifiqTopic::PointUpdate);
    assert!(matches!(envelope.payload, BonifiqPayload::PointUpdate(_)));
    let payload = point_payload(envelope);
    assert_eq!(payload.points, 150);
    assert_eq!(payload.point_id, Some(4760));
    assert_balances(payload.points_balance.as_ref(), 250, 210);
    assert_eq!(event.kind(), "Point_Update");
    assert!(event.is_known());
}

/// The other Communication topics, in the 2025 envelope (the bodies `hookbr send` sends).
#[test]
fn bonifiq_communication_topics_with_string_topic() {
    let cases = [
        (
            fixture("bonifiq/earn_signup_points.json"),
            "Communication_EarnSignupPoints",
            1,
        ),
        (
            fixture("bonifiq/earn_review_points.json"),
            "Communication_EarnReviewPoints",
            3,
        ),
        (
            fixture("bonifiq/referral_communication_points.json"),
            "Communication_ReferralCommunicationPoints",
            4,
        ),
        (
            fixture("bonifiq/earn_quiz_points.json"),
            "Communication_EarnQuizPoints",
            5,
        ),
        (
            fixture("bonifiq/earn_custom_objective_points.json"),
            "Communication_EarnCustomObjectivePoints",
            6,
        ),
        (
            fixture("bonifiq/earn_social_media_follow_instagram.json"),
            "Communication_EarnSocialMediaFollowInstagram",
            7,
        ),
        (
            fixture("bonifiq/earn_social_media_follow_facebook.json"),
            "Communication_EarnSocialMediaFollowFacebook",
            8,
        ),
        (
            fixture("bonifiq/earn_social_media_follow_linkedin.json"),
            "Communication_EarnSocialMediaFollowLinkedin",
            9,
        ),
        (
            fixture("bonifiq/earn_social_media_follow_tiktok.json"),
            "Communication_EarnSocialMediaFollowTikTok",
            10,
        ),
    ];
    let mut uuids = std::collections::HashSet::new();
    for (text, topic, objective) in cases {
        let event = bonifiq(text);
        assert_eq!(event.kind(), topic);
        assert!(event.is_known(), "{topic}");
        assert!(event.drift().is_none(), "{topic}");
        let value = json(text);
        assert_eq!(value["Topic"], topic);
        assert_eq!(value["Payload"]["ObjectiveType"], objective);
        assert_eq!(
            value["Payload"]["Customer"]["Email"],
            "customer@example.com"
        );
        assert!(
            uuids.insert(envelope(&event).uuid.clone()),
            "{topic}: its own Uuid"
        );
    }
}

#[test]
fn bonifiq_earn_purchase_points_legacy() {
    let event = bonifiq(fixture("bonifiq/earn_purchase_points_legacy.json"));
    let envelope = envelope(&event);
    assert_eq!(envelope.uuid, "6d98ff46-3255-4e7f-92ec-69db40ed4a42");
    assert_eq!(
        envelope.timestamp.unwrap().to_string(),
        "2024-06-20T16:50:13.3951893Z",
        "seven fraction digits are kept"
    );
    assert_eq!(envelope.topic_field, TopicField::Id(3));
    assert_eq!(envelope.topic, BonifiqTopic::EarnPurchasePoints);
    assert!(matches!(
        envelope.payload,
        BonifiqPayload::EarnPurchasePoints(_)
    ));
    let payload = earn_payload(envelope);
    assert_eq!(payload.earned_points, 10);
    assert_eq!(payload.objective_type, Some(ObjectiveType::Purchase));
    let customer = &payload.customer;
    assert_eq!(customer.email.as_deref(), Some("emailwebhook@teste.com.br"));
    assert_eq!(customer.id, None, "Id is null in this example");
    assert_eq!(customer.name.as_deref(), Some("Teste Rath"));
    assert_eq!(customer.phone.as_deref(), Some("11987198778"));
    assert_eq!(
        customer.birthday_date.as_deref(),
        Some("2024-08-30T14:34:32")
    );
    assert_eq!(customer.document, None);
    assert_eq!(event.kind(), "Communication_EarnPurchasePoints");
}

#[test]
fn bonifiq_earn_birthday_points_legacy() {
    let event = bonifiq(fixture("bonifiq/earn_birthday_points_legacy.json"));
    let envelope = envelope(&event);
    assert_eq!(envelope.uuid, "00b59aef-d561-450c-a4df-265de6cef537");
    assert_eq!(
        envelope.timestamp.unwrap().to_string(),
        "2024-06-20T16:45:57.7236232Z"
    );
    assert_eq!(envelope.topic_field, TopicField::Id(4));
    assert_eq!(envelope.topic, BonifiqTopic::EarnBirthdayPoints);
    assert!(matches!(
        envelope.payload,
        BonifiqPayload::EarnBirthdayPoints(_)
    ));
    let payload = earn_payload(envelope);
    assert_eq!(payload.earned_points, 10);
    assert_eq!(payload.objective_type, Some(ObjectiveType::Birthday));
    assert_eq!(payload.customer.id.as_deref(), Some("123456789"));
    assert_eq!(
        payload.customer.email.as_deref(),
        Some("emailteste@teste.com.br")
    );
    assert_eq!(payload.customer.name.as_deref(), Some("Markus Teste"));
    assert_eq!(event.kind(), "Communication_EarnBirthdayPoints");
}

#[test]
fn bonifiq_earn_purchase_points_with_string_topic() {
    let event = bonifiq(fixture("bonifiq/earn_purchase_points_string_topic.json"));
    let envelope = envelope(&event);
    assert_eq!(envelope.uuid, "f47ac10b-58cc-4372-a567-0e02b2c3d479");
    assert_eq!(
        envelope.timestamp.unwrap().to_string(),
        "2025-04-15T14:30:00.123Z"
    );
    assert_eq!(
        envelope.topic_field,
        TopicField::Name("Communication_EarnPurchasePoints".into())
    );
    assert_eq!(envelope.topic_name, None);
    assert_eq!(envelope.topic, BonifiqTopic::EarnPurchasePoints);
    assert!(matches!(
        envelope.payload,
        BonifiqPayload::EarnPurchasePoints(_)
    ));
    let payload = earn_payload(envelope);
    assert_eq!(payload.earned_points, 10);
    assert_eq!(payload.objective_type, Some(ObjectiveType::Purchase));
    let customer = &payload.customer;
    assert_eq!(customer.email.as_deref(), Some("customer@example.com"));
    assert_eq!(customer.id.as_deref(), Some("original_customer_id_123"));
    assert_eq!(customer.name.as_deref(), Some("John Doe"));
    assert_eq!(customer.phone.as_deref(), Some("+15551234567"));
    assert_eq!(customer.document, None);
    assert_eq!(customer.birthday_date, None);
    assert_eq!(customer.points_balance, Some(1500));
    assert_eq!(
        event.delivery_id(),
        Some(DeliveryId::new(
            Provider::Bonifiq,
            "f47ac10b-58cc-4372-a567-0e02b2c3d479"
        ))
    );
}

#[test]
fn bonifiq_unknown_topic_is_kept_raw() {
    let text = fixture("bonifiq/unknown_topic.json");
    let event = bonifiq(text);
    let envelope = envelope(&event);
    assert_eq!(
        envelope.topic,
        BonifiqTopic::Unknown("Order_Created".into())
    );
    assert_eq!(envelope.topic_field, TopicField::Id(40));
    let BonifiqPayload::Unknown(raw) = &envelope.payload else {
        panic!(
            "expected BonifiqPayload::Unknown, got {:?}",
            envelope.payload
        )
    };
    assert_eq!(raw.parse::<Value>().unwrap(), json(text)["Payload"]);
    assert_eq!(event.kind(), "Order_Created");
    assert!(!event.is_known());
    assert_eq!(event.drift(), None);
    assert_eq!(
        event.delivery_id(),
        Some(DeliveryId::new(
            Provider::Bonifiq,
            "7e8f9a0b-1c2d-4e3f-8a5b-6c7d8e9f0a1b"
        ))
    );
    assert_eq!(
        event.occurred_at().unwrap().to_string(),
        "2025-11-03T18:22:09.4410027Z"
    );
}

#[test]
fn bonifiq_custom_body() {
    let text = fixture("bonifiq/custom_body.json");
    let event = bonifiq(text);
    let BonifiqEvent::Custom(raw) = &event else {
        panic!("expected BonifiqEvent::Custom, got {event:?}")
    };
    assert_eq!(
        raw.parse::<Value>().unwrap(),
        json!({"cliente": "teste@bonifiq.com.br", "pontos": 10})
    );
    assert_eq!(event.kind(), "custom");
    assert!(!event.is_known());
    assert_eq!(
        event.delivery_id(),
        None,
        "the pipeline digests the body instead"
    );
    assert_eq!(event.occurred_at(), None);
    let value = serde_json::to_value(WebhookEvent::Bonifiq(event.clone())).unwrap();
    assert_eq!(value, json(text), "a custom body serializes as received");
}

#[test]
fn bonifiq_drifted_point_add_keeps_raw_and_error() {
    let text = fixture("bonifiq/drifted_point_add.json");
    let event = bonifiq(text);
    let envelope = envelope(&event);
    assert_eq!(envelope.topic, BonifiqTopic::PointAdd);
    let BonifiqPayload::Drifted { raw, error } = &envelope.payload else {
        panic!(
            "expected BonifiqPayload::Drifted, got {:?}",
            envelope.payload
        )
    };
    assert_eq!(raw.parse::<Value>().unwrap(), json(text)["Payload"]);
    assert_eq!(error.kind(), "Point_Add");
    assert!(
        !error.message().contains("duzentos"),
        "values are redacted: {error}"
    );
    assert!(!error.to_string().contains("duzentos"));
    assert_eq!(event.drift(), Some(error));
    assert_eq!(event.kind(), "Point_Add");
    assert_eq!(
        event.delivery_id(),
        Some(DeliveryId::new(
            Provider::Bonifiq,
            "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6"
        ))
    );
    let webhook = WebhookEvent::Bonifiq(event.clone());
    assert!(webhook.drift().is_some());
    let value = serde_json::to_value(&webhook).unwrap();
    assert_eq!(
        value["Payload"],
        json(text)["Payload"],
        "raw payload serialized as received"
    );
}

#[test]
fn bonifiq_serializes_with_wire_names() {
    let event = bonifiq(fixture("bonifiq/point_add_legacy.json"));
    let value = serde_json::to_value(WebhookEvent::Bonifiq(event)).unwrap();
    assert_eq!(value["Uuid"], "4834c95e-84f7-485e-90de-09353df57fd3");
    assert_eq!(value["Timestamp"], "2024-03-01T13:16:11.396371Z");
    assert_eq!(value["Topic"], 0);
    assert_eq!(value["TopicName"], "Point_Add");
    assert_eq!(value["Payload"]["Points"], 200);
    assert_eq!(value["Payload"]["PointType"], 0);
    assert_eq!(value["Payload"]["PointAction"], 1);
    assert_eq!(value["Payload"]["PointId"], 4740);
    assert_eq!(
        value["Payload"]["Customer"]["Email"],
        "teste@bonifiq.com.br"
    );
    assert_eq!(value["Payload"]["Customer"]["Id"], "152740926");
    assert_eq!(value["Payload"]["PointsBalance"]["PointsBalance"], 300);
    assert_eq!(value["Payload"]["PointsBalance"]["CashbackBalance"], 210);

    let event = bonifiq(fixture("bonifiq/earn_purchase_points_string_topic.json"));
    let value = serde_json::to_value(WebhookEvent::Bonifiq(event)).unwrap();
    assert_eq!(value["Topic"], "Communication_EarnPurchasePoints");
    assert!(value.get("TopicName").is_none(), "not invented when absent");
    assert_eq!(value["Payload"]["EarnedPoints"], 10);
    assert_eq!(value["Payload"]["ObjectiveType"], 0);
    assert_eq!(value["Payload"]["Customer"]["PointsBalance"], 1500);
    assert_eq!(value["Payload"]["Customer"]["Phone"], "+15551234567");
}

// ---------------------------------------------------------------- Foody

fn foody(text: &str) -> FoodyEvent {
    FoodyEvent::from_slice(text.as_bytes()).unwrap()
}

#[track_caller]
fn assert_status_update(text: &str, uid: &str, date: &str, status: &FoodyStatus) -> FoodyEvent {
    let event = foody(text);
    let FoodyEvent::OrderStatusUpdated(update) = &event else {
        panic!("expected OrderStatusUpdated, got {event:?}")
    };
    assert_eq!(update.uid, uid);
    assert_eq!(update.update_date.to_string(), date);
    assert_eq!(&update.status, status);
    assert_eq!(event.kind(), "order_status_updated");
    assert!(event.is_known());
    assert_eq!(event.drift(), None);
    assert_eq!(event.occurred_at(), Some(update.update_date));
    assert!(event.delivery_id().is_some());
    assert_eq!(event.delivery_id().unwrap().provider(), Provider::Foody);
    event
}

const SEED_UID: &str = "4228df3a-a54a-40d7-b30f-1385eca4c3dd";
const CANCEL_UID: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";

#[test]
fn foody_order_status_updated() {
    assert_status_update(
        fixture("foody/order_status_updated.json"),
        SEED_UID,
        "2020-06-19T17:42:12Z",
        &FoodyStatus::Dispatched,
    );
}

#[test]
fn foody_each_status_maps() {
    assert_status_update(
        fixture("foody/status_open.json"),
        SEED_UID,
        "2020-06-19T17:30:05Z",
        &FoodyStatus::Open,
    );
    assert_status_update(
        fixture("foody/status_ready.json"),
        SEED_UID,
        "2020-06-19T17:38:40Z",
        &FoodyStatus::Ready,
    );
    assert_status_update(
        fixture("foody/status_delivered.json"),
        SEED_UID,
        "2020-06-19T18:05:31Z",
        &FoodyStatus::Delivered,
    );
    assert_status_update(
        fixture("foody/status_closed.json"),
        SEED_UID,
        "2020-06-19T18:10:00Z",
        &FoodyStatus::Closed,
    );
    assert_status_update(
        fixture("foody/status_cancelled.json"),
        CANCEL_UID,
        "2020-06-19T17:42:12Z",
        &FoodyStatus::Cancelled,
    );
    assert_status_update(
        fixture("foody/status_canceled.json"),
        CANCEL_UID,
        "2020-06-19T17:42:12Z",
        &FoodyStatus::Cancelled,
    );
}

#[test]
fn foody_delivery_ids() {
    let id = |text: &str| foody(text).delivery_id().unwrap();
    // Same order, same instant (one with -03:00, one with Z), both spellings of cancelled.
    assert_eq!(
        id(fixture("foody/status_cancelled.json")),
        id(fixture("foody/status_canceled.json"))
    );
    // Same order, different statuses: different deliveries.
    let statuses = [
        id(fixture("foody/order_status_updated.json")),
        id(fixture("foody/status_open.json")),
        id(fixture("foody/status_ready.json")),
        id(fixture("foody/status_delivered.json")),
        id(fixture("foody/status_closed.json")),
    ];
    for (i, a) in statuses.iter().enumerate() {
        for b in statuses.iter().skip(i + 1) {
            assert_ne!(a, b);
        }
    }
    // The uid is the order, not the delivery.
    assert_ne!(
        id(fixture("foody/order_status_updated.json")).as_str(),
        SEED_UID
    );
}

#[test]
fn foody_hook_test() {
    let event = foody(fixture("foody/hook_test.json"));
    let FoodyEvent::HookTest(test) = &event else {
        panic!("expected HookTest, got {event:?}")
    };
    assert_eq!(
        test.uid.as_deref(),
        Some("0b7f5c1e-6a2d-4f8e-9c3b-1d2e3f4a5b6c")
    );
    assert_eq!(
        test.update_date.unwrap().to_string(),
        "2020-06-19T17:00:03Z"
    );
    assert_eq!(event.kind(), "hook_test");
    assert!(event.is_known());
    let webhook = WebhookEvent::Foody(event);
    assert!(webhook.is_handshake());
    assert!(!WebhookEvent::Foody(foody(fixture("foody/order_status_updated.json"))).is_handshake());
}

#[test]
fn foody_unknown_event_drops_the_token() {
    let event = foody(fixture("foody/unknown_event.json"));
    let FoodyEvent::Unknown { event: name, raw } = &event else {
        panic!("expected FoodyEvent::Unknown, got {event:?}")
    };
    assert_eq!(name, "order_created");
    let raw: Value = raw.parse().unwrap();
    assert_eq!(
        raw,
        json!({"uid": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", "updateDate": "2020-06-19T17:20:00Z",
               "event": "order_created", "status": "open"})
    );
    assert_eq!(event.kind(), "order_created");
    assert!(!event.is_known());
    assert_eq!(
        event.occurred_at().unwrap().to_string(),
        "2020-06-19T17:20:00Z"
    );
    let value = serde_json::to_value(WebhookEvent::Foody(event.clone())).unwrap();
    assert!(value.get("token").is_none());
    assert!(!value.to_string().contains(FIXTURE_FOODY_TOKEN));
    assert!(!format!("{event:?}").contains(FIXTURE_FOODY_TOKEN));
}

#[test]
fn foody_missing_event_is_a_parse_error() {
    assert_eq!(
        FoodyEvent::from_slice(fixture("foody/missing_event.json").as_bytes()),
        Err(ParseError::MissingField { field: "event" })
    );
}

#[test]
fn foody_serializes_with_wire_names_and_without_token() {
    let event = foody(fixture("foody/order_status_updated.json"));
    let value = serde_json::to_value(WebhookEvent::Foody(event)).unwrap();
    assert_eq!(
        value,
        json!({"uid": SEED_UID, "updateDate": "2020-06-19T17:42:12Z",
               "event": "order_status_updated", "status": "dispatched"})
    );
    for text in [
        fixture("foody/order_status_updated.json"),
        fixture("foody/hook_test.json"),
        fixture("foody/status_open.json"),
        fixture("foody/status_ready.json"),
        fixture("foody/status_delivered.json"),
        fixture("foody/status_closed.json"),
        fixture("foody/status_cancelled.json"),
        fixture("foody/status_canceled.json"),
        fixture("foody/unknown_event.json"),
    ] {
        let event = WebhookEvent::Foody(foody(text));
        let value = serde_json::to_value(&event).unwrap();
        assert!(value.get("token").is_none(), "{value}");
        assert!(!value.to_string().contains(FIXTURE_FOODY_TOKEN), "{value}");
        assert!(!format!("{event:?}").contains(FIXTURE_FOODY_TOKEN));
        assert!(value.get("updateDate").is_some(), "wire name kept: {value}");
        assert!(value.get("event").is_some());
    }
}

// ---------------------------------------------------------------- iSET

#[track_caller]
fn iset(kind: IsetKind, media: Option<&str>, text: &str) -> IsetEvent {
    IsetEvent::from_slice(kind, media, text.as_bytes()).unwrap()
}

#[test]
fn iset_order_upserted_json() {
    let text = fixture("iset/order_upserted.json");
    let event = iset(IsetKind::OrderUpserted, Some("application/json"), text);
    assert_eq!(event.kind, IsetKind::OrderUpserted);
    assert_eq!(event.body, IsetBody::Json(json(text)));
    assert_eq!(event.entity_id(), Some("1234"));
    assert_eq!(event.raw(), text.as_bytes());
    assert_eq!(event.delivery_id().unwrap().provider(), Provider::Iset);
    // Without a Content-Type too.
    assert_eq!(iset(IsetKind::OrderUpserted, None, text), event);
}

#[test]
fn iset_order_upserted_form() {
    let text = fixture("iset/order_upserted_form.txt");
    assert!(!text.ends_with('\n'), "the fixture has no trailing newline");
    let event = iset(
        IsetKind::OrderUpserted,
        Some("application/x-www-form-urlencoded"),
        text,
    );
    assert_eq!(
        event.body,
        IsetBody::Form(vec![
            ("pedido_id".into(), "1234".into()),
            ("status".into(), "pago".into())
        ])
    );
    assert_eq!(event.entity_id(), Some("1234"));
    assert_eq!(event.raw(), text.as_bytes());
    // A form body without a Content-Type falls back to form parsing.
    assert_eq!(iset(IsetKind::OrderUpserted, None, text).body, event.body);
    // Same entity, different body: a different delivery (iSET sends no id).
    let json_event = iset(
        IsetKind::OrderUpserted,
        None,
        fixture("iset/order_upserted.json"),
    );
    assert_eq!(json_event.entity_id(), event.entity_id());
    assert_ne!(json_event.delivery_id(), event.delivery_id());
    // Same body, different kind: a different delivery.
    let deleted = iset(IsetKind::OrderDeleted, None, text);
    assert_ne!(deleted.delivery_id(), event.delivery_id());
}

#[test]
fn iset_product_stock_category() {
    let product = iset(
        IsetKind::ProductUpserted,
        Some("application/json"),
        fixture("iset/product_upserted.json"),
    );
    assert_eq!(product.body, IsetBody::Json(json!({"produto_id": 55})));
    assert_eq!(product.entity_id(), Some("55"), "a number becomes its text");

    let stock = iset(
        IsetKind::StockChanged,
        Some("application/json"),
        fixture("iset/stock_changed.json"),
    );
    assert_eq!(stock.kind, IsetKind::StockChanged);
    assert_eq!(
        stock.body,
        IsetBody::Json(json!({"produto_id": 55, "sku": "CAM-001-P", "estoque": 12}))
    );
    assert_eq!(stock.entity_id(), Some("55"));

    let category = iset(
        IsetKind::CategoryDeleted,
        Some("application/json"),
        fixture("iset/category_deleted.json"),
    );
    assert_eq!(category.body, IsetBody::Json(json!({"categoria_id": "7"})));
    assert_eq!(category.entity_id(), Some("7"));

    let category = iset(
        IsetKind::CategoryUpserted,
        Some("application/json"),
        fixture("iset/category_upserted.json"),
    );
    assert_eq!(category.entity_id(), Some("7"));

    let product = iset(
        IsetKind::ProductDeleted,
        Some("application/json"),
        fixture("iset/product_deleted.json"),
    );
    assert_eq!(product.entity_id(), Some("55"));

    let order = iset(
        IsetKind::OrderDeleted,
        Some("application/json"),
        fixture("iset/order_deleted.json"),
    );
    assert_eq!(order.body, IsetBody::Json(json!({"id": 1234})));
    assert_eq!(order.entity_id(), Some("1234"));
}

#[test]
fn iset_serializes_kind_entity_and_body() {
    let event = iset(
        IsetKind::OrderUpserted,
        None,
        fixture("iset/order_upserted_form.txt"),
    );
    let value = serde_json::to_value(WebhookEvent::Iset(event)).unwrap();
    assert_eq!(
        value,
        json!({"kind": "order_upserted", "entity_id": "1234", "format": "form",
               "body": {"pedido_id": "1234", "status": "pago"}})
    );
    let event = iset(
        IsetKind::CategoryDeleted,
        None,
        fixture("iset/category_deleted.json"),
    );
    let value = serde_json::to_value(WebhookEvent::Iset(event)).unwrap();
    assert_eq!(
        value,
        json!({"kind": "category_deleted", "entity_id": "7", "format": "json",
               "body": {"categoria_id": "7"}})
    );
}

#[test]
fn iset_decodes_through_webhook_event_with_the_request_media_type() {
    let headers = [(
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    )];
    let text = fixture("iset/order_upserted_form.txt");
    let request = Request::new(text.as_bytes()).with_headers(&headers);
    let event = WebhookEvent::decode(Endpoint::Iset(IsetKind::OrderUpserted), &request).unwrap();
    let WebhookEvent::Iset(event) = &event else {
        panic!("expected an iSET event, got {event:?}")
    };
    assert!(matches!(event.body, IsetBody::Form(_)));
    assert_eq!(event.entity_id(), Some("1234"));
}

// ---------------------------------------------------------------- Grafeno

fn grafeno_event(text: &str) -> GrafenoEvent {
    GrafenoEvent::from_slice(text.as_bytes()).unwrap()
}

fn registration(event: &GrafenoEvent) -> &Registration {
    match &event.data {
        GrafenoData::Registration(registration) => registration,
        other => panic!("expected a registration, got {other:?}"),
    }
}

fn charge(event: &GrafenoEvent) -> &Charge {
    match &event.data {
        GrafenoData::Charge(charge) => charge,
        other => panic!("expected a charge, got {other:?}"),
    }
}

fn amount(value: Option<&Amount>) -> Option<&str> {
    value.map(Amount::as_str)
}

fn boleto(charge: &Charge) -> &Boleto {
    charge.boleto.as_ref().expect("the fixture has a boleto")
}

#[test]
fn grafeno_cadastro_approved() {
    let event = grafeno_event(fixture("grafeno/cadastro_approved.json"));
    assert_eq!(event.change, GrafenoChange::Approved);
    assert_eq!(event.change_str(), "approved");
    let registration = registration(&event);
    assert_eq!(registration.id, "4056455d-8614-45a9-adf5-1592c28499fc");
    assert!(registration.pendencies.is_empty());
    assert!(event.is_known());
    assert_eq!(event.drift(), None);
    assert!(event.change.is_registration() && !event.change.is_charge());
}

#[test]
fn grafeno_cadastro_rejected() {
    let event = grafeno_event(fixture("grafeno/cadastro_rejected.json"));
    assert_eq!(event.change, GrafenoChange::Rejected);
    assert_eq!(event.change_str(), "rejected");
    let registration = registration(&event);
    assert_eq!(registration.id, "17e4ae95-9348-4089-8870-4d4d2de61e49");
    assert!(registration.pendencies.is_empty());
}

#[test]
fn grafeno_cadastro_validation_pendencies() {
    let event = grafeno_event(fixture("grafeno/cadastro_validation_pendencies.json"));
    assert_eq!(event.change, GrafenoChange::ValidationPendencies);
    assert_eq!(event.change_str(), "validation_pendencies");
    let registration = registration(&event);
    assert_eq!(registration.id, "8ecd3308-f779-4c95-830e-49a5f767ebc2");
    assert_eq!(registration.pendencies.len(), 1);
    assert_eq!(
        registration.pendencies[0].text,
        "O RG do sócio está expirado."
    );
}

/// The short `boleto-criado` the testkit and the benches send: only the fields of the GF-COBR
/// table's first rows.
#[test]
fn grafeno_boleto_criado_short() {
    let event = grafeno_event(fixture("grafeno/boleto_criado_short.json"));
    assert_eq!(event.change, GrafenoChange::BoletoCriado);
    let charge = charge(&event);
    assert_eq!(charge.uuid, "9c2e4b7a-1d3f-4a6e-8b5c-0f1e2d3c4b5a");
    assert_eq!(amount(charge.value.as_ref()), Some("150.5"));
    assert_eq!(
        charge.created_at.as_deref(),
        Some("2026-03-12T16:56:37.313-03:00")
    );
    assert_eq!(charge.due_date.as_deref(), Some("2026-10-15"));
    assert_eq!(charge.status.as_deref(), Some("pending"));
    let boleto = boleto(charge);
    assert_eq!(boleto.registration_method.as_deref(), Some("online"));
    assert_eq!(boleto.bar_code, None);
    assert_eq!(boleto.registration_status, None);
}

#[test]
fn grafeno_boleto_criado() {
    let event = grafeno_event(fixture("grafeno/boleto_criado.json"));
    assert_eq!(event.change, GrafenoChange::BoletoCriado);
    assert_eq!(event.change_str(), "boleto-criado");
    assert!(event.change.is_charge() && !event.change.is_registration());
    let charge = charge(&event);
    assert_eq!(charge.uuid, "5f0c2a7e-8b3d-4c1a-9e6f-2d7b8a9c0e1f");
    assert_eq!(amount(charge.value.as_ref()), Some("251.11"));
    assert_eq!(
        amount(charge.abatement_value.as_ref()),
        Some("0.0"),
        "not normalized to 0"
    );
    assert_eq!(amount(charge.applicable_fine.as_ref()), Some("0.02"));
    assert_eq!(amount(charge.monthly_interest.as_ref()), Some("1.0"));
    assert_eq!(amount(charge.discount_value.as_ref()), Some("5.2"));
    assert_eq!(charge.days_write_off_after_due_date, Some(30));
    assert_eq!(
        charge.client_control_number.as_deref(),
        Some("HOOKBR-FIXTURE-0001")
    );
    assert_eq!(
        charge.created_at.as_deref(),
        Some("2026-03-10T10:15:02.311-03:00")
    );
    assert_eq!(
        charge.updated_at.as_deref(),
        Some("2026-03-10T10:15:02.311-03:00")
    );
    assert_eq!(charge.due_date.as_deref(), Some("2026-10-15"));
    assert_eq!(charge.payment_method.as_deref(), Some("boleto"));
    assert_eq!(charge.status.as_deref(), Some("pending"));
    assert_eq!(charge.interest_type.as_deref(), Some("percentage"));
    assert_eq!(charge.discount_type.as_deref(), Some("fixed"));
    assert_eq!(charge.origin.as_deref(), Some("api"));
    assert_eq!(charge.update_status, None);
    assert_eq!(charge.update_details, None);
    let boleto = boleto(charge);
    assert_eq!(boleto.registration_method.as_deref(), Some("online"));
    assert_eq!(boleto.registration_status, None);
    assert_eq!(boleto.registration_details, None);
    assert_eq!(boleto.bar_code, None);
    assert_eq!(boleto.line_code, None);
    assert_eq!(boleto.our_number, None);
    assert_eq!(boleto.our_number_dv, None);
    assert_eq!(boleto.quick_pdf_url, None);
    assert_eq!(boleto.emv, None);
    assert_eq!(boleto.image, None);
    assert_eq!(boleto.your_number.as_deref(), Some("000001"));
    assert_eq!(
        boleto.pdf.as_deref(),
        Some(
            "https://pagamentos.grafeno.be/charges/5f0c2a7e-8b3d-4c1a-9e6f-2d7b8a9c0e1f/download_boleto"
        )
    );
}

#[test]
fn grafeno_boleto_falha_registro() {
    let event = grafeno_event(fixture("grafeno/boleto_falha_registro.json"));
    assert_eq!(event.change, GrafenoChange::BoletoFalhaRegistro);
    assert_eq!(event.change_str(), "boleto-falha-registro");
    let charge = charge(&event);
    assert_eq!(charge.uuid, "eab0bc07-294e-4ddd-9f42-5c87c7d096d2");
    assert_eq!(amount(charge.value.as_ref()), Some("150.0"));
    assert_eq!(amount(charge.abatement_value.as_ref()), Some("5.2"));
    assert_eq!(amount(charge.discount_value.as_ref()), Some("1.5"));
    assert_eq!(
        charge.created_at.as_deref(),
        Some("2024-10-18T15:24:12.544-03:00")
    );
    assert_eq!(
        charge.client_control_number.as_deref(),
        Some("7543649847645556555553425")
    );
    let boleto = boleto(charge);
    assert_eq!(
        boleto.registration_status, None,
        "null even though registration failed"
    );
    assert_eq!(
        boleto.registration_details.as_deref(),
        Some(
            "Para boleto híbrido, a data do desconto deve ser informada., Para boleto híbrido, \
             a data do desconto deve ser maior que a data atual e menor que a data do vencimento."
        )
    );
    assert!(boleto.pdf.is_some(), "pdf is set before registration");
    assert_eq!(boleto.your_number.as_deref(), Some("11119999"));
    assert_eq!(boleto.bar_code, None);
    assert_eq!(boleto.our_number, None);
}

#[test]
fn grafeno_charge_update_both_spellings() {
    let canonical = grafeno_event(fixture("grafeno/cobranca_atualizacao.json"));
    let prose = grafeno_event(fixture("grafeno/atualizacao_cobranca.json"));
    assert_eq!(canonical.change, GrafenoChange::CobrancaAtualizacao);
    assert_eq!(prose.change, GrafenoChange::CobrancaAtualizacao);
    assert_eq!(canonical.change_str(), "cobranca-atualizacao");
    assert_eq!(
        prose.change_str(),
        "atualizacao-cobranca",
        "kept as received"
    );
    assert_eq!(charge(&canonical), charge(&prose));

    let charge = charge(&canonical);
    assert_eq!(charge.uuid, "3a9e1d4c-7b2f-4e8a-a1c6-5d0f9b8e7c2a");
    assert_eq!(
        charge.updated_at.as_deref(),
        Some("2026-03-12T17:34:09.418-03:00")
    );
    assert_eq!(amount(charge.value.as_ref()), Some("251.11"));
    assert_eq!(
        charge.update_status.as_deref(),
        Some("completed_with_errors")
    );
    let details = charge.update_details.as_ref().unwrap();
    assert_eq!(details.as_array().map(Vec::len), Some(2));
    assert_eq!(details[1]["field"], "discountValue");
    assert_eq!(details[1]["status"], "failed");
    assert_eq!(details[0]["message"], Value::Null);
    let boleto = boleto(charge);
    assert_eq!(
        boleto.bar_code.as_deref(),
        Some("00191158300000251110000002345678000000000117")
    );
    assert_eq!(
        boleto.line_code.as_deref(),
        Some("00190000090234567800000000011171115830000025111")
    );
    assert_eq!(
        boleto.our_number.as_deref(),
        Some("00000000011"),
        "leading zeros kept"
    );
    assert_eq!(boleto.our_number_dv.as_deref(), Some("7"));
    assert_eq!(boleto.registration_status.as_deref(), Some("registered"));
    assert_eq!(boleto.quick_pdf_url, None);
}

#[test]
fn grafeno_unknown_change() {
    let text = fixture("grafeno/unknown_change.json");
    let event = grafeno_event(text);
    assert_eq!(
        event.change,
        GrafenoChange::Unknown("protesto-solicitado".into())
    );
    assert_eq!(event.change_str(), "protesto-solicitado");
    let GrafenoData::Unknown(raw) = &event.data else {
        panic!("expected GrafenoData::Unknown, got {:?}", event.data)
    };
    assert_eq!(raw.parse::<Value>().unwrap(), json(text)["data"]);
    assert!(!event.is_known());
    assert_eq!(event.drift(), None);
    let webhook = WebhookEvent::Grafeno(event);
    assert_eq!(webhook.kind(), "protesto-solicitado");
    assert!(!webhook.is_known());
}

#[test]
fn grafeno_unique_key_examples_split() {
    let text = fixture("grafeno/x_unique_key_examples.txt");
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let (uuid, status) =
            grafeno::split_unique_key(line).unwrap_or_else(|| panic!("{line:?} does not split"));
        assert_eq!(uuid.len(), 36);
        assert_eq!(format!("{uuid}-{status}"), *line);
        assert!(!status.is_empty());
    }
    assert_eq!(
        grafeno::split_unique_key(lines[0]),
        Some(("31216ba1-c507-688c-bea7-b7adf8cf2c1c", "boleto-criado"))
    );
    assert_eq!(
        GrafenoChange::from_wire("boleto-criado"),
        GrafenoChange::BoletoCriado
    );
}

#[test]
fn grafeno_serializes_without_signature() {
    for text in [
        fixture("grafeno/cadastro_approved.json"),
        fixture("grafeno/cadastro_rejected.json"),
        fixture("grafeno/cadastro_validation_pendencies.json"),
        fixture("grafeno/boleto_criado.json"),
        fixture("grafeno/boleto_falha_registro.json"),
        fixture("grafeno/cobranca_atualizacao.json"),
        fixture("grafeno/atualizacao_cobranca.json"),
        fixture("grafeno/unknown_change.json"),
    ] {
        let wire = json(text);
        let signature = wire["signature"].as_str().unwrap();
        let event = WebhookEvent::Grafeno(grafeno_event(text));
        let value = serde_json::to_value(&event).unwrap();
        assert!(value.get("signature").is_none(), "{value}");
        let serialized = value.to_string();
        let debug = format!("{event:?}");
        for line in signature.split_whitespace() {
            assert!(
                !serialized.contains(line),
                "signature leaked into {serialized}"
            );
            assert!(!debug.contains(line), "signature leaked into Debug");
        }
        assert_eq!(value["change"], wire["change"], "change as received");
    }

    let value = serde_json::to_value(WebhookEvent::Grafeno(grafeno_event(fixture(
        "grafeno/boleto_criado.json",
    ))))
    .unwrap();
    assert_eq!(value["data"]["value"], "251.11", "amounts stay strings");
    assert_eq!(value["data"]["abatementValue"], "0.0");
    assert_eq!(value["data"]["createdAt"], "2026-03-10T10:15:02.311-03:00");
    assert_eq!(value["data"]["daysWriteOffAfterDueDate"], 30);
    assert_eq!(value["data"]["boleto"]["registrationMethod"], "online");
    assert_eq!(value["data"]["boleto"]["yourNumber"], "000001");

    let value = serde_json::to_value(WebhookEvent::Grafeno(grafeno_event(fixture(
        "grafeno/cadastro_validation_pendencies.json",
    ))))
    .unwrap();
    assert_eq!(
        value,
        json!({"change": "validation_pendencies",
               "data": {"id": "8ecd3308-f779-4c95-830e-49a5f767ebc2",
                        "pendencies": [{"text": "O RG do sócio está expirado."}]}})
    );
}

// ---------------------------------------------------------------- all providers

#[test]
fn webhook_event_decode_matches_provider_decoders() {
    let decode = |endpoint, text: &str| {
        WebhookEvent::decode(endpoint, &Request::new(text.as_bytes())).unwrap()
    };
    let text = fixture("bonifiq/point_add_legacy.json");
    let event = decode(Endpoint::Bonifiq, text);
    assert_eq!(event, WebhookEvent::Bonifiq(bonifiq(text)));
    assert_eq!(
        (event.provider(), event.kind()),
        (Provider::Bonifiq, "Point_Add")
    );

    let text = fixture("foody/status_delivered.json");
    let event = decode(Endpoint::Foody, text);
    assert_eq!(event, WebhookEvent::Foody(foody(text)));
    assert_eq!(event.provider(), Provider::Foody);
    assert_eq!(
        event.occurred_at().unwrap().to_string(),
        "2020-06-19T18:05:31Z"
    );

    let text = fixture("grafeno/boleto_criado.json");
    let event = decode(Endpoint::Grafeno, text);
    assert_eq!(event, WebhookEvent::Grafeno(grafeno_event(text)));
    assert_eq!(
        (event.provider(), event.kind()),
        (Provider::Grafeno, "boleto-criado")
    );
    assert_eq!(event.occurred_at(), None);
    // Grafeno's delivery id is the x-unique-key header, trimmed.
    let headers = [(
        "X-Unique-Key",
        " 31216ba1-c507-688c-bea7-b7adf8cf2c1c-boleto-criado ",
    )];
    let request = Request::new(text.as_bytes()).with_headers(&headers);
    assert_eq!(
        event.delivery_id(&request),
        Some(DeliveryId::new(
            Provider::Grafeno,
            "31216ba1-c507-688c-bea7-b7adf8cf2c1c-boleto-criado"
        ))
    );
    assert_eq!(event.delivery_id(&Request::new(text.as_bytes())), None);

    let text = fixture("iset/stock_changed.json");
    let event = decode(Endpoint::Iset(IsetKind::StockChanged), text);
    assert_eq!(
        (event.provider(), event.kind()),
        (Provider::Iset, "stock_changed")
    );
    assert!(event.is_known());
}
