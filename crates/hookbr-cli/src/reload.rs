//! `hookbr reload`: asks the running `hookbr serve` to read its configuration again, through
//! the admin listener's `POST /reload` (with `[admin] token` when one is set). The same as
//! sending the server SIGHUP (`kill -HUP`, systemd's `ExecReload`), but it waits for the
//! outcome: exit 0 when the new configuration serves, 1 when it was refused (the reason on
//! stderr; the running configuration keeps serving) or the server cannot be reached, 2 when the
//! configuration has no `[admin]` section.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use hookbr_server::{Config, lifecycle::runtime};

use crate::{Failure, print_line};

/// `hookbr reload` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The running server's configuration file (its `[admin]` section says where to ask).
    #[arg(long, short, default_value = "hookbr.toml", value_name = "PATH")]
    config: PathBuf,
}

/// How long the server may take to answer.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Where to reach a listener bound to `listen` from this machine (an unspecified address is
/// reached on loopback).
pub(crate) fn reachable(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    addr
}

/// Runs `hookbr reload`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let Some(admin) = Config::load_admin(&args.config)? else {
        return Err(Failure::usage(format!(
            "{}: no [admin] section: `hookbr reload` asks the server through its admin \
             listener; add [admin], or send the server SIGHUP (kill -HUP <pid>)",
            args.config.display()
        )));
    };
    let addr = reachable(admin.listen);
    runtime()?.block_on(async move {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(TIMEOUT)
            .build()
            .map_err(|error| Failure::runtime(format!("cannot build an HTTP client: {error}")))?;
        let mut request = client.post(format!("http://{addr}/reload"));
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
        let text = text.trim_end();
        if status.is_success() {
            print_line(text);
            Ok(())
        } else {
            Err(Failure::rejected(if text.is_empty() {
                format!("the server answered {status}")
            } else {
                text.to_owned()
            }))
        }
    })
}

pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
