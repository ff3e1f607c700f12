//! The HTTP sink: POST the message, signed the Standard Webhooks way.

use std::time::Duration;

use hookbr_core::Secret;

use super::{message::Message, signature::sign};
use crate::config::redact_url;

/// POSTs `message` to `url`; any 2xx is success.
pub(super) async fn post(
    client: &reqwest::Client,
    url: &str,
    secret: &Secret,
    timeout: Duration,
    message: &Message,
) -> Result<(), String> {
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
