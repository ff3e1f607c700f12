//! The HTTP sink: POST the message, signed the Standard Webhooks way.

use std::time::Duration;

use hookbr_core::Secret;

use super::{Failed, message::Message, signature::sign};
use crate::config::redact_url;

/// POSTs `message` to `url`; any 2xx is success. A TLS certificate the client refuses is a
/// permanent failure naming the host (`TLS handshake with app.example:443 failed: certificate
/// not trusted (unknown issuer)`).
pub(super) async fn post(
    client: &reqwest::Client,
    url: &str,
    secret: &Secret,
    timeout: Duration,
    message: &Message,
) -> Result<(), Failed> {
    let timestamp = hookbr_core::inbox::now_ms() / 1_000;
    let signature = sign(secret, &message.id, timestamp, &message.body);
    let response = client
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
            if let Some(why) = hookbr_tls::describe(&error) {
                return Failed {
                    message: format!(
                        "forward to {}: TLS handshake with {} failed: {why}",
                        redact_url(url),
                        host_port(url)
                    ),
                    permanent: hookbr_tls::is_certificate_error(&error),
                };
            }
            let what = if error.is_timeout() {
                format!("no answer within {} ms", timeout.as_millis())
            } else if error.is_connect() {
                "connection failed".to_owned()
            } else {
                "request failed".to_owned()
            };
            Failed::from(format!("forward to {}: {what}", redact_url(url)))
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(Failed::from(format!(
            "forward to {}: HTTP {}",
            redact_url(url),
            status.as_u16()
        )))
    }
}

/// `host:port` of `url` (the scheme's default port when none is written).
fn host_port(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match (parsed.host_str(), parsed.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => "the sink".to_owned(),
        },
        Err(_) => "the sink".to_owned(),
    }
}
