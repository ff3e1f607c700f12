//! Per-provider typed events and their decoders.
//!
//! Each provider module offers `from_slice`-style constructors that decode the body bytes as
//! received, plus accessors for the delivery id, the event kind and the time the event
//! occurred. [`WebhookEvent`](crate::WebhookEvent) wraps them for code that handles all four.

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
    value.and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
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
