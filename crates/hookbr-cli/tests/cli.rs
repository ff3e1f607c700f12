//! The `hookbr decode` / `hookbr verify` contract, through the real binary.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use hookbr_core::testkit::{self, TestKey};
use proptest::prelude::*;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../hookbr-core/fixtures");
const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../hookbr-core/testdata/keys");

fn hookbr(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookbr"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hookbr starts");
    // The child may exit before reading stdin (usage errors): a broken pipe is fine.
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    child.wait_with_output().expect("hookbr finishes")
}

fn fixture(path: &str) -> String {
    format!("{FIXTURES}/{path}")
}

fn decode_ok(args: &[&str]) -> Value {
    let output = hookbr(args, b"");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "one JSON object on one line: {stdout}"
    );
    let value: Value = serde_json::from_str(&stdout).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "delivery_id",
        "event",
        "kind",
        "known",
        "occurred_at",
        "provider",
    ];
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted, expected);
    value
}

fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

#[test]
fn decode_bonifiq_forms() {
    let v = decode_ok(&[
        "decode",
        "bonifiq",
        &fixture("bonifiq/point_add_legacy.json"),
    ]);
    assert_eq!(v["provider"], "bonifiq");
    assert_eq!(v["kind"], "Point_Add");
    assert_eq!(v["known"], true);
    assert_eq!(v["delivery_id"], "4834c95e-84f7-485e-90de-09353df57fd3");
    assert_eq!(v["occurred_at"], "2024-03-01T13:16:11.396371Z");
    assert_eq!(v["event"]["Payload"]["Points"], 200);
    assert_eq!(
        v["event"]["Payload"]["PointsBalance"]["CashbackBalance"],
        210
    );

    let v = decode_ok(&[
        "decode",
        "bonifiq",
        &fixture("bonifiq/point_add_int_only.json"),
    ]);
    assert_eq!(v["kind"], "Point_Add", "integer 0 maps to Point_Add");

    let v = decode_ok(&[
        "decode",
        "bonifiq",
        &fixture("bonifiq/earn_purchase_points_string_topic.json"),
    ]);
    assert_eq!(v["kind"], "Communication_EarnPurchasePoints");
    assert_eq!(v["occurred_at"], "2025-04-15T14:30:00.123Z");

    let v = decode_ok(&["decode", "bonifiq", &fixture("bonifiq/unknown_topic.json")]);
    assert_eq!(v["known"], false);
    assert_eq!(v["kind"], "Order_Created");

    let v = decode_ok(&["decode", "bonifiq", &fixture("bonifiq/custom_body.json")]);
    assert_eq!(
        (v["kind"].as_str(), v["known"].as_bool()),
        (Some("custom"), Some(false))
    );
    assert_eq!(v["delivery_id"], Value::Null);
    assert_eq!(v["occurred_at"], Value::Null);
}

#[test]
fn decode_bonifiq_topic_ids_and_names() {
    for (body, kind, known) in [
        (
            r#"{"Uuid":"u1","Timestamp":"2024-01-01T00:00:00","Topic":3,"Payload":{"EarnedPoints":1}}"#,
            "Communication_EarnPurchasePoints",
            true,
        ),
        (
            r#"{"Uuid":"u1","Timestamp":"2024-01-01T00:00:00","Topic":4,"Payload":{"EarnedPoints":1}}"#,
            "Communication_EarnBirthdayPoints",
            true,
        ),
        (
            r#"{"Uuid":"u1","Timestamp":"2024-01-01T00:00:00","Topic":17,"Payload":{}}"#,
            "17",
            false,
        ),
        (
            r#"{"Uuid":"u1","Timestamp":"2024-01-01T00:00:00","Topic":4,"TopicName":"Point_Add","Payload":{"Points":1}}"#,
            "Point_Add",
            true,
        ),
    ] {
        let output = hookbr(&["decode", "bonifiq", "-"], body.as_bytes());
        assert_eq!(code(&output), Some(0));
        let v: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            (v["kind"].as_str(), v["known"].as_bool()),
            (Some(kind), Some(known)),
            "{body}"
        );
        assert_eq!(v["delivery_id"], "u1");
        assert_eq!(v["occurred_at"], "2024-01-01T00:00:00Z");
    }
}

#[test]
fn decode_foody() {
    let v = decode_ok(&[
        "decode",
        "foody",
        &fixture("foody/order_status_updated.json"),
    ]);
    assert_eq!(v["kind"], "order_status_updated");
    assert_eq!(v["occurred_at"], "2020-06-19T17:42:12Z");
    assert_eq!(v["event"]["status"], "dispatched");
    assert_eq!(v["event"]["uid"], "4228df3a-a54a-40d7-b30f-1385eca4c3dd");
    assert!(v["event"].get("token").is_none(), "the token is a secret");
    let id = v["delivery_id"].as_str().unwrap().to_owned();

    // Only (uid, status, updateDate) make the id.
    let body = std::fs::read_to_string(fixture("foody/order_status_updated.json")).unwrap();
    let mut json: Value = serde_json::from_str(&body).unwrap();
    json["token"] = "another-token".into();
    json["extra"] = 1.into();
    let output = hookbr(&["decode", "foody"], json.to_string().as_bytes());
    let same: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(same["delivery_id"], id.as_str());
    json["status"] = "delivered".into();
    let output = hookbr(&["decode", "foody"], json.to_string().as_bytes());
    let other: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_ne!(other["delivery_id"], id.as_str());

    let v = decode_ok(&["decode", "foody", &fixture("foody/hook_test.json")]);
    assert_eq!(
        (v["kind"].as_str(), v["known"].as_bool()),
        (Some("hook_test"), Some(true))
    );
    let v = decode_ok(&["decode", "foody", &fixture("foody/unknown_event.json")]);
    assert_eq!(
        (v["kind"].as_str(), v["known"].as_bool()),
        (Some("order_created"), Some(false))
    );
    assert!(!v.to_string().contains("\"token\""));
}

#[test]
fn decode_iset() {
    let v = decode_ok(&[
        "decode",
        "iset",
        &fixture("iset/order_upserted.json"),
        "--kind",
        "order_upserted",
    ]);
    assert_eq!(v["kind"], "order_upserted");
    assert_eq!(v["known"], true);
    assert_eq!(v["occurred_at"], Value::Null);
    let form = decode_ok(&[
        "decode",
        "iset",
        &fixture("iset/order_upserted_form.txt"),
        "--kind",
        "order_upserted",
        "--header",
        "Content-Type: application/x-www-form-urlencoded",
    ]);
    assert_eq!(form["event"]["entity_id"], "1234");
    // The id depends on (kind, body) only.
    let other_kind = decode_ok(&[
        "decode",
        "iset",
        &fixture("iset/order_upserted.json"),
        "--kind",
        "order_deleted",
    ]);
    assert_ne!(other_kind["delivery_id"], v["delivery_id"]);
    let again = decode_ok(&[
        "decode",
        "iset",
        &fixture("iset/order_upserted.json"),
        "--kind",
        "order_upserted",
        "--header",
        "X-Anything: 1",
    ]);
    assert_eq!(again["delivery_id"], v["delivery_id"]);
}

#[test]
fn decode_grafeno() {
    let key = "31216ba1-c507-688c-bea7-b7adf8cf2c1c-approved";
    let header = format!("x-unique-key: {key}");
    let v = decode_ok(&[
        "decode",
        "grafeno",
        &fixture("grafeno/cadastro_approved.json"),
        "--header",
        &header,
    ]);
    assert_eq!(v["kind"], "approved");
    assert_eq!(v["delivery_id"], key);
    assert_eq!(v["occurred_at"], Value::Null);
    assert_eq!(
        v["event"]["data"]["id"],
        "4056455d-8614-45a9-adf5-1592c28499fc"
    );
    assert!(v["event"].get("signature").is_none());
    let v = decode_ok(&[
        "decode",
        "grafeno",
        &fixture("grafeno/cadastro_validation_pendencies.json"),
    ]);
    assert_eq!(v["delivery_id"], Value::Null, "no x-unique-key header");
    assert_eq!(
        v["event"]["data"]["pendencies"][0]["text"],
        "O RG do sócio está expirado."
    );
    for (file, change) in [
        ("grafeno/atualizacao_cobranca.json", "atualizacao-cobranca"),
        ("grafeno/cobranca_atualizacao.json", "cobranca-atualizacao"),
        ("grafeno/boleto_criado.json", "boleto-criado"),
    ] {
        let v = decode_ok(&["decode", "grafeno", &fixture(file)]);
        assert_eq!(
            (v["kind"].as_str(), v["known"].as_bool()),
            (Some(change), Some(true))
        );
    }
    let v = decode_ok(&["decode", "grafeno", &fixture("grafeno/unknown_change.json")]);
    assert_eq!(v["known"], false);
}

#[test]
fn decode_refusals_exit_1() {
    let cases: [(&str, &[u8]); 8] = [
        ("bonifiq", b"not json"),
        ("bonifiq", b"\xff\xfe{}"),
        ("foody", br#"{"uid":"x","token":"t"}"#),
        ("foody", b"[1,2]"),
        ("grafeno", br#"{"signature":"x","data":{}}"#),
        ("grafeno", b"{\"change\":"),
        ("bonifiq", b""),
        ("foody", b"{\"event\":\"hook_test\",\"uid\":\"\xe9\"}"),
    ];
    for (provider, body) in cases {
        let output = hookbr(&["decode", provider, "-"], body);
        assert_eq!(code(&output), Some(1), "{provider} {body:?}");
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "one-line reason: {stderr}");
    }
    let output = hookbr(
        &["decode", "iset", "-", "--kind", "stock_changed"],
        b"{not json nor form",
    );
    assert_eq!(code(&output), Some(1));
}

#[test]
fn decode_usage_errors_exit_2() {
    for args in [
        vec!["decode"],
        vec!["decode", "stripe", "-"],
        vec!["decode", "iset", "-"],
        vec!["decode", "iset", "-", "--kind", "orders"],
        vec!["decode", "bonifiq", "-", "--kind", "order_upserted"],
        vec!["decode", "bonifiq", "-", "--header", "no colon"],
        vec!["decode", "bonifiq", "/nonexistent/file.json"],
        vec!["decode", "bonifiq", "-", "--bogus"],
    ] {
        let output = hookbr(&args, b"{}");
        assert_eq!(code(&output), Some(2), "{args:?}");
    }
}

#[test]
fn verify_each_provider() {
    let delivery = testkit::bonifiq_point_add("s3cr3t");
    let header = "X-Loyalty-Secret: s3cr3t";
    let ok = hookbr(
        &[
            "verify", "bonifiq", "--header", header, "--secret", "old", "--secret", "s3cr3t",
        ],
        &delivery.body,
    );
    assert_eq!(code(&ok), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("index 1"));
    let custom = hookbr(
        &[
            "verify",
            "bonifiq",
            "--header",
            "X-Custom: s3cr3t",
            "--secret-header",
            "X-Custom",
            "--secret",
            "s3cr3t",
        ],
        b"{}",
    );
    assert_eq!(code(&custom), Some(0));
    let forged = hookbr(
        &[
            "verify",
            "bonifiq",
            "--header",
            "X-Loyalty-Secret: guess",
            "--secret",
            "s3cr3t",
        ],
        &delivery.body,
    );
    assert_eq!(code(&forged), Some(1));
    let stderr = String::from_utf8_lossy(&forged.stderr).into_owned();
    assert!(
        stderr.contains("invalid_secret")
            && !stderr.contains("s3cr3t")
            && !stderr.contains("guess"),
        "{stderr}"
    );
    assert_eq!(
        code(&hookbr(
            &["verify", "bonifiq", "--secret", "s3cr3t"],
            &delivery.body
        )),
        Some(1),
        "header missing"
    );

    let foody = testkit::foody_status("dispatched", "tok-1");
    assert_eq!(
        code(&hookbr(
            &["verify", "foody", "--token", "tok-1"],
            &foody.body
        )),
        Some(0)
    );
    assert_eq!(
        code(&hookbr(
            &["verify", "foody", "--token", "tok-2"],
            &foody.body
        )),
        Some(1)
    );
    assert_eq!(
        code(&hookbr(
            &["verify", "foody", "--token", "tok-1"],
            b"token=tok-1"
        )),
        Some(1)
    );

    let iset = testkit::iset(hookbr_core::iset::IsetKind::OrderUpserted, 7, "k3y");
    assert_eq!(
        code(&hookbr(
            &["verify", "iset", "--url", &iset.target, "--secret", "k3y"],
            &iset.body
        )),
        Some(0)
    );
    assert_eq!(
        code(&hookbr(
            &[
                "verify",
                "iset",
                "--url",
                "/iset?token=nope",
                "--secret",
                "k3y"
            ],
            &iset.body
        )),
        Some(1)
    );
}

#[test]
fn verify_grafeno() {
    let rsa2048 = format!("{KEYS}/grafeno_rsa2048_public_test.pem");
    let other = format!("{KEYS}/grafeno_other2048_public_test.pem");
    let pkcs1 = format!("{KEYS}/grafeno_rsa2048_public_pkcs1_test.pem");
    let weak = format!("{KEYS}/grafeno_rsa1024_public_test.pem");
    let delivery = testkit::grafeno_registration("approved", TestKey::rsa_2048());
    let unique = &delivery
        .headers
        .iter()
        .find(|(k, _)| k == "x-unique-key")
        .unwrap()
        .1;
    let header = format!("x-unique-key: {unique}");

    let ok = hookbr(
        &[
            "verify",
            "grafeno",
            "--header",
            &header,
            "--public-key",
            &other,
            "--public-key",
            &rsa2048,
        ],
        &delivery.body,
    );
    assert_eq!(
        code(&ok),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("index 1"));
    assert_eq!(
        code(&hookbr(
            &[
                "verify",
                "grafeno",
                "--header",
                &header,
                "--public-key",
                &pkcs1
            ],
            &delivery.body
        )),
        Some(0)
    );
    let inline = std::fs::read_to_string(&rsa2048).unwrap();
    assert_eq!(
        code(&hookbr(
            &[
                "verify",
                "grafeno",
                "--header",
                &header,
                "--public-key",
                &inline
            ],
            &delivery.body
        )),
        Some(0)
    );

    // Rejections: exit 1.
    assert_eq!(
        code(&hookbr(
            &[
                "verify",
                "grafeno",
                "--header",
                &header,
                "--public-key",
                &other
            ],
            &delivery.body
        )),
        Some(1)
    );
    let forged = delivery.clone().tamper_signature();
    assert_eq!(
        code(&hookbr(
            &[
                "verify",
                "grafeno",
                "--header",
                &header,
                "--public-key",
                &rsa2048
            ],
            &forged.body
        )),
        Some(1)
    );
    let mismatch = delivery
        .clone()
        .with_json_field("change", "rejected".into());
    let out = hookbr(
        &[
            "verify",
            "grafeno",
            "--header",
            &header,
            "--public-key",
            &rsa2048,
        ],
        &mismatch.body,
    );
    assert_eq!(code(&out), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("status_mismatch"));
    assert_eq!(
        code(&hookbr(
            &["verify", "grafeno", "--public-key", &rsa2048],
            &delivery.body
        )),
        Some(1),
        "no header"
    );

    // Configuration errors: exit 2.
    assert_eq!(
        code(&hookbr(
            &[
                "verify",
                "grafeno",
                "--header",
                &header,
                "--public-key",
                &weak
            ],
            &delivery.body
        )),
        Some(2)
    );
    assert_eq!(
        code(&hookbr(
            &[
                "verify",
                "grafeno",
                "--header",
                &header,
                "--public-key",
                "/nonexistent.pem"
            ],
            &delivery.body
        )),
        Some(2)
    );
    assert_eq!(
        code(&hookbr(
            &[
                "verify",
                "grafeno",
                "--header",
                &header,
                "--public-key",
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
            ],
            &delivery.body
        )),
        Some(2)
    );
    assert_eq!(
        code(&hookbr(
            &["verify", "grafeno", "--header", &header],
            &delivery.body
        )),
        Some(2)
    );
}

#[test]
fn verify_usage_errors_exit_2() {
    for args in [
        vec!["verify", "bonifiq", "--secret", ""],
        vec!["verify", "bonifiq"],
        vec!["verify", "foody", "--token", ""],
        vec!["verify", "foody"],
        vec!["verify", "foody", "--secret", "x"],
        vec![
            "verify",
            "bonifiq",
            "--secret",
            "x",
            "--secret-header",
            "bad header",
        ],
        vec!["verify", "stripe", "--secret", "x"],
        vec!["verify", "iset", "--secret", "x"],
    ] {
        assert_eq!(code(&hookbr(&args, b"{}")), Some(2), "{args:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the bytes, `decode` and `verify` exit 0, 1 or 2 and never die of a signal.
    #[test]
    fn never_panics_on_any_bytes(body in proptest::collection::vec(any::<u8>(), 0..512), provider in 0usize..4) {
        let provider = ["bonifiq", "foody", "iset", "grafeno"][provider];
        let mut decode = vec!["decode", provider, "-", "--header", "x-unique-key: 31216ba1-c507-688c-bea7-b7adf8cf2c1c-approved"];
        if provider == "iset" {
            decode.extend(["--kind", "order_upserted"]);
        }
        let output = hookbr(&decode, &body);
        prop_assert!(matches!(output.status.code(), Some(0 | 1)), "{:?}", output.status);
        let stderr = String::from_utf8_lossy(&output.stderr);
        prop_assert!(!stderr.contains("panicked"), "{}", stderr);
        let rsa = format!("{KEYS}/grafeno_rsa2048_public_test.pem");
        let verify: Vec<&str> = match provider {
            "bonifiq" => vec!["verify", "bonifiq", "--secret", "s"],
            "foody" => vec!["verify", "foody", "--token", "t"],
            "iset" => vec!["verify", "iset", "--url", "/i?token=s", "--secret", "s"],
            _ => vec!["verify", "grafeno", "--public-key", &rsa, "--header", "x-unique-key: 31216ba1-c507-688c-bea7-b7adf8cf2c1c-approved"],
        };
        let output = hookbr(&verify, &body);
        prop_assert!(matches!(output.status.code(), Some(0 | 1)), "{:?}", output.status);
    }
}
