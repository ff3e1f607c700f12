#![no_main]
//! `privacy::mask_body` and `privacy::mask_text` on arbitrary bytes: never a panic, a JSON body
//! stays JSON, and masking what is already masked changes nothing a detector would find; and
//! `privacy::subjects` (the erasure index) never panics on it either.
//!
//! The first byte picks the provider (and whether the kind is `custom`); the rest is the body.

use hookbr_core::{
    Provider,
    privacy::{is_cpf, is_email, mask_body, mask_text, subjects},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let provider = Provider::ALL[usize::from(selector) % Provider::ALL.len()];
    let kind = if selector & 0x80 != 0 { "custom" } else { "Point_Add" };
    let _ = subjects(body);
    let masked = mask_body(provider, kind, body);
    if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        serde_json::from_slice::<serde_json::Value>(&masked)
            .unwrap_or_else(|error| panic!("masked JSON is not JSON: {error}"));
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let once = mask_text(text);
        for word in once.split_whitespace() {
            assert!(!is_cpf(word) && !is_email(word), "{word:?} survived in {once:?}");
        }
    }
});
