//! `hookbr demo`: the whole receiver in one command, on loopback, with nothing to set up.
//!
//! It writes a throwaway configuration (fresh random secrets, a freshly generated RSA key for
//! Grafeno, a SQLite inbox) into a temporary folder (mode `0700`, every file `0600`), starts `hookbr serve` on it in-process,
//! sends deliveries exactly as the providers would (through the same code as `hookbr send`), and
//! prints one table row per delivery. Only outcomes that really happened are printed:
//! "processed" means the worker took the row from the SQLite inbox and handed it to a sink.

use std::{
    collections::HashSet,
    fmt::Write as _,
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use hookbr_core::Provider;
use hookbr_server::{
    Config, ServerBuilder,
    config::AdminConfig,
    lifecycle::{runtime, shutdown_signal},
    sink::Message,
};
use hookbr_sim::{
    Credentials, Outgoing, SigningKey, Tamper,
    send::{self, Answer},
};
use tokio::sync::mpsc;

use crate::{Failure, print_line};

/// `hookbr demo` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Stay up after the table (until Ctrl-C), so you can send your own deliveries with
    /// `hookbr send` and look at them with `hookbr inbox`.
    #[arg(long)]
    keep: bool,
    /// Where the demo receiver listens (default: a free port on 127.0.0.1).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    listen: SocketAddr,
    /// With --keep: where the inspector and /metrics listen (loopback only for the demo).
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "ADDR")]
    admin: SocketAddr,
}

/// One demo step: what is sent and why.
struct Step {
    label: &'static str,
    outgoing: Outgoing,
    path: &'static str,
}

/// One table row.
struct Row {
    provider: Provider,
    kind: String,
    delivery_id: String,
    status: String,
    outcome: String,
}

const CONFIG: &str = r#"
[server]
listen = "LISTEN"

[inbox]
url = "sqlite:inbox.sqlite3"

[worker]
backoff = "200ms"
max_backoff = "2s"

[[endpoint]]
provider = "bonifiq"
path = "/webhooks/bonifiq"
secrets = ["file:bonifiq.secret"]

[[endpoint]]
provider = "foody"
path = "/webhooks/foody"
tokens = ["file:foody.token"]

[[endpoint]]
provider = "iset"
kind = "order_upserted"
path = "/webhooks/iset/orders"
secrets = ["file:iset.secret"]

[[endpoint]]
provider = "grafeno"
path = "/webhooks/grafeno"
public_keys = ["file:grafeno-sim.pub.pem"]
"#;

fn random_secret() -> String {
    format!(
        "{}{}",
        hookbr_sim::random_uuid().replace('-', ""),
        hookbr_sim::random_uuid().replace('-', "")
    )
}

/// Writes the demo's file `name` (secrets, the private key, the configuration) readable by
/// the owner only.
fn write(dir: &Path, name: &str, text: &str) -> Result<(), Failure> {
    hookbr_sim::files::create_private(&dir.join(name), text.as_bytes())
        .map_err(|error| Failure::runtime(format!("cannot write the demo's {name}: {error}")))
}

/// The demo's temporary folder, readable by the owner only (`0700`).
fn private_dir() -> Result<tempfile::TempDir, Failure> {
    hookbr_sim::files::private_temp_dir("hookbr-demo-")
        .map_err(|error| Failure::runtime(format!("cannot create a temporary folder: {error}")))
}

/// Each provider's credentials (the same secrets the demo's configuration references).
struct Keys {
    bonifiq: Credentials,
    foody: Credentials,
    iset: Credentials,
    grafeno: Credentials,
}

impl Keys {
    fn build(&self, provider: Provider, kind: &str) -> Result<Outgoing, Failure> {
        let credentials = match provider {
            Provider::Foody => &self.foody,
            Provider::Iset => &self.iset,
            Provider::Grafeno => &self.grafeno,
            _ => &self.bonifiq,
        };
        Ok(hookbr_sim::build(provider, Some(kind), None, credentials)?)
    }
}

fn steps(keys: &Keys) -> Result<Vec<Step>, Failure> {
    let communication = hookbr_sim::kinds(Provider::Bonifiq)
        .into_iter()
        .find(|kind| kind.starts_with("Communication"))
        .unwrap_or("Point_Remove");
    let point_add = keys.build(Provider::Bonifiq, "Point_Add")?;
    let mut forged = keys.build(Provider::Grafeno, "approved")?;
    hookbr_sim::tamper(&mut forged, Tamper::Signature);
    let step = |label, outgoing, path| Step {
        label,
        outgoing,
        path,
    };
    Ok(vec![
        step("", point_add.clone(), "/webhooks/bonifiq"),
        step(
            "",
            keys.build(Provider::Bonifiq, communication)?,
            "/webhooks/bonifiq",
        ),
        step(
            "",
            keys.build(Provider::Foody, "hook_test")?,
            "/webhooks/foody",
        ),
        step("", keys.build(Provider::Foody, "ready")?, "/webhooks/foody"),
        step(
            "",
            keys.build(Provider::Iset, "order_upserted")?,
            "/webhooks/iset/orders",
        ),
        step(
            "",
            keys.build(Provider::Grafeno, "approved")?,
            "/webhooks/grafeno",
        ),
        step("forged: ", forged, "/webhooks/grafeno"),
        step("resent: ", point_add, "/webhooks/bonifiq"),
        step(
            "unknown topic: ",
            keys.build(Provider::Bonifiq, "unknown")?,
            "/webhooks/bonifiq",
        ),
    ])
}

/// What the answer means, before waiting for the worker.
fn first_outcome(answer: &Answer) -> Option<String> {
    if !(200..300).contains(&answer.status) {
        let reason = answer.error.as_deref().unwrap_or("refused");
        return Some(format!("rejected: {reason}"));
    }
    if answer.duplicate {
        return Some("duplicate: acknowledged, not processed again".to_owned());
    }
    if answer.error.as_deref() == Some("handshake") {
        return Some("handshake: answered 200 by hookbr".to_owned());
    }
    None
}

/// Waits until the worker has handed every id in `waiting` to the sink (or `deadline`).
async fn wait_processed(
    processed: &mut mpsc::UnboundedReceiver<Message>,
    waiting: &HashSet<String>,
    seen: &mut HashSet<String>,
    deadline: Instant,
) {
    while !waiting.is_subset(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, processed.recv()).await {
            Ok(Some(message)) => {
                seen.insert(message.delivery_id);
            }
            Ok(None) | Err(_) => return,
        }
    }
}

fn table(rows: &[Row]) -> String {
    let id_width = 38;
    let kind_width = rows
        .iter()
        .map(|row| row.kind.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut text = format!(
        "{:<8}  {:<kind_width$}  {:<id_width$}  {:>4}  OUTCOME",
        "PROVIDER", "KIND", "DELIVERY ID", "HTTP"
    );
    for row in rows {
        let id = if row.delivery_id.chars().count() > id_width {
            let mut id: String = row.delivery_id.chars().take(id_width - 1).collect();
            id.push('…');
            id
        } else {
            row.delivery_id.clone()
        };
        let _ = write!(
            text,
            "\n{:<8}  {:<kind_width$}  {:<id_width$}  {:>4}  {}",
            row.provider.as_str(),
            row.kind,
            id,
            row.status,
            row.outcome
        );
    }
    text
}

/// Runs `hookbr demo`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let dir = private_dir()?;
    let base = dir.path();
    let secrets = [random_secret(), random_secret(), random_secret()];
    write(base, "bonifiq.secret", &secrets[0])?;
    write(base, "foody.token", &secrets[1])?;
    write(base, "iset.secret", &secrets[2])?;
    let key = hookbr_sim::keygen::generate(2048)?;
    write(base, "grafeno-sim.key.pem", &key.private_pem)?;
    write(base, "grafeno-sim.pub.pem", &key.public_pem)?;
    let text = CONFIG.replace("LISTEN", &args.listen.to_string());
    write(base, "hookbr.toml", &text)?;
    let config = Config::parse(&text, base).map_err(Failure::runtime)?;
    let keys = Keys {
        bonifiq: Credentials {
            secret: Some(secrets[0].clone()),
            ..Credentials::default()
        },
        foody: Credentials {
            token: Some(secrets[1].clone()),
            ..Credentials::default()
        },
        iset: Credentials {
            secret: Some(secrets[2].clone()),
            ..Credentials::default()
        },
        grafeno: Credentials {
            signing_key: Some(
                SigningKey::from_pem(&key.private_pem).map_err(hookbr_sim::Error::from)?,
            ),
            ..Credentials::default()
        },
    };
    let steps = steps(&keys)?;
    let (sender, mut processed) = mpsc::unbounded_channel();
    let mut server = ServerBuilder::new(config).sink_channel(sender);
    let client = send::client()?;

    runtime()?.block_on(async move {
        if args.keep && !args.admin.ip().is_loopback() {
            return Err(Failure::usage(
                "--admin must be a loopback address for the demo (it has no access token)",
            ));
        }
        if args.keep {
            server = server.admin(AdminConfig::new(args.admin));
        }
        let server = server.start().await?;
        let base_url = format!("http://{}", server.addr());
        print_line(&format!(
            "hookbr demo: a receiver on {base_url} (SQLite inbox in {}), four providers; sending…\n",
            base.display()
        ));
        let mut rows = Vec::new();
        let mut waiting = HashSet::new();
        for step in &steps {
            let timeout = send::provider_timeout(step.outgoing.provider);
            let answer = send::post(&client, &format!("{base_url}{}", step.path), &step.outgoing, timeout)
                .await;
            let (status, outcome) = match answer {
                Ok(answer) => {
                    let outcome = first_outcome(&answer);
                    if outcome.is_none() {
                        waiting.insert(step.outgoing.delivery_id.clone());
                    }
                    (answer.status.to_string(), outcome)
                }
                Err(error) => ("-".to_owned(), Some(format!("not sent: {error}"))),
            };
            rows.push((step, status, outcome));
        }
        let mut seen = HashSet::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        wait_processed(&mut processed, &waiting, &mut seen, deadline).await;
        // The sink saw every message; the worker marks a row done just after its handler
        // returns, so let the inbox catch up before its counts are printed.
        if let Some(inbox) = server.inbox() {
            while Instant::now() < deadline {
                match inbox.stats().await {
                    Ok(stats) if stats.pending + stats.in_flight > 0 => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    _ => break,
                }
            }
        }
        let rows: Vec<Row> = rows
            .into_iter()
            .map(|(step, status, outcome)| {
                let outcome = outcome.unwrap_or_else(|| {
                    if seen.contains(&step.outgoing.delivery_id) {
                        "processed: stored, then handed to the sink".to_owned()
                    } else {
                        "stored: not processed yet".to_owned()
                    }
                });
                Row {
                    provider: step.outgoing.provider,
                    kind: format!("{}{}", step.label, step.outgoing.kind),
                    delivery_id: step.outgoing.delivery_id.clone(),
                    status,
                    outcome,
                }
            })
            .collect();
        print_line(&table(&rows));
        if let Some(inbox) = server.inbox() {
            if let Ok(stats) = inbox.stats().await {
                print_line(&format!(
                    "\ninbox: {} stored ({} done, {} pending, {} dead); forged and duplicate deliveries were never stored",
                    stats.done + stats.pending + stats.in_flight + stats.dead,
                    stats.done,
                    stats.pending + stats.in_flight,
                    stats.dead
                ));
            }
        }
        if args.keep {
            if let Some(admin) = server.admin_addr() {
                print_line(&format!(
                    "\nInspector: http://{admin}/   Metrics: http://{admin}/metrics"
                ));
            }
            print_line(&keep_instructions(&base_url, base));
            shutdown_signal().await;
        } else {
            print_line("\nNext: `hookbr demo --keep` to keep it running, `hookbr init` to configure your own.");
        }
        Ok(server.stop().await?)
    })?;
    drop(dir);
    Ok(())
}

fn keep_instructions(base_url: &str, dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "\nThe demo receiver stays up until Ctrl-C. Try, from another terminal:\n  \
         hookbr send bonifiq {base_url}/webhooks/bonifiq --secret file:{dir}/bonifiq.secret --repeat 3\n  \
         hookbr send foody {base_url}/webhooks/foody --token file:{dir}/foody.token\n  \
         hookbr send iset {base_url}/webhooks/iset/orders --secret file:{dir}/iset.secret\n  \
         hookbr send grafeno {base_url}/webhooks/grafeno --private-key {dir}/grafeno-sim.key.pem --tamper signature\n  \
         hookbr inbox list --config {dir}/hookbr.toml"
    )
}

#[cfg(all(test, unix))]
mod tests {
    use std::{fs, os::unix::fs::PermissionsExt as _};

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn secrets_and_keys_are_the_owner_s_only() {
        let dir = private_dir().unwrap();
        assert_eq!(mode(dir.path()), 0o700);
        write(dir.path(), "foody.token", "s3cret").unwrap();
        write(
            dir.path(),
            "grafeno-sim.key.pem",
            "-----BEGIN PRIVATE KEY-----",
        )
        .unwrap();
        for name in ["foody.token", "grafeno-sim.key.pem"] {
            assert_eq!(mode(&dir.path().join(name)), 0o600, "{name}");
        }
        assert_eq!(
            fs::read_to_string(dir.path().join("foody.token")).unwrap(),
            "s3cret"
        );
        // Never over a file that is already there (e.g. a link planted in the folder).
        assert!(write(dir.path(), "foody.token", "again").is_err());
    }
}
