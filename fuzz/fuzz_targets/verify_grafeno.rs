#![no_main]
//! `GrafenoVerifier::verify` (test public key, built once). Input: the `x-unique-key` value up
//! to the first `\n` (no newline: no header), then the body. `@SIG@` in the body becomes the
//! test key's signature of the header, so the checks after the RSA one are reachable.
//!
//! Asserted: a body without the placeholder never verifies (it would be a forgery).

use hookbr_core::{Request, verify::Verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (Some(&data[..at]), &data[at + 1..]),
        None => (None, data),
    };
    let signed = hookbr_fuzz::with_signature(body, header);
    let headers: Vec<(&str, &[u8])> = header.map(|h| ("x-unique-key", h)).into_iter().collect();
    let result =
        hookbr_fuzz::grafeno_verifier().verify(&Request::new(&signed).with_headers(&headers));
    if signed == body {
        assert!(result.is_err(), "an unsigned body verified: {result:?}");
    }
});
