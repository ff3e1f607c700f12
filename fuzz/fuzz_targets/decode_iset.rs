#![no_main]
//! `IsetEvent::from_slice`: the first byte picks the kind (`% 7`) and the media type
//! (`/ 7 % 4`: none, JSON, form, `text/plain`); the rest is the body.

use hookbr_core::{
    Request, WebhookEvent,
    iset::{IsetEvent, IsetKind},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let kind = IsetKind::ALL[usize::from(selector % 7)];
    let media = [
        None,
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
    ][usize::from(selector / 7 % 4)];
    if let Ok(event) = IsetEvent::from_slice(kind, media, body) {
        assert_eq!(event.kind, kind);
        assert!(
            body.ends_with(event.raw()),
            "raw() is the body minus a byte-order mark"
        );
        let _ = (event.entity_id(), event.delivery_id());
        hookbr_fuzz::touch(&WebhookEvent::Iset(event), &Request::new(body));
    }
});
