//! hookbr's integration tests live in `it/` (one test binary). This library only runs the
//! README's Rust examples as doctests, against every crate they use.

/// The README's Rust examples compile (and run where they do not serve forever).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
