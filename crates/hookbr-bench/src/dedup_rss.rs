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

/// `bench-server dedup-claims <count> [probes]`: a `MemoryStore` of capacity `count` filled
/// with `count` entries (half of them completed, as `run`), then `probes` more fresh claims,
/// each timed (and then completed): the claim latency at that size, including the claims that
/// find the store full and make room, and the RSS per entry. Prints one line of
/// tab-separated `name value` pairs.
#[allow(clippy::print_stdout, reason = "a command-line tool")]
pub(crate) fn claims(count: usize, probes: usize) -> Result<(), Box<dyn std::error::Error>> {
    let store = MemoryStore::with_capacity(count.max(1))?;
    let before = rss_bytes()?;
    let started = std::time::Instant::now();
    let claim = |n: usize| -> Result<(), Box<dyn std::error::Error>> {
        let key = DeliveryId::new(
            Provider::Bonifiq,
            format!("{n:08x}-0000-4000-8000-000000000000"),
        )
        .key();
        match store.claim_now(key, Duration::from_secs(60))? {
            Claim::New(token) if n % 2 == 0 => {
                store.complete_now(key, token, Duration::from_secs(7 * 86_400));
                Ok(())
            }
            Claim::New(_) => Ok(()),
            other => Err(format!("id {n} was not fresh: {other:?}").into()),
        }
    };
    for n in 0..count {
        claim(n)?;
    }
    let fill_s = started.elapsed().as_secs_f64();
    let after = rss_bytes()?;
    // The key's formatting is outside the timed part, as in a request (the pipeline has the
    // id already).
    let mut samples = Vec::with_capacity(probes);
    for n in count..count + probes {
        let key = DeliveryId::new(
            Provider::Bonifiq,
            format!("{n:08x}-0000-4000-8000-000000000000"),
        )
        .key();
        let started = std::time::Instant::now();
        let outcome = store.claim_now(key, Duration::from_secs(60))?;
        samples.push(started.elapsed().as_nanos());
        // Completed (untimed), so the probes never fill the store with deliveries in flight.
        match outcome {
            Claim::New(token) => store.complete_now(key, token, Duration::from_secs(7 * 86_400)),
            other => return Err(format!("id {n} was not fresh: {other:?}").into()),
        }
    }
    samples.sort_unstable();
    let at = |q: f64| -> u128 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into the samples"
        )]
        let index = ((samples.len().saturating_sub(1)) as f64 * q).round() as usize;
        samples.get(index).copied().unwrap_or(0)
    };
    #[allow(clippy::cast_precision_loss, reason = "a report")]
    let per_entry = after.saturating_sub(before) as f64 / count.max(1) as f64;
    println!(
        "entries\t{count}\tfill_s\t{fill_s:.1}\tbytes_per_entry\t{per_entry:.1}\tclaim_p50_ns\t{}\tclaim_p99_ns\t{}\tclaim_p999_ns\t{}\tclaim_max_ms\t{:.1}\tprobes\t{probes}\theld_after\t{}",
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0) as f64 / 1e6,
        store.len()
    );
    drop(store);
    Ok(())
}
