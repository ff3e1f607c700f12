//! Data subjects: the identifiers (CPF, CNPJ, e-mail) a delivery names a person by, found with
//! the same detectors and key rules as masking, for the inbox's erasure index.

use std::{collections::BTreeSet, fmt};

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use super::{
    DataClass,
    detect::{self, Found},
    map::class_of_key,
    mask::{find_emails, find_numbers},
};

/// What identifies a [`Subject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SubjectKind {
    /// A CPF (a person's taxpayer number).
    Cpf,
    /// A CNPJ (a company's; a sole trader's names a person).
    Cnpj,
    /// An e-mail address.
    Email,
}

impl SubjectKind {
    /// `cpf`, `cnpj` or `email`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpf => "cpf",
            Self::Cnpj => "cnpj",
            Self::Email => "email",
        }
    }
}

/// One person's identifier, normalised: a CPF or CNPJ as its digits only, an e-mail address
/// lower-cased. Two spellings of one identifier (`529.982.247-25`, `52998224725`) are one
/// subject. Its `Debug` and `Display` show it masked: it is personal data.
///
/// ```
/// use hookbr_core::privacy::{Subject, SubjectKind};
///
/// let subject = Subject::parse("529.982.247-25")?;
/// assert_eq!(subject.kind(), SubjectKind::Cpf);
/// assert_eq!(subject.normalized(), "52998224725");
/// assert_eq!(subject, Subject::parse(" 52998224725 ")?);
/// assert_eq!(Subject::parse("Joao@Example.COM")?.normalized(), "joao@example.com");
/// assert!(Subject::parse("529.982.247-26").is_err()); // wrong check digit
/// # Ok::<(), hookbr_core::privacy::InvalidSubject>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject {
    kind: SubjectKind,
    normalized: String,
}

/// Why a text is not a [`Subject`]: not a CPF or CNPJ with valid check digits, nor an e-mail
/// address. The message does not repeat the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a CPF or CNPJ with valid check digits, nor an e-mail address")]
#[non_exhaustive]
pub struct InvalidSubject;

impl Subject {
    /// Reads a CPF (`529.982.247-25`, `52998224725`), a CNPJ (`11.222.333/0001-81`,
    /// `11222333000181`), both with their check digits checked, or an e-mail address;
    /// surrounding whitespace is ignored.
    ///
    /// # Errors
    ///
    /// [`InvalidSubject`] for anything else.
    pub fn parse(text: &str) -> Result<Self, InvalidSubject> {
        let text = text.trim();
        if detect::is_cpf(text) {
            Ok(Self::digits(SubjectKind::Cpf, text))
        } else if detect::is_cnpj(text) {
            Ok(Self::digits(SubjectKind::Cnpj, text))
        } else if detect::is_email(text) {
            Ok(Self {
                kind: SubjectKind::Email,
                normalized: text.to_ascii_lowercase(),
            })
        } else {
            Err(InvalidSubject)
        }
    }

    fn digits(kind: SubjectKind, text: &str) -> Self {
        Self {
            kind,
            normalized: text.chars().filter(char::is_ascii_digit).collect(),
        }
    }

    /// What kind of identifier it is.
    #[must_use]
    pub fn kind(&self) -> SubjectKind {
        self.kind
    }

    /// The normalised identifier (digits only; an e-mail address lower-cased).
    #[must_use]
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The spellings a stored text may hold it in, lower-case: the normalised form and, for a
    /// CPF or CNPJ, the punctuated one (`52998224725`, `529.982.247-25`). Erasure looks for
    /// these in the few texts it cannot index (drift examples).
    #[must_use]
    pub fn spellings(&self) -> Vec<String> {
        let digits = self.normalized.as_str();
        let punctuated = |shape: &str| {
            let mut digits = digits.chars();
            shape
                .chars()
                .map(|c| {
                    if c == 'd' {
                        digits.next().unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect::<String>()
        };
        match self.kind {
            SubjectKind::Cpf => vec![digits.to_owned(), punctuated("ddd.ddd.ddd-dd")],
            SubjectKind::Cnpj => vec![digits.to_owned(), punctuated("dd.ddd.ddd/dddd-dd")],
            SubjectKind::Email => vec![digits.to_owned()],
        }
    }

    /// The index entry of this subject under `salt`: HMAC-SHA-256 keyed with the salt over
    /// `kind:normalized` (`cpf:52998224725`). The inbox stores only this, never the identifier.
    #[must_use]
    pub fn hash(&self, salt: &[u8]) -> [u8; 32] {
        // HMAC takes keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(salt)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(self.kind.as_str().as_bytes());
        mac.update(b":");
        mac.update(self.normalized.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subject")
            .field("kind", &self.kind)
            .field("masked", &self.to_string())
            .finish()
    }
}

impl fmt::Display for Subject {
    /// The subject masked as the inspector shows it (`***982247**`, `j***@e***.com`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = match self.kind {
            SubjectKind::Email => DataClass::Email,
            SubjectKind::Cpf | SubjectKind::Cnpj => DataClass::Document,
        };
        f.write_str(&super::mask_as(class, &self.normalized))
    }
}

impl std::str::FromStr for Subject {
    type Err = InvalidSubject;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// The subjects a stored body names, each once, in a stable order: every CPF, CNPJ and
/// e-mail address the detectors find in its strings (JSON strings and keys, form keys and
/// values, or the text), and JSON numbers under a key that names a document (`cpf`, `cnpj`,
/// `Document`, ...) that are a valid CPF or CNPJ once the leading zeros a number loses are put
/// back. Linear in the size of the body; never fails (a body that is not UTF-8 is read
/// lossily).
///
/// ```
/// use hookbr_core::privacy::subjects;
///
/// let found = subjects(br#"{"cliente":{"email":"Joao@Example.com","cpf":52998224725},"id":7}"#);
/// let normalized: Vec<&str> = found.iter().map(|s| s.normalized()).collect();
/// assert_eq!(normalized, ["52998224725", "joao@example.com"]);
/// ```
#[must_use]
pub fn subjects(body: &[u8]) -> Vec<Subject> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = String::from_utf8_lossy(body);
    if let Some(found) = json_subjects(&text) {
        return found.into_iter().collect();
    }
    let mut found = BTreeSet::new();
    if looks_like_form(&text) {
        for (key, value) in form_urlencoded::parse(text.as_bytes()) {
            scan_text(&key, &mut found);
            scan_text(&value, &mut found);
        }
    }
    scan_text(&text, &mut found);
    found.into_iter().collect()
}

/// The subjects of a JSON document, read as serde_json parses it (no `Value` is built: its
/// strings are borrowed from `text` unless escaped), or `None` when `text` is not one JSON
/// value (serde_json also refuses nesting past 128 levels). A key given twice in one object has
/// both its values read.
fn json_subjects(text: &str) -> Option<BTreeSet<Subject>> {
    let mut found = BTreeSet::new();
    let mut reader = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(
        Walk {
            class: None,
            found: &mut found,
            numbers_as_maps: numbers_come_as_maps(),
        },
        &mut reader,
    )
    .ok()?;
    reader.end().ok()?;
    Some(found)
}

fn looks_like_form(text: &str) -> bool {
    let text = text.trim_end_matches(['\r', '\n']);
    !text.is_empty() && !text.chars().any(char::is_whitespace) && text.contains('=')
}

/// One JSON value being walked: every string (keys included) is scanned for identifiers, and
/// a number is read as a CPF or CNPJ when a key above it names a document (`class`).
struct Walk<'a> {
    class: Option<DataClass>,
    found: &'a mut BTreeSet<Subject>,
    /// Whether numbers come as [`NUMBER_TOKEN`] maps ([`numbers_come_as_maps`]).
    numbers_as_maps: bool,
}

impl Walk<'_> {
    /// The walk of a value inside this one, under `class`.
    fn child(&mut self, class: Option<DataClass>) -> Walk<'_> {
        Walk {
            class,
            found: &mut *self.found,
            numbers_as_maps: self.numbers_as_maps,
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, number: u64) -> Result<(), E> {
        if self.class == Some(DataClass::Document) {
            document_number(&number.to_string(), self.found);
        }
        Ok(())
    }

    fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<(), E> {
        // serde_json reads non-negative integers as `u64`; a negative one is no document.
        match u64::try_from(number) {
            Ok(number) => self.visit_u64(number),
            Err(_) => Ok(()),
        }
    }

    /// A fraction or exponent, or an integer past `u64`: no document (its digits are lost).
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, text: &str) -> Result<(), E> {
        scan_text(text, self.found);
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut items: A) -> Result<(), A::Error> {
        let class = self.class;
        while items.next_element_seed(self.child(class))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut entries: A) -> Result<(), A::Error> {
        while let Some(key) = entries.next_key_seed(Key {
            found: &mut *self.found,
            numbers_as_maps: self.numbers_as_maps,
        })? {
            match key {
                KeyIs::Field(class) => {
                    let class = class.or(self.class);
                    entries.next_value_seed(self.child(class))?;
                }
                // A build of serde_json with `arbitrary_precision` (enabled by any crate of
                // the application) hands each number over as this one-entry map.
                KeyIs::NumberToken => {
                    // As a `Value` would: anything but the text of a number fails the walk,
                    // and the body is then scanned as text.
                    let text: std::borrow::Cow<'de, str> = entries.next_value()?;
                    if text.parse::<serde_json::Number>().is_err() {
                        return Err(serde::de::Error::custom("not a number"));
                    }
                    if self.class == Some(DataClass::Document)
                        && text.bytes().all(|b| b.is_ascii_digit())
                    {
                        document_number(&text, self.found);
                    }
                }
            }
        }
        Ok(())
    }
}

/// What an object's key is.
enum KeyIs {
    /// A field, and the class its name gives its value, if any.
    Field(Option<DataClass>),
    /// serde_json's private key for a number kept as text (`arbitrary_precision`).
    NumberToken,
}

/// The key serde_json uses for numbers under `arbitrary_precision` (`serde_json::Number`'s
/// serialized form). Without that feature it is an ordinary key a body may hold.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Whether this build's serde_json hands numbers over as [`NUMBER_TOKEN`] maps (its
/// `arbitrary_precision` feature, which any crate of the application can turn on), found once
/// by reading `1`.
fn numbers_come_as_maps() -> bool {
    static AS_MAPS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AS_MAPS.get_or_init(|| {
        struct Probe;
        impl<'de> serde::de::Visitor<'de> for Probe {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<bool, A::Error> {
                Ok(true)
            }
        }
        serde::Deserializer::deserialize_any(&mut serde_json::Deserializer::from_str("1"), Probe)
            .unwrap_or(false)
    })
}

/// An object's key: scanned like any string; its value is the class the key names, if any.
struct Key<'a> {
    found: &'a mut BTreeSet<Subject>,
    numbers_as_maps: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for Key<'_> {
    type Value = KeyIs;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<KeyIs, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key<'_> {
    type Value = KeyIs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<KeyIs, E> {
        if self.numbers_as_maps && key == NUMBER_TOKEN {
            return Ok(KeyIs::NumberToken);
        }
        scan_text(key, self.found);
        Ok(KeyIs::Field(class_of_key(key)))
    }
}

/// A JSON number under a document key: a CPF or CNPJ once the leading zeros a number loses
/// are put back.
fn document_number(digits: &str, found: &mut BTreeSet<Subject>) {
    for width in [11, 14] {
        let padded = format!("{digits:0>width$}");
        if let Ok(subject) = Subject::parse(&padded) {
            found.insert(subject);
            break;
        }
    }
}

/// Every CPF, CNPJ and e-mail address inside `text`, as masking finds them (the same scans,
/// without building the masked text).
fn scan_text(text: &str, found: &mut BTreeSet<Subject>) {
    find_emails(text, &mut |start, end| {
        if let Some(Ok(subject)) = text.get(start..end).map(Subject::parse) {
            found.insert(subject);
        }
    });
    find_numbers(text, &mut |what, start, end| {
        let kind = match what {
            Found::Cpf => SubjectKind::Cpf,
            Found::Cnpj => SubjectKind::Cnpj,
            Found::Phone => return,
        };
        if let Some(number) = text.get(start..end) {
            found.insert(Subject::digits(kind, number));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The walk as first written, over a parsed `serde_json::Value`: the oracle of the
    /// streaming walk (for objects without repeated keys, where both read the same values).
    fn reference_walk(
        value: &serde_json::Value,
        class: Option<DataClass>,
        found: &mut BTreeSet<Subject>,
    ) {
        match value {
            serde_json::Value::Object(entries) => {
                for (key, value) in entries {
                    scan_text(key, found);
                    reference_walk(value, class_of_key(key).or(class), found);
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    reference_walk(item, class, found);
                }
            }
            serde_json::Value::String(text) => scan_text(text, found),
            serde_json::Value::Number(number) if class == Some(DataClass::Document) => {
                let digits = number.to_string();
                if digits.bytes().all(|b| b.is_ascii_digit()) {
                    for width in [11, 14] {
                        let padded = format!("{digits:0>width$}");
                        if let Ok(subject) = Subject::parse(&padded) {
                            found.insert(subject);
                            break;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::{Value, json};
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            prop::sample::select(vec![
                json!(52_998_224_725_u64),
                json!(1_234_567_890_u64),
                json!(11_222_333_000_181_u64),
                json!(-52_998_224_725_i64),
                json!(52_998_224_725.0),
                json!(7),
            ]),
            any::<u64>().prop_map(Value::from),
            prop::sample::select(vec![
                "529.982.247-25",
                "Joao@Example.com",
                "cnpj 11.222.333/0001-81, e-mail ana@loja.com.br.",
                "4834c95e-84f7-485e-90de-09353df57fd3",
                "(11) 98719-8778",
                "",
                "texto \"citado\" com \\ barra",
            ])
            .prop_map(Value::from),
            "[a-z0-9@. -]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "cpf",
                        "Document",
                        "email",
                        "cliente",
                        "id",
                        "Customer_E-mail",
                        "cnpj_pagador",
                        "total",
                        "nome",
                        "maria@x.com.br",
                        "doc\u{e9}",
                        "cep",
                        NUMBER_TOKEN,
                    ])
                    .prop_map(str::to_owned),
                    inner,
                    0..6,
                )
                .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// `scan_text` as first written, through the masking functions (which build the masked
    /// text): the oracle of the scans without a text.
    fn reference_scan_text(text: &str) -> BTreeSet<Subject> {
        use crate::privacy::mask::{replace_emails, replace_numbers};
        let mut found = BTreeSet::new();
        let _ = replace_emails(text, &mut |email| {
            if let Ok(subject) = Subject::parse(email) {
                found.insert(subject);
            }
            email.to_owned()
        });
        let _ = replace_numbers(text, &mut |what, number| {
            let kind = match what {
                Found::Cpf => SubjectKind::Cpf,
                Found::Cnpj => SubjectKind::Cnpj,
                Found::Phone => return number.to_owned(),
            };
            found.insert(Subject::digits(kind, number));
            number.to_owned()
        });
        found
    }

    /// Texts that mix identifiers, their separators and the words around them.
    fn text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            prop::sample::select(vec![
                "529.982.247-25",
                "52998224725",
                "11.222.333/0001-81",
                "11222333000181",
                "ana@loja.com.br",
                "Joao@Example.com.Obrigado",
                "(11) 98719-8778",
                "+55 11 98719-8778",
                "4834c95e-84f7-485e-90de-09353df57fd3",
                "2024-05-01T12:00:00Z",
                "CPF",
                " ",
                ".",
                "@",
                "-",
            ])
            .prop_map(str::to_owned),
            "[a-z0-9@. ()/+_-]{0,8}",
            "[ -~çãé]{0,6}",
        ];
        prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn scanning_finds_what_masking_replaces(text in text()) {
            let mut found = BTreeSet::new();
            scan_text(&text, &mut found);
            prop_assert_eq!(found, reference_scan_text(&text), "{:?}", text);
        }

        #[test]
        fn the_streaming_walk_reads_what_a_parsed_value_holds(value in json()) {
            let body = serde_json::to_vec(&value).unwrap();
            // With arbitrary_precision a `Value` could not hold what the token key writes.
            prop_assume!(
                !numbers_come_as_maps() || !String::from_utf8_lossy(&body).contains(NUMBER_TOKEN)
            );
            let mut expected = BTreeSet::new();
            reference_walk(&value, None, &mut expected);
            let expected: Vec<Subject> = expected.into_iter().collect();
            prop_assert_eq!(subjects(&body), expected, "{}", String::from_utf8_lossy(&body));
        }
    }

    /// serde_json with `arbitrary_precision` hands a number over as a one-entry map; the walk
    /// reads it as the number (here through serde's own map deserializer, since this
    /// workspace builds serde_json without that feature).
    #[test]
    fn numbers_kept_as_text_are_read_as_numbers() {
        use serde::de::{DeserializeSeed as _, value::MapDeserializer};
        let walk = |class, text: &str| {
            let mut found = BTreeSet::new();
            let number = MapDeserializer::<_, serde::de::value::Error>::new(std::iter::once((
                NUMBER_TOKEN,
                text,
            )));
            Walk {
                class,
                found: &mut found,
                numbers_as_maps: true,
            }
            .deserialize(number)
            .unwrap();
            found
                .into_iter()
                .map(|subject| subject.normalized().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            walk(Some(DataClass::Document), "1234567890"),
            ["01234567890"]
        );
        assert!(walk(None, "52998224725").is_empty());
        assert!(walk(Some(DataClass::Document), "1.5").is_empty());
    }

    /// Without `arbitrary_precision`, serde_json's private number key is an ordinary key a
    /// body may hold: its value is read like any other (found in review: it was skipped).
    #[test]
    fn the_private_number_key_is_an_ordinary_key_by_default() {
        if numbers_come_as_maps() {
            return; // a build with arbitrary_precision: the next test's case
        }
        let token = NUMBER_TOKEN;
        for (body, expected) in [
            (
                format!(r#"{{"{token}":"ana@loja.com"}}"#),
                &["email:ana@loja.com"][..],
            ),
            (
                format!(r#"{{"{token}":"52998224725"}}"#),
                &["cpf:52998224725"],
            ),
            (
                format!(r#"{{"cpf":{{"{token}":"529.982.247-25"}}}}"#),
                &["cpf:52998224725"],
            ),
            (
                format!(r#"{{"cpf":1234567890,"x":{{"{token}":0}}}}"#),
                &["cpf:01234567890"],
            ),
        ] {
            assert_eq!(normalized(body.as_bytes()), expected, "{body}");
        }
    }

    /// With numbers as maps, a token whose value is not a number's text fails the walk (as a
    /// `Value` fails), and the body is scanned as text.
    #[test]
    fn a_number_token_that_is_no_number_fails_the_walk() {
        use serde::de::{DeserializeSeed as _, value::MapDeserializer};
        let mut found = BTreeSet::new();
        let token = MapDeserializer::<_, serde::de::value::Error>::new(std::iter::once((
            NUMBER_TOKEN,
            "ana@loja.com",
        )));
        let walked = Walk {
            class: None,
            found: &mut found,
            numbers_as_maps: true,
        }
        .deserialize(token);
        assert!(walked.is_err());
    }

    #[test]
    fn a_repeated_key_has_both_values_read() {
        assert_eq!(
            normalized(br#"{"cpf": 52998224725, "cpf": "ana@loja.com"}"#),
            ["cpf:52998224725", "email:ana@loja.com"]
        );
        // Past serde_json's nesting limit the body is scanned as text.
        let deep = format!("{}\"529.982.247-25\"{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(normalized(deep.as_bytes()), ["cpf:52998224725"]);
    }

    fn normalized(body: &[u8]) -> Vec<String> {
        subjects(body)
            .into_iter()
            .map(|subject| format!("{}:{}", subject.kind().as_str(), subject.normalized()))
            .collect()
    }

    #[test]
    fn finds_identifiers_in_every_body_shape() {
        assert_eq!(
            normalized(
                br#"{"Payload":{"Customer":{"Email":"teste@bonifiq.com.br","Document":"529.982.247-25","Phone":"11987198778"}}}"#
            ),
            [
                "cpf:11987198778",
                "cpf:52998224725",
                "email:teste@bonifiq.com.br"
            ]
        );
        assert_eq!(
            normalized(b"pedido=1&cliente_email=joao%40example.com&obs=cnpj+11.222.333%2F0001-81"),
            ["cnpj:11222333000181", "email:joao@example.com"]
        );
        assert_eq!(
            normalized(b"texto livre: CPF 529.982.247-25."),
            ["cpf:52998224725"]
        );
        // A number under a document key loses its leading zero.
        assert_eq!(
            normalized(br#"{"cpf": 1234567890, "id": 52998224725}"#),
            ["cpf:01234567890"]
        );
        // Ids, uuids and amounts are not subjects.
        assert!(
            normalized(br#"{"uuid":"4834c95e-84f7-485e-90de-09353df57fd3","total":52998224725}"#)
                .is_empty()
        );
        assert!(normalized(b"\xff\xfe").is_empty());
    }

    #[test]
    fn parse_hash_and_display() {
        let cpf = Subject::parse("529.982.247-25").unwrap();
        assert_eq!(
            cpf.hash(b"salt"),
            Subject::parse("52998224725").unwrap().hash(b"salt")
        );
        assert_ne!(cpf.hash(b"salt"), cpf.hash(b"other salt"));
        assert_eq!(cpf.to_string(), "***982247**");
        assert_eq!(cpf.spellings(), ["52998224725", "529.982.247-25"]);
        assert_eq!(
            Subject::parse("11222333000181").unwrap().spellings(),
            ["11222333000181", "11.222.333/0001-81"]
        );
        assert!(!format!("{cpf:?}").contains("52998224725"));
        assert_eq!(
            Subject::parse("11.222.333/0001-81").unwrap().kind(),
            SubjectKind::Cnpj
        );
        for bad in ["", "529.982.247-26", "11111111111", "joao@", "Joao Silva"] {
            assert_eq!(Subject::parse(bad), Err(InvalidSubject), "{bad}");
        }
    }
}
