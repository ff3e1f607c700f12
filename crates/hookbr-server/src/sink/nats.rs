//! The NATS JetStream sink: publish the message to a subject of a stream, with `Nats-Msg-Id` =
//! `webhook-id`, and count it delivered only on the stream's PubAck.
//!
//! The worker delivers at least once; JetStream drops a second publish with the same
//! `Nats-Msg-Id` within the stream's duplicate window (answering `duplicate: true`, counted as
//! delivered here), so each delivery is in the stream once.

use std::{sync::Arc, time::Duration};

use async_nats::{
    ConnectOptions, HeaderMap,
    jetstream::{self, ErrorCode, context::GetStreamErrorKind},
};
use hookbr_core::Secret;
use hookbr_tls::ClientTls;
use tokio::sync::OnceCell;

use super::{Failed, message::Message, signature::sign};
use crate::config::{NatsAuth, NatsSubject, redact_url, subject_covers};

/// The duplicate window of a stream made by `create_stream` (JetStream's default too).
const CREATED_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// One `type = "nats"` sink; it connects on [`ready`](Nats::ready) (at start-up, and before a
/// reloaded configuration is swapped in) and keeps the connection (the client reconnects by
/// itself; a connection that could not be made is tried again by the next delivery).
#[derive(Debug)]
pub(super) struct Nats {
    /// `sink[N]`, for messages.
    pub(super) key: String,
    pub(super) url: String,
    pub(super) subject: NatsSubject,
    pub(super) stream: String,
    pub(super) create_stream: bool,
    pub(super) auth: NatsAuth,
    pub(super) tls: Option<ClientTls>,
    pub(super) secret: Option<Arc<Secret>>,
    pub(super) timeout: Duration,
    pub(super) context: OnceCell<jetstream::Context>,
    /// The stream's duplicate window, as read when it was checked.
    pub(super) window: std::sync::OnceLock<Duration>,
}

impl Nats {
    /// The JetStream context, connected and its stream checked (once).
    pub(super) async fn ready(&self) -> Result<&jetstream::Context, String> {
        self.context.get_or_try_init(|| self.connect()).await
    }

    async fn connect(&self) -> Result<jetstream::Context, String> {
        let server = redact_url(&self.url);
        let options = match &self.auth {
            NatsAuth::Token(token) => ConnectOptions::with_token(text(token)?),
            NatsAuth::UserPassword { user, password } => {
                ConnectOptions::with_user_and_password(user.clone(), text(password)?)
            }
            NatsAuth::NKey(seed) => ConnectOptions::with_nkey(text(seed)?),
            NatsAuth::Credentials(creds) => ConnectOptions::with_credentials(&text(creds)?)
                .map_err(|_| "the credentials are not a NATS .creds file".to_owned())?,
            _ => ConnectOptions::new(),
        };
        let mut options = options
            .name(concat!("hookbr/", env!("CARGO_PKG_VERSION")))
            .connection_timeout(self.timeout)
            .request_timeout(Some(self.timeout));
        if let Some(tls) = &self.tls {
            let config = tls.config().map_err(|error| format!("TLS: {error}"))?;
            options = options.require_tls(true).tls_client_config(config);
        }
        let client =
            options.connect(self.url.as_str()).await.map_err(
                |error| match hookbr_tls::describe(&error) {
                    Some(why) => {
                        format!("cannot connect to NATS at {server}: TLS handshake failed: {why}")
                    }
                    None => format!("cannot connect to NATS at {server}: {error}"),
                },
            )?;
        let mut context = jetstream::new(client);
        context.set_timeout(self.timeout);
        self.check_stream(&context, &server).await?;
        Ok(context)
    }

    /// The stream exists (or is created with `create_stream`) and captures the subject.
    async fn check_stream(&self, context: &jetstream::Context, server: &str) -> Result<(), String> {
        let pattern = self.subject.pattern();
        let stream = &self.stream;
        let info = match context.get_stream(stream).await {
            Ok(found) => found.cached_info().clone(),
            Err(error) => {
                let missing = matches!(
                    error.kind(),
                    GetStreamErrorKind::JetStream(ref js) if js.error_code() == ErrorCode::STREAM_NOT_FOUND
                );
                if !missing {
                    return Err(format!(
                        "cannot read JetStream stream {stream} on {server} (is JetStream enabled?): {error}"
                    ));
                }
                if !self.create_stream {
                    return Err(format!(
                        "JetStream stream {stream} does not exist on {server}: create it with \
                         subjects capturing {pattern} (or set create_stream = true, for \
                         development)"
                    ));
                }
                let config = jetstream::stream::Config {
                    name: stream.clone(),
                    subjects: vec![pattern.clone()],
                    duplicate_window: CREATED_DUPLICATE_WINDOW,
                    ..Default::default()
                };
                let created = context.create_stream(config).await.map_err(|error| {
                    format!("cannot create JetStream stream {stream} on {server}: {error}")
                })?;
                tracing::info!(
                    target: "hookbr",
                    "created JetStream stream {stream} on {server} capturing {pattern}"
                );
                created.cached_info().clone()
            }
        };
        let _ = self.window.set(info.config.duplicate_window);
        if !info
            .config
            .subjects
            .iter()
            .any(|filter| subject_covers(filter, &pattern))
        {
            return Err(format!(
                "JetStream stream {stream} on {server} does not capture the subject {} \
                 (pattern {pattern}; the stream's subjects: {}): add {pattern} to its subjects, \
                 or change subject or stream",
                self.subject,
                if info.config.subjects.is_empty() {
                    "none".to_owned()
                } else {
                    info.config.subjects.join(", ")
                }
            ));
        }
        Ok(())
    }

    /// Warns when the stream's duplicate window is shorter than a retry can come after a
    /// publish whose PubAck was lost (`max_backoff` + `timeout`): such a retry would be stored
    /// twice.
    pub(super) fn warn_short_window(&self, max_backoff: Duration) {
        let Some(window) = self.window.get() else {
            return;
        };
        let needed = max_backoff.saturating_add(self.timeout);
        if *window < needed {
            tracing::warn!(
                target: "hookbr",
                "{}: JetStream stream {} keeps message ids {} s (duplicate_window), less than \
                 [worker] max_backoff + timeout = {} s: a retry after a long backoff may be \
                 stored twice; raise the stream's duplicate_window or lower max_backoff",
                self.key,
                self.stream,
                window.as_secs(),
                needed.as_secs()
            );
        }
    }

    /// Publishes `message` and waits for the PubAck (a duplicate counts as delivered).
    pub(super) async fn publish(&self, message: &Message) -> Result<(), Failed> {
        let attempt = async {
            let context = self.ready().await?;
            let subject = self
                .subject
                .render(message.provider, &message.kind, &message.endpoint);
            let timestamp = hookbr_core::inbox::now_ms() / 1_000;
            let mut headers = HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, message.id.as_str());
            headers.insert("content-type", "application/json");
            headers.insert("webhook-id", message.id.as_str());
            headers.insert("webhook-timestamp", timestamp.to_string().as_str());
            if let Some(secret) = &self.secret {
                headers.insert(
                    "webhook-signature",
                    sign(secret, &message.id, timestamp, &message.body).as_str(),
                );
            }
            let ack = context
                .publish_with_headers(subject.clone(), headers, message.body.to_vec().into())
                .await
                .map_err(|error| format!("publish to {subject}: {error}"))?
                .await
                .map_err(|error| format!("publish to {subject}: no PubAck: {error}"))?;
            if ack.stream != self.stream {
                tracing::warn!(
                    target: "hookbr",
                    "{}: {subject} was stored by stream {}, not {}",
                    self.key,
                    ack.stream,
                    self.stream
                );
            }
            Ok::<_, String>(())
        };
        tokio::time::timeout(self.timeout, attempt)
            .await
            .map_err(|_| {
                format!(
                    "publish to NATS {}: no PubAck within {} ms",
                    redact_url(&self.url),
                    self.timeout.as_millis()
                )
            })?
            .map_err(Failed::from)
    }
}

/// A secret as text (NATS credentials are text).
fn text(secret: &Secret) -> Result<String, String> {
    String::from_utf8(secret.expose().to_vec()).map_err(|_| "a credential is not text".to_owned())
}
