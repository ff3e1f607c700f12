//! What a running server needs around its routes: the runtime, the stop signals, the inbox and
//! its pruning.

use std::{sync::Arc, time::Duration};

use hookbr_core::{Inbox, inbox::now_ms};
use hookbr_store::{InboxKeys, PostgresInbox, SqliteInbox};
use tokio::sync::watch;

use crate::{Error, config::InboxUrl, sink::InboxDatabase};

/// A service message (target `hookbr`), through `tracing`.
pub(crate) fn log(line: &str) {
    tracing::info!(target: "hookbr", "{line}");
}

/// A multi-threaded tokio runtime.
///
/// # Errors
///
/// [`Error::Runtime`] when the runtime cannot start.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::runtime(format!("cannot start the runtime: {error}")))
}

/// Waits for SIGINT or SIGTERM (Ctrl-C only, off Unix).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match terminate {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A stream of SIGHUP (the conventional "reload your configuration" signal; systemd's
/// `ExecReload=kill -HUP $MAINPID`): resolves once per signal. Never resolves off Unix, or when
/// the handler cannot be installed. Create it early: once it exists, SIGHUP no longer ends the
/// process.
#[derive(Debug)]
pub struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Starts catching SIGHUP (inside a tokio runtime).
    #[must_use]
    pub fn new() -> Self {
        Self {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok(),
        }
    }

    /// The next SIGHUP.
    pub async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal {
            if signal.recv().await.is_some() {
                return;
            }
        }
        std::future::pending::<()>().await;
    }
}

impl Default for Hangups {
    fn default() -> Self {
        Self::new()
    }
}

/// Opens the inbox at `url` (creating a SQLite file, migrating a PostgreSQL schema); `None` in
/// direct mode.
///
/// # Errors
///
/// [`Error::Runtime`] naming the inbox (a PostgreSQL password is never shown).
pub async fn open_inbox(url: &InboxUrl) -> Result<Option<Arc<dyn Inbox>>, Error> {
    Ok(open_inbox_database(url, None, false).await?.0)
}

/// [`open_inbox`] with the inbox's encryption keys (`None`: rows are written in clear, and
/// only plaintext rows can be read).
///
/// # Errors
///
/// As [`open_inbox`].
pub async fn open_inbox_with_keys(
    url: &InboxUrl,
    keys: Option<Arc<InboxKeys>>,
) -> Result<Option<Arc<dyn Inbox>>, Error> {
    Ok(open_inbox_database(url, keys, false).await?.0)
}

/// [`open_inbox`] with `keys`, and the PostgreSQL inbox's database for the table sinks that
/// write into it. With `check`, the keys are checked against the inbox first (a different key
/// under a known id, or rows under a key id not configured, is an error naming the id).
pub(crate) async fn open_inbox_database(
    url: &InboxUrl,
    keys: Option<Arc<InboxKeys>>,
    check: bool,
) -> Result<(Option<Arc<dyn Inbox>>, Option<InboxDatabase>), Error> {
    let refused = |error: &dyn std::fmt::Display| Error::runtime(format!("{error}"));
    if let InboxUrl::Postgres(database) = url {
        let inbox = PostgresInbox::connect(database)
            .await
            .map_err(|error| Error::runtime(format!("cannot open the inbox {url}: {error}")))?
            .with_keys(keys);
        if check {
            inbox.check_keys().await.map_err(|e| refused(&e))?;
        }
        let shared = InboxDatabase {
            url: database.clone(),
            inbox: inbox.clone(),
        };
        return Ok((Some(Arc::new(inbox)), Some(shared)));
    }
    let failed = |error: &dyn std::fmt::Display| {
        Error::runtime(format!("cannot open the inbox {url}: {error}"))
    };
    let inbox: Option<Arc<dyn Inbox>> = match url {
        InboxUrl::Sqlite(path) => {
            let inbox = SqliteInbox::open(path)
                .map_err(|e| failed(&e))?
                .with_keys(keys);
            if check {
                inbox.check_keys().await.map_err(|e| refused(&e))?;
            }
            Some(Arc::new(inbox))
        }
        // Opened above.
        InboxUrl::Postgres(_) | InboxUrl::None => None,
    };
    Ok((inbox, None))
}

/// Resolves once `stop` turns true.
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Deletes completed rows older than `retention`, hourly, until `stop`.
pub(crate) async fn prune_loop(
    inbox: Arc<dyn Inbox>,
    retention: Duration,
    body_retention: Duration,
    stop: watch::Receiver<bool>,
) {
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let body_retention_ms = i64::try_from(body_retention.as_millis()).unwrap_or(i64::MAX);
    let mut stop = std::pin::pin!(stopped(stop));
    loop {
        // Bodies first (they may go earlier than the rows), then the rows.
        if body_retention < retention {
            if let Ok(dropped) = inbox
                .drop_bodies(now_ms().saturating_sub(body_retention_ms))
                .await
            {
                if dropped > 0 {
                    log(&format!(
                        "removed the bodies of {dropped} completed deliveries (body_retention)"
                    ));
                }
            }
        }
        if let Ok(pruned) = inbox.prune(now_ms().saturating_sub(retention_ms)).await {
            if pruned > 0 {
                log(&format!("pruned {pruned} completed deliveries"));
            }
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(Duration::from_secs(3_600)) => {}
        }
    }
}
