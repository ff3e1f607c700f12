//! `hookbr send`: a provider simulator.
//!
//! Builds one delivery (a built-in sample or a file, see [`crate::samples`]), sends it like the
//! provider would (same headers, body, credentials, per-attempt timeout and, on request, the
//! same retries), and prints a summary of the answers.

use std::{
    collections::BTreeMap,
    io::IsTerminal as _,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use hookbr_core::{Provider, rejection::DUPLICATE_HEADER};

use crate::{
    Failure, print_line,
    samples::{self, Credentials, Outgoing, SigningKey, Tamper},
};

/// The most deliveries one run sends (`--repeat`).
const MAX_REPEAT: usize = 100_000;
/// The most requests in flight (`--concurrency`).
const MAX_CONCURRENCY: usize = 256;
/// The most of an answer's body read (enough for hookbr's `{"status":N,"error":"..."}`).
const MAX_ANSWER: usize = 64 * 1024;

/// `hookbr send` arguments.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub(crate) struct Args {
    /// The provider to imitate: bonifiq, foody, iset or grafeno.
    provider: String,
    /// Where to send, e.g. http://127.0.0.1:8080/webhooks/bonifiq (plain http; query
    /// parameters already in the URL are kept).
    url: String,
    /// Which built-in sample (default: the provider's most common one). bonifiq: Point_Add,
    /// Point_Remove, Point_Update, the 11 Communication_* topics hookbr knows, or `unknown` (a
    /// topic hookbr has no type for); foody: order_status_updated (status dispatched),
    /// hook_test, or a status (open, ready, dispatched, delivered, closed, cancelled,
    /// canceled); iset: order_upserted, order_deleted, product_upserted, product_deleted,
    /// stock_changed, category_upserted, category_deleted (the receiver picks the kind by URL:
    /// this only picks the body); grafeno: approved, rejected, validation_pendencies,
    /// boleto-criado, boleto-falha-registro, cobranca-atualizacao, atualizacao-cobranca, or
    /// `unknown`.
    #[arg(long, value_name = "KIND")]
    kind: Option<String>,
    /// Send this body instead of a built-in sample. Ids are refreshed (BonifiQ Uuid, Foody uid,
    /// iSET entity id, Grafeno data id), Foody's token is set to --token, Grafeno's signature
    /// and x-unique-key are made with --private-key; every other byte is sent as is.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// bonifiq: the secret header's value; iset: the secret in the URL (without --secret, a
    /// token=... already in URL is used). A value, env:NAME or file:PATH.
    #[arg(long, value_name = "SECRET", allow_hyphen_values = true)]
    secret: Option<String>,
    /// bonifiq: the header carrying --secret [default: X-Loyalty-Secret]; iset: send the secret
    /// in this header instead of the URL.
    #[arg(long, value_name = "NAME")]
    secret_header: Option<String>,
    /// iset: the query parameter carrying --secret [default: token].
    #[arg(long, value_name = "NAME")]
    secret_param: Option<String>,
    /// foody: the trigger's token, sent in the body. A value, env:NAME or file:PATH.
    #[arg(long, value_name = "TOKEN", allow_hyphen_values = true)]
    token: Option<String>,
    /// grafeno: the RSA private key (PKCS#8 or PKCS#1 PEM) that signs x-unique-key; make one
    /// with `hookbr keygen`. A path, file:PATH or env:NAME (PEM text).
    #[arg(long, value_name = "PEM_FILE")]
    private_key: Option<String>,
    /// Send the delivery N times: the same delivery (what a provider's retry or duplicate
    /// looks like), or N different ones with --fresh.
    #[arg(long, value_name = "N", default_value_t = 1)]
    repeat: usize,
    /// Build a new delivery (fresh ids) for each of the --repeat N sends.
    #[arg(long)]
    fresh: bool,
    /// Keep up to C requests in flight (a delivery waiting for its retry holds no slot). Copies
    /// of one delivery in flight at the same time may be answered 409 (in flight) by hookbr,
    /// as a provider's overlapping retries would.
    #[arg(long, value_name = "C", default_value_t = 1)]
    concurrency: usize,
    /// Spoil each delivery: `signature` (flip Grafeno's signature; a wrong secret or token for
    /// the others), `header` (another Grafeno x-unique-key; drop BonifiQ's secret header,
    /// Foody's token, iSET's URL secret) or `body` (change the body after signing: Grafeno's
    /// `change` stops matching x-unique-key; BonifiQ, Foody and iSET do not protect the body,
    /// so receivers accept that one).
    #[arg(long, value_name = "HOW")]
    tamper: Option<Tamper>,
    /// When an attempt is not accepted (no 2xx; Foody: no 200) or fails, retry as the provider
    /// does: Foody once more after 60-120 s (documented); BonifiQ after 1 min, 5 min, 15 min,
    /// 1 h, 6 h (at most 5 retries; BonifiQ only documents "increasing backoff", so this
    /// schedule is an assumption); iSET and Grafeno like BonifiQ (not documented either).
    #[arg(long)]
    retry_like_provider: bool,
    /// Multiply every wait by X (0 < X <= 1000): --time-scale 0.001 turns 60 s into 60 ms.
    #[arg(
        long,
        value_name = "X",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    time_scale: f64,
    /// Print the summary as one JSON object (its fields: see --help).
    #[arg(long)]
    json: bool,
}

const AFTER_HELP: &str = "\
Each attempt waits at most the provider's timeout: Foody 10 s (documented), BonifiQ 30 s
(documented), iSET and Grafeno 30 s (assumed). Redirects are not followed.

Summary (stdout): one line per distinct answer with its count, e.g.
  200 processed ×1
  200 duplicate ×2            (answered with Hookbr-Duplicate: true)
  401 rejected (unauthorized) ×1   (the error category of hookbr's JSON answer)
  transport error ×1          (connection refused, timeout; details on stderr)
then `sent N deliveries in A attempts: D accepted, F not accepted`.

With --json, one object instead:
  {\"sent\": deliveries, \"attempts\": HTTP attempts (retries included),
   \"statuses\": {\"<status>\": attempts answered with it}, \"duplicates\": attempts answered
   as duplicates (Hookbr-Duplicate: true), \"transport_errors\": attempts without an answer,
   \"delivery_ids\": the distinct delivery ids sent (what the receiver dedupes on), in order,
   \"delivered\": deliveries finally accepted, \"failed\": deliveries not accepted,
   \"provider\", \"kind\": as `hookbr decode` prints them}

Exit status: 0 when every delivery was finally accepted (2xx; exactly 200 for Foody), 1 when
at least one was not, 2 for usage errors (bad URL, missing credential, unreadable file or key).

Secrets given as env:NAME or file:PATH are read from there; any other value is taken
literally. They are never printed.

Examples:
  hookbr send bonifiq http://127.0.0.1:8080/webhooks/bonifiq --secret env:BONIFIQ_SECRET
  hookbr send foody http://127.0.0.1:8080/webhooks/foody --token file:foody.token --repeat 3
  hookbr send iset http://127.0.0.1:8080/webhooks/iset/orders --secret s3cr3t --fresh --repeat 100 --concurrency 10
  hookbr keygen && hookbr send grafeno http://127.0.0.1:8080/webhooks/grafeno --private-key grafeno-sim.key.pem --tamper body";

/// The receiver's answer to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The answer carried `Hookbr-Duplicate: true`.
    pub(crate) duplicate: bool,
    /// The `error` category of a rejection body (`{"status":N,"error":"..."}`), if any.
    pub(crate) error: Option<String>,
}

/// A reqwest client as a provider behaves: no redirects, no proxy from the environment.
pub(crate) fn client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|error| Failure::usage(format!("cannot start an HTTP client: {error}")))
}

/// The provider's per-attempt timeout: Foody 10 s (documented), BonifiQ 30 s (documented),
/// iSET and Grafeno 30 s (assumed).
pub(crate) fn provider_timeout(provider: Provider) -> Duration {
    match provider {
        Provider::Foody => Duration::from_secs(10),
        _ => Duration::from_secs(30),
    }
}

/// Whether the provider counts `status` as delivered: exactly 200 for Foody, any 2xx for the
/// others.
pub(crate) fn accepted(provider: Provider, status: u16) -> bool {
    match provider {
        Provider::Foody => status == 200,
        _ => (200..300).contains(&status),
    }
}

/// `url` with `outgoing`'s query parameters appended (URL-encoded, existing ones kept).
fn target(url: &str, outgoing: &Outgoing) -> Result<reqwest::Url, String> {
    let mut url = reqwest::Url::parse(url).map_err(|error| format!("invalid URL: {error}"))?;
    if !outgoing.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &outgoing.query {
            pairs.append_pair(name, value);
        }
    }
    Ok(url)
}

/// A transport error as text, without the URL (which may carry iSET's secret).
fn transport_error(error: reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs_f64());
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

/// Sends `outgoing` once to `url` (query parameters appended), waiting at most `timeout`.
///
/// `Err` is a transport failure (connection refused, timeout), as text.
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    outgoing: &Outgoing,
    timeout: Duration,
) -> Result<Answer, String> {
    let url = target(url, outgoing)?;
    let method = reqwest::Method::from_bytes(outgoing.method.as_bytes())
        .map_err(|_| format!("invalid method {:?}", outgoing.method))?;
    let mut request = client
        .request(method, url)
        .timeout(timeout)
        .body(outgoing.body.clone());
    for (name, value) in &outgoing.headers {
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
        .map_err(|error| transport_error(error, timeout))
}

/// The waits before each retry, unscaled: Foody once after 60-120 s (random); the others
/// 1 min, 5 min, 15 min, 1 h, 6 h (assumed).
fn retry_waits(provider: Provider) -> Vec<Duration> {
    match provider {
        Provider::Foody => vec![Duration::from_millis(samples::random_number(
            60_000, 120_000,
        ))],
        _ => [60, 300, 900, 3600, 21_600]
            .into_iter()
            .map(Duration::from_secs)
            .collect(),
    }
}

/// Resolves `env:NAME` and `file:PATH` references; other values are literal.
fn resolve(flag: &str, value: &str) -> Result<String, Failure> {
    crate::config::resolve_value(value)
        .map_err(|message| Failure::usage(format!("{flag}: {message}")))
}

/// Reads `--private-key`: a path, `file:PATH`, `env:NAME` or the PEM text itself.
fn signing_key(value: &str) -> Result<SigningKey, Failure> {
    let pem = if value.trim_start().starts_with("-----BEGIN") {
        value.to_owned()
    } else if value.starts_with("env:") || value.starts_with("file:") {
        resolve("--private-key", value)?
    } else {
        std::fs::read_to_string(value)
            .map_err(|error| Failure::usage(format!("--private-key {value}: {error}")))?
    };
    SigningKey::from_pem(&pem)
        .map_err(|failure| Failure::usage(format!("--private-key: {}", failure.message)))
}

/// Refuses flags that do not apply to `provider`.
fn check_flags(args: &Args, provider: Provider) -> Result<(), Failure> {
    let flags: [(&str, bool, &[Provider]); 5] = [
        (
            "--secret",
            args.secret.is_some(),
            &[Provider::Bonifiq, Provider::Iset],
        ),
        (
            "--secret-header",
            args.secret_header.is_some(),
            &[Provider::Bonifiq, Provider::Iset],
        ),
        (
            "--secret-param",
            args.secret_param.is_some(),
            &[Provider::Iset],
        ),
        ("--token", args.token.is_some(), &[Provider::Foody]),
        (
            "--private-key",
            args.private_key.is_some(),
            &[Provider::Grafeno],
        ),
    ];
    for (flag, present, allowed) in flags {
        if present && !allowed.contains(&provider) {
            return Err(Failure::usage(format!(
                "{flag} does not apply to {provider}"
            )));
        }
    }
    if args.secret_header.is_some() && args.secret_param.is_some() {
        return Err(Failure::usage(
            "--secret-header and --secret-param exclude each other (iset: the secret goes in a \
             header or in the URL)",
        ));
    }
    Ok(())
}

/// Checks the target URL: absolute, plain http (this build has no TLS), with a host.
fn check_url(url: &str) -> Result<(), Failure> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|error| Failure::usage(format!("invalid URL {url:?}: {error}")))?;
    match parsed.scheme() {
        "http" => {}
        "https" => {
            return Err(Failure::usage(
                "https URLs are not supported by hookbr send (no TLS in this build): send to \
                 the receiver's plain http address, e.g. http://127.0.0.1:8080/...",
            ));
        }
        other => {
            return Err(Failure::usage(format!(
                "invalid URL: scheme {other:?}, expected http"
            )));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Failure::usage("invalid URL: no host"));
    }
    Ok(())
}

/// Removes the query parameter `name` from `url`: (the URL without it, its value).
fn take_query_param(url: &str, name: &str) -> Option<(String, String)> {
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

/// What happened to one delivery.
#[derive(Debug, Default)]
struct Outcome {
    /// Every attempt's answer (`Err` = transport error).
    attempts: Vec<Result<Answer, String>>,
    /// The last attempt was accepted.
    delivered: bool,
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

/// Everything a run reports.
#[derive(Debug)]
struct Report {
    provider: Provider,
    kind: String,
    outcomes: Vec<Outcome>,
    delivery_ids: Vec<String>,
}

impl Report {
    fn attempts(&self) -> usize {
        self.outcomes.iter().map(|o| o.attempts.len()).sum()
    }

    fn delivered(&self) -> usize {
        self.outcomes.iter().filter(|o| o.delivered).count()
    }

    fn all_attempts(&self) -> impl Iterator<Item = &Result<Answer, String>> {
        self.outcomes.iter().flat_map(|o| o.attempts.iter())
    }

    fn lines(&self) -> Vec<String> {
        let mut counts: BTreeMap<(u16, String), usize> = BTreeMap::new();
        for attempt in self.all_attempts() {
            *counts.entry(label(self.provider, attempt)).or_default() += 1;
        }
        let mut lines: Vec<String> = counts
            .into_iter()
            .map(|((_, text), count)| format!("{text} ×{count}"))
            .collect();
        let sent = self.outcomes.len();
        let delivered = self.delivered();
        lines.push(format!(
            "sent {sent} {} in {} {}: {delivered} accepted, {} not accepted",
            if sent == 1 { "delivery" } else { "deliveries" },
            self.attempts(),
            if self.attempts() == 1 {
                "attempt"
            } else {
                "attempts"
            },
            sent - delivered
        ));
        lines
    }

    fn json(&self) -> String {
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        let (mut duplicates, mut transport_errors) = (0, 0);
        for attempt in self.all_attempts() {
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
            sent: self.outcomes.len(),
            attempts: self.attempts(),
            statuses,
            duplicates,
            transport_errors,
            delivery_ids: &self.delivery_ids,
            delivered: self.delivered(),
            failed: self.outcomes.len() - self.delivered(),
            provider: self.provider.as_str(),
            kind: &self.kind,
        };
        serde_json::to_string(&summary).unwrap_or_default()
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

/// Runs `hookbr send`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let provider: Provider = args
        .provider
        .parse()
        .map_err(|error| Failure::usage(format!("{error}")))?;
    check_flags(args, provider)?;
    check_url(&args.url)?;
    if args.repeat == 0 || args.repeat > MAX_REPEAT {
        return Err(Failure::usage(format!(
            "--repeat {}: expected 1 to {MAX_REPEAT}",
            args.repeat
        )));
    }
    if args.concurrency == 0 || args.concurrency > MAX_CONCURRENCY {
        return Err(Failure::usage(format!(
            "--concurrency {}: expected 1 to {MAX_CONCURRENCY}",
            args.concurrency
        )));
    }
    let scale = args.time_scale;
    if !(scale.is_finite() && scale > 0.0 && scale <= 1000.0) {
        return Err(Failure::usage(format!(
            "--time-scale {scale}: expected a number above 0 and at most 1000"
        )));
    }
    let mut url = args.url.clone();
    let mut secret = args
        .secret
        .as_deref()
        .map(|value| resolve("--secret", value))
        .transpose()?;
    if provider == Provider::Iset && secret.is_none() && args.secret_header.is_none() {
        // The URL registered in iSET's panel may carry the secret already: take it from there.
        let param = args.secret_param.as_deref().unwrap_or("token");
        if let Some((rest, value)) = take_query_param(&url, param) {
            url = rest;
            secret = Some(value);
        }
    }
    let credentials = Credentials {
        secret,
        secret_header: args.secret_header.clone(),
        secret_param: args.secret_param.clone(),
        token: args
            .token
            .as_deref()
            .map(|value| resolve("--token", value))
            .transpose()?,
        signing_key: args.private_key.as_deref().map(signing_key).transpose()?,
    };
    let file = args
        .file
        .as_ref()
        .map(|path| {
            std::fs::read(path)
                .map_err(|error| Failure::usage(format!("--file {}: {error}", path.display())))
        })
        .transpose()?;
    let build = || -> Result<Outgoing, Failure> {
        let mut outgoing = samples::build(
            provider,
            args.kind.as_deref(),
            file.as_deref(),
            &credentials,
        )?;
        if let Some(how) = args.tamper {
            samples::tamper(&mut outgoing, how);
        }
        Ok(outgoing)
    };
    let deliveries: Vec<Arc<Outgoing>> = if args.fresh {
        (0..args.repeat)
            .map(|_| build().map(Arc::new))
            .collect::<Result<_, _>>()?
    } else {
        let one = Arc::new(build()?);
        vec![one; args.repeat]
    };
    let mut delivery_ids: Vec<String> = Vec::new();
    for outgoing in &deliveries {
        if delivery_ids.last() != Some(&outgoing.delivery_id) {
            delivery_ids.push(outgoing.delivery_id.clone());
        }
    }
    let kind = deliveries
        .first()
        .map(|outgoing| outgoing.kind.clone())
        .unwrap_or_default();
    let retries: Vec<Duration> = if args.retry_like_provider {
        retry_waits(provider)
            .into_iter()
            .map(|wait| Duration::try_from_secs_f64(wait.as_secs_f64() * scale))
            .collect::<Result<_, _>>()
            .map_err(|_| Failure::usage("--time-scale is too large"))?
    } else {
        Vec::new()
    };

    let client = client()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::usage(format!("cannot start the runtime: {error}")))?;
    let progress = (deliveries.len() > 1 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(deliveries.len() as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} deliveries, {elapsed} elapsed",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let url: Arc<str> = Arc::from(url.as_str());
    let outcomes = runtime.block_on(async {
        let slots = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
        let results: Arc<Mutex<Vec<Option<Outcome>>>> =
            Arc::new(Mutex::new((0..deliveries.len()).map(|_| None).collect()));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, outgoing) in deliveries.iter().enumerate() {
            let (client, url, outgoing, slots, retries) = (
                client.clone(),
                url.clone(),
                outgoing.clone(),
                slots.clone(),
                retries.clone(),
            );
            let (results, progress) = (results.clone(), progress.clone());
            tasks.spawn(async move {
                let outcome = deliver(client, url, outgoing, slots, retries).await;
                if let Some(bar) = &progress {
                    bar.inc(1);
                }
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
        std::mem::take(&mut *results)
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect::<Vec<_>>()
    });
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }

    let report = Report {
        provider,
        kind,
        outcomes,
        delivery_ids,
    };
    // Transport errors, once each, on stderr.
    let mut errors: BTreeMap<&str, usize> = BTreeMap::new();
    for attempt in report.all_attempts() {
        if let Err(error) = attempt {
            *errors.entry(error.as_str()).or_default() += 1;
        }
    }
    for (error, count) in errors {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr().lock(),
            format!("hookbr: transport error ×{count}: {error}\n").as_bytes(),
        );
    }
    if args.json {
        print_line(&report.json());
    } else {
        for line in report.lines() {
            print_line(&line);
        }
    }
    let failed = report.outcomes.len() - report.delivered();
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::rejected(format!(
            "{failed} of {} {} not accepted",
            report.outcomes.len(),
            if report.outcomes.len() == 1 {
                "delivery was"
            } else {
                "deliveries were"
            }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(query: &[(&str, &str)]) -> Outgoing {
        Outgoing {
            provider: Provider::Iset,
            kind: "order_upserted".into(),
            delivery_id: "x".into(),
            method: "POST",
            query: query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            headers: Vec::new(),
            body: Vec::new(),
        }
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

    #[test]
    fn references_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "from-file\n").unwrap();
        assert_eq!(
            resolve("--secret", &format!("file:{}", path.display())).unwrap(),
            "from-file"
        );
        assert_eq!(resolve("--secret", "plain").unwrap(), "plain");
        let missing = resolve("--secret", "env:HOOKBR_SEND_TEST_SURELY_UNSET").unwrap_err();
        assert_eq!(missing.code, 2);
        assert!(missing.message.contains("HOOKBR_SEND_TEST_SURELY_UNSET"));
        assert!(resolve("--token", "file:/nonexistent/hookbr").is_err());
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
    fn urls_are_checked() {
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        for bad in [
            "https://example.com/x",
            "ftp://x/",
            "not a url",
            "/relative",
        ] {
            assert_eq!(check_url(bad).unwrap_err().code, 2, "{bad}");
        }
    }
}
