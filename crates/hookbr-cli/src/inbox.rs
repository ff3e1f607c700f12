//! `hookbr inbox`: look at and operate the inbox of a `hookbr serve`.
//!
//! Human tables by default, `--json` for scripts (one JSON document on stdout). The inbox is
//! the one in `--config` (default `hookbr.toml`), or `--inbox sqlite:PATH|postgres://…`.

use std::{fmt::Write as _, path::PathBuf, sync::Arc};

use hookbr_core::{
    Endpoint, Inbox, InboxRow,
    inbox::{ListFilter, RowState},
};
use serde_json::{Value, json};

use crate::{
    Failure,
    config::{Config, InboxUrl},
    print_line,
    serve::{open_inbox, runtime},
    sink::rfc3339_ms,
};

/// Which inbox.
#[derive(Debug, clap::Args)]
pub(crate) struct Target {
    /// The configuration whose inbox to open.
    #[arg(long, short, default_value = "hookbr.toml", value_name = "PATH")]
    config: PathBuf,
    /// The inbox itself, instead of --config: sqlite:PATH or postgres://… (env:NAME accepted).
    #[arg(long, value_name = "URL")]
    inbox: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `hookbr inbox` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Recent deliveries, newest first.
    List {
        /// Only this state: pending, in_flight, done or dead.
        #[arg(long)]
        state: Option<String>,
        /// Only this provider: bonifiq, foody, iset or grafeno.
        #[arg(long)]
        provider: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        target: Target,
    },
    /// One delivery in full: headers (secrets are never stored), body, attempts, last error.
    Show {
        /// The row id (first column of `list`).
        id: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Put dead-lettered deliveries back in the queue (attempts start again from zero).
    Replay {
        /// Row ids to replay.
        #[arg(required_unless_present = "all_dead")]
        ids: Vec<i64>,
        /// Replay every dead-lettered delivery.
        #[arg(long, conflicts_with = "ids")]
        all_dead: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Dead-lettered deliveries (they failed max_attempts times) with their last error.
    Dead {
        /// At most this many rows.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        target: Target,
    },
    /// Counts per state and the age of the oldest delivery not yet done.
    Stats {
        #[command(flatten)]
        target: Target,
    },
}

impl Command {
    fn target(&self) -> &Target {
        match self {
            Self::List { target, .. }
            | Self::Show { target, .. }
            | Self::Replay { target, .. }
            | Self::Dead { target, .. }
            | Self::Stats { target } => target,
        }
    }
}

fn inbox_url(target: &Target) -> Result<InboxUrl, Failure> {
    match &target.inbox {
        Some(value) => {
            let value = match value.strip_prefix("env:") {
                Some(name) => std::env::var(name).map_err(|_| {
                    Failure::usage(format!("--inbox: environment variable {name} is not set"))
                })?,
                None => value.clone(),
            };
            InboxUrl::parse(&value).map_err(|message| Failure::usage(format!("--inbox: {message}")))
        }
        None => {
            if !target.config.exists() {
                return Err(Failure::usage(format!(
                    "{} not found: pass --config PATH or --inbox sqlite:PATH",
                    target.config.display()
                )));
            }
            Config::load_inbox(&target.config)
        }
    }
}

/// Runs `hookbr inbox …`.
pub(crate) fn run(command: &Command) -> Result<(), Failure> {
    let target = command.target();
    let url = inbox_url(target)?;
    if url == InboxUrl::None {
        return Err(Failure::usage(
            "this configuration runs in direct mode (inbox.url = \"none\"): there is no inbox",
        ));
    }
    if let InboxUrl::Sqlite(path) = &url {
        // Opening would create an empty database: a typo in the path must not look like an
        // empty inbox.
        if !std::path::Path::new(path).exists() {
            return Err(Failure::usage(format!(
                "no inbox at {path} (has `hookbr serve` run with this configuration?)"
            )));
        }
    }
    runtime()?.block_on(async {
        let inbox = open_inbox(&url)
            .await?
            .ok_or_else(|| Failure::usage("no inbox configured"))?;
        execute(command, &inbox, target.json).await
    })
}

fn store_error(error: &hookbr_core::StoreError) -> Failure {
    Failure::runtime(format!("the inbox failed: {error}"))
}

async fn execute(command: &Command, inbox: &Arc<dyn Inbox>, as_json: bool) -> Result<(), Failure> {
    match command {
        Command::List {
            state,
            provider,
            limit,
            ..
        } => {
            let mut filter = ListFilter::new().limit((*limit).max(1));
            if let Some(state) = state {
                filter = filter.state(RowState::from_text(state).ok_or_else(|| {
                    Failure::usage(format!(
                        "--state {state:?}: expected pending, in_flight, done or dead"
                    ))
                })?);
            }
            if let Some(provider) = provider {
                let provider: hookbr_core::Provider = provider
                    .parse()
                    .map_err(|error| Failure::usage(format!("--provider: {error}")))?;
                filter = filter.provider(provider.as_str());
            }
            let rows = inbox
                .list(filter)
                .await
                .map_err(|error| store_error(&error))?;
            print_rows(&rows, as_json);
        }
        Command::Dead { limit, .. } => {
            let filter = ListFilter::new()
                .state(RowState::Dead)
                .limit((*limit).max(1));
            let rows = inbox
                .list(filter)
                .await
                .map_err(|error| store_error(&error))?;
            print_rows(&rows, as_json);
        }
        Command::Show { id, .. } => {
            let row = inbox
                .get(*id)
                .await
                .map_err(|error| store_error(&error))?
                .ok_or_else(|| Failure::rejected(format!("no delivery with id {id}")))?;
            if as_json {
                let mut value = row_json(&row);
                if let Some(object) = value.as_object_mut() {
                    object.insert("headers".into(), headers_json(&row));
                    object.insert("body".into(), body_json(&row));
                }
                print_line(&value.to_string());
            } else {
                print_line(&show_text(&row));
            }
        }
        Command::Replay { ids, all_dead, .. } => {
            if *all_dead {
                let count = inbox
                    .replay_dead()
                    .await
                    .map_err(|error| store_error(&error))?;
                if as_json {
                    print_line(&json!({ "replayed": count }).to_string());
                } else {
                    print_line(&format!("replayed {count} dead-lettered deliveries"));
                }
                return Ok(());
            }
            let mut replayed = Vec::new();
            let mut refused = Vec::new();
            for id in ids {
                if inbox
                    .replay(*id)
                    .await
                    .map_err(|error| store_error(&error))?
                {
                    replayed.push(*id);
                } else {
                    refused.push(*id);
                }
            }
            if as_json {
                print_line(&json!({ "replayed": replayed, "not_dead": refused }).to_string());
            } else {
                for id in &replayed {
                    print_line(&format!("replayed {id}: pending, the worker takes it next"));
                }
            }
            if !refused.is_empty() {
                let list: Vec<String> = refused.iter().map(ToString::to_string).collect();
                return Err(Failure::rejected(format!(
                    "not replayed (no such id, or not dead-lettered): {}",
                    list.join(", ")
                )));
            }
        }
        Command::Stats { .. } => {
            let stats = inbox.stats().await.map_err(|error| store_error(&error))?;
            let age_ms = stats
                .oldest_pending_ms
                .map(|at| hookbr_core::inbox::now_ms().saturating_sub(at).max(0));
            if as_json {
                print_line(
                    &json!({
                        "pending": stats.pending,
                        "in_flight": stats.in_flight,
                        "done": stats.done,
                        "dead": stats.dead,
                        "oldest_pending_at": stats.oldest_pending_ms.map(rfc3339_ms),
                        "oldest_pending_age_ms": age_ms,
                    })
                    .to_string(),
                );
            } else {
                let mut text = format!(
                    "pending    {}\nin_flight  {}\ndone       {}\ndead       {}",
                    stats.pending, stats.in_flight, stats.done, stats.dead
                );
                if let (Some(at), Some(age)) = (stats.oldest_pending_ms, age_ms) {
                    let _ = write!(
                        text,
                        "\noldest not done: received {} ({} s ago)",
                        rfc3339_ms(at),
                        age / 1_000
                    );
                }
                print_line(&text);
            }
        }
    }
    Ok(())
}

/// The provider of a row (its endpoint text when the endpoint is unknown).
pub(crate) fn provider_of(row: &InboxRow) -> String {
    Endpoint::from_text(&row.record.endpoint).map_or_else(
        || row.record.endpoint.clone(),
        |endpoint| endpoint.provider().as_str().to_owned(),
    )
}

fn row_json(row: &InboxRow) -> Value {
    json!({
        "id": row.id,
        "provider": provider_of(row),
        "endpoint": row.record.endpoint,
        "delivery_id": row.record.delivery_id,
        "state": row.state.as_str(),
        "attempts": row.attempts,
        "last_error": row.last_error,
        "received_at": rfc3339_ms(row.record.received_at_ms),
        "next_attempt_at": (row.state == RowState::Pending).then(|| rfc3339_ms(row.next_attempt_at_ms)),
        "matched_key": row.record.matched_key,
    })
}

fn headers_json(row: &InboxRow) -> Value {
    Value::Array(
        row.record
            .headers
            .iter()
            .map(|(name, value)| json!([name, value]))
            .collect(),
    )
}

/// The body as JSON when it is JSON (Foody's `token` redacted), else as text. A Foody body
/// that does not parse is never shown: it would carry the token.
pub(crate) fn body_json(row: &InboxRow) -> Value {
    let body = &row.record.body;
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            if provider_of(row) == "foody" {
                if let Some(token) = value.get_mut("token") {
                    *token = Value::String("[redacted]".into());
                }
            }
            value
        }
        Err(_) if provider_of(row) == "foody" => {
            Value::String("[not JSON: hidden, it may carry the token]".into())
        }
        Err(_) => Value::String(String::from_utf8_lossy(body).into_owned()),
    }
}

fn print_rows(rows: &[InboxRow], as_json: bool) {
    if as_json {
        print_line(&Value::Array(rows.iter().map(row_json).collect()).to_string());
        return;
    }
    if rows.is_empty() {
        print_line("no deliveries");
        return;
    }
    let mut text = format!(
        "{:>6}  {:<24}  {:<9}  {:>8}  {:<24}  {:<38}  {}",
        "ID", "RECEIVED", "STATE", "ATTEMPTS", "ENDPOINT", "DELIVERY ID", "LAST ERROR"
    );
    for row in rows {
        let _ = write!(
            text,
            "\n{:>6}  {:<24}  {:<9}  {:>8}  {:<24}  {:<38}  {}",
            row.id,
            rfc3339_ms(row.record.received_at_ms),
            row.state.as_str(),
            row.attempts,
            row.record.endpoint,
            shorten(&row.record.delivery_id, 38),
            row.last_error
                .as_deref()
                .map(|e| shorten(e, 80))
                .unwrap_or_default(),
        );
    }
    print_line(&text);
}

fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(width.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

fn show_text(row: &InboxRow) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "id           {}", row.id);
    let _ = writeln!(text, "endpoint     {}", row.record.endpoint);
    let _ = writeln!(text, "delivery id  {}", row.record.delivery_id);
    let _ = writeln!(text, "state        {}", row.state);
    let _ = writeln!(text, "attempts     {}", row.attempts);
    let _ = writeln!(
        text,
        "received     {}",
        rfc3339_ms(row.record.received_at_ms)
    );
    let _ = writeln!(text, "matched key  {}", row.record.matched_key);
    if let Some(error) = &row.last_error {
        let _ = writeln!(text, "last error   {error}");
    }
    if row.state == RowState::Pending {
        let _ = writeln!(text, "next attempt {}", rfc3339_ms(row.next_attempt_at_ms));
    }
    let _ = writeln!(text, "headers");
    for (name, value) in &row.record.headers {
        let _ = writeln!(text, "  {name}: {value}");
    }
    let _ = writeln!(text, "body");
    let body = match body_json(row) {
        Value::String(text) => text,
        value => serde_json::to_string_pretty(&value).unwrap_or_default(),
    };
    for line in body.lines() {
        let _ = writeln!(text, "  {line}");
    }
    text.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use hookbr_core::{DedupKey, InboxRecord};

    use super::*;

    fn row(endpoint: &str, body: &[u8]) -> InboxRow {
        InboxRow::new(
            1,
            InboxRecord::new(
                endpoint.into(),
                "d".into(),
                DedupKey::from_bytes([0; 16]),
                body.to_vec(),
                Vec::new(),
                "#0".into(),
                0,
            ),
        )
    }

    #[test]
    fn foody_tokens_never_show() {
        let token = "t0ken-5ecret";
        for body in [
            format!(r#"{{"uid":"u","token":"{token}"}}"#).into_bytes(),
            [
                b"\xEF\xBB\xBF".as_slice(),
                format!(r#"{{"token":"{token}"}}"#).as_bytes(),
            ]
            .concat(),
            format!(r#"{{"token":"{token}""#).into_bytes(),
        ] {
            let shown = body_json(&row("foody", &body)).to_string();
            assert!(!shown.contains(token), "{shown}");
        }
        assert_eq!(
            body_json(&row("foody", br#"{"token":"x"}"#))["token"],
            "[redacted]"
        );
        // Other providers' bodies are shown as they are (their secrets are never in the body).
        assert_eq!(
            body_json(&row("iset:order_upserted", b"id=1&x=2")),
            "id=1&x=2"
        );
    }
}
