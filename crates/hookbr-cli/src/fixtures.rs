//! `hookbr fixtures export ID…`: stored deliveries written as test fixtures, personal data
//! masked (`hookbr_core::privacy::mask_body`: the same masks as the inspector's Drift page).
//!
//! One file per delivery, `<OUT>/<provider>/<id>_<kind>.json` (`.txt` for a body that is not
//! JSON, e.g. an iSET form), the body only, shaped like the repository's own fixtures
//! (`crates/hookbr-core/fixtures`). Headers are not written (Grafeno's `x-unique-key` is in the
//! inbox row; a fixture's test signs its own). Exit 0 when every id was written, 1 when one is
//! missing or a file cannot be written (the others are still written), 2 for usage errors.

use std::path::{Path, PathBuf};

use hookbr_core::{Endpoint, Inbox, privacy::mask_body};
use hookbr_server::{inbox, lifecycle::runtime};
use serde_json::json;

use crate::{
    Failure,
    inbox::{Target, inbox_keys, inbox_url},
    print_line,
};

/// `hookbr fixtures` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Write stored deliveries as test fixtures, personal data masked.
    Export {
        /// Row ids (first column of `hookbr inbox list`).
        #[arg(required = true)]
        ids: Vec<i64>,
        /// The directory to write into (created if needed).
        #[arg(long, default_value = "fixtures", value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        target: Target,
    },
}

/// Runs `hookbr fixtures …`.
pub(crate) fn run(command: &Command) -> Result<(), Failure> {
    let Command::Export { ids, out, target } = command;
    let url = inbox_url(target)?;
    let keys = inbox_keys(target)?;
    let json_output = target.json;
    runtime()?.block_on(async {
        let store = inbox::open_existing_with_keys(&url, &keys).await?;
        export(store.as_ref(), ids, out, json_output).await
    })
}

/// A file name part: letters, digits, `-` and `_` kept, anything else `_`, at most 60.
fn safe(text: &str) -> String {
    text.chars()
        .take(60)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn export(
    store: &dyn Inbox,
    ids: &[i64],
    out: &Path,
    json_output: bool,
) -> Result<(), Failure> {
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for &id in ids {
        let row = match store.get(id).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                failed.push(format!("{id}: no such delivery"));
                continue;
            }
            Err(error) => return Err(Failure::runtime(format!("the inbox failed: {error}"))),
        };
        let record = &row.record;
        let Some(endpoint) = Endpoint::from_text(&record.endpoint) else {
            failed.push(format!("{id}: unknown endpoint {:?}", record.endpoint));
            continue;
        };
        let provider = endpoint.provider();
        let kind = match record.decode() {
            Ok(event) => event.kind().to_owned(),
            Err(_) => "undecodable".to_owned(),
        };
        let masked = mask_body(provider, &kind, &record.body);
        let is_json = serde_json::from_slice::<serde_json::Value>(&masked).is_ok();
        let mut text = masked;
        if !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        let dir = out.join(provider.as_str());
        let path = dir.join(format!(
            "{id}_{}.{}",
            safe(&kind),
            if is_json { "json" } else { "txt" }
        ));
        match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &text)) {
            Ok(()) => written.push((id, path)),
            Err(error) => failed.push(format!("{id}: cannot write {}: {error}", path.display())),
        }
    }
    if json_output {
        let files: Vec<_> = written
            .iter()
            .map(|(id, path)| json!({ "id": id, "path": path.display().to_string() }))
            .collect();
        print_line(&json!({ "written": files, "failed": failed }).to_string());
    } else {
        for (id, path) in &written {
            print_line(&format!("{id} -> {}", path.display()));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::rejected(failed.join("; ")))
    }
}
