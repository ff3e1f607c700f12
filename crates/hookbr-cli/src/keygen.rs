//! `hookbr keygen`: an RSA key pair for local Grafeno simulation.
//!
//! OWNED BY THE SEND/KEYGEN HELPER: interface fixed, bodies to be written.

use crate::Failure;

/// `hookbr keygen` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// A generated key pair as PEM text.
#[derive(Debug)]
pub(crate) struct KeyPair {
    /// PKCS#8 `PRIVATE KEY` PEM.
    pub(crate) private_pem: String,
    /// SPKI `PUBLIC KEY` PEM.
    pub(crate) public_pem: String,
}

/// Generates an RSA key pair of `bits` (2048 or 4096).
pub(crate) fn generate(_bits: usize) -> Result<KeyPair, Failure> {
    Err(Failure::usage("not yet implemented"))
}

/// Runs `hookbr keygen`.
pub(crate) fn run(_args: &Args) -> Result<(), Failure> {
    Err(Failure::usage("not yet implemented"))
}
