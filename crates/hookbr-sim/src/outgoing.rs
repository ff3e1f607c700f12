//! [`Outgoing`]: one delivery ready to be sent.

use hookbr_core::{
    Endpoint, Provider, Request, WebhookEvent, iset::IsetKind, testkit::TestDelivery,
};

/// A delivery ready to be sent: what the provider would put on the wire, and what hookbr will
/// make of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The provider.
    pub provider: Provider,
    /// The kind as `hookbr decode` prints it (`Point_Add`, `hook_test`, `order_upserted`, ...).
    pub kind: String,
    /// The delivery id the receiver will dedupe on, as `hookbr decode` prints it: BonifiQ
    /// `Uuid`, Grafeno `x-unique-key`, a digest of (`uid`, `status`, `updateDate`) for Foody
    /// (whose `uid` is the order's) and of (kind, body) for iSET.
    pub delivery_id: String,
    /// The request: method (`POST`), headers (Content-Type, BonifiQ's secret header, Grafeno's
    /// `x-unique-key`), body, and a target whose path is `/` and whose query holds the
    /// parameters to append to the URL it is sent to (iSET's URL secret).
    pub wire: TestDelivery,
}

impl Outgoing {
    /// The query parameters to append to the target URL (iSET's URL secret), decoded.
    #[must_use]
    pub fn query(&self) -> Vec<(String, String)> {
        match self.wire.target.split_once('?') {
            Some((_, query)) => form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            None => Vec::new(),
        }
    }

    /// Replaces the query parameters.
    pub(crate) fn set_query(&mut self, pairs: &[(String, String)]) {
        let path = self
            .wire
            .target
            .split_once('?')
            .map_or(self.wire.target.as_str(), |(path, _)| path)
            .to_owned();
        self.wire.target = if pairs.is_empty() {
            path
        } else {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            format!("{path}?{query}")
        };
    }
}

/// A body before authentication: a built-in sample or a template with fresh ids.
#[derive(Debug)]
pub(crate) struct Draft {
    pub(crate) body: String,
    /// `application/json`, or iSET's form type.
    pub(crate) content_type: &'static str,
    /// iSET: the kind the body is for.
    pub(crate) iset_kind: Option<IsetKind>,
    /// Grafeno: the `x-unique-key` to sign.
    pub(crate) unique_key: Option<String>,
}

/// Decodes `outgoing` as hookbr would: (kind, delivery id), the id being the one the
/// pipeline deduplicates on ([`WebhookEvent::dedup_id`]).
pub(crate) fn identify(
    outgoing: &Outgoing,
    iset_kind: Option<IsetKind>,
) -> Result<(String, String), String> {
    let endpoint = match outgoing.provider {
        Provider::Bonifiq => Endpoint::Bonifiq,
        Provider::Foody => Endpoint::Foody,
        Provider::Iset => Endpoint::Iset(iset_kind.unwrap_or(IsetKind::OrderUpserted)),
        Provider::Grafeno => Endpoint::Grafeno,
        other => return Err(format!("unsupported provider {other}")),
    };
    let wire = &outgoing.wire;
    let request = Request::new(&wire.body).with_headers(&wire.headers);
    let event = WebhookEvent::decode(endpoint, &request).map_err(|error| error.to_string())?;
    let (id, _) = event.dedup_id(&request);
    Ok((event.kind().to_owned(), id.as_str().to_owned()))
}
