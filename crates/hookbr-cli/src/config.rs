//! hookbr.toml.
