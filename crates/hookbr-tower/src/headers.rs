use hookbr_core::HeaderSource;
use http::{HeaderName, header};

/// A [`HeaderSource`] over an `http` 1.x [`HeaderMap`](http::HeaderMap).
#[derive(Debug, Clone, Copy)]
pub struct HttpHeaders<'a>(pub &'a http::HeaderMap);

impl HeaderSource for HttpHeaders<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        match standard(name) {
            Some(known) => self.0.get(known),
            None => self.0.get(name),
        }
        .map(http::HeaderValue::as_bytes)
    }

    fn each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        let values = match standard(name) {
            Some(known) => self.0.get_all(known),
            None => self.0.get_all(name),
        };
        for value in values {
            visit(value.as_bytes());
        }
    }
}

/// The names the hookbr pipeline looks up on every delivery, with ready-made [`HeaderName`]s:
/// `HeaderMap::get(&str)` parses the name (case folding, the standard-name table) on every
/// call. As in hookbr-actix's adapter.
static KNOWN: [HeaderName; 6] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_ENCODING,
    header::TRANSFER_ENCODING,
    HeaderName::from_static("x-loyalty-secret"),
    HeaderName::from_static("x-unique-key"),
];

/// `name` as one of [`KNOWN`], if it is one spelled in lowercase, as the pipeline and the
/// verifiers ask (other spellings take `HeaderMap`'s own lookup, with the same answer). An
/// exact match costs a length switch and one comparison, where a case-insensitive scan of the
/// list cost as much as the parse it saves.
fn standard(name: &str) -> Option<&'static HeaderName> {
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
    use super::*;

    #[test]
    fn lookup_ignores_case() {
        let mut map = http::HeaderMap::new();
        map.insert("x-loyalty-secret", http::HeaderValue::from_static("s"));
        assert_eq!(
            HttpHeaders(&map).header("X-Loyalty-Secret"),
            Some(&b"s"[..])
        );
        assert_eq!(HttpHeaders(&map).header("Missing"), None);
        assert_eq!(HttpHeaders(&map).header("not a header name"), None);
    }

    #[test]
    fn standard_names_answer_as_the_general_lookup() {
        let mut map = http::HeaderMap::new();
        map.append(
            "content-type",
            http::HeaderValue::from_static("application/json"),
        );
        map.append("content-length", http::HeaderValue::from_static("12"));
        map.append(
            "content-encoding",
            http::HeaderValue::from_static("identity"),
        );
        map.append("content-encoding", http::HeaderValue::from_static("br"));
        map.append(
            "transfer-encoding",
            http::HeaderValue::from_static("chunked"),
        );
        map.append("x-loyalty-secret", http::HeaderValue::from_static("s"));
        map.append("x-unique-key", http::HeaderValue::from_static("k"));
        let headers = HttpHeaders(&map);
        let names = [
            "content-type",
            "content-length",
            "content-encoding",
            "transfer-encoding",
            "x-loyalty-secret",
            "x-unique-key",
        ];
        for name in names {
            assert!(standard(name).is_some(), "{name}");
            assert_eq!(standard(name).map(HeaderName::as_str), Some(name));
            let upper = name.to_ascii_uppercase();
            assert_eq!(
                headers.header(name),
                map.get(name).map(http::HeaderValue::as_bytes)
            );
            assert_eq!(headers.header(name), headers.header(&upper), "{name}");
            let (mut fast, mut general) = (Vec::new(), Vec::new());
            headers.each_value(name, &mut |value| fast.push(value.to_vec()));
            headers.each_value(&upper, &mut |value| general.push(value.to_vec()));
            assert_eq!(fast, general, "{name}");
            assert!(!fast.is_empty(), "{name}");
        }
        assert_eq!(headers.header("content-md5"), None);
    }

    #[test]
    fn every_copy_is_visited() {
        let mut map = http::HeaderMap::new();
        map.append(
            "content-encoding",
            http::HeaderValue::from_static("identity"),
        );
        map.append("content-encoding", http::HeaderValue::from_static("gzip"));
        let mut seen = Vec::new();
        HttpHeaders(&map).each_value("Content-Encoding", &mut |value| seen.push(value.to_vec()));
        assert_eq!(seen, [b"identity".to_vec(), b"gzip".to_vec()]);
        let mut none = 0;
        HttpHeaders(&map).each_value("not a header name", &mut |_| none += 1);
        assert_eq!(none, 0);
    }
}
