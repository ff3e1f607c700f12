//! Encryption at rest of the inbox's bodies and headers ([`InboxKeys`]).
//!
//! A row written with keys configured keeps its body column as `nonce ‖ ciphertext ‖ tag`
//! (AES-256-GCM, ring): a random 96-bit nonce per row, the plaintext being the headers (JSON)
//! and the body, the associated data binding the key id, the row's delivery key and its
//! endpoint (so a ciphertext moved to another row does not open). Its `key_id` column names
//! the key; `none` marks a plaintext row written before encryption was enabled, the only rows
//! read as plaintext. The delivery key, endpoint, state and times stay in clear, queryable.
//!
//! Each key id also gets a check value in `hookbr_inbox_keys` (a constant sealed under the
//! key) the first time it is used, so a different key configured under a known id is refused
//! at start-up ([`check`](crate::SqliteInbox::check_keys)) instead of failing row by row.

// Only the SQLite and PostgreSQL inboxes seal rows: with neither feature the key type stays
// available to callers but nothing here is used.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use std::fmt;

use hookbr_core::{InboxRecord, InboxRow, StoreError};
use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom as _, SystemRandom},
};

/// The `key_id` of a row stored in clear (written before encryption was enabled).
pub const PLAINTEXT_KEY_ID: &str = "none";

/// The longest key id, in characters.
const MAX_ID_CHARS: usize = 32;

/// The constant sealed into `hookbr_inbox_keys` for each key id.
const CHECK_PLAINTEXT: &[u8] = b"hookbr inbox key check v1";

/// The AEAD tag's length (AES-256-GCM).
const TAG_LEN: usize = 16;

/// One key: its id and the AES-256-GCM key (never printed).
struct InboxKey {
    id: String,
    key: LessSafeKey,
}

/// The inbox's encryption keys: the first seals new rows, every one opens the rows stored
/// under its id (for rotation: configure the new key first and the old ones after it until
/// `hookbr inbox rekey` has moved every row to the new key).
pub struct InboxKeys {
    keys: Vec<InboxKey>,
    random: SystemRandom,
}

impl fmt::Debug for InboxKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxKeys")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Why keys or a stored row could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key id is empty, too long, `none`, or has characters other than ASCII letters,
    /// digits, `-` and `_`.
    #[error("invalid key id {0:?}: 1 to 32 of A-Z a-z 0-9 - _, and not \"none\"")]
    InvalidId(String),
    /// Two keys have the same id.
    #[error("key id {0:?} is given twice")]
    DuplicateId(String),
    /// No key was given.
    #[error("no encryption key given")]
    Empty,
    /// The key text is not 32 bytes in base64 or hex.
    #[error("key {0:?}: expected 32 random bytes in base64 (44 characters) or hex (64)")]
    InvalidKey(String),
}

/// Whether `id` is a valid key id ([`KeyError::InvalidId`]).
#[must_use]
pub fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id != PLAINTEXT_KEY_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Decodes a key given as base64 (standard alphabet, padded or not) or hex: exactly 32
/// bytes. `id` only names the key in the error.
///
/// # Errors
///
/// [`KeyError::InvalidKey`] for anything else.
pub fn decode_key(id: &str, text: &str) -> Result<[u8; 32], KeyError> {
    use base64::Engine as _;
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[i * 2..i * 2 + 2], 16))
            .collect::<Result<Vec<_>, _>>()
            .ok()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .ok()
    };
    bytes
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| KeyError::InvalidKey(id.to_owned()))
}

impl InboxKeys {
    /// The keys `(id, 32 bytes)`, the current one first.
    ///
    /// # Errors
    ///
    /// [`KeyError`] for no key, an invalid or repeated id.
    pub fn new(keys: Vec<(String, [u8; 32])>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut built: Vec<InboxKey> = Vec::with_capacity(keys.len());
        for (id, bytes) in keys {
            if !valid_key_id(&id) {
                return Err(KeyError::InvalidId(id));
            }
            if built.iter().any(|key| key.id == id) {
                return Err(KeyError::DuplicateId(id));
            }
            let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| KeyError::InvalidKey(id.clone()))?;
            built.push(InboxKey {
                id,
                key: LessSafeKey::new(unbound),
            });
        }
        Ok(Self {
            keys: built,
            random: SystemRandom::new(),
        })
    }

    /// The id of the key that seals new rows.
    #[must_use]
    pub fn current_id(&self) -> &str {
        self.keys
            .first()
            .map_or(PLAINTEXT_KEY_ID, |key| key.id.as_str())
    }

    /// Every configured id, the current one first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.id.as_str())
    }

    fn key(&self, id: &str) -> Option<&LessSafeKey> {
        self.keys
            .iter()
            .find(|key| key.id == id)
            .map(|key| &key.key)
    }

    fn seal_with(
        &self,
        key: &LessSafeKey,
        aad: &[u8],
        mut plaintext: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| StoreError::new("inbox encryption: no random nonce available"))?;
        plaintext.reserve(TAG_LEN);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut plaintext,
        )
        .map_err(|_| StoreError::new("inbox encryption: sealing failed"))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&plaintext);
        Ok(sealed)
    }

    /// Seals `record`'s headers and body under the current key: `(key id, body column,
    /// headers column)`.
    pub(crate) fn seal(&self, record: &InboxRecord) -> Result<(String, Vec<u8>), StoreError> {
        let id = self.current_id();
        let key = self
            .key(id)
            .ok_or_else(|| StoreError::new("inbox encryption: no key"))?;
        let headers = serde_json::to_vec(&record.headers).unwrap_or_else(|_| b"[]".to_vec());
        let mut plaintext = Vec::with_capacity(4 + headers.len() + record.body.len() + TAG_LEN);
        let headers_len = u32::try_from(headers.len())
            .map_err(|_| StoreError::new("inbox encryption: headers too long"))?;
        plaintext.extend_from_slice(&headers_len.to_be_bytes());
        plaintext.extend_from_slice(&headers);
        plaintext.extend_from_slice(&record.body);
        let sealed = self.seal_with(key, &row_aad(id, record), plaintext)?;
        Ok((id.to_owned(), sealed))
    }

    /// The check value of key `id` (a constant sealed under it), or `None` when `id` is not
    /// configured.
    pub(crate) fn check_value(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.key(id) {
            Some(key) => self
                .seal_with(key, &check_aad(id), CHECK_PLAINTEXT.to_vec())
                .map(Some),
            None => Ok(None),
        }
    }

    /// Whether the stored check value of `id` opens under the configured key `id`.
    pub(crate) fn check_matches(&self, id: &str, stored: &[u8]) -> bool {
        self.key(id).is_some_and(|key| {
            open_with(key, &check_aad(id), stored).as_deref() == Some(CHECK_PLAINTEXT)
        })
    }
}

fn check_aad(id: &str) -> Vec<u8> {
    let mut aad = b"hookbr-inbox-key-check\0".to_vec();
    aad.extend_from_slice(id.as_bytes());
    aad
}

/// The associated data of a row: the key id, the delivery key and the endpoint.
fn row_aad(id: &str, record: &InboxRecord) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64 + record.endpoint.len());
    aad.extend_from_slice(b"hookbr-inbox-v1\0");
    aad.extend_from_slice(id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(record.key.as_bytes().as_slice());
    aad.extend_from_slice(record.endpoint.as_bytes());
    aad
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut in_out = ciphertext.to_vec();
    let plaintext = key.open_in_place(nonce, Aad::from(aad), &mut in_out).ok()?;
    Some(plaintext.to_vec())
}

/// Opens `row` as read from a store whose `key_id` column said `key_id`: a plaintext row
/// (`none`) as it is, a sealed one with its key into its headers and body.
///
/// # Errors
///
/// [`StoreError`] naming the row and the key id when that key is not configured, or the
/// ciphertext does not open under it (tampered, or another key under the same id).
pub fn open_row(
    keys: Option<&InboxKeys>,
    mut row: InboxRow,
    key_id: &str,
) -> Result<InboxRow, StoreError> {
    if key_id == PLAINTEXT_KEY_ID {
        return Ok(row);
    }
    let Some(key) = keys.and_then(|keys| keys.key(key_id)) else {
        return Err(StoreError::new(format!(
            "inbox row {} is encrypted under key {key_id:?}, which is not configured \
             ([inbox] encryption_key / encryption_keys)",
            row.id
        )));
    };
    let refused = || {
        StoreError::new(format!(
            "inbox row {} does not decrypt under key {key_id:?}: the stored ciphertext was \
             altered, or that key id now names another key",
            row.id
        ))
    };
    let plaintext =
        open_with(key, &row_aad(key_id, &row.record), &row.record.body).ok_or_else(refused)?;
    let (len, rest) = plaintext.split_at_checked(4).ok_or_else(refused)?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let (headers, body) = rest.split_at_checked(len).ok_or_else(refused)?;
    row.record.headers = serde_json::from_slice(headers).map_err(|_| refused())?;
    row.record.body = body.to_vec();
    Ok(row)
}

/// [`open_row`] for a listing: a row that does not open comes back with an empty body and no
/// headers, and the reason (naming its key id) as its last error, so that one row cannot hide
/// the others from `hookbr inbox list`/`dead` and the inspector; [`open_row`] (`get`, the
/// worker's claim) refuses it instead.
pub(crate) fn open_listed(keys: Option<&InboxKeys>, row: InboxRow, key_id: &str) -> InboxRow {
    let mut blank = row.clone();
    match open_row(keys, row, key_id) {
        Ok(row) => row,
        Err(error) => {
            blank.record.body = Vec::new();
            blank.record.headers = Vec::new();
            blank.last_error = Some(error.to_string());
            blank
        }
    }
}

/// What a rekey pass did ([`SqliteInbox::rekey`](crate::SqliteInbox::rekey),
/// [`PostgresInbox::rekey`](crate::PostgresInbox::rekey)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rekeyed {
    /// Rows re-encrypted under the current key in this pass.
    pub rekeyed: u64,
    /// Rows that could not be opened (key not configured, or tampered): left as they are.
    pub failed: u64,
    /// The first failures' messages (at most 10).
    pub errors: Vec<String>,
    /// Whether rows not under the current key remain that this pass did not reach (call again
    /// to go on).
    pub more: bool,
}

/// The most failure messages a [`Rekeyed`] keeps.
pub(crate) const MAX_REKEY_ERRORS: usize = 10;

impl Rekeyed {
    pub(crate) fn failure(&mut self, error: &StoreError) {
        self.failed += 1;
        if self.errors.len() < MAX_REKEY_ERRORS {
            self.errors.push(error.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use hookbr_core::DedupKey;

    use super::*;

    fn record(body: &[u8]) -> InboxRecord {
        InboxRecord::new(
            "bonifiq".into(),
            "d1".into(),
            DedupKey::from_bytes([7; 16]),
            body.to_vec(),
            vec![("content-type".into(), "application/json".into())],
            "#0".into(),
            1,
        )
    }

    fn keys(ids: &[(&str, u8)]) -> InboxKeys {
        InboxKeys::new(
            ids.iter()
                .map(|(id, b)| ((*id).to_owned(), [*b; 32]))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn seals_and_opens_and_refuses_tampering() {
        let keys = keys(&[("k2", 2), ("k1", 1)]);
        let original = record(b"{\"Email\":\"ana@example.com\"}");
        let (id, sealed) = keys.seal(&original).unwrap();
        assert_eq!(id, "k2");
        assert!(!sealed.windows(5).any(|w| w == b"ana@e"));
        let mut stored = original.clone();
        stored.body = sealed.clone();
        stored.headers = Vec::new();
        let row = InboxRow::new(1, stored.clone());
        let opened = open_row(Some(&keys), row.clone(), &id).unwrap();
        assert_eq!(opened.record, original);
        // Tampered.
        let mut bad = row.clone();
        let last = bad.record.body.len() - 1;
        bad.record.body[last] ^= 1;
        let error = open_row(Some(&keys), bad, &id).unwrap_err().to_string();
        assert!(
            error.contains("does not decrypt under key \"k2\""),
            "{error}"
        );
        // Moved to another row (another delivery key).
        let mut moved = row.clone();
        moved.record.key = DedupKey::from_bytes([8; 16]);
        assert!(open_row(Some(&keys), moved, &id).is_err());
        // Not configured.
        let error = open_row(None, row, &id).unwrap_err().to_string();
        assert!(error.contains("not configured"), "{error}");
    }

    #[test]
    fn keys_decode_from_base64_and_hex() {
        assert_eq!(decode_key("k", &"ab".repeat(32)).unwrap(), [0xab; 32]);
        let b64 = "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=";
        assert_eq!(decode_key("k", b64).unwrap(), [0xab; 32]);
        assert!(decode_key("k", "short").is_err());
        assert!(InboxKeys::new(vec![("none".into(), [0; 32])]).is_err());
        assert!(InboxKeys::new(vec![("a".into(), [0; 32]), ("a".into(), [1; 32])]).is_err());
    }

    #[test]
    fn check_values_tell_a_different_key_apart() {
        let one = keys(&[("k1", 1)]);
        let other = keys(&[("k1", 9)]);
        let check = one.check_value("k1").unwrap().unwrap();
        assert!(one.check_matches("k1", &check));
        assert!(!other.check_matches("k1", &check));
    }
}
