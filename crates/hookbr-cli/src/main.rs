//! `hookbr`: a verifying, deduplicating, durable front door for the webhooks of BonifiQ,
//! Foody Delivery, iSET and Grafeno, a provider simulator, and the inbox's operations.
//!
//! ```text
//! hookbr demo                                   # everything on loopback, nothing to set up
//! hookbr init && hookbr serve --config hookbr.toml
//! hookbr reload --config hookbr.toml              # after rotating a secret (or kill -HUP)
//! hookbr send foody http://127.0.0.1:8080/webhooks/foody --token env:FOODY_TOKEN --repeat 3
//! hookbr inbox dead && hookbr inbox replay 42
//! hookbr sink migrate --config hookbr.toml      # create the table sinks' tables
//! hookbr decode bonifiq delivery.json
//! hookbr verify foody body.json --token "$FOODY_TOKEN"
//! ```
//!
//! Exit codes: 0 success, 1 the delivery was refused or the command failed at run time, 2 usage
//! or configuration error (the message names the key). The command never panics on its input
//! and never prints a secret.
//!
//! # Observability of `hookbr serve`
//!
//! Logs go to stderr through `tracing`, filtered by `HOOKBR_LOG` (default `info`). Targets:
//! `hookbr` (service messages), `hookbr::delivery` (one span per request: provider, endpoint,
//! kind and delivery id in direct mode, outcome, reason, status, latency), `hookbr::rejection`
//! (one event per refused delivery with its precise reason), `hookbr::worker` (each attempt),
//! `hookbr::audit` (each reveal of a delivery's personal data). Bodies are logged only with
//! `[server] log_bodies = true`, with Foody's token redacted and personal data masked. With
//! `[admin]`, the inspector page and Prometheus `/metrics` are served on a loopback listener.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::indexing_slicing))]

use std::{
    fmt,
    io::{self, Write},
    process::ExitCode,
};

use clap::{Parser, Subcommand};

mod decode;
mod demo;
mod drift;
mod fixtures;
mod inbox;
mod init;
mod input;
mod keygen;
mod reload;
mod send;
mod serve;
mod sink;
mod verify;

/// Receive, check and inspect the webhooks of BonifiQ, Foody Delivery, iSET and Grafeno.
#[derive(Debug, Parser)]
#[command(name = "hookbr", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Try hookbr in one command: start a receiver on 127.0.0.1 with a throwaway SQLite inbox,
    /// send it real-looking deliveries from every provider (and a forged one, a duplicate and
    /// an unknown topic), and print what happened to each.
    Demo(demo::Args),
    /// Write a commented hookbr.toml to start from.
    Init(init::Args),
    /// Run the receiver described by a hookbr.toml: verify, deduplicate, store, and hand each
    /// event to your application (HTTP forward or a command).
    Serve(serve::Args),
    /// Make the running `hookbr serve` read its configuration again (secrets, keys, routes,
    /// sinks, TLS certificate) without a restart, through its admin listener.
    ///
    /// Exit 0 when the new configuration serves, 1 when it was refused (the reason on stderr;
    /// the running one keeps serving) or the server cannot be reached, 2 without `[admin]`.
    /// Sending the server SIGHUP does the same.
    Reload(reload::Args),
    /// Show the schema changes the running server has seen (its inspector's Drift page): new
    /// fields, type changes, unknown kinds or statuses, payloads that no longer fit their type.
    ///
    /// Asks through the admin listener (`[admin]`). A table, or a JSON array with `--json`
    /// (examples have personal data masked). Exit 0 when read, 1 when the server cannot be
    /// reached, 2 without `[admin]`.
    Drift(drift::Args),
    /// Write stored deliveries as test fixtures (`hookbr fixtures export ID…`), with personal
    /// data masked.
    #[command(subcommand)]
    Fixtures(fixtures::Command),
    /// Send a delivery to a URL exactly as a provider would (simulator for tests and
    /// development).
    Send(send::Args),
    /// Generate an RSA key pair to simulate Grafeno locally.
    Keygen(keygen::Args),
    /// Look at and operate the inbox: list, show, replay, dead, stats.
    #[command(subcommand)]
    Inbox(inbox::Command),
    /// Operate the sinks: `hookbr sink migrate` creates the table sinks' tables.
    #[command(subcommand)]
    Sink(sink::Command),
    /// Decode a delivery into hookbr's typed event and print it as one JSON object (no
    /// authentication).
    ///
    /// Prints {"provider", "kind", "known", "delivery_id", "occurred_at", "event"}.
    /// Exit 1 when the bytes are not the provider's format.
    Decode(decode::Args),
    /// Check a delivery's authenticity the way the receiver would.
    ///
    /// Exit 0 when authentic (prints which secret, token or key matched), 1 when rejected
    /// (the reason on stderr), 2 for usage or configuration errors (empty secret, unreadable or
    /// weak key).
    Verify(verify::Args),
}

/// A failure with its exit code and a one-line message for stderr.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Exit 1: the input was refused.
    pub(crate) fn rejected(message: impl fmt::Display) -> Self {
        Self {
            code: 1,
            message: message.to_string(),
        }
    }

    /// Exit 1: the command could not do its job (a port in use, an unreachable database).
    pub(crate) fn runtime(message: impl fmt::Display) -> Self {
        Self {
            code: 1,
            message: message.to_string(),
        }
    }

    /// Exit 2: usage or configuration error.
    pub(crate) fn usage(message: impl fmt::Display) -> Self {
        Self {
            code: 2,
            message: message.to_string(),
        }
    }
}

/// The server's configuration errors are usage errors (exit 2), the rest run-time failures.
impl From<hookbr_server::Error> for Failure {
    fn from(error: hookbr_server::Error) -> Self {
        match error {
            hookbr_server::Error::Config(message) => Self::usage(message),
            _ => Self::runtime(error),
        }
    }
}

/// The simulator's errors are the caller's input: exit 2.
impl From<hookbr_sim::Error> for Failure {
    fn from(error: hookbr_sim::Error) -> Self {
        Self::usage(error.to_string())
    }
}

/// Writes `line` and a newline to stdout. A closed pipe (`hookbr decode … | head -c1`) is not
/// an error worth a panic.
pub(crate) fn print_line(line: &str) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Reload(args) => reload::run(&args),
        Command::Drift(args) => drift::run(&args),
        Command::Fixtures(command) => fixtures::run(&command),
        Command::Send(args) => send::run(&args),
        Command::Keygen(args) => keygen::run(&args),
        Command::Inbox(command) => inbox::run(&command),
        Command::Sink(command) => sink::run(&command),
        Command::Decode(args) => decode::run(&args),
        Command::Verify(args) => verify::run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let message = failure.message.replace(['\n', '\r'], " ");
            let _ = writeln!(io::stderr().lock(), "hookbr: {message}");
            ExitCode::from(failure.code)
        }
    }
}
