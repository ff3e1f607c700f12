use std::sync::LazyLock;

use actix_web::http::header::{
    CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, TRANSFER_ENCODING,
};
use hookbr_core::HeaderSource;

/// The names the hookbr pipeline looks up on every delivery, as ready-made [`HeaderName`]s:
/// `HeaderMap::get(&str)` parses the name on every call, and allocates a copy of a
/// non-standard one (`X-Loyalty-Secret`), which showed in profiles of the actix adapter.
static KNOWN: LazyLock<[HeaderName; 6]> = LazyLock::new(|| {
    [
        CONTENT_TYPE,
        CONTENT_LENGTH,
        CONTENT_ENCODING,
        TRANSFER_ENCODING,
        HeaderName::from_static("x-loyalty-secret"),
        HeaderName::from_static("x-unique-key"),
    ]
});

/// A [`HeaderSource`] over actix-web's [`HeaderMap`] (actix-web 4 is on `http` 0.2).
#[derive(Debug, Clone, Copy)]
pub struct ActixHeaders<'a>(pub &'a HeaderMap);

impl HeaderSource for ActixHeaders<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        let value = match known(name) {
            Some(known) => self.0.get(known),
            None => self.0.get(name),
        };
        value.map(|value| value.as_bytes())
    }

    fn each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        let values = match known(name) {
            Some(known) => self.0.get_all(known),
            None => self.0.get_all(name),
        };
        for value in values {
            visit(value.as_bytes());
        }
    }
}

/// `name` as one of [`KNOWN`], if it is one spelled in lowercase, as the pipeline and the
/// verifiers ask (other spellings take `HeaderMap`'s own lookup, with the same answer). An
/// exact match costs a length switch and one comparison; a case-insensitive scan of the list
/// cost about as much as the parse it saves.
fn known(name: &str) -> Option<&'static HeaderName> {
    let index = match name {
        "content-type" => 0,
        "content-length" => 1,
        "content-encoding" => 2,
        "transfer-encoding" => 3,
        "x-loyalty-secret" => 4,
        "x-unique-key" => 5,
        _ => return None,
    };
    KNOWN.get(index)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    #[test]
    fn known_and_other_names_ignore_case() {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_static("x-loyalty-secret"),
            HeaderValue::from_static("s"),
        );
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        map.insert(
            HeaderName::from_static("x-store"),
            HeaderValue::from_static("42"),
        );
        let headers = ActixHeaders(&map);
        assert_eq!(headers.header("X-Loyalty-Secret"), Some(&b"s"[..]));
        assert_eq!(
            headers.header("Content-Type"),
            Some(&b"application/json"[..])
        );
        assert_eq!(headers.header("X-Store"), Some(&b"42"[..]));
        assert_eq!(headers.header("x-unique-key"), None);
        assert_eq!(headers.header("not a header name"), None);
    }

    #[test]
    fn lowercase_known_names_are_their_own_header() {
        let names = [
            "content-type",
            "content-length",
            "content-encoding",
            "transfer-encoding",
            "x-loyalty-secret",
            "x-unique-key",
        ];
        let mut map = HeaderMap::new();
        for name in names {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(name),
            );
        }
        let headers = ActixHeaders(&map);
        for name in names {
            assert_eq!(known(name).map(HeaderName::as_str), Some(name));
            assert_eq!(headers.header(name), Some(name.as_bytes()));
            let upper = name.to_ascii_uppercase();
            assert_eq!(known(&upper), None);
            assert_eq!(headers.header(&upper), Some(name.as_bytes()));
        }
    }

    #[test]
    fn every_copy_is_visited() {
        let mut map = HeaderMap::new();
        map.append(CONTENT_ENCODING, HeaderValue::from_static("identity"));
        map.append(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        map.append(
            HeaderName::from_static("x-store"),
            HeaderValue::from_static("1"),
        );
        map.append(
            HeaderName::from_static("x-store"),
            HeaderValue::from_static("2"),
        );
        let headers = ActixHeaders(&map);
        let all = |name: &str| {
            let mut seen = Vec::new();
            headers.each_value(name, &mut |value| seen.push(value.to_vec()));
            seen
        };
        assert_eq!(
            all("Content-Encoding"),
            [b"identity".to_vec(), b"gzip".to_vec()]
        );
        assert_eq!(all("X-Store"), [b"1".to_vec(), b"2".to_vec()]);
        assert!(all("transfer-encoding").is_empty());
        assert!(all("not a header name").is_empty());
    }
}
