//! `hookbr demo`.

use crate::Failure;

/// `hookbr demo` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Runs `hookbr demo`.
pub(crate) fn run(_args: &Args) -> Result<(), Failure> {
    Err(Failure::usage("not yet implemented"))
}
