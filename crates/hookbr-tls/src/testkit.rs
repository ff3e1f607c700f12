//! Test certificates made on the spot: a CA and a leaf signed by it, and a rustls server
//! configuration serving the leaf (feature `testkit`). For tests only: keys live in memory and
//! in the temporary files the tests write.

use std::{net::IpAddr, sync::Arc};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA and a server certificate it signed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestPki {
    /// The CA certificate (PEM): what a client trusts (`ca_file`, `sslrootcert`).
    pub ca_pem: String,
    /// The server certificate (PEM).
    pub leaf_pem: String,
    /// The server's private key (PKCS#8 PEM).
    pub leaf_key_pem: String,
    leaf_der: Vec<u8>,
    leaf_key_der: Vec<u8>,
}

impl TestPki {
    /// A fresh CA, and a leaf for `names` (IP addresses become IP SANs, the rest DNS names).
    ///
    /// # Panics
    ///
    /// When rcgen cannot make a key or a certificate (never with these parameters).
    #[must_use]
    pub fn new(names: &[&str]) -> Self {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        // A name of its own: two test CAs are two issuers, as two real CAs are.
        let serial = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("hookbr test CA {serial:x}"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");

        let leaf_key = KeyPair::generate().expect("a server key");
        let mut leaf_params = CertificateParams::new(Vec::<String>::new()).expect("parameters");
        leaf_params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().expect("a DNS name")),
            })
            .collect();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("test"));
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("the server certificate");
        Self {
            ca_pem: ca.pem(),
            leaf_pem: leaf.pem(),
            leaf_key_pem: leaf_key.serialize_pem(),
            leaf_der: leaf.der().to_vec(),
            leaf_key_der: leaf_key.serialize_der(),
        }
    }

    /// A rustls server configuration (ring, TLS 1.2+) serving the leaf, offering `alpn`.
    ///
    /// # Panics
    ///
    /// When rustls refuses the key (never for the keys [`new`](Self::new) makes).
    #[must_use]
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(self.leaf_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key_der.clone())),
            )
            .expect("the server key");
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Arc::new(config)
    }
}
