use std::sync::Arc;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaParameters};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{MatchedKey, Verify, check_nonempty, shared_secret::validate_header_name};
use crate::{
    ConfigError, ParseError, Request, VerifyError,
    grafeno::{GrafenoChange, UNIQUE_KEY_HEADER, split_unique_key},
    providers::{body_text, parse_object, raw_str},
};

const MIN_BITS: usize = 2048;
const MAX_BITS: usize = 8192;
const RSA_ENCRYPTION: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// An RSA public key, as downloaded from Grafeno's portal ("Chave pública da API").
///
/// Reads PEM `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo) and `BEGIN RSA PUBLIC KEY` (PKCS#1). Keys
/// shorter than 2048 bits are refused.
#[derive(Clone)]
pub struct RsaPublicKey {
    /// The PKCS#1 `RSAPublicKey` DER, as `aws-lc-rs` parses it.
    pkcs1_der: Vec<u8>,
    /// The modulus length in bytes (the length of every signature it makes).
    modulus_len: usize,
    bits: usize,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

fn invalid(reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidKey {
        reason: reason.into(),
    }
}

impl RsaPublicKey {
    /// Reads a PEM public key (SPKI or PKCS#1).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when it is not such a key, [`ConfigError::WeakKey`] when it
    /// has fewer than 2048 bits.
    pub fn from_pem(pem: &str) -> Result<Self, ConfigError> {
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
            .map_err(|error| invalid(format!("not PEM ({error})")))?;
        match label {
            "PUBLIC KEY" => Self::from_spki_der(&der),
            "RSA PUBLIC KEY" => Self::from_pkcs1_der(&der),
            other => Err(invalid(format!(
                "PEM label {other:?}: expected PUBLIC KEY or RSA PUBLIC KEY"
            ))),
        }
    }

    /// Reads a DER SubjectPublicKeyInfo holding an RSA key.
    ///
    /// # Errors
    ///
    /// As [`from_pem`](Self::from_pem).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, ConfigError> {
        let spki = spki::SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|error| invalid(format!("not a SubjectPublicKeyInfo ({error})")))?;
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err(invalid(format!(
                "algorithm {} is not RSA",
                spki.algorithm.oid
            )));
        }
        let key = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| invalid("the key bit string is not byte-aligned"))?;
        Self::from_pkcs1_der(key)
    }

    /// Reads a DER PKCS#1 `RSAPublicKey`.
    ///
    /// # Errors
    ///
    /// As [`from_pem`](Self::from_pem).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, ConfigError> {
        let key = pkcs1::RsaPublicKey::try_from(der)
            .map_err(|error| invalid(format!("not a PKCS#1 RSA public key ({error})")))?;
        let modulus = strip_leading_zeros(key.modulus.as_bytes()).to_vec();
        let exponent = strip_leading_zeros(key.public_exponent.as_bytes()).to_vec();
        let bits = match modulus.first() {
            Some(first) => (modulus.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
            None => 0,
        };
        if bits < MIN_BITS {
            return Err(ConfigError::WeakKey { bits });
        }
        // The 2048-8192-bit parameters verify moduli of that size with odd exponents of 3 to
        // 33 bits (`ring` and `aws-lc-rs` alike); refuse anything else here rather than 401
        // every delivery later.
        if bits > MAX_BITS {
            return Err(invalid(format!(
                "RSA key of {bits} bits: at most {MAX_BITS} are supported"
            )));
        }
        let exponent_ok = match exponent.as_slice() {
            [] => false,
            [single] => *single >= 3 && single % 2 == 1,
            [.., last] => {
                exponent.len() <= 5
                    && last % 2 == 1
                    && (exponent.len() < 5 || exponent.first().is_some_and(|b| *b <= 1))
            }
        };
        if !exponent_ok {
            return Err(invalid(
                "unsupported public exponent (must be odd, 3 to 2^33)",
            ));
        }
        let key = Self {
            pkcs1_der: der.to_vec(),
            modulus_len: modulus.len(),
            bits,
        };
        // Parse it once now as every delivery will (this also refuses what the checks above
        // cannot see, such as an even modulus), so a key that could never verify is a
        // configuration error and not a 401 on every delivery.
        key.parse(RsaAlgorithm::default())?;
        Ok(key)
    }

    /// The key parsed by `aws-lc-rs` for `algorithm`: its modulus checks and Montgomery
    /// constants are computed here, once, instead of on every verify.
    fn parse(&self, algorithm: RsaAlgorithm) -> Result<ParsedPublicKey, ConfigError> {
        ParsedPublicKey::new(algorithm.parameters(), &self.pkcs1_der)
            .map_err(|rejected| invalid(format!("RSA key refused ({rejected})")))
    }

    /// The modulus length in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The signature length this key produces, in bytes.
    #[must_use]
    pub fn signature_len(&self) -> usize {
        self.modulus_len
    }
}

fn parse_all(keys: &[RsaPublicKey], algorithm: RsaAlgorithm) -> Vec<Option<ParsedPublicKey>> {
    keys.iter().map(|key| key.parse(algorithm).ok()).collect()
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// The signature scheme. Grafeno's docs show the verification call with its padding and hash
/// arguments cut off; PKCS#1 v1.5 with SHA-256 is the most probable and the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RsaAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (default).
    #[default]
    Pkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Pkcs1Sha512,
    /// RSASSA-PKCS1-v1_5 with SHA-1 (legacy; only if a real delivery proves it is needed).
    Pkcs1Sha1,
    /// RSASSA-PSS with SHA-256.
    PssSha256,
}

impl RsaAlgorithm {
    fn parameters(self) -> &'static RsaParameters {
        match self {
            Self::Pkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::Pkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::Pkcs1Sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Self::PssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
        }
    }
}

/// What the signature covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SignedContent {
    /// The value of the `x-unique-key` header, as Grafeno documents (default).
    #[default]
    UniqueKeyHeader,
    /// The value of another header.
    Header(String),
    /// The body bytes as received.
    Body,
}

/// Verifies Grafeno's RSA signature.
///
/// By default: the body's base64 `signature` (line breaks allowed) must be an RSASSA-PKCS1-v1_5
/// SHA-256 signature of the `x-unique-key` header by one of the configured keys, and the
/// header's status suffix must equal the body's `change` (Grafeno signs the header, not the body,
/// so this binding is what ties the two together). RSA runs on `aws-lc-rs`, each key parsed once
/// when the verifier is built.
///
/// ```
/// use hookbr_core::verify::{GrafenoVerifier, RsaPublicKey};
///
/// let pem = include_str!("../../testdata/keys/grafeno_rsa2048_public_test.pem");
/// let verifier = GrafenoVerifier::new([RsaPublicKey::from_pem(pem)?])?;
/// # Ok::<(), hookbr_core::ConfigError>(())
/// ```
///
/// Because only the header is signed, the rest of the body is not integrity-protected: before
/// moving money, re-read the charge from Grafeno's API.
#[derive(Clone)]
pub struct GrafenoVerifier {
    keys: Vec<RsaPublicKey>,
    /// `keys` parsed for `algorithm`, in the same order (`None` only if a key that parsed when
    /// it was read failed to parse again, which fails closed: it matches nothing).
    parsed: Vec<Option<ParsedPublicKey>>,
    labels: Vec<Option<Arc<str>>>,
    algorithm: RsaAlgorithm,
    content: SignedContent,
    bind_status: bool,
}

impl std::fmt::Debug for GrafenoVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrafenoVerifier")
            .field("keys", &self.keys)
            .field("labels", &self.labels)
            .field("algorithm", &self.algorithm)
            .field("content", &self.content)
            .field("bind_status", &self.bind_status)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct SignedBody<'a> {
    #[serde(borrow, default)]
    signature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    change: Option<&'a RawValue>,
}

impl GrafenoVerifier {
    /// Accepts signatures by any of `keys` (several allow rotation).
    ///
    /// # Errors
    ///
    /// [`ConfigError::NothingToAccept`] for an empty list.
    pub fn new(keys: impl IntoIterator<Item = RsaPublicKey>) -> Result<Self, ConfigError> {
        let keys: Vec<RsaPublicKey> = keys.into_iter().collect();
        check_nonempty(&keys, "public key")?;
        let algorithm = RsaAlgorithm::default();
        Ok(Self {
            labels: vec![None; keys.len()],
            parsed: parse_all(&keys, algorithm),
            keys,
            algorithm,
            content: SignedContent::default(),
            bind_status: true,
        })
    }

    /// Reads each PEM and accepts signatures by any of them.
    ///
    /// # Errors
    ///
    /// As [`RsaPublicKey::from_pem`] and [`new`](Self::new).
    pub fn from_pems<S: AsRef<str>>(
        pems: impl IntoIterator<Item = S>,
    ) -> Result<Self, ConfigError> {
        let keys = pems
            .into_iter()
            .map(|pem| RsaPublicKey::from_pem(pem.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys)
    }

    /// Labels the keys, in order (reported on match).
    #[must_use]
    pub fn with_labels<L: Into<Arc<str>>>(mut self, labels: impl IntoIterator<Item = L>) -> Self {
        for (slot, label) in self.labels.iter_mut().zip(labels) {
            *slot = Some(label.into());
        }
        self
    }

    /// Sets the signature scheme (default [`RsaAlgorithm::Pkcs1Sha256`]).
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: RsaAlgorithm) -> Self {
        if algorithm != self.algorithm {
            self.parsed = parse_all(&self.keys, algorithm);
            self.algorithm = algorithm;
        }
        self
    }

    /// Sets what the signature covers (default [`SignedContent::UniqueKeyHeader`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidHeaderName`] for an invalid [`SignedContent::Header`] name.
    pub fn with_signed_content(mut self, content: SignedContent) -> Result<Self, ConfigError> {
        if let SignedContent::Header(name) = &content {
            validate_header_name(name)?;
        }
        self.content = content;
        Ok(self)
    }

    /// Whether the status suffix of `x-unique-key` must equal the body's `change` (default
    /// `true`; only applies when the header is what is signed).
    #[must_use]
    pub fn with_status_binding(mut self, bind: bool) -> Self {
        self.bind_status = bind;
        self
    }

    fn signed_header(&self) -> Option<&str> {
        match &self.content {
            SignedContent::UniqueKeyHeader => Some(UNIQUE_KEY_HEADER),
            SignedContent::Header(name) => Some(name),
            SignedContent::Body => None,
        }
    }
}

/// Decodes base64 that may be wrapped (Ruby's `Base64.encode64` breaks lines every 60
/// characters and ends with a newline).
fn decode_signature(text: &str) -> Result<Vec<u8>, VerifyError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err(VerifyError::MissingSignature);
    }
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| VerifyError::MalformedSignature {
            reason: "not base64",
        })
}

impl Verify for GrafenoVerifier {
    fn verify(&self, request: &Request<'_>) -> Result<MatchedKey, VerifyError> {
        let text = body_text(request.body()).map_err(VerifyError::Body)?;
        let body: SignedBody<'_> = parse_object(text).map_err(VerifyError::Body)?;
        let signature = raw_str(body.signature).ok_or(VerifyError::MissingSignature)?;
        let signature = decode_signature(&signature)?;

        let header_name = self.signed_header();
        let message: &[u8] = match header_name {
            Some(name) => request
                .header(name)
                .ok_or_else(|| VerifyError::MissingHeader {
                    name: name.to_owned(),
                })?
                .trim_ascii(),
            None => request.body(),
        };

        let mut fitting_length = false;
        let mut matched = None;
        for (index, (key, parsed)) in self.keys.iter().zip(&self.parsed).enumerate() {
            if key.signature_len() != signature.len() {
                continue;
            }
            fitting_length = true;
            if parsed
                .as_ref()
                .is_some_and(|parsed| parsed.verify_sig(message, &signature).is_ok())
            {
                matched = Some(index);
                break;
            }
        }
        let index = match (matched, fitting_length) {
            (Some(index), _) => index,
            (None, true) => return Err(VerifyError::InvalidSignature),
            (None, false) => {
                return Err(VerifyError::MalformedSignature {
                    reason: "length matches no configured key",
                });
            }
        };

        if self.bind_status {
            if let Some(name) = header_name {
                let status = std::str::from_utf8(message)
                    .ok()
                    .and_then(split_unique_key)
                    .map(|(_, status)| status)
                    .ok_or_else(|| VerifyError::MalformedUniqueKey {
                        name: name.to_owned(),
                    })?;
                let change =
                    raw_str(body.change).ok_or(VerifyError::Body(ParseError::MissingField {
                        field: "change",
                    }))?;
                if GrafenoChange::from_wire(status) != GrafenoChange::from_wire(&change) {
                    return Err(VerifyError::StatusMismatch {
                        name: name.to_owned(),
                    });
                }
            }
        }
        Ok(MatchedKey::new(
            index,
            self.labels.get(index).cloned().flatten(),
        ))
    }
}

#[cfg(all(test, feature = "testkit"))]
mod tests {
    use super::*;
    use crate::testkit::TestKey;

    const KEY: &str = "31216ba1-c507-688c-bea7-b7adf8cf2c1c-approved";

    fn verifier() -> GrafenoVerifier {
        GrafenoVerifier::new([
            TestKey::other_2048().public_key(),
            TestKey::rsa_2048().public_key(),
            TestKey::rsa_4096().public_key(),
        ])
        .unwrap()
    }

    fn body(signature: &str, change: &str) -> String {
        serde_json::json!({"signature": signature, "change": change, "data": {"id": "x"}})
            .to_string()
    }

    fn check(
        v: &GrafenoVerifier,
        unique_key: Option<&str>,
        body: &str,
    ) -> Result<usize, VerifyError> {
        let headers: Vec<(&str, &str)> = unique_key
            .map(|k| ("x-unique-key", k))
            .into_iter()
            .collect();
        v.verify(&Request::new(body.as_bytes()).with_headers(&headers))
            .map(|m| m.index())
    }

    #[test]
    fn good_signatures_from_each_key() {
        let v = verifier();
        assert_eq!(
            check(
                &v,
                Some(KEY),
                &body(&TestKey::rsa_2048().sign(KEY.as_bytes()), "approved")
            ),
            Ok(1)
        );
        assert_eq!(
            check(
                &v,
                Some(KEY),
                &body(&TestKey::rsa_4096().sign(KEY.as_bytes()), "approved")
            ),
            Ok(2)
        );
        assert_eq!(
            check(
                &v,
                Some(KEY),
                &body(&TestKey::other_2048().sign(KEY.as_bytes()), "approved")
            ),
            Ok(0)
        );
    }

    #[test]
    fn failures_one_at_a_time() {
        let only = GrafenoVerifier::new([TestKey::rsa_2048().public_key()]).unwrap();
        let good = TestKey::rsa_2048().sign(KEY.as_bytes());
        assert_eq!(check(&only, Some(KEY), &body(&good, "approved")), Ok(0));
        // wrong key
        let other = TestKey::other_2048().sign(KEY.as_bytes());
        assert_eq!(
            check(&only, Some(KEY), &body(&other, "approved")),
            Err(VerifyError::InvalidSignature)
        );
        // signed another header value
        let elsewhere = "31216ba1-c507-688c-bea7-b7adf8cf2c1d-approved";
        assert_eq!(
            check(&only, Some(elsewhere), &body(&good, "approved")),
            Err(VerifyError::InvalidSignature)
        );
        // header missing
        assert!(matches!(
            check(&only, None, &body(&good, "approved")),
            Err(VerifyError::MissingHeader { .. })
        ));
        // status mismatch: authentic header, body claims another change
        assert!(matches!(
            check(&only, Some(KEY), &body(&good, "rejected")),
            Err(VerifyError::StatusMismatch { .. })
        ));
        // truncated
        let truncated = &good[..good.len() - 12];
        assert!(matches!(
            check(&only, Some(KEY), &body(truncated, "approved")),
            Err(VerifyError::MalformedSignature { .. })
        ));
        // bad base64
        assert_eq!(
            check(&only, Some(KEY), &body("@@not base64@@", "approved")),
            Err(VerifyError::MalformedSignature {
                reason: "not base64"
            })
        );
        // 4096-bit signature, only a 2048-bit key
        let long = TestKey::rsa_4096().sign(KEY.as_bytes());
        assert!(matches!(
            check(&only, Some(KEY), &body(&long, "approved")),
            Err(VerifyError::MalformedSignature { .. })
        ));
        // missing signature
        assert_eq!(
            check(&only, Some(KEY), r#"{"change":"approved","data":{}}"#),
            Err(VerifyError::MissingSignature)
        );
        // malformed unique key (signed, but not <uuid>-<status>)
        let odd = "not-a-unique-key";
        let signed_odd = TestKey::rsa_2048().sign(odd.as_bytes());
        assert!(matches!(
            check(&only, Some(odd), &body(&signed_odd, "approved")),
            Err(VerifyError::MalformedUniqueKey { .. })
        ));
        // not JSON
        assert!(matches!(
            check(&only, Some(KEY), "signature=x"),
            Err(VerifyError::Body(_))
        ));
    }

    #[test]
    fn signature_with_line_breaks_and_alias_binding() {
        let only = GrafenoVerifier::new([TestKey::rsa_2048().public_key()]).unwrap();
        let key = "31216ba1-c507-688c-bea7-b7adf8cf2c1c-atualizacao-cobranca";
        let signature = TestKey::rsa_2048().sign(key.as_bytes());
        assert!(signature.contains('\n'));
        assert_eq!(
            check(&only, Some(key), &body(&signature, "cobranca-atualizacao")),
            Ok(0)
        );
    }

    #[test]
    fn body_signing_and_binding_off() {
        let payload = r#"{"change":"approved","data":{"id":"1"}}"#;
        let v = GrafenoVerifier::new([TestKey::rsa_2048().public_key()])
            .unwrap()
            .with_signed_content(SignedContent::Body)
            .unwrap();
        // A body that signs itself cannot carry its own signature; sign a fixed body and
        // check that the whole-body mode compares against the bytes as received.
        let signature = TestKey::rsa_2048().sign(payload.as_bytes());
        let with_sig = body(&signature, "approved");
        assert_eq!(
            check(&v, None, &with_sig),
            Err(VerifyError::InvalidSignature)
        );
        let unbound = GrafenoVerifier::new([TestKey::rsa_2048().public_key()])
            .unwrap()
            .with_status_binding(false);
        let good = TestKey::rsa_2048().sign(KEY.as_bytes());
        assert_eq!(check(&unbound, Some(KEY), &body(&good, "rejected")), Ok(0));
    }

    #[test]
    fn keys_pem_forms_and_weak_keys() {
        let spki = include_str!("../../testdata/keys/grafeno_rsa2048_public_test.pem");
        let pkcs1 = include_str!("../../testdata/keys/grafeno_rsa2048_public_pkcs1_test.pem");
        let weak = include_str!("../../testdata/keys/grafeno_rsa1024_public_test.pem");
        assert_eq!(RsaPublicKey::from_pem(spki).unwrap().bits(), 2048);
        assert_eq!(RsaPublicKey::from_pem(pkcs1).unwrap().bits(), 2048);
        assert_eq!(
            RsaPublicKey::from_pem(weak).unwrap_err(),
            ConfigError::WeakKey { bits: 1024 }
        );
        assert!(matches!(
            RsaPublicKey::from_pem("garbage"),
            Err(ConfigError::InvalidKey { .. })
        ));
        let private = include_str!("../../testdata/keys/grafeno_rsa2048_private_test.pem");
        assert!(matches!(
            RsaPublicKey::from_pem(private),
            Err(ConfigError::InvalidKey { .. })
        ));
        assert!(GrafenoVerifier::new([]).is_err());
        assert!(!format!("{:?}", RsaPublicKey::from_pem(spki).unwrap()).contains("modulus"));
    }

    /// A DER `INTEGER` holding the unsigned big-endian `value`.
    fn der_integer(value: &[u8]) -> Vec<u8> {
        let mut content = strip_leading_zeros(value).to_vec();
        if content.first().is_none_or(|first| first & 0x80 != 0) {
            content.insert(0, 0);
        }
        der_tlv(0x02, &content)
    }

    fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(u8::try_from(len).unwrap());
        } else {
            let bytes = len.to_be_bytes();
            let bytes = strip_leading_zeros(&bytes);
            out.push(0x80 | u8::try_from(bytes.len()).unwrap());
            out.extend_from_slice(bytes);
        }
        out.extend_from_slice(content);
        out
    }

    /// A PKCS#1 `RSAPublicKey` DER with any modulus and exponent (not necessarily a real key).
    fn pkcs1_der(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
        let mut content = der_integer(modulus);
        content.extend(der_integer(exponent));
        der_tlv(0x30, &content)
    }

    fn test_modulus() -> Vec<u8> {
        let key = TestKey::rsa_2048().public_key();
        let parsed = pkcs1::RsaPublicKey::try_from(key.pkcs1_der.as_slice()).unwrap();
        parsed.modulus.as_bytes().to_vec()
    }

    #[test]
    fn key_sizes_and_exponents_accepted_as_before() {
        let modulus = test_modulus();
        // The exponents `ring` verified with (odd, 3 to 2^33 - 1) are still accepted...
        for exponent in [&[3][..], &[1, 0, 1], &[1, 0xff, 0xff, 0xff, 0xff]] {
            let key = RsaPublicKey::from_pkcs1_der(&pkcs1_der(&modulus, exponent));
            assert_eq!(key.map(|key| key.bits()), Ok(2048), "exponent {exponent:?}");
        }
        // ...and the others refused, as before.
        for exponent in [&[1][..], &[2], &[1, 0, 0], &[2, 0, 0, 0, 1], &[0]] {
            assert!(
                matches!(
                    RsaPublicKey::from_pkcs1_der(&pkcs1_der(&modulus, exponent)),
                    Err(ConfigError::InvalidKey { .. })
                ),
                "exponent {exponent:?}"
            );
        }
        // 8192 bits is the largest size accepted, 2048 the smallest.
        let odd = |bytes: usize| {
            let mut modulus = vec![0xc5; bytes];
            if let Some(last) = modulus.last_mut() {
                *last = 0xc7;
            }
            modulus
        };
        assert_eq!(
            RsaPublicKey::from_pkcs1_der(&pkcs1_der(&odd(1024), &[1, 0, 1])).map(|k| k.bits()),
            Ok(8192)
        );
        assert!(matches!(
            RsaPublicKey::from_pkcs1_der(&pkcs1_der(&odd(1025), &[1, 0, 1])),
            Err(ConfigError::InvalidKey { .. })
        ));
        let mut short = odd(256);
        short[0] = 0x7f;
        assert_eq!(
            RsaPublicKey::from_pkcs1_der(&pkcs1_der(&short, &[1, 0, 1])).unwrap_err(),
            ConfigError::WeakKey { bits: 2047 }
        );
    }

    #[test]
    fn a_key_that_could_never_verify_is_refused_when_read() {
        // An even modulus is not an RSA key: it used to be accepted here and every delivery
        // answered 401; the key is now parsed when read, so it is a configuration error.
        let mut modulus = test_modulus();
        if let Some(last) = modulus.last_mut() {
            *last &= 0xfe;
        }
        let refused = RsaPublicKey::from_pkcs1_der(&pkcs1_der(&modulus, &[1, 0, 1]));
        assert!(
            matches!(&refused, Err(ConfigError::InvalidKey { reason }) if reason.contains("RSA key refused")),
            "{refused:?}"
        );
    }

    #[test]
    fn every_algorithm_verifies_with_the_keys_parsed_for_it() {
        use ring::{
            rand::SystemRandom,
            signature::{RSA_PKCS1_SHA512, RSA_PSS_SHA256},
        };
        let pem = TestKey::rsa_2048().private_pem();
        let (_, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes()).unwrap();
        let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        let sign = |encoding: &'static dyn ring::signature::RsaEncoding| {
            let mut signature = vec![0; pair.public().modulus_len()];
            pair.sign(
                encoding,
                &SystemRandom::new(),
                KEY.as_bytes(),
                &mut signature,
            )
            .unwrap();
            base64::engine::general_purpose::STANDARD.encode(signature)
        };
        // (`ring` cannot sign SHA-1; that one is only checked to refuse a SHA-256 signature.)
        let cases: [(RsaAlgorithm, &'static dyn ring::signature::RsaEncoding); 2] = [
            (RsaAlgorithm::PssSha256, &RSA_PSS_SHA256),
            (RsaAlgorithm::Pkcs1Sha512, &RSA_PKCS1_SHA512),
        ];
        let sha1 = GrafenoVerifier::new([TestKey::rsa_2048().public_key()])
            .unwrap()
            .with_algorithm(RsaAlgorithm::Pkcs1Sha1);
        let default_signature = TestKey::rsa_2048().sign(KEY.as_bytes());
        assert_eq!(
            check(&sha1, Some(KEY), &body(&default_signature, "approved")),
            Err(VerifyError::InvalidSignature)
        );
        for (algorithm, encoding) in cases {
            let verifier = GrafenoVerifier::new([
                TestKey::other_2048().public_key(),
                TestKey::rsa_2048().public_key(),
            ])
            .unwrap()
            .with_algorithm(algorithm);
            assert_eq!(
                check(&verifier, Some(KEY), &body(&sign(encoding), "approved")),
                Ok(1),
                "{algorithm:?}"
            );
            assert_eq!(
                check(&verifier, Some(KEY), &body(&default_signature, "approved")),
                Err(VerifyError::InvalidSignature),
                "{algorithm:?}"
            );
            // Back to the default: the keys are parsed again for it.
            let back = verifier.with_algorithm(RsaAlgorithm::Pkcs1Sha256);
            assert_eq!(
                check(&back, Some(KEY), &body(&default_signature, "approved")),
                Ok(1)
            );
        }
        let debug = format!(
            "{:?}",
            GrafenoVerifier::new([TestKey::rsa_2048().public_key()]).unwrap()
        );
        assert!(
            debug.contains("bits: 2048") && !debug.contains("bytes"),
            "{debug}"
        );
    }

    #[test]
    fn other_algorithms_are_not_silently_accepted() {
        let pss = GrafenoVerifier::new([TestKey::rsa_2048().public_key()])
            .unwrap()
            .with_algorithm(RsaAlgorithm::PssSha256);
        let pkcs1_sig = TestKey::rsa_2048().sign(KEY.as_bytes());
        assert_eq!(
            check(&pss, Some(KEY), &body(&pkcs1_sig, "approved")),
            Err(VerifyError::InvalidSignature)
        );
    }
}
