#![no_main]
//! `Receiver::check_head` — what is decided before a body is read — against a reference
//! written out separately here, over a structured input:
//!
//! * byte 0: the endpoint (`% 10`: BonifiQ, Foody, Grafeno, then the seven iSET kinds);
//! * byte 1: settings bits: 2 a 64-byte body limit, 16 iSET secret in a path segment (else
//!   `?token=`);
//! * the rest: `METHOD TARGET\n`, `Name: value\n` header lines (a name may repeat), a blank
//!   line, the body (see `hookbr_fuzz::RawRequest`).
//!
//! The reference: `405` for a method the endpoint does not accept; `415` when any copy of
//! `Content-Encoding` has an element other than `identity`, or any copy of
//! `Transfer-Encoding` one other than `chunked`/`identity`, or (JSON providers) any copy of
//! `Content-Type` is not JSON; `413` when any copy of `Content-Length` declares more than the
//! limit; then `401` when the credential lives in the head (BonifiQ's header, iSET's URL) and
//! does not verify; never `401` on the head for Foody and Grafeno. `process` on the whole
//! request refuses with the same status (`413` first when the body itself is over the limit),
//! and once the head passed, BonifiQ and iSET are never refused `401` for it either.

use futures_executor::block_on;
use hookbr_core::{Endpoint, Provider, Receiver, verify::Verify};
use hookbr_fuzz::RawRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [selector, flags, rest @ ..] = data else {
        return;
    };
    let endpoint = hookbr_fuzz::endpoint(*selector);
    let path_secret = flags & 16 != 0;
    let raw = RawRequest::parse(rest);
    let limit = if flags & 2 != 0 {
        64
    } else {
        endpoint.default_body_limit()
    };
    let receiver = Receiver::builder(endpoint, hookbr_fuzz::verifier(endpoint, path_secret))
        .body_limit(limit)
        .build()
        .expect("valid settings");

    let head = raw.request().with_body(&[]);
    let got = receiver
        .check_head(&head)
        .map(|_| ())
        .map_err(|rejection| rejection.status());
    let expected = reference(endpoint, path_secret, limit, &raw);
    assert_eq!(got, expected, "{raw:?}");

    let answer = block_on(receiver.process(&raw.request()));
    match (got, answer) {
        // `process` knows the body's length: an oversized one is 413 before the credential.
        (Err(status), Err(full)) => {
            let status = if status == 401 && raw.body.len() > limit {
                413
            } else {
                status
            };
            assert_eq!(full.status(), status, "{raw:?}");
        }
        (Err(status), Ok(_)) => panic!("refused {status} on the head, accepted whole: {raw:?}"),
        (Ok(()), Err(full)) if head_credential(endpoint) => {
            assert_ne!(full.status(), 401, "the head was authentic: {raw:?}");
        }
        _ => {}
    }
});

/// Whether the endpoint's credential is in the head.
fn head_credential(endpoint: Endpoint) -> bool {
    matches!(endpoint.provider(), Provider::Bonifiq | Provider::Iset)
}

/// The values of every header called `name`, in order.
fn values<'a>(raw: &'a RawRequest, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    raw.headers
        .iter()
        .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_slice())
}

/// Whether every comma-separated element of every copy of `name` is one of `allowed`.
fn only(raw: &RawRequest, name: &str, allowed: &[&str]) -> bool {
    values(raw, name).all(|value| {
        value.split(|&b| b == b',').all(|element| {
            let element = String::from_utf8_lossy(element);
            let element = element.trim_matches(|c: char| c.is_ascii_whitespace());
            allowed
                .iter()
                .any(|coding| element.eq_ignore_ascii_case(coding))
        })
    })
}

fn is_json(value: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(value) else {
        return false;
    };
    let media = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json"
        || media == "text/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
}

fn reference(
    endpoint: Endpoint,
    path_secret: bool,
    limit: usize,
    raw: &RawRequest,
) -> Result<(), u16> {
    if !endpoint.default_methods().contains(&raw.method.as_str()) {
        return Err(405);
    }
    if !only(raw, "content-encoding", &["identity"])
        || !only(raw, "transfer-encoding", &["chunked", "identity"])
    {
        return Err(415);
    }
    if endpoint.requires_json() && !values(raw, "content-type").all(is_json) {
        return Err(415);
    }
    let too_long = values(raw, "content-length").any(|value| {
        std::str::from_utf8(value)
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .is_some_and(|length| length > limit as u64)
    });
    if too_long {
        return Err(413);
    }
    if head_credential(endpoint) {
        let verifier = hookbr_fuzz::verifier(endpoint, path_secret);
        if verifier.verify(&raw.request().with_body(&[])).is_err() {
            return Err(401);
        }
    }
    Ok(())
}
