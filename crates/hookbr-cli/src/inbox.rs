//! `hookbr inbox`.

use crate::Failure;

/// `hookbr inbox` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {}

/// Runs `hookbr inbox …`.
pub(crate) fn run(_command: &Command) -> Result<(), Failure> {
    Err(Failure::usage("not yet implemented"))
}
