//! Per-provider typed events and their decoders.
//!
//! Each provider module offers `from_slice`-style constructors that decode the body bytes as
//! received, plus accessors for the delivery id, the event kind and the time the event
//! occurred. [`WebhookEvent`](crate::WebhookEvent) wraps them for code that handles all four.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::value::RawValue;

use crate::ParseError;

#[cfg(feature = "bonifiq")]
pub mod bonifiq;
#[cfg(feature = "foody")]
pub mod foody;
#[cfg(feature = "grafeno")]
pub mod grafeno;
#[cfg(feature = "iset")]
pub mod iset;

/// A JSON value kept exactly as received (for unknown kinds and drifted payloads).
///
/// Derefs to [`RawValue`]: `raw.get()` is the JSON text. Two values are equal when their texts
/// are.
#[derive(Clone)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    pub(crate) fn new(raw: &RawValue) -> Self {
        Self(raw.to_owned())
    }

    /// Parses `text` as JSON and keeps it as is.
    ///
    /// # Errors
    ///
    /// [`ParseError::NotJson`] when `text` is not JSON.
    pub fn from_text(text: &str) -> Result<Self, ParseError> {
        serde_json::from_str::<Box<RawValue>>(text)
            .map(Self)
            .map_err(|error| ParseError::from_json(&error))
    }

    /// Parses the JSON into a value of your choosing.
    ///
    /// # Errors
    ///
    /// The deserializer's error when it does not fit `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }
}

impl std::ops::Deref for RawJson {
    type Target = RawValue;

    fn deref(&self) -> &RawValue {
        &self.0
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawJson({} bytes)", self.0.get().len())
    }
}

impl serde::Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl From<Box<RawValue>> for RawJson {
    fn from(raw: Box<RawValue>) -> Self {
        Self(raw)
    }
}

/// The body as text: UTF-8, without a byte-order mark, not blank.
pub(crate) fn body_text(body: &[u8]) -> Result<&str, ParseError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(text)
}

/// Deserializes a JSON object into `T` (whose fields should be lenient, e.g. `&RawValue`),
/// telling "not JSON" apart from "JSON, but not an object".
pub(crate) fn parse_object<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, ParseError> {
    if !text.trim_start().starts_with('{') {
        // serde would also accept a JSON array as a struct, field by field.
        return match serde_json::from_str::<&RawValue>(text) {
            Ok(_) => Err(ParseError::NotAnObject),
            Err(error) => Err(ParseError::from_json(&error)),
        };
    }
    serde_json::from_str::<T>(text).map_err(|error| {
        if error.is_data() {
            match serde_json::from_str::<&RawValue>(text) {
                Err(syntax) => ParseError::from_json(&syntax),
                Ok(_) => ParseError::InvalidField {
                    field: "(duplicate key)",
                },
            }
        } else {
            ParseError::from_json(&error)
        }
    })
}

/// A JSON string field, or `None` when absent, null or not a string.
pub(crate) fn raw_str(value: Option<&RawValue>) -> Option<String> {
    value.and_then(json_str).map(Cow::into_owned)
}

/// The string a JSON value holds, or `None` when it is not a string. Borrowed from the JSON
/// text when the string has no escapes (the common case: no parse, no allocation).
///
/// A `RawValue` holds exactly one valid JSON value without surrounding whitespace, so a text
/// that starts and ends with `"` and holds no `\` is a string whose characters are the text
/// between the quotes (a valid string has no raw quote or control character inside).
pub(crate) fn json_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if let Some(inner) = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|inner| !inner.contains('\\'))
    {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
}

/// The integer a JSON value holds, as `serde_json::from_str::<i64>` reads it: `None` for other
/// values (strings, fractions, exponents, numbers beyond `i64`). A `RawValue` holds valid JSON,
/// whose integers (no `+`, no leading zeros) `str::parse` reads the same way, without a
/// deserializer, except `-0`: serde_json reads it as the float `-0.0`, not an integer.
pub(crate) fn json_i64(raw: &RawValue) -> Option<i64> {
    match raw.get() {
        "-0" => None,
        text => text.parse().ok(),
    }
}

/// Decodes a payload into its typed form, or keeps the raw JSON with the error.
pub(crate) fn typed<T: DeserializeOwned>(raw: &RawValue) -> Result<T, serde_json::Error> {
    serde_json::from_str(raw.get())
}

/// Providers are inconsistent about ids and documents: accept a JSON string or number (or
/// null) and keep it as text.
pub(crate) fn opt_string_or_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    // A visitor rather than an untagged enum: serde buffers a value before trying an untagged
    // enum's variants, which made these fields the costliest part of a BonifiQ decode.
    struct Loose;

    impl<'de> serde::de::Visitor<'de> for Loose {
        type Value = Option<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or a number")
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
            inner.deserialize_any(self)
        }

        fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Some(text.to_owned()))
        }

        fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
            Ok(Some(text))
        }

        fn visit_u64<E>(self, number: u64) -> Result<Self::Value, E> {
            Ok(Some(number.to_string()))
        }

        fn visit_i64<E>(self, number: i64) -> Result<Self::Value, E> {
            Ok(Some(number.to_string()))
        }

        fn visit_f64<E: serde::de::Error>(self, number: f64) -> Result<Self::Value, E> {
            serde_json::Number::from_f64(number)
                .map(|number| Some(number.to_string()))
                .ok_or_else(|| E::custom("a finite number"))
        }
    }

    deserializer.deserialize_option(Loose)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("valid JSON")
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let plain = raw(r#""order 42""#);
        assert!(matches!(json_str(&plain), Some(Cow::Borrowed("order 42"))));
        let empty = raw(r#""""#);
        assert!(matches!(json_str(&empty), Some(Cow::Borrowed(""))));
        let escaped = raw(r#""a\"b\u00e9""#);
        assert!(matches!(json_str(&escaped), Some(Cow::Owned(text)) if text == "a\"bé"));
        for other in ["12", "null", "true", "{}", r#"["a"]"#, r#"{"a":"b"}"#] {
            assert_eq!(json_str(&raw(other)), None, "{other}");
        }
    }

    proptest! {
        /// Integers read as serde_json reads them, whatever the JSON number's form.
        #[test]
        fn json_i64_reads_what_serde_json_reads(
            integer in any::<i64>(),
            wide in any::<i128>(),
            float in any::<f64>(),
            mantissa in -99_i64..99,
            exponent in -3_i32..3,
        ) {
            let texts = [
                integer.to_string(),
                wide.to_string(),
                serde_json::to_string(&float).unwrap(),
                format!("{mantissa}e{exponent}"),
                format!("{mantissa}.0"),
                format!("\"{integer}\""),
                "-0".to_owned(),
            ];
            for text in texts {
                let value = raw(&text);
                prop_assert_eq!(json_i64(&value), serde_json::from_str::<i64>(&text).ok(), "{}", text);
            }
        }

        /// The fast path reads every string as serde_json does, whatever its characters and
        /// however it is escaped; other values are never strings.
        #[test]
        fn json_str_reads_what_serde_json_reads(
            text in any::<String>(),
            escape_all in any::<bool>(),
            number in any::<f64>(),
        ) {
            let encoded = if escape_all {
                text.chars().map(|c| format!("\\u{:04x}", u32::from(c).min(0xffff))).collect::<String>()
            } else {
                let quoted = serde_json::to_string(&text).unwrap();
                quoted[1..quoted.len() - 1].to_owned()
            };
            let json = format!("\"{encoded}\"");
            if let Ok(value) = RawValue::from_string(json.clone()) {
                let expected = serde_json::from_str::<String>(&json).ok();
                prop_assert_eq!(json_str(&value).map(Cow::into_owned), expected);
            }
            let number = raw(&serde_json::to_string(&number).unwrap());
            prop_assert_eq!(json_str(&number), None);
        }
    }
}
