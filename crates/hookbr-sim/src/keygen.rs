//! RSA key pairs for local Grafeno simulation (`hookbr keygen`, `hookbr demo`).
//!
//! The `rsa` crate only generates the key (ring cannot); everything that signs or verifies uses
//! `ring`.

use rsa::{
    RsaPrivateKey,
    pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding},
};

use crate::Error;

/// A generated key pair as PEM text. Its `Debug` shows the public half only.
pub struct KeyPair {
    /// PKCS#8 `PRIVATE KEY` PEM: the secret half, what signs (see [`SigningKey`](crate::SigningKey)).
    pub private_pem: String,
    /// SPKI `PUBLIC KEY` PEM, for hookbr's Grafeno verifier.
    pub public_pem: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_pem", &self.public_pem)
            .finish_non_exhaustive()
    }
}

/// Generates an RSA key pair of `bits`: 2048 (Grafeno's registration webhooks) or 4096 (its
/// charge webhooks).
///
/// # Errors
///
/// [`Error`] for another size, or when the system has no randomness source.
pub fn generate(bits: usize) -> Result<KeyPair, Error> {
    if bits != 2048 && bits != 4096 {
        return Err(Error::new(format!("--bits {bits}: expected 2048 or 4096")));
    }
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits)
        .map_err(|error| Error::new(format!("cannot generate an RSA key: {error}")))?;
    let private_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| Error::new(format!("cannot encode the private key: {error}")))?
        .to_string();
    let public_pem = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|error| Error::new(format!("cannot encode the public key: {error}")))?;
    Ok(KeyPair {
        private_pem,
        public_pem,
    })
}

#[cfg(test)]
mod tests {
    use hookbr_core::verify::RsaPublicKey;

    use super::*;
    use crate::SigningKey;

    #[test]
    fn generated_keys_parse_sign_and_verify() {
        let pair = generate(2048).unwrap();
        assert!(pair.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(pair.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert!(!format!("{pair:?}").contains("PRIVATE"));
        let public = RsaPublicKey::from_pem(&pair.public_pem).unwrap();
        assert_eq!(public.bits(), 2048);
        let signing = SigningKey::from_pem(&pair.private_pem).unwrap();
        let signature = signing
            .sign(b"31216ba1-c507-688c-bea7-b7adf8cf2c1c-approved")
            .unwrap();
        // Ruby-style wrapping: 60 columns, trailing newline.
        assert!(signature.ends_with('\n'));
        assert!(signature.lines().all(|line| line.len() <= 60));
        let compact: String = signature.split_whitespace().collect();
        let raw =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, compact).unwrap();
        assert_eq!(raw.len(), public.signature_len());
        let components = ring::signature::RsaPublicKeyComponents {
            n: modulus(&pair.public_pem),
            e: vec![1, 0, 1],
        };
        assert!(
            components
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    b"31216ba1-c507-688c-bea7-b7adf8cf2c1c-approved",
                    &raw,
                )
                .is_ok()
        );
        assert!(
            components
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    b"31216ba1-c507-688c-bea7-b7adf8cf2c1c-rejected",
                    &raw,
                )
                .is_err()
        );
    }

    fn modulus(public_pem: &str) -> Vec<u8> {
        use rsa::{pkcs8::DecodePublicKey as _, traits::PublicKeyParts as _};
        rsa::RsaPublicKey::from_public_key_pem(public_pem)
            .unwrap()
            .n()
            .to_bytes_be()
    }

    #[test]
    fn other_sizes_are_refused() {
        // The exit code (2) is checked by hookbr-cli's `simulator_errors_are_usage_errors`.
        for bits in [0, 1024, 3072, 8192] {
            let error = generate(bits).unwrap_err();
            assert!(error.to_string().contains("2048 or 4096"), "{error}");
        }
    }
}
