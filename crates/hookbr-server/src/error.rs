//! The one error type of the library.

/// Why a configuration could not be used or the server could not run.
///
/// The message is one line for an operator: it names the file and key of a configuration
/// problem, or the address, inbox or store that failed, and never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid or unreadable (`hookbr` exits 2).
    #[error("{0}")]
    Config(String),
    /// Something failed at run time: an address in use, an unreachable inbox or Redis
    /// (`hookbr` exits 1).
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }

    pub(crate) fn runtime(message: impl Into<String>) -> Self {
        Self::Runtime(message.into())
    }
}
