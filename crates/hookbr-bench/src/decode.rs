//! `bench-server decode <bonifiq|foody|iset|grafeno> <typed|value> <count>`: decodes one
//! testkit body `count` times, for instruction counts under `valgrind --tool=callgrind`
//! (repeatable where wall-clock micro benches are not): run it with `count` = 0 and N, and
//! divide the difference by N.

use std::hint::black_box;

use hookbr_core::{
    bonifiq::BonifiqEvent,
    foody::FoodyEvent,
    grafeno::GrafenoEvent,
    iset::{IsetEvent, IsetKind},
    testkit::{self, TestKey},
};

/// Decodes the provider's body `count` times, typed or into a `serde_json::Value`.
pub(crate) fn run(
    provider: &str,
    kind: &str,
    count: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let body = match provider {
        "bonifiq" => testkit::bonifiq_point_add("s").body,
        "foody" => testkit::foody_status("dispatched", "t").body,
        "iset" => testkit::iset(IsetKind::OrderUpserted, 4_711, "t").body,
        "grafeno" => testkit::grafeno_boleto_criado(TestKey::rsa_2048()).body,
        other => return Err(format!("unknown provider {other:?}").into()),
    };
    let typed = match kind {
        "typed" => true,
        "value" => false,
        other => return Err(format!("unknown kind {other:?} (typed or value)").into()),
    };
    for _ in 0..count {
        let body = black_box(body.as_slice());
        if typed {
            let ok = match provider {
                "bonifiq" => BonifiqEvent::from_slice(body).map(drop).is_ok(),
                "foody" => FoodyEvent::from_slice(body).map(drop).is_ok(),
                "iset" => {
                    IsetEvent::from_slice(IsetKind::OrderUpserted, Some("application/json"), body)
                        .map(drop)
                        .is_ok()
                }
                _ => GrafenoEvent::from_slice(body).map(drop).is_ok(),
            };
            if !ok {
                return Err(format!("{provider} body does not decode").into());
            }
        } else {
            black_box(serde_json::from_slice::<serde_json::Value>(body)?);
        }
    }
    Ok(())
}
