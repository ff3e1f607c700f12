//! `hookbr decode`.

use hookbr_core::{Endpoint, Provider, Request, WebhookEvent, iset::IsetKind};
use serde::Serialize;

use crate::{Failure, input::Delivery, print_line};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    delivery: Delivery,
    /// iSET only, required: order_upserted, order_deleted, product_upserted, product_deleted,
    /// stock_changed, category_upserted or category_deleted.
    #[arg(long)]
    kind: Option<String>,
}

/// The output contract of `hookbr decode`; field order is part of it.
#[derive(Serialize)]
struct Decoded<'a> {
    provider: Provider,
    kind: &'a str,
    known: bool,
    delivery_id: Option<String>,
    occurred_at: Option<String>,
    event: &'a WebhookEvent,
}

/// Parses PROVIDER and `--kind` into an endpoint.
pub(crate) fn endpoint(provider: &str, kind: Option<&str>) -> Result<Endpoint, Failure> {
    let provider: Provider = provider
        .parse()
        .map_err(|error| Failure::usage(format!("{error}")))?;
    match (provider, kind) {
        (Provider::Iset, None) => Err(Failure::usage(
            "iset needs --kind (order_upserted, order_deleted, product_upserted, product_deleted, \
             stock_changed, category_upserted or category_deleted)",
        )),
        (Provider::Iset, Some(kind)) => kind
            .parse::<IsetKind>()
            .map(Endpoint::Iset)
            .map_err(|error| Failure::usage(error.to_string())),
        (_, Some(_)) => Err(Failure::usage(format!(
            "--kind only applies to iset, not {provider}"
        ))),
        (Provider::Bonifiq, None) => Ok(Endpoint::Bonifiq),
        (Provider::Foody, None) => Ok(Endpoint::Foody),
        (Provider::Grafeno, None) => Ok(Endpoint::Grafeno),
        (other, None) => Err(Failure::usage(format!("unsupported provider {other}"))),
    }
}

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let endpoint = endpoint(&args.delivery.provider, args.kind.as_deref())?;
    let (headers, body) = args.delivery.read()?;
    let request = Request::new(&body).with_headers(&headers);
    let event = WebhookEvent::decode(endpoint, &request).map_err(|error| {
        Failure::rejected(format!("not a {} delivery: {error}", endpoint.provider()))
    })?;
    let output = Decoded {
        provider: endpoint.provider(),
        kind: event.kind(),
        known: event.is_known(),
        delivery_id: event.delivery_id(&request).map(|id| id.as_str().to_owned()),
        occurred_at: event.occurred_at().map(|at| at.to_string()),
        event: &event,
    };
    let json = serde_json::to_string(&output)
        .map_err(|error| Failure::rejected(format!("cannot print the event: {error}")))?;
    if let Some(drift) = event.drift() {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr().lock(),
            format!("hookbr: warning: {drift}\n").as_bytes(),
        );
    }
    // Raw payloads are kept as received (possibly pretty-printed), but the output is one JSON
    // object on one line.
    print_line(&hookbr_sim::minify(&json));
    Ok(())
}
