#![no_main]
//! `Receiver::process` over a structured input:
//!
//! * byte 0: the endpoint (`% 10`: BonifiQ, Foody, Grafeno, then the seven iSET kinds);
//! * byte 1: settings bits: 1 strict, 2 64-byte body limit, 4 no store, 8 forward handshakes,
//!   16 iSET secret in a path segment (else `?token=`);
//! * the rest: `METHOD TARGET\n`, `Name: value\n` header lines, a blank line, the body (see
//!   `hookbr_fuzz::RawRequest`). `@SIG@` in the body is replaced by the test key's signature
//!   of the `x-unique-key` header.
//!
//! Secrets accepted: `X-Loyalty-Secret: bq-s3cr3t`, Foody token
//! `2b100082b90d4ad9b4fezzed960cf652`, iSET `iset-k3y`, Grafeno's 2048-bit test key.

use futures_executor::block_on;
use hookbr_core::{Receiver, grafeno::UNIQUE_KEY_HEADER};
use hookbr_fuzz::RawRequest;
use libfuzzer_sys::fuzz_target;

const STATUSES: [u16; 9] = [200, 400, 401, 405, 409, 413, 415, 422, 503];

fuzz_target!(|data: &[u8]| {
    let [selector, flags, rest @ ..] = data else {
        return;
    };
    let endpoint = hookbr_fuzz::endpoint(*selector);
    let mut raw = RawRequest::parse(rest);
    let unique_key = raw
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(UNIQUE_KEY_HEADER))
        .map(|(_, value)| value.clone());
    raw.body = hookbr_fuzz::with_signature(&raw.body, unique_key.as_deref());

    let mut builder = Receiver::builder(endpoint, hookbr_fuzz::verifier(endpoint, flags & 16 != 0))
        .strict(flags & 1 != 0)
        .forward_handshakes(flags & 8 != 0);
    if flags & 2 != 0 {
        builder = builder.body_limit(64);
    }
    let with_store = flags & 4 == 0;
    if !with_store {
        builder = builder.without_store();
    }
    let receiver = builder.build().expect("valid settings");

    let request = raw.request();
    match block_on(receiver.process(&request)) {
        Ok(verified) => {
            let json = hookbr_fuzz::touch(verified.event(), &request);
            if endpoint == hookbr_core::Endpoint::Foody {
                hookbr_fuzz::assert_no_foody_token(&raw.body, &json);
            }
            if with_store {
                let again = block_on(receiver.process(&request)).expect_err("a copy in flight");
                assert_eq!(again.status(), 409, "{again:?}");
                block_on(receiver.complete(&verified)).expect("memory store");
                let again = block_on(receiver.process(&request)).expect_err("a completed copy");
                assert_eq!((again.status(), again.category()), (200, "duplicate"));
            } else {
                block_on(receiver.release(&verified)).expect("no store");
            }
        }
        Err(rejection) => {
            assert!(STATUSES.contains(&rejection.status()), "{rejection:?}");
            let _ = (
                rejection.body_text(),
                rejection.headers(),
                rejection.reason(),
            );
        }
    }
});
