//! What the example merchant servers (`axum_merchant`, `actix_merchant`) share: the routes and
//! verifiers, read from environment variables, and the handler's `match` on [`WebhookEvent`].
//!
//! | variable | route | what |
//! |---|---|---|
//! | `HOOKBR_BONIFIQ_SECRET` | `POST /webhooks/bonifiq` | value of `X-Loyalty-Secret` (comma-separated for rotation) |
//! | `HOOKBR_FOODY_TOKEN` | `POST /webhooks/foody` | the trigger's token (comma-separated for rotation) |
//! | `HOOKBR_ISET_SECRET` | `POST /webhooks/iset/<kind>?token=…` | the secret in the URLs registered in iSET |
//! | `HOOKBR_GRAFENO_PUBLIC_KEY` | `POST /webhooks/grafeno` | path to the PEM from Grafeno's portal (comma-separated for rotation) |
//! | `HOOKBR_ADDR` | | listen address, default `127.0.0.1:3000` |
//!
//! A provider whose variable is unset gets no route (fail closed); with none set the servers
//! refuse to start.

use std::fmt::Write as _;

use hookbr_core::{
    ConfigError, Endpoint, Secret, WebhookEvent,
    bonifiq::{BonifiqEvent, BonifiqPayload},
    foody::FoodyEvent,
    grafeno::{GrafenoData, GrafenoEvent},
    iset::IsetKind,
    verify::{
        AnyVerifier, BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier, UrlSecretVerifier,
    },
};

/// One route to mount.
#[derive(Debug)]
pub struct Route {
    /// The path.
    pub path: String,
    /// The provider (and iSET kind).
    pub endpoint: Endpoint,
    /// The verifier.
    pub verifier: AnyVerifier,
}

/// Why the configuration is unusable.
#[derive(Debug)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

impl From<ConfigError> for SetupError {
    fn from(error: ConfigError) -> Self {
        Self(error.to_string())
    }
}

fn secrets(var: &str) -> Result<Option<Vec<Secret>>, SetupError> {
    let Ok(value) = std::env::var(var) else {
        return Ok(None);
    };
    value
        .split(',')
        .map(|part| {
            Secret::new(part.trim()).map_err(|_| SetupError(format!("{var} has an empty value")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The routes configured by the environment (see the crate docs).
///
/// # Errors
///
/// [`SetupError`] for an empty secret, an unreadable or weak key, or no provider configured.
pub fn routes_from_env() -> Result<Vec<Route>, SetupError> {
    let mut routes = Vec::new();
    if let Some(secrets) = secrets("HOOKBR_BONIFIQ_SECRET")? {
        routes.push(Route {
            path: "/webhooks/bonifiq".into(),
            endpoint: Endpoint::Bonifiq,
            verifier: HeaderSecretVerifier::bonifiq(secrets)?.into(),
        });
    }
    if let Some(tokens) = secrets("HOOKBR_FOODY_TOKEN")? {
        routes.push(Route {
            path: "/webhooks/foody".into(),
            endpoint: Endpoint::Foody,
            verifier: BodyTokenVerifier::foody(tokens)?.into(),
        });
    }
    if let Some(secrets) = secrets("HOOKBR_ISET_SECRET")? {
        for kind in IsetKind::ALL {
            routes.push(Route {
                path: format!("/webhooks/iset/{kind}"),
                endpoint: Endpoint::Iset(kind),
                verifier: UrlSecretVerifier::query_param("token", secrets.clone())?.into(),
            });
        }
    }
    if let Ok(paths) = std::env::var("HOOKBR_GRAFENO_PUBLIC_KEY") {
        let pems = paths
            .split(',')
            .map(|path| {
                std::fs::read_to_string(path.trim()).map_err(|error| {
                    SetupError(format!("HOOKBR_GRAFENO_PUBLIC_KEY {path}: {error}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        routes.push(Route {
            path: "/webhooks/grafeno".into(),
            endpoint: Endpoint::Grafeno,
            verifier: GrafenoVerifier::from_pems(pems)?.into(),
        });
    }
    if routes.is_empty() {
        return Err(SetupError(
            "no provider configured: set HOOKBR_BONIFIQ_SECRET, HOOKBR_FOODY_TOKEN, \
             HOOKBR_ISET_SECRET and/or HOOKBR_GRAFENO_PUBLIC_KEY"
                .into(),
        ));
    }
    Ok(routes)
}

/// The listen address: `HOOKBR_ADDR`, default `127.0.0.1:3000`.
#[must_use]
pub fn listen_addr() -> String {
    std::env::var("HOOKBR_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into())
}

/// A line describing the routes, for the start-up log.
#[must_use]
pub fn describe_routes(routes: &[Route]) -> String {
    let mut out = String::new();
    for route in routes {
        let _ = writeln!(out, "  {:<34} {:?}", route.path, route.endpoint);
    }
    out
}

/// The merchant's handler: what it would do with each event.
#[must_use]
pub fn handle(event: &WebhookEvent) -> String {
    match event {
        WebhookEvent::Bonifiq(BonifiqEvent::Envelope(envelope)) => match &envelope.payload {
            BonifiqPayload::PointAdd(p) => {
                format!("credit {} points to customer {:?}", p.points, p.customer.id)
            }
            BonifiqPayload::PointRemove(p) => format!(
                "debit {} points from customer {:?}",
                p.points, p.customer.id
            ),
            BonifiqPayload::EarnPurchasePoints(e) | BonifiqPayload::EarnBirthdayPoints(e) => {
                format!(
                    "e-mail {:?} about {} points earned",
                    e.customer.email, e.earned_points
                )
            }
            BonifiqPayload::Drifted { error, .. } => format!("store for review: {error}"),
            _ => format!("log loyalty topic {}", envelope.topic.as_str()),
        },
        WebhookEvent::Bonifiq(BonifiqEvent::Custom(raw)) => {
            format!("custom BonifiQ body of {} bytes", raw.get().len())
        }
        WebhookEvent::Foody(FoodyEvent::OrderStatusUpdated(update)) => {
            format!(
                "mark order {} as {} (updated {})",
                update.uid, update.status, update.update_date
            )
        }
        WebhookEvent::Iset(notification) => format!(
            "re-fetch {} from iSET's API for {}",
            notification.entity_id().unwrap_or("(no id in the body)"),
            notification.kind
        ),
        WebhookEvent::Grafeno(GrafenoEvent {
            change,
            data: GrafenoData::Charge(charge),
            ..
        }) => format!(
            "re-read charge {} from Grafeno before acting on {change} (value {:?})",
            charge.uuid,
            charge.value.as_ref().map(|v| v.as_str())
        ),
        WebhookEvent::Grafeno(GrafenoEvent {
            change,
            data: GrafenoData::Registration(r),
            ..
        }) => {
            format!("registration {} is {change}", r.id)
        }
        other => format!("log {} {}", other.provider(), other.kind()),
    }
}
