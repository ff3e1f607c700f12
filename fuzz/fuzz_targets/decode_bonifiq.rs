#![no_main]
//! `BonifiqEvent::from_slice` on arbitrary bytes; decoded events must serialize.

use hookbr_core::{Request, WebhookEvent, bonifiq::BonifiqEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = BonifiqEvent::from_slice(data) {
        let _ = event.delivery_id();
        hookbr_fuzz::touch(&WebhookEvent::Bonifiq(event), &Request::new(data));
    }
});
