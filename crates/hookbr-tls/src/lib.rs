//! hookbr-tls: the TLS client settings shared by hookbr's HTTP sinks, `hookbr send`, the
//! PostgreSQL inbox and Redis.
//!
//! One place builds every [`rustls::ClientConfig`] of the project, on rustls's `ring` provider
//! (no aws-lc-rs, no OpenSSL), TLS 1.2 and 1.3:
//!
//! * **Roots**: the operating system's store by default ([`Roots::System`], read once per
//!   process with `rustls-native-certs`: on Debian `/etc/ssl/certs`), or only the
//!   certificates of one PEM file ([`Roots::CaFile`]) to trust a private CA.
//! * **Verification**: the chain and the host name ([`Verify::Full`]), the chain only
//!   ([`Verify::ChainOnly`], PostgreSQL's `sslmode=verify-ca`), or nothing
//!   ([`Verify::Off`]: PostgreSQL's `sslmode=require`/`prefer`, and a sink's
//!   `insecure_skip_verify`, which callers accept only for a [loopback](is_loopback_host) host).
//!   Handshake signatures are checked in every mode.
//! * **Errors**: [`describe`] finds the rustls error behind a client library's error and says
//!   it in a few words (`certificate not trusted (unknown issuer)`), for messages of the form
//!   `TLS handshake with db.example:5432 failed: ...`; [`is_certificate_error`] tells a
//!   certificate problem (not fixed by retrying) from a transient failure.
//!
//! ```
//! use hookbr_tls::{ClientTls, Verify};
//! let config = ClientTls::system().config();
//! // A private CA, chain only (no host name check):
//! let private = ClientTls::ca_file("/etc/hookbr/db-ca.pem").verify(Verify::ChainOnly);
//! assert!(private.config().unwrap_err().to_string().contains("db-ca.pem"));
//! # let _ = config;
//! ```

use std::{
    error::Error as StdError,
    fmt,
    net::IpAddr,
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

#[cfg(feature = "testkit")]
pub mod testkit;

use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    crypto::{CryptoProvider, WebPkiSupportedAlgorithms},
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};

/// Which certificates anchor the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Roots {
    /// The operating system's store.
    System,
    /// Only the certificates (PEM) in this file: a private CA.
    CaFile(PathBuf),
}

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verify {
    /// The chain up to a root, and the host name (the default).
    Full,
    /// The chain up to a root, not the host name (PostgreSQL's `verify-ca`).
    ChainOnly,
    /// Nothing but the handshake's signatures: encryption without authentication.
    Off,
}

/// A TLS client setting: roots and verification. [`config`](Self::config) builds the rustls
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    roots: Roots,
    verify: Verify,
}

/// A TLS setting that cannot be used: the CA file is unreadable or holds no certificate, or
/// the system has no root certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for TlsError {}

impl Default for ClientTls {
    fn default() -> Self {
        Self::system()
    }
}

impl ClientTls {
    /// The system's roots, full verification.
    #[must_use]
    pub fn system() -> Self {
        Self {
            roots: Roots::System,
            verify: Verify::Full,
        }
    }

    /// Only the CA certificates (PEM) in `path`, full verification.
    #[must_use]
    pub fn ca_file(path: impl Into<PathBuf>) -> Self {
        Self {
            roots: Roots::CaFile(path.into()),
            verify: Verify::Full,
        }
    }

    /// No verification at all (see [`Verify::Off`]).
    #[must_use]
    pub fn insecure() -> Self {
        Self {
            roots: Roots::System,
            verify: Verify::Off,
        }
    }

    /// Sets how much is verified.
    #[must_use]
    pub fn verify(mut self, verify: Verify) -> Self {
        self.verify = verify;
        self
    }

    /// The roots.
    #[must_use]
    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    /// The verification.
    #[must_use]
    pub fn verification(&self) -> Verify {
        self.verify
    }

    /// The rustls client configuration (no ALPN protocols: callers set theirs).
    ///
    /// # Errors
    ///
    /// [`TlsError`] when the CA file cannot be read or holds no certificate, or when the
    /// system store has none (and verification needs roots).
    pub fn config(&self) -> Result<ClientConfig, TlsError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsError(format!("TLS: {error}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match self.verify {
            Verify::Off => Arc::new(NoVerification {
                algorithms: provider.signature_verification_algorithms,
            }),
            Verify::Full | Verify::ChainOnly => {
                let roots = match &self.roots {
                    Roots::System => system_roots()?,
                    Roots::CaFile(path) => Arc::new(ca_file_roots(path)?),
                };
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|error| TlsError(format!("TLS: {error}")))?;
                if self.verify == Verify::Full {
                    webpki
                } else {
                    Arc::new(ChainOnly { webpki })
                }
            }
        };
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }
}

/// rustls's `ring` provider.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// Makes `ring` the process's default rustls provider, for libraries that build their own
/// configuration with `ClientConfig::builder()` (the Redis client). Harmless when a default is
/// already installed.
pub fn install_default_provider() {
    if CryptoProvider::get_default().is_none() {
        // Another thread may have installed one meanwhile: either is ring, both are fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The system store, read once per process.
fn system_roots() -> Result<Arc<RootCertStore>, TlsError> {
    static SYSTEM: OnceLock<Result<Arc<RootCertStore>, TlsError>> = OnceLock::new();
    SYSTEM
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                Err(TlsError(
                    "TLS: the system has no root certificates (install the ca-certificates \
                     package, or trust a private CA with a CA file)"
                        .to_owned(),
                ))
            } else {
                Ok(Arc::new(roots))
            }
        })
        .clone()
}

/// The certificates of a PEM file.
///
/// # Errors
///
/// [`TlsError`] naming the file when it cannot be read, is not PEM, or holds no certificate.
pub fn ca_file_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let unreadable = |reason: String| TlsError(format!("CA file {}: {reason}", path.display()));
    let bytes = std::fs::read(path).map_err(|error| unreadable(error.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|_| unreadable("not a PEM file".to_owned()))?;
        roots
            .add(cert)
            .map_err(|_| unreadable("a certificate cannot be parsed".to_owned()))?;
    }
    if roots.is_empty() {
        return Err(unreadable(
            "no certificate in it (expected PEM: -----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    Ok(roots)
}

/// `host` is a loopback address (`127.0.0.0/8`, `::1`, bracketed or not) or `localhost`: the
/// only hosts for which callers accept [`Verify::Off`] on request.
#[must_use]
pub fn is_loopback_host(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host of an `http://` or `https://` URL (without port or brackets), if it has one.
#[must_use]
pub fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split_once(']').map(|(host, _)| host)?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// The rustls error behind `error` (through `source()` chains and `std::io::Error` wrappers).
fn find_rustls<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    find_rustls_within(error, 32)
}

/// Bounded: error chains are short; `budget` links is far beyond any real one.
fn find_rustls_within<'a>(
    error: &'a (dyn StdError + 'static),
    budget: u8,
) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    for left in (0..budget).rev() {
        let error = current?;
        if let Some(found) = error.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        // `io::Error::source` skips the wrapped error itself, and so does an `Arc`'s (the Redis
        // client keeps its I/O errors in one): look into them first.
        let inner: Option<&(dyn StdError + 'static)> =
            if let Some(io) = error.downcast_ref::<std::io::Error>() {
                io.get_ref().map(|inner| inner as &(dyn StdError + 'static))
            } else {
                error
                    .downcast_ref::<Arc<dyn StdError + Send + Sync>>()
                    .map(|shared| &**shared as &(dyn StdError + 'static))
            };
        if let Some(found) = inner.and_then(|inner| find_rustls_within(inner, left)) {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// What went wrong in a TLS handshake, in a few words (`certificate not trusted (unknown
/// issuer)`), if `error` comes from one. Never a certificate's content beyond the names it
/// was issued for.
#[must_use]
pub fn describe(error: &(dyn StdError + 'static)) -> Option<String> {
    find_rustls(error).map(describe_rustls)
}

/// `error` comes from a certificate the client refused: retrying cannot help until the
/// certificate or the configuration changes.
#[must_use]
pub fn is_certificate_error(error: &(dyn StdError + 'static)) -> bool {
    matches!(
        find_rustls(error),
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    )
}

fn describe_rustls(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer => {
                "certificate not trusted (unknown issuer)".to_owned()
            }
            CertificateError::NotValidForName => {
                "certificate is not valid for this host name".to_owned()
            }
            CertificateError::NotValidForNameContext { presented, .. } => format!(
                "certificate is not valid for this host name (it is for {})",
                presented.join(", ")
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate not valid yet".to_owned()
            }
            CertificateError::Revoked => "certificate revoked".to_owned(),
            CertificateError::BadSignature => {
                "certificate not trusted (bad signature: not signed by the trusted CA's key)"
                    .to_owned()
            }
            other => format!("certificate refused ({other:?})"),
        },
        rustls::Error::NoCertificatesPresented => "the server sent no certificate".to_owned(),
        rustls::Error::AlertReceived(alert) => {
            format!("the server refused the handshake ({alert:?})")
        }
        other => other.to_string(),
    }
}

/// `ChainOnly`: webpki's verdict, except that a certificate for another name is accepted
/// (webpki checks the chain before the name, so that error means the chain is good).
#[derive(Debug)]
struct ChainOnly {
    webpki: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// `Off`: any certificate, but the handshake's signatures are still checked (the session key
/// belongs to whoever holds the certificate's key).
#[derive(Debug)]
struct NoVerification {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "localhost",
            "LocalHost",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "example.com",
            "localhost.example.com",
            "",
            "[::2]",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn url_hosts() {
        assert_eq!(
            url_host("https://app.example:8443/x?y"),
            Some("app.example")
        );
        assert_eq!(url_host("https://user:pw@127.0.0.1/x"), Some("127.0.0.1"));
        assert_eq!(url_host("https://[::1]:9/x"), Some("::1"));
        assert_eq!(url_host("https:///x"), None);
        assert_eq!(url_host("nothing"), None);
    }

    #[test]
    #[cfg(feature = "testkit")]
    fn ca_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("hookbr-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let error = ClientTls::ca_file(&missing).config().unwrap_err();
        assert!(error.to_string().contains("missing.pem"), "{error}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = ClientTls::ca_file(&empty).config().unwrap_err();
        assert!(error.to_string().contains("no certificate"), "{error}");
        let pki = testkit::TestPki::new(&["localhost"]);
        let good = dir.join("ca.pem");
        std::fs::write(&good, &pki.ca_pem).unwrap();
        assert!(ClientTls::ca_file(&good).config().is_ok());
        assert!(
            ClientTls::ca_file(&good)
                .verify(Verify::ChainOnly)
                .config()
                .is_ok()
        );
        assert!(ClientTls::insecure().config().is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_are_described_through_io_wrappers() {
        let inner = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        assert_eq!(
            describe(&io).as_deref(),
            Some("certificate not trusted (unknown issuer)")
        );
        assert!(is_certificate_error(&io));
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(describe(&plain), None);
        assert!(!is_certificate_error(&plain));
    }
}
