//! `hookbr serve`.

use crate::Failure;

/// `hookbr serve` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Runs `hookbr serve`.
pub(crate) fn run(_args: &Args) -> Result<(), Failure> {
    Err(Failure::usage("not yet implemented"))
}
