//! `[server] tls_cert`, `tls_key` and `tls_handshake_timeout`: TLS termination on the
//! receiver's listener.
//!
//! Both files are given by reference like every secret (`file:PATH`, relative to the
//! configuration's folder, or `env:NAME` holding the PEM text), read and checked at
//! configuration time (`serve --check` included): a chain of PEM certificates, the server's
//! first, and a PEM private key (PKCS#8, PKCS#1 or SEC1) that belongs to it.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use hookbr_axum::{ConnectionLimits, tls::certified_key};
use rustls::sign::CertifiedKey;

use super::{
    raw::RawServer,
    reference,
    value::{duration, problem},
};

/// TLS termination: where the certificate and key come from, and the pair read from there.
#[derive(Clone)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The certificate chain's reference (`file:` made absolute, or `env:`).
    pub cert: String,
    /// The private key's reference.
    pub key: String,
    pair: Arc<CertifiedKey>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Reads `cert` and `key` (references) and checks the pair.
    ///
    /// # Errors
    ///
    /// The key (`server.tls_cert` or `server.tls_key`) and what is wrong.
    pub fn load(cert: &str, key: &str) -> Result<Self, String> {
        let pair = read_pair(cert, key)?;
        Ok(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            pair: Arc::new(pair),
        })
    }

    /// The certificate chain and key read when this configuration was loaded.
    #[must_use]
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        self.pair.clone()
    }

    /// Reads both references again and checks the pair (a renewal).
    pub(crate) fn reread(&self) -> Result<CertifiedKey, String> {
        read_pair(&self.cert, &self.key)
    }

    /// The files behind the references (`file:` ones), for watching.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        [&self.cert, &self.key]
            .into_iter()
            .filter_map(|reference| reference.strip_prefix("file:").map(PathBuf::from))
            .collect()
    }

    /// A warning when the key file can be read by every user of the machine.
    pub(crate) fn key_file_warning(&self) -> Option<String> {
        let path = Path::new(self.key.strip_prefix("file:")?);
        world_readable(path).then(|| {
            format!(
                "server.tls_key: {} can be read by every user of this machine: chmod 600 it (or \
                 640 with a group hookbr runs as)",
                path.display()
            )
        })
    }
}

#[cfg(unix)]
fn world_readable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o004 != 0)
}

#[cfg(not(unix))]
fn world_readable(_path: &Path) -> bool {
    false
}

fn read_pair(cert: &str, key: &str) -> Result<CertifiedKey, String> {
    let read = |name: &str, value: &str| {
        reference::resolve_value(value).map_err(|message| problem(name, message))
    };
    let cert_pem = read("server.tls_cert", cert)?;
    let key_pem = read("server.tls_key", key)?;
    certified_key(cert_pem.as_bytes(), key_pem.as_bytes()).map_err(|error| {
        problem(
            "server.tls_cert/tls_key",
            format!("{error} ({cert}, {key})"),
        )
    })
}

/// `[server]`'s TLS keys; sets `limits.tls_handshake_timeout`.
pub(super) fn resolve_tls(
    raw: &RawServer,
    base: &Path,
    limits: &mut ConnectionLimits,
) -> Result<Option<TlsConfig>, String> {
    limits.tls_handshake_timeout = duration(
        "server.tls_handshake_timeout",
        raw.tls_handshake_timeout.as_deref(),
        Duration::from_secs(10),
    )?;
    let reference_of = |name: &str, value: &str, example: &str| {
        let value = reference::rebase_file(value, base);
        if reference::is_reference(&value) {
            Ok(value)
        } else {
            Err(problem(
                name,
                format!("give it by reference: file:PATH (e.g. \"file:{example}\") or env:NAME"),
            ))
        }
    };
    match (raw.tls_cert.as_deref(), raw.tls_key.as_deref()) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(problem(
            "server.tls_key",
            "missing: tls_cert needs the private key that goes with it",
        )),
        (None, Some(_)) => Err(problem(
            "server.tls_cert",
            "missing: tls_key needs the certificate chain that goes with it",
        )),
        (Some(cert), Some(key)) => {
            let cert = reference_of("server.tls_cert", cert, "/etc/hookbr/fullchain.pem")?;
            let key = reference_of("server.tls_key", key, "/etc/hookbr/privkey.pem")?;
            TlsConfig::load(&cert, &key).map(Some)
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_world_readable_key_file_is_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let leaf = hookbr_tls::testkit::TestCa::new().leaf(&["localhost"], 1);
        let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert_path, &leaf.chain_pem).unwrap();
        std::fs::write(&key_path, &leaf.key_pem).unwrap();
        let mode = |bits| {
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(bits)).unwrap();
        };
        let reference = |path: &Path| format!("file:{}", path.display());
        let config = TlsConfig::load(&reference(&cert_path), &reference(&key_path)).unwrap();
        mode(0o600);
        assert_eq!(config.key_file_warning(), None);
        mode(0o644);
        let warning = config.key_file_warning().unwrap();
        assert!(warning.starts_with("server.tls_key: ") && warning.contains("chmod 600"));
        assert_eq!(config.files(), vec![cert_path, key_path]);
        assert!(!format!("{config:?}").contains("PRIVATE"));
    }
}
