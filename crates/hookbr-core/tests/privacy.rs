//! `hookbr_core::privacy` on the providers' real examples and on generated input.
//!
//! * Every wire fixture (the seeds' examples and the bodies built from providers.md) is masked:
//!   only the fields of the personal-data map change, so ids, timestamps, amounts and statuses
//!   survive, and what remains holds no detectable CPF, CNPJ, e-mail or phone number.
//! * Generated CPFs, CNPJs, e-mails and phone numbers are found wherever they sit in text, JSON or
//!   form bodies; generated UUIDs and timestamps are not touched; nothing panics.

#![cfg(all(
    feature = "bonifiq",
    feature = "foody",
    feature = "iset",
    feature = "grafeno",
    feature = "testkit"
))]

use hookbr_core::{
    Endpoint, Provider, Request, WebhookEvent,
    iset::IsetKind,
    privacy::{
        DataClass, Subject, is_br_phone, is_cnpj, is_cpf, is_email, mask_as, mask_body,
        mask_fields, mask_text, personal_fields, subjects,
    },
    testkit::{fixture, fixture_paths},
};
use proptest::{collection::vec, prelude::*, sample::select};
use serde_json::Value;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    }
}

/// The endpoint a fixture is received on (iSET: the kind from the file name).
fn endpoint_of(path: &str) -> Endpoint {
    let (dir, file) = path.split_once('/').unwrap();
    match dir {
        "bonifiq" => Endpoint::Bonifiq,
        "foody" => Endpoint::Foody,
        "grafeno" => Endpoint::Grafeno,
        "iset" => {
            let stem = file.split('.').next().unwrap().trim_end_matches("_form");
            Endpoint::Iset(stem.parse::<IsetKind>().unwrap())
        }
        other => panic!("fixture directory {other}"),
    }
}

/// Every leaf of `value` with its path (`a.b.[].c`).
fn leaves(value: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                leaves(value, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                leaves(item, &format!("{path}[]"), out);
            }
        }
        leaf => out.push((path.to_owned(), leaf.clone())),
    }
}

/// Whether a leaf still holds something a detector recognizes.
fn detectable(value: &Value) -> bool {
    match value {
        Value::String(text) => {
            is_cpf(text) || is_cnpj(text) || is_email(text) || is_br_phone(text) || {
                mask_text(text) != *text
            }
        }
        _ => false,
    }
}

#[test]
fn seed_examples_keep_everything_but_personal_data() {
    let mut checked = 0;
    let bodies =
        fixture_paths().filter(|path| path.ends_with(".json") || path.ends_with("_form.txt"));
    for path in bodies {
        let body = fixture(path).unwrap();
        let endpoint = endpoint_of(path);
        // iSET reads a body that is not JSON as a form.
        let request = Request::new(body.as_bytes());
        let Ok(event) = WebhookEvent::decode(endpoint, &request) else {
            continue; // a fixture of a refused body (e.g. Foody without `event`)
        };
        let masked = mask_body(endpoint.provider(), event.kind(), body.as_bytes());
        let masked = String::from_utf8(masked).unwrap();
        let allowed: Vec<String> = personal_fields(endpoint.provider())
            .map(|field| field.path.to_owned())
            .chain(["cliente".to_owned()]) // the custom BonifiQ body's e-mail
            .collect();
        if path.ends_with("_form.txt") {
            // No personal data in the form fixture: it must come back as it was.
            assert_eq!(masked, body.trim_end(), "{path}");
            checked += 1;
            continue;
        }
        let original: Value = serde_json::from_str(body).unwrap();
        let after: Value = serde_json::from_str(&masked).unwrap();
        let (mut before_leaves, mut after_leaves) = (Vec::new(), Vec::new());
        leaves(&original, "", &mut before_leaves);
        leaves(&after, "", &mut after_leaves);
        assert_eq!(
            before_leaves.len(),
            after_leaves.len(),
            "{path}: shape changed"
        );
        for ((leaf_path, before), (same_path, after)) in before_leaves.iter().zip(&after_leaves) {
            assert_eq!(leaf_path, same_path, "{path}: key order changed");
            if before != after {
                assert!(
                    allowed.iter().any(|allowed| allowed == leaf_path),
                    "{path}: {leaf_path} changed ({before} -> {after}) but is not personal data"
                );
            }
            assert!(
                !detectable(after),
                "{path}: {leaf_path} still holds {after}"
            );
        }
        // Decoding the masked body finds the same event: ids, kinds and times survive.
        let masked_request = Request::new(masked.as_bytes());
        let again = WebhookEvent::decode(endpoint, &masked_request).unwrap();
        assert_eq!(again.kind(), event.kind(), "{path}");
        assert_eq!(again.occurred_at(), event.occurred_at(), "{path}");
        // iSET's id is a digest of the body bytes, Grafeno's comes from a header.
        if matches!(endpoint, Endpoint::Bonifiq | Endpoint::Foody) {
            assert_eq!(
                again.delivery_id(&masked_request),
                event.delivery_id(&request),
                "{path}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} fixtures checked");
}

#[test]
fn seed_personal_data_is_masked() {
    let body = fixture("bonifiq/earn_purchase_points_legacy.json").unwrap();
    let masked = String::from_utf8(mask_body(
        Provider::Bonifiq,
        "Communication_EarnPurchasePoints",
        body.as_bytes(),
    ))
    .unwrap();
    let masked: Value = serde_json::from_str(&masked).unwrap();
    let customer = &masked["Payload"]["Customer"];
    assert_eq!(customer["Email"], "e***@t***.com.br");
    assert_eq!(customer["Name"], "T. R.");
    assert_eq!(customer["Phone"], "*******8778");
    assert_eq!(customer["BirthdayDate"], "2024-**-**T**:**:**");
    assert_eq!(customer["Id"], Value::Null);

    let body = fixture("grafeno/cadastro_validation_pendencies.json").unwrap();
    let masked = String::from_utf8(mask_body(
        Provider::Grafeno,
        "validation_pendencies",
        body.as_bytes(),
    ))
    .unwrap();
    let masked: Value = serde_json::from_str(&masked).unwrap();
    assert_eq!(
        masked["data"]["pendencies"][0]["text"],
        "[masked text, 28 characters]"
    );
    assert_eq!(masked["data"]["id"], "8ecd3308-f779-4c95-830e-49a5f767ebc2");

    let body = fixture("bonifiq/custom_body.json").unwrap();
    let masked =
        String::from_utf8(mask_body(Provider::Bonifiq, "custom", body.as_bytes())).unwrap();
    assert!(
        masked.contains(r#""cliente": "t***@b***.com.br""#),
        "{masked}"
    );
    assert!(masked.contains(r#""pontos": 10"#), "{masked}");
}

/// `mask_fields` (a sink's `mask` list) changes the listed mapped fields only: not the other
/// mapped ones, not what the detectors would find, not a custom body, not a form.
#[test]
fn mask_fields_changes_only_the_listed_fields() {
    let body = fixture("bonifiq/earn_purchase_points_legacy.json").unwrap();
    let kind = "Communication_EarnPurchasePoints";
    let original: Value = serde_json::from_str(body).unwrap();
    let masked = mask_fields(
        Provider::Bonifiq,
        kind,
        body.as_bytes(),
        &["Payload.Customer.Email", "Payload.Customer.Phone"],
    );
    let masked: Value = serde_json::from_slice(&masked).unwrap();
    let customer = &masked["Payload"]["Customer"];
    assert_eq!(customer["Email"], "e***@t***.com.br");
    assert_eq!(customer["Phone"], "*******8778");
    // Everything else exactly as received.
    let (mut before, mut after) = (Vec::new(), Vec::new());
    leaves(&original, "", &mut before);
    leaves(&masked, "", &mut after);
    assert_eq!(before.len(), after.len());
    for ((path, was), (same_path, now)) in before.iter().zip(&after) {
        assert_eq!(path, same_path);
        if !path.ends_with("Customer.Email") && !path.ends_with("Customer.Phone") {
            assert_eq!(was, now, "{path}");
        }
    }
    // No listed path, another provider's path, an unknown one: the bytes as they were.
    for only in [
        &[][..],
        &["data.pendencies[].text"][..],
        &["Payload.Points"][..],
    ] {
        assert_eq!(
            mask_fields(Provider::Bonifiq, kind, body.as_bytes(), only),
            body.as_bytes()
        );
    }
    // The map does not apply to custom bodies, nor to bodies that are not JSON.
    let custom = br#"{"Payload":{"Customer":{"Email":"joao@example.com"}}}"#;
    let email = ["Payload.Customer.Email"];
    assert_eq!(
        mask_fields(Provider::Bonifiq, "custom", custom, &email),
        custom
    );
    assert_eq!(
        mask_fields(Provider::Bonifiq, "Point_Add", custom, &email),
        br#"{"Payload":{"Customer":{"Email":"j***@e***.com"}}}"#
    );
    let form = b"email=joao%40example.com&cpf=52998224725";
    assert_eq!(
        mask_fields(Provider::Iset, "order_upserted", form, &email),
        form
    );
    // Grafeno's pendency texts, in every element.
    let body = fixture("grafeno/cadastro_validation_pendencies.json").unwrap();
    let masked = mask_fields(
        Provider::Grafeno,
        "validation_pendencies",
        body.as_bytes(),
        &["data.pendencies[].text"],
    );
    let masked: Value = serde_json::from_slice(&masked).unwrap();
    assert_eq!(
        masked["data"]["pendencies"][0]["text"],
        "[masked text, 28 characters]"
    );
}

#[test]
fn the_map_names_its_sources() {
    for provider in Provider::ALL {
        for field in personal_fields(provider) {
            assert!(field.source.contains("seed 00"), "{field:?}");
        }
    }
    assert_eq!(personal_fields(Provider::Bonifiq).count(), 5);
    assert!(
        personal_fields(Provider::Grafeno)
            .any(|field| field.path == "data.pendencies[].text"
                && field.class == DataClass::FreeText)
    );
    assert_eq!(personal_fields(Provider::Iset).count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Generated values
// ---------------------------------------------------------------------------------------------

fn check_digit(digits: &[u32], weights: &[u32]) -> u32 {
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    if sum % 11 < 2 { 0 } else { 11 - sum % 11 }
}

/// A valid CPF (bare digits) from nine digits.
fn cpf_of(body: &[u32]) -> String {
    let mut digits = body.to_vec();
    digits.push(check_digit(&digits, &[10, 9, 8, 7, 6, 5, 4, 3, 2]));
    digits.push(check_digit(&digits, &[11, 10, 9, 8, 7, 6, 5, 4, 3, 2]));
    digits.iter().map(u32::to_string).collect()
}

/// A valid CNPJ (bare digits) from twelve digits.
fn cnpj_of(body: &[u32]) -> String {
    let mut digits = body.to_vec();
    digits.push(check_digit(&digits, &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]));
    digits.push(check_digit(
        &digits,
        &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2],
    ));
    digits.iter().map(u32::to_string).collect()
}

fn cpf() -> impl Strategy<Value = String> {
    (vec(0_u32..10, 9), any::<bool>())
        .prop_filter("not all equal", |(body, _)| {
            body.iter().any(|d| *d != body[0])
        })
        .prop_map(|(body, formatted)| {
            let bare = cpf_of(&body);
            if formatted {
                format!(
                    "{}.{}.{}-{}",
                    &bare[..3],
                    &bare[3..6],
                    &bare[6..9],
                    &bare[9..]
                )
            } else {
                bare
            }
        })
}

fn cnpj() -> impl Strategy<Value = String> {
    (vec(0_u32..10, 12), any::<bool>())
        .prop_filter("not all equal", |(body, _)| {
            body.iter().any(|d| *d != body[0])
        })
        .prop_map(|(body, formatted)| {
            let bare = cnpj_of(&body);
            if formatted {
                format!(
                    "{}.{}.{}/{}-{}",
                    &bare[..2],
                    &bare[2..5],
                    &bare[5..8],
                    &bare[8..12],
                    &bare[12..]
                )
            } else {
                bare
            }
        })
}

fn email() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9._]{0,10}[a-z0-9]",
        "[a-z][a-z0-9-]{0,8}[a-z]",
        select(vec!["com", "com.br", "org", "io"]),
    )
        .prop_map(|(local, domain, tld)| format!("{local}@{domain}.{tld}"))
}

fn phone() -> impl Strategy<Value = String> {
    (
        select(vec![11_u32, 21, 31, 41, 51, 61, 71, 81, 91, 19, 85]),
        any::<bool>(),
        0_u32..10_000,
        1000_u32..10_000,
        0_u32..4,
        2_u32..6,
    )
        .prop_map(|(ddd, mobile, a, b, style, first)| {
            let head = if mobile {
                format!("9{a:04}")
            } else {
                format!("{first}{:03}", a % 1000)
            };
            match style {
                0 => format!("{ddd}{head}{b}"),
                1 => format!("({ddd}) {head}-{b}"),
                2 => format!("+55 {ddd} {head}-{b}"),
                _ => format!("+55 ({ddd}) {head}{b}"),
            }
        })
}

fn uuid() -> impl Strategy<Value = String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
}

fn timestamp() -> impl Strategy<Value = String> {
    (
        2000_u32..2040,
        1_u32..13,
        1_u32..29,
        0_u32..24,
        0_u32..60,
        0_u32..60,
        0_u32..10_000_000,
        0_u32..3,
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, style)| match style {
            0 => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:07}Z"),
            1 => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}-03:00"),
            _ => format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
        })
}

fn personal() -> impl Strategy<Value = String> {
    prop_oneof![cpf(), cnpj(), email(), phone()]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn generated_values_are_detected(cpf in cpf(), cnpj in cnpj(), email in email(), phone in phone()) {
        prop_assert!(is_cpf(&cpf), "{}", cpf);
        prop_assert!(is_cnpj(&cnpj), "{}", cnpj);
        prop_assert!(is_email(&email), "{}", email);
        prop_assert!(is_br_phone(&phone), "{}", phone);
    }

    #[test]
    fn personal_values_in_text_are_masked(
        value in personal(),
        before in "[A-Za-zçã ]{0,12}",
        after in "([ ,.;][A-Za-z ,.;]{0,11})?",
    ) {
        let text = format!("{before} {value}{after}");
        let masked = mask_text(&text);
        prop_assert!(!masked.contains(&value), "{} -> {}", text, masked);
        prop_assert_eq!(mask_text(&masked), masked.clone(), "not idempotent on {}", text);
    }

    #[test]
    fn personal_values_in_bodies_are_masked(value in personal(), key in "k[a-z]{0,7}", id in uuid(), at in timestamp()) {
        let json = serde_json::json!({ "id": id, "at": at, key.clone(): value, "list": [value] });
        let body = serde_json::to_vec(&json).unwrap();
        let masked = String::from_utf8(mask_body(Provider::Iset, "order_upserted", &body)).unwrap();
        prop_assert!(!masked.contains(&value), "{}", masked);
        prop_assert!(masked.contains(&id) && masked.contains(&at), "{}", masked);
        let form = format!("id={id}&{key}={}", urlencode(&value));
        let masked = String::from_utf8(mask_body(Provider::Iset, "order_upserted", form.as_bytes())).unwrap();
        prop_assert!(!masked.contains(&urlencode(&value)), "{}", masked);
        prop_assert!(masked.starts_with(&format!("id={id}&")), "{}", masked);
    }

    #[test]
    fn ids_and_timestamps_survive(id in uuid(), at in timestamp(), number in 0_u64..1_000_000_000) {
        for text in [id.clone(), at.clone(), number.to_string(), format!("{id} | {at} | {number}")] {
            prop_assert_eq!(mask_text(&text), text.clone());
        }
    }

    #[test]
    fn classes_never_panic_nor_leak_documents(class in select(vec![
        DataClass::Email, DataClass::Name, DataClass::Phone, DataClass::Document,
        DataClass::BirthDate, DataClass::Address, DataClass::FreeText, DataClass::Secret,
    ]), value in "\\PC{0,40}") {
        let masked = mask_as(class, &value);
        if class == DataClass::Document && value.chars().filter(char::is_ascii_alphanumeric).count() > 2 {
            prop_assert_ne!(masked, value);
        }
    }

    #[test]
    fn bodies_never_panic(body in vec(any::<u8>(), 0..512)) {
        for provider in Provider::ALL {
            let _ = mask_body(provider, "custom", &body);
        }
        if let Ok(text) = std::str::from_utf8(&body) {
            let _ = mask_text(text);
        }
    }

    #[test]
    fn subjects_are_found_wherever_masking_hides_them(
        value in prop_oneof![cpf(), cnpj(), email()],
        key in "k[a-z]{0,7}",
        id in uuid(),
        before in "[A-Za-z ]{0,12}",
    ) {
        let subject = Subject::parse(&value).unwrap();
        let json = serde_json::json!({ "id": id, key.clone(): value, "text": format!("{before} {value}.") });
        let form = format!("id={id}&{key}={}", urlencode(&value));
        let text = format!("{before} {value}, ok");
        for body in [serde_json::to_vec(&json).unwrap(), form.into_bytes(), text.into_bytes()] {
            let found = subjects(&body);
            prop_assert!(found.contains(&subject), "{} not in {:?}", value, found);
            prop_assert_eq!(found.len(), 1, "{:?}", found);
        }
    }

    #[test]
    fn subjects_never_panic(body in vec(any::<u8>(), 0..512)) {
        let _ = subjects(&body);
    }

    #[test]
    fn json_bodies_never_panic(body in json_value(4)) {
        let bytes = serde_json::to_vec(&body).unwrap();
        for provider in Provider::ALL {
            let masked = mask_body(provider, "Point_Add", &bytes);
            // Still JSON, same outer type.
            let parsed: Value = serde_json::from_slice(&masked).unwrap();
            prop_assert_eq!(std::mem::discriminant(&parsed), std::mem::discriminant(&body));
            let paths: Vec<&str> = personal_fields(provider).map(|field| field.path).collect();
            let masked = mask_fields(provider, "Point_Add", &bytes, &paths);
            let parsed: Value = serde_json::from_slice(&masked).unwrap();
            prop_assert_eq!(std::mem::discriminant(&parsed), std::mem::discriminant(&body));
        }
    }

    #[test]
    fn mask_fields_never_panics(body in vec(any::<u8>(), 0..512)) {
        for provider in Provider::ALL {
            let paths: Vec<&str> = personal_fields(provider).map(|field| field.path).collect();
            let _ = mask_fields(provider, "Point_Add", &body, &paths);
        }
    }
}

fn urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
        personal().prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec(
                (
                    select(vec![
                        "Email", "Customer", "Payload", "cpf", "nome", "x", "data"
                    ]),
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| Value::Object(
                pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}
