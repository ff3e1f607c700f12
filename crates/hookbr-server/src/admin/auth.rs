//! Who may use the inspector: the access token (query, cookie or Bearer header), loopback
//! host names without a token, and same-origin state changes.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use hookbr_core::Secret;

use super::query::percent_decode;

const COOKIE: &str = "hookbr_admin";

/// The access token, when one is configured.
pub(super) type Token = Option<Arc<Secret>>;

/// `?token=…`, %-decoded only (a base64 token's `+` stays a `+`).
fn query_token(request: &Request) -> Option<String> {
    request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(|value| percent_decode(&value.replace('+', "%2B")))
}

/// The cookie holds a digest of the token, never the token (any byte of which may also be
/// invalid in a cookie).
fn cookie_value(token: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether the request presents the token (Bearer header) or the cookie made from it.
fn authorized(request: &Request, token: &Secret) -> bool {
    let headers = request.headers();
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        return token.matches(bearer.trim().as_bytes());
    }
    let expected = String::from_utf8(token.expose().to_vec())
        .map(|text| cookie_value(&text))
        .unwrap_or_default();
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("hookbr_admin="))
        .any(|offered| {
            use subtle::ConstantTimeEq as _;
            !expected.is_empty() && bool::from(offered.as_bytes().ct_eq(expected.as_bytes()))
        })
}

/// Without a token the inspector trusts the loopback interface only: a `Host` other than a
/// loopback name is a DNS-rebinding page and is refused.
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
    else {
        return true;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    matches!(name, "127.0.0.1" | "localhost" | "::1") || name.starts_with("127.")
}

/// Access token (when configured) and same-origin checks.
pub(super) async fn guard(State(token): State<Token>, request: Request, next: Next) -> Response {
    if let Some(token) = &token {
        if let Some(offered) = query_token(&request) {
            if !token.matches(offered.as_bytes()) {
                return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
            }
            // Always to the inspector's own root: never an address taken from the request.
            let mut response = Redirect::to("/").into_response();
            let cookie = format!(
                "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                cookie_value(&offered)
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            return response;
        }
        if !authorized(&request, token) {
            return (
                StatusCode::UNAUTHORIZED,
                "this inspector needs its access token: open /?token=… once",
            )
                .into_response();
        }
    }
    if token.is_none() && !loopback_host(request.headers()) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "the inspector answers only to a loopback host name (127.0.0.1 or localhost)",
        )
            .into_response();
    }
    if request.method() == axum::http::Method::POST && !same_origin(request.headers()) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    next.run(request).await
}

/// A POST must come from this page: `Sec-Fetch-Site: same-origin`, or an `Origin` equal to
/// `http://<Host>`, or neither header (curl and scripts).
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => origin == format!("http://{host}"),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let host = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert("host", HeaderValue::from_static(value));
            loopback_host(&headers)
        };
        for ok in [
            "127.0.0.1:9090",
            "localhost:9090",
            "localhost",
            "[::1]:9090",
            "127.0.0.2",
        ] {
            assert!(host(ok), "{ok}");
        }
        for bad in [
            "evil.example:9090",
            "evil.example",
            "[2001:db8::1]:80",
            "10.0.0.1:9090",
        ] {
            assert!(!host(bad), "{bad}");
        }
    }

    #[test]
    fn cookies_hold_a_digest() {
        let value = cookie_value("a+b;c d");
        assert_eq!(value.len(), 64);
        assert!(value.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!value.contains("a+b"));
    }

    #[test]
    fn origins() {
        let mut headers = HeaderMap::new();
        assert!(same_origin(&headers));
        headers.insert("host", HeaderValue::from_static("127.0.0.1:9090"));
        headers.insert("origin", HeaderValue::from_static("http://127.0.0.1:9090"));
        assert!(same_origin(&headers));
        headers.insert("origin", HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&headers));
    }
}
