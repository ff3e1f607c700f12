//! Random numbers for fresh ids and Foody's retry delay.

use ring::rand::{SecureRandom as _, SystemRandom};

/// A random number in `low..=high`.
pub(crate) fn random_number(low: u64, high: u64) -> u64 {
    let mut bytes = [0u8; 8];
    // SystemRandom only fails where the OS has no randomness source.
    let _ = SystemRandom::new().fill(&mut bytes);
    let span = high.saturating_sub(low).saturating_add(1);
    low + u64::from_be_bytes(bytes) % span.max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_stay_in_range() {
        for _ in 0..100 {
            assert!((5..=7).contains(&super::random_number(5, 7)));
        }
    }
}
