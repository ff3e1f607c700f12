//! `hookbr init`.

use crate::Failure;

/// `hookbr init` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Runs `hookbr init`.
pub(crate) fn run(_args: &Args) -> Result<(), Failure> {
    Err(Failure::usage("not yet implemented"))
}
