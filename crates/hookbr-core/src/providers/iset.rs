//! iSET (e-commerce platform) notifications.
//!
//! iSET documents *which* events it notifies (orders, products, stock, categories), each to its
//! own list of URLs, but not the body, its content type or any signature. So the event kind is
//! chosen by the route that received the delivery ([`IsetKind`]), the body is read as JSON or
//! else as `application/x-www-form-urlencoded`, the raw bytes are always kept, and an entity id
//! is extracted when a usual field (`id`, `pedido_id`, `product_id`, ...) is present.
//!
//! ```
//! use hookbr_core::iset::{IsetEvent, IsetKind};
//!
//! let event = IsetEvent::from_slice(IsetKind::OrderUpserted, None, b"pedido_id=1234&status=pago")?;
//! assert_eq!(event.entity_id(), Some("1234"));
//! let event = IsetEvent::from_slice(IsetKind::ProductUpserted, None, br#"{"produto_id": 55}"#)?;
//! assert_eq!(event.entity_id(), Some("55"));
//! # Ok::<(), hookbr_core::ParseError>(())
//! ```

use std::{collections::HashMap, fmt, str::FromStr};

use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::Value;

use super::body_text;
use crate::{
    DeliveryId, ParseError, Provider,
    entity::{Entity, ISET_CATEGORY, ISET_ORDER, ISET_PRODUCT, ISET_STOCK, Position},
};

/// The most fields an iSET form body may have (PHP's default `max_input_vars`); a form with
/// more is refused with [`ParseError::TooManyFields`] (`413`) before any field is decoded.
pub const MAX_FORM_FIELDS: usize = 1000;

/// The seven iSET notification kinds, one per URL list in iSET's panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IsetKind {
    /// "Criação/Alteração de pedido": an order was created or changed.
    OrderUpserted,
    /// "Pedido removido": an order was removed.
    OrderDeleted,
    /// "Criação/Alteração de produto": a product was created or changed.
    ProductUpserted,
    /// "Remoção de produto": a product was removed.
    ProductDeleted,
    /// "Alteração de estoque": a product's stock moved.
    StockChanged,
    /// "Criação/Alteração de categoria": a category was created or changed.
    CategoryUpserted,
    /// "Remoção de categoria": a category was removed (only the parent when sub-categories go
    /// with it).
    CategoryDeleted,
}

impl IsetKind {
    /// Every kind.
    pub const ALL: [IsetKind; 7] = [
        Self::OrderUpserted,
        Self::OrderDeleted,
        Self::ProductUpserted,
        Self::ProductDeleted,
        Self::StockChanged,
        Self::CategoryUpserted,
        Self::CategoryDeleted,
    ];

    /// The snake_case name: `order_upserted`, `order_deleted`, `product_upserted`,
    /// `product_deleted`, `stock_changed`, `category_upserted`, `category_deleted`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderUpserted => "order_upserted",
            Self::OrderDeleted => "order_deleted",
            Self::ProductUpserted => "product_upserted",
            Self::ProductDeleted => "product_deleted",
            Self::StockChanged => "stock_changed",
            Self::CategoryUpserted => "category_upserted",
            Self::CategoryDeleted => "category_deleted",
        }
    }

    fn id_fields(self) -> &'static [&'static str] {
        match self {
            Self::OrderUpserted | Self::OrderDeleted => {
                &["order_id", "pedido_id", "id_pedido", "id"]
            }
            Self::ProductUpserted | Self::ProductDeleted | Self::StockChanged => {
                &["product_id", "produto_id", "id_produto", "id"]
            }
            Self::CategoryUpserted | Self::CategoryDeleted => {
                &["category_id", "categoria_id", "id_categoria", "id"]
            }
        }
    }
}

impl fmt::Display for IsetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown iSET kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown iSET kind {0:?}: expected order_upserted, order_deleted, product_upserted, \
     product_deleted, stock_changed, category_upserted or category_deleted"
)]
pub struct UnknownIsetKind(String);

impl FromStr for IsetKind {
    type Err = UnknownIsetKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownIsetKind(s.to_owned()))
    }
}

/// An iSET body, as JSON or as form fields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum IsetBody {
    /// A JSON body.
    Json(Value),
    /// An `application/x-www-form-urlencoded` body: the decoded pairs, in order.
    Form(Vec<(String, String)>),
}

/// An iSET notification.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IsetEvent {
    /// The kind, from the receiving route.
    pub kind: IsetKind,
    /// The decoded body.
    pub body: IsetBody,
    /// The entity id, when a usual field carries one.
    entity_id: Option<String>,
    /// The body bytes as received.
    raw: Box<[u8]>,
}

impl IsetEvent {
    /// Decodes an iSET body. `media_type` is the request's lower-cased `Content-Type` without
    /// parameters (see [`Request::media_type`](crate::Request::media_type)): with
    /// `application/x-www-form-urlencoded` the body is read as a form, otherwise as JSON and,
    /// failing that, as a form.
    ///
    /// Decoding takes time linear in the body's length.
    ///
    /// # Errors
    ///
    /// [`ParseError`] when the body is empty, not UTF-8, or neither JSON nor a well-formed form;
    /// [`ParseError::TooManyFields`] for a form of more than [`MAX_FORM_FIELDS`] fields.
    pub fn from_slice(
        kind: IsetKind,
        media_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ParseError> {
        let text = body_text(body)?;
        let form_first = media_type == Some("application/x-www-form-urlencoded");
        let parsed = if form_first {
            match parse_form(text)? {
                Some(form) => Some(form),
                None => serde_json::from_str(text).ok().map(IsetBody::Json),
            }
        } else {
            match serde_json::from_str(text).ok().map(IsetBody::Json) {
                Some(json) => Some(json),
                None => parse_form(text)?,
            }
        };
        let body = parsed.ok_or(ParseError::NotJsonNorForm)?;
        let entity_id = entity_id(kind, &body);
        Ok(Self {
            kind,
            body,
            entity_id,
            raw: text.as_bytes().into(),
        })
    }

    /// The entity id (order, product or category), when the body carries a usual id field at
    /// the top level or under `data`.
    #[must_use]
    pub fn entity_id(&self) -> Option<&str> {
        self.entity_id.as_deref()
    }

    /// The entity: `iset.order`, `iset.product`, `iset.stock` (keyed by the product id) or
    /// `iset.category` by kind, with [`entity_id`](Self::entity_id); `None` without an id.
    #[must_use]
    pub fn entity(&self) -> Option<Entity> {
        let kind = match self.kind {
            IsetKind::OrderUpserted | IsetKind::OrderDeleted => ISET_ORDER,
            IsetKind::ProductUpserted | IsetKind::ProductDeleted => ISET_PRODUCT,
            IsetKind::StockChanged => ISET_STOCK,
            IsetKind::CategoryUpserted | IsetKind::CategoryDeleted => ISET_CATEGORY,
        };
        Entity::new(kind, self.entity_id.as_deref()?)
    }

    /// Always `None`: iSET documents no body, so no timestamp or status hookbr could order by
    /// (see docs/ENTITIES.md).
    #[must_use]
    pub fn position(&self) -> Option<Position> {
        None
    }

    /// The body bytes as received (without a byte-order mark).
    #[must_use]
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The delivery id: a digest of (kind, body), since iSET sends no id.
    #[must_use]
    pub fn delivery_id(&self) -> Option<DeliveryId> {
        Some(DeliveryId::digest_of(
            Provider::Iset,
            &[self.kind.as_str().as_bytes(), &self.raw],
        ))
    }
}

/// Parses a form body, refusing text that is clearly not one (spaces, braces, quotes, control
/// characters, a pair without a name): `Ok(None)`. A well-formed form of more than
/// [`MAX_FORM_FIELDS`] fields is an error, found before any field is decoded.
fn parse_form(text: &str) -> Result<Option<IsetBody>, ParseError> {
    let text = text.trim_end_matches(['\r', '\n']);
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~%+=&;!$'()*,:@/?[]|".contains(&b);
    if text.is_empty() || !text.bytes().all(allowed) {
        return Ok(None);
    }
    let bytes = text.as_bytes();
    for (index, _) in text.match_indices('%') {
        let Some(hex) = bytes.get(index + 1..index + 3) else {
            return Ok(None);
        };
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Ok(None);
        }
    }
    // Every pair must be `name=value`: a bare word is more likely garbage than a form.
    let mut fields = 0_usize;
    for pair in text.split('&') {
        if pair.is_empty() || pair.starts_with('=') || !pair.contains('=') {
            return Ok(None);
        }
        fields += 1;
    }
    if fields > MAX_FORM_FIELDS {
        return Err(ParseError::TooManyFields {
            limit: MAX_FORM_FIELDS,
        });
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    Ok(Some(IsetBody::Form(pairs)))
}

fn entity_id(kind: IsetKind, body: &IsetBody) -> Option<String> {
    let fields = kind.id_fields();
    match body {
        IsetBody::Form(pairs) => fields.iter().find_map(|field| {
            pairs
                .iter()
                .find(|(key, value)| key == field && !value.is_empty())
                .map(|(_, value)| value.clone())
        }),
        IsetBody::Json(value) => {
            let scalar = |object: &serde_json::Map<String, Value>| {
                fields.iter().find_map(|field| match object.get(*field)? {
                    Value::String(text) if !text.is_empty() => Some(text.clone()),
                    Value::Number(number) => Some(number.to_string()),
                    _ => None,
                })
            };
            let object = value.as_object()?;
            scalar(object).or_else(|| object.get("data")?.as_object().and_then(scalar))
        }
    }
}

impl Serialize for IsetEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("kind", self.kind.as_str())?;
        map.serialize_entry("entity_id", &self.entity_id)?;
        match &self.body {
            IsetBody::Json(value) => {
                map.serialize_entry("format", "json")?;
                map.serialize_entry("body", value)?;
            }
            IsetBody::Form(pairs) => {
                map.serialize_entry("format", "form")?;
                map.serialize_entry("body", &FormAsObject(pairs))?;
            }
        }
        map.end()
    }
}

/// A form as a JSON object, names in order of first appearance; a repeated name becomes an
/// array of its values. Linear in the number of pairs (one hash lookup each).
struct FormAsObject<'a>(&'a [(String, String)]);

impl Serialize for FormAsObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(self.0.len());
        let mut names: Vec<(&str, Vec<&str>)> = Vec::with_capacity(self.0.len());
        for (name, value) in self.0 {
            match index.get(name.as_str()) {
                Some(&at) => {
                    if let Some((_, values)) = names.get_mut(at) {
                        values.push(value);
                    }
                }
                None => {
                    index.insert(name, names.len());
                    names.push((name, vec![value]));
                }
            }
        }
        let mut map = serializer.serialize_map(Some(names.len()))?;
        for (name, values) in names {
            match values.as_slice() {
                [single] => map.serialize_entry(name, single)?,
                many => map.serialize_entry(name, many)?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in IsetKind::ALL {
            assert_eq!(kind.as_str().parse::<IsetKind>().unwrap(), kind);
        }
        assert!("orders".parse::<IsetKind>().is_err());
    }

    #[test]
    fn json_then_form() {
        let event = IsetEvent::from_slice(IsetKind::OrderUpserted, None, br#"{"id":"9"}"#).unwrap();
        assert!(matches!(event.body, IsetBody::Json(_)));
        assert_eq!(event.entity_id(), Some("9"));
        let event = IsetEvent::from_slice(IsetKind::CategoryDeleted, None, b"categoria_id=7&x=a+b")
            .unwrap();
        assert_eq!(
            event.body,
            IsetBody::Form(vec![
                ("categoria_id".into(), "7".into()),
                ("x".into(), "a b".into())
            ])
        );
        assert_eq!(event.entity_id(), Some("7"));
    }

    #[test]
    fn neither_json_nor_form() {
        for body in [
            &b"garbage"[..],
            b"a=1&b",
            &b"{broken"[..],
            b"hello world",
            b"%zz=1",
            b"=1",
            b"a=1&&b=2",
        ] {
            assert_eq!(
                IsetEvent::from_slice(IsetKind::StockChanged, None, body),
                Err(ParseError::NotJsonNorForm),
                "{body:?}"
            );
        }
        assert_eq!(
            IsetEvent::from_slice(IsetKind::StockChanged, None, b""),
            Err(ParseError::Empty)
        );
    }

    #[test]
    fn entity_id_under_data_and_missing() {
        let event = IsetEvent::from_slice(
            IsetKind::StockChanged,
            None,
            br#"{"data":{"produto_id":3}}"#,
        )
        .unwrap();
        assert_eq!(event.entity_id(), Some("3"));
        let event = IsetEvent::from_slice(IsetKind::StockChanged, None, b"[1]").unwrap();
        assert_eq!(event.entity_id(), None);
    }

    #[test]
    fn delivery_id_depends_on_kind_and_body() {
        let id = |kind, body: &[u8]| {
            IsetEvent::from_slice(kind, None, body)
                .unwrap()
                .delivery_id()
        };
        assert_eq!(
            id(IsetKind::OrderUpserted, b"id=1"),
            id(IsetKind::OrderUpserted, b"id=1")
        );
        assert_ne!(
            id(IsetKind::OrderUpserted, b"id=1"),
            id(IsetKind::OrderDeleted, b"id=1")
        );
        assert_ne!(
            id(IsetKind::OrderUpserted, b"id=1"),
            id(IsetKind::OrderUpserted, b"id=2")
        );
    }

    #[test]
    fn form_field_count_is_capped() {
        let form = |fields: usize| {
            (0..fields)
                .map(|n| format!("f{n}=v"))
                .collect::<Vec<_>>()
                .join("&")
        };
        for media in [None, Some("application/x-www-form-urlencoded")] {
            let at_cap = IsetEvent::from_slice(
                IsetKind::OrderUpserted,
                media,
                form(MAX_FORM_FIELDS).as_bytes(),
            )
            .unwrap();
            assert!(
                matches!(&at_cap.body, IsetBody::Form(pairs) if pairs.len() == MAX_FORM_FIELDS)
            );
            assert_eq!(
                IsetEvent::from_slice(
                    IsetKind::OrderUpserted,
                    media,
                    form(MAX_FORM_FIELDS + 1).as_bytes()
                ),
                Err(ParseError::TooManyFields {
                    limit: MAX_FORM_FIELDS
                })
            );
        }
        // A JSON object is not a form: its member count is not capped here.
        let json = format!(
            "{{{}}}",
            (0..=MAX_FORM_FIELDS)
                .map(|n| format!("\"f{n}\":1"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(IsetEvent::from_slice(IsetKind::OrderUpserted, None, json.as_bytes()).is_ok());
    }

    #[test]
    fn form_serializes_as_object() {
        let event = IsetEvent::from_slice(IsetKind::OrderUpserted, None, b"a=1&a=2&b=3").unwrap();
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["body"], serde_json::json!({"a": ["1", "2"], "b": "3"}));
        assert_eq!(json["format"], "form");
        let event =
            IsetEvent::from_slice(IsetKind::OrderUpserted, None, b"z=1&a=2&z=3&m=4").unwrap();
        let text = serde_json::to_string(&event).unwrap();
        assert!(
            text.contains(r#""body":{"z":["1","3"],"a":"2","m":"4"}"#),
            "names keep the order of their first appearance: {text}"
        );
    }
}
