#![no_main]
//! `Timestamp::parse` on arbitrary text, and Display → parse for what it accepts, plus
//! `grafeno::split_unique_key` on the same text.
//!
//! Everything `parse` accepts must print back in a form it reads (`fuzz/regressions/timestamp/`
//! holds the two inputs that once broke this).

use hookbr_core::{Timestamp, grafeno::split_unique_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((uuid, status)) = split_unique_key(text) {
        assert_eq!(format!("{uuid}-{status}"), text);
    }
    let Ok(parsed) = Timestamp::parse(text) else {
        return;
    };
    assert!(parsed.subsec_nanos() < 1_000_000_000);
    let shown = parsed.to_string();
    let again = Timestamp::parse(&shown)
        .unwrap_or_else(|error| panic!("{text:?} printed as {shown:?}, which fails: {error}"));
    assert_eq!(again, parsed, "{text:?} -> {shown:?}");
    assert_eq!(again.to_string(), shown);
});
