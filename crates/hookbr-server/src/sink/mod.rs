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
//! With `ordering` on the endpoint (docs/ENTITIES.md), `data` also holds `"stale"`: `true`
//! when a later delivery of the same entity was already forwarded, `false` otherwise; the field
//! is absent when the endpoint has no guard or the event no entity or position.
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
//!
//! The NATS sink publishes the same JSON to a JetStream subject built from a template
//! (`hookbr.{provider}.{kind}` by default; each value made one safe token), with the same
//! headers as NATS headers (`webhook-signature` only when the sink has a `secret`) and
//! `Nats-Msg-Id` = `webhook-id`: the stream drops the worker's repeated publishes within its
//! duplicate window, so each delivery is stored once. A delivery counts only on the stream's
//! PubAck (a duplicate's too). `serve` connects and checks at start that the stream exists and
//! captures the subject (or creates it with `create_stream`), and stops (exit 1) otherwise.
//!
//! The table sinks (`type = "postgres"`, `type = "sqlite"`) insert one row per event into the
//! merchant's own table (`webhook_id` primary key, `provider`, `kind`, `endpoint`, `known`,
//! `occurred_at`, `received_at`, `message` (this JSON; JSONB on PostgreSQL), `inserted_at`),
//! `ON CONFLICT (webhook_id) DO NOTHING`: a retry, a replay or a concurrent copy never makes a
//! second row. A PostgreSQL sink may `NOTIFY` a channel with the `webhook-id` in the insert's
//! transaction (heard after the commit). When its database is the inbox's own, the insert
//! runs in the transaction that marks the inbox row done, fenced by the row's claim, as the
//! last step of the delivery. `hookbr sink migrate` ([`migrate`]) creates the tables; `serve`
//! checks at start that they exist with their columns.
//!
//! Every sink gets the event's data as received unless its `mask` says otherwise
//! ([`SinkMask`]): `mask = true` masks `data.event` as the inspector shows it, a list of
//! documented paths masks only those fields; the rest of the message is the same for every
//! sink (a masked message is built once per distinct `mask` and attempt).
//!
//! An `https://` sink verifies the application's certificate against the system's roots, or
//! `ca_file`'s. A certificate it refuses is not retried: the delivery fails permanently (the
//! worker dead-letters the row at once with `TLS handshake with host:port failed: <why>`; fix
//! the certificate or `ca_file`, then `hookbr inbox replay`).

use std::{sync::Arc, time::Duration};

use hookbr_core::Secret;
use hookbr_store::{PostgresInbox, worker::Delivered};
use tokio::sync::mpsc;

use crate::{
    Error,
    config::{SinkConfig, SinkMask},
};

mod command;
mod http;
mod message;
mod nats;
mod signature;
mod table;

pub use message::Message;
pub(crate) use message::Processed;
pub use signature::generate_secret;
pub use table::{postgres_migration, sqlite_migration};

/// The inbox's PostgreSQL database (its resolved URL), which a `type = "postgres"` sink with
/// the same URL writes into in the done mark's transaction.
#[derive(Debug, Clone)]
pub(crate) struct InboxDatabase {
    pub(crate) url: String,
    pub(crate) inbox: PostgresInbox,
}

/// The inbox row an attempt works on: a table sink in the inbox's database marks it done in
/// its insert's transaction, under this claim.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fence<'a> {
    pub(crate) delivered: &'a Delivered,
}

/// Why a delivery failed, and whether a retry can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failed {
    pub(crate) message: String,
    /// A refused TLS certificate: retrying cannot help until someone fixes it.
    pub(crate) permanent: bool,
}

impl From<String> for Failed {
    fn from(message: String) -> Self {
        Self {
            message,
            permanent: false,
        }
    }
}

/// A destination.
#[derive(Debug)]
enum Sink {
    /// An HTTP `[[sink]]`, with its own client (its own TLS trust).
    Http {
        url: String,
        secret: Arc<Secret>,
        timeout: Duration,
        client: reqwest::Client,
    },
    /// A command `[[sink]]`.
    Command {
        command: Vec<String>,
        timeout: Duration,
    },
    /// A NATS JetStream `[[sink]]`, with its own connection.
    Nats(Box<nats::Nats>),
    /// A PostgreSQL table `[[sink]]`.
    Postgres(Box<table::PostgresTable>),
    /// A SQLite table `[[sink]]`.
    Sqlite(Box<table::SqliteTable>),
    /// In-process (the demo watches what was processed).
    Channel(mpsc::UnboundedSender<Message>),
}

/// All sinks of a receiver. A message is delivered when every sink took it; when one fails the
/// whole delivery is retried later (at least once per sink: use `webhook-id` to deduplicate).
#[derive(Debug)]
pub(crate) struct Sinks {
    sinks: Vec<Sink>,
    /// What each of `sinks` receives masked (same order; in-process channels: nothing).
    masks: Vec<SinkMask>,
}

impl Sinks {
    /// Sinks from the configuration, and in-process channels; `inbox`: the inbox's
    /// PostgreSQL database, when it has one.
    pub(crate) fn new(
        configs: &[SinkConfig],
        channels: Vec<mpsc::UnboundedSender<Message>>,
        inbox: Option<&InboxDatabase>,
    ) -> Result<Self, Error> {
        let mut sinks = Vec::with_capacity(configs.len() + channels.len());
        for (index, config) in configs.iter().enumerate() {
            sinks.push(match config {
                SinkConfig::Http {
                    url,
                    secret,
                    timeout,
                    tls,
                    ..
                } => Sink::Http {
                    url: url.clone(),
                    secret: secret.clone(),
                    timeout: *timeout,
                    client: client(tls.as_ref())?,
                },
                SinkConfig::Command {
                    command, timeout, ..
                } => Sink::Command {
                    command: command.clone(),
                    timeout: *timeout,
                },
                SinkConfig::Nats {
                    url,
                    subject,
                    stream,
                    create_stream,
                    auth,
                    tls,
                    secret,
                    timeout,
                    ..
                } => Sink::Nats(Box::new(nats::Nats {
                    key: format!("sink[{index}]"),
                    url: url.clone(),
                    subject: subject.clone(),
                    stream: stream.clone(),
                    create_stream: *create_stream,
                    auth: auth.clone(),
                    tls: tls.clone(),
                    secret: secret.clone(),
                    timeout: *timeout,
                    context: tokio::sync::OnceCell::new(),
                    window: std::sync::OnceLock::new(),
                })),
                SinkConfig::Postgres {
                    url,
                    table,
                    notify,
                    timeout,
                    ..
                } => {
                    let shared = inbox
                        .filter(|inbox| inbox.url == *url)
                        .map(|inbox| inbox.inbox.clone());
                    if shared.is_some() {
                        tracing::info!(
                            target: "hookbr",
                            "sink[{index}]: table {table} is in the inbox's database: each \
                             insert commits in the transaction that marks the row done"
                        );
                    }
                    Sink::Postgres(Box::new(
                        table::PostgresTable::new(
                            format!("sink[{index}]"),
                            url,
                            table,
                            notify.as_ref(),
                            *timeout,
                            shared,
                        )
                        .map_err(Error::config)?,
                    ))
                }
                SinkConfig::Sqlite {
                    path,
                    table,
                    timeout,
                    ..
                } => Sink::Sqlite(Box::new(table::SqliteTable::new(
                    format!("sink[{index}]"),
                    path.clone(),
                    table,
                    *timeout,
                ))),
            });
        }
        let mut masks: Vec<SinkMask> = configs.iter().map(|c| c.mask().clone()).collect();
        masks.resize(configs.len() + channels.len(), SinkMask::Off);
        sinks.extend(channels.into_iter().map(Sink::Channel));
        Ok(Self { sinks, masks })
    }

    /// Connects the NATS sinks and checks their streams (start-up: a stream that does not
    /// exist or does not capture the subject stops the server with a message naming it). With
    /// an inbox (`max_backoff` of its worker given), a stream whose duplicate window is shorter
    /// than the longest retry delay plus the sink's timeout is warned about.
    ///
    /// A table sink's table must exist with its columns (else a message naming the table and
    /// `hookbr sink migrate`).
    pub(crate) async fn check(&self, max_backoff: Option<Duration>) -> Result<(), Error> {
        for sink in &self.sinks {
            match sink {
                Sink::Nats(nats) => {
                    nats.ready()
                        .await
                        .map_err(|message| Error::runtime(format!("{}: {message}", nats.key)))?;
                    if let Some(max_backoff) = max_backoff {
                        nats.warn_short_window(max_backoff);
                    }
                }
                Sink::Postgres(table) => table
                    .check()
                    .await
                    .map_err(|message| Error::runtime(format!("{}: {message}", table.key)))?,
                Sink::Sqlite(table) => table
                    .check()
                    .await
                    .map_err(|message| Error::runtime(format!("{}: {message}", table.key)))?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Hands `message` (the message of `processed`) to every sink, or to a sink with a `mask`
    /// the message with `data.event` masked; the first failure is returned. The table sinks in
    /// the inbox's database come last: with `fence` (an inbox row), their inserts and the
    /// row's done mark are one transaction, and `fence.delivered` is told.
    pub(crate) async fn deliver(
        &self,
        message: &Message,
        processed: &Processed<'_>,
        fence: Option<Fence<'_>>,
    ) -> Result<(), Failed> {
        let mut joined = Vec::new();
        let mut masked: Vec<(&SinkMask, Message)> = Vec::new();
        for (sink, mask) in self.sinks.iter().zip(&self.masks) {
            let message = if *mask == SinkMask::Off {
                message
            } else {
                if !masked.iter().any(|(done, _)| *done == mask) {
                    masked.push((mask, Message::masked(processed, mask)?));
                }
                masked
                    .iter()
                    .find(|(done, _)| *done == mask)
                    .map_or(message, |(_, message)| message)
            };
            match sink {
                Sink::Postgres(table) if table.inbox.is_some() && fence.is_some() => {
                    joined.push((&**table, message.clone()));
                }
                Sink::Postgres(table) => table.insert(message).await?,
                Sink::Sqlite(table) => table.insert(message).await?,
                Sink::Http {
                    url,
                    secret,
                    timeout,
                    client,
                } => http::post(client, url, secret, *timeout, message).await?,
                Sink::Command { command, timeout } => {
                    command::run_command(command, *timeout, message).await?;
                }
                Sink::Nats(nats) => nats.publish(message).await?,
                Sink::Channel(sender) => sender
                    .send(message.clone())
                    .map_err(|_| Failed::from("the in-process sink is closed".to_owned()))?,
            }
        }
        let (Some(fence), Some(inbox)) =
            (fence, joined.first().and_then(|(t, _)| t.inbox.as_ref()))
        else {
            return Ok(());
        };
        let row = &fence.delivered.row;
        if table::insert_with_done_mark(inbox, &joined, row.id, row.claim).await? {
            fence.delivered.completed_by_handler();
            Ok(())
        } else {
            Err(Failed::from(
                "lease lost: another worker claimed the row again; nothing was inserted".to_owned(),
            ))
        }
    }
}

/// `hookbr sink migrate`: creates the table of every table sink of `sinks` (`CREATE TABLE IF
/// NOT EXISTS`: running it again changes nothing), in order; one line per table sink.
///
/// # Errors
///
/// [`Error::Runtime`] naming the sink and the database when a migration fails (the ones
/// before it stay done).
pub async fn migrate(sinks: &[SinkConfig]) -> Result<Vec<String>, Error> {
    let built = Sinks::new(sinks, Vec::new(), None)?;
    let mut lines = Vec::new();
    for sink in &built.sinks {
        match sink {
            Sink::Postgres(table) => {
                table
                    .migrate()
                    .await
                    .map_err(|message| Error::runtime(format!("{}: {message}", table.key)))?;
                lines.push(format!(
                    "{}: PostgreSQL table {} is ready",
                    table.key,
                    table.table()
                ));
            }
            Sink::Sqlite(table) => {
                table
                    .migrate()
                    .await
                    .map_err(|message| Error::runtime(format!("{}: {message}", table.key)))?;
                lines.push(format!(
                    "{}: SQLite table {} in {} is ready",
                    table.key,
                    table.table(),
                    table.path().display()
                ));
            }
            _ => {}
        }
    }
    Ok(lines)
}

/// The HTTP client of one sink: its TLS trust for `https://`, none needed for `http://`.
fn client(tls: Option<&hookbr_tls::ClientTls>) -> Result<reqwest::Client, Error> {
    let builder = reqwest::Client::builder()
        .user_agent(concat!("hookbr/", env!("CARGO_PKG_VERSION")))
        // Sinks are the merchant's own application, usually on loopback: a proxy set for the
        // shell (HTTP_PROXY) must not intercept them.
        .no_proxy();
    let builder = match tls {
        Some(tls) => {
            let mut config = tls
                .config()
                .map_err(|error| Error::runtime(format!("sink TLS: {error}")))?;
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            builder.use_preconfigured_tls(config)
        }
        None => builder,
    };
    builder
        .build()
        .map_err(|error| Error::runtime(format!("cannot build the HTTP client: {error}")))
}
