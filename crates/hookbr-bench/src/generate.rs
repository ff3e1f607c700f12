//! `bench-server gen <out.tsv> <count>`: pre-generates signed Grafeno deliveries for wrk.

use std::{fmt::Write as _, io::Write as _};

use hookbr_core::testkit::{self, TestKey};

/// Writes `count` fresh `boleto-criado` deliveries signed by the committed 2048-bit test key,
/// one per line: `x-unique-key`, a tab, the compact JSON body (which holds no raw tab or line
/// break). The wrk script reads it with `io.lines` (a Lua table literal of this size exceeds
/// LuaJIT's 65,536 constants per chunk). Signing runs on every core, once, before any timing.
pub(crate) fn run(out: &str, count: usize) -> Result<(), Box<dyn std::error::Error>> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let per_thread = count.div_ceil(threads);
    let chunks: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let n = per_thread.min(count.saturating_sub(thread * per_thread));
                scope.spawn(move || {
                    let mut lines = String::new();
                    for _ in 0..n {
                        let delivery = testkit::grafeno_boleto_criado(TestKey::rsa_2048());
                        let key = delivery
                            .headers
                            .iter()
                            .find(|(name, _)| name.eq_ignore_ascii_case("x-unique-key"))
                            .map(|(_, value)| value.clone())
                            .unwrap_or_default();
                        let body = String::from_utf8_lossy(&delivery.body);
                        let _ = writeln!(lines, "{key}\t{body}");
                    }
                    lines
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_default())
            .collect()
    });
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    for chunk in chunks {
        file.write_all(chunk.as_bytes())?;
    }
    file.flush()?;
    Ok(())
}
