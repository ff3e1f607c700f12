#![no_main]
//! `GrafenoEvent::from_slice` on arbitrary bytes; decoded events must serialize.

use hookbr_core::{Request, WebhookEvent, grafeno::GrafenoEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = GrafenoEvent::from_slice(data) {
        let _ = (event.change_str(), event.drift());
        hookbr_fuzz::touch(&WebhookEvent::Grafeno(event), &Request::new(data));
    }
});
