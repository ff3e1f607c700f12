//! Test certificates made on the spot: a CA ([`TestCa`]) and server certificates it signs
//! ([`TestLeaf`]), rustls client and server configurations for them, and [`TestPki`], a CA with
//! one leaf (feature `testkit`). For tests only: keys live in memory and
//! in the temporary files the tests write.

use std::{net::IpAddr, sync::Arc};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA made on the spot, which signs as many server certificates as a test needs (a renewal
/// test serves one, then another from the same CA).
///
/// ```
/// use hookbr_tls::testkit::TestCa;
///
/// let ca = TestCa::new();
/// let (first, renewed) = (ca.leaf(&["localhost", "127.0.0.1"], 1), ca.leaf(&["localhost"], 2));
/// assert_ne!(first.der, renewed.der);
/// assert!(first.chain_pem.ends_with(&ca.pem));
/// ```
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    /// The CA certificate (PEM): what a client trusts (`ca_file`, `sslrootcert`).
    pub pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("pem", &self.pem)
            .finish_non_exhaustive()
    }
}

/// A server certificate signed by a [`TestCa`], and its key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestLeaf {
    /// The certificate alone (PEM).
    pub pem: String,
    /// The certificate followed by its CA's (PEM): what a server presents.
    pub chain_pem: String,
    /// The private key (PKCS#8 PEM).
    pub key_pem: String,
    /// The certificate (DER), to compare with what a server presented.
    pub der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    /// A fresh CA with a name of its own: two test CAs are two issuers, as two real CAs are.
    ///
    /// # Panics
    ///
    /// When rcgen cannot make a key or a certificate (never with these parameters).
    #[must_use]
    pub fn new() -> Self {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        let serial = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        params
            .distinguished_name
            .push(DnType::CommonName, format!("hookbr test CA {serial:x}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("the CA certificate");
        let pem = cert.pem();
        Self { cert, key, pem }
    }

    /// A server certificate for `names` (IP addresses become IP SANs, the rest DNS names) with
    /// serial number `serial`.
    ///
    /// # Panics
    ///
    /// When a name is not a valid DNS name, or rcgen cannot sign.
    #[must_use]
    pub fn leaf(&self, names: &[&str], serial: u64) -> TestLeaf {
        let key = KeyPair::generate().expect("a server key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("parameters");
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().expect("a DNS name")),
            })
            .collect();
        params.distinguished_name.push(
            DnType::CommonName,
            format!("{} {serial}", names.first().copied().unwrap_or("test")),
        );
        params.serial_number = Some(SerialNumber::from(serial));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("the server certificate");
        TestLeaf {
            pem: cert.pem(),
            chain_pem: format!("{}{}", cert.pem(), self.pem),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// A rustls client configuration (ring) trusting only this CA, on `versions`, offering
    /// `alpn`.
    ///
    /// # Panics
    ///
    /// When rustls refuses `versions` (an empty list).
    #[must_use]
    pub fn client_config(
        &self,
        alpn: &[&[u8]],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.cert.der().clone())
            .expect("the CA certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Arc::new(config)
    }
}

impl TestLeaf {
    /// A rustls server configuration (ring, TLS 1.2+) serving this certificate, offering `alpn`.
    ///
    /// # Panics
    ///
    /// When rustls refuses the key (never for the keys [`TestCa::leaf`] makes).
    #[must_use]
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![self.der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            )
            .expect("the server key");
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Arc::new(config)
    }
}

/// A CA and one server certificate it signed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestPki {
    /// The CA certificate (PEM): what a client trusts (`ca_file`, `sslrootcert`).
    pub ca_pem: String,
    /// The server certificate (PEM).
    pub leaf_pem: String,
    /// The server's private key (PKCS#8 PEM).
    pub leaf_key_pem: String,
    leaf: TestLeaf,
}

impl TestPki {
    /// A fresh CA, and a leaf for `names` (IP addresses become IP SANs, the rest DNS names).
    ///
    /// # Panics
    ///
    /// When rcgen cannot make a key or a certificate (never with these parameters).
    #[must_use]
    pub fn new(names: &[&str]) -> Self {
        let ca = TestCa::new();
        let leaf = ca.leaf(names, 1);
        Self {
            ca_pem: ca.pem,
            leaf_pem: leaf.pem.clone(),
            leaf_key_pem: leaf.key_pem.clone(),
            leaf,
        }
    }

    /// A rustls server configuration (ring, TLS 1.2+) serving the leaf, offering `alpn`.
    #[must_use]
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        self.leaf.server_config(alpn)
    }
}
