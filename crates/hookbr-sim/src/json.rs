//! Byte-preserving edits of JSON text: a sample or template keeps every byte but the ones the
//! simulator refreshes.

use std::{collections::HashMap, ops::Range};

use serde_json::value::RawValue;

use crate::Error;

/// `value` as a JSON string literal.
pub(crate) fn json_string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// `text` (valid JSON) without the whitespace between tokens: a pretty-printed fixture as the
/// providers send it, key order and string escapes kept (`hookbr decode` prints its output,
/// raw payloads included, on one line with it).
///
/// ```
/// assert_eq!(hookbr_sim::minify("{ \"a b\" : [1, {}] }"), r#"{"a b":[1,{}]}"#);
/// ```
#[must_use]
pub fn minify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The byte range of the JSON value at `path` (object members, outermost first) in `text`.
pub(crate) fn value_span(text: &str, path: &[&str]) -> Option<Range<usize>> {
    let mut range = 0..text.len();
    for field in path {
        let scope = text.get(range.clone())?;
        let members: HashMap<String, &RawValue> = serde_json::from_str(scope).ok()?;
        let raw = members.get(*field)?.get();
        // `raw` borrows from `scope`: its offset is the distance between the two pointers.
        let start = (raw.as_ptr() as usize).checked_sub(scope.as_ptr() as usize)?;
        let start = range.start + start;
        range = start..start + raw.len();
    }
    text.get(range.clone())?;
    Some(range)
}

/// The string at `path` in `text`, if it is one.
pub(crate) fn string_at(text: &str, path: &[&str]) -> Option<String> {
    value_span(text, path)
        .and_then(|span| text.get(span))
        .and_then(|raw| serde_json::from_str::<String>(raw).ok())
}

/// `text` with `range` replaced by `new`.
pub(crate) fn replace(text: &str, range: Range<usize>, new: &str) -> String {
    let (Some(before), Some(after)) = (text.get(..range.start), text.get(range.end..)) else {
        return text.to_owned();
    };
    format!("{before}{new}{after}")
}

/// Replaces the string value at `path` with `fresh` when it is a string.
pub(crate) fn refresh_string(text: &str, path: &[&str], fresh: &str) -> String {
    match value_span(text, path) {
        Some(span)
            if text
                .get(span.clone())
                .is_some_and(|raw| raw.starts_with('"')) =>
        {
            replace(text, span, &json_string(fresh))
        }
        _ => text.to_owned(),
    }
}

/// Sets the top-level member `field` of the JSON object `text` to `value` (JSON), in place
/// when present, else as the first member.
pub(crate) fn set_member(text: &str, field: &str, value: &str) -> Result<String, Error> {
    if let Some(span) = value_span(text, &[field]) {
        return Ok(replace(text, span, value));
    }
    let members: HashMap<String, &RawValue> =
        serde_json::from_str(text).map_err(|_| Error::new("the file is not a JSON object"))?;
    let open = text
        .find('{')
        .ok_or_else(|| Error::new("the file is not a JSON object"))?;
    let separator = if members.is_empty() { "" } else { "," };
    let (before, after) = text.split_at(open + 1);
    Ok(format!(
        "{before}{}:{value}{separator}{after}",
        json_string(field)
    ))
}

/// Increments the last ASCII digit in `range` of `text` (9 becomes 0); without a digit, adds a
/// trailing newline.
pub(crate) fn bump_digit(text: &str, range: Range<usize>) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let start = range.start;
    let position = bytes
        .get(range)
        .and_then(|scope| scope.iter().rposition(u8::is_ascii_digit));
    match position.and_then(|offset| bytes.get_mut(start + offset)) {
        Some(byte) => *byte = if *byte == b'9' { b'0' } else { *byte + 1 },
        None => bytes.push(b'\n'),
    }
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(value_span(r#"{"a":{"b": "c"}}"#, &["a", "b"]), Some(11..14));
        assert_eq!(value_span("[1]", &["a"]), None);
        assert_eq!(set_member("{}", "t", "1").unwrap(), r#"{"t":1}"#);
        assert_eq!(
            set_member(r#"{"a":2}"#, "t", "1").unwrap(),
            r#"{"t":1,"a":2}"#
        );
        assert_eq!(bump_digit(r#"{"a":19}"#, 0..8), r#"{"a":10}"#);
        assert_eq!(bump_digit("{}", 0..2), "{}\n");
    }

    #[test]
    fn minify_keeps_strings_and_key_order() {
        let pretty = "{\n  \"b\": \"two words\\\" \\\\\",\n  \"a\": [1, {\"c\": null}]\n}\n";
        let compact = minify(pretty);
        assert_eq!(compact, r#"{"b":"two words\" \\","a":[1,{"c":null}]}"#);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&compact).unwrap(),
            serde_json::from_str::<serde_json::Value>(pretty).unwrap()
        );
        assert_eq!(
            string_at(&compact, &["b"]).as_deref(),
            Some("two words\" \\")
        );
        assert_eq!(string_at(&compact, &["a"]), None);
        assert_eq!(
            minify("{ \"a b\" : [1, \"x \\\" y\" ],\n\"c\":{ } }"),
            "{\"a b\":[1,\"x \\\" y\"],\"c\":{}}"
        );
    }
}
