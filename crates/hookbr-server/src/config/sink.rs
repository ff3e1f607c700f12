//! `[[sink]]`: where processed events go.

use std::{path::Path, sync::Arc, time::Duration};

use hookbr_core::Secret;

use super::{
    raw::RawSink,
    reference::{resolve_secret, resolve_value},
    value::{duration, problem, redact_url},
};

/// Where processed events go.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SinkConfig {
    /// POST normalized JSON to `url`, signed the Standard Webhooks way with `secret`.
    Http {
        /// The target URL.
        url: String,
        /// The HMAC key (decoded from `whsec_…`).
        secret: Arc<Secret>,
        /// Per-attempt timeout.
        timeout: Duration,
    },
    /// Run `command` with the normalized JSON on stdin; exit 0 is success.
    Command {
        /// Program and arguments.
        command: Vec<String>,
        /// The longest a run may take before it is killed and counted as a failure.
        timeout: Duration,
    },
}

impl SinkConfig {
    /// One line for a start-up banner (no secrets, no URL credentials).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Http { url, .. } => {
                format!("forward to {} (Standard Webhooks signed)", redact_url(url))
            }
            Self::Command { command, .. } => {
                format!("run {}", command.first().map_or("", String::as_str))
            }
        }
    }
}

/// Decodes a Standard Webhooks secret: `whsec_` + base64 of 24 to 64 random bytes.
pub(crate) fn webhook_secret(text: &str) -> Result<Secret, String> {
    use base64::Engine as _;
    let encoded = text.strip_prefix("whsec_").ok_or(
        "expected a Standard Webhooks secret: whsec_ followed by base64 (`hookbr init` prints a fresh one)",
    )?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "the part after whsec_ is not base64".to_owned())?;
    if !(24..=64).contains(&bytes.len()) {
        return Err(format!(
            "the key is {} bytes; Standard Webhooks keys are 24 to 64 bytes",
            bytes.len()
        ));
    }
    Secret::new(bytes).map_err(|_| "the key is empty".to_owned())
}

pub(super) fn resolve_sink(key: &str, raw: RawSink, base: &Path) -> Result<SinkConfig, String> {
    match raw {
        RawSink::Http {
            url,
            secret,
            timeout,
        } => {
            let url =
                resolve_value(&url).map_err(|message| problem(format!("{key}.url"), message))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(problem(
                    format!("{key}.url"),
                    "expected an http:// or https:// URL",
                ));
            }
            let secret_key = format!("{key}.secret");
            let (secret, _) = resolve_secret(&secret_key, &secret, base)?;
            let text = String::from_utf8(secret.expose().to_vec())
                .map_err(|_| problem(&secret_key, "not text"))?;
            let secret =
                webhook_secret(text.trim()).map_err(|message| problem(&secret_key, message))?;
            Ok(SinkConfig::Http {
                url,
                secret: Arc::new(secret),
                timeout: duration(
                    &format!("{key}.timeout"),
                    timeout.as_deref(),
                    Duration::from_secs(10),
                )?,
            })
        }
        RawSink::Command { command, timeout } => {
            if command.first().is_none_or(String::is_empty) {
                return Err(problem(
                    format!("{key}.command"),
                    "needs the program and its arguments, e.g. [\"php\", \"handle.php\"]",
                ));
            }
            Ok(SinkConfig::Command {
                command,
                timeout: duration(
                    &format!("{key}.timeout"),
                    timeout.as_deref(),
                    Duration::from_secs(30),
                )?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_secrets() {
        assert!(webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(webhook_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(
            webhook_secret("whsec_c2hvcnQ=")
                .unwrap_err()
                .contains("24 to 64")
        );
        assert!(webhook_secret("whsec_!!!").is_err());
    }
}
