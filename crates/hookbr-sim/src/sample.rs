//! [`build`]: a fresh delivery, from a built-in sample or a template, authenticated as the
//! provider does it.

use hookbr_core::{Provider, testkit::TestDelivery};

use crate::{
    Credentials, Error, catalog,
    credentials::Auth,
    outgoing::{Draft, Outgoing, identify},
    template,
};

/// A fresh delivery of `provider` and `kind` (a built-in sample; `None` = the provider's
/// most common kind, see [`kinds`](crate::kinds)), or built from `file`'s bytes, with fresh
/// ids, authenticated with `credentials`.
///
/// Every build gives fresh ids, so two builds are two deliveries for hookbr's dedup:
///
/// | provider | refreshed on every build | delivery id (what hookbr dedupes on) |
/// |---|---|---|
/// | BonifiQ | `Uuid`, `Timestamp` | `Uuid` (custom bodies: a digest of the body) |
/// | Foody | `uid`, `updateDate` | digest of (`uid`, `status`, `updateDate`) |
/// | iSET | the entity id (`id`, `produto_id`, `categoria_id`, ...) | digest of (kind, body) |
/// | Grafeno | `x-unique-key` (`<uuid>-<change>`), `data.id` / `data.uuid`, `signature` | `x-unique-key` |
///
/// A built-in sample is its fixture (`hookbr_core::testkit::fixture`) sent compact, its
/// timestamps set to now in the fixture's format. With `file`, the bytes are kept as they are
/// except for:
///
/// * BonifiQ: `Uuid` (when present) gets a fresh UUID; the secret goes in the header.
/// * Foody: `uid` (when present) gets a fresh UUID; `token` is set to `--token` (added when
///   absent).
/// * iSET: the entity id (`id`, `order_id`, `pedido_id`, `product_id`, `produto_id`,
///   `category_id`, `categoria_id`, ..., at the top level or under `data`; JSON or form) gets
///   a fresh value of the same type; `kind` names the kind the body is for (default
///   `order_upserted`), which only matters for the delivery id.
/// * Grafeno: `data.id` / `data.uuid` (and every other occurrence of that old id, e.g. in the
///   boleto PDF URL) get a fresh UUID, the `x-unique-key` header is `<fresh uuid>-<change>`
///   and `signature` is replaced by a signature of it (added when absent).
///
/// # Errors
///
/// [`Error`] when a credential the provider needs is missing or unusable, `kind` is not one of
/// the provider's, or `file` is not the provider's format.
pub fn build(
    provider: Provider,
    kind: Option<&str>,
    file: Option<&[u8]>,
    credentials: &Credentials,
) -> Result<Outgoing, Error> {
    let auth = Auth::from_credentials(provider, credentials)?;
    let Draft {
        body,
        content_type,
        iset_kind,
        unique_key,
    } = match file {
        None => catalog::sample(provider, kind)?,
        Some(bytes) => template::from_template(provider, kind, bytes)?,
    };
    let mut outgoing = Outgoing {
        provider,
        kind: String::new(),
        delivery_id: String::new(),
        wire: TestDelivery::post(content_type, body),
    };
    auth.apply(&mut outgoing, unique_key.as_deref())?;
    let (kind, delivery_id) = identify(&outgoing, iset_kind).map_err(|error| {
        Error::new(match file {
            Some(_) => format!("the file is not a {provider} delivery: {error}"),
            None => format!("internal error: the {provider} sample does not decode: {error}"),
        })
    })?;
    outgoing.kind = kind;
    outgoing.delivery_id = delivery_id;
    Ok(outgoing)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use hookbr_core::{
        Endpoint, Request, Secret, WebhookEvent,
        testkit::{SigningKey, TestKey},
        verify::{
            AnyVerifier, BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier, RsaPublicKey,
            UrlSecretVerifier, Verify,
        },
    };

    use super::*;
    use crate::{Tamper, kinds, tamper::tamper};

    const SECRET: &str = "bq-secret";
    const TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";
    const ISET: &str = "iset secret&=+";
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../hookbr-core/fixtures");

    /// A key pair made by `hookbr keygen`, once for all tests.
    fn keygen_pair() -> &'static (String, String) {
        static PAIR: OnceLock<(String, String)> = OnceLock::new();
        PAIR.get_or_init(|| {
            let pair = crate::keygen::generate(2048).unwrap();
            (pair.private_pem, pair.public_pem)
        })
    }

    fn credentials(provider: Provider) -> Credentials {
        match provider {
            Provider::Bonifiq => Credentials {
                secret: Some(SECRET.into()),
                ..Credentials::default()
            },
            Provider::Foody => Credentials {
                token: Some(TOKEN.into()),
                ..Credentials::default()
            },
            Provider::Iset => Credentials {
                secret: Some(ISET.into()),
                ..Credentials::default()
            },
            _ => Credentials {
                signing_key: Some(SigningKey::from_pem(&keygen_pair().0).unwrap()),
                ..Credentials::default()
            },
        }
    }

    /// [`build`] with the provider's valid credentials.
    fn built(provider: Provider, kind: Option<&str>, file: Option<&[u8]>) -> Outgoing {
        build(provider, kind, file, &credentials(provider)).unwrap()
    }

    fn verifier(provider: Provider) -> AnyVerifier {
        let secret = |value: &str| Secret::new(value).unwrap();
        match provider {
            Provider::Bonifiq => HeaderSecretVerifier::bonifiq([secret(SECRET)])
                .unwrap()
                .into(),
            Provider::Foody => BodyTokenVerifier::foody([secret(TOKEN)]).unwrap().into(),
            Provider::Iset => UrlSecretVerifier::query_param("token", [secret(ISET)])
                .unwrap()
                .into(),
            _ => GrafenoVerifier::new([RsaPublicKey::from_pem(&keygen_pair().1).unwrap()])
                .unwrap()
                .into(),
        }
    }

    /// The path and query hookbr would see.
    fn target(outgoing: &Outgoing) -> String {
        let mut url = reqwest::Url::parse("http://127.0.0.1/hook").unwrap();
        for (name, value) in &outgoing.query() {
            url.query_pairs_mut().append_pair(name, value);
        }
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    fn verify(outgoing: &Outgoing) -> Result<usize, hookbr_core::VerifyError> {
        let target = target(outgoing);
        let request = Request::new(&outgoing.wire.body)
            .with_method(&outgoing.wire.method)
            .with_target(&target)
            .with_headers(&outgoing.wire.headers);
        verifier(outgoing.provider)
            .verify(&request)
            .map(|matched| matched.index())
    }

    /// Decodes as `hookbr decode` does: (kind, delivery id, known).
    fn decode(outgoing: &Outgoing, iset_kind: Option<&str>) -> (String, Option<String>, bool) {
        let endpoint = match outgoing.provider {
            Provider::Bonifiq => Endpoint::Bonifiq,
            Provider::Foody => Endpoint::Foody,
            Provider::Iset => {
                Endpoint::Iset(iset_kind.unwrap_or("order_upserted").parse().unwrap())
            }
            _ => Endpoint::Grafeno,
        };
        let request = Request::new(&outgoing.wire.body).with_headers(&outgoing.wire.headers);
        let event = WebhookEvent::decode(endpoint, &request).unwrap();
        (
            event.kind().to_owned(),
            event.delivery_id(&request).map(|id| id.as_str().to_owned()),
            event.is_known(),
        )
    }

    fn all_samples() -> Vec<(Provider, &'static str)> {
        Provider::ALL
            .into_iter()
            .flat_map(|provider| {
                kinds(provider)
                    .into_iter()
                    .map(move |kind| (provider, kind))
            })
            .collect()
    }

    #[test]
    fn every_sample_decodes_to_its_kind_and_id_and_verifies() {
        let samples = all_samples();
        assert!(samples.len() >= 15 + 9 + 7 + 8, "{}", samples.len());
        for (provider, kind) in samples {
            let outgoing = built(provider, Some(kind), None);
            let iset_kind = (provider == Provider::Iset).then_some(kind);
            let (decoded_kind, id, known) = decode(&outgoing, iset_kind);
            assert_eq!(decoded_kind, outgoing.kind, "{provider} {kind}");
            assert_eq!(
                id.as_deref(),
                Some(outgoing.delivery_id.as_str()),
                "{provider} {kind}"
            );
            assert_eq!(known, kind != "unknown", "{provider} {kind}");
            assert!(
                verify(&outgoing).is_ok(),
                "{provider} {kind}: {:?}",
                verify(&outgoing)
            );
            assert_eq!(outgoing.wire.method, "POST");
            assert_eq!(
                outgoing.wire.header("content-type"),
                Some("application/json"),
                "{provider} {kind}"
            );
        }
    }

    #[test]
    fn kinds_map_to_what_decode_prints() {
        let kind = |provider, kind: Option<&str>| built(provider, kind, None).kind;
        assert_eq!(kind(Provider::Bonifiq, None), "Point_Add");
        assert_eq!(
            kind(Provider::Bonifiq, Some("point_remove")),
            "Point_Remove"
        );
        assert_eq!(kind(Provider::Bonifiq, Some("unknown")), "Order_Created");
        assert_eq!(kind(Provider::Foody, None), "order_status_updated");
        assert_eq!(
            kind(Provider::Foody, Some("delivered")),
            "order_status_updated"
        );
        assert_eq!(kind(Provider::Foody, Some("hook_test")), "hook_test");
        assert_eq!(kind(Provider::Iset, None), "order_upserted");
        assert_eq!(kind(Provider::Iset, Some("stock_changed")), "stock_changed");
        assert_eq!(kind(Provider::Grafeno, None), "approved");
        assert_eq!(
            kind(Provider::Grafeno, Some("unknown")),
            "protesto-solicitado"
        );
        assert_eq!(
            kind(Provider::Grafeno, Some("atualizacao-cobranca")),
            "atualizacao-cobranca"
        );
    }

    #[test]
    fn wire_shapes() {
        let bonifiq = built(Provider::Bonifiq, None, None);
        assert_eq!(bonifiq.wire.header("X-Loyalty-Secret"), Some(SECRET));
        let text = String::from_utf8(bonifiq.wire.body.clone()).unwrap();
        assert!(text.starts_with(r#"{"Uuid":""#), "{text}");
        assert!(text.contains(r#""Topic":0,"TopicName":"Point_Add","Payload":{"Points":200"#));
        assert_eq!(bonifiq.delivery_id.len(), 36);
        assert!(text.contains(&bonifiq.delivery_id));

        let custom_header = Credentials {
            secret: Some(SECRET.into()),
            secret_header: Some("X-Minha-Chave".into()),
            ..Credentials::default()
        };
        let bonifiq = build(Provider::Bonifiq, None, None, &custom_header).unwrap();
        assert_eq!(bonifiq.wire.header("X-Minha-Chave"), Some(SECRET));
        assert_eq!(bonifiq.wire.header("X-Loyalty-Secret"), None);

        let foody = built(Provider::Foody, None, None);
        let value: serde_json::Value = serde_json::from_slice(&foody.wire.body).unwrap();
        assert_eq!(value["token"], TOKEN);
        assert_eq!(value["event"], "order_status_updated");
        assert_eq!(value["status"], "dispatched");
        hookbr_core::Timestamp::parse(value["updateDate"].as_str().unwrap()).unwrap();

        let iset = built(Provider::Iset, None, None);
        assert_eq!(iset.query(), vec![("token".to_owned(), ISET.to_owned())]);
        let custom_param = Credentials {
            secret: Some(ISET.into()),
            secret_param: Some("chave".into()),
            ..Credentials::default()
        };
        let iset = build(Provider::Iset, None, None, &custom_param).unwrap();
        assert_eq!(iset.query(), vec![("chave".to_owned(), ISET.to_owned())]);
        let in_header = Credentials {
            secret: Some("iset-header-secret".into()),
            secret_header: Some("X-Iset-Secret".into()),
            ..Credentials::default()
        };
        let mut iset = build(Provider::Iset, None, None, &in_header).unwrap();
        assert!(iset.query().is_empty());
        assert_eq!(
            iset.wire.header("x-iset-secret"),
            Some("iset-header-secret")
        );
        tamper(&mut iset, Tamper::Header);
        assert_eq!(iset.wire.header("x-iset-secret"), None);

        let grafeno = built(Provider::Grafeno, None, None);
        let unique_key = grafeno.wire.header("x-unique-key").unwrap();
        assert_eq!(grafeno.delivery_id, unique_key);
        let (_, change) = hookbr_core::grafeno::split_unique_key(unique_key).unwrap();
        assert_eq!(change, "approved");
        let value: serde_json::Value = serde_json::from_slice(&grafeno.wire.body).unwrap();
        let signature = value["signature"].as_str().unwrap();
        assert!(signature.ends_with('\n'));
        assert!(signature.lines().all(|line| line.len() <= 60));
        assert!(String::from_utf8_lossy(&grafeno.wire.body).starts_with(r#"{"signature":""#));
    }

    #[test]
    fn every_build_is_a_new_delivery() {
        for (provider, kind) in all_samples() {
            let credentials = credentials(provider);
            let a = build(provider, Some(kind), None, &credentials).unwrap();
            let b = build(provider, Some(kind), None, &credentials).unwrap();
            assert_ne!(a.delivery_id, b.delivery_id, "{provider} {kind}");
        }
    }

    #[test]
    fn tampering_defeats_verification() {
        for provider in Provider::ALL {
            for how in [Tamper::Signature, Tamper::Header] {
                let mut outgoing = built(provider, None, None);
                assert!(verify(&outgoing).is_ok());
                tamper(&mut outgoing, how);
                let error = verify(&outgoing).unwrap_err();
                assert_eq!(
                    hookbr_core::Rejection::from(error.clone()).status(),
                    401,
                    "{provider} {how:?}: {error}"
                );
            }
        }
        // Grafeno signs the header only: the body tamper breaks the header/change binding.
        let mut grafeno = built(Provider::Grafeno, None, None);
        tamper(&mut grafeno, Tamper::Body);
        let error = verify(&grafeno).unwrap_err();
        assert_eq!(hookbr_core::Rejection::from(error).status(), 401);
        assert_eq!(decode(&grafeno, None).0, "rejected");
    }

    #[test]
    fn header_tamper_moves_grafeno_delivery_id() {
        let mut grafeno = built(Provider::Grafeno, None, None);
        let before = grafeno.delivery_id.clone();
        tamper(&mut grafeno, Tamper::Header);
        assert_ne!(grafeno.delivery_id, before);
        assert_eq!(
            Some(grafeno.delivery_id.as_str()),
            grafeno.wire.header("x-unique-key")
        );
        assert!(grafeno.delivery_id.ends_with("-approved"));
    }

    #[test]
    fn body_tamper_of_unsigned_bodies_changes_bytes_but_still_verifies() {
        // BonifiQ, Foody and iSET authenticate the sender, not the body: documented behaviour.
        for provider in [Provider::Bonifiq, Provider::Foody, Provider::Iset] {
            let mut outgoing = built(provider, None, None);
            let before = outgoing.wire.body.clone();
            tamper(&mut outgoing, Tamper::Body);
            assert_ne!(outgoing.wire.body, before, "{provider}");
            assert_eq!(
                outgoing.wire.body.len(),
                before.len(),
                "{provider}: one byte changed"
            );
            let changed = outgoing
                .wire
                .body
                .iter()
                .zip(&before)
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(changed, 1, "{provider}");
            serde_json::from_slice::<serde_json::Value>(&outgoing.wire.body).unwrap();
            assert!(verify(&outgoing).is_ok(), "{provider}");
        }
    }

    #[test]
    fn foody_header_tamper_removes_the_token() {
        let mut foody = built(Provider::Foody, None, None);
        tamper(&mut foody, Tamper::Header);
        let value: serde_json::Value = serde_json::from_slice(&foody.wire.body).unwrap();
        assert!(value.get("token").is_none());
        assert!(!String::from_utf8_lossy(&foody.wire.body).contains(TOKEN));
    }

    #[test]
    fn templates_keep_bytes_and_refresh_ids() {
        let read = |path: &str| std::fs::read(format!("{FIXTURES}/{path}")).unwrap();

        let original = read("bonifiq/point_add_legacy.json");
        let outgoing = built(Provider::Bonifiq, None, Some(&original));
        let text = String::from_utf8(outgoing.wire.body.clone()).unwrap();
        assert!(!text.contains("4834c95e-84f7-485e-90de-09353df57fd3"));
        assert_eq!(
            text.replace(
                &outgoing.delivery_id,
                "4834c95e-84f7-485e-90de-09353df57fd3"
            )
            .as_bytes(),
            original.as_slice(),
            "only the Uuid changes"
        );
        assert_eq!(outgoing.kind, "Point_Add");
        assert!(verify(&outgoing).is_ok());

        let custom = read("bonifiq/custom_body.json");
        let outgoing = built(Provider::Bonifiq, None, Some(&custom));
        assert_eq!(outgoing.wire.body, custom);
        assert_eq!(outgoing.kind, "custom");
        assert_eq!(outgoing.delivery_id.len(), 32, "a digest of the body");

        let original = read("foody/order_status_updated.json");
        let outgoing = built(Provider::Foody, None, Some(&original));
        let value: serde_json::Value = serde_json::from_slice(&outgoing.wire.body).unwrap();
        assert_ne!(value["uid"], "4228df3a-a54a-40d7-b30f-1385eca4c3dd");
        assert_eq!(value["status"], "dispatched");
        assert_eq!(
            decode(&outgoing, None).1.as_deref(),
            Some(outgoing.delivery_id.as_str())
        );
        assert!(verify(&outgoing).is_ok());
        let other_token = Credentials {
            token: Some("another".into()),
            ..Credentials::default()
        };
        let outgoing = build(Provider::Foody, None, Some(&original), &other_token).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&outgoing.wire.body).unwrap();
        assert_eq!(value["token"], "another");
        let without_token = br#"{"uid":"u","updateDate":"2020-06-19T17:42:12Z","event":"order_status_updated","status":"open"}"#;
        let outgoing = built(Provider::Foody, None, Some(without_token));
        assert!(verify(&outgoing).is_ok(), "the token is added");

        let original = read("iset/category_deleted.json");
        let outgoing = built(Provider::Iset, Some("category_deleted"), Some(&original));
        let value: serde_json::Value = serde_json::from_slice(&outgoing.wire.body).unwrap();
        assert!(value["categoria_id"].is_string(), "the type is kept");
        assert_ne!(value["categoria_id"], "7");
        assert_eq!(outgoing.kind, "category_deleted");
        assert_eq!(
            decode(&outgoing, Some("category_deleted")).1.as_deref(),
            Some(outgoing.delivery_id.as_str())
        );

        let form = read("iset/order_upserted_form.txt");
        let outgoing = built(Provider::Iset, None, Some(&form));
        let text = String::from_utf8(outgoing.wire.body.clone()).unwrap();
        assert!(
            text.starts_with("pedido_id=") && text.ends_with("&status=pago"),
            "{text}"
        );
        assert_ne!(text, "pedido_id=1234&status=pago");
        assert_eq!(
            outgoing.wire.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );

        for fixture in [
            "grafeno/cadastro_validation_pendencies.json",
            "grafeno/boleto_falha_registro.json",
        ] {
            let original = read(fixture);
            let outgoing = built(Provider::Grafeno, None, Some(&original));
            assert!(verify(&outgoing).is_ok(), "{fixture}: re-signed");
            let text = String::from_utf8(outgoing.wire.body.clone()).unwrap();
            assert!(
                !text.contains("8ecd3308-f779-4c95-830e-49a5f767ebc2"),
                "{fixture}"
            );
            assert!(
                !text.contains("eab0bc07-294e-4ddd-9f42-5c87c7d096d2"),
                "{fixture}"
            );
            assert_eq!(
                decode(&outgoing, None).1.as_deref(),
                Some(outgoing.delivery_id.as_str())
            );
        }
    }

    #[test]
    fn usage_errors_name_the_flag() {
        // The exit code of these errors (2) is checked where it is chosen: hookbr-cli's
        // `simulator_errors_are_usage_errors`.
        let none = || Some(Credentials::default());
        let bad_header = Credentials {
            secret: Some("s".into()),
            secret_header: Some("bad header".into()),
            ..Credentials::default()
        };
        /// (provider, kind, file, credentials (`None`: valid ones), what the message names)
        type Case = (
            Provider,
            Option<&'static str>,
            Option<&'static [u8]>,
            Option<Credentials>,
            &'static [&'static str],
        );
        let cases: [Case; 9] = [
            (Provider::Bonifiq, None, None, none(), &["--secret"]),
            (Provider::Foody, None, None, none(), &["--token"]),
            (Provider::Iset, None, None, none(), &["--secret"]),
            (
                Provider::Grafeno,
                None,
                None,
                none(),
                &["--private-key", "keygen"],
            ),
            (
                Provider::Foody,
                Some("nope"),
                None,
                None,
                &["hook_test", "nope"],
            ),
            (Provider::Grafeno, None, Some(b"{}"), None, &["change"]),
            (Provider::Foody, None, Some(b"not json"), None, &[]),
            (
                Provider::Bonifiq,
                Some("Point_Add"),
                Some(b"{}"),
                None,
                &["--kind"],
            ),
            (Provider::Bonifiq, None, None, Some(bad_header), &[]),
        ];
        for (provider, kind, file, given, words) in cases {
            let given = given.unwrap_or_else(|| credentials(provider));
            let error = build(provider, kind, file, &given).unwrap_err().to_string();
            for word in words {
                assert!(error.contains(word), "{provider} {kind:?}: {error}");
            }
        }
        let bad_value = Credentials {
            secret: Some("line\nbreak".into()),
            ..Credentials::default()
        };
        let error = build(Provider::Bonifiq, None, None, &bad_value).unwrap_err();
        assert!(!error.to_string().contains("line\nbreak"));
    }

    #[test]
    fn signing_keys_parse_pkcs8_and_pkcs1_and_refuse_the_rest() {
        let key = SigningKey::from_pem(TestKey::rsa_2048().private_pem()).unwrap();
        let signature = key.sign(b"message").unwrap();
        assert!(signature.lines().all(|line| line.len() <= 60));
        assert_eq!(key.public_key().unwrap().bits(), 2048);
        let key = SigningKey::from_pem(TestKey::rsa_4096().private_pem()).unwrap();
        assert_eq!(key.public_key().unwrap().signature_len(), 512);
        let grafeno = GrafenoVerifier::new([TestKey::rsa_4096().public_key()]).unwrap();
        let unique_key = "31216ba1-c507-688c-bea7-b7adf8cf2c1c-boleto-criado";
        let body = serde_json::json!({"signature": key.sign(unique_key.as_bytes()).unwrap(), "change": "boleto-criado", "data": {}}).to_string();
        let headers = [("x-unique-key", unique_key)];
        assert!(
            grafeno
                .verify(&Request::new(body.as_bytes()).with_headers(&headers))
                .is_ok()
        );

        let pkcs1 = {
            use rsa::pkcs1::EncodeRsaPrivateKey as _;
            use rsa::pkcs8::DecodePrivateKey as _;
            rsa::RsaPrivateKey::from_pkcs8_pem(&keygen_pair().0)
                .unwrap()
                .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .unwrap()
                .to_string()
        };
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let key = SigningKey::from_pem(&pkcs1).unwrap();
        let public = RsaPublicKey::from_pem(&keygen_pair().1).unwrap();
        assert_eq!(
            key.public_key().unwrap().signature_len(),
            public.signature_len()
        );

        for garbage in [
            String::new(),
            "not a key".to_owned(),
            TestKey::rsa_2048().public_pem().to_owned(),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned(),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
                .to_owned(),
        ] {
            let error = Error::from(SigningKey::from_pem(&garbage).unwrap_err());
            assert!(!error.to_string().is_empty(), "{garbage:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn templates_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            for provider in Provider::ALL {
                let _ = build(provider, None, Some(&body), &credentials(provider));
            }
        }

        #[test]
        fn tamper_never_panics(body in "\\PC{0,200}", how in 0..3usize) {
            let how = [Tamper::Signature, Tamper::Header, Tamper::Body][how];
            for provider in Provider::ALL {
                let mut outgoing = Outgoing {
                    provider,
                    kind: String::new(),
                    delivery_id: String::new(),
                    wire: hookbr_core::testkit::TestDelivery {
                        method: "POST".into(),
                        target: "/?token=x".into(),
                        headers: vec![("x-unique-key".into(), body.clone())],
                        body: body.clone().into_bytes(),
                    },
                };
                tamper(&mut outgoing, how);
            }
        }
    }
}
