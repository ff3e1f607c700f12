//! `hookbr init`: a commented `hookbr.toml` to start from.

use std::{fs, io::Write as _, path::PathBuf};

use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};

use crate::{Failure, print_line};

/// The template: every option with its default and the provider doc it comes from.
pub(crate) const TEMPLATE: &str = include_str!("hookbr.toml");

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

/// A fresh Standard Webhooks secret: `whsec_` + base64 of 32 random bytes.
pub(crate) fn fresh_webhook_secret() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Failure::runtime("the system has no randomness source"))?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
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
    let secret = fresh_webhook_secret()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_secrets_are_valid_and_differ() {
        let a = fresh_webhook_secret().unwrap();
        let b = fresh_webhook_secret().unwrap();
        assert_ne!(a, b);
        assert!(crate::config::webhook_secret(&a).is_ok());
    }

    #[test]
    fn the_template_is_a_valid_configuration_but_for_its_references() {
        // Every reference points at something that does not exist here, so the check stops at
        // the first endpoint's secret: proof that everything before it (server, inbox, worker)
        // parsed, and that the template names keys serve understands.
        let error = crate::config::Config::parse(
            &TEMPLATE.replace("env:HOOKBR_", "env:HOOKBR_UNSET_IN_TEST_"),
            std::path::Path::new("/nonexistent"),
        )
        .unwrap_err();
        assert_eq!(
            error,
            "endpoint[0].secrets[0]: environment variable HOOKBR_UNSET_IN_TEST_BONIFIQ_SECRET is not set"
        );
    }
}
