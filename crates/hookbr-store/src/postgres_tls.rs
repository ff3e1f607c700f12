//! TLS for the PostgreSQL inbox: libpq's `sslmode` and `sslrootcert`, on rustls.
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | - |
//! | `prefer` (default, as libpq) | when the server offers TLS | no |
//! | `require` | yes | no; the chain when `sslrootcert` is given (as libpq) |
//! | `verify-ca` | yes | the chain (roots: `sslrootcert`, else the system's) |
//! | `verify-full` | yes | the chain and the host name |
//!
//! `sslrootcert=PATH` trusts only the CA certificates (PEM) in that file; `sslrootcert=system`
//! (or none) the system's store. libpq's `allow` is refused (use `prefer`). Both keys are read
//! from the URL form (`postgres://...?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem`);
//! `host=... sslmode=require` strings support `disable`, `prefer` and `require`.

use std::{
    fmt,
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use hookbr_core::StoreError;
use hookbr_tls::{ClientTls, Verify};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::{
    config::SslMode,
    tls::{ChannelBinding, MakeTlsConnect, TlsConnect},
};
use tokio_rustls::{TlsConnector, client::TlsStream, rustls::pki_types::ServerName};

/// libpq's `sslmode` values hookbr supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// `url` without `sslmode` and `sslrootcert` (for tokio-postgres, which knows neither
/// `verify-*` nor `sslrootcert`), and the TLS connector they ask for.
pub(crate) fn split(url: &str) -> Result<(String, SslMode, PgTls), StoreError> {
    let invalid = |what: &str| StoreError::new(format!("postgres: connect: {what}"));
    let mut mode = None;
    let mut rootcert = None;
    let mut rest = url.to_owned();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        if let Some((base, query)) = url.split_once('?') {
            let mut kept = Vec::new();
            for pair in query.split('&') {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                match key {
                    "sslmode" => mode = Some(percent_decode(value)),
                    "sslrootcert" => rootcert = Some(percent_decode(value)),
                    _ => kept.push(pair),
                }
            }
            rest = if kept.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{}", kept.join("&"))
            };
        }
    }
    let mode = match mode.as_deref() {
        None => None,
        Some("disable") => Some(Mode::Disable),
        Some("prefer") => Some(Mode::Prefer),
        Some("require") => Some(Mode::Require),
        Some("verify-ca") => Some(Mode::VerifyCa),
        Some("verify-full") => Some(Mode::VerifyFull),
        Some("allow") => {
            return Err(invalid(
                "sslmode=allow is not supported (use disable, prefer, require, verify-ca or \
                 verify-full)",
            ));
        }
        Some(_) => {
            return Err(invalid(
                "invalid sslmode (expected disable, prefer, require, verify-ca or verify-full)",
            ));
        }
    };
    let config: tokio_postgres::Config = rest
        .parse()
        .map_err(|_| invalid("invalid connection URL"))?;
    // A key=value string keeps its own sslmode (disable, prefer or require).
    let mode = mode.unwrap_or(match config.get_ssl_mode() {
        SslMode::Disable => Mode::Disable,
        SslMode::Require => Mode::Require,
        _ => Mode::Prefer,
    });
    let roots = match rootcert.as_deref() {
        None | Some("system") => ClientTls::system(),
        Some(path) => ClientTls::ca_file(path),
    };
    let tls = match mode {
        Mode::Disable | Mode::Prefer => ClientTls::insecure(),
        Mode::Require if rootcert.is_none() => ClientTls::insecure(),
        Mode::Require | Mode::VerifyCa => roots.verify(Verify::ChainOnly),
        Mode::VerifyFull => roots,
    };
    let ssl_mode = match mode {
        Mode::Disable => SslMode::Disable,
        Mode::Prefer => SslMode::Prefer,
        _ => SslMode::Require,
    };
    let client_config = if mode == Mode::Disable {
        None
    } else {
        Some(Arc::new(tls.config().map_err(|error| {
            StoreError::new(format!("postgres: connect: {error}"))
        })?))
    };
    let mut ports: Vec<u16> = config.get_ports().to_vec();
    ports.dedup();
    let port = match ports.as_slice() {
        [] => Some(5432),
        [port] => Some(*port),
        _ => None,
    };
    Ok((
        rest,
        ssl_mode,
        PgTls {
            config: client_config,
            port,
        },
    ))
}

/// `%XX` decoded (libpq URLs percent-encode paths); anything malformed is kept as written.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|&byte| char::from(byte).to_digit(16))
        };
        match (bytes[index], hex(index + 1), hex(index + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
                index += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The connector handed to tokio-postgres (and the pool): rustls with the mode's verification.
#[derive(Clone)]
pub(crate) struct PgTls {
    /// `None` for `sslmode=disable` (tokio-postgres then never asks for TLS).
    config: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    /// The port, when every host has the same one (for error messages).
    port: Option<u16>,
}

impl fmt::Debug for PgTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTls")
            .field("enabled", &self.config.is_some())
            .finish_non_exhaustive()
    }
}

/// A failed handshake, naming the server: `TLS handshake with db.example:5432 failed: ...`.
#[derive(Debug)]
pub(crate) struct HandshakeFailed(pub(crate) String);

impl fmt::Display for HandshakeFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HandshakeFailed {}

impl<S> MakeTlsConnect<S> for PgTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type TlsConnect = PgTlsConnect;
    type Error = HandshakeFailed;

    fn make_tls_connect(&mut self, domain: &str) -> Result<PgTlsConnect, HandshakeFailed> {
        let label = match self.port {
            Some(port) => format!("{domain}:{port}"),
            None => domain.to_owned(),
        };
        Ok(PgTlsConnect {
            config: self.config.clone(),
            // Invalid (a Unix socket's empty host): refused if a handshake is attempted.
            name: ServerName::try_from(domain.to_owned()).ok(),
            label,
        })
    }
}

/// One handshake.
#[derive(Debug)]
pub(crate) struct PgTlsConnect {
    config: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    name: Option<ServerName<'static>>,
    label: String,
}

impl<S> TlsConnect<S> for PgTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type Error = HandshakeFailed;
    type Future = Pin<Box<dyn Future<Output = Result<PgTlsStream<S>, HandshakeFailed>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let failed = |why: String| {
                HandshakeFailed(format!("TLS handshake with {} failed: {why}", self.label))
            };
            let (Some(config), Some(name)) = (self.config, self.name) else {
                return Err(failed("no TLS configured for this host".to_owned()));
            };
            TlsConnector::from(config)
                .connect(name, stream)
                .await
                .map(PgTlsStream)
                .map_err(|error| {
                    failed(hookbr_tls::describe(&error).unwrap_or_else(|| error.to_string()))
                })
        })
    }
}

/// The encrypted connection.
#[derive(Debug)]
pub(crate) struct PgTlsStream<S>(TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for PgTlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_keys_are_taken_out_of_the_url() {
        let (rest, mode, _) =
            split("postgres://u@db.example:6543/app?options=-csearch_path%3Dx&sslmode=require")
                .unwrap();
        assert_eq!(
            rest,
            "postgres://u@db.example:6543/app?options=-csearch_path%3Dx"
        );
        assert_eq!(mode, SslMode::Require);
        let (rest, mode, tls) = split("postgres://u@db.example/app").unwrap();
        assert_eq!(
            (rest.as_str(), mode),
            ("postgres://u@db.example/app", SslMode::Prefer)
        );
        assert_eq!(tls.port, Some(5432));
        let (_, mode, tls) = split("postgres://u@db.example/app?sslmode=disable").unwrap();
        assert_eq!(mode, SslMode::Disable);
        assert!(tls.config.is_none());
        for bad in ["allow", "verify", ""] {
            let error = split(&format!("postgres://u@h/app?sslmode={bad}")).unwrap_err();
            assert!(error.to_string().contains("sslmode"), "{error}");
        }
        let error =
            split("postgres://u@h/app?sslmode=verify-ca&sslrootcert=%2Fnone%2Fca.pem").unwrap_err();
        assert!(error.to_string().contains("/none/ca.pem"), "{error}");
        assert_eq!(percent_decode("a%2Fb%zz%"), "a/b%zz%");
    }
}
