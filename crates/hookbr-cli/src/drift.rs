//! `hookbr drift`: the schema changes the running `hookbr serve` has seen (its inspector's Drift
//! page), read through the admin listener's `GET /drift?format=json` (with `[admin] token` when
//! one is set). A table by default, the records as one JSON array with `--json`. Exit 0 when
//! read (drift or not), 1 when the server cannot be reached, 2 when the configuration has no
//! `[admin]` section.

use std::{path::PathBuf, time::Duration};

use hookbr_server::{Config, lifecycle::runtime};
use serde_json::Value;

use crate::{
    Failure, print_line,
    reload::{error_chain, reachable},
};

/// `hookbr drift` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The running server's configuration file (its `[admin]` section says where to ask).
    #[arg(long, short, default_value = "hookbr.toml", value_name = "PATH")]
    config: PathBuf,
    /// Print the records as a JSON array (each with provider, kind, change, detail,
    /// first_seen_ms, last_seen_ms, count and the masked example).
    #[arg(long)]
    json: bool,
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `hookbr drift`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let Some(admin) = Config::load_admin(&args.config)? else {
        return Err(Failure::usage(format!(
            "{}: no [admin] section: `hookbr drift` asks the running server through its admin \
             listener",
            args.config.display()
        )));
    };
    let addr = reachable(admin.listen);
    let text = runtime()?.block_on(async move {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(TIMEOUT)
            .build()
            .map_err(|error| Failure::runtime(format!("cannot build an HTTP client: {error}")))?;
        let mut request = client.get(format!("http://{addr}/drift?format=json"));
        if let Some(token) = &admin.token {
            let token = String::from_utf8_lossy(token.expose()).into_owned();
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|error| {
            Failure::runtime(format!(
                "cannot reach the admin listener on {addr} (is `hookbr serve` running with this \
                 configuration?): {}",
                error_chain(&error)
            ))
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(text)
        } else {
            Err(Failure::runtime(format!("the server answered {status}")))
        }
    })?;
    let records: Vec<Value> = serde_json::from_str(&text)
        .map_err(|error| Failure::runtime(format!("unexpected answer from the server: {error}")))?;
    if args.json {
        print_line(&serde_json::to_string(&records).unwrap_or_default());
        return Ok(());
    }
    if records.is_empty() {
        print_line("no drift seen");
        return Ok(());
    }
    print_line(&table(&records));
    Ok(())
}

/// The records as an aligned text table (examples are left to `--json` and the inspector).
fn table(records: &[Value]) -> String {
    let header = [
        "PROVIDER",
        "KIND",
        "CHANGE",
        "COUNT",
        "FIRST SEEN",
        "LAST SEEN",
        "DETAIL",
    ];
    let text = |value: &Value| match value {
        Value::String(text) => text.replace(['\n', '\r', '\t'], " "),
        other => other.to_string(),
    };
    let time = |value: &Value| {
        value
            .as_i64()
            .map(hookbr_core::timestamp::rfc3339_millis)
            .unwrap_or_default()
    };
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|record| {
            [
                text(&record["provider"]),
                text(&record["kind"]),
                text(&record["change"]),
                text(&record["count"]),
                time(&record["first_seen_ms"]),
                time(&record["last_seen_ms"]),
                text(&record["detail"]),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if index + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        out
    };
    let mut lines = vec![line(&header.map(str::to_owned))];
    lines.extend(rows.iter().map(|row| line(row)));
    lines.join("\n")
}
