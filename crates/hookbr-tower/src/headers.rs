use hookbr_core::HeaderSource;

/// A [`HeaderSource`] over an `http` 1.x [`HeaderMap`](http::HeaderMap).
#[derive(Debug, Clone, Copy)]
pub struct HttpHeaders<'a>(pub &'a http::HeaderMap);

impl HeaderSource for HttpHeaders<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(http::HeaderValue::as_bytes)
    }
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
}
