//! `hookbr send`: a provider simulator.
//!
//! OWNED BY THE SEND/KEYGEN HELPER: interface fixed, bodies to be written.

use std::time::Duration;

use crate::{Failure, samples::Outgoing};

/// `hookbr send` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// The receiver's answer to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The answer carried `Hookbr-Duplicate: true`.
    pub(crate) duplicate: bool,
    /// The `error` category of a rejection body (`{"status":N,"error":"..."}`), if any.
    pub(crate) error: Option<String>,
}

/// Sends `outgoing` once to `url` (query parameters appended), waiting at most `timeout`.
///
/// `Err` is a transport failure (connection refused, timeout), as text.
pub(crate) async fn post(
    _client: &reqwest::Client,
    _url: &str,
    _outgoing: &Outgoing,
    _timeout: Duration,
) -> Result<Answer, String> {
    Err("not yet implemented".to_owned())
}

/// Runs `hookbr send`.
pub(crate) fn run(_args: &Args) -> Result<(), Failure> {
    Err(Failure::usage("not yet implemented"))
}
