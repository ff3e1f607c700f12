use std::sync::Arc;

use base64::Engine as _;
use ring::signature::{self, RsaParameters, RsaPublicKeyComponents};
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
    modulus: Vec<u8>,
    exponent: Vec<u8>,
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
        // `ring` verifies 2048-8192-bit moduli with odd exponents of 3 to 33 bits; refuse
        // anything else here rather than 401 every delivery later.
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
        Ok(Self {
            modulus,
            exponent,
            bits,
        })
    }

    /// The modulus length in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The signature length this key produces, in bytes.
    #[must_use]
    pub fn signature_len(&self) -> usize {
        self.modulus.len()
    }
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
/// so this binding is what ties the two together). RSA runs on `ring`.
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
#[derive(Debug, Clone)]
pub struct GrafenoVerifier {
    keys: Vec<RsaPublicKey>,
    labels: Vec<Option<Arc<str>>>,
    algorithm: RsaAlgorithm,
    content: SignedContent,
    bind_status: bool,
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
        Ok(Self {
            labels: vec![None; keys.len()],
            keys,
            algorithm: RsaAlgorithm::default(),
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
        self.algorithm = algorithm;
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
        for (index, key) in self.keys.iter().enumerate() {
            if key.signature_len() != signature.len() {
                continue;
            }
            fitting_length = true;
            let components = RsaPublicKeyComponents {
                n: key.modulus.as_slice(),
                e: key.exponent.as_slice(),
            };
            if components
                .verify(self.algorithm.parameters(), message, &signature)
                .is_ok()
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
