//! `hookbr serve`: the receiver described by a `hookbr.toml` (see `hookbr_server`).

use std::path::PathBuf;

use hookbr_server::{
    Config, ServerBuilder,
    lifecycle::{Hangups, runtime, shutdown_signal},
};

use crate::{Failure, print_line};

/// `hookbr serve` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The configuration file (write one with `hookbr init`).
    #[arg(long, short, default_value = "hookbr.toml", value_name = "PATH")]
    config: PathBuf,
    /// Only check the configuration (every key, secret reference and key file), print the
    /// routes, and exit: 0 when valid, 2 otherwise.
    #[arg(long)]
    check: bool,
}

/// A service message (target `hookbr`), through `tracing`.
fn log(line: &str) {
    tracing::info!(target: "hookbr", "{line}");
}

/// Logs to stderr, filtered by `HOOKBR_LOG` (`tracing` directives; default `info`). The
/// targets are documented in the crate docs: `hookbr` (service), `hookbr::delivery` (one span
/// per request), `hookbr::rejection` (refused deliveries, shown by default), `hookbr::worker`
/// (attempts).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOOKBR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hookbr::rejection=debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs `hookbr serve`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let config = Config::load(&args.config)?;
    let banner = config.summary();
    if args.check {
        print_line(&format!(
            "{}: valid; listens on {}{}\n{}",
            args.config.display(),
            config.listen,
            if config.tls.is_some() { " (HTTPS)" } else { "" },
            banner.join("\n")
        ));
        return Ok(());
    }
    init_tracing();
    runtime()?.block_on(async move {
        // Before anything else: from here on SIGHUP reloads instead of ending the process.
        let mut hangups = Hangups::new();
        let server = ServerBuilder::new(config)
            .config_path(&args.config)
            .start()
            .await?;
        log(&format!(
            "hookbr {} listening on {}://{}",
            env!("CARGO_PKG_VERSION"),
            if server.tls() { "https" } else { "http" },
            server.addr()
        ));
        if let Some(admin) = server.admin_addr() {
            log(&format!(
                "inspector on http://{admin}/ (metrics: http://{admin}/metrics)"
            ));
        }
        for line in banner {
            log(&line);
        }
        let mut stop = std::pin::pin!(shutdown_signal());
        loop {
            tokio::select! {
                () = &mut stop => break,
                // The outcome is logged by the reload itself.
                () = hangups.next() => {
                    log("SIGHUP: reloading the configuration");
                    let _ = server.reload().await;
                }
            }
        }
        log("stopping: finishing the requests in flight and the worker's round");
        server.stop().await?;
        log("stopped");
        Ok(())
    })
}
