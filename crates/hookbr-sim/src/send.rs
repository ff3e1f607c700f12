//! Sending as the providers do: one HTTP client without redirects or proxies, each provider's
//! per-attempt timeout and idea of "accepted", its retry schedule, and a [`Batch`] of
//! deliveries sent with bounded concurrency into a [`Report`].

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use hookbr_core::{Provider, rejection::DUPLICATE_HEADER};
use hookbr_tls::ClientTls;

use crate::{Error, Outgoing, random::random_number};

/// The most of an answer's body read (enough for hookbr's `{"status":N,"error":"..."}`).
const MAX_ANSWER: usize = 64 * 1024;

/// The receiver's answer to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The answer carried `Hookbr-Duplicate: true`.
    pub duplicate: bool,
    /// The `error` category of a rejection body (`{"status":N,"error":"..."}`), if any.
    pub error: Option<String>,
}

/// A reqwest client as a provider behaves, for plain `http://` targets: no redirects, no proxy
/// from the environment ([`client_with_tls`] for `https://`).
///
/// # Errors
///
/// [`Error`] when the client cannot start.
pub fn client() -> Result<reqwest::Client, Error> {
    client_with_tls(None)
}

/// [`client`] trusting `tls` for `https://` URLs (a private CA, or no verification on
/// loopback: the caller decides). `None`: no roots at all, for plain `http://` targets (an
/// `https://` one is then refused as not trusted); `Some(&ClientTls::system())` for the
/// system's roots.
///
/// # Errors
///
/// [`Error`] when the client cannot start or `tls` cannot be used (an unreadable CA file, no
/// system roots).
pub fn client_with_tls(tls: Option<&ClientTls>) -> Result<reqwest::Client, Error> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    let builder = match tls {
        Some(tls) => {
            let mut config = tls
                .config()
                .map_err(|error| Error::new(error.to_string()))?;
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            builder.use_preconfigured_tls(config)
        }
        None => builder,
    };
    builder
        .build()
        .map_err(|error| Error::new(format!("cannot start an HTTP client: {error}")))
}

/// The provider's per-attempt timeout: Foody 10 s (documented), BonifiQ 30 s (documented),
/// iSET and Grafeno 30 s (assumed).
#[must_use]
pub fn provider_timeout(provider: Provider) -> Duration {
    match provider {
        Provider::Foody => Duration::from_secs(10),
        _ => Duration::from_secs(30),
    }
}

/// Whether the provider counts `status` as delivered: exactly 200 for Foody, any 2xx for the
/// others.
#[must_use]
pub fn accepted(provider: Provider, status: u16) -> bool {
    match provider {
        Provider::Foody => status == 200,
        _ => (200..300).contains(&status),
    }
}

/// The waits before each retry of a delivery that was not accepted: Foody once after 60-120 s
/// (documented; random in that range); BonifiQ after 1 min, 5 min, 15 min, 1 h, 6 h (at most 5
/// retries; BonifiQ only documents "increasing backoff", so this schedule is an assumption);
/// iSET and Grafeno like BonifiQ (not documented either).
#[must_use]
pub fn retry_waits(provider: Provider) -> Vec<Duration> {
    match provider {
        Provider::Foody => vec![Duration::from_millis(random_number(60_000, 120_000))],
        _ => [60, 300, 900, 3600, 21_600]
            .into_iter()
            .map(Duration::from_secs)
            .collect(),
    }
}

/// `url` with `outgoing`'s query parameters appended (URL-encoded, existing ones kept).
fn target(url: &str, outgoing: &Outgoing) -> Result<reqwest::Url, String> {
    let mut url = reqwest::Url::parse(url).map_err(|error| format!("invalid URL: {error}"))?;
    let query = outgoing.query();
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &query {
            pairs.append_pair(name, value);
        }
    }
    Ok(url)
}

/// A transport error as text, without the URL (which may carry iSET's secret); a TLS failure
/// names the host and port only: `TLS handshake with 127.0.0.1:8443 failed: certificate not
/// trusted (unknown issuer)`.
fn transport_error(error: reqwest::Error, timeout: Duration, url: &reqwest::Url) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs_f64());
    }
    if let Some(why) = hookbr_tls::describe(&error) {
        let host = url.host_str().unwrap_or("the receiver");
        return match url.port_or_known_default() {
            Some(port) => format!("TLS handshake with {host}:{port} failed: {why}"),
            None => format!("TLS handshake with {host} failed: {why}"),
        };
    }
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The `error` of a `{"status":N,"error":"<category>"}` body, if it is one (a short code only:
/// nothing else of the receiver's answer is repeated).
fn error_category(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?.as_str()?;
    let short = !error.is_empty() && error.len() <= 64;
    let code = error
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    (short && code).then(|| error.to_owned())
}

/// Sends `outgoing` once to `url` (its query parameters appended), waiting at most `timeout`.
///
/// # Errors
///
/// A transport failure (invalid URL, connection refused, timeout), as text without the URL.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    outgoing: &Outgoing,
    timeout: Duration,
) -> Result<Answer, String> {
    let url = target(url, outgoing)?;
    let shown = url.clone();
    let wire = &outgoing.wire;
    let method = reqwest::Method::from_bytes(wire.method.as_bytes())
        .map_err(|_| format!("invalid method {:?}", wire.method))?;
    let mut request = client
        .request(method, url)
        .timeout(timeout)
        .body(wire.body.clone());
    for (name, value) in &wire.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let attempt = async {
        let mut response = request.send().await?;
        let status = response.status().as_u16();
        let duplicate = response
            .headers()
            .get(DUPLICATE_HEADER)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
        let mut body = Vec::new();
        while body.len() < MAX_ANSWER {
            match response.chunk().await? {
                Some(chunk) => body.extend_from_slice(&chunk),
                None => break,
            }
        }
        Ok::<_, reqwest::Error>(Answer {
            status,
            duplicate,
            error: error_category(&body),
        })
    };
    attempt
        .await
        .map_err(|error| transport_error(error, timeout, &shown))
}

/// What happened to one delivery.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Every attempt's answer (`Err` = transport error).
    pub attempts: Vec<Result<Answer, String>>,
    /// The last attempt was accepted.
    pub delivered: bool,
}

/// Deliveries to send to one URL, as a provider would: each waits for a free slot, and one
/// that is not accepted is retried after each of `retries` (a delivery waiting for its retry
/// holds no slot).
#[derive(Debug, Clone)]
pub struct Batch {
    /// Where to send, e.g. `http://127.0.0.1:8080/webhooks/bonifiq`.
    pub url: String,
    /// The deliveries, in order; the same delivery several times is a provider's resend.
    pub deliveries: Vec<Arc<Outgoing>>,
    /// The most requests in flight (at least 1).
    pub concurrency: usize,
    /// The waits before each retry ([`retry_waits`], scaled as the caller likes); empty for no
    /// retries.
    pub retries: Vec<Duration>,
}

impl Batch {
    /// Sends every delivery and waits for all of them (and their retries), calling `on_done`
    /// as each delivery finishes (a progress bar).
    pub async fn send(
        self,
        client: &reqwest::Client,
        on_done: impl Fn() + Send + Sync + 'static,
    ) -> Report {
        let mut delivery_ids: Vec<String> = Vec::new();
        for outgoing in &self.deliveries {
            if delivery_ids.last() != Some(&outgoing.delivery_id) {
                delivery_ids.push(outgoing.delivery_id.clone());
            }
        }
        let kind = self
            .deliveries
            .first()
            .map(|outgoing| outgoing.kind.clone())
            .unwrap_or_default();
        let url: Arc<str> = Arc::from(self.url.as_str());
        let on_done = Arc::new(on_done);
        let slots = Arc::new(tokio::sync::Semaphore::new(self.concurrency.max(1)));
        let results: Arc<Mutex<Vec<Option<Outcome>>>> = Arc::new(Mutex::new(
            (0..self.deliveries.len()).map(|_| None).collect(),
        ));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, outgoing) in self.deliveries.into_iter().enumerate() {
            let (client, url, slots, retries) = (
                client.clone(),
                url.clone(),
                slots.clone(),
                self.retries.clone(),
            );
            let (results, on_done) = (results.clone(), on_done.clone());
            tasks.spawn(async move {
                let outcome = deliver(client, url, outgoing, slots, retries).await;
                on_done();
                let mut results = results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(outcome);
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        let mut results = results
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let outcomes = std::mem::take(&mut *results)
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        Report {
            kind,
            outcomes,
            delivery_ids,
        }
    }
}

/// Sends one delivery, retrying as the provider would when asked to.
async fn deliver(
    client: reqwest::Client,
    url: Arc<str>,
    outgoing: Arc<Outgoing>,
    slots: Arc<tokio::sync::Semaphore>,
    retries: Vec<Duration>,
) -> Outcome {
    let timeout = provider_timeout(outgoing.provider);
    let mut outcome = Outcome::default();
    let mut waits = retries.into_iter();
    loop {
        let answer = {
            let Ok(_slot) = slots.acquire().await else {
                break;
            };
            post(&client, &url, &outgoing, timeout).await
        };
        let ok = answer
            .as_ref()
            .is_ok_and(|answer| accepted(outgoing.provider, answer.status));
        outcome.attempts.push(answer);
        if ok {
            outcome.delivered = true;
            break;
        }
        match waits.next() {
            Some(wait) => tokio::time::sleep(wait).await,
            None => break,
        }
    }
    outcome
}

/// Checks the target URL: absolute, http or https, with a host.
pub fn check_url(url: &str) -> Result<(), Error> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|error| Error::new(format!("invalid URL {url:?}: {error}")))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => {
            return Err(Error::new(format!(
                "invalid URL: scheme {other:?}, expected http or https"
            )));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::new("invalid URL: no host"));
    }
    Ok(())
}

/// The TLS client of an `https://` target (`None` for `http://`), from --ca-file and
/// --insecure-skip-verify; the CA file is read now, so a bad one is a usage error (exit 2).
///
/// # Errors
///
/// The flags do not fit the URL, an unverified certificate off loopback, or an unreadable CA
/// file.
pub fn target_tls(
    url: &str,
    ca_file: Option<&Path>,
    insecure: bool,
) -> Result<Option<ClientTls>, Error> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|error| Error::new(format!("invalid URL {url:?}: {error}")))?;
    if parsed.scheme() != "https" {
        if ca_file.is_some() || insecure {
            return Err(Error::new(
                "--ca-file and --insecure-skip-verify apply to https:// URLs only",
            ));
        }
        return Ok(None);
    }
    let host = parsed.host_str().unwrap_or_default();
    let tls = match (ca_file, insecure) {
        (Some(_), true) => {
            return Err(Error::new(
                "--insecure-skip-verify excludes --ca-file (which verifies the certificate)",
            ));
        }
        (None, true) if !hookbr_tls::is_loopback_host(host) => {
            return Err(Error::new(format!(
                "--insecure-skip-verify refused for host {host}: an unverified certificate is \
                 accepted only on loopback (127.0.0.1, ::1, localhost); trust the receiver's CA \
                 with --ca-file instead"
            )));
        }
        (None, true) => ClientTls::insecure(),
        (Some(path), false) => ClientTls::ca_file(path),
        (None, false) => ClientTls::system(),
    };
    tls.config()
        .map_err(|error| Error::new(format!("--ca-file: {error}")))?;
    Ok(Some(tls))
}

/// Removes the query parameter `name` from `url`: (the URL without it, its value); `None` when
/// `url` does not parse or has no such parameter.
#[must_use]
pub fn take_query_param(url: &str, name: &str) -> Option<(String, String)> {
    let mut parsed = reqwest::Url::parse(url).ok()?;
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let value = pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())?;
    let rest: Vec<&(String, String)> = pairs.iter().filter(|(key, _)| key != name).collect();
    parsed.set_query(None);
    if !rest.is_empty() {
        parsed
            .query_pairs_mut()
            .extend_pairs(rest.iter().map(|(key, value)| (key, value)));
    }
    Some((parsed.to_string(), value))
}

/// What a [`Batch`] did: the summary `hookbr send` prints, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The first delivery's kind, as `hookbr decode` prints it.
    pub kind: String,
    /// One outcome per delivery, in the batch's order.
    pub outcomes: Vec<Outcome>,
    /// The distinct delivery ids sent, in order (what the receiver dedupes on).
    pub delivery_ids: Vec<String>,
}

impl Report {
    /// HTTP attempts, retries included.
    #[must_use]
    pub fn attempts(&self) -> usize {
        self.outcomes.iter().map(|o| o.attempts.len()).sum()
    }

    /// Deliveries finally accepted.
    #[must_use]
    pub fn delivered(&self) -> usize {
        self.outcomes.iter().filter(|o| o.delivered).count()
    }

    /// Deliveries not accepted.
    #[must_use]
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.delivered()
    }

    /// Every attempt's answer, delivery by delivery.
    pub fn all_attempts(&self) -> impl Iterator<Item = &Result<Answer, String>> {
        self.outcomes.iter().flat_map(|o| o.attempts.iter())
    }

    /// The lines `hookbr send` prints: one per kind of answer with its count (`200 processed ×3`,
    /// `401 rejected (unauthorized) ×1`, `transport error ×1`…), then
    /// `sent N deliveries in A attempts: D accepted, F not accepted`.
    #[must_use]
    pub fn summary_lines(&self, provider: Provider) -> Vec<String> {
        let report = self;
        let mut counts: BTreeMap<(u16, String), usize> = BTreeMap::new();
        for attempt in report.all_attempts() {
            *counts.entry(label(provider, attempt)).or_default() += 1;
        }
        let mut lines: Vec<String> = counts
            .into_iter()
            .map(|((_, text), count)| format!("{text} ×{count}"))
            .collect();
        let sent = report.outcomes.len();
        let attempts = report.attempts();
        lines.push(format!(
            "sent {sent} {} in {attempts} {}: {} accepted, {} not accepted",
            if sent == 1 { "delivery" } else { "deliveries" },
            if attempts == 1 { "attempt" } else { "attempts" },
            report.delivered(),
            report.failed()
        ));
        lines
    }

    /// The `--json` summary `hookbr send` prints (one object; its field order is part of the
    /// output).
    #[must_use]
    pub fn summary_json(&self, provider: Provider) -> String {
        let report = self;
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        let (mut duplicates, mut transport_errors) = (0, 0);
        for attempt in report.all_attempts() {
            match attempt {
                Ok(answer) => {
                    *statuses.entry(answer.status.to_string()).or_default() += 1;
                    if answer.duplicate {
                        duplicates += 1;
                    }
                }
                Err(_) => transport_errors += 1,
            }
        }
        let summary = JsonSummary {
            sent: report.outcomes.len(),
            attempts: report.attempts(),
            statuses,
            duplicates,
            transport_errors,
            delivery_ids: &report.delivery_ids,
            delivered: report.delivered(),
            failed: report.failed(),
            provider: provider.as_str(),
            kind: &report.kind,
        };
        serde_json::to_string(&summary).unwrap_or_default()
    }
}

/// A summary line's label for one attempt.
fn label(provider: Provider, attempt: &Result<Answer, String>) -> (u16, String) {
    match attempt {
        Err(_) => (u16::MAX, "transport error".to_owned()),
        Ok(answer) => {
            let status = answer.status;
            let text = if accepted(provider, status) {
                if answer.duplicate {
                    format!("{status} duplicate")
                } else {
                    match answer.error.as_deref() {
                        // hookbr's own 200s: a Foody handshake, an inbox commit.
                        Some(category) if category != "duplicate" => {
                            format!("{status} processed ({category})")
                        }
                        Some(_) => format!("{status} duplicate"),
                        None => format!("{status} processed"),
                    }
                }
            } else if (200..300).contains(&status) {
                format!("{status} not accepted ({provider} needs exactly 200)")
            } else {
                match answer.error.as_deref() {
                    Some(category) => format!("{status} rejected ({category})"),
                    None => format!("{status} rejected"),
                }
            };
            (status, text)
        }
    }
}

/// The `--json` summary; the field order is part of the output.
#[derive(serde::Serialize)]
struct JsonSummary<'a> {
    sent: usize,
    attempts: usize,
    statuses: BTreeMap<String, usize>,
    duplicates: usize,
    transport_errors: usize,
    delivery_ids: &'a [String],
    delivered: usize,
    failed: usize,
    provider: &'static str,
    kind: &'a str,
}

#[cfg(test)]
mod tests {
    use hookbr_core::testkit::TestDelivery;

    use super::*;

    #[test]
    fn iset_secrets_can_come_from_the_url() {
        let (rest, secret) =
            take_query_param("http://h:1/iset?a=1&token=s%26cr+t&b=2", "token").unwrap();
        assert_eq!(secret, "s&cr t");
        assert_eq!(rest, "http://h:1/iset?a=1&b=2");
        let (rest, _) = take_query_param("http://h:1/iset?token=x", "token").unwrap();
        assert_eq!(rest, "http://h:1/iset");
        assert!(take_query_param("http://h:1/iset?a=1", "token").is_none());
    }

    #[test]
    fn tls_flags_are_checked() {
        assert_eq!(target_tls("http://127.0.0.1/x", None, false).unwrap(), None);
        assert!(
            target_tls("https://127.0.0.1/x", None, true)
                .unwrap()
                .is_some()
        );
        assert!(target_tls("https://[::1]:8443/x", None, true).is_ok());
        assert!(target_tls("https://localhost/x", None, true).is_ok());
        for (url, ca, insecure, expected) in [
            (
                "https://app.example/x",
                None,
                true,
                "refused for host app.example",
            ),
            (
                "https://10.1.2.3/x",
                None,
                true,
                "refused for host 10.1.2.3",
            ),
            ("http://127.0.0.1/x", None, true, "https:// URLs only"),
            (
                "http://127.0.0.1/x",
                Some("ca.pem"),
                false,
                "https:// URLs only",
            ),
            (
                "https://127.0.0.1/x",
                Some("ca.pem"),
                true,
                "excludes --ca-file",
            ),
            (
                "https://127.0.0.1/x",
                Some("/missing/ca.pem"),
                false,
                "/missing/ca.pem",
            ),
        ] {
            let error = target_tls(url, ca.map(Path::new), insecure)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{url}: {error}");
        }
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("https://example.com/x").is_ok());
        for bad in ["ftp://x/", "not a url", "/relative"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels() {
        let answer = |status, duplicate, error: Option<&str>| {
            Ok(Answer {
                status,
                duplicate,
                error: error.map(str::to_owned),
            })
        };
        let p = Provider::Bonifiq;
        assert_eq!(label(p, &answer(200, false, None)).1, "200 processed");
        assert_eq!(
            label(p, &answer(200, true, Some("duplicate"))).1,
            "200 duplicate"
        );
        assert_eq!(
            label(p, &answer(401, false, Some("unauthorized"))).1,
            "401 rejected (unauthorized)"
        );
        assert_eq!(
            label(Provider::Foody, &answer(200, false, Some("handshake"))).1,
            "200 processed (handshake)"
        );
        assert_eq!(label(p, &Err("refused".into())).1, "transport error");
    }

    fn outgoing(query: &[(&str, &str)]) -> Outgoing {
        let mut outgoing = Outgoing {
            provider: Provider::Iset,
            kind: "order_upserted".into(),
            delivery_id: "x".into(),
            wire: TestDelivery {
                method: "POST".into(),
                target: "/".into(),
                headers: Vec::new(),
                body: Vec::new(),
            },
        };
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        outgoing.set_query(&pairs);
        outgoing
    }

    #[test]
    fn query_parameters_are_encoded_and_appended() {
        let url = target(
            "http://127.0.0.1:9/iset/orders?a=1",
            &outgoing(&[("token", "s3 cr&t+/=")]),
        )
        .unwrap();
        assert_eq!(url.path(), "/iset/orders");
        assert_eq!(url.query(), Some("a=1&token=s3+cr%26t%2B%2F%3D"));
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs[1], ("token".into(), "s3 cr&t+/=".into()));
        let plain = target("http://127.0.0.1:9/x", &outgoing(&[])).unwrap();
        assert_eq!(plain.query(), None);
    }

    #[test]
    fn error_categories_are_short_codes_only() {
        assert_eq!(
            error_category(br#"{"status":401,"error":"unauthorized"}"#),
            Some("unauthorized".into())
        );
        assert_eq!(error_category(b"not json"), None);
        assert_eq!(
            error_category(br#"{"error":"has spaces and secrets"}"#),
            None
        );
        assert_eq!(error_category(br#"{"error":5}"#), None);
    }

    #[test]
    fn acceptance_follows_the_provider() {
        assert!(accepted(Provider::Foody, 200));
        assert!(!accepted(Provider::Foody, 204));
        assert!(accepted(Provider::Bonifiq, 204));
        assert!(!accepted(Provider::Grafeno, 302));
        assert_eq!(provider_timeout(Provider::Foody), Duration::from_secs(10));
        assert_eq!(provider_timeout(Provider::Iset), Duration::from_secs(30));
    }

    #[test]
    fn retry_schedules() {
        for _ in 0..20 {
            let foody = retry_waits(Provider::Foody);
            assert_eq!(foody.len(), 1);
            assert!((60..=120).contains(&foody[0].as_secs()), "{foody:?}");
        }
        let bonifiq = retry_waits(Provider::Bonifiq);
        assert_eq!(bonifiq.len(), 5);
        assert!(bonifiq.windows(2).all(|w| w[0] < w[1]), "increasing");
    }
}
