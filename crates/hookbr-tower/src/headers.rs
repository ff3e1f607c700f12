use hookbr_core::HeaderSource;

/// A [`HeaderSource`] over an `http` 1.x [`HeaderMap`](http::HeaderMap).
#[derive(Debug, Clone, Copy)]
pub struct HttpHeaders<'a>(pub &'a http::HeaderMap);

impl HeaderSource for HttpHeaders<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(http::HeaderValue::as_bytes)
    }

    fn each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        for value in self.0.get_all(name) {
            visit(value.as_bytes());
        }
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
