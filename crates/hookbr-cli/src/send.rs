//! `hookbr send`: a provider simulator.
//!
//! Builds one delivery (a built-in sample or a file, see [`hookbr_sim::build`]), sends it like
//! the provider would (same headers, body, credentials, per-attempt timeout and, on request, the
//! same retries: [`hookbr_sim::send`]), and prints a summary of the answers. This module holds
//! the arguments, their checks and the printing.

use std::{collections::BTreeMap, io::IsTerminal as _, path::PathBuf, sync::Arc, time::Duration};

use hookbr_core::Provider;
use hookbr_sim::{
    Credentials, Outgoing, SigningKey, Tamper,
    send::{self, Batch},
};

use crate::{Failure, print_line};

/// The most deliveries one run sends (`--repeat`).
const MAX_REPEAT: usize = 100_000;
/// The most requests in flight (`--concurrency`).
const MAX_CONCURRENCY: usize = 256;

/// `hookbr send` arguments.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub(crate) struct Args {
    /// The provider to imitate: bonifiq, foody, iset or grafeno.
    provider: String,
    /// Where to send, e.g. http://127.0.0.1:8080/webhooks/bonifiq, or https:// (verified against
    /// the system's roots, or --ca-file); query parameters already in the URL are kept.
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
    tamper: Option<TamperArg>,
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
    /// https: trust only the CA certificates (PEM) in this file instead of the system's roots
    /// (a private CA, or the receiver's own self-signed certificate).
    #[arg(long, value_name = "PEM_FILE")]
    ca_file: Option<PathBuf>,
    /// https: do not verify the receiver's certificate at all. Refused unless the URL's host is
    /// loopback (127.0.0.1, ::1 or localhost).
    #[arg(long)]
    insecure_skip_verify: bool,
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

/// How `--tamper` spoils a delivery ([`hookbr_sim::Tamper`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TamperArg {
    /// Flip the signature (Grafeno) or the secret/token (others).
    Signature,
    /// Change the signed/identifying header (Grafeno `x-unique-key`; others: drop the secret header).
    Header,
    /// Change the body after signing.
    Body,
}

impl From<TamperArg> for Tamper {
    fn from(how: TamperArg) -> Self {
        match how {
            TamperArg::Signature => Self::Signature,
            TamperArg::Header => Self::Header,
            TamperArg::Body => Self::Body,
        }
    }
}

/// Resolves `env:NAME` and `file:PATH` references; other values are literal.
fn resolve(flag: &str, value: &str) -> Result<String, Failure> {
    hookbr_core::reference::resolve(value)
        .map_err(|error| Failure::usage(format!("{flag}: {error}")))
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
    SigningKey::from_pem(&pem).map_err(|error| {
        Failure::usage(format!("--private-key: {}", hookbr_sim::Error::from(error)))
    })
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

/// Runs `hookbr send`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let provider: Provider = args
        .provider
        .parse()
        .map_err(|error| Failure::usage(format!("{error}")))?;
    check_flags(args, provider)?;
    send::check_url(&args.url)?;
    let tls = send::target_tls(
        &args.url,
        args.ca_file.as_deref(),
        args.insecure_skip_verify,
    )?;
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
        if let Some((rest, value)) = send::take_query_param(&url, param) {
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
        let mut outgoing = hookbr_sim::build(
            provider,
            args.kind.as_deref(),
            file.as_deref(),
            &credentials,
        )?;
        if let Some(how) = args.tamper {
            hookbr_sim::tamper(&mut outgoing, how.into());
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
    let retries: Vec<Duration> = if args.retry_like_provider {
        send::retry_waits(provider)
            .into_iter()
            .map(|wait| Duration::try_from_secs_f64(wait.as_secs_f64() * scale))
            .collect::<Result<_, _>>()
            .map_err(|_| Failure::usage("--time-scale is too large"))?
    } else {
        Vec::new()
    };

    let client = send::client_with_tls(tls.as_ref())?;
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
    let batch = Batch {
        url,
        deliveries,
        concurrency: args.concurrency,
        retries,
    };
    let bar = progress.clone();
    let report = runtime.block_on(batch.send(&client, move || {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }));
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }

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
        print_line(&report.summary_json(provider));
    } else {
        for line in report.summary_lines(provider) {
            print_line(&line);
        }
    }
    let failed = report.failed();
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

    /// Every error of the simulator is a usage error (exit 2): the codes the simulator's own
    /// tests (`usage_errors_name_the_flag`, `signing_keys_parse_pkcs8_and_pkcs1_and_refuse_the_rest`)
    /// checked before it became a library.
    #[test]
    fn simulator_errors_are_usage_errors() {
        let token = Credentials {
            token: Some("t".into()),
            ..Credentials::default()
        };
        let error: Failure =
            hookbr_sim::build(Provider::Bonifiq, None, None, &Credentials::default())
                .unwrap_err()
                .into();
        assert_eq!(error.code, 2);
        let error: Failure = hookbr_sim::build(Provider::Foody, Some("nope"), None, &token)
            .unwrap_err()
            .into();
        assert_eq!(error.code, 2);
        let error: Failure = hookbr_sim::build(Provider::Foody, None, Some(b"not json"), &token)
            .unwrap_err()
            .into();
        assert_eq!(error.code, 2);
        let bad_header = Credentials {
            secret: Some("s".into()),
            secret_header: Some("bad header".into()),
            ..Credentials::default()
        };
        let error: Failure = hookbr_sim::build(Provider::Bonifiq, None, None, &bad_header)
            .unwrap_err()
            .into();
        assert_eq!(error.code, 2);
        for garbage in [
            String::new(),
            "not a key".to_owned(),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned(),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
                .to_owned(),
        ] {
            let error = Failure::from(hookbr_sim::Error::from(
                SigningKey::from_pem(&garbage).unwrap_err(),
            ));
            assert_eq!(error.code, 2, "{garbage:?}");
            assert!(!error.message.is_empty());
        }
    }
}
