//! `[inbox] encryption_key` / `encryption_keys`: the inbox's encryption keys, by reference.
//!
//! An entry is `ID:REF` or `REF`, `REF` being `env:NAME` or `file:PATH` (never the key
//! itself) and `ID` the key id stored with each row (`k1` when omitted). The key is 32 random
//! bytes in base64 or hex (`hookbr keygen --inbox-key`, or `openssl rand -base64 32`). The
//! first entry seals new rows; the others only open rows stored under them (rotation).
//! References are resolved when the inbox is opened, not when the file is read, so a missing
//! or malformed key is a run-time failure (exit 1) naming its id.

use std::{path::Path, sync::Arc};

use hookbr_store::{
    InboxKeys,
    crypt::{decode_key, valid_key_id},
};

use super::{
    raw::RawInbox,
    reference::{is_reference, rebase_file, resolve_value},
    value::problem,
};
use crate::Error;

/// The key id of an entry given without one.
pub const DEFAULT_KEY_ID: &str = "k1";

/// One configured inbox encryption key: its id and where its value is (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboxKeyRef {
    /// The key id stored with each row sealed under it.
    pub id: String,
    /// `env:NAME` or `file:PATH` (a relative path already made relative to the configuration).
    pub reference: String,
}

/// Parses one entry (see the module docs).
fn parse_entry(key: &str, text: &str, base: &Path) -> Result<InboxKeyRef, String> {
    let (id, reference) = if is_reference(text) {
        (DEFAULT_KEY_ID, text)
    } else {
        match text.split_once(':') {
            Some((id, reference)) if is_reference(reference) => (id, reference),
            _ => {
                return Err(problem(
                    key,
                    "expected \"env:NAME\", \"file:PATH\" or \"ID:env:NAME\" (keys are given by \
                     reference, never inline)",
                ));
            }
        }
    };
    if !valid_key_id(id) {
        return Err(problem(
            key,
            format!("key id {id:?}: 1 to 32 of A-Z a-z 0-9 - _, and not \"none\""),
        ));
    }
    Ok(InboxKeyRef {
        id: id.to_owned(),
        reference: rebase_file(reference, base),
    })
}

/// The configured keys, the current one first (empty: no encryption).
pub(super) fn parse_keys(raw: &RawInbox, base: &Path) -> Result<Vec<InboxKeyRef>, String> {
    let entries: Vec<(String, &str)> = match (&raw.encryption_key, &raw.encryption_keys) {
        (Some(_), Some(_)) => {
            return Err(problem(
                "inbox.encryption_keys",
                "give either encryption_key or encryption_keys, not both",
            ));
        }
        (Some(one), None) => vec![("inbox.encryption_key".to_owned(), one.as_str())],
        (None, Some(list)) => list
            .iter()
            .enumerate()
            .map(|(i, entry)| (format!("inbox.encryption_keys[{i}]"), entry.as_str()))
            .collect(),
        (None, None) => Vec::new(),
    };
    if raw.encryption_keys.as_ref().is_some_and(Vec::is_empty) {
        return Err(problem(
            "inbox.encryption_keys",
            "is empty: remove it to store rows in clear",
        ));
    }
    let mut keys: Vec<InboxKeyRef> = Vec::with_capacity(entries.len());
    for (key, text) in entries {
        let entry = parse_entry(&key, text, base)?;
        if keys.iter().any(|known| known.id == entry.id) {
            return Err(problem(
                &key,
                format!(
                    "key id {:?} is given twice (write \"ID:env:NAME\")",
                    entry.id
                ),
            ));
        }
        keys.push(entry);
    }
    Ok(keys)
}

/// Resolves the references and builds the keys; `None` without keys.
///
/// # Errors
///
/// [`Error::Runtime`] naming the key id and its reference when the variable or file is
/// missing or does not hold 32 bytes in base64 or hex.
pub fn resolve_keys(keys: &[InboxKeyRef]) -> Result<Option<Arc<InboxKeys>>, Error> {
    if keys.is_empty() {
        return Ok(None);
    }
    let mut resolved = Vec::with_capacity(keys.len());
    for key in keys {
        let failed = |message: &dyn std::fmt::Display| {
            Error::runtime(format!(
                "inbox encryption key {:?} ({}): {message}",
                key.id, key.reference
            ))
        };
        let text = resolve_value(&key.reference).map_err(|message| failed(&message))?;
        let bytes = decode_key(&key.id, &text).map_err(|_| {
            failed(&"expected 32 random bytes in base64 (44 characters) or hex (64)")
        })?;
        resolved.push((key.id.clone(), bytes));
    }
    InboxKeys::new(resolved)
        .map(|keys| Some(Arc::new(keys)))
        .map_err(|error| Error::runtime(format!("inbox encryption keys: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(key: Option<&str>, keys: Option<&[&str]>) -> RawInbox {
        RawInbox {
            encryption_key: key.map(str::to_owned),
            encryption_keys: keys.map(|keys| keys.iter().map(|k| (*k).to_owned()).collect()),
            ..RawInbox::default()
        }
    }

    #[test]
    fn entries_take_an_optional_id_and_references_only() {
        let base = Path::new("/etc/hookbr");
        assert_eq!(parse_keys(&raw(None, None), base), Ok(Vec::new()));
        let one = parse_keys(&raw(Some("env:K"), None), base).unwrap();
        assert_eq!(
            (one[0].id.as_str(), one[0].reference.as_str()),
            ("k1", "env:K")
        );
        let two = parse_keys(&raw(None, Some(&["k2:env:NEW", "k1:file:old.key"])), base).unwrap();
        assert_eq!(two[0].id, "k2");
        assert_eq!(two[1].reference, "file:/etc/hookbr/old.key");
        for (key, keys, needle) in [
            (Some("env:A"), Some(&["env:B"][..]), "not both"),
            (None, Some(&[][..]), "is empty"),
            (None, Some(&["env:A", "env:B"][..]), "given twice"),
            (
                Some("q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="),
                None,
                "never inline",
            ),
            (Some("none:env:A"), None, "key id \"none\""),
            (Some("bad id:env:A"), None, "key id"),
        ] {
            let error = parse_keys(&raw(key, keys), base).unwrap_err();
            assert!(error.contains(needle), "{error}");
            assert!(!error.contains("q6ur"), "{error}");
        }
    }

    #[test]
    fn resolution_names_the_key_id_never_the_value() {
        let keys = [InboxKeyRef {
            id: "k7".into(),
            reference: "env:HOOKBR_TEST_UNSET_INBOX_KEY".into(),
        }];
        let error = resolve_keys(&keys).unwrap_err().to_string();
        assert!(
            error.contains("\"k7\"") && error.contains("not set"),
            "{error}"
        );
        assert!(resolve_keys(&[]).unwrap().is_none());
    }
}
