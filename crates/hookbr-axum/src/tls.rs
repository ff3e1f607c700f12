//! TLS termination for [`serve()`](crate::serve()): a certificate that can be replaced while
//! serving, and the rustls configuration [`Serve::tls`](crate::Serve::tls) expects.
//!
//! [`TlsCertificate`] holds the current certificate chain and private key. It is rustls'
//! certificate resolver, so every new handshake takes the certificate current at that moment,
//! while connections already established keep theirs: [`TlsCertificate::replace_pem`] (e.g.
//! after an ACME client renewed the files) never drops a connection. A replacement is checked
//! whole first (PEM readable, a private key the `ring` provider can use, and that key matching
//! the first certificate); when it is refused, the previous certificate keeps serving.
//!
//! [`server_config`] builds the rustls `ServerConfig`: the `ring` provider, TLS 1.2 and 1.3
//! only (rustls implements nothing older), no client certificates. [`Serve`](crate::Serve)
//! sets the ALPN protocols itself: `http/1.1`, and `h2` first when
//! [`ConnectionLimits::http2`](crate::ConnectionLimits::http2) is set. The handshake must end
//! within [`ConnectionLimits::tls_handshake_timeout`](crate::ConnectionLimits::tls_handshake_timeout).
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use hookbr_axum::tls::{TlsCertificate, server_config};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let app = axum::Router::new();
//! let certificate = Arc::new(TlsCertificate::load(
//!     "/etc/letsencrypt/live/hooks.example.com/fullchain.pem".as_ref(),
//!     "/etc/letsencrypt/live/hooks.example.com/privkey.pem".as_ref(),
//! )?);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
//! let serving = hookbr_axum::serve(listener, app).tls(server_config(certificate.clone())?);
//! // Later, after a renewal (new handshakes get the new certificate):
//! // certificate.load_files(cert_path, key_path)?;
//! serving.await?;
//! # Ok(()) }
//! ```

use std::{
    fmt, fs,
    path::Path,
    sync::{Arc, PoisonError, RwLock},
};

use rustls::{
    ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

/// Why a certificate or key was refused (never any key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

impl TlsError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The `ring` crypto provider this crate's TLS uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain and its private key, checked: the chain in PEM (`CERTIFICATE` blocks,
/// the server's own first), the key in PEM (PKCS#8, PKCS#1 or SEC1), the key matching the
/// first certificate.
///
/// # Errors
///
/// [`TlsError`] saying which part is wrong.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::new(format!("the certificate is not valid PEM: {error}")))?;
    if chain.is_empty() {
        return Err(TlsError::new(
            "no certificate found (expected PEM \"BEGIN CERTIFICATE\" blocks)",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| {
        TlsError::new(format!(
            "no usable private key (expected a PEM private key: PKCS#8, RSA or EC): {error}"
        ))
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|error| match error {
        rustls::Error::InconsistentKeys(_) => {
            TlsError::new("the private key does not belong to the (first) certificate")
        }
        other => TlsError::new(format!("the certificate or key was refused: {other}")),
    })
}

/// The certificate a TLS listener presents, replaceable while serving. See the
/// [module docs](self).
pub struct TlsCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for TlsCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsCertificate")
            .field("chain_len", &self.current().cert.len())
            .finish_non_exhaustive()
    }
}

impl TlsCertificate {
    /// A certificate from an already checked pair.
    #[must_use]
    pub fn new(key: CertifiedKey) -> Self {
        Self {
            current: RwLock::new(Arc::new(key)),
        }
    }

    /// A certificate from PEM text (see [`certified_key`]).
    ///
    /// # Errors
    ///
    /// [`TlsError`] saying which part is wrong.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        certified_key(cert_pem, key_pem).map(Self::new)
    }

    /// A certificate from PEM files.
    ///
    /// # Errors
    ///
    /// [`TlsError`] naming the file that cannot be read, or saying which part is wrong.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let (cert, key) = read_pair(cert, key)?;
        Self::from_pem(&cert, &key)
    }

    /// The pair new handshakes get.
    #[must_use]
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Serves `key` to new handshakes from now on; established connections keep theirs.
    pub fn replace(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
    }

    /// Checks the PEM pair and, when it is good, serves it to new handshakes; otherwise the
    /// current certificate stays.
    ///
    /// # Errors
    ///
    /// [`TlsError`] saying which part is wrong (nothing changed).
    pub fn replace_pem(&self, cert_pem: &[u8], key_pem: &[u8]) -> Result<(), TlsError> {
        self.replace(certified_key(cert_pem, key_pem)?);
        Ok(())
    }

    /// [`replace_pem`](Self::replace_pem) from files.
    ///
    /// # Errors
    ///
    /// [`TlsError`] naming the file that cannot be read, or saying which part is wrong
    /// (nothing changed).
    pub fn load_files(&self, cert: &Path, key: &Path) -> Result<(), TlsError> {
        let (cert, key) = read_pair(cert, key)?;
        self.replace_pem(&cert, &key)
    }
}

fn read_pair(cert: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let read = |path: &Path| {
        fs::read(path)
            .map_err(|error| TlsError::new(format!("cannot read {}: {error}", path.display())))
    };
    Ok((read(cert)?, read(key)?))
}

impl ResolvesServerCert for TlsCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The rustls configuration for [`Serve::tls`](crate::Serve::tls): the `ring` provider, TLS 1.2
/// and 1.3, no client authentication, `certificate` resolved per handshake.
///
/// # Errors
///
/// [`TlsError`] if the provider refused the protocol versions (it supports both: not expected).
pub fn server_config(certificate: Arc<TlsCertificate>) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|error| TlsError::new(format!("TLS configuration refused: {error}")))?
        .with_no_client_auth()
        .with_cert_resolver(certificate);
    Ok(Arc::new(config))
}
