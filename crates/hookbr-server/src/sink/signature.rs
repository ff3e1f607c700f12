//! Standard Webhooks signing: the `webhook-signature` of the HTTP sink, and fresh secrets.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use hookbr_core::Secret;
use ring::rand::{SecureRandom as _, SystemRandom};
use sha2::Sha256;

use crate::Error;

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

/// A fresh Standard Webhooks secret for an HTTP sink: `whsec_` + base64 of 32 random bytes.
///
/// # Errors
///
/// [`Error::Runtime`] when the system has no randomness source.
pub fn generate_secret() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::runtime("the system has no randomness source"))?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::webhook_secret;

    /// The example of the Standard Webhooks specification (and svix's test vector).
    #[test]
    fn standard_webhooks_known_answer() {
        let secret = webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn fresh_secrets_are_valid_and_differ() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_ne!(a, b);
        assert!(webhook_secret(&a).is_ok());
    }
}
