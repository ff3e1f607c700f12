//! `bench-server dedup-rss [count]`: memory per remembered delivery in `MemoryStore`, measured
//! from the process's resident set size.

use std::time::Duration;

use hookbr_core::{Claim, DeliveryId, MemoryStore, Provider};

/// Resident set size in bytes, from `/proc/self/statm` (4 KiB pages, as on x86-64 Linux).
fn rss_bytes() -> Result<u64, Box<dyn std::error::Error>> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .ok_or("unexpected /proc/self/statm")?
        .parse()?;
    Ok(pages * 4096)
}

/// Claims `count` fresh delivery ids (BonifiQ UUID-like ids, as the pipeline derives them),
/// completes every other one, and prints the RSS growth per entry.
#[allow(clippy::print_stdout, reason = "a command-line tool")]
pub(crate) fn run(count: usize) -> Result<(), Box<dyn std::error::Error>> {
    let store = MemoryStore::with_capacity(count.max(1))?;
    let before = rss_bytes()?;
    for n in 0..count {
        let key = DeliveryId::new(
            Provider::Bonifiq,
            format!("{n:08x}-0000-4000-8000-000000000000"),
        )
        .key();
        match store.claim_now(key, Duration::from_secs(60))? {
            Claim::New(token) if n % 2 == 0 => {
                store.complete_now(key, token, Duration::from_secs(7 * 86_400));
            }
            Claim::New(_) => {}
            other => return Err(format!("id {n} was not fresh: {other:?}").into()),
        }
    }
    let after = rss_bytes()?;
    if store.len() != count {
        return Err(format!("store holds {} entries, expected {count}", store.len()).into());
    }
    #[allow(clippy::cast_precision_loss, reason = "a report")]
    let per_entry = after.saturating_sub(before) as f64 / count.max(1) as f64;
    println!(
        "dedup-rss entries={count} rss_before={before} rss_after={after} bytes_per_entry={per_entry:.1}"
    );
    drop(store);
    Ok(())
}
