//! The sans-IO view of an incoming delivery: [`HeaderSource`] and [`Request`].
//!
//! hookbr-core never sees a framework's request type. Adapters describe what they received with
//! a [`Request`] (method, path, query, headers, body bytes as received), and the pipeline works on
//! that. Headers are read through the tiny [`HeaderSource`] trait because actix-web 4 and axum
//! 0.8 use different major versions of the `http` crate.
//!
//! ```
//! use hookbr_core::Request;
//!
//! let headers = [("Content-Type", "application/json"), ("X-Loyalty-Secret", "s3cr3t")];
//! let request = Request::new(b"{}").with_headers(&headers).with_method("POST");
//! assert_eq!(request.header("x-loyalty-secret"), Some(&b"s3cr3t"[..]));
//! ```

use std::fmt;

/// Read access to request headers, looked up by name without regard to ASCII case.
///
/// Implemented for slices, arrays and vectors of `(name, value)` pairs; adapters implement it for
/// their framework's header map.
///
/// ```
/// use hookbr_core::HeaderSource;
///
/// let headers = [("Content-Encoding", "identity"), ("content-encoding", "gzip")];
/// assert_eq!(headers.header("content-encoding"), Some(&b"identity"[..]));
/// let mut all = Vec::new();
/// headers.each_value("Content-Encoding", &mut |value| all.push(value.to_vec()));
/// assert_eq!(all, [b"identity".to_vec(), b"gzip".to_vec()]);
/// ```
pub trait HeaderSource {
    /// The value of the first header called `name` (ASCII case-insensitive), if any.
    fn header(&self, name: &str) -> Option<&[u8]>;

    /// Calls `visit` with the value of every header called `name` (ASCII case-insensitive), in
    /// order. The head checks use it so that a second copy of a header counts as much as the
    /// first (`Content-Encoding: identity` then `Content-Encoding: gzip` is refused).
    ///
    /// The default visits [`header`](Self::header)'s value only: implement it for a source
    /// that can hold a name more than once (every implementation in hookbr does).
    fn each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        if let Some(value) = self.header(name) {
            visit(value);
        }
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> HeaderSource for [(K, V)] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
    }

    fn each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        self.iter()
            .filter(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .for_each(|(_, value)| visit(value.as_ref()));
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>, const N: usize> HeaderSource for [(K, V); N] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().header(name)
    }

    fn each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        self.as_slice().each_value(name, visit);
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> HeaderSource for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().header(name)
    }

    fn each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        self.as_slice().each_value(name, visit);
    }
}

impl<T: HeaderSource + ?Sized> HeaderSource for &T {
    fn header(&self, name: &str) -> Option<&[u8]> {
        (**self).header(name)
    }

    fn each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        (**self).each_value(name, visit);
    }
}

const NO_HEADERS: [(&str, &str); 0] = [];

/// One delivery as received: what verifiers and decoders look at.
///
/// `body` must be the bytes exactly as they arrived: tokens and signatures are checked on them,
/// never on a re-serialized copy.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a (dyn HeaderSource + Sync),
    body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A `POST /` request with `body` and no headers.
    #[must_use]
    pub fn new(body: &'a [u8]) -> Self {
        Self {
            method: "POST",
            path: "/",
            query: None,
            headers: &NO_HEADERS,
            body,
        }
    }

    /// Sets the headers.
    #[must_use]
    pub fn with_headers(mut self, headers: &'a (dyn HeaderSource + Sync)) -> Self {
        self.headers = headers;
        self
    }

    /// Replaces the body (adapters check the head first, then attach the body they read).
    #[must_use]
    pub fn with_body(mut self, body: &'a [u8]) -> Self {
        self.body = body;
        self
    }

    /// Sets the HTTP method (default `POST`).
    #[must_use]
    pub fn with_method(mut self, method: &'a str) -> Self {
        self.method = method;
        self
    }

    /// Sets the path and the query string from a request target such as `/iset?token=abc`.
    #[must_use]
    pub fn with_target(mut self, target: &'a str) -> Self {
        match target.split_once('?') {
            Some((path, query)) => {
                self.path = path;
                self.query = Some(query);
            }
            None => {
                self.path = target;
                self.query = None;
            }
        }
        self
    }

    /// The HTTP method.
    #[must_use]
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The URL path, without the query string.
    #[must_use]
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The raw query string (after `?`), if any.
    #[must_use]
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The body bytes as received.
    #[must_use]
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The headers.
    #[must_use]
    pub fn headers(&self) -> &'a (dyn HeaderSource + Sync) {
        self.headers
    }

    /// The value of header `name` (ASCII case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.header(name)
    }

    /// Whether every copy of header `name` satisfies `check` (`true` without any copy).
    pub(crate) fn every_value(&self, name: &str, mut check: impl FnMut(&[u8]) -> bool) -> bool {
        let mut every = true;
        self.headers.each_value(name, &mut |value| {
            every = every && check(value);
        });
        every
    }

    /// Whether the request declares a coding hookbr does not decode: a `Content-Encoding` other
    /// than `identity`, or a `Transfer-Encoding` other than `chunked` and `identity`, in any
    /// copy of the header and any element of its comma-separated list.
    pub(crate) fn declares_coding(&self) -> bool {
        !self.every_value("content-encoding", |value| {
            only_codings(value, &[b"identity"])
        }) || !self.every_value("transfer-encoding", |value| {
            only_codings(value, &[b"chunked", b"identity"])
        })
    }

    /// The media type of the `Content-Type` header, lower-cased, without parameters.
    #[must_use]
    pub fn media_type(&self) -> Option<String> {
        let value = std::str::from_utf8(self.header("content-type")?).ok()?;
        let media = value.split(';').next().unwrap_or_default().trim();
        Some(media.to_ascii_lowercase())
    }

    /// Whether the `Content-Type` header denotes JSON (`None` without one): `application/json`,
    /// `text/json` or `application/*+json`, parameters and ASCII case ignored, as
    /// [`media_type`](Self::media_type) would read it, without allocating. With several copies,
    /// `Some(true)` only when every copy does.
    pub(crate) fn declares_json(&self) -> Option<bool> {
        self.header("content-type")?;
        Some(self.every_value("content-type", is_json_value))
    }
}

/// Whether every element of a comma-separated header value is one of `allowed` (ASCII case
/// ignored); an empty element (a blank header, `gzip,`) counts as unknown.
fn only_codings(value: &[u8], allowed: &[&[u8]]) -> bool {
    value.split(|&b| b == b',').all(|element| {
        let element = element.trim_ascii();
        allowed
            .iter()
            .any(|coding| element.eq_ignore_ascii_case(coding))
    })
}

/// Whether one `Content-Type` value denotes JSON (see [`Request::declares_json`]).
fn is_json_value(value: &[u8]) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let media = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .as_bytes();
    let starts = |prefix: &[u8]| {
        media
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    let ends = |suffix: &[u8]| {
        media
            .len()
            .checked_sub(suffix.len())
            .and_then(|start| media.get(start..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
    };
    media.eq_ignore_ascii_case(b"application/json")
        || media.eq_ignore_ascii_case(b"text/json")
        || (starts(b"application/") && ends(b"+json"))
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers and body may carry secrets: only their sizes are shown.
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("has_query", &self.query.is_some())
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Whether a media type (as returned by [`Request::media_type`]) denotes JSON; the reference
/// that [`Request::declares_json`] is tested against.
#[cfg(test)]
pub(crate) fn is_json_media_type(media: &str) -> bool {
    media == "application/json"
        || media == "text/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_case_insensitive_and_first_wins() {
        let headers = vec![("X-A", "1"), ("x-a", "2")];
        assert_eq!(headers.header("x-A"), Some(&b"1"[..]));
        assert_eq!(headers.header("missing"), None);
    }

    #[test]
    fn target_splits_path_and_query() {
        let request = Request::new(b"").with_target("/iset/orders?token=a%20b&x=1");
        assert_eq!(request.path(), "/iset/orders");
        assert_eq!(request.query(), Some("token=a%20b&x=1"));
        assert_eq!(Request::new(b"").with_target("/p").query(), None);
    }

    #[test]
    fn media_type_is_normalized() {
        let headers = [("content-type", "Application/JSON; charset=utf-8")];
        let request = Request::new(b"").with_headers(&headers);
        assert_eq!(request.media_type().as_deref(), Some("application/json"));
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("application/problem+json"));
        assert!(!is_json_media_type("text/plain"));
    }

    #[test]
    fn declares_json_agrees_with_media_type() {
        for value in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " text/json ",
            "application/problem+JSON",
            "application/+json",
            "application/jsonx",
            "text/plain",
            "json",
            "",
            ";application/json",
            "application/json\u{a0}",
            "applicatio\u{e9}/x+json",
        ] {
            let headers = [("content-type", value)];
            let request = Request::new(b"").with_headers(&headers);
            let expected = request.media_type().map(|media| is_json_media_type(&media));
            assert_eq!(request.declares_json(), expected, "{value:?}");
        }
        let headers = [("content-type", &b"application/\xff+json"[..])];
        let request = Request::new(b"").with_headers(&headers);
        assert_eq!(request.media_type(), None);
        assert_eq!(request.declares_json(), Some(false));
        assert_eq!(Request::new(b"").declares_json(), None);
    }

    #[test]
    fn every_copy_of_a_coding_header_counts() {
        let declares =
            |headers: &[(&str, &str)]| Request::new(b"").with_headers(&headers).declares_coding();
        assert!(!declares(&[]));
        assert!(!declares(&[("Content-Encoding", "identity")]));
        assert!(!declares(&[("Content-Encoding", " IDENTITY ")]));
        assert!(!declares(&[("Transfer-Encoding", "chunked")]));
        assert!(!declares(&[("Transfer-Encoding", "identity, Chunked")]));
        assert!(declares(&[("Content-Encoding", "gzip")]));
        assert!(declares(&[("Content-Encoding", "")]));
        assert!(declares(&[("Content-Encoding", "identity, gzip")]));
        assert!(declares(&[("Content-Encoding", "identity,")]));
        assert!(declares(&[
            ("Content-Encoding", "identity"),
            ("content-encoding", "gzip")
        ]));
        assert!(declares(&[("Transfer-Encoding", "gzip, chunked")]));
        assert!(declares(&[
            ("Transfer-Encoding", "chunked"),
            ("Transfer-Encoding", "deflate")
        ]));
        assert!(declares(&[
            ("Transfer-Encoding", "chunked"),
            ("Content-Encoding", "br")
        ]));
    }

    #[test]
    fn every_copy_of_content_type_must_be_json() {
        let json =
            |headers: &[(&str, &str)]| Request::new(b"").with_headers(&headers).declares_json();
        assert_eq!(json(&[("Content-Type", "application/json")]), Some(true));
        assert_eq!(
            json(&[
                ("Content-Type", "application/json"),
                ("Content-Type", "text/plain")
            ]),
            Some(false)
        );
        assert_eq!(
            json(&[
                ("Content-Type", "application/json"),
                ("content-type", "text/json")
            ]),
            Some(true)
        );
    }

    #[test]
    fn debug_hides_headers_and_body() {
        let headers = [("X-Loyalty-Secret", "hunter2")];
        let request = Request::new(b"token=hunter2").with_headers(&headers);
        assert!(!format!("{request:?}").contains("hunter2"));
    }
}
