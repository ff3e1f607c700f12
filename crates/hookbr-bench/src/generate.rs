//! `bench-server gen <out.lua> <count>`: pre-generates signed Grafeno deliveries for wrk.

use std::{fmt::Write as _, io::Write as _};

use hookbr_core::testkit::{self, TestKey};

/// Writes `count` fresh `boleto-criado` deliveries signed by the committed 2048-bit test key,
/// as a Lua chunk returning `{ {x_unique_key, body}, ... }` (long brackets, no escaping).
/// Signing runs on every core; it happens once, before any timing.
pub(crate) fn run(out: &str, count: usize) -> Result<(), Box<dyn std::error::Error>> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let per_thread = count.div_ceil(threads);
    let chunks: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let n = per_thread.min(count.saturating_sub(thread * per_thread));
                scope.spawn(move || {
                    let mut lua = String::new();
                    for _ in 0..n {
                        let delivery = testkit::grafeno_boleto_criado(TestKey::rsa_2048());
                        let key = delivery
                            .headers
                            .iter()
                            .find(|(name, _)| name.eq_ignore_ascii_case("x-unique-key"))
                            .map(|(_, value)| value.clone())
                            .unwrap_or_default();
                        let body = String::from_utf8_lossy(&delivery.body);
                        let _ = writeln!(lua, "{{[==[{key}]==],[==[{body}]==]}},");
                    }
                    lua
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_default())
            .collect()
    });
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    writeln!(file, "return {{")?;
    for chunk in chunks {
        file.write_all(chunk.as_bytes())?;
    }
    writeln!(file, "}}")?;
    file.flush()?;
    Ok(())
}
