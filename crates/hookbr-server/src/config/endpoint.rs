//! `[[endpoint]]`: one route, its provider's [`VerifierSpec`] and its options.

use std::{path::Path, time::Duration};

use hookbr_core::{
    Endpoint, Provider, Secret,
    iset::IsetKind,
    ordering::OrderingMode,
    verify::{AnyVerifier, BONIFIQ_SECRET_HEADER, RsaAlgorithm, RsaPublicKey},
};

use super::{
    raw::RawEndpoint,
    reference::{is_reference, rebase_file, resolve_secret, resolve_value},
    spec::{Labeled, SecretIn, VerifierSpec},
    value::{duration, limit, problem},
};

/// One route of the receiver.
#[derive(Debug)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// The provider endpoint.
    pub endpoint: Endpoint,
    /// The URL path.
    pub path: String,
    /// What authenticates deliveries.
    pub verifier: AnyVerifier,
    /// Accepted methods (`None`: the provider's defaults).
    pub methods: Option<Vec<String>>,
    /// The body limit in bytes: the endpoint's `body_limit`, else `[server] body_limit`, else
    /// the provider's default (`Endpoint::default_body_limit`: 1 MiB for BonifiQ and iSET,
    /// 64 KiB for Foody and Grafeno).
    pub body_limit: usize,
    /// Strict decoding (422 for drifted payloads).
    pub strict: bool,
    /// The secret is one more path segment after `path` (iSET `secret_in = "path"`).
    pub secret_segment: bool,
    /// The deduplication namespace (`None`: the route's own, so endpoints never answer each
    /// other's deliveries as duplicates; endpoints given the same one deduplicate across each
    /// other on purpose).
    pub dedup_namespace: Option<String>,
    /// The ordering guard (`ordering`, default `off`): what happens to a delivery older than
    /// its entity's latest one (docs/ENTITIES.md).
    pub ordering: OrderingMode,
    /// With `ordering = "hold"`: how long the worker waits for an earlier delivery of an
    /// entity before forwarding a later one anyway (`hold_for`, default 30 s).
    pub hold_for: Duration,
}

/// `hold_for`'s default.
pub(super) const DEFAULT_HOLD_FOR: Duration = Duration::from_secs(30);

impl EndpointConfig {
    /// The methods shown for this route: the configured ones, else the provider's defaults
    /// (`POST|PUT`).
    #[must_use]
    pub fn methods_text(&self) -> String {
        self.methods.as_ref().map_or_else(
            || self.endpoint.default_methods().join("|"),
            |methods| methods.join("|"),
        )
    }

    /// The route this endpoint is served at: `path`, or for iSET with `secret_in = "path"`,
    /// `path` without its trailing `/` followed by the captured secret segment (`/h` and `/h/`
    /// are both served at `/h/{secret}`). The inspector shows this template, never a request's
    /// path.
    #[must_use]
    pub fn route_path(&self) -> String {
        match self.shape() {
            Shape::Literal(path) => path.to_owned(),
            Shape::Secret(prefix) => format!("{prefix}/{{secret}}"),
        }
    }

    fn shape(&self) -> Shape<'_> {
        if self.secret_segment {
            Shape::Secret(self.path.trim_end_matches('/'))
        } else {
            Shape::Literal(&self.path)
        }
    }
}

/// A route as the router matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape<'a> {
    /// Exactly this path.
    Literal(&'a str),
    /// This prefix (without a trailing `/`), then `/` and one segment.
    Secret(&'a str),
}

impl Shape<'_> {
    /// Whether some request path matches both routes.
    fn overlaps(self, other: Self) -> bool {
        match (self, other) {
            (Shape::Literal(a), Shape::Literal(b)) | (Shape::Secret(a), Shape::Secret(b)) => a == b,
            (Shape::Literal(path), Shape::Secret(prefix))
            | (Shape::Secret(prefix), Shape::Literal(path)) => path
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|segment| !segment.contains('/')),
        }
    }
}

/// Refuses the last of `endpoints` when its route is the same as an earlier one's after
/// normalisation, or overlaps it (a request path both would match): the router would panic on
/// the first and silently prefer one endpoint on the second. The error names the last one.
pub(super) fn check_last_route(endpoints: &[EndpointConfig]) -> Result<(), String> {
    let Some((endpoint, earlier)) = endpoints.split_last() else {
        return Ok(());
    };
    let later = earlier.len();
    let (path, route) = (&endpoint.path, endpoint.route_path());
    for (index, other) in earlier.iter().enumerate() {
        let message = if *path == other.path {
            format!("{path:?} is used by another endpoint (endpoint[{index}])")
        } else if route == other.route_path() {
            format!(
                "{path:?} is served as {route:?}, like endpoint[{index}] ({:?}): one route \
                 cannot serve two endpoints",
                other.path
            )
        } else if endpoint.shape().overlaps(other.shape()) {
            format!(
                "its route {route:?} overlaps endpoint[{index}]'s {:?}: a request could match \
                 both (choose paths that do not nest)",
                other.route_path()
            )
        } else {
            continue;
        };
        return Err(problem(format!("endpoint[{later}].path"), message));
    }
    Ok(())
}

/// Refuses options that do not apply to the endpoint's provider.
fn only_for(key: &str, option: &str, present: bool, provider: Provider) -> Result<(), String> {
    if present {
        Err(problem(
            format!("{key}.{option}"),
            format!("does not apply to provider {provider}"),
        ))
    } else {
        Ok(())
    }
}

/// A non-empty list of references (`{key}.{field}`), each resolved by `resolve` with its item
/// name (`{key}.{field}[i]`); `example` is said when the list is empty.
fn references<T>(
    key: &str,
    field: &str,
    values: &[String],
    example: &str,
    resolve: impl Fn(String, &str) -> Result<Labeled<T>, String>,
) -> Result<Vec<Labeled<T>>, String> {
    if values.is_empty() {
        return Err(problem(
            format!("{key}.{field}"),
            format!("needs at least one {example}"),
        ));
    }
    values
        .iter()
        .enumerate()
        .map(|(index, value)| resolve(format!("{key}.{field}[{index}]"), value))
        .collect()
}

fn secrets(
    key: &str,
    field: &str,
    values: &[String],
    base: &Path,
) -> Result<Vec<Labeled<Secret>>, String> {
    let example = "reference, e.g. [\"env:MY_SECRET\"] (more for rotation)";
    references(key, field, values, example, |item, value| {
        resolve_secret(&item, value, base).map(|(secret, label)| (secret, Some(label)))
    })
}

/// A path the router takes literally: a leading `/`, printable ASCII only (a request's path
/// arrives percent-encoded, so anything else could never match), and none of the characters
/// the router or a URL give a meaning to.
fn check_path(key: &str, path: &str) -> Result<(), String> {
    if !path.starts_with('/')
        || path.contains(|c: char| {
            !c.is_ascii_graphic() || matches!(c, ':' | '*' | '{' | '}' | '?' | '#')
        })
    {
        return Err(problem(
            format!("{key}.path"),
            format!(
                "{path:?} must be a literal path: start with '/', no spaces, no ':', '*', '{{', '}}', \
                 '?' or '#', printable ASCII only (percent-encode anything else)"
            ),
        ));
    }
    Ok(())
}

fn check_options(key: &str, raw: &RawEndpoint, provider: Provider) -> Result<(), String> {
    if provider != Provider::Iset {
        only_for(key, "kind", raw.kind.is_some(), provider)?;
        only_for(key, "secret_in", raw.secret_in.is_some(), provider)?;
        only_for(key, "param", raw.param.is_some(), provider)?;
    }
    if !matches!(provider, Provider::Bonifiq | Provider::Iset) {
        only_for(key, "secrets", !raw.secrets.is_empty(), provider)?;
        only_for(key, "header", raw.header.is_some(), provider)?;
    }
    if provider != Provider::Foody {
        only_for(key, "tokens", !raw.tokens.is_empty(), provider)?;
    }
    if provider != Provider::Grafeno {
        only_for(key, "public_keys", !raw.public_keys.is_empty(), provider)?;
        only_for(key, "algorithm", raw.algorithm.is_some(), provider)?;
    }
    Ok(())
}

fn iset_kind(key: &str, kind: Option<&str>) -> Result<IsetKind, String> {
    let kind = kind.ok_or_else(|| {
        problem(
            format!("{key}.kind"),
            "iset endpoints need a kind: order_upserted, order_deleted, \
             product_upserted, product_deleted, stock_changed, category_upserted or \
             category_deleted (one URL per kind)",
        )
    })?;
    kind.parse()
        .map_err(|error| problem(format!("{key}.kind"), error))
}

fn iset_secret_in(key: &str, raw: &RawEndpoint) -> Result<SecretIn, String> {
    let provider = Provider::Iset;
    match raw.secret_in.as_deref().unwrap_or("query") {
        "query" => {
            only_for(key, "header", raw.header.is_some(), provider)?;
            Ok(SecretIn::Query {
                param: raw.param.clone().unwrap_or_else(|| "token".to_owned()),
            })
        }
        "path" => {
            only_for(key, "param", raw.param.is_some(), provider)?;
            Ok(SecretIn::Path)
        }
        "header" => {
            only_for(key, "param", raw.param.is_some(), provider)?;
            let name = raw.header.clone().ok_or_else(|| {
                problem(
                    format!("{key}.header"),
                    "secret_in = \"header\" needs header",
                )
            })?;
            Ok(SecretIn::Header { name })
        }
        other => Err(problem(
            format!("{key}.secret_in"),
            format!("{other:?}: expected \"query\", \"path\" or \"header\""),
        )),
    }
}

fn public_keys(
    key: &str,
    values: &[String],
    base: &Path,
) -> Result<Vec<Labeled<RsaPublicKey>>, String> {
    let example = "PEM file, e.g. [\"file:grafeno_public.pem\"]";
    references(key, "public_keys", values, example, |item, value| {
        let value = rebase_file(value, base);
        if !is_reference(&value) {
            return Err(problem(
                item,
                "expected file:PATH (or env:NAME holding the PEM)",
            ));
        }
        let pem = resolve_value(&value).map_err(|message| problem(&item, message))?;
        let public_key = RsaPublicKey::from_pem(&pem).map_err(|error| problem(&item, error))?;
        Ok((public_key, Some(value)))
    })
}

fn algorithm(key: &str, text: Option<&str>) -> Result<RsaAlgorithm, String> {
    match text.unwrap_or("pkcs1-sha256") {
        "pkcs1-sha256" => Ok(RsaAlgorithm::Pkcs1Sha256),
        "pkcs1-sha512" => Ok(RsaAlgorithm::Pkcs1Sha512),
        "pkcs1-sha1" => Ok(RsaAlgorithm::Pkcs1Sha1),
        "pss-sha256" => Ok(RsaAlgorithm::PssSha256),
        other => Err(problem(
            format!("{key}.algorithm"),
            format!(
                "{other:?}: expected pkcs1-sha256 (default), pkcs1-sha512, \
                 pkcs1-sha1 or pss-sha256"
            ),
        )),
    }
}

/// The endpoint and the provider's spec, from the flat table.
fn spec(
    key: &str,
    raw: &RawEndpoint,
    provider: Provider,
    base: &Path,
) -> Result<(Endpoint, VerifierSpec), String> {
    Ok(match provider {
        Provider::Bonifiq => (
            Endpoint::Bonifiq,
            VerifierSpec::Bonifiq {
                header: raw
                    .header
                    .clone()
                    .unwrap_or_else(|| BONIFIQ_SECRET_HEADER.to_owned()),
                secrets: secrets(key, "secrets", &raw.secrets, base)?,
            },
        ),
        Provider::Foody => (
            Endpoint::Foody,
            VerifierSpec::Foody {
                tokens: secrets(key, "tokens", &raw.tokens, base)?,
            },
        ),
        Provider::Iset => {
            let kind = iset_kind(key, raw.kind.as_deref())?;
            let secrets = secrets(key, "secrets", &raw.secrets, base)?;
            let secret_in = iset_secret_in(key, raw)?;
            (
                Endpoint::Iset(kind),
                VerifierSpec::Iset { secret_in, secrets },
            )
        }
        Provider::Grafeno => {
            let public_keys = public_keys(key, &raw.public_keys, base)?;
            (
                Endpoint::Grafeno,
                VerifierSpec::Grafeno {
                    public_keys,
                    algorithm: algorithm(key, raw.algorithm.as_deref())?,
                },
            )
        }
        other => {
            return Err(problem(
                format!("{key}.provider"),
                format!("{other} is not supported"),
            ));
        }
    })
}

fn methods(key: &str, methods: Option<Vec<String>>) -> Result<Option<Vec<String>>, String> {
    methods
        .map(|methods| {
            if methods.is_empty() {
                return Err(problem(format!("{key}.methods"), "must not be empty"));
            }
            methods
                .into_iter()
                .map(|method| {
                    let upper = method.to_ascii_uppercase();
                    if upper.is_empty() || !upper.bytes().all(|b| b.is_ascii_uppercase()) {
                        Err(problem(
                            format!("{key}.methods"),
                            format!("{method:?} is not an HTTP method"),
                        ))
                    } else {
                        Ok(upper)
                    }
                })
                .collect()
        })
        .transpose()
}

/// Checks `[[endpoint]]` number `key` and builds its verifier.
pub(super) fn resolve_endpoint(
    key: &str,
    raw: RawEndpoint,
    default_limit: Option<usize>,
    default_strict: bool,
    base: &Path,
) -> Result<EndpointConfig, String> {
    let provider: Provider = raw.provider.parse().map_err(|_| {
        problem(
            format!("{key}.provider"),
            format!(
                "unknown provider {:?} (bonifiq, foody, iset or grafeno)",
                raw.provider
            ),
        )
    })?;
    check_path(key, &raw.path)?;
    check_options(key, &raw, provider)?;
    let (endpoint, spec) = spec(key, &raw, provider, base)?;
    let ordering: OrderingMode = raw
        .ordering
        .as_deref()
        .map_or(Ok(OrderingMode::Off), str::parse)
        .map_err(|error| problem(format!("{key}.ordering"), error))?;
    if raw.hold_for.is_some() && ordering != OrderingMode::Hold {
        return Err(problem(
            format!("{key}.hold_for"),
            "only applies with ordering = \"hold\"",
        ));
    }
    let hold_for = duration(
        &format!("{key}.hold_for"),
        raw.hold_for.as_deref(),
        DEFAULT_HOLD_FOR,
    )?;
    let verifier = spec
        .build_naming_option()
        .map_err(|(option, error)| match option {
            Some(option) => problem(format!("{key}.{option}"), error),
            None => problem(key, error),
        })?;
    Ok(EndpointConfig {
        endpoint,
        verifier,
        methods: methods(key, raw.methods)?,
        body_limit: limit(
            &format!("{key}.body_limit"),
            raw.body_limit,
            default_limit.unwrap_or(endpoint.default_body_limit()),
        )?,
        strict: raw.strict.unwrap_or(default_strict),
        secret_segment: raw.secret_in.as_deref() == Some("path"),
        dedup_namespace: dedup_namespace(key, raw.dedup_namespace)?,
        ordering,
        hold_for,
        path: raw.path,
    })
}

/// A namespace name: 1 to 100 printable ASCII characters (it is shown in logs and hashed into
/// every delivery key of the endpoint).
fn dedup_namespace(key: &str, namespace: Option<String>) -> Result<Option<String>, String> {
    match namespace {
        Some(name)
            if name.is_empty()
                || name.len() > 100
                || !name.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Err(problem(
                format!("{key}.dedup_namespace"),
                "must be 1 to 100 printable ASCII characters without spaces",
            ))
        }
        namespace => Ok(namespace),
    }
}
