//! `hookbr init`: a commented `hookbr.toml` to start from.

use std::{fs, io::Write as _, path::PathBuf};

use hookbr_server::{config::TEMPLATE, sink::generate_secret};

use crate::{Failure, print_line};

/// `hookbr init` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where to write the configuration.
    #[arg(long, short, default_value = "hookbr.toml", value_name = "PATH")]
    config: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

/// Runs `hookbr init`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let path = &args.config;
    let mut options = fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::usage(format!(
                "{} already exists (use --force to overwrite it)",
                path.display()
            ))
        } else {
            Failure::usage(format!("cannot write {}: {error}", path.display()))
        }
    })?;
    file.write_all(TEMPLATE.as_bytes())
        .map_err(|error| Failure::runtime(format!("cannot write {}: {error}", path.display())))?;
    let secret = generate_secret()?;
    print_line(&format!(
        "wrote {}: edit the endpoints you use and delete the others. Then:\n\n  \
         export HOOKBR_BONIFIQ_SECRET=...   # the value of X-Loyalty-Secret in BonifiQ\n  \
         export HOOKBR_FOODY_TOKEN=...      # the trigger's token in Foody\n  \
         export HOOKBR_ISET_SECRET=...      # the ?token= of your iSET URLs\n  \
         hookbr keygen                      # or save Grafeno's public key as grafeno-sim.pub.pem\n  \
         export HOOKBR_SINK_SECRET={secret}  # fresh; your app verifies with it\n  \
         hookbr serve --config {}",
        path.display(),
        path.display()
    ));
    Ok(())
}
