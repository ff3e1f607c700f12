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
    config::{InboxKeyRef, InboxUrl},
    inbox::{self, RowDetail, RowSummary, TimelineEntry},
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
    ///
    /// Personal data (CPF, CNPJ, e-mail, phone, names, ...) is masked; `--reveal --reason
    /// "..."` shows it unmasked and writes an audit line (target hookbr::audit) to stderr.
    Show {
        /// The row id (first column of `list`).
        id: i64,
        /// Show the delivery unmasked (needs --reason; audited).
        #[arg(long)]
        reveal: bool,
        /// Why the delivery is revealed (required with --reveal; written to the audit line).
        #[arg(long, requires = "reveal", value_name = "TEXT")]
        reason: Option<String>,
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
    /// Every stored delivery of one entity in position order, with its state (forwarded,
    /// stale, held, pending, dead), e.g. `hookbr inbox entity foody.order 12345`.
    Entity {
        /// The entity kind: foody.order, bonifiq.customer, grafeno.registration,
        /// grafeno.charge, iset.order, iset.product, iset.stock or iset.category.
        kind: String,
        /// The entity id as the provider sends it (Foody `uid`, BonifiQ `Customer.Id`, …).
        id: String,
        #[command(flatten)]
        target: Target,
    },
    /// Re-encrypt every stored delivery not under the current key ([inbox] encryption_key, or
    /// the first of encryption_keys), plaintext rows included, in batches; safe to interrupt
    /// and run again. Exit 1 when some rows could not be opened.
    Rekey {
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch: usize,
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
            | Self::Entity { target, .. } => target,
            Self::Rekey { target, .. } => target,
            Self::Erase { target, .. } => target,
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

/// The encryption keys of `--config` (none when the file is absent, with `--inbox`).
pub(crate) fn inbox_keys(target: &Target) -> Result<Vec<InboxKeyRef>, Failure> {
    if target.inbox.is_some() && !target.config.exists() {
        return Ok(Vec::new());
    }
    Ok(Config::load_inbox_keys(&target.config)?)
}

/// Runs `hookbr inbox …`.
pub(crate) fn run(command: &Command) -> Result<(), Failure> {
    if let Command::Show {
        reveal: true,
        reason,
        ..
    } = command
    {
        if reason
            .as_deref()
            .is_none_or(|reason| reason.trim().is_empty())
        {
            return Err(Failure::usage(
                "--reveal needs --reason \"...\": every reveal of personal data is audited",
            ));
        }
    }
    let target = command.target();
    // A bad subject is refused before anything is opened.
    if let Command::Erase { subject, .. } = command {
        hookbr_core::privacy::Subject::parse(subject)
            .map_err(|error| Failure::usage(format!("--subject: {error}")))?;
    }
    let url = inbox_url(target)?;
    let keys = inbox_keys(target)?;
    if let Command::Rekey { batch, .. } = command {
        return runtime()?.block_on(rekey(&url, &keys, *batch, target.json));
    }
    runtime()?.block_on(async {
        let inbox = inbox::open_existing_with_keys(&url, &keys).await?;
        execute(command, inbox.as_ref(), target.json).await
    })
}

/// `hookbr inbox rekey`: the totals after each batch (tables only), then the summary.
async fn rekey(
    url: &InboxUrl,
    keys: &[InboxKeyRef],
    batch: usize,
    as_json: bool,
) -> Result<(), Failure> {
    let report = inbox::rekey(url, keys, batch.max(1), |so_far| {
        if !as_json {
            print_line(&format!(
                "batch {}: {} rekeyed, {} failed so far",
                so_far.batches, so_far.rekeyed, so_far.failed
            ));
        }
    })
    .await?;
    if as_json {
        print_line(&report.to_json().to_string());
    } else {
        print_line(&format!(
            "rekeyed {} deliveries to key {:?} in {} batches; {} could not be opened",
            report.rekeyed, report.key_id, report.batches, report.failed
        ));
        for error in &report.errors {
            print_line(&format!("  {error}"));
        }
    }
    if report.failed > 0 {
        return Err(Failure::rejected(format!(
            "{} deliveries could not be opened (key not configured, or ciphertext altered) and \
             were left as they are",
            report.failed
        )));
    }
    Ok(())
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
        Command::Show {
            id, reveal, reason, ..
        } => {
            let reason = reason.as_deref().filter(|_| *reveal);
            let row = if reason.is_some() {
                inbox::show_revealed(store, *id).await?
            } else {
                inbox::show(store, *id).await?
            };
            let row = row.ok_or_else(|| Failure::rejected(format!("no delivery with id {id}")))?;
            if let Some(reason) = reason {
                init_audit_log();
                inbox::audit_reveal(*id, reason.trim(), "cli");
            }
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
        Command::Entity { kind, id, .. } => {
            if !hookbr_core::entity::KINDS.contains(&kind.as_str()) {
                return Err(Failure::usage(format!(
                    "unknown entity kind {kind:?}: expected one of {}",
                    hookbr_core::entity::KINDS.join(", ")
                )));
            }
            let timeline = inbox::entity(store, kind, id).await?;
            if as_json {
                let entries = timeline.iter().map(TimelineEntry::to_json).collect();
                print_line(
                    &json!({ "kind": kind, "id": id, "deliveries": Value::Array(entries) })
                        .to_string(),
                );
            } else {
                print_timeline(&timeline);
            }
        }
        // Run by `rekey` before an inbox is opened here.
        Command::Rekey { .. } => {}
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

/// The audit line of a reveal goes to stderr, whatever `HOOKBR_LOG` says.
fn init_audit_log() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("hookbr::audit=info"))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
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

fn print_timeline(entries: &[TimelineEntry]) {
    if entries.is_empty() {
        print_line("no deliveries of this entity");
        return;
    }
    let mut text = format!(
        "{:>6}  {:<24}  {:<4}  {:<9}  {:<24}  {}",
        "ID", "POSITION", "RANK", "STATE", "RECEIVED", "DELIVERY ID"
    );
    for entry in entries {
        let _ = write!(
            text,
            "\n{:>6}  {:<24}  {:<4}  {:<9}  {:<24}  {}",
            entry.summary.id,
            entry.position_at.as_deref().unwrap_or("-"),
            entry
                .rank
                .map_or_else(|| "-".to_owned(), |rank| rank.to_string()),
            entry.state,
            entry.summary.received_at,
            shorten(&entry.summary.delivery_id, 60),
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
