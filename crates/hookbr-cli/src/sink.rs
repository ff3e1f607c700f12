//! `hookbr sink`: operations on the sinks of a `hookbr.toml`.

use std::path::PathBuf;

use hookbr_server::{Config, lifecycle::runtime, sink};

use crate::{Failure, print_line};

/// `hookbr sink` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create the table of every table sink (`type = "postgres"`, `type = "sqlite"`) with
    /// `CREATE TABLE IF NOT EXISTS`: running it again changes nothing. Prints one line per
    /// table sink.
    ///
    /// Exit 0 when every table is ready, 1 when a database fails (the sink and the reason on
    /// stderr), 2 for a configuration error.
    Migrate {
        /// The configuration whose sinks to migrate.
        #[arg(long, short, default_value = "hookbr.toml", value_name = "PATH")]
        config: PathBuf,
    },
}

/// Runs `hookbr sink`.
pub(crate) fn run(command: &Command) -> Result<(), Failure> {
    match command {
        Command::Migrate { config } => {
            let config = Config::load(config)?;
            let lines = runtime()?.block_on(sink::migrate(&config.sinks))?;
            if lines.is_empty() {
                print_line(
                    "no table sink (type = \"postgres\" or \"sqlite\") in this configuration: nothing to migrate",
                );
            }
            for line in lines {
                print_line(&line);
            }
            Ok(())
        }
    }
}
