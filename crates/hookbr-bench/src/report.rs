//! `bench-server report <results.tsv> [grafeno-pool]`: the HTTP table and the ratios, from the
//! lines `scripts/bench` wrote (one per `bench-server load` run).
//!
//! Each ratio is computed within a round (both configurations measured minutes apart at most,
//! under the same background noise), then the median over rounds is shown with the range. The
//! headline ratios compare the server's CPU time per request, which does not depend on how fast
//! the load generator is; a run whose server was busy less than 90 % of the wall time did not
//! saturate it, and its row is flagged.

use std::{collections::BTreeMap, fmt::Write as _};

/// One load run.
#[derive(Debug, Clone)]
struct Run {
    round: u32,
    config: String,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    requests: u64,
    non2xx: u64,
    errors: u64,
    /// Server CPU (utime + stime) per answered request, µs; 0 when not measured.
    cpu_us: f64,
    /// Server CPU ÷ wall time of the run.
    busy: f64,
    /// Instructions per request from `perf stat`, where the machine permits it.
    instructions: Option<f64>,
}

/// Below this share of one core, the server was waiting for the load generator.
const SATURATED: f64 = 0.9;

/// `412.00us`, `1.97ms`, `2.01s` → microseconds.
fn micros(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e6)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

fn parse(text: &str) -> Vec<Run> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            if fields.len() < 8 {
                return None;
            }
            Some(Run {
                round: fields[0].parse().ok()?,
                config: fields[1].to_owned(),
                rps: fields[2].parse().ok()?,
                p50_us: micros(fields[3])?,
                p99_us: micros(fields[4])?,
                requests: fields[5].parse().unwrap_or(0),
                non2xx: fields[6].parse().unwrap_or(0),
                errors: fields[7].parse().unwrap_or(0),
                cpu_us: fields.get(8).and_then(|f| f.parse().ok()).unwrap_or(0.0),
                busy: fields.get(9).and_then(|f| f.parse().ok()).unwrap_or(0.0),
                instructions: fields.get(10).and_then(|f| f.parse().ok()),
            })
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        f64::midpoint(values[mid - 1], values[mid])
    } else {
        values[mid]
    })
}

fn latency(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// Which metric a ratio compares.
#[derive(Debug, Clone, Copy)]
enum Metric {
    Throughput,
    P99,
    CpuPerRequest,
}

/// (label, numerator, denominator, metric, target: (bound, at_least))
type RatioSpec = (
    &'static str,
    &'static str,
    &'static str,
    Metric,
    Option<(f64, bool)>,
);

const RATIOS: &[RatioSpec] = &[
    (
        "hookbr-axum BonifiQ ÷ bare axum (CPU/request)",
        "hookbr/bonifiq-fresh",
        "bare/bonifiq-fresh",
        Metric::CpuPerRequest,
        Some((1.15, false)),
    ),
    (
        "hookbr-axum Foody ÷ bare axum (CPU/request)",
        "hookbr/foody-fresh",
        "bare/foody-fresh",
        Metric::CpuPerRequest,
        Some((1.15, false)),
    ),
    (
        "hookbr-axum BonifiQ ÷ hand-written (CPU/request)",
        "hookbr/bonifiq-fresh",
        "hand/bonifiq-fresh",
        Metric::CpuPerRequest,
        Some((1.0, false)),
    ),
    (
        "hookbr-axum Foody ÷ hand-written (CPU/request)",
        "hookbr/foody-fresh",
        "hand/foody-fresh",
        Metric::CpuPerRequest,
        Some((1.0, false)),
    ),
    (
        "hookbr-axum BonifiQ duplicates ÷ bare axum (CPU/request)",
        "hookbr/bonifiq-dup",
        "bare/bonifiq-dup",
        Metric::CpuPerRequest,
        None,
    ),
    (
        "hookbr-axum Grafeno ÷ bare axum RSA route (CPU/request)",
        "hookbr/grafeno",
        "bare/grafeno",
        Metric::CpuPerRequest,
        Some((1.05, false)),
    ),
    (
        "hookbr-actix BonifiQ ÷ bare actix (CPU/request)",
        "actix-hookbr/bonifiq-fresh",
        "actix-bare/bonifiq-fresh",
        Metric::CpuPerRequest,
        Some((1.15, false)),
    ),
    (
        "hookbr-actix Foody ÷ bare actix (CPU/request)",
        "actix-hookbr/foody-fresh",
        "actix-bare/foody-fresh",
        Metric::CpuPerRequest,
        Some((1.15, false)),
    ),
    (
        "hookbr-actix Grafeno ÷ bare actix RSA route (CPU/request)",
        "actix-hookbr/grafeno",
        "actix-bare/grafeno",
        Metric::CpuPerRequest,
        Some((1.05, false)),
    ),
    (
        "hookbr-axum BonifiQ ÷ bare axum (req/s)",
        "hookbr/bonifiq-fresh",
        "bare/bonifiq-fresh",
        Metric::Throughput,
        None,
    ),
    (
        "hookbr-axum BonifiQ p99 ÷ bare axum p99",
        "hookbr/bonifiq-fresh",
        "bare/bonifiq-fresh",
        Metric::P99,
        None,
    ),
    (
        "hookbr-axum Foody ÷ bare axum (req/s)",
        "hookbr/foody-fresh",
        "bare/foody-fresh",
        Metric::Throughput,
        None,
    ),
    (
        "hookbr-axum Grafeno ÷ bare axum RSA route (req/s)",
        "hookbr/grafeno",
        "bare/grafeno",
        Metric::Throughput,
        None,
    ),
    (
        "hookbr-actix BonifiQ ÷ bare actix (req/s)",
        "actix-hookbr/bonifiq-fresh",
        "actix-bare/bonifiq-fresh",
        Metric::Throughput,
        None,
    ),
    (
        "hand-written BonifiQ ÷ bare axum (CPU/request)",
        "hand/bonifiq-fresh",
        "bare/bonifiq-fresh",
        Metric::CpuPerRequest,
        None,
    ),
    (
        "inbox SQLite ÷ direct, BonifiQ fresh (req/s)",
        "inbox-sqlite/bonifiq-fresh",
        "hookbr/bonifiq-fresh",
        Metric::Throughput,
        Some((0.6, true)),
    ),
    (
        "inbox SQLite ÷ direct, BonifiQ fresh (CPU/request)",
        "inbox-sqlite/bonifiq-fresh",
        "hookbr/bonifiq-fresh",
        Metric::CpuPerRequest,
        None,
    ),
    (
        "inbox SQLite ÷ direct, BonifiQ duplicates (req/s)",
        "inbox-sqlite/bonifiq-dup",
        "hookbr/bonifiq-dup",
        Metric::Throughput,
        None,
    ),
    (
        "inbox PostgreSQL ÷ direct, BonifiQ fresh (req/s)",
        "inbox-postgres/bonifiq-fresh",
        "hookbr/bonifiq-fresh",
        Metric::Throughput,
        Some((0.3, true)),
    ),
    (
        "bare actix ÷ bare axum (CPU/request)",
        "actix-bare/bonifiq-fresh",
        "bare/bonifiq-fresh",
        Metric::CpuPerRequest,
        None,
    ),
];

fn value(run: &Run, metric: Metric) -> f64 {
    match metric {
        Metric::Throughput => run.rps,
        Metric::P99 => run.p99_us,
        Metric::CpuPerRequest => run.cpu_us,
    }
}

/// The report as Markdown.
pub(crate) fn render(text: &str, grafeno_pool: Option<u64>) -> String {
    let runs = parse(text);
    let mut by_config: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for run in &runs {
        if !by_config.contains_key(run.config.as_str()) {
            order.push(&run.config);
        }
        by_config.entry(&run.config).or_default().push(run);
    }
    let rounds = runs.iter().map(|run| run.round).max().unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "HTTP, medians over {rounds} round(s) (absolute numbers are this machine's, for reading the ratios only)\n"
    );
    let _ = writeln!(
        out,
        "| server/scenario | CPU µs/request | instructions/request | server busy | req/s | p50 | p99 | requests | non-2xx | socket errors |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for config in &order {
        let list = &by_config[config];
        let rps = median(list.iter().map(|run| run.rps).collect()).unwrap_or(0.0);
        let p50 = median(list.iter().map(|run| run.p50_us).collect()).unwrap_or(0.0);
        let p99 = median(list.iter().map(|run| run.p99_us).collect()).unwrap_or(0.0);
        let requests: u64 = list.iter().map(|run| run.requests).sum::<u64>() / list.len() as u64;
        let non2xx: u64 = list.iter().map(|run| run.non2xx).sum();
        let errors: u64 = list.iter().map(|run| run.errors).sum();
        let cpu = median(list.iter().map(|run| run.cpu_us).collect()).unwrap_or(0.0);
        let busy = median(list.iter().map(|run| run.busy).collect()).unwrap_or(0.0);
        let instructions = median(list.iter().filter_map(|run| run.instructions).collect())
            .map_or_else(|| "n/a".to_owned(), |n| format!("{n:.0}"));
        let saturated = if busy < SATURATED {
            " (not saturated)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "| {config} | {cpu:.2} | {instructions} | {busy:.2}{saturated} | {rps:.0} | {} | {} | {requests} | {non2xx} | {errors} |",
            latency(p50),
            latency(p99)
        );
    }
    if let Some(pool) = grafeno_pool {
        let _ = writeln!(
            out,
            "\nGrafeno runs cycle through {pool} pre-signed deliveries: the first {pool} requests of a run are fresh, later ones duplicates (which still pay the RSA verify)."
        );
    }
    let _ = writeln!(
        out,
        "\n| ratio (per round, then median) | median | range | target | status |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---|");
    for (label, numerator, denominator, metric, target) in RATIOS {
        let ratios: Vec<f64> = (1..=rounds)
            .filter_map(|round| {
                let find = |config: &str| {
                    runs.iter()
                        .find(|run| run.round == round && run.config == config)
                };
                let (top, bottom) = (find(numerator)?, find(denominator)?);
                let bottom = value(bottom, *metric);
                (bottom > 0.0).then(|| value(top, *metric) / bottom)
            })
            .collect();
        let Some(mid) = median(ratios.clone()) else {
            continue;
        };
        let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (target_text, status) = match target {
            Some((bound, true)) => (
                format!("≥ {bound:.2}"),
                if mid >= *bound { "met" } else { "missed" },
            ),
            Some((bound, false)) => (
                format!("≤ {bound:.2}"),
                if mid <= *bound { "met" } else { "missed" },
            ),
            None => (String::new(), ""),
        };
        let _ = writeln!(
            out,
            "| {label} | {mid:.2} | {low:.2}–{high:.2} | {target_text} | {status} |"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_are_read_in_microseconds() {
        assert_eq!(micros("412"), Some(412.0));
        assert_eq!(micros("412.00us"), Some(412.0));
        assert_eq!(micros("1.50ms"), Some(1500.0));
        assert_eq!(micros("2.00s"), Some(2_000_000.0));
        assert_eq!(micros("bad"), None);
    }

    #[test]
    fn ratios_are_taken_within_a_round() {
        let text = "1\tbare/bonifiq-fresh\t100\t1000\t2000\t1000\t0\t0\t10.0\t0.95\n\
                    1\thookbr/bonifiq-fresh\t50\t2000\t4000\t500\t0\t0\t20.0\t0.50\n\
                    2\tbare/bonifiq-fresh\t200\t1000\t2000\t2000\t0\t0\t10.0\t0.97\n\
                    2\thookbr/bonifiq-fresh\t150\t2000\t2000\t1500\t0\t0\t11.0\t0.80\t123456\n";
        let report = render(text, None);
        assert!(
            report.contains(
                "| hookbr-axum BonifiQ ÷ bare axum (CPU/request) | 1.55 | 1.10–2.00 | ≤ 1.15 | missed |"
            ),
            "{report}"
        );
        assert!(
            report.contains("| hookbr-axum BonifiQ ÷ bare axum (req/s) | 0.62 | 0.50–0.75 |  |  |"),
            "{report}"
        );
        assert!(
            report.contains("| hookbr-axum BonifiQ p99 ÷ bare axum p99 | 1.50 | 1.00–2.00 |"),
            "{report}"
        );
        // Medians per configuration; a server busy under 90 % of the run is flagged.
        assert!(
            report
                .contains("| hookbr/bonifiq-fresh | 15.50 | 123456 | 0.65 (not saturated) | 100 |"),
            "{report}"
        );
        assert!(
            report.contains("| bare/bonifiq-fresh | 10.00 | n/a | 0.96 | 150 |"),
            "{report}"
        );
        assert!(!report.contains("actix"));
    }
}
