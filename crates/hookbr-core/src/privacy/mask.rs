//! Masking: of one value by its class, of free text by the detectors, of a whole body.

use std::fmt;

use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{MapAccess, SeqAccess, Visitor},
    ser::{SerializeMap, SerializeSeq},
};

use super::{
    DataClass,
    detect::{self, Found},
    map::{MAP, class_of_key},
};
use crate::Provider;

/// The largest body [`mask_body`] masks, in bytes (2 MiB, twice the default body limit); a
/// larger one is replaced by a one-line notice.
pub const MAX_MASKED_BODY: usize = 2 * 1024 * 1024;

/// How deep [`mask_body`] walks JSON; deeper values are replaced by
/// `"[masked: nested too deep]"`.
pub const MAX_MASK_DEPTH: usize = 64;

/// The most form fields [`mask_body`] reads as a form (as iSET's decoder); a longer form is
/// masked as text.
const MAX_FORM_FIELDS: usize = 1000;

const TOO_DEEP: &str = "[masked: nested too deep]";

/// Masks one value known to hold `class` (see [`DataClass`] for what each looks like). Empty
/// values stay empty.
///
/// ```
/// use hookbr_core::privacy::{DataClass, mask_as};
///
/// assert_eq!(mask_as(DataClass::Document, "529.982.247-25"), "***.982.247-**");
/// assert_eq!(mask_as(DataClass::Email, "joao@example.com"), "j***@e***.com");
/// assert_eq!(mask_as(DataClass::Phone, "11987198778"), "*******8778");
/// assert_eq!(mask_as(DataClass::Name, "Teste Nivel Base"), "T. N. B.");
/// assert_eq!(mask_as(DataClass::BirthDate, "2024-08-30T14:34:32"), "2024-**-**T**:**:**");
/// ```
#[must_use]
pub fn mask_as(class: DataClass, value: &str) -> String {
    if value.trim().is_empty() {
        return value.to_owned();
    }
    match class {
        DataClass::Email => {
            if detect::is_email(value) {
                mask_email(value.trim())
            } else {
                mask_all_but(value, 1, 0)
            }
        }
        DataClass::Name => initials(value),
        DataClass::Phone => {
            let digits = value.chars().filter(char::is_ascii_digit).count();
            let keep = if digits >= 8 { 4 } else { 2 };
            mask_digits(value, |index| index + keep >= digits)
        }
        DataClass::Document => match detect::classify_number(value.trim()) {
            Some(found @ (Found::Cpf | Found::Cnpj)) => mask_found(found, value),
            _ => mask_all_but(value, 0, 2),
        },
        DataClass::BirthDate => keep_year(value),
        DataClass::Address | DataClass::FreeText => {
            format!("[masked text, {} characters]", value.chars().count())
        }
        DataClass::Secret => "[redacted]".to_owned(),
    }
}

/// Masks the CPFs, CNPJs, e-mail addresses and Brazilian phone numbers found anywhere in
/// `text`, leaving everything else as is. Linear in the length of `text`.
///
/// ```
/// use hookbr_core::privacy::mask_text;
///
/// assert_eq!(
///     mask_text("cliente joao@example.com, CPF 529.982.247-25, fone (11) 98719-8778"),
///     "cliente j***@e***.com, CPF ***.982.247-**, fone (**) *****-8778"
/// );
/// assert_eq!(mask_text("pedido 1234 pago em 2024-05-10 14:32:10"), "pedido 1234 pago em 2024-05-10 14:32:10");
/// ```
#[must_use]
pub fn mask_text(text: &str) -> String {
    mask_numbers(&mask_emails(text))
}

/// Masks every e-mail address in `text`.
fn mask_emails(text: &str) -> String {
    replace_emails(text, &mut mask_email)
}

/// Masks every CPF, CNPJ and phone number in `text`.
fn mask_numbers(text: &str) -> String {
    replace_numbers(text, &mut mask_found)
}

/// Masks a delivery body for display: a JSON body keeps its shape (key order, arrays,
/// indentation style) with the mapped fields of `provider`/`kind` masked by their class, keys
/// that name personal data (`email`, `cpf`, `telefone`, `cliente_nome`, ... see
/// docs/PRIVACY.md) masked by theirs, and every other string passed through [`mask_text`]. A
/// form body (`a=1&b=2`, iSET) is masked field by field the same way; any other text through
/// [`mask_text`]. `kind` is the event kind as
/// [`WebhookEvent::kind`](crate::WebhookEvent::kind) gives it (`custom` for BonifiQ custom
/// bodies, which the map does not apply to).
///
/// Never fails and never panics: a body over [`MAX_MASKED_BODY`] or not UTF-8 becomes a
/// one-line notice, JSON deeper than [`MAX_MASK_DEPTH`] is cut there.
///
/// ```
/// use hookbr_core::{Provider, privacy::mask_body};
///
/// let body = br#"{"Uuid":"4834c95e-84f7-485e-90de-09353df57fd3","Timestamp":"2024-03-01T13:16:11.396371",
/// "Topic":0,"TopicName":"Point_Add","Payload":{"Points":200,"Customer":{"Email":"teste@bonifiq.com.br",
/// "Id":"152740926","Name":"Teste Nivel Base"},"PointId":4740}}"#;
/// let masked: serde_json::Value = serde_json::from_slice(&mask_body(Provider::Bonifiq, "Point_Add", body))?;
/// let customer = &masked["Payload"]["Customer"];
/// assert_eq!(customer["Email"], "t***@b***.com.br");
/// assert_eq!(customer["Name"], "T. N. B.");
/// assert_eq!(customer["Id"], "152740926");
/// assert_eq!(masked["Payload"]["PointId"], 4740);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[must_use]
pub fn mask_body(provider: Provider, kind: &str, body: &[u8]) -> Vec<u8> {
    if body.len() > MAX_MASKED_BODY {
        return format!(
            "[body of {} bytes not shown: over the masking limit]",
            body.len()
        )
        .into_bytes();
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let Ok(text) = std::str::from_utf8(body) else {
        return format!("[body of {} bytes not shown: not UTF-8]", body.len()).into_bytes();
    };
    if let Ok(mut node) = serde_json::from_str::<Node>(text) {
        let paths = mapped_paths(provider, kind, |_| true);
        let mut path = Vec::new();
        walk(&mut node, &paths, &mut path, None, 0, true);
        return reserialize(&node, text);
    }
    if let Some(form) = mask_form(text) {
        return form.into_bytes();
    }
    mask_text(text).into_bytes()
}

/// Masks only the mapped fields of `provider`/`kind` (see
/// [`personal_fields`](super::personal_fields)) whose path is one of `only` (as the map writes
/// it: `Payload.Customer.Email`), each by its class; nothing else changes (no key rules, no
/// detectors). For a sink that must not receive a few fields: a JSON body keeps its shape as
/// with [`mask_body`]; a body that is not JSON (or over [`MAX_MASKED_BODY`]) is returned as
/// it is, since the map only describes JSON.
///
/// ```
/// use hookbr_core::{Provider, privacy::mask_fields};
///
/// let body = br#"{"Payload":{"Customer":{"Email":"joao@example.com","Name":"Joao Silva"}}}"#;
/// let masked = mask_fields(Provider::Bonifiq, "Point_Add", body, &["Payload.Customer.Email"]);
/// assert_eq!(
///     masked,
///     br#"{"Payload":{"Customer":{"Email":"j***@e***.com","Name":"Joao Silva"}}}"#
/// );
/// ```
#[must_use]
pub fn mask_fields(provider: Provider, kind: &str, body: &[u8], only: &[&str]) -> Vec<u8> {
    let paths = mapped_paths(provider, kind, |path| only.contains(&path));
    if paths.is_empty() || body.len() > MAX_MASKED_BODY {
        return body.to_vec();
    }
    let trimmed = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let Ok(text) = std::str::from_utf8(trimmed) else {
        return body.to_vec();
    };
    match serde_json::from_str::<Node>(text) {
        Ok(mut node) => {
            let mut path = Vec::new();
            walk(&mut node, &paths, &mut path, None, 0, false);
            reserialize(&node, text)
        }
        Err(_) => body.to_vec(),
    }
}

/// The map's paths of `provider`/`kind` that `keep` accepts, split.
fn mapped_paths(
    provider: Provider,
    kind: &str,
    keep: impl Fn(&str) -> bool,
) -> Vec<(Vec<&'static str>, DataClass)> {
    MAP.iter()
        .filter(|field| field.provider == provider)
        .filter(|field| {
            if field.kinds.is_empty() {
                kind != "custom"
            } else {
                field.kinds.contains(&kind)
            }
        })
        .filter(|field| keep(field.path))
        .map(|field| (split_path(field.path), field.class))
        .collect()
}

/// `node` written back in the layout of `text` (indented when it was).
fn reserialize(node: &Node, text: &str) -> Vec<u8> {
    let pretty = text.trim().contains('\n');
    let out = if pretty {
        serde_json::to_vec_pretty(node)
    } else {
        serde_json::to_vec(node)
    };
    out.unwrap_or_else(|_| b"[body not shown: cannot serialize]".to_vec())
}

/// `Payload.Customer.Email` → `["Payload", "Customer", "Email"]`; `a.b[].c` → `["a", "b", "[]",
/// "c"]`.
fn split_path(path: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    for segment in path.split('.') {
        match segment.strip_suffix("[]") {
            Some(key) => {
                parts.push(key);
                parts.push("[]");
            }
            None => parts.push(segment),
        }
    }
    parts
}

/// Masks `node` at `path`: the mapped `paths` by their class; with `full`, also what key rules
/// and detectors find ([`mask_body`]), else nothing more ([`mask_fields`]).
fn walk(
    node: &mut Node,
    paths: &[(Vec<&str>, DataClass)],
    path: &mut Vec<String>,
    inherited: Option<DataClass>,
    depth: usize,
    full: bool,
) {
    if depth > MAX_MASK_DEPTH {
        // The map's paths are shallow: only the display cuts what it does not walk.
        if full {
            *node = Node::String(TOO_DEEP.to_owned());
        }
        return;
    }
    let mapped = paths
        .iter()
        .find(|(mapped, _)| {
            mapped.len() == path.len() && mapped.iter().zip(path.iter()).all(|(a, b)| a == b)
        })
        .map(|(_, class)| *class);
    let class = mapped.or(inherited);
    match node {
        Node::Object(entries) => {
            for (key, value) in entries {
                path.push(key.clone());
                let by_key = if full { class_of_key(key) } else { None };
                walk(value, paths, path, by_key.or(class), depth + 1, full);
                path.pop();
                // A custom template can use a value as a key.
                if full && (key.contains('@') || key.bytes().any(|b| b.is_ascii_digit())) {
                    *key = mask_text(key);
                }
            }
        }
        Node::Array(items) => {
            for item in items {
                path.push("[]".to_owned());
                walk(item, paths, path, class, depth + 1, full);
                path.pop();
            }
        }
        Node::String(text) => {
            *text = match class {
                Some(class) => mask_as(class, text),
                None if full => mask_text(text),
                None => return,
            };
        }
        Node::Number(number) => {
            if let Some(class) = class {
                *node = Node::String(mask_as(class, &number.to_string()));
            }
        }
        Node::Bool(_) | Node::Null => {}
    }
}

/// A form body masked field by field, or `None` when `text` is not a well-formed form.
fn mask_form(text: &str) -> Option<String> {
    let text = text.trim_end_matches(['\r', '\n']);
    if text.is_empty() || text.chars().any(char::is_whitespace) || text.starts_with('{') {
        return None;
    }
    let mut fields = 0_usize;
    for pair in text.split('&') {
        if pair.is_empty() || pair.starts_with('=') || !pair.contains('=') {
            return None;
        }
        fields += 1;
        if fields > MAX_FORM_FIELDS {
            return None;
        }
    }
    let mut out = form_urlencoded::Serializer::new(String::with_capacity(text.len()));
    for (key, value) in form_urlencoded::parse(text.as_bytes()) {
        let masked = match class_of_key(&key) {
            Some(class) => mask_as(class, &value),
            None => mask_text(&value),
        };
        out.append_pair(&key, &masked);
    }
    Some(out.finish())
}

fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.split_once('@') else {
        return mask_all_but(email, 1, 0);
    };
    let labels: Vec<&str> = domain.split('.').collect();
    // Keep the public suffix when it is short and country-coded (`.com.br`), else the last
    // label only.
    let keep = match labels.as_slice() {
        [.., second, last] if labels.len() > 2 && last.len() == 2 && second.len() <= 3 => 2,
        _ => 1,
    };
    let suffix = labels
        .get(labels.len().saturating_sub(keep)..)
        .unwrap_or_default()
        .join(".");
    let first = |part: &str| part.chars().next().map(String::from).unwrap_or_default();
    format!("{}***@{}***.{suffix}", first(local), first(domain))
}

fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .map(|c| format!("{}.", c.to_uppercase()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every letter and digit replaced by `*`, except the first `head` and the last `tail` of
/// them.
fn mask_all_but(value: &str, head: usize, tail: usize) -> String {
    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
    let mut seen = 0_usize;
    value
        .chars()
        .map(|c| {
            if !c.is_alphanumeric() {
                return c;
            }
            let index = seen;
            seen += 1;
            if index < head || index + tail >= total && total > head + tail {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// Every ASCII digit replaced by `*` unless `keep(index among digits)`.
fn mask_digits(value: &str, keep: impl Fn(usize) -> bool) -> String {
    let mut index = 0_usize;
    value
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return c;
            }
            let this = index;
            index += 1;
            if keep(this) { c } else { '*' }
        })
        .collect()
}

fn mask_found(found: Found, value: &str) -> String {
    match found {
        // Eleven bare digits can be both a valid CPF and a mobile number (`11987198778` is):
        // keep only what both masks keep.
        Found::Cpf if detect::is_br_phone(value.trim()) => {
            mask_digits(value, |index| (7..9).contains(&index))
        }
        // ***.456.789-**: the first three and the check digits go.
        Found::Cpf => mask_digits(value, |index| (3..9).contains(&index)),
        // **.345.678/****-**: the first two, the branch and the check digits go.
        Found::Cnpj => mask_digits(value, |index| (2..8).contains(&index)),
        Found::Phone => {
            let digits = value.chars().filter(char::is_ascii_digit).count();
            mask_digits(value, |index| index + 4 >= digits)
        }
    }
}

/// The first group of four digits (the year) kept, every other digit masked.
fn keep_year(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut kept = false;
    let mut chars = value.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if !c.is_ascii_digit() {
            out.push(c);
            continue;
        }
        let mut end = start + 1;
        while let Some(&(at, next)) = chars.peek() {
            if !next.is_ascii_digit() {
                break;
            }
            end = at + 1;
            chars.next();
        }
        let group = value.get(start..end).unwrap_or_default();
        if !kept && group.len() == 4 {
            kept = true;
            out.push_str(group);
        } else {
            out.extend(std::iter::repeat_n('*', group.len()));
        }
    }
    out
}

/// `text` with every e-mail address found replaced by `replace(address)`.
pub(crate) fn replace_emails(text: &str, replace: &mut dyn FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0_usize;
    find_emails(text, &mut |start, end| {
        out.push_str(text.get(copied..start).unwrap_or_default());
        out.push_str(&replace(text.get(start..end).unwrap_or_default()));
        copied = end;
    });
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

/// The byte range of every e-mail address in `text`, in order and apart (what
/// [`replace_emails`] replaces; the subject index reads them without building a text).
pub(crate) fn find_emails(text: &str, found: &mut dyn FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    // The end of the last address found: the next one starts after it.
    let mut copied = 0_usize;
    let mut from = 0_usize;
    while let Some(offset) = text.get(from..).and_then(|rest| rest.find('@')) {
        let at = from + offset;
        let local_ok = |index: usize| {
            bytes
                .get(index)
                .is_some_and(|&b| detect::email_local_char(char::from(b)))
        };
        let domain_ok = |index: usize| {
            bytes
                .get(index)
                .is_some_and(|&b| detect::email_domain_char(char::from(b)))
        };
        let mut start = at;
        while start > copied && at - start < 64 && local_ok(start - 1) {
            start -= 1;
        }
        while start < at && bytes.get(start) == Some(&b'.') {
            start += 1;
        }
        let mut end = at + 1;
        while end - at <= 255 && domain_ok(end) {
            end += 1;
        }
        while end > at + 1 && matches!(bytes.get(end - 1), Some(b'.' | b'-')) {
            end -= 1;
        }
        // `joao@example.com.Obrigado`: drop trailing labels until the address is valid.
        let mut tries = 0;
        while tries < 8 && end > at + 1 && !text.get(start..end).is_some_and(detect::is_email) {
            match text.get(at + 1..end).and_then(|domain| domain.rfind('.')) {
                Some(dot) => end = at + 1 + dot,
                None => break,
            }
            tries += 1;
        }
        match text.get(start..end) {
            Some(candidate) if detect::is_email(candidate) => {
                found(start, end);
                copied = end;
                from = end;
            }
            _ => from = at + 1,
        }
    }
}

fn run_byte(b: u8) -> bool {
    b.is_ascii_digit() || b" .-()/+".contains(&b)
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` with every CPF, CNPJ and phone number found replaced by `replace(what, found)`: runs
/// of digits and separators are split at spaces into pieces, and windows of up to five pieces
/// (longest first) are classified.
pub(crate) fn replace_numbers(
    text: &str,
    replace: &mut dyn FnMut(Found, &str) -> String,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0_usize;
    find_numbers(text, &mut |what, from, to| {
        out.push_str(text.get(copied..from).unwrap_or_default());
        out.push_str(&replace(what, text.get(from..to).unwrap_or_default()));
        copied = to;
    });
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

/// The byte range of every CPF, CNPJ and phone number in `text`, in order and apart, and what
/// each is (what [`replace_numbers`] replaces).
pub(crate) fn find_numbers(text: &str, found: &mut dyn FnMut(Found, usize, usize)) {
    let bytes = text.as_bytes();
    if !bytes.iter().any(u8::is_ascii_digit) {
        return;
    }
    // Pieces: (start, end) byte ranges of a run split at spaces; one buffer for every run.
    let mut pieces = Vec::new();
    let mut index = 0_usize;
    while index < bytes.len() {
        let starts = bytes
            .get(index)
            .is_some_and(|&b| b.is_ascii_digit() || b == b'+' || b == b'(');
        if !starts {
            index += 1;
            continue;
        }
        let mut end = index;
        while bytes.get(end).is_some_and(|&b| run_byte(b)) {
            end += 1;
        }
        // Trailing separators are punctuation of the text around (`CPF 529.982.247-25.`).
        while end > index + 1
            && matches!(
                bytes.get(end - 1),
                Some(b' ' | b'.' | b'-' | b'/' | b'(' | b'+')
            )
        {
            end -= 1;
        }
        let left_ok = !text
            .get(..index)
            .and_then(|before| before.chars().next_back())
            .is_some_and(word_char);
        let right_ok = !text
            .get(end..)
            .and_then(|after| after.chars().next())
            .is_some_and(word_char);
        pieces.clear();
        let mut piece_start = None;
        for at in index..=end {
            let space = at == end || bytes.get(at) == Some(&b' ');
            match (space, piece_start) {
                (true, Some(start)) => {
                    pieces.push((start, at));
                    piece_start = None;
                }
                (false, None) => piece_start = Some(at),
                _ => {}
            }
        }
        let mut piece = 0_usize;
        while piece < pieces.len() {
            let mut matched = None;
            let last = (piece + 5).min(pieces.len());
            for upto in (piece + 1..=last).rev() {
                if piece == 0 && !left_ok || upto == pieces.len() && !right_ok {
                    continue;
                }
                let (Some(&(start, _)), Some(&(_, stop))) =
                    (pieces.get(piece), pieces.get(upto - 1))
                else {
                    continue;
                };
                if let Some((from, to, found)) = classify_window(text, start, stop) {
                    matched = Some((from, to, found, upto));
                    break;
                }
            }
            match matched {
                Some((from, to, what, upto)) => {
                    found(what, from, to);
                    piece = upto;
                }
                None => piece += 1,
            }
        }
        index = end.max(index + 1);
    }
}

/// Classifies `text[start..stop]` as is (minus trailing `.`/`-`/`,`), then with surrounding
/// punctuation trimmed: the byte range that matched and what it is.
fn classify_window(text: &str, start: usize, stop: usize) -> Option<(usize, usize, Found)> {
    let window = text.get(start..stop)?;
    let trimmed = window.trim_end_matches(['.', '-', '/', '(']);
    if let Some(found) = detect::classify_number(trimmed) {
        return Some((start, start + trimmed.len(), found));
    }
    let inner = window.trim_matches(['(', ')', '.', '-', '/', '+']);
    let offset = window.find(inner)?;
    detect::classify_number(inner)
        .map(|found| (start + offset, start + offset + inner.len(), found))
}

/// A JSON value that keeps its object keys in order (and duplicates), so a masked body reads
/// like the received one.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;

        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }

            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }

            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }

            fn visit_bool<E>(self, value: bool) -> Result<Node, E> {
                Ok(Node::Bool(value))
            }

            fn visit_u64<E>(self, value: u64) -> Result<Node, E> {
                Ok(Node::Number(value.into()))
            }

            fn visit_i64<E>(self, value: i64) -> Result<Node, E> {
                Ok(Node::Number(value.into()))
            }

            fn visit_f64<E>(self, value: f64) -> Result<Node, E> {
                Ok(serde_json::Number::from_f64(value).map_or(Node::Null, Node::Number))
            }

            fn visit_str<E>(self, value: &str) -> Result<Node, E> {
                Ok(Node::String(value.to_owned()))
            }

            fn visit_string<E>(self, value: String) -> Result<Node, E> {
                Ok(Node::String(value))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Array(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Node>()? {
                    entries.push((key, value));
                }
                Ok(Node::Object(entries))
            }
        }

        deserializer.deserialize_any(NodeVisitor)
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_unit(),
            Self::Bool(value) => serializer.serialize_bool(*value),
            Self::Number(number) => number.serialize(serializer),
            Self::String(text) => serializer.serialize_str(text),
            Self::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(mask_as(DataClass::Document, "52998224725"), "***982247**");
        assert_eq!(
            mask_as(DataClass::Document, "11.222.333/0001-81"),
            "**.222.333/****-**"
        );
        assert_eq!(
            mask_as(DataClass::Document, "MG-12.345.678"),
            "**-**.***.*78"
        );
        assert_eq!(
            mask_as(DataClass::Email, "teste@bonifiq.com.br"),
            "t***@b***.com.br"
        );
        assert_eq!(
            mask_as(DataClass::Email, "a@mail.example.com"),
            "a***@m***.com"
        );
        assert_eq!(
            mask_as(DataClass::Email, "not an address"),
            "n** ** *******"
        );
        assert_eq!(
            mask_as(DataClass::Phone, "+55 (11) 98719-8778"),
            "+** (**) *****-8778"
        );
        assert_eq!(mask_as(DataClass::Phone, "98778"), "***78");
        assert_eq!(mask_as(DataClass::Name, "  josé da silva "), "J. D. S.");
        assert_eq!(mask_as(DataClass::BirthDate, "30/08/1990"), "**/**/1990");
        assert_eq!(
            mask_as(DataClass::FreeText, "O RG do sócio está expirado."),
            "[masked text, 28 characters]"
        );
        assert_eq!(mask_as(DataClass::Secret, "abc"), "[redacted]");
        assert_eq!(mask_as(DataClass::Name, ""), "");
    }

    #[test]
    fn text() {
        assert_eq!(
            mask_text("CPF:529.982.247-25; CNPJ 11222333000181."),
            "CPF:***.982.247-**; CNPJ **222333******."
        );
        assert_eq!(
            mask_text("ligar +55 11 98719-8778 ou (21) 3456-7890"),
            "ligar +** ** *****-8778 ou (**) ****-7890"
        );
        // Ids and digits glued to letters are left alone.
        assert_eq!(mask_text("a52998224725b"), "a52998224725b");
        assert_eq!(
            mask_text("4834c95e-84f7-485e-90de-09353df57fd3"),
            "4834c95e-84f7-485e-90de-09353df57fd3"
        );
        assert_eq!(mask_text("a@b@c"), "a@b@c");
        assert_eq!(mask_text("x@y.com@z.org"), "x***@y***.com@z.org");
        assert_eq!(mask_text("(529.982.247-25)"), "(***.982.247-**)");
    }

    #[test]
    fn form_and_text_bodies() {
        let masked = mask_body(
            Provider::Iset,
            "order_upserted",
            b"pedido_id=1234&cliente_email=joao%40example.com&cliente_nome=Jo%C3%A3o+Silva&obs=cpf+52998224725",
        );
        assert_eq!(
            String::from_utf8(masked).unwrap(),
            "pedido_id=1234&cliente_email=j***%40e***.com&cliente_nome=J.+S.&obs=cpf+***982247**"
        );
        assert_eq!(
            mask_body(
                Provider::Iset,
                "order_upserted",
                b"contato joao@example.com"
            ),
            b"contato j***@e***.com"
        );
        assert!(mask_body(Provider::Iset, "order_upserted", b"\xff\xfe").starts_with(b"[body"));
    }

    #[test]
    fn json_keeps_order_and_depth_is_bounded() {
        let masked = mask_body(
            Provider::Bonifiq,
            "custom",
            br#"{"z":1,"a":{"Email":"x@y.com.br","cpf":52998224725},"m":[true,null,"11987198778"]}"#,
        );
        assert_eq!(
            String::from_utf8(masked).unwrap(),
            r#"{"z":1,"a":{"Email":"x***@y***.com.br","cpf":"***982247**"},"m":[true,null,"*******87**"]}"#
        );
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let masked = String::from_utf8(mask_body(Provider::Iset, "x", deep.as_bytes())).unwrap();
        assert!(masked.contains(TOO_DEEP));
        let deeper = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        let masked = mask_body(Provider::Iset, "x", deeper.as_bytes());
        assert_eq!(masked.len(), deeper.len());
    }
}
