//! The request generator: `bench-server gen <out.tsv> <count>` pre-generates signed Grafeno
//! deliveries for wrk, `bench-server body <bonifiq|foody>` prints the body the wrk scripts send
//! with a fresh id per request.

use std::{fmt::Write as _, io::Write as _};

use hookbr_core::{
    Provider,
    testkit::{self, TestKey},
};

use crate::{BONIFIQ_SECRET, FOODY_TOKEN};

/// The placeholder `body` puts where the wrk scripts write each request's id.
const ID: &str = "@ID@";

/// The compact body of the provider's default sample, as `hookbr send` sends it (the wire
/// fixture: BonifiQ `Point_Add`, Foody `order_status_updated`) with the bench's credentials,
/// its id (`Uuid`, `uid`) replaced by `@ID@`.
pub(crate) fn body(provider: &str) -> Result<String, Box<dyn std::error::Error>> {
    let (provider, id_field) = match provider {
        "bonifiq" => (Provider::Bonifiq, "Uuid"),
        "foody" => (Provider::Foody, "uid"),
        other => return Err(format!("no wrk body for {other:?} (bonifiq or foody)").into()),
    };
    // Each provider takes its own: BonifiQ the secret, Foody the token.
    let credentials = hookbr_sim::Credentials {
        secret: Some(BONIFIQ_SECRET.to_owned()),
        token: Some(FOODY_TOKEN.to_owned()),
        ..hookbr_sim::Credentials::default()
    };
    let delivery = hookbr_sim::build(provider, None, None, &credentials)?;
    let body = String::from_utf8(delivery.wire.body)?;
    let value: serde_json::Value = serde_json::from_str(&body)?;
    let id = value
        .get(id_field)
        .and_then(serde_json::Value::as_str)
        .ok_or("the sample has no id")?;
    Ok(body.replacen(id, ID, 1))
}

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
                        let key = delivery.header("x-unique-key").unwrap_or_default();
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

#[cfg(test)]
mod tests {
    #[test]
    fn wrk_bodies_have_one_placeholder() {
        for provider in ["bonifiq", "foody"] {
            let body = super::body(provider).unwrap();
            assert_eq!(body.matches(super::ID).count(), 1, "{body}");
            assert!(
                !body.contains('\'') && !body.contains('\\'),
                "a Lua literal: {body}"
            );
        }
        // The fixtures, compact, with a fresh timestamp: only the id and the time differ.
        for (provider, fixture, fields) in [
            (
                "bonifiq",
                "bonifiq/point_add_legacy.json",
                ["Uuid", "Timestamp"],
            ),
            (
                "foody",
                "foody/order_status_updated.json",
                ["uid", "updateDate"],
            ),
        ] {
            let body = super::body(provider).unwrap();
            let mut sent: serde_json::Value = serde_json::from_str(&body).unwrap();
            let fixture = hookbr_core::testkit::fixture(fixture).unwrap();
            let mut expected: serde_json::Value = serde_json::from_str(fixture).unwrap();
            if provider == "foody" {
                expected["token"] = sent["token"].clone();
            }
            for field in fields {
                sent[field] = serde_json::Value::Null;
                expected[field] = serde_json::Value::Null;
            }
            assert_eq!(sent, expected, "{provider}");
            assert!(
                body.starts_with(&format!(r#"{{"{}":"@ID@","#, fields[0])),
                "{body}"
            );
        }
        assert!(super::body("grafeno").is_err());
    }
}
