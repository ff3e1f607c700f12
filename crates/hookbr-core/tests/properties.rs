//! Property tests for everything in hookbr-core that reads network bytes.
//!
//! Two families:
//!
//! * **never panics**: every decoder, verifier and the whole [`Receiver`] pipeline are fed
//!   arbitrary bytes and, more usefully, JSON built from the providers' real shapes with fields
//!   dropped, retyped or replaced, then byte-mutated (fixtures included);
//! * **round trips**: `Timestamp` Display → parse (and agreement with `jiff` on strict RFC 3339),
//!   `Secret::matches`, Grafeno signatures (and their forgery), and serialization of decoded
//!   events (which must never carry Foody's token).
//!
//! Grafeno signature properties and the Grafeno receiver need the `testkit` feature; the suite
//! is meant to run as `cargo test -p hookbr-core --all-features --test properties`.

#![cfg(all(
    feature = "bonifiq",
    feature = "foody",
    feature = "iset",
    feature = "grafeno"
))]

use futures_executor::block_on;
use hookbr_core::{
    Endpoint, Receiver, Request, Secret, Timestamp, WebhookEvent,
    bonifiq::BonifiqEvent,
    foody::FoodyEvent,
    grafeno::{GrafenoEvent, split_unique_key},
    iset::{IsetEvent, IsetKind},
    verify::{AnyVerifier, BodyTokenVerifier, HeaderSecretVerifier, UrlSecretVerifier, Verify},
};
use proptest::{collection::vec, option, prelude::*, sample::select};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Bounded, and without regression files (they would land next to this file).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    }
}

const BONIFIQ_SECRET: &str = "bq-s3cr3t";
const FOODY_TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";
const ISET_SECRET: &str = "iset-k3y";

// ---------------------------------------------------------------------------------------------
// Fixtures (seeds for mutation)
// ---------------------------------------------------------------------------------------------

const BONIFIQ_FIXTURES: &[&[u8]] = &[
    include_bytes!("../fixtures/bonifiq/custom_body.json"),
    include_bytes!("../fixtures/bonifiq/drifted_point_add.json"),
    include_bytes!("../fixtures/bonifiq/earn_birthday_points_legacy.json"),
    include_bytes!("../fixtures/bonifiq/earn_purchase_points_legacy.json"),
    include_bytes!("../fixtures/bonifiq/earn_purchase_points_string_topic.json"),
    include_bytes!("../fixtures/bonifiq/point_add_int_only.json"),
    include_bytes!("../fixtures/bonifiq/point_add_legacy.json"),
    include_bytes!("../fixtures/bonifiq/point_remove.json"),
    include_bytes!("../fixtures/bonifiq/unknown_topic.json"),
];

const FOODY_FIXTURES: &[&[u8]] = &[
    include_bytes!("../fixtures/foody/hook_test.json"),
    include_bytes!("../fixtures/foody/missing_event.json"),
    include_bytes!("../fixtures/foody/order_status_updated.json"),
    include_bytes!("../fixtures/foody/status_canceled.json"),
    include_bytes!("../fixtures/foody/status_cancelled.json"),
    include_bytes!("../fixtures/foody/status_closed.json"),
    include_bytes!("../fixtures/foody/status_delivered.json"),
    include_bytes!("../fixtures/foody/status_open.json"),
    include_bytes!("../fixtures/foody/status_ready.json"),
    include_bytes!("../fixtures/foody/unknown_event.json"),
];

const ISET_FIXTURES: &[&[u8]] = &[
    include_bytes!("../fixtures/iset/category_deleted.json"),
    include_bytes!("../fixtures/iset/order_upserted.json"),
    include_bytes!("../fixtures/iset/order_upserted_form.txt"),
    include_bytes!("../fixtures/iset/product_upserted.json"),
    include_bytes!("../fixtures/iset/stock_changed.json"),
];

const GRAFENO_FIXTURES: &[&[u8]] = &[
    include_bytes!("../fixtures/grafeno/atualizacao_cobranca.json"),
    include_bytes!("../fixtures/grafeno/boleto_criado.json"),
    include_bytes!("../fixtures/grafeno/boleto_falha_registro.json"),
    include_bytes!("../fixtures/grafeno/cadastro_approved.json"),
    include_bytes!("../fixtures/grafeno/cadastro_rejected.json"),
    include_bytes!("../fixtures/grafeno/cadastro_validation_pendencies.json"),
    include_bytes!("../fixtures/grafeno/cobranca_atualizacao.json"),
    include_bytes!("../fixtures/grafeno/unknown_change.json"),
];

const UNIQUE_KEY_FIXTURE: &str = include_str!("../fixtures/grafeno/x_unique_key_examples.txt");

// ---------------------------------------------------------------------------------------------
// Generic generators
// ---------------------------------------------------------------------------------------------

/// Strings that tend to matter to these parsers.
fn interesting_str() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_owned()),
        Just("null".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("é".to_owned()),
        Just("\u{0}".to_owned()),
        Just("-".to_owned()),
        Just("1e400".to_owned()),
        Just("9223372036854775808".to_owned()),
        Just("token".to_owned()),
        Just("Point_Add".to_owned()),
        Just("order_status_updated".to_owned()),
        Just("hook_test".to_owned()),
        Just("approved".to_owned()),
        Just("boleto-criado".to_owned()),
        Just("atualizacao-cobranca".to_owned()),
        Just("31216ba1-c507-688c-bea7-b7adf8cf2c1c".to_owned()),
        Just("2020-06-19T17:42:12Z".to_owned()),
        Just("0000-01-01T00:00:00+23:59".to_owned()),
        Just("9999-12-31T23:59:59-23:59".to_owned()),
    ]
    .boxed()
}

fn arb_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-zA-Z0-9_ .:+-]{0,24}",
        2 => any::<String>().prop_map(|s| s.chars().take(24).collect()),
        2 => interesting_str(),
        2 => timestamp_text(),
    ]
    .boxed()
}

fn arb_number() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-10i64..10).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
    .boxed()
}

fn arb_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((arb_string(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A field: usually well typed, sometimes absent, sometimes anything at all.
fn field(good: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        6 => good.prop_map(Some),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        2 => arb_json().prop_map(Some),
    ]
    .boxed()
}

fn string_value(strategy: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Value> {
    strategy.prop_map(Value::String).boxed()
}

fn object(fields: Vec<(&str, Option<Value>)>, extra: Vec<(String, Value)>) -> Value {
    let mut map = Map::new();
    for (name, value) in fields {
        if let Some(value) = value {
            map.insert(name.to_owned(), value);
        }
    }
    for (name, value) in extra {
        map.entry(name).or_insert(value);
    }
    Value::Object(map)
}

fn extra_fields() -> BoxedStrategy<Vec<(String, Value)>> {
    vec(("[a-zA-Z_]{1,10}", arb_json()), 0..3).boxed()
}

fn uuid_text() -> BoxedStrategy<String> {
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}".boxed()
}

/// A byte-level mutation of a serialized body.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Splice(usize, Vec<u8>),
    Duplicate(usize, usize),
}

fn interesting_byte() -> BoxedStrategy<u8> {
    prop_oneof![
        any::<u8>(),
        select(b"{}[]\",:\\0123456789-+eE.tfnu \t\r\n%&=".to_vec()),
        select(vec![0x00, 0x7f, 0x80, 0xc3, 0xef, 0xbb, 0xbf, 0xff]),
    ]
    .boxed()
}

fn mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        (any::<usize>(), interesting_byte()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        (any::<usize>(), interesting_byte()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop_oneof![
                Just(b"\"token\":\"x\",".to_vec()),
                Just(b"\\u0000".to_vec()),
                Just(b"\\ud800".to_vec()),
                Just(b"[[[[[[[[".to_vec()),
                Just(b"1e999999".to_vec()),
                Just(b"-0.0000000000000000000000001".to_vec()),
                Just("\u{feff}".as_bytes().to_vec()),
                vec(any::<u8>(), 0..8),
            ]
        )
            .prop_map(|(at, bytes)| Mutation::Splice(at, bytes)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
    .boxed()
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = bytes.len();
        let at = |index: usize| if len == 0 { 0 } else { index % (len + 1) };
        match mutation {
            Mutation::Flip(index, byte) => {
                if let Some(slot) = bytes.get_mut(at(*index).min(len.saturating_sub(1))) {
                    *slot ^= byte | 1;
                }
            }
            Mutation::Insert(index, byte) => bytes.insert(at(*index), *byte),
            Mutation::Delete(index) => {
                if len > 0 {
                    bytes.remove(index % len);
                }
            }
            Mutation::Truncate(index) => bytes.truncate(at(*index)),
            Mutation::Splice(index, insert) => {
                let at = at(*index);
                bytes.splice(at..at, insert.iter().copied());
            }
            Mutation::Duplicate(a, b) => {
                let (start, end) = (at(*a).min(at(*b)), at(*a).max(at(*b)));
                let slice: Vec<u8> = bytes.get(start..end).unwrap_or_default().to_vec();
                bytes.splice(end..end, slice);
            }
        }
    }
    bytes
}

/// A body for one provider: arbitrary bytes, structured JSON, or mutated structured JSON and
/// fixtures.
fn body_from(
    structured: BoxedStrategy<Vec<u8>>,
    fixtures: &'static [&'static [u8]],
) -> BoxedStrategy<Vec<u8>> {
    let fixture = select(fixtures.to_vec()).prop_map(<[u8]>::to_vec);
    prop_oneof![
        2 => vec(any::<u8>(), 0..256),
        4 => structured.clone(),
        3 => (structured, vec(mutation(), 1..4)).prop_map(|(body, m)| apply(body, &m)),
        2 => fixture.clone(),
        3 => (fixture, vec(mutation(), 1..6)).prop_map(|(body, m)| apply(body, &m)),
    ]
    .boxed()
}

/// Serializes a value, sometimes pretty, sometimes with a byte-order mark or blank padding.
fn serialized(value: BoxedStrategy<Value>) -> BoxedStrategy<Vec<u8>> {
    (value, 0u8..6)
        .prop_map(|(value, style)| {
            let text = match style {
                0 => serde_json::to_string_pretty(&value).unwrap_or_default(),
                1 => format!("\u{feff}{value}"),
                2 => format!(" \n{value}\r\n"),
                _ => value.to_string(),
            };
            text.into_bytes()
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

/// A valid date-time and its pieces: (text, same local time in UTC, offset in seconds).
#[derive(Debug, Clone)]
struct DateTime {
    text: String,
    utc_text: String,
    offset_seconds: i64,
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn valid_datetime_in(years: std::ops::RangeInclusive<u32>) -> BoxedStrategy<DateTime> {
    let date = (years, 1u32..=12)
        .prop_flat_map(|(year, month)| (Just(year), Just(month), 1..=days_in_month(year, month)));
    let offset = prop_oneof![
        Just((String::new(), 0i64)),
        Just(("Z".to_owned(), 0)),
        Just(("z".to_owned(), 0)),
        (any::<bool>(), 0u32..=23, 0u32..=59, 0u8..3).prop_map(|(plus, h, m, style)| {
            let sign = if plus { '+' } else { '-' };
            let (text, m) = match style {
                0 => (format!("{sign}{h:02}:{m:02}"), m),
                1 => (format!("{sign}{h:02}{m:02}"), m),
                _ => (format!("{sign}{h:02}"), 0),
            };
            let magnitude = i64::from(h * 3600 + m * 60);
            (text, if plus { magnitude } else { -magnitude })
        }),
    ];
    (
        date,
        (0u32..=23, 0u32..=59, 0u32..=59),
        select(vec!['T', 't', ' ']),
        (select(vec!['.', ',']), "[0-9]{0,9}"),
        offset,
    )
        .prop_map(
            |(
                (year, month, day),
                (hour, minute, second),
                sep,
                (point, fraction),
                (offset, secs),
            )| {
                let fraction = if fraction.is_empty() {
                    String::new()
                } else {
                    format!("{point}{fraction}")
                };
                let local = format!(
                    "{year:04}-{month:02}-{day:02}{sep}{hour:02}:{minute:02}:{second:02}{fraction}"
                );
                DateTime {
                    text: format!("{local}{offset}"),
                    utc_text: format!("{local}Z"),
                    offset_seconds: secs,
                }
            },
        )
        .boxed()
}

fn valid_datetime() -> BoxedStrategy<DateTime> {
    valid_datetime_in(0..=9999)
}

/// Timestamp-ish text: valid, mutated valid, or near misses.
fn timestamp_text() -> BoxedStrategy<String> {
    let valid = valid_datetime_in(1900..=2100).prop_map(|dt| dt.text);
    prop_oneof![
        3 => valid.clone(),
        2 => (valid, vec(mutation(), 1..3))
            .prop_map(|(text, m)| String::from_utf8_lossy(&apply(text.into_bytes(), &m)).into_owned()),
        1 => "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]{0,20})?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?",
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Provider shapes
// ---------------------------------------------------------------------------------------------

fn customer() -> BoxedStrategy<Value> {
    let id = prop_oneof![string_value(arb_string()), arb_number()];
    (
        field(string_value(arb_string())),
        field(id.clone()),
        field(string_value(arb_string())),
        field(id.clone()),
        field(id),
        field(string_value(timestamp_text())),
        field(arb_number()),
        extra_fields(),
    )
        .prop_map(
            |(email, id, name, phone, document, birthday, balance, extra)| {
                object(
                    vec![
                        ("Email", email),
                        ("Id", id),
                        ("Name", name),
                        ("Phone", phone),
                        ("Document", document),
                        ("BirthdayDate", birthday),
                        ("PointsBalance", balance),
                    ],
                    extra,
                )
            },
        )
        .boxed()
}

fn small_int() -> BoxedStrategy<Value> {
    prop_oneof![(-2i64..6).prop_map(Value::from), arb_number()].boxed()
}

fn bonifiq_payload() -> BoxedStrategy<Value> {
    let balance = prop_oneof![
        (field(arb_number()), field(arb_number())).prop_map(|(points, cashback)| object(
            vec![("PointsBalance", points), ("CashbackBalance", cashback)],
            vec![]
        )),
        arb_number(),
    ];
    let point = (
        field(arb_number()),
        field(small_int()),
        field(small_int()),
        field(customer()),
        field(balance),
        field(arb_number()),
        extra_fields(),
    )
        .prop_map(|(points, kind, action, customer, balance, id, extra)| {
            object(
                vec![
                    ("Points", points),
                    ("PointType", kind),
                    ("PointAction", action),
                    ("Customer", customer),
                    ("PointsBalance", balance),
                    ("PointId", id),
                ],
                extra,
            )
        });
    let earn = (
        field(arb_number()),
        field(small_int()),
        field(customer()),
        extra_fields(),
    )
        .prop_map(|(earned, objective, customer, extra)| {
            object(
                vec![
                    ("EarnedPoints", earned),
                    ("ObjectiveType", objective),
                    ("Customer", customer),
                ],
                extra,
            )
        });
    prop_oneof![3 => point, 3 => earn, 1 => arb_json()].boxed()
}

fn bonifiq_topic_name() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "Point_Add",
            "Point_Remove",
            "Point_Update",
            "Communication_EarnPurchasePoints",
            "Communication_EarnBirthdayPoints",
            "Communication_EarnSignupPoints",
            "Communication_EarnReviewPoints",
            "Communication_ReferralCommunicationPoints",
            "Communication_EarnQuizPoints",
            "Communication_EarnCustomObjectivePoints",
            "Communication_EarnSocialMediaFollowInstagram",
            "Communication_EarnSocialMediaFollowFacebook",
            "Communication_EarnSocialMediaFollowLinkedin",
            "Communication_EarnSocialMediaFollowTikTok",
            "Order_Created",
        ])
        .prop_map(str::to_owned),
        arb_string(),
    ]
    .boxed()
}

fn bonifiq_value() -> BoxedStrategy<Value> {
    let topic = prop_oneof![
        (-3i64..8).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        string_value(bonifiq_topic_name()),
        (-3i64..8).prop_map(|id| Value::String(id.to_string())),
        Just(json!(0.0)),
    ];
    (
        field(string_value(prop_oneof![uuid_text(), arb_string()])),
        field(string_value(timestamp_text())),
        field(topic),
        field(string_value(bonifiq_topic_name())),
        field(bonifiq_payload()),
        extra_fields(),
    )
        .prop_map(|(uuid, timestamp, topic, topic_name, payload, extra)| {
            object(
                vec![
                    ("Uuid", uuid),
                    ("Timestamp", timestamp),
                    ("Topic", topic),
                    ("TopicName", topic_name),
                    ("Payload", payload),
                ],
                extra,
            )
        })
        .boxed()
}

fn bonifiq_body() -> BoxedStrategy<Vec<u8>> {
    body_from(serialized(bonifiq_value()), BONIFIQ_FIXTURES)
}

fn foody_event_name() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "order_status_updated",
            "hook_test",
            "order_created",
            "ORDER_STATUS_UPDATED"
        ])
        .prop_map(str::to_owned),
        arb_string(),
    ]
    .boxed()
}

fn foody_status() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "open",
            "ready",
            "dispatched",
            "delivered",
            "closed",
            "cancelled",
            "canceled",
            "OPEN",
            "em_preparo",
        ])
        .prop_map(str::to_owned),
        arb_string(),
    ]
    .boxed()
}

/// A Foody body carrying `token` (when given), as JSON.
fn foody_value(token: BoxedStrategy<Option<Value>>) -> BoxedStrategy<Value> {
    (
        field(string_value(prop_oneof![uuid_text(), arb_string()])),
        field(string_value(timestamp_text())),
        field(string_value(foody_event_name())),
        token,
        field(string_value(foody_status())),
        extra_fields(),
    )
        .prop_map(|(uid, date, event, token, status, extra)| {
            object(
                vec![
                    ("uid", uid),
                    ("updateDate", date),
                    ("event", event),
                    ("token", token),
                    ("status", status),
                ],
                extra,
            )
        })
        .boxed()
}

fn foody_body() -> BoxedStrategy<Vec<u8>> {
    let token = field(string_value(prop_oneof![
        Just(FOODY_TOKEN.to_owned()),
        arb_string()
    ]));
    body_from(serialized(foody_value(token)), FOODY_FIXTURES)
}

fn iset_body() -> BoxedStrategy<Vec<u8>> {
    let id = prop_oneof![string_value(arb_string()), arb_number()];
    let id_name = select(vec![
        "id",
        "order_id",
        "pedido_id",
        "id_pedido",
        "product_id",
        "produto_id",
        "id_produto",
        "category_id",
        "categoria_id",
        "id_categoria",
    ]);
    let json_body = (id_name.clone(), field(id), any::<bool>(), extra_fields())
        .prop_map(|(name, id, nested, extra)| {
            let inner = object(vec![(name, id)], extra);
            if nested {
                json!({ "data": inner })
            } else {
                inner
            }
        })
        .boxed();
    let form_body = vec(
        (
            prop_oneof![id_name.prop_map(str::to_owned), "[a-z_]{0,8}"],
            "[a-zA-Z0-9%+._~-]{0,10}",
        ),
        0..5,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes()
    })
    .boxed();
    let structured = prop_oneof![serialized(json_body), form_body].boxed();
    body_from(structured, ISET_FIXTURES)
}

fn grafeno_change() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "approved",
            "rejected",
            "validation_pendencies",
            "boleto-criado",
            "boleto-falha-registro",
            "cobranca-atualizacao",
            "atualizacao-cobranca",
            "paid",
        ])
        .prop_map(str::to_owned),
        arb_string(),
    ]
    .boxed()
}

fn amount() -> BoxedStrategy<Value> {
    prop_oneof![
        string_value("-?[0-9]{1,6}(\\.[0-9]{1,2})?"),
        arb_number(),
        string_value(arb_string()),
    ]
    .boxed()
}

fn grafeno_data() -> BoxedStrategy<Value> {
    let registration = (
        field(string_value(prop_oneof![uuid_text(), arb_string()])),
        field(
            vec(field(string_value(arb_string())), 0..3).prop_map(|texts| {
                Value::Array(
                    texts
                        .into_iter()
                        .map(|text| object(vec![("text", text)], vec![]))
                        .collect(),
                )
            }),
        ),
        extra_fields(),
    )
        .prop_map(|(id, pendencies, extra)| {
            object(vec![("id", id), ("pendencies", pendencies)], extra)
        });
    let boleto = (
        field(string_value(arb_string())),
        field(prop_oneof![string_value(arb_string()), arb_number()]),
        field(string_value(arb_string())),
        extra_fields(),
    )
        .prop_map(|(method, our_number, bar_code, extra)| {
            object(
                vec![
                    ("registrationMethod", method),
                    ("ourNumber", our_number),
                    ("barCode", bar_code),
                ],
                extra,
            )
        });
    let charge = (
        field(string_value(prop_oneof![uuid_text(), arb_string()])),
        field(string_value(timestamp_text())),
        field(amount()),
        field(amount()),
        field(arb_number()),
        field(string_value(arb_string())),
        field(boleto),
        field(arb_json()),
        extra_fields(),
    )
        .prop_map(
            |(uuid, created, value, fine, days, status, boleto, details, extra)| {
                object(
                    vec![
                        ("uuid", uuid),
                        ("createdAt", created),
                        ("value", value),
                        ("applicableFine", fine),
                        ("daysWriteOffAfterDueDate", days),
                        ("status", status),
                        ("boleto", boleto),
                        ("updateDetails", details),
                    ],
                    extra,
                )
            },
        );
    prop_oneof![2 => registration, 2 => charge, 1 => arb_json()].boxed()
}

fn signature_text() -> BoxedStrategy<String> {
    prop_oneof![
        "[A-Za-z0-9+/=\n]{0,400}",
        vec(any::<u8>(), 0..600).prop_map(|bytes| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }),
        arb_string(),
    ]
    .boxed()
}

fn grafeno_value() -> BoxedStrategy<Value> {
    (
        field(string_value(signature_text())),
        field(string_value(grafeno_change())),
        field(grafeno_data()),
        extra_fields(),
    )
        .prop_map(|(signature, change, data, extra)| {
            object(
                vec![("signature", signature), ("change", change), ("data", data)],
                extra,
            )
        })
        .boxed()
}

fn grafeno_body() -> BoxedStrategy<Vec<u8>> {
    body_from(serialized(grafeno_value()), GRAFENO_FIXTURES)
}

fn unique_key() -> BoxedStrategy<Vec<u8>> {
    let fixture = UNIQUE_KEY_FIXTURE
        .lines()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    prop_oneof![
        3 => (uuid_text(), grafeno_change()).prop_map(|(uuid, change)| format!("{uuid}-{change}").into_bytes()),
        1 => select(fixture).prop_map(String::into_bytes),
        1 => (uuid_text(), grafeno_change(), vec(mutation(), 1..3))
            .prop_map(|(uuid, change, m)| apply(format!("{uuid}-{change}").into_bytes(), &m)),
        1 => vec(any::<u8>(), 0..64),
    ]
    .boxed()
}

fn all_kinds() -> BoxedStrategy<IsetKind> {
    select(IsetKind::ALL.to_vec()).boxed()
}

fn media_type() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        arb_string().prop_map(Some),
    ]
    .boxed()
}

fn endpoint() -> BoxedStrategy<Endpoint> {
    prop_oneof![
        Just(Endpoint::Bonifiq),
        Just(Endpoint::Foody),
        Just(Endpoint::Grafeno),
        all_kinds().prop_map(Endpoint::Iset),
    ]
    .boxed()
}

fn body_for(endpoint: Endpoint) -> BoxedStrategy<Vec<u8>> {
    match endpoint {
        Endpoint::Bonifiq => bonifiq_body(),
        Endpoint::Foody => foody_body(),
        Endpoint::Grafeno => grafeno_body(),
        _ => iset_body(),
    }
}

fn header_name() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "Content-Type",
            "content-type",
            "Content-Length",
            "X-Loyalty-Secret",
            "x-loyalty-secret",
            "x-unique-key",
            "X-Unique-Key",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z-]{0,12}",
        any::<String>(),
    ]
    .boxed()
}

fn header_value() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        select(vec![
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/x-www-form-urlencoded",
            "text/plain",
            "application/problem+json",
            BONIFIQ_SECRET,
            " bq-s3cr3t\t",
            "0",
            "18446744073709551616",
            "99999999",
            "31216ba1-c507-688c-bea7-b7adf8cf2c1c-approved",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        unique_key(),
        vec(any::<u8>(), 0..32),
    ]
    .boxed()
}

fn headers() -> BoxedStrategy<Vec<(String, Vec<u8>)>> {
    vec((header_name(), header_value()), 0..6).boxed()
}

fn target() -> BoxedStrategy<String> {
    let segment = prop_oneof![
        Just(ISET_SECRET.to_owned()),
        Just("iset-k%33y".to_owned()),
        "[a-zA-Z0-9%+._~=&-]{0,12}",
    ];
    prop_oneof![
        3 => (vec(segment.clone(), 0..4), option::of(vec((
            prop_oneof![Just("token".to_owned()), "[a-z]{0,6}"],
            segment,
        ), 0..4)))
            .prop_map(|(segments, query)| {
                let mut target = format!("/{}", segments.join("/"));
                if let Some(pairs) = query {
                    target.push('?');
                    let pairs: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
                    target.push_str(&pairs.join("&"));
                }
                target
            }),
        1 => any::<String>(),
        1 => "[/?&=%a-z0-9+]{0,24}",
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------

/// Exercises every accessor of a decoded event and its serialization.
fn touch(event: &WebhookEvent, request: &Request<'_>) -> String {
    let _ = (
        event.provider(),
        event.kind(),
        event.is_known(),
        event.occurred_at(),
    );
    let _ = (
        event.drift(),
        event.delivery_id(request),
        event.is_handshake(),
    );
    let _ = format!("{event:?}");
    serde_json::to_string(event).expect("a decoded event serializes")
}

#[cfg(feature = "testkit")]
fn grafeno_verifier() -> hookbr_core::verify::GrafenoVerifier {
    use hookbr_core::{testkit::TestKey, verify::GrafenoVerifier};
    GrafenoVerifier::new([TestKey::rsa_2048().public_key()]).expect("one key")
}

fn verifier_for(endpoint: Endpoint, path_secret: bool) -> Option<AnyVerifier> {
    let secret = |value: &str| Secret::new(value).expect("non-empty");
    Some(match endpoint {
        Endpoint::Bonifiq => HeaderSecretVerifier::bonifiq([secret(BONIFIQ_SECRET)])
            .ok()?
            .into(),
        Endpoint::Foody => BodyTokenVerifier::foody([secret(FOODY_TOKEN)]).ok()?.into(),
        #[cfg(feature = "testkit")]
        Endpoint::Grafeno => grafeno_verifier().into(),
        Endpoint::Iset(_) if path_secret => UrlSecretVerifier::path_segment([secret(ISET_SECRET)])
            .ok()?
            .into(),
        Endpoint::Iset(_) => UrlSecretVerifier::query_param("token", [secret(ISET_SECRET)])
            .ok()?
            .into(),
        _ => return None,
    })
}

#[derive(Debug, Clone)]
struct Delivery {
    endpoint: Endpoint,
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Settings {
    strict: bool,
    small_limit: bool,
    store: bool,
    forward_handshakes: bool,
    path_secret: bool,
}

fn settings() -> BoxedStrategy<Settings> {
    (
        any::<bool>(),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.8),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(strict, small_limit, store, forward_handshakes, path_secret)| Settings {
                strict,
                small_limit,
                store,
                forward_handshakes,
                path_secret,
            },
        )
        .boxed()
}

/// A delivery that is authentic more often than chance would make it.
fn delivery() -> BoxedStrategy<Delivery> {
    endpoint()
        .prop_flat_map(|endpoint| {
            let method = prop_oneof![
                4 => Just("POST".to_owned()),
                1 => Just("PUT".to_owned()),
                1 => Just("GET".to_owned()),
                1 => "[A-Za-z]{0,7}",
            ];
            let mut fixed: Vec<(String, Vec<u8>)> = Vec::new();
            if endpoint == Endpoint::Bonifiq {
                fixed.push(("X-Loyalty-Secret".into(), BONIFIQ_SECRET.into()));
            }
            let fixed_headers = prop_oneof![3 => Just(fixed), 1 => Just(Vec::new())];
            let content_type = option::of(select(vec![
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded",
            ]));
            let iset_target = prop_oneof![
                Just(format!("/iset/x?token={ISET_SECRET}")),
                Just(format!("/iset/{ISET_SECRET}/x")),
                target(),
            ];
            (
                Just(endpoint),
                method,
                iset_target,
                fixed_headers,
                content_type,
                headers(),
                body_for(endpoint),
                prop::bool::weighted(0.7),
            )
        })
        .prop_map(
            |(endpoint, method, target, fixed, content_type, extra, body, authentic)| {
                let mut headers = fixed;
                if let Some(content_type) = content_type {
                    headers.push(("Content-Type".into(), content_type.into()));
                }
                headers.extend(extra);
                let mut delivery = Delivery {
                    endpoint,
                    method,
                    target,
                    headers,
                    body,
                };
                if authentic && endpoint == Endpoint::Grafeno {
                    sign_grafeno(&mut delivery);
                }
                delivery
            },
        )
        .boxed()
}

/// Signs a Grafeno body whose `change` is a string, as Grafeno would (`x-unique-key` first).
fn sign_grafeno(delivery: &mut Delivery) {
    #[cfg(feature = "testkit")]
    {
        let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(&delivery.body) else {
            return;
        };
        let Some(Value::String(change)) = map.get("change").cloned() else {
            return;
        };
        let unique_key = format!("31216ba1-c507-688c-bea7-b7adf8cf2c1c-{}", change.trim());
        let signature = hookbr_core::testkit::TestKey::rsa_2048().sign(unique_key.as_bytes());
        map.insert("signature".into(), Value::String(signature));
        delivery.body = Value::Object(map).to_string().into_bytes();
        delivery
            .headers
            .insert(0, ("x-unique-key".into(), unique_key.into_bytes()));
    }
    #[cfg(not(feature = "testkit"))]
    let _ = delivery;
}

fn check_process(delivery: &Delivery, settings: &Settings) -> Result<(), TestCaseError> {
    let Some(verifier) = verifier_for(delivery.endpoint, settings.path_secret) else {
        return Ok(());
    };
    let mut builder = Receiver::builder(delivery.endpoint, verifier)
        .strict(settings.strict)
        .forward_handshakes(settings.forward_handshakes);
    if settings.small_limit {
        builder = builder.body_limit(64);
    }
    if !settings.store {
        builder = builder.without_store();
    }
    let receiver = builder.build().expect("valid settings");
    let request = Request::new(&delivery.body)
        .with_method(&delivery.method)
        .with_target(&delivery.target)
        .with_headers(&delivery.headers);
    match block_on(receiver.process(&request)) {
        Ok(verified) => {
            let _ = (
                verified.delivery_id(),
                verified.matched_key(),
                verified.claim(),
            );
            touch(verified.event(), &request);
            if settings.store {
                // A copy while the first is in flight, then after completion.
                let again = block_on(receiver.process(&request)).expect_err("in flight");
                prop_assert_eq!(again.status(), 409, "{:?}", again);
                block_on(receiver.complete(&verified)).expect("memory store");
                let again = block_on(receiver.process(&request)).expect_err("duplicate");
                prop_assert_eq!((again.status(), again.category()), (200, "duplicate"));
            } else {
                block_on(receiver.release(&verified)).expect("no store");
            }
        }
        Err(rejection) => {
            let status = rejection.status();
            prop_assert!(
                [200, 400, 401, 405, 409, 413, 415, 422, 503].contains(&status),
                "status {} for {:?}",
                status,
                rejection
            );
            let _ = (
                rejection.body_text(),
                rejection.headers(),
                rejection.category(),
            );
            let _ = (
                rejection.reason(),
                rejection.is_acknowledgement(),
                rejection.kind(),
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Never panics: decoders
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn bonifiq_from_slice_never_panics(body in bonifiq_body()) {
        if let Ok(event) = BonifiqEvent::from_slice(&body) {
            let _ = (event.kind(), event.is_known(), event.occurred_at(), event.drift());
            let _ = event.delivery_id();
            let json = serde_json::to_string(&event);
            prop_assert!(json.is_ok(), "{:?}", json);
        }
    }

    #[test]
    fn foody_from_slice_never_panics(body in foody_body()) {
        if let Ok(event) = FoodyEvent::from_slice(&body) {
            let _ = (event.kind(), event.is_known(), event.occurred_at(), event.drift());
            let _ = event.delivery_id();
            let json = serde_json::to_string(&event);
            prop_assert!(json.is_ok(), "{:?}", json);
        }
    }

    #[test]
    fn iset_from_slice_never_panics(kind in all_kinds(), media in media_type(), body in iset_body()) {
        for media in [None, Some("application/json"), Some("application/x-www-form-urlencoded"), media.as_deref()] {
            if let Ok(event) = IsetEvent::from_slice(kind, media, &body) {
                prop_assert_eq!(event.kind, kind);
                let _ = (event.entity_id(), event.delivery_id());
                prop_assert!(body.ends_with(event.raw()));
                let json = serde_json::to_string(&event);
                prop_assert!(json.is_ok(), "{:?}", json);
            }
        }
    }

    #[test]
    fn grafeno_from_slice_never_panics(body in grafeno_body()) {
        if let Ok(event) = GrafenoEvent::from_slice(&body) {
            let _ = (event.change_str(), event.is_known(), event.drift());
            let json = serde_json::to_string(&event);
            prop_assert!(json.is_ok(), "{:?}", json);
        }
    }

    #[test]
    fn timestamp_parse_never_panics(text in prop_oneof![any::<String>(), timestamp_text()]) {
        if let Ok(parsed) = Timestamp::parse(&text) {
            let _ = (parsed.unix_seconds(), parsed.subsec_nanos(), format!("{parsed:?}"));
            prop_assert!(parsed.subsec_nanos() < 1_000_000_000);
            let _ = serde_json::to_string(&parsed);
        }
    }

    #[test]
    fn split_unique_key_never_panics(
        key in prop_oneof![any::<String>(), unique_key().prop_map(|b| String::from_utf8_lossy(&b).into_owned())]
    ) {
        if let Some((uuid, status)) = split_unique_key(&key) {
            prop_assert_eq!(uuid.len(), 36);
            prop_assert!(!status.is_empty());
            prop_assert_eq!(format!("{uuid}-{status}"), key);
        }
    }

    #[test]
    fn decode_never_panics_for_every_endpoint(
        (endpoint, body) in endpoint().prop_flat_map(|e| (Just(e), body_for(e))),
        media in media_type(),
        extra in headers(),
    ) {
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some(media) = media {
            headers.push(("Content-Type".into(), media.into_bytes()));
        }
        headers.extend(extra);
        let request = Request::new(&body).with_headers(&headers);
        if let Ok(event) = WebhookEvent::decode(endpoint, &request) {
            prop_assert_eq!(event.provider(), endpoint.provider());
            touch(&event, &request);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Never panics: verifiers and the pipeline
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn header_secret_verify_never_panics(headers in headers(), body in vec(any::<u8>(), 0..16)) {
        let verifier = HeaderSecretVerifier::bonifiq([Secret::new(BONIFIQ_SECRET).expect("non-empty")])
            .expect("valid")
            .and_header("X-Store", [Secret::new("loja-42").expect("non-empty")])
            .expect("valid");
        let request = Request::new(&body).with_headers(&headers);
        if verifier.verify(&request).is_ok() {
            let first = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-loyalty-secret"));
            prop_assert_eq!(first.map(|(_, v)| v.trim_ascii()), Some(BONIFIQ_SECRET.as_bytes()));
        }
    }

    #[test]
    fn body_token_verify_never_panics(body in prop_oneof![foody_body(), bonifiq_body(), iset_body()]) {
        let verifier = BodyTokenVerifier::foody([Secret::new(FOODY_TOKEN).expect("non-empty")])
            .expect("valid");
        let result = verifier.verify(&Request::new(&body));
        if result.is_ok() {
            let text = String::from_utf8_lossy(&body);
            prop_assert!(text.contains(FOODY_TOKEN) || text.contains("\\u"), "matched without the token: {}", text);
        }
    }

    #[test]
    fn url_secret_verify_never_panics(target in target(), body in vec(any::<u8>(), 0..8)) {
        let secrets = || [Secret::new(ISET_SECRET).expect("non-empty"), Secret::new("n w+").expect("non-empty")];
        let by_query = UrlSecretVerifier::query_param("token", secrets()).expect("valid");
        let by_path = UrlSecretVerifier::path_segment(secrets()).expect("valid");
        let request = Request::new(&body).with_target(&target);
        let _ = by_query.verify(&request);
        let _ = by_path.verify(&request);
    }

    #[test]
    fn process_never_panics(delivery in delivery(), settings in settings()) {
        check_process(&delivery, &settings)?;
    }
}

#[cfg(feature = "testkit")]
proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn grafeno_verify_never_panics(
        body in grafeno_body(),
        key in option::of(unique_key()),
        extra in headers(),
    ) {
        let verifier = grafeno_verifier();
        let mut headers: Vec<(String, Vec<u8>)> = key.into_iter().map(|k| ("x-unique-key".to_owned(), k)).collect();
        headers.extend(extra);
        let result = verifier.verify(&Request::new(&body).with_headers(&headers));
        // Nothing here is signed by the test key (but a lucky fixture would be a finding).
        prop_assert!(result.is_err(), "{:?}", result);
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn timestamp_display_parse_round_trip(dt in valid_datetime_in(1..=9998)) {
        let parsed = Timestamp::parse(&dt.text).map_err(|e| TestCaseError::fail(format!("{}: {e}", dt.text)))?;
        let shown = parsed.to_string();
        let again = Timestamp::parse(&shown).map_err(|e| TestCaseError::fail(format!("{shown}: {e}")))?;
        prop_assert_eq!(again, parsed, "{} -> {}", dt.text, shown);
        prop_assert_eq!(again.to_string(), shown.clone(), "Display is a fixed point");
        prop_assert!(shown.ends_with('Z'));
        // The offset moves the instant by exactly its length.
        let local = Timestamp::parse(&dt.utc_text).map_err(|e| TestCaseError::fail(format!("{}: {e}", dt.utc_text)))?;
        prop_assert_eq!(parsed.unix_seconds(), local.unix_seconds() - dt.offset_seconds);
        prop_assert_eq!(parsed.subsec_nanos(), local.subsec_nanos());
        // Serde agrees with Display and FromStr.
        let json = serde_json::to_string(&parsed).expect("serializes");
        prop_assert_eq!(&json, &format!("\"{shown}\""));
        let back: Timestamp = serde_json::from_str(&json).expect("deserializes");
        prop_assert_eq!(back, parsed);
    }

    #[test]
    fn secret_matches_exactly_the_same_bytes(
        value in vec(any::<u8>(), 1..48),
        other in vec(any::<u8>(), 0..48),
        flip in any::<(usize, u8)>(),
    ) {
        let secret = Secret::new(value.clone()).expect("non-empty");
        prop_assert!(secret.matches(&value));
        prop_assert_eq!(secret.matches(&other), other == value);
        let mut near = value.clone();
        let at = flip.0 % near.len();
        near[at] ^= flip.1 | 1;
        prop_assert!(!secret.matches(&near));
        prop_assert!(!secret.matches(&value[..value.len() - 1]));
        let mut longer = value.clone();
        longer.push(flip.1);
        prop_assert!(!secret.matches(&longer));
    }

    #[test]
    fn serialized_foody_event_never_contains_the_token(
        token in "[A-Z]{4}[0-9a-z]{24}",
        value in foody_value(Just(None).boxed()),
        duplicate in any::<bool>(),
        pretty in any::<bool>(),
    ) {
        let mut value = value;
        if let Value::Object(map) = &mut value {
            map.insert("token".to_owned(), Value::String(token.clone()));
        }
        let mut text = if pretty { serde_json::to_string_pretty(&value).expect("json") } else { value.to_string() };
        if duplicate {
            text = text.replacen('{', &format!("{{\"token\":\"{token}\","), 1);
        }
        let request = Request::new(text.as_bytes());
        for event in [
            FoodyEvent::from_slice(text.as_bytes()).ok().map(WebhookEvent::Foody),
            WebhookEvent::decode(Endpoint::Foody, &request).ok(),
        ].into_iter().flatten() {
            let json = touch(&event, &request);
            prop_assert!(!json.contains(&token), "token leaked: {json}");
            prop_assert!(!format!("{event:?}").contains(&token), "token leaked in Debug");
        }
        // Through the pipeline, authenticated with that token.
        let receiver = Receiver::builder(
            Endpoint::Foody,
            BodyTokenVerifier::foody([Secret::new(token.clone()).expect("non-empty")]).expect("valid"),
        )
        .forward_handshakes(true)
        .build()
        .expect("valid");
        if let Ok(verified) = block_on(receiver.process(&request)) {
            let json = serde_json::to_string(verified.event()).expect("serializes");
            prop_assert!(!json.contains(&token), "token leaked: {json}");
        }
    }
}

#[cfg(feature = "testkit")]
proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn grafeno_signature_verifies_and_any_flip_fails(
        uuid in uuid_text(),
        change in "[a-z][a-z_-]{0,24}",
        data in grafeno_data(),
        wrap in any::<bool>(),
        (index, mask) in (any::<usize>(), 1u8..=255),
    ) {
        use base64::Engine as _;
        use hookbr_core::{VerifyError, testkit::{TestKey, wrap60}};

        let key = TestKey::rsa_2048();
        let unique_key = format!("{uuid}-{change}");
        let signature = key.sign(unique_key.as_bytes());
        let verifier = grafeno_verifier();
        let headers = [("x-unique-key", unique_key.as_str())];
        let body = |signature: &str| json!({"signature": signature, "change": change, "data": data}).to_string();

        let good = body(&signature);
        let matched = verifier.verify(&Request::new(good.as_bytes()).with_headers(&headers));
        prop_assert_eq!(matched.map(|m| m.index()), Ok(0));

        let engine = base64::engine::general_purpose::STANDARD;
        let compact: String = signature.split_whitespace().collect();
        let mut bytes = engine.decode(compact).expect("base64");
        prop_assert_eq!(bytes.len(), 256);
        let at = index % bytes.len();
        bytes[at] ^= mask;
        let forged = engine.encode(&bytes);
        let forged = if wrap { wrap60(&forged) } else { forged };
        let result = verifier.verify(&Request::new(body(&forged).as_bytes()).with_headers(&headers));
        prop_assert_eq!(result, Err(VerifyError::InvalidSignature));
    }
}

// ---------------------------------------------------------------------------------------------
// Known edge: the full year range
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    /// Every accepted year (0000-9999) with every offset still parses and prints.
    #[test]
    fn timestamp_full_year_range_parses_and_prints(dt in valid_datetime()) {
        match Timestamp::parse(&dt.text) {
            Ok(parsed) => {
                let shown = parsed.to_string();
                prop_assert_eq!(Timestamp::parse(&shown), Ok(parsed), "{} -> {}", dt.text, shown);
            }
            // Only an offset that pushes year 0000 or 9999 out of range may be refused.
            Err(_) => prop_assert!(dt.text.starts_with("0000-") || dt.text.starts_with("9999-"), "{}", dt.text),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Timestamps against jiff's own RFC 3339 parser
// ---------------------------------------------------------------------------------------------

/// Strict RFC 3339 (`T`, `.`, an offset of `Z` or `±HH:MM`) within the years jiff's `Timestamp`
/// holds whatever the offset, and the number of fraction digits written.
fn rfc3339_datetime() -> BoxedStrategy<(String, usize)> {
    let offset = prop_oneof![
        Just("Z".to_owned()),
        (any::<bool>(), 0u32..=23, 0u32..=59)
            .prop_map(|(plus, h, m)| format!("{}{h:02}:{m:02}", if plus { '+' } else { '-' })),
    ];
    (
        valid_datetime_in(1..=9998).prop_map(|dt| dt.utc_text[..10].to_owned()),
        (0u32..=23, 0u32..=59, 0u32..=59),
        "[0-9]{0,9}",
        offset,
    )
        .prop_map(|(date, (hour, minute, second), fraction, offset)| {
            let point = if fraction.is_empty() { "" } else { "." };
            (
                format!("{date}T{hour:02}:{minute:02}:{second:02}{point}{fraction}{offset}"),
                fraction.len(),
            )
        })
        .boxed()
}

proptest! {
    #![proptest_config(config(1024))]

    /// On the inputs both read, `Timestamp` and `jiff::Timestamp` name the same instant and print
    /// it the same way (in UTC, with the fraction digits received).
    #[test]
    fn timestamp_agrees_with_jiff_on_rfc3339((text, digits) in rfc3339_datetime()) {
        let ours = Timestamp::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let theirs: jiff::Timestamp = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let nanos = i128::from(ours.unix_seconds()) * 1_000_000_000 + i128::from(ours.subsec_nanos());
        prop_assert_eq!(nanos, theirs.as_nanosecond(), "{}", text);
        prop_assert_eq!(ours.to_string(), format!("{theirs:.digits$}"), "{}", text);
    }

    /// `rfc3339_millis` prints what jiff prints for the same millisecond, and parses back to it.
    #[test]
    fn rfc3339_millis_agrees_with_jiff(ms in -62_135_596_800_000i64..=253_402_207_200_000) {
        let text = hookbr_core::timestamp::rfc3339_millis(ms);
        let theirs = jiff::Timestamp::from_millisecond(ms).map_err(|e| TestCaseError::fail(format!("{ms}: {e}")))?;
        prop_assert_eq!(&text, &format!("{theirs:.3}"));
        let parsed = Timestamp::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed.unix_seconds() * 1_000 + i64::from(parsed.subsec_nanos() / 1_000_000), ms);
    }
}

/// Found by these properties: an offset can move year 0000 or 9999 out of the four-digit range
/// (`0000-01-01T00:00:00+01:00` is 23:00 on 31 December of year -1). `Timestamp::parse` now
/// refuses such instants, so everything it accepts prints back in a form it reads.
#[test]
fn timestamp_refuses_instants_outside_four_digit_years() {
    for input in ["0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"] {
        assert!(Timestamp::parse(input).is_err(), "{input}");
    }
    for input in ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
        let parsed = Timestamp::parse(input).expect("accepted");
        assert_eq!(Timestamp::parse(&parsed.to_string()), Ok(parsed));
    }
}
