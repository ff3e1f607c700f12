//! Sinks: where the server hands each processed event.
//!
//! Every sink receives the same normalized JSON, whatever the provider:
//!
//! ```json
//! {"type":"bonifiq.Point_Add","timestamp":"2026-11-24T17:00:00.123Z",
//!  "data":{"provider":"bonifiq","endpoint":"bonifiq","kind":"Point_Add","known":true,
//!          "drift":null,"delivery_id":"…","occurred_at":"…","received_at":"…",
//!          "matched_key":"#0 (env:BONIFIQ_SECRET)",
//!          "authenticated":{"by":"header-secret","covers":"sender"},"attempt":1,"event":{…}}}
//! ```
//!
//! `authenticated` says what the provider's credential proves (`covers`: `sender`, or Grafeno's
//! `x-unique-key`: no provider signs its body). `known` is false for a kind hookbr has no type for, and for a documented kind whose payload
//! did not fit its type; `drift` then says why (the field and position, never a value). `event`
//! is the event with the provider's field names and without what authenticated it (Foody's
//! `token`, Grafeno's `signature`): a typed payload re-encoded from its type, an untyped or
//! drifted one as received. `hookbr init`'s template describes every field.
//!
//! The HTTP sink POSTs it signed the [Standard Webhooks](https://www.standardwebhooks.com/) way
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`), so the application verifies one scheme instead of four. The
//! `webhook-id` is stable across retries of the same delivery, so the application can
//! deduplicate the at-least-once forwarding with it. The command sink runs a program with the
//! JSON on stdin; exit status 0 is success.

use tokio::sync::mpsc;

use crate::{Error, config::SinkConfig};

mod command;
mod http;
mod message;
mod signature;

pub use message::Message;
pub(crate) use message::Processed;
pub use signature::generate_secret;

/// A destination.
#[derive(Debug)]
enum Sink {
    /// From `[[sink]]`.
    Configured(SinkConfig),
    /// In-process (the demo watches what was processed).
    Channel(mpsc::UnboundedSender<Message>),
}

/// All sinks of a receiver. A message is delivered when every sink took it; when one fails the
/// whole delivery is retried later (at least once per sink: use `webhook-id` to deduplicate).
#[derive(Debug)]
pub(crate) struct Sinks {
    sinks: Vec<Sink>,
    client: reqwest::Client,
}

impl Sinks {
    /// Sinks from the configuration, and in-process channels.
    pub(crate) fn new(
        configs: &[SinkConfig],
        channels: Vec<mpsc::UnboundedSender<Message>>,
    ) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("hookbr/", env!("CARGO_PKG_VERSION")))
            // Sinks are the merchant's own application, usually on loopback: a proxy set for the
            // shell (HTTP_PROXY) must not intercept them.
            .no_proxy()
            .build()
            .map_err(|error| Error::runtime(format!("cannot build the HTTP client: {error}")))?;
        let sinks = configs
            .iter()
            .cloned()
            .map(Sink::Configured)
            .chain(channels.into_iter().map(Sink::Channel))
            .collect();
        Ok(Self { sinks, client })
    }

    /// Hands `message` to every sink; the first failure is returned.
    pub(crate) async fn deliver(&self, message: &Message) -> Result<(), String> {
        for sink in &self.sinks {
            match sink {
                Sink::Configured(SinkConfig::Http {
                    url,
                    secret,
                    timeout,
                }) => http::post(&self.client, url, secret, *timeout, message).await?,
                Sink::Configured(SinkConfig::Command { command, timeout }) => {
                    command::run_command(command, *timeout, message).await?;
                }
                Sink::Channel(sender) => sender
                    .send(message.clone())
                    .map_err(|_| "the in-process sink is closed".to_owned())?,
            }
        }
        Ok(())
    }
}
