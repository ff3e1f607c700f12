//! [`ConnectionLimits`]: the connection-level bounds a public listener applies, as plain data
//! shared by the adapters (`hookbr_axum::serve` and `hookbr_actix::serve` apply them; each
//! documents what its HTTP stack can and cannot bound).

use std::time::Duration;

/// What a bounded server enforces on every connection, so that a client without any credential
/// cannot hold a connection, a task or memory for long. Every field has a safe default.
///
/// ```
/// use std::time::Duration;
/// use hookbr_core::ConnectionLimits;
///
/// let limits = ConnectionLimits::default();
/// assert_eq!(limits.header_timeout, Duration::from_secs(10));
/// assert_eq!(limits.max_connections, 512);
/// assert!(!limits.http2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionLimits {
    /// A request head must be complete within this time: from the connection's start for the
    /// first request, from the first byte of the next one on a kept-alive connection (10 s).
    pub header_timeout: Duration,
    /// The whole body must arrive within this time of the head (30 s); otherwise `408` and the
    /// connection is closed.
    pub body_timeout: Duration,
    /// The response must start within this time of the head (60 s); otherwise `503`.
    pub request_timeout: Duration,
    /// A kept-alive connection without a request is closed after this time (30 s).
    pub idle_timeout: Duration,
    /// Connections served at once (512). What happens at the cap depends on the adapter.
    pub max_connections: usize,
    /// The largest request head (request line and headers) in bytes, and HTTP/2's header list
    /// size (16 KiB; an adapter may raise it to its smallest buffer); `431` beyond.
    pub max_header_bytes: usize,
    /// The most header fields in an HTTP/1.1 request (64); `431` beyond.
    pub max_headers: usize,
    /// Also serve HTTP/2 cleartext (prior knowledge) on the same port (`false`: HTTP/1.1
    /// only); with TLS, offer `h2` by ALPN as well as `http/1.1`.
    pub http2: bool,
    /// With TLS (hookbr-axum's `Serve::tls`), the handshake must end within this time of the
    /// connection's start (10 s); the connection is closed otherwise. The head timeout starts
    /// after it.
    pub tls_handshake_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            max_connections: 512,
            max_header_bytes: 16_384,
            max_headers: 64,
            http2: false,
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}
