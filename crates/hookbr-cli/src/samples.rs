//! Built-in sample deliveries, shaped exactly as each provider sends them, and their
//! credentials (header secret, body token, URL secret, RSA signature).
//!
//! OWNED BY THE SEND/KEYGEN HELPER: interface fixed, bodies to be written.

use hookbr_core::Provider;

use crate::Failure;

/// A delivery ready to be sent: what the provider would put on the wire.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The provider.
    pub(crate) provider: Provider,
    /// The kind as `hookbr decode` prints it (`Point_Add`, `hook_test`, `order_upserted`, ...).
    pub(crate) kind: String,
    /// The delivery id the receiver will dedupe on (BonifiQ `Uuid`, Foody `uid`, Grafeno
    /// `x-unique-key`, iSET entity id...).
    pub(crate) delivery_id: String,
    /// `POST` (or `PUT`).
    pub(crate) method: &'static str,
    /// Query parameters to append to the target URL (iSET's URL secret).
    pub(crate) query: Vec<(String, String)>,
    /// Request headers (Content-Type, BonifiQ secret header, Grafeno `x-unique-key`).
    pub(crate) headers: Vec<(String, String)>,
    /// The body bytes.
    pub(crate) body: Vec<u8>,
}

/// An RSA private key that signs Grafeno deliveries.
#[derive(Debug)]
pub(crate) struct SigningKey {
    _private: (),
}

/// What authenticates a simulated delivery.
#[derive(Debug, Default)]
pub(crate) struct Credentials {
    /// BonifiQ / iSET secret.
    pub(crate) secret: Option<String>,
    /// BonifiQ header name (default `X-Loyalty-Secret`).
    pub(crate) secret_header: Option<String>,
    /// iSET query parameter carrying the secret (default `token`).
    pub(crate) secret_param: Option<String>,
    /// Foody body token.
    pub(crate) token: Option<String>,
    /// Grafeno signing key.
    pub(crate) signing_key: Option<SigningKey>,
}

/// How `--tamper` spoils a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Tamper {
    /// Flip the signature (Grafeno) or the secret/token (others).
    Signature,
    /// Change the signed/identifying header (Grafeno `x-unique-key`; others: drop the secret header).
    Header,
    /// Change the body after signing.
    Body,
}

impl SigningKey {
    /// Reads a PKCS#8 (or PKCS#1) PEM private key.
    pub(crate) fn from_pem(_pem: &str) -> Result<Self, Failure> {
        Err(Failure::usage("not yet implemented"))
    }
}

/// A fresh delivery of `provider` and `kind` (a built-in sample; `None` = the provider's
/// most common kind), or built from `file`'s bytes, with fresh ids, authenticated with
/// `credentials`.
pub(crate) fn build(
    _provider: Provider,
    _kind: Option<&str>,
    _file: Option<&[u8]>,
    _credentials: &Credentials,
) -> Result<Outgoing, Failure> {
    Err(Failure::usage("not yet implemented"))
}

/// Spoils `outgoing` as `how` says.
pub(crate) fn tamper(_outgoing: &mut Outgoing, _how: Tamper) {}
