//! Template bodies (`hookbr send --file`): kept byte for byte except for the ids refreshed on
//! every build, as each provider's dedup needs.

use hookbr_core::{
    Provider,
    iset::IsetKind,
    testkit::{ISET_ID_FIELDS, random_uuid},
};
use serde_json::value::RawValue;

use crate::{
    Error,
    json::{json_string, refresh_string, replace, string_at, value_span},
    outgoing::Draft,
    random::random_number,
};

const JSON: &str = "application/json";

/// The body of a template file with fresh ids (see [`crate::build`]).
pub(crate) fn from_template(
    provider: Provider,
    kind: Option<&str>,
    bytes: &[u8],
) -> Result<Draft, Error> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::new("the file is not UTF-8 text"))?
        .to_owned();
    if kind.is_some() && provider != Provider::Iset {
        return Err(Error::new(format!(
            "--kind and --file together only apply to iset (a {provider} file carries its own \
             kind)"
        )));
    }
    let iset_kind = match (provider, kind) {
        (Provider::Iset, Some(kind)) => Some(iset_kind(kind)?),
        _ => None,
    };
    refresh(provider, iset_kind, text)
}

/// The iSET kind named `kind` (`--kind`).
pub(crate) fn iset_kind(kind: &str) -> Result<IsetKind, Error> {
    kind.parse::<IsetKind>().map_err(|_| {
        let names = IsetKind::ALL.map(IsetKind::as_str);
        Error::unknown_kind(Provider::Iset, kind, &names)
    })
}

/// `text` with fresh ids: BonifiQ `Uuid`, Foody `uid`, iSET's entity id, Grafeno's `data.id` /
/// `data.uuid` (everywhere it occurs) and a fresh `x-unique-key` to sign. `iset_kind` is the
/// kind an iSET body is for (default `order_upserted`).
pub(crate) fn refresh(
    provider: Provider,
    iset_kind: Option<IsetKind>,
    text: String,
) -> Result<Draft, Error> {
    let json = |body: String| Draft {
        body,
        content_type: JSON,
        iset_kind: None,
        unique_key: None,
    };
    match provider {
        Provider::Bonifiq => Ok(json(refresh_string(&text, &["Uuid"], &random_uuid()))),
        Provider::Foody => Ok(json(refresh_string(&text, &["uid"], &random_uuid()))),
        Provider::Iset => {
            let is_json = serde_json::from_str::<&RawValue>(&text).is_ok();
            let (body, content_type) = if is_json {
                (refresh_iset_json(&text), JSON)
            } else {
                (
                    refresh_iset_form(&text),
                    "application/x-www-form-urlencoded",
                )
            };
            Ok(Draft {
                body,
                content_type,
                iset_kind: Some(iset_kind.unwrap_or(IsetKind::OrderUpserted)),
                unique_key: None,
            })
        }
        Provider::Grafeno => {
            let change = string_at(&text, &["change"])
                .filter(|change| !change.is_empty())
                .ok_or_else(|| {
                    Error::new("the file is not a grafeno delivery: no string \"change\"")
                })?;
            let mut text = text;
            for field in ["id", "uuid"] {
                let old = string_at(&text, &["data", field]).filter(|old| old.len() >= 8);
                if let Some(old) = old {
                    text = text.replace(&old, &random_uuid());
                }
            }
            Ok(Draft {
                unique_key: Some(format!("{}-{change}", random_uuid())),
                ..json(text)
            })
        }
        other => Err(Error::new(format!("no samples for {other}"))),
    }
}

fn refresh_iset_json(text: &str) -> String {
    let mut text = text.to_owned();
    for path in ISET_ID_FIELDS
        .iter()
        .flat_map(|field| [vec![*field], vec!["data", *field]])
    {
        if let Some(span) = value_span(&text, &path) {
            let raw = text.get(span.clone()).unwrap_or_default();
            let fresh = random_number(1_000, 99_999_999).to_string();
            let new = if raw.starts_with('"') {
                json_string(&fresh)
            } else if raw.starts_with(|c: char| c.is_ascii_digit()) {
                fresh
            } else {
                continue;
            };
            text = replace(&text, span, &new);
        }
    }
    text
}

fn refresh_iset_form(text: &str) -> String {
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if ISET_ID_FIELDS.contains(&name) && !value.is_empty() => {
                format!("{name}={}", random_number(1_000, 99_999_999))
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}
