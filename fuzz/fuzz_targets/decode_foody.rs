#![no_main]
//! `FoodyEvent::from_slice` on arbitrary bytes; decoded events must serialize, without the
//! body's `token`.

use hookbr_core::{Request, WebhookEvent, foody::FoodyEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = FoodyEvent::from_slice(data) {
        let _ = event.delivery_id();
        let debug = format!("{event:?}");
        let json = hookbr_fuzz::touch(&WebhookEvent::Foody(event), &Request::new(data));
        hookbr_fuzz::assert_no_foody_token(data, &json);
        hookbr_fuzz::assert_no_foody_token(data, &debug);
    }
});
