//! What the baselines run: the bare RSA verify (the Grafeno limit) and the hand-written handler a
//! merchant would write without hookbr.

use std::{borrow::Cow, collections::HashSet, sync::Mutex};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine as _;
use hookbr_core::testkit::TestKey;
use ring::signature::RsaKeyPair;
use serde::Deserialize;
use serde_json::Value;

use crate::{BONIFIQ_SECRET, FOODY_TOKEN};

/// Only the RSA verify of a Grafeno delivery, with the fastest bare primitive measured: the
/// `x-unique-key` header, the `signature` field of the body (one `serde_json` pass that skips
/// the other fields), base64 without the line breaks, `aws-lc-rs`' `ParsedPublicKey::verify_sig`
/// with the key parsed once at start-up (as hookbr does; `ring` 0.17 rebuilds the key on every
/// call and costs more). No decoding, no deduplication.
#[derive(Debug)]
pub(crate) struct RsaBaseline {
    /// The committed 2048-bit test key, parsed once.
    key: ParsedPublicKey,
}

/// The PKCS#1 `RSAPublicKey` DER of a committed test key.
pub(crate) fn pkcs1_public_der(key: &TestKey) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let pem = key.private_pem();
    let (_, der) =
        pem_rfc7468::decode_vec(pem.trim().as_bytes()).map_err(|error| error.to_string())?;
    let pair = RsaKeyPair::from_pkcs8(&der).map_err(|error| error.to_string())?;
    Ok(pair.public().as_ref().to_vec())
}

#[derive(Deserialize)]
struct Signed<'a> {
    #[serde(borrow)]
    signature: Cow<'a, str>,
}

impl RsaBaseline {
    pub(crate) fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let der = pkcs1_public_der(TestKey::rsa_2048())?;
        let key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
            .map_err(|error| error.to_string())?;
        Ok(Self { key })
    }

    /// The HTTP status the bare route answers.
    pub(crate) fn verify(&self, unique_key: Option<&[u8]>, body: &[u8]) -> u16 {
        let Some(unique_key) = unique_key else {
            return 401;
        };
        let Ok(signed) = serde_json::from_slice::<Signed<'_>>(body) else {
            return 400;
        };
        let compact: Vec<u8> = signed
            .signature
            .bytes()
            .filter(|byte| !byte.is_ascii_whitespace())
            .collect();
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(compact) else {
            return 401;
        };
        match self.key.verify_sig(unique_key, &signature) {
            Ok(()) => 200,
            Err(_) => 401,
        }
    }
}

/// The handler a merchant writes by hand: the secret compared with `==` (not constant time,
/// which is what hand-written code usually does), the body parsed into a `serde_json::Value`,
/// the id remembered in a `Mutex<HashSet<String>>` that grows without bound. A duplicate is
/// answered `200` without running the business code (there is none here).
#[derive(Debug, Default)]
pub(crate) struct HandWritten {
    seen: Mutex<HashSet<String>>,
}

impl HandWritten {
    fn remember(&self, id: String) -> bool {
        // A poisoned lock only means another request panicked; the set is still usable.
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id)
    }

    /// BonifiQ: `X-Loyalty-Secret` header, `Uuid` field.
    pub(crate) fn bonifiq(&self, secret: Option<&[u8]>, body: &[u8]) -> u16 {
        if secret != Some(BONIFIQ_SECRET.as_bytes()) {
            return 401;
        }
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return 400;
        };
        let Some(id) = value.get("Uuid").and_then(Value::as_str) else {
            return 400;
        };
        let _first = self.remember(id.to_owned());
        200
    }

    /// Foody: `token` field of the body, id = `uid` + `status`.
    pub(crate) fn foody(&self, body: &[u8]) -> u16 {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return 400;
        };
        if value.get("token").and_then(Value::as_str) != Some(FOODY_TOKEN) {
            return 401;
        }
        let (Some(uid), Some(status)) = (
            value.get("uid").and_then(Value::as_str),
            value.get("status").and_then(Value::as_str),
        ) else {
            return 400;
        };
        let _first = self.remember(format!("{uid}/{status}"));
        200
    }
}
