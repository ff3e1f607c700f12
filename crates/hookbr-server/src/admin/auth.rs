//! Who may use the inspector: the access token (query, cookie or Bearer header), loopback
//! host names without a token, and same-origin state changes; and the headers every answer of
//! the admin listener carries (Content-Security-Policy, `X-Frame-Options: DENY`, ...).

use std::{
    net::{IpAddr, Ipv6Addr},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use hookbr_core::Secret;

use super::{pages, query::percent_decode};

const COOKIE: &str = "hookbr_admin";

/// How long the cookie set by `/?token=…` is valid: its expiry is part of its signed value, so
/// an old copy stops working even where a browser kept it.
pub(super) const COOKIE_LIFETIME: Duration = Duration::from_secs(8 * 3_600);

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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The signature of a cookie expiring at `expires` (seconds since the epoch): an HMAC keyed by
/// the token, so the cookie never holds the token and only this server can make one.
fn cookie_mac(token: &Secret, expires: u64) -> String {
    use hmac::Mac as _;
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(token.expose()) else {
        return String::new();
    };
    mac.update(format!("hookbr-admin-cookie:{expires}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `EXPIRES.MAC`: digits, a dot and hex, valid in any cookie.
fn cookie_value(token: &Secret, expires: u64) -> String {
    format!("{expires}.{}", cookie_mac(token, expires))
}

/// Whether `offered` is a cookie this server made with `token` that has not expired at `now`.
fn valid_cookie(token: &Secret, offered: &str, now: u64) -> bool {
    use subtle::ConstantTimeEq as _;
    let Some((expires, mac)) = offered.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<u64>() else {
        return false;
    };
    let lifetime = COOKIE_LIFETIME.as_secs();
    if expires <= now || expires > now.saturating_add(lifetime) {
        return false;
    }
    let expected = cookie_mac(token, expires);
    !expected.is_empty() && bool::from(mac.as_bytes().ct_eq(expected.as_bytes()))
}

/// Whether the request presents the token (Bearer header) or a valid cookie made from it.
fn authorized(request: &Request, token: &Secret) -> bool {
    let headers = request.headers();
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        return token.matches(bearer.trim().as_bytes());
    }
    let now = unix_now();
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("hookbr_admin="))
        .any(|offered| valid_cookie(token, offered, now))
}

/// Whether `host` (a `Host` value: name or address, optional port) names this machine's
/// loopback interface: a loopback IP literal (`127.0.0.0/8`, `[::1]`, `[::ffff:127.x.y.z]`) or
/// exactly `localhost`. A DNS name that merely starts with `127.` or `localhost` is a
/// rebinding page's and is refused.
fn loopback_host(host: &str) -> bool {
    let port_ok = |port: Option<&str>| {
        port.is_none_or(|port| {
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
        })
    };
    if let Some(rest) = host.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        let port = if after.is_empty() {
            None
        } else {
            match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return false,
            }
        };
        return port_ok(port)
            && inside.parse::<Ipv6Addr>().is_ok_and(|ip| {
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            });
    }
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    port_ok(port)
        && (name.eq_ignore_ascii_case("localhost")
            || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()))
}

/// Without a token the inspector trusts the loopback interface only: every `Host` copy (or,
/// without one, the request target's authority) must name it ([`loopback_host`]). A request
/// naming no host at all (HTTP/1.0) cannot come from a browser page and is let through.
fn loopback_request(request: &Request) -> bool {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => host.to_str().is_ok_and(loopback_host),
        (Some(_), Some(_)) => false,
        (None, _) => request
            .uri()
            .authority()
            .is_none_or(|authority| loopback_host(authority.as_str())),
    }
}

/// Sets the headers every answer of the admin listener carries: a Content-Security-Policy
/// allowing exactly what the pages use (their one inline stylesheet, forms posting to
/// themselves; no script, no frame, nothing from elsewhere), `X-Frame-Options: DENY`,
/// `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and
/// `Cache-Control: no-store`.
fn harden(headers: &mut HeaderMap) {
    if let Ok(policy) = HeaderValue::from_str(pages::content_security_policy()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// Access token (when configured), loopback host and same-origin checks; every answer, refused
/// or not, gets the [`harden`] headers.
pub(super) async fn guard(State(token): State<Token>, request: Request, next: Next) -> Response {
    let mut response = match refusal(token.as_deref(), &request) {
        Some(response) => response,
        None => next.run(request).await,
    };
    harden(response.headers_mut());
    response
}

/// The answer when the request may not reach the pages (or the token exchange's redirect).
fn refusal(token: Option<&Secret>, request: &Request) -> Option<Response> {
    if let Some(token) = token {
        if let Some(offered) = query_token(request) {
            if !token.matches(offered.as_bytes()) {
                return Some((StatusCode::UNAUTHORIZED, "invalid token").into_response());
            }
            // Always to the inspector's own root: never an address taken from the request.
            let mut response = Redirect::to("/").into_response();
            let lifetime = COOKIE_LIFETIME.as_secs();
            let value = cookie_value(token, unix_now().saturating_add(lifetime));
            let cookie =
                format!("{COOKIE}={value}; Max-Age={lifetime}; Path=/; HttpOnly; SameSite=Strict");
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            return Some(response);
        }
        if !authorized(request, token) {
            return Some(
                (
                    StatusCode::UNAUTHORIZED,
                    "this inspector needs its access token: open /?token=… once",
                )
                    .into_response(),
            );
        }
    } else if !loopback_request(request) {
        return Some(
            (
                StatusCode::MISDIRECTED_REQUEST,
                "the inspector answers only to a loopback host name (127.0.0.1, [::1] or localhost)",
            )
                .into_response(),
        );
    }
    if request.method() == axum::http::Method::POST && !same_origin(request.headers()) {
        return Some((StatusCode::FORBIDDEN, "cross-site request refused").into_response());
    }
    None
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
        for ok in [
            "127.0.0.1:9090",
            "127.0.0.1",
            "127.0.0.2",
            "127.255.255.254:1",
            "localhost:9090",
            "localhost",
            "LocalHost:80",
            "[::1]:9090",
            "[::1]",
            "[::ffff:127.0.0.1]:9090",
        ] {
            assert!(loopback_host(ok), "{ok}");
        }
        for bad in [
            "127.evil.example",
            "127.evil.example:9090",
            "127.0.0.1.evil.example",
            "127.0.0.1.nip.io:9090",
            "localhost.evil.example",
            "localhost.",
            "evil-localhost",
            "evil.example:9090",
            "evil.example",
            "[2001:db8::1]:80",
            "[::1]evil",
            "[::1",
            "10.0.0.1:9090",
            "0.0.0.0:9090",
            "127.1",
            "localhost:",
            "localhost:port",
            "localhost:9090:1",
            "",
            "::1",
        ] {
            assert!(!loopback_host(bad), "{bad}");
        }
    }

    fn request(hosts: &[&'static str]) -> Request {
        let mut request = Request::new(axum::body::Body::empty());
        for host in hosts {
            request
                .headers_mut()
                .append(header::HOST, HeaderValue::from_static(host));
        }
        request
    }

    #[test]
    fn every_host_copy_counts() {
        assert!(loopback_request(&request(&["127.0.0.1:9090"])));
        assert!(loopback_request(&request(&[])));
        assert!(!loopback_request(&request(&[
            "127.0.0.1:9090",
            "evil.example"
        ])));
        assert!(!loopback_request(&request(&[
            "127.0.0.1:9090",
            "127.0.0.1:9090"
        ])));
        let mut absolute = request(&[]);
        *absolute.uri_mut() = "http://evil.example/".parse().unwrap();
        assert!(!loopback_request(&absolute));
    }

    #[test]
    fn cookies_are_signed_and_expire() {
        let token = Secret::new("a+b;c d and more than thirty-two characters").unwrap();
        let now = 1_700_000_000;
        let lifetime = COOKIE_LIFETIME.as_secs();
        let value = cookie_value(&token, now + lifetime);
        let (expires, mac) = value.split_once('.').unwrap();
        assert_eq!(expires, (now + lifetime).to_string());
        assert_eq!(mac.len(), 64);
        assert!(mac.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!value.contains("a+b"));
        assert!(valid_cookie(&token, &value, now));
        assert!(valid_cookie(&token, &value, now + lifetime - 1));
        // Expired, or claiming to last longer than a cookie ever does.
        assert!(!valid_cookie(&token, &value, now + lifetime));
        assert!(!valid_cookie(&token, &value, now - 10));
        // Another expiry with the same signature, another token, garbage.
        let moved = format!("{}.{mac}", now + lifetime - 5);
        assert!(!valid_cookie(&token, &moved, now));
        let other = Secret::new("another token of at least thirty-two chars").unwrap();
        assert!(!valid_cookie(&other, &value, now));
        let no_expiry = format!(".{mac}");
        for garbage in ["", ".", "x.y", "1.", no_expiry.as_str()] {
            assert!(!valid_cookie(&token, garbage, now), "{garbage}");
        }
    }

    #[test]
    fn every_answer_is_hardened() {
        let mut headers = HeaderMap::new();
        harden(&mut headers);
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.starts_with("default-src 'none'; "), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("script-src"), "{policy}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
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
