//! [`ConnectionStats`]: what [`serve`](crate::serve()) counts about its connections (open now,
//! closed by each bound), for metrics.

use std::sync::{
    Arc,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};

/// Why [`serve`](crate::serve()) closed or refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// Closed at the connection cap: the oldest connection without a complete request, to
    /// make room for a new one.
    ConnectionCap,
    /// Refused at the cap (`503`): every open connection held a complete request.
    Refused,
    /// Its request head did not arrive within the header timeout.
    HeaderTimeout,
    /// A request body did not arrive within the body timeout (`408`).
    BodyTimeout,
    /// An answer did not start within the request timeout (`503`).
    RequestTimeout,
    /// Kept alive without a request for the idle timeout.
    Idle,
    /// Its TLS handshake did not end within the handshake timeout.
    TlsHandshakeTimeout,
    /// Its TLS handshake failed (not TLS, an old protocol version, no common cipher suite).
    TlsHandshakeFailed,
}

impl CloseReason {
    /// Every reason, in a fixed order.
    pub const ALL: [Self; 8] = [
        Self::ConnectionCap,
        Self::Refused,
        Self::HeaderTimeout,
        Self::BodyTimeout,
        Self::RequestTimeout,
        Self::Idle,
        Self::TlsHandshakeTimeout,
        Self::TlsHandshakeFailed,
    ];

    /// The reason as a metrics label: `connection_cap`, `refused`, `header_timeout`,
    /// `body_timeout`, `request_timeout`, `idle`, `tls_handshake_timeout`, `tls_handshake_failed`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionCap => "connection_cap",
            Self::Refused => "refused",
            Self::HeaderTimeout => "header_timeout",
            Self::BodyTimeout => "body_timeout",
            Self::RequestTimeout => "request_timeout",
            Self::Idle => "idle",
            Self::TlsHandshakeTimeout => "tls_handshake_timeout",
            Self::TlsHandshakeFailed => "tls_handshake_failed",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Counters of one [`serve`](crate::serve()) (or several, if given to each): connections open
/// now and connections closed by each [`CloseReason`] since the start. Cheap to clone (shared).
///
/// ```
/// use hookbr_axum::serve::{CloseReason, ConnectionStats};
///
/// let stats = ConnectionStats::new();
/// // hookbr_axum::serve(listener, router).stats(stats.clone())
/// assert_eq!(stats.open(), 0);
/// assert_eq!(stats.closed(CloseReason::HeaderTimeout), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConnectionStats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    open: AtomicUsize,
    closed: [AtomicU64; CloseReason::ALL.len()],
}

impl ConnectionStats {
    /// Counters at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections open now.
    #[must_use]
    pub fn open(&self) -> usize {
        self.0.open.load(Ordering::Relaxed)
    }

    /// Connections closed (or refused) for `reason` so far.
    #[must_use]
    pub fn closed(&self, reason: CloseReason) -> u64 {
        self.0.closed[reason.index()].load(Ordering::Relaxed)
    }

    pub(crate) fn close(&self, reason: CloseReason) {
        self.0.closed[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn opened(&self) {
        self.0.open.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn left(&self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}
