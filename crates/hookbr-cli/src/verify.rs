//! `hookbr verify`.

use std::fs;

use hookbr_core::{
    Provider, Rejection, Request, Secret,
    verify::{BONIFIQ_SECRET_HEADER, RsaAlgorithm, RsaPublicKey, Verify},
};
use hookbr_server::config::{Labeled, SecretIn, VerifierSpec};

use crate::{Failure, decode::endpoint, input::Delivery, print_line};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    delivery: Delivery,
    /// bonifiq, iset: an accepted secret (repeatable, for rotation).
    #[arg(long = "secret", value_name = "VALUE", allow_hyphen_values = true)]
    secrets: Vec<String>,
    /// bonifiq, iset: the header carrying the secret [bonifiq default: X-Loyalty-Secret].
    #[arg(long, value_name = "NAME")]
    secret_header: Option<String>,
    /// iset: the URL the delivery was sent to (path and query), when the secret is in it.
    #[arg(long, value_name = "PATH?QUERY")]
    url: Option<String>,
    /// iset: the query parameter holding the secret in --url [default: token].
    #[arg(long, value_name = "NAME")]
    secret_param: Option<String>,
    /// foody: an accepted token (repeatable, for rotation).
    #[arg(long = "token", value_name = "VALUE", allow_hyphen_values = true)]
    tokens: Vec<String>,
    /// grafeno: a PEM public key file, or the PEM text itself (repeatable, for rotation).
    #[arg(long = "public-key", value_name = "PEM", allow_hyphen_values = true)]
    public_keys: Vec<String>,
    /// iset only: the notification kind (accepted for symmetry with decode; not needed to
    /// verify).
    #[arg(long)]
    kind: Option<String>,
}

fn secrets(values: &[String], flag: &str) -> Result<Vec<Labeled<Secret>>, Failure> {
    values
        .iter()
        .map(|value| {
            Secret::new(value.as_str())
                .map(|secret| (secret, None))
                .map_err(|_| Failure::usage(format!("{flag} is empty")))
        })
        .collect()
}

fn unused(args: &Args, provider: Provider) -> Result<(), Failure> {
    let used = |flag: &str, present: bool, allowed: &[Provider]| {
        if present && !allowed.contains(&provider) {
            Err(Failure::usage(format!(
                "{flag} does not apply to {provider}"
            )))
        } else {
            Ok(())
        }
    };
    used(
        "--secret",
        !args.secrets.is_empty(),
        &[Provider::Bonifiq, Provider::Iset],
    )?;
    used(
        "--secret-header",
        args.secret_header.is_some(),
        &[Provider::Bonifiq, Provider::Iset],
    )?;
    used("--url", args.url.is_some(), &[Provider::Iset])?;
    used(
        "--secret-param",
        args.secret_param.is_some(),
        &[Provider::Iset],
    )?;
    used("--token", !args.tokens.is_empty(), &[Provider::Foody])?;
    used(
        "--public-key",
        !args.public_keys.is_empty(),
        &[Provider::Grafeno],
    )?;
    used("--kind", args.kind.is_some(), &[Provider::Iset])
}

fn read_pem(value: &str) -> Result<RsaPublicKey, Failure> {
    let text = if value.trim_start().starts_with("-----BEGIN") {
        value.to_owned()
    } else {
        fs::read_to_string(value)
            .map_err(|error| Failure::usage(format!("--public-key {value}: {error}")))?
    };
    RsaPublicKey::from_pem(&text).map_err(|error| Failure::usage(format!("--public-key: {error}")))
}

/// The same spec `hookbr.toml` builds, from the flags (values instead of references).
fn spec(args: &Args, provider: Provider) -> Result<VerifierSpec, Failure> {
    match provider {
        Provider::Bonifiq => {
            if args.secrets.is_empty() {
                return Err(Failure::usage("bonifiq needs at least one --secret"));
            }
            let header = args
                .secret_header
                .as_deref()
                .unwrap_or(BONIFIQ_SECRET_HEADER);
            Ok(VerifierSpec::Bonifiq {
                header: header.to_owned(),
                secrets: secrets(&args.secrets, "--secret")?,
            })
        }
        Provider::Foody => {
            if args.tokens.is_empty() {
                return Err(Failure::usage("foody needs at least one --token"));
            }
            Ok(VerifierSpec::Foody {
                tokens: secrets(&args.tokens, "--token")?,
            })
        }
        Provider::Iset => {
            if args.secrets.is_empty() {
                return Err(Failure::usage("iset needs at least one --secret"));
            }
            let secrets = secrets(&args.secrets, "--secret")?;
            let secret_in = match (&args.secret_header, &args.url) {
                (Some(header), None) => SecretIn::Header {
                    name: header.clone(),
                },
                (None, Some(_)) => SecretIn::Query {
                    param: args.secret_param.as_deref().unwrap_or("token").to_owned(),
                },
                _ => {
                    return Err(Failure::usage(
                        "iset needs exactly one of --url (secret in the URL) or --secret-header",
                    ));
                }
            };
            Ok(VerifierSpec::Iset { secret_in, secrets })
        }
        Provider::Grafeno => {
            if args.public_keys.is_empty() {
                return Err(Failure::usage("grafeno needs at least one --public-key"));
            }
            let public_keys = args
                .public_keys
                .iter()
                .map(|value| read_pem(value).map(|key| (key, None)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(VerifierSpec::Grafeno {
                public_keys,
                algorithm: RsaAlgorithm::default(),
            })
        }
        other => Err(Failure::usage(format!("unsupported provider {other}"))),
    }
}

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let provider: Provider = args
        .delivery
        .provider
        .parse()
        .map_err(|error| Failure::usage(format!("{error}")))?;
    unused(args, provider)?;
    if let Some(kind) = &args.kind {
        endpoint(&args.delivery.provider, Some(kind))?;
    }
    let verifier = spec(args, provider)?
        .build()
        .map_err(|error| Failure::usage(error.to_string()))?;
    let (headers, body) = args.delivery.read()?;
    let mut request = Request::new(&body).with_headers(&headers);
    if let Some(url) = &args.url {
        request = request.with_target(url);
    }
    match verifier.verify(&request) {
        Ok(matched) => {
            let label = matched
                .label()
                .map(|label| format!(" ({label})"))
                .unwrap_or_default();
            print_line(&format!(
                "authentic: matched index {}{label}",
                matched.index()
            ));
            Ok(())
        }
        Err(error) => {
            let rejection = Rejection::from(error.clone());
            Err(Failure::rejected(format!(
                "rejected: {} ({error})",
                rejection.reason()
            )))
        }
    }
}
