//! Sinks: where `hookbr serve` hands each processed event.
//!
//! Every sink receives the same normalized JSON, whatever the provider:
//!
//! ```json
//! {"type":"bonifiq.Point_Add","timestamp":"2026-11-24T17:00:00.123Z",
//!  "data":{"provider":"bonifiq","endpoint":"bonifiq","kind":"Point_Add","known":true,
//!          "delivery_id":"…","occurred_at":"…","received_at":"…","matched_key":"env:BONIFIQ_SECRET",
//!          "attempt":1,"event":{…}}}
//! ```
//!
//! The HTTP sink POSTs it signed the [Standard Webhooks](https://www.standardwebhooks.com/) way
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`), so the application verifies one scheme instead of four. The
//! `webhook-id` is stable across retries of the same delivery, so the application can
//! deduplicate the at-least-once forwarding with it. The command sink runs a program with the
//! JSON on stdin; exit status 0 is success.

use std::{process::Stdio, sync::Arc, time::Duration};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use hookbr_core::{DedupKey, Secret, WebhookEvent};
use serde::Serialize;
use sha2::Sha256;
use tokio::{io::AsyncWriteExt as _, sync::mpsc};

use crate::config::{SinkConfig, redact_url};

/// One event ready for the sinks.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// `msg_<hex of the delivery key>`: the same for every attempt of one delivery.
    pub(crate) id: String,
    /// `<provider>.<kind>`.
    pub(crate) event_type: String,
    /// The delivery id as the provider gave it.
    pub(crate) delivery_id: String,
    /// The normalized JSON.
    pub(crate) body: Arc<[u8]>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    r#type: &'a str,
    timestamp: String,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    provider: &'a str,
    endpoint: &'a str,
    kind: &'a str,
    known: bool,
    delivery_id: &'a str,
    occurred_at: Option<String>,
    received_at: String,
    matched_key: &'a str,
    attempt: u32,
    event: &'a WebhookEvent,
}

/// What a processed delivery is made of.
#[derive(Debug)]
pub(crate) struct Processed<'a> {
    /// The endpoint text (`bonifiq`, `iset:order_upserted`, ...).
    pub(crate) endpoint: &'a str,
    /// The delivery id.
    pub(crate) delivery_id: &'a str,
    /// The delivery key.
    pub(crate) key: DedupKey,
    /// The label of the matched secret or key.
    pub(crate) matched_key: &'a str,
    /// When it was received (ms since the epoch).
    pub(crate) received_at_ms: i64,
    /// This attempt's number, from 1.
    pub(crate) attempt: u32,
    /// The decoded event.
    pub(crate) event: &'a WebhookEvent,
}

impl Message {
    /// The normalized message for `processed`.
    pub(crate) fn new(processed: &Processed<'_>) -> Result<Self, String> {
        let event = processed.event;
        let event_type = format!("{}.{}", event.provider(), event.kind());
        let envelope = Envelope {
            r#type: &event_type,
            timestamp: rfc3339_ms(hookbr_core::inbox::now_ms()),
            data: Data {
                provider: event.provider().as_str(),
                endpoint: processed.endpoint,
                kind: event.kind(),
                known: event.is_known(),
                delivery_id: processed.delivery_id,
                occurred_at: event.occurred_at().map(|at| at.to_string()),
                received_at: rfc3339_ms(processed.received_at_ms),
                matched_key: processed.matched_key,
                attempt: processed.attempt,
                event,
            },
        };
        let body = serde_json::to_vec(&envelope)
            .map_err(|error| format!("cannot serialize the event: {error}"))?;
        let id: String = processed
            .key
            .as_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok(Self {
            id: format!("msg_{id}"),
            event_type,
            delivery_id: processed.delivery_id.to_owned(),
            body: body.into(),
        })
    }
}

/// The proleptic Gregorian `(year, month, day)` of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
    let (second, milli) = (ms_of_day / 1_000 % 60, ms_of_day % 1_000);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

/// The Standard Webhooks signature header value for `body` sent as `id` at `timestamp`.
pub(crate) fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

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
    /// Sinks from the configuration.
    pub(crate) fn new(configs: &[SinkConfig]) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("hookbr/", env!("CARGO_PKG_VERSION")))
            // Sinks are the merchant's own application, usually on loopback: a proxy set for the
            // shell (HTTP_PROXY) must not intercept them.
            .no_proxy()
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        let sinks = configs.iter().cloned().map(Sink::Configured).collect();
        Ok(Self { sinks, client })
    }

    /// Adds an in-process sink.
    pub(crate) fn with_channel(mut self, sender: mpsc::UnboundedSender<Message>) -> Self {
        self.sinks.push(Sink::Channel(sender));
        self
    }

    /// How many sinks there are.
    pub(crate) fn len(&self) -> usize {
        self.sinks.len()
    }

    /// One line per sink for the startup banner (no secrets).
    pub(crate) fn describe(&self) -> Vec<String> {
        self.sinks
            .iter()
            .map(|sink| match sink {
                Sink::Configured(SinkConfig::Http { url, .. }) => {
                    format!("forward to {} (Standard Webhooks signed)", redact_url(url))
                }
                Sink::Configured(SinkConfig::Command { command, .. }) => {
                    format!("run {}", command.first().map_or("", String::as_str))
                }
                Sink::Channel(_) => "in-process".to_owned(),
            })
            .collect()
    }

    /// Hands `message` to every sink; the first failure is returned.
    pub(crate) async fn deliver(&self, message: &Message) -> Result<(), String> {
        for sink in &self.sinks {
            match sink {
                Sink::Configured(SinkConfig::Http {
                    url,
                    secret,
                    timeout,
                }) => self.post(url, secret, *timeout, message).await?,
                Sink::Configured(SinkConfig::Command { command, timeout }) => {
                    run_command(command, *timeout, message).await?
                }
                Sink::Channel(sender) => sender
                    .send(message.clone())
                    .map_err(|_| "the in-process sink is closed".to_owned())?,
            }
        }
        Ok(())
    }

    async fn post(
        &self,
        url: &str,
        secret: &Secret,
        timeout: Duration,
        message: &Message,
    ) -> Result<(), String> {
        let timestamp = hookbr_core::inbox::now_ms() / 1_000;
        let signature = sign(secret, &message.id, timestamp, &message.body);
        let response = self
            .client
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(message.body.to_vec())
            .send()
            .await
            .map_err(|error| {
                let what = if error.is_timeout() {
                    format!("no answer within {} ms", timeout.as_millis())
                } else if error.is_connect() {
                    "connection failed".to_owned()
                } else {
                    "request failed".to_owned()
                };
                format!("forward to {}: {what}", redact_url(url))
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!(
                "forward to {}: HTTP {}",
                redact_url(url),
                status.as_u16()
            ))
        }
    }
}

/// Runs `command` with the message on stdin.
async fn run_command(
    command: &[String],
    timeout: Duration,
    message: &Message,
) -> Result<(), String> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| "empty command".to_owned())?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("HOOKBR_WEBHOOK_ID", &message.id)
        .env("HOOKBR_EVENT_TYPE", &message.event_type)
        .env("HOOKBR_DELIVERY_ID", &message.delivery_id)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot run {program}: {error}"))?;
    let mut stdin = child.stdin.take();
    let body = message.body.clone();
    let run = async move {
        if let Some(stdin) = stdin.as_mut() {
            // A program that does not read its input is not an error by itself: its exit
            // status decides.
            let _ = stdin.write_all(&body).await;
            let _ = stdin.shutdown().await;
        }
        drop(stdin);
        child.wait_with_output().await
    };
    let output = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| format!("{program} did not finish within {} ms", timeout.as_millis()))?
        .map_err(|error| format!("{program}: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    let last: String = last.chars().take(200).collect();
    let status = output.status.code().map_or_else(
        || "was killed by a signal".to_owned(),
        |code| format!("exited with {code}"),
    );
    Err(if last.is_empty() {
        format!("{program} {status}")
    } else {
        format!("{program} {status}: {last}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
        for ms in [0, 86_399_999, 1_709_298_971_396, 4_102_444_800_000] {
            let text = rfc3339_ms(ms);
            let parsed = hookbr_core::Timestamp::parse(&text).unwrap();
            assert_eq!(
                parsed.unix_seconds() * 1_000 + i64::from(parsed.subsec_nanos() / 1_000_000),
                ms
            );
        }
    }

    /// The example of the Standard Webhooks specification (and svix's test vector).
    #[test]
    fn standard_webhooks_known_answer() {
        let secret =
            crate::config::webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[tokio::test]
    async fn command_sink_gets_the_json_and_reports_failures() {
        let message = Message {
            id: "msg_1".into(),
            event_type: "foody.hook_test".into(),
            delivery_id: "d1".into(),
            body: Arc::from(&b"{\"a\":1}"[..]),
        };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.json");
        let script = format!(
            "cat > {} && test \"$HOOKBR_WEBHOOK_ID\" = msg_1",
            out.display()
        );
        let ok = vec!["sh".into(), "-c".into(), script];
        run_command(&ok, Duration::from_secs(10), &message)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"{\"a\":1}");

        let failing = vec!["sh".into(), "-c".into(), "echo boom >&2; exit 3".into()];
        let error = run_command(&failing, Duration::from_secs(10), &message)
            .await
            .unwrap_err();
        assert_eq!(error, "sh exited with 3: boom");

        let slow = vec!["sleep".into(), "5".into()];
        let error = run_command(&slow, Duration::from_millis(100), &message)
            .await
            .unwrap_err();
        assert!(error.contains("did not finish"), "{error}");

        let missing = vec!["/nonexistent/hookbr-sink".into()];
        assert!(
            run_command(&missing, Duration::from_secs(1), &message)
                .await
                .is_err()
        );
    }
}
