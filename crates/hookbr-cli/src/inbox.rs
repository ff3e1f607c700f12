//! `hookbr inbox`: look at and operate the inbox of a `hookbr serve`.
//!
//! Human tables by default, `--json` for scripts (one JSON document on stdout). The inbox is
//! the one in `--config` (default `hookbr.toml`), or `--inbox sqlite:PATH|postgres://…`.

use std::{fmt::Write as _, path::PathBuf};

use hookbr_core::{
    Inbox,
    inbox::{ListFilter, RowState},
};
use hookbr_server::{
    Config,
    config::InboxUrl,
    inbox::{self, RowDetail, RowSummary},
    lifecycle::runtime,
};
use serde_json::{Value, json};

use crate::{Failure, print_line};

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
    pub(crate) json: bool,
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
    /// Erase one person's data on request (LGPD art. 18): every stored delivery naming the
    /// CPF, CNPJ or e-mail address loses its body and headers (its delivery key stays, for
    /// deduplication); drift examples showing it are redacted. Prints a receipt naming the
    /// subject by its salted hash only. Exit 0 also when nothing matched, 2 for a subject that
    /// is not a valid CPF, CNPJ or e-mail address.
    Erase {
        /// The subject: a CPF (529.982.247-25), a CNPJ (11.222.333/0001-81) or an e-mail
        /// address; punctuation and case do not matter.
        #[arg(long, value_name = "CPF|CNPJ|E-MAIL")]
        subject: String,
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
            | Self::Stats { target }
            | Self::Erase { target, .. } => target,
        }
    }
}

pub(crate) fn inbox_url(target: &Target) -> Result<InboxUrl, Failure> {
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
            Ok(Config::load_inbox(&target.config)?)
        }
    }
}

/// Runs `hookbr inbox …`.
pub(crate) fn run(command: &Command) -> Result<(), Failure> {
    let target = command.target();
    // A bad subject is refused before anything is opened.
    if let Command::Erase { subject, .. } = command {
        hookbr_core::privacy::Subject::parse(subject)
            .map_err(|error| Failure::usage(format!("--subject: {error}")))?;
    }
    let url = inbox_url(target)?;
    runtime()?.block_on(async {
        let inbox = inbox::open_existing(&url).await?;
        execute(command, inbox.as_ref(), target.json).await
    })
}

fn list_filter(
    state: Option<&str>,
    provider: Option<&str>,
    limit: usize,
) -> Result<ListFilter, Failure> {
    let mut filter = ListFilter::new().limit(limit.max(1));
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
    Ok(filter)
}

async fn execute(command: &Command, store: &dyn Inbox, as_json: bool) -> Result<(), Failure> {
    match command {
        Command::List {
            state,
            provider,
            limit,
            ..
        } => {
            let filter = list_filter(state.as_deref(), provider.as_deref(), *limit)?;
            print_rows(&inbox::list(store, filter).await?, as_json);
        }
        Command::Dead { limit, .. } => {
            let filter = ListFilter::new()
                .state(RowState::Dead)
                .limit((*limit).max(1));
            print_rows(&inbox::list(store, filter).await?, as_json);
        }
        Command::Show { id, .. } => {
            let row = inbox::show(store, *id)
                .await?
                .ok_or_else(|| Failure::rejected(format!("no delivery with id {id}")))?;
            if as_json {
                print_line(&row.to_json().to_string());
            } else {
                print_line(&show_text(&row));
            }
        }
        Command::Replay { ids, all_dead, .. } => {
            if *all_dead {
                let count = inbox::replay_dead(store).await?;
                if as_json {
                    print_line(&json!({ "replayed": count }).to_string());
                } else {
                    print_line(&format!("replayed {count} dead-lettered deliveries"));
                }
                return Ok(());
            }
            let replayed = inbox::replay(store, ids).await?;
            if as_json {
                print_line(&replayed.to_json().to_string());
            } else {
                for id in &replayed.replayed {
                    print_line(&format!("replayed {id}: pending, the worker takes it next"));
                }
            }
            if !replayed.not_dead.is_empty() {
                let list: Vec<String> = replayed.not_dead.iter().map(ToString::to_string).collect();
                return Err(Failure::rejected(format!(
                    "not replayed (no such id, or not dead-lettered): {}",
                    list.join(", ")
                )));
            }
        }
        Command::Erase { subject, .. } => {
            let subject = hookbr_core::privacy::Subject::parse(subject)
                .map_err(|error| Failure::usage(format!("--subject: {error}")))?;
            let receipt = inbox::erase(store, subject).await?;
            if as_json {
                print_line(&receipt.to_json().to_string());
            } else {
                print_line(&receipt.to_text());
            }
        }
        Command::Stats { .. } => {
            let stats = inbox::stats(store).await?;
            if as_json {
                print_line(&stats.to_json().to_string());
            } else {
                let mut text = format!(
                    "pending    {}\nin_flight  {}\ndone       {}\ndead       {}",
                    stats.pending, stats.in_flight, stats.done, stats.dead
                );
                if let (Some(at), Some(age)) =
                    (&stats.oldest_pending_at, stats.oldest_pending_age_ms)
                {
                    let _ = write!(
                        text,
                        "\noldest not done: received {at} ({} s ago)",
                        age / 1_000
                    );
                }
                print_line(&text);
            }
        }
    }
    Ok(())
}

fn print_rows(rows: &[RowSummary], as_json: bool) {
    if as_json {
        print_line(&Value::Array(rows.iter().map(RowSummary::to_json).collect()).to_string());
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
            row.received_at,
            row.state.as_str(),
            row.attempts,
            row.endpoint,
            shorten(&row.delivery_id, 38),
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

fn show_text(detail: &RowDetail) -> String {
    let row = &detail.summary;
    let mut text = String::new();
    let _ = writeln!(text, "id           {}", row.id);
    let _ = writeln!(text, "endpoint     {}", row.endpoint);
    let _ = writeln!(text, "delivery id  {}", row.delivery_id);
    let _ = writeln!(text, "state        {}", row.state);
    let _ = writeln!(text, "attempts     {}", row.attempts);
    let _ = writeln!(text, "received     {}", row.received_at);
    let _ = writeln!(text, "matched key  {}", row.matched_key);
    if let Some(error) = &row.last_error {
        let _ = writeln!(text, "last error   {error}");
    }
    if let Some(next) = &row.next_attempt_at {
        let _ = writeln!(text, "next attempt {next}");
    }
    let _ = writeln!(text, "headers");
    for (name, value) in &detail.headers {
        let _ = writeln!(text, "  {name}: {value}");
    }
    let _ = writeln!(text, "body");
    for line in detail.body_text().lines() {
        let _ = writeln!(text, "  {line}");
    }
    text.trim_end().to_owned()
}
