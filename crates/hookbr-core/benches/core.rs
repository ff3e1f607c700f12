//! Micro-benchmarks of hookbr-core: typed decode vs `serde_json::Value`, timestamp parsing,
//! every verifier (with bare `ring` and `aws-lc-rs` baselines for the RSA ones), the in-memory idempotency store
//! and the whole pipeline per provider.
//!
//! The test keys and deliveries come from the `testkit` feature:
//!
//! ```text
//! cargo bench -p hookbr-core --all-features --bench core
//! ```
//!
//! Results and how to read them: `docs/BENCHMARKS.md`. Nothing here asserts on timings; the
//! `expect`s only make sure each bench measures the path it is named after (an authentic,
//! accepted delivery; a fresh or a completed id).

#[cfg(feature = "testkit")]
mod benches {
    use std::{
        hint::black_box,
        time::{Duration, Instant},
    };

    use base64::Engine as _;
    use criterion::Criterion;
    use futures_executor::block_on;
    use hookbr_core::{
        Claim, DedupKey, DeliveryId, Endpoint, MemoryStore, Provider, Receiver, Secret, Timestamp,
        bonifiq::BonifiqEvent,
        foody::FoodyEvent,
        grafeno::GrafenoEvent,
        iset::{IsetEvent, IsetKind},
        testkit::{self, TestDelivery, TestKey},
        verify::{
            BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier, UrlSecretVerifier, Verify,
        },
    };
    use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

    /// Realistic-looking secrets (the length matters a little: they are hashed before the
    /// constant-time comparison).
    const BONIFIQ_SECRET: &str = "b0n1f1q-loyalty-secret-5f2c9a7e";
    const FOODY_TOKEN: &str = "2b100082b90d4ad9b4fezzed960cf652";
    const ISET_TOKEN: &str = "iset-url-secret-8d3f2a61c4b7";
    const ISET_KIND: IsetKind = IsetKind::OrderUpserted;

    /// Deliveries pre-built per provider for the "fresh delivery" pipeline benches. Each chunk
    /// of this many calls runs against a new, empty store (built and dropped outside the timer),
    /// so every claim is a first claim. Grafeno deliveries are RSA-signed, hence fewer.
    const POOL: usize = 1024;
    const GRAFENO_POOL: usize = 256;
    /// Pre-generated dedup keys per chunk for the store benches.
    const KEY_POOL: usize = 16_384;

    const LEASE: Duration = Duration::from_secs(60);
    const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

    fn secret(value: &str) -> Secret {
        Secret::new(value).expect("non-empty secret")
    }

    // ---------------------------------------------------------------- decode

    fn decode(c: &mut Criterion) {
        let bonifiq = testkit::bonifiq_point_add(BONIFIQ_SECRET).body;
        let foody = testkit::foody_status("dispatched", FOODY_TOKEN).body;
        let iset = testkit::iset(ISET_KIND, 4_711, ISET_TOKEN).body;
        let grafeno = testkit::grafeno_boleto_criado(TestKey::rsa_2048()).body;

        // Make sure the typed decoders take the happy path on these bodies.
        BonifiqEvent::from_slice(&bonifiq).expect("bonifiq body decodes");
        FoodyEvent::from_slice(&foody).expect("foody body decodes");
        IsetEvent::from_slice(ISET_KIND, Some("application/json"), &iset).expect("iset decodes");
        GrafenoEvent::from_slice(&grafeno).expect("grafeno body decodes");

        let mut group = c.benchmark_group("decode/bonifiq");
        group.bench_function("typed", |b| {
            b.iter(|| BonifiqEvent::from_slice(black_box(&bonifiq)));
        });
        group.bench_function("value", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bonifiq)));
        });
        group.finish();

        let mut group = c.benchmark_group("decode/foody");
        group.bench_function("typed", |b| {
            b.iter(|| FoodyEvent::from_slice(black_box(&foody)));
        });
        group.bench_function("value", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&foody)));
        });
        group.finish();

        let mut group = c.benchmark_group("decode/iset");
        group.bench_function("typed", |b| {
            b.iter(|| IsetEvent::from_slice(ISET_KIND, Some("application/json"), black_box(&iset)));
        });
        group.bench_function("value", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&iset)));
        });
        group.finish();

        let mut group = c.benchmark_group("decode/grafeno");
        group.bench_function("typed", |b| {
            b.iter(|| GrafenoEvent::from_slice(black_box(&grafeno)));
        });
        group.bench_function("value", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&grafeno)));
        });
        group.finish();
    }

    // ---------------------------------------------------------------- verify

    fn bench_verifier<V: Verify>(
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        name: &str,
        verifier: &V,
        delivery: &TestDelivery,
    ) {
        let request = delivery.request();
        verifier
            .verify(&request)
            .expect("authentic delivery verifies");
        group.bench_function(name, |b| b.iter(|| verifier.verify(black_box(&request))));
    }

    /// What `ring` needs for a bare verify of a testkit Grafeno delivery: the PKCS#1 DER key,
    /// its modulus and exponent, the signed message (`x-unique-key`) and the decoded signature.
    struct BareRsa {
        pkcs1_der: Vec<u8>,
        modulus: Vec<u8>,
        exponent: Vec<u8>,
        message: Vec<u8>,
        signature: Vec<u8>,
    }

    fn strip_leading_zeros(bytes: &[u8]) -> Vec<u8> {
        bytes.iter().copied().skip_while(|&b| b == 0).collect()
    }

    impl BareRsa {
        fn new(key: &TestKey, delivery: &TestDelivery) -> Self {
            let (_, spki_der) = pem_rfc7468::decode_vec(key.public_pem().trim().as_bytes())
                .expect("test key is PEM");
            let spki = spki::SubjectPublicKeyInfoRef::try_from(spki_der.as_slice())
                .expect("test key is SPKI");
            let pkcs1_der = spki
                .subject_public_key
                .as_bytes()
                .expect("byte-aligned key")
                .to_vec();
            let rsa = pkcs1::RsaPublicKey::try_from(pkcs1_der.as_slice()).expect("PKCS#1 key");
            let modulus = strip_leading_zeros(rsa.modulus.as_bytes());
            let exponent = strip_leading_zeros(rsa.public_exponent.as_bytes());
            let message = delivery
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("x-unique-key"))
                .map(|(_, value)| value.trim().as_bytes().to_vec())
                .expect("x-unique-key header");
            let body: serde_json::Value =
                serde_json::from_slice(&delivery.body).expect("JSON body");
            let compact: String = body
                .get("signature")
                .and_then(serde_json::Value::as_str)
                .expect("signature field")
                .split_whitespace()
                .collect();
            let signature = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("base64 signature");
            Self {
                pkcs1_der,
                modulus,
                exponent,
                message,
                signature,
            }
        }

        fn components(&self) -> RsaPublicKeyComponents<&[u8]> {
            RsaPublicKeyComponents {
                n: self.modulus.as_slice(),
                e: self.exponent.as_slice(),
            }
        }
    }

    fn verify(c: &mut Criterion) {
        let mut group = c.benchmark_group("verify");

        let bonifiq = HeaderSecretVerifier::bonifiq([secret(BONIFIQ_SECRET)]).expect("verifier");
        bench_verifier(
            &mut group,
            "header_secret_bonifiq",
            &bonifiq,
            &testkit::bonifiq_point_add(BONIFIQ_SECRET),
        );

        let foody = BodyTokenVerifier::foody([secret(FOODY_TOKEN)]).expect("verifier");
        bench_verifier(
            &mut group,
            "body_token_foody",
            &foody,
            &testkit::foody_status("dispatched", FOODY_TOKEN),
        );

        let iset = UrlSecretVerifier::query_param("token", [secret(ISET_TOKEN)]).expect("verifier");
        bench_verifier(
            &mut group,
            "url_secret_iset",
            &iset,
            &testkit::iset(ISET_KIND, 4_711, ISET_TOKEN),
        );

        let delivery_2048 = testkit::grafeno_registration("approved", TestKey::rsa_2048());
        let delivery_4096 = testkit::grafeno_registration("approved", TestKey::rsa_4096());
        let grafeno_2048 =
            GrafenoVerifier::new([TestKey::rsa_2048().public_key()]).expect("verifier");
        let grafeno_4096 =
            GrafenoVerifier::new([TestKey::rsa_4096().public_key()]).expect("verifier");
        bench_verifier(&mut group, "grafeno_rsa2048", &grafeno_2048, &delivery_2048);
        bench_verifier(&mut group, "grafeno_rsa4096", &grafeno_4096, &delivery_4096);

        // Baselines: the same signatures checked by `ring` alone (no JSON, no base64, no
        // header lookup, no status binding), as GrafenoVerifier calls it.
        let params = &signature::RSA_PKCS1_2048_8192_SHA256;
        let bare_2048 = BareRsa::new(TestKey::rsa_2048(), &delivery_2048);
        let bare_4096 = BareRsa::new(TestKey::rsa_4096(), &delivery_4096);
        for bare in [&bare_2048, &bare_4096] {
            bare.components()
                .verify(params, &bare.message, &bare.signature)
                .expect("bare ring verify (components)");
            UnparsedPublicKey::new(params, &bare.pkcs1_der)
                .verify(&bare.message, &bare.signature)
                .expect("bare ring verify (unparsed)");
        }
        for (name, bare) in [
            ("ring_components_rsa2048", &bare_2048),
            ("ring_components_rsa4096", &bare_4096),
        ] {
            group.bench_function(name, |b| {
                b.iter(|| {
                    bare.components().verify(
                        params,
                        black_box(&bare.message),
                        black_box(&bare.signature),
                    )
                });
            });
        }
        group.bench_function("ring_unparsed_rsa2048", |b| {
            let key = UnparsedPublicKey::new(params, &bare_2048.pkcs1_der);
            b.iter(|| {
                key.verify(
                    black_box(&bare_2048.message),
                    black_box(&bare_2048.signature),
                )
            });
        });
        group.finish();
    }

    /// The RSA primitive alone, side by side in one run: `ring` rebuilding the key on every call
    /// (`ring` 0.17 has no public pre-parsed RSA key; this is what hookbr used before), `aws-lc-rs`
    /// parsing on every call and pre-parsed (what hookbr uses now), and `GrafenoVerifier` end to
    /// end (JSON, base64, header lookup, status binding included).
    fn verify_rsa_primitive(c: &mut Criterion) {
        let mut group = c.benchmark_group("rsa_primitive");
        for (bits, key) in [(2048, TestKey::rsa_2048()), (4096, TestKey::rsa_4096())] {
            let delivery = testkit::grafeno_registration("approved", key);
            let bare = BareRsa::new(key, &delivery);
            let params = &signature::RSA_PKCS1_2048_8192_SHA256;
            let aws_params = &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256;
            let aws_key = aws_lc_rs::signature::ParsedPublicKey::new(aws_params, &bare.pkcs1_der)
                .expect("aws-lc-rs parses the test key");
            aws_key
                .verify_sig(&bare.message, &bare.signature)
                .expect("bare aws-lc-rs verify (parsed)");
            let verifier = GrafenoVerifier::new([key.public_key()]).expect("verifier");
            let request = delivery.request();
            verifier.verify(&request).expect("authentic");

            group.bench_function(format!("ring_components_{bits}"), |b| {
                b.iter(|| {
                    bare.components().verify(
                        params,
                        black_box(&bare.message),
                        black_box(&bare.signature),
                    )
                });
            });
            group.bench_function(format!("awslc_unparsed_{bits}"), |b| {
                let key = aws_lc_rs::signature::UnparsedPublicKey::new(aws_params, &bare.pkcs1_der);
                b.iter(|| key.verify(black_box(&bare.message), black_box(&bare.signature)));
            });
            group.bench_function(format!("awslc_parsed_{bits}"), |b| {
                b.iter(|| aws_key.verify_sig(black_box(&bare.message), black_box(&bare.signature)));
            });
            group.bench_function(format!("grafeno_verifier_{bits}"), |b| {
                b.iter(|| verifier.verify(black_box(&request)));
            });
        }
        group.finish();
    }

    // ---------------------------------------------------------------- dedup

    fn fresh_keys(count: usize) -> Vec<DedupKey> {
        (0..count)
            .map(|_| DeliveryId::new(Provider::Bonifiq, testkit::random_uuid()).key())
            .collect()
    }

    /// Runs `per_key` over `iters` keys from `keys`, in chunks of `keys.len()`, each chunk
    /// against a new store built and dropped outside the timer (so every key is fresh).
    fn chunked_fresh(
        iters: u64,
        keys: &[DedupKey],
        per_key: impl Fn(&MemoryStore, DedupKey),
    ) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(keys.len());
            let store = MemoryStore::new();
            let start = Instant::now();
            for &key in keys.iter().take(n) {
                per_key(&store, black_box(key));
            }
            total += start.elapsed();
            drop(store);
            left -= n as u64;
        }
        total
    }

    fn dedup(c: &mut Criterion) {
        let keys = fresh_keys(KEY_POOL);
        let mut group = c.benchmark_group("dedup");

        group.bench_function("claim_fresh", |b| {
            b.iter_custom(|iters| {
                chunked_fresh(iters, &keys, |store, key| {
                    black_box(store.claim_now(key, LEASE).expect("claim"));
                })
            });
        });

        let done_store = MemoryStore::new();
        let done_key = DeliveryId::new(Provider::Bonifiq, testkit::random_uuid()).key();
        let Ok(Claim::New(token)) = done_store.claim_now(done_key, LEASE) else {
            panic!("first claim of a fresh key is New");
        };
        done_store.complete_now(done_key, token, RETENTION);
        assert_eq!(done_store.claim_now(done_key, LEASE), Ok(Claim::Done));
        group.bench_function("claim_duplicate_done", |b| {
            b.iter(|| done_store.claim_now(black_box(done_key), LEASE));
        });

        group.bench_function("claim_complete_cycle", |b| {
            b.iter_custom(|iters| {
                chunked_fresh(iters, &keys, |store, key| {
                    if let Ok(Claim::New(token)) = store.claim_now(key, LEASE) {
                        store.complete_now(key, token, RETENTION);
                    } else {
                        panic!("fresh key claims New");
                    }
                })
            });
        });
        group.finish();
    }

    // ---------------------------------------------------------------- timestamp

    /// `timestamp/*`: the date-times every BonifiQ and Foody delivery carries (parsed once per
    /// delivery by the typed decoders), and printing one back; `rfc3339_millis` prints the instants
    /// hookbr records itself.
    fn timestamp(c: &mut Criterion) {
        let mut group = c.benchmark_group("timestamp");
        for (name, text) in [
            ("parse_bonifiq", "2024-03-01T13:16:11.396371"),
            ("parse_foody", "2020-06-19T17:42:12Z"),
            ("parse_offset", "2020-06-19T14:42:12-03:00"),
        ] {
            Timestamp::parse(text).expect("valid date-time");
            group.bench_function(name, |b| b.iter(|| Timestamp::parse(black_box(text))));
        }
        let parsed = Timestamp::parse("2024-06-20T16:50:13.3951893Z").expect("valid date-time");
        group.bench_function("display", |b| b.iter(|| black_box(&parsed).to_string()));
        group.bench_function("rfc3339_millis", |b| {
            b.iter(|| hookbr_core::timestamp::rfc3339_millis(black_box(1_744_727_400_123)));
        });
        group.finish();
    }

    // ---------------------------------------------------------------- privacy

    /// `privacy/*`: what the inbox adds per stored delivery for the erasure index
    /// (`subject_hashes`: finding the CPFs, CNPJs and e-mails of a body and hashing each under
    /// the salt), next to `mask_body` (what every display of a body costs), on BonifiQ's
    /// Point_Add (one e-mail) and an iSET form body (an e-mail and a CPF).
    fn privacy(c: &mut Criterion) {
        use hookbr_core::{
            InboxRecord,
            inbox::{now_ms, subject_hashes},
            privacy::mask_body,
        };
        let mut group = c.benchmark_group("privacy");
        let bonifiq = testkit::bonifiq_point_add(BONIFIQ_SECRET).body;
        let form = b"pedido_id=1234&cliente_email=joao%40example.com&cliente_nome=Jo%C3%A3o+Silva\
                     &cliente_cpf=529.982.247-25&total=199.90&status=pago"
            .to_vec();
        for (name, provider, kind, body) in [
            ("bonifiq_point_add", Provider::Bonifiq, "Point_Add", bonifiq),
            ("iset_form", Provider::Iset, "order_upserted", form),
        ] {
            let record = InboxRecord::new(
                provider.as_str().into(),
                "d".into(),
                DeliveryId::new(provider, "d").key(),
                body.clone(),
                Vec::new(),
                "#0".into(),
                now_ms(),
            );
            assert!(!subject_hashes(&record, b"salt").0.is_empty());
            group.bench_function(format!("{name}/subject_hashes"), |b| {
                b.iter(|| subject_hashes(black_box(&record), b"salt"));
            });
            group.bench_function(format!("{name}/mask_body"), |b| {
                b.iter(|| mask_body(provider, kind, black_box(&body)));
            });
        }
        group.finish();
    }

    // ---------------------------------------------------------------- pipeline

    /// `pipeline/<provider>`: `no_store` processes one delivery over and over with
    /// `.without_store()`; `memory_store_fresh` processes pre-built distinct deliveries with the
    /// default `MemoryStore`, a new receiver (and store) per pass over the pool, built outside
    /// the timer, so every delivery is claimed for the first time.
    fn bench_pipeline<V: Verify>(
        c: &mut Criterion,
        provider: &str,
        make: impl Fn() -> hookbr_core::ReceiverBuilder<V>,
        pool: &[TestDelivery],
    ) {
        let mut group = c.benchmark_group(format!("pipeline/{provider}"));

        let no_store = make().without_store().build().expect("receiver");
        let first = pool.first().expect("non-empty pool");
        let request = first.request();
        block_on(no_store.process(&request)).expect("authentic delivery accepted");
        group.bench_function("no_store", |b| {
            b.iter(|| block_on(no_store.process(black_box(&request))));
        });

        // Every pooled delivery must be accepted by a fresh receiver (not a duplicate).
        let check = make().build().expect("receiver");
        for delivery in pool {
            block_on(check.process(&delivery.request())).expect("fresh delivery accepted");
        }
        drop(check);

        let requests: Vec<_> = pool.iter().map(TestDelivery::request).collect();
        group.bench_function("memory_store_fresh", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(requests.len());
                    let receiver = make().build().expect("receiver");
                    let start = Instant::now();
                    for request in requests.iter().take(n) {
                        let _ = black_box(block_on(receiver.process(black_box(request))));
                    }
                    total += start.elapsed();
                    drop(receiver);
                    left -= n as u64;
                }
                total
            });
        });
        group.finish();
    }

    fn pipeline(c: &mut Criterion) {
        let bonifiq: Vec<_> = (0..POOL)
            .map(|_| testkit::bonifiq_point_add(BONIFIQ_SECRET))
            .collect();
        bench_pipeline(
            c,
            "bonifiq",
            || {
                Receiver::builder(
                    Endpoint::Bonifiq,
                    HeaderSecretVerifier::bonifiq([secret(BONIFIQ_SECRET)]).expect("verifier"),
                )
            },
            &bonifiq,
        );

        let foody: Vec<_> = (0..POOL)
            .map(|_| testkit::foody_status("dispatched", FOODY_TOKEN))
            .collect();
        bench_pipeline(
            c,
            "foody",
            || {
                Receiver::builder(
                    Endpoint::Foody,
                    BodyTokenVerifier::foody([secret(FOODY_TOKEN)]).expect("verifier"),
                )
            },
            &foody,
        );

        let iset: Vec<_> = (0..POOL as u64)
            .map(|id| testkit::iset(ISET_KIND, 100_000 + id, ISET_TOKEN))
            .collect();
        bench_pipeline(
            c,
            "iset",
            || {
                Receiver::builder(
                    Endpoint::Iset(ISET_KIND),
                    UrlSecretVerifier::query_param("token", [secret(ISET_TOKEN)])
                        .expect("verifier"),
                )
            },
            &iset,
        );

        let grafeno: Vec<_> = (0..GRAFENO_POOL)
            .map(|_| testkit::grafeno_boleto_criado(TestKey::rsa_2048()))
            .collect();
        let key = TestKey::rsa_2048().public_key();
        bench_pipeline(
            c,
            "grafeno",
            || {
                Receiver::builder(
                    Endpoint::Grafeno,
                    GrafenoVerifier::new([key.clone()]).expect("verifier"),
                )
            },
            &grafeno,
        );
    }

    fn config() -> Criterion {
        Criterion::default()
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(2))
            .sample_size(30)
    }

    criterion::criterion_group! {
        name = core;
        config = config();
        targets = decode, timestamp, verify, verify_rsa_primitive, dedup, privacy, pipeline
    }
}

#[cfg(feature = "testkit")]
criterion::criterion_main!(benches::core);

#[cfg(not(feature = "testkit"))]
fn main() {
    eprintln!(
        "the hookbr-core benches need the `testkit` feature: \
         cargo bench -p hookbr-core --all-features --bench core"
    );
}
