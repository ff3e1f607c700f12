//! `bench-server rsa-verify <ring|awslc-unparsed|awslc|grafeno> <2048|4096> <count>`: verifies
//! one testkit Grafeno signature `count` times, for instruction counts under
//! `valgrind --tool=callgrind` (run it with `count` = 0 and N, divide the difference by N).
//!
//! - `ring`: `ring`'s `UnparsedPublicKey::verify`, which parses the key and rebuilds its
//!   Montgomery constants on every call (`ring` 0.17 has no public pre-parsed RSA key);
//! - `awslc-unparsed`: the same with `aws-lc-rs`;
//! - `awslc`: `aws-lc-rs`' `ParsedPublicKey::verify_sig`, the key parsed once (the bare
//!   primitive hookbr now uses);
//! - `grafeno`: hookbr's `GrafenoVerifier::verify` end to end (JSON, base64, header, binding).

use std::hint::black_box;

use base64::Engine as _;
use hookbr_core::{
    testkit::{self, TestKey},
    verify::{GrafenoVerifier, Verify},
};

/// Runs the loop; an error if a verify fails (each must take the accepting path).
pub(crate) fn run(kind: &str, bits: &str, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let key = match bits {
        "2048" => TestKey::rsa_2048(),
        "4096" => TestKey::rsa_4096(),
        other => return Err(format!("unknown key size {other:?} (2048 or 4096)").into()),
    };
    let delivery = testkit::grafeno_registration("approved", key);
    let public_der = crate::baseline::pkcs1_public_der(key)?;
    let message = delivery
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-unique-key"))
        .map(|(_, value)| value.trim().as_bytes().to_vec())
        .ok_or("no x-unique-key header")?;
    let body: serde_json::Value = serde_json::from_slice(&delivery.body)?;
    let compact: String = body
        .get("signature")
        .and_then(serde_json::Value::as_str)
        .ok_or("no signature field")?
        .split_whitespace()
        .collect();
    let signature = base64::engine::general_purpose::STANDARD.decode(compact)?;

    let ring_key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &public_der,
    );
    let aws_params = &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256;
    let aws_unparsed = aws_lc_rs::signature::UnparsedPublicKey::new(aws_params, &public_der);
    let aws_key = aws_lc_rs::signature::ParsedPublicKey::new(aws_params, &public_der)
        .map_err(|error| error.to_string())?;
    let verifier = GrafenoVerifier::new([key.public_key()])?;
    let request = delivery.request();

    for _ in 0..count {
        let (message, signature) = (black_box(&message), black_box(&signature));
        let ok = match kind {
            "ring" => ring_key.verify(message, signature).is_ok(),
            "awslc-unparsed" => aws_unparsed.verify(message, signature).is_ok(),
            "awslc" => aws_key.verify_sig(message, signature).is_ok(),
            "grafeno" => verifier.verify(black_box(&request)).is_ok(),
            other => {
                return Err(format!(
                    "unknown verifier {other:?} (ring, awslc-unparsed, awslc or grafeno)"
                )
                .into());
            }
        };
        if !ok {
            return Err(format!("{kind} refused an authentic signature").into());
        }
    }
    Ok(())
}
