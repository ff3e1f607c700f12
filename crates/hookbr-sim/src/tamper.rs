//! Forged deliveries: what `hookbr send --tamper` sends.

use hookbr_core::{
    Provider,
    iset::IsetKind,
    testkit::{forge_signature, random_uuid},
};

use crate::{
    json::{bump_digit, json_string, replace, string_at, value_span},
    outgoing::{Outgoing, identify},
};

/// How [`tamper`] spoils a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// Flip the signature (Grafeno) or the secret/token (others).
    Signature,
    /// Change the signed/identifying header (Grafeno `x-unique-key`; others: drop the secret
    /// header).
    Header,
    /// Change the body after signing.
    Body,
}

/// Spoils `outgoing` as `how` says.
///
/// | | signature | header | body |
/// |---|---|---|---|
/// | BonifiQ | wrong secret | secret header removed | a payload digit changed (not detectable: BonifiQ does not sign bodies) |
/// | Foody | wrong token | `token` removed | a digit of `updateDate` changed (not detectable: the token is not a signature) |
/// | iSET | wrong URL secret | URL secret removed | a digit of the body changed (not detectable) |
/// | Grafeno | one signature bit flipped | another `x-unique-key` | `change` no longer matches the header (hookbr: 401) |
///
/// `delivery_id` is updated when the change moves it.
pub fn tamper(outgoing: &mut Outgoing, how: Tamper) {
    const UNIQUE_KEY: &str = hookbr_core::grafeno::UNIQUE_KEY_HEADER;
    let text = String::from_utf8_lossy(&outgoing.wire.body).into_owned();
    match (outgoing.provider, how) {
        (Provider::Grafeno, Tamper::Signature) => {
            if let Some(span) = value_span(&text, &["signature"]) {
                let flipped = string_at(&text, &["signature"])
                    .and_then(|signature| forge_signature(&signature));
                if let Some(flipped) = flipped {
                    outgoing.wire.body = replace(&text, span, &json_string(&flipped)).into_bytes();
                }
            }
        }
        (Provider::Grafeno, Tamper::Header) => {
            let change = outgoing
                .wire
                .header(UNIQUE_KEY)
                .and_then(hookbr_core::grafeno::split_unique_key)
                .map(|(_, change)| change.to_owned());
            if let Some(change) = change {
                let key = format!("{}-{change}", random_uuid());
                outgoing.wire.set_header(UNIQUE_KEY, &key);
            }
        }
        (Provider::Grafeno, Tamper::Body) => {
            if let Some(span) = value_span(&text, &["change"]) {
                let current = string_at(&text, &["change"]).unwrap_or_default();
                let other = if current == "rejected" {
                    "approved"
                } else {
                    "rejected"
                };
                outgoing.wire.body = replace(&text, span, &json_string(other)).into_bytes();
            }
        }
        (Provider::Foody, Tamper::Signature) => {
            if let Some(span) = value_span(&text, &["token"]) {
                let token = string_at(&text, &["token"]).unwrap_or_default();
                let forged = json_string(&format!("{token}-forged"));
                outgoing.wire.body = replace(&text, span, &forged).into_bytes();
            }
        }
        (Provider::Foody, Tamper::Header) => {
            if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&text) {
                if let Some(object) = value.as_object_mut() {
                    object.remove("token");
                    outgoing.wire.body = value.to_string().into_bytes();
                }
            }
        }
        (Provider::Bonifiq | Provider::Iset, Tamper::Signature) => {
            for (name, value) in &mut outgoing.wire.headers {
                if !name.eq_ignore_ascii_case("content-type") {
                    value.push_str("-forged");
                }
            }
            let mut query = outgoing.query();
            for (_, value) in &mut query {
                value.push_str("-forged");
            }
            outgoing.set_query(&query);
        }
        (Provider::Bonifiq | Provider::Iset, Tamper::Header) => {
            outgoing
                .wire
                .headers
                .retain(|(name, _)| name.eq_ignore_ascii_case("content-type"));
            outgoing.set_query(&[]);
        }
        (provider, Tamper::Body) => {
            let span = match provider {
                Provider::Bonifiq => value_span(&text, &["Payload"]),
                Provider::Foody => value_span(&text, &["updateDate"]),
                _ => None,
            }
            .unwrap_or(0..text.len());
            outgoing.wire.body = bump_digit(&text, span).into_bytes();
        }
        _ => {}
    }
    let iset_kind = outgoing.kind.parse::<IsetKind>().ok();
    if let Ok((_, id)) = identify(outgoing, iset_kind) {
        outgoing.delivery_id = id;
    }
}
