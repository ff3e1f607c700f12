#![no_main]
//! `BodyTokenVerifier::foody` on arbitrary bodies (the fixtures' token is accepted).

use hookbr_core::{
    Request, Secret,
    verify::{BodyTokenVerifier, Verify},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let verifier = BodyTokenVerifier::foody([
        Secret::new(hookbr_fuzz::FOODY_TOKEN).expect("non-empty"),
        Secret::new("t-new").expect("non-empty"),
    ])
    .expect("valid");
    if let Ok(matched) = verifier.verify(&Request::new(data)) {
        assert!(matched.index() < 2);
    }
});
