//! `bench-server criterion <target/criterion>`: the medians of the last `cargo bench` run of
//! hookbr-core and the ratios that matter (typed ÷ `Value` decode, verifier ÷ the bare RSA primitives).

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use serde_json::Value;

fn collect(dir: &Path, into: &mut BTreeMap<String, f64>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|name| name == "new") {
            let read = |file: &str| {
                std::fs::read_to_string(path.join(file))
                    .ok()
                    .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            };
            if let (Some(benchmark), Some(estimates)) =
                (read("benchmark.json"), read("estimates.json"))
            {
                if let (Some(id), Some(median)) = (
                    benchmark["full_id"].as_str(),
                    estimates["median"]["point_estimate"].as_f64(),
                ) {
                    into.insert(id.to_owned(), median);
                }
            }
        } else {
            collect(&path, into);
        }
    }
}

fn time(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

/// The summary as Markdown.
pub(crate) fn render(dir: &Path) -> String {
    let mut medians = BTreeMap::new();
    collect(dir, &mut medians);
    let mut out = String::new();
    let _ = writeln!(out, "| bench | median |\n|---|---:|");
    for (id, median) in &medians {
        let _ = writeln!(out, "| `{id}` | {} |", time(*median));
    }
    let ratios: &[(&str, &str, &str, Option<f64>)] = &[
        (
            "BonifiQ: Value ÷ typed decode",
            "decode/bonifiq/value",
            "decode/bonifiq/typed",
            Some(1.5),
        ),
        (
            "Foody: Value ÷ typed decode",
            "decode/foody/value",
            "decode/foody/typed",
            Some(1.5),
        ),
        (
            "Grafeno: Value ÷ typed decode",
            "decode/grafeno/value",
            "decode/grafeno/typed",
            Some(1.5),
        ),
        (
            "iSET: Value ÷ typed decode",
            "decode/iset/value",
            "decode/iset/typed",
            Some(1.5),
        ),
        (
            "Grafeno verifier ÷ bare ring, RSA-2048",
            "verify/grafeno_rsa2048",
            "verify/ring_components_rsa2048",
            None,
        ),
        (
            "Grafeno verifier ÷ bare ring, RSA-4096",
            "verify/grafeno_rsa4096",
            "verify/ring_components_rsa4096",
            None,
        ),
        (
            "Grafeno verifier ÷ bare aws-lc-rs pre-parsed, RSA-2048",
            "rsa_primitive/grafeno_verifier_2048",
            "rsa_primitive/awslc_parsed_2048",
            None,
        ),
        (
            "Grafeno verifier ÷ bare aws-lc-rs pre-parsed, RSA-4096",
            "rsa_primitive/grafeno_verifier_4096",
            "rsa_primitive/awslc_parsed_4096",
            None,
        ),
        (
            "bare ring (key rebuilt per call) ÷ aws-lc-rs pre-parsed, RSA-2048",
            "rsa_primitive/ring_components_2048",
            "rsa_primitive/awslc_parsed_2048",
            None,
        ),
        (
            "pipeline BonifiQ, memory store ÷ no store",
            "pipeline/bonifiq/memory_store_fresh",
            "pipeline/bonifiq/no_store",
            None,
        ),
        (
            "pipeline Grafeno ÷ bare ring RSA-2048 verify",
            "pipeline/grafeno/memory_store_fresh",
            "verify/ring_components_rsa2048",
            None,
        ),
    ];
    let _ = writeln!(
        out,
        "\n| ratio | value | target | status |\n|---|---:|---:|---|"
    );
    for (label, top, bottom, target) in ratios {
        let (Some(top), Some(bottom)) = (medians.get(*top), medians.get(*bottom)) else {
            continue;
        };
        let ratio = top / bottom;
        let (target, status) = match target {
            Some(bound) => (
                format!("≥ {bound:.1}"),
                if ratio >= *bound { "met" } else { "missed" },
            ),
            None => (String::new(), ""),
        };
        let _ = writeln!(out, "| {label} | {ratio:.2} | {target} | {status} |");
    }
    out
}
