//! `bench-server`: the servers of hookbr's HTTP load harness (`scripts/bench`), plus its
//! request generator, its report and the dedup memory probe. Loopback only.
//!
//! ```text
//! bench-server <mode> <addr> [database]   serve until SIGTERM/SIGINT
//! bench-server gen <out.lua> <count>      pre-sign <count> Grafeno deliveries for wrk
//! bench-server body <bonifiq|foody>       the body wrk sends, its id as @ID@
//! bench-server load <addr[,addr...]> <scenario> [--connections N] [--duration S] [--pid PID[,PID...]] ...
//!                                         the load generator (pre-built requests, server CPU)
//! bench-server report <results.tsv> [grafeno-pool]   print the table and the ratios
//! bench-server criterion [dir]            summarize the last `cargo bench` of hookbr-core
//! bench-server decode <provider> <typed|value> <count>   decode loop, for callgrind counts
//! bench-server rsa-verify <ring|awslc-unparsed|awslc|grafeno> <2048|4096> <count>
//!                                         RSA verify loop, for callgrind counts
//! bench-server dedup-rss [count]          MemoryStore bytes per entry, from RSS
//! bench-server dedup-claims <count> [probes]   MemoryStore claim latency and RSS at a size
//! bench-server fill <sqlite> <rows> [--pending N] [--schema 3]   bulk-fill an inbox
//! bench-server claim-old <sqlite>         time the claim of schema 3 (before migration 4)
//! bench-server probe <sqlite>             time claim, stats, list, get on an inbox
//! bench-server stats <sqlite|postgres-url>  the inbox's counts as one TSV line:
//!                                         pending in_flight done dead (what a run drained)
//! ```
//!
//! Every server mode serves the same paths, so one wrk script drives them all:
//!
//! | mode | `POST /bonifiq` | `POST /foody` | `POST /grafeno` |
//! |---|---|---|---|
//! | `bare` | axum `async fn(Bytes) -> StatusCode::OK` | same | only the RSA verify (`aws-lc-rs`, key parsed once) |
//! | `hand` | hand-written merchant handler: `HeaderMap`, `==` secret, `serde_json::Value`, `Mutex<HashSet>` | same, token in body | — |
//! | `hookbr` | hookbr-axum direct mode, header secret | body token | RSA-2048 signature |
//! | `actix-bare` | actix-web `HttpResponse::Ok()` | same | only the RSA verify (`aws-lc-rs`, key parsed once) |
//! | `actix-hookbr` | hookbr-actix direct mode | body token | RSA-2048 signature |
//! | `inbox-sqlite` | hookbr-axum inbox mode on the SQLite file `database`, plus a worker | same | same |
//! | `inbox-postgres` | the same on PostgreSQL, `database` being its URL | same | same |
//! | `sink-204` | any path, any method: `204 No Content` (the HTTP sink the backlog drains to) | same | same |
//! | `sink-stall` | any path, any method: never answers (a sink that keeps a worker waiting, idle) | same | same |
//! | `redis-direct` | direct mode, dedup shared on Redis (`database` = URL), 20 ms handler | same | same |
//!
//! `inbox-sqlite` with `HOOKBR_BENCH_PRUNE=1` also prunes, as it starts, every row
//! completed before it started (`Inbox::prune`, as `hookbr serve`'s hourly prune), and prints
//! `pruned N rows in X ms` when done.
//!
//! In both inbox modes, `HOOKBR_BENCH_INBOX_KEY` (32 bytes, base64 or hex) turns on encryption at
//! rest (key id `k1`).
//!
//! Secrets: `bench-secret` (BonifiQ), `bench-token` (Foody), the committed 2048-bit test key
//! (Grafeno). Every server runs on one worker thread: the scripts pin it to one core and the
//! load generator to the other.

#![allow(clippy::print_stdout, reason = "a command-line tool")]

mod actix;
mod baseline;
mod criterion;
mod decode;
mod dedup_rss;
mod generate;
mod load;
mod report;
mod rsa_verify;
mod scale;

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use bytes::Bytes;
use hookbr_axum::{IntoRouter, Webhook, Webhooks};
use hookbr_core::inbox::Inbox;
use hookbr_core::{
    Secret,
    testkit::TestKey,
    verify::{BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier},
};
use hookbr_store::{
    PostgresInbox, RedisStore, SqliteInbox,
    worker::{Delivered, Worker, WorkerOptions},
};

use crate::baseline::{HandWritten, RsaBaseline};

pub(crate) const BONIFIQ_PATH: &str = "/bonifiq";
pub(crate) const FOODY_PATH: &str = "/foody";
pub(crate) const GRAFENO_PATH: &str = "/grafeno";
pub(crate) const BONIFIQ_SECRET: &str = "bench-secret";
pub(crate) const FOODY_TOKEN: &str = "bench-token";

async fn bare(_body: Bytes) -> StatusCode {
    StatusCode::OK
}

async fn bare_rsa(
    State(baseline): State<Arc<RsaBaseline>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let unique_key = headers
        .get("x-unique-key")
        .map(axum::http::HeaderValue::as_bytes);
    StatusCode::from_u16(baseline.verify(unique_key, &body))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn hand_bonifiq(
    State(hand): State<Arc<HandWritten>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let secret = headers
        .get("x-loyalty-secret")
        .map(axum::http::HeaderValue::as_bytes);
    StatusCode::from_u16(hand.bonifiq(secret, &body)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn hand_foody(State(hand): State<Arc<HandWritten>>, body: Bytes) -> StatusCode {
    StatusCode::from_u16(hand.foody(&body)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn handler(Webhook(_verified): Webhook) -> StatusCode {
    StatusCode::OK
}

/// 20 ms of "work", so that concurrent copies overlap the first one.
async fn slow_handler(Webhook(_verified): Webhook) -> StatusCode {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    StatusCode::OK
}

/// The three hookbr routes every hookbr mode serves.
pub(crate) fn webhooks() -> Result<Webhooks, Box<dyn std::error::Error>> {
    Ok(Webhooks::new()
        .bonifiq(
            BONIFIQ_PATH,
            HeaderSecretVerifier::bonifiq([Secret::new(BONIFIQ_SECRET)?])?,
        )
        .foody(
            FOODY_PATH,
            BodyTokenVerifier::foody([Secret::new(FOODY_TOKEN)?])?,
        )
        .grafeno(
            GRAFENO_PATH,
            GrafenoVerifier::new([TestKey::rsa_2048().public_key()])?,
        ))
}

/// A number from the environment, if set and valid.
fn env_number(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
}

/// Prunes every row completed before now, once, and says how long it took.
async fn prune_now(inbox: Arc<dyn Inbox>) {
    let before = hookbr_core::inbox::now_ms();
    let started = std::time::Instant::now();
    match inbox.prune(before).await {
        Ok(pruned) => println!(
            "pruned {pruned} rows in {:.0} ms",
            started.elapsed().as_secs_f64() * 1_000.0
        ),
        Err(error) => println!("prune failed: {error}"),
    }
}

async fn shutdown() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

const USAGE: &str = "usage: bench-server <bare|hand|hookbr|actix-bare|actix-hookbr|inbox-sqlite|inbox-postgres|redis-direct|sink-204|sink-stall> <addr> [database]
       bench-server gen <out.lua> <count>
       bench-server body <bonifiq|foody>
       bench-server load <addr[,addr...]> <bonifiq-fresh|bonifiq-dup|foody-fresh|grafeno> [--connections N] [--duration S] [--requests N] [--pool FILE] [--pid PID[,PID...]]
       bench-server report <results.tsv> [grafeno-pool]
       bench-server criterion [target/criterion]
       bench-server decode <bonifiq|foody|iset|grafeno> <typed|value> <count>
       bench-server rsa-verify <ring|awslc-unparsed|awslc|grafeno> <2048|4096> <count>
       bench-server dedup-rss [count]
       bench-server dedup-claims <count> [probes]
       bench-server fill <sqlite> <rows> [--pending N] [--schema 3]
       bench-server claim-old <sqlite>
       bench-server probe <sqlite>
       bench-server stats <sqlite-or-postgres-url>";

/// `bench-server stats`: `pending\tin_flight\tdone\tdead` of the inbox at `database`.
fn inbox_stats(database: &str) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let inbox: Arc<dyn Inbox> = if database.starts_with("postgres") {
            Arc::new(PostgresInbox::connect_with_pool_size(database, 1).await?)
        } else {
            Arc::new(SqliteInbox::open(database)?)
        };
        let stats = inbox.stats().await?;
        println!(
            "{}\t{}\t{}\t{}",
            stats.pending, stats.in_flight, stats.done, stats.dead
        );
        Ok(())
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().ok_or(USAGE)?;
    match mode.as_str() {
        "gen" => {
            let out = args.next().ok_or(USAGE)?;
            let count = args.next().ok_or(USAGE)?.parse()?;
            return generate::run(&out, count);
        }
        "body" => {
            println!("{}", generate::body(&args.next().ok_or(USAGE)?)?);
            return Ok(());
        }
        "report" => {
            let path = args.next().ok_or(USAGE)?;
            let pool = args.next().and_then(|pool| pool.parse().ok());
            print!("{}", report::render(&std::fs::read_to_string(path)?, pool));
            return Ok(());
        }
        "criterion" => {
            let dir = args.next().unwrap_or_else(|| "target/criterion".to_owned());
            print!("{}", criterion::render(std::path::Path::new(&dir)));
            return Ok(());
        }
        "decode" => {
            let provider = args.next().ok_or(USAGE)?;
            let kind = args.next().ok_or(USAGE)?;
            let count = args.next().ok_or(USAGE)?.parse()?;
            return decode::run(&provider, &kind, count);
        }
        "rsa-verify" => {
            let kind = args.next().ok_or(USAGE)?;
            let bits = args.next().ok_or(USAGE)?;
            let count = args.next().ok_or(USAGE)?.parse()?;
            return rsa_verify::run(&kind, &bits, count);
        }
        "load" => {
            return load::run(&load::Options::parse(args)?);
        }
        "fill" => return scale::fill(args, USAGE),
        "claim-old" => return scale::claim_old(&args.next().ok_or(USAGE)?),
        "probe" => return scale::probe(&args.next().ok_or(USAGE)?),
        "stats" => return inbox_stats(&args.next().ok_or(USAGE)?),
        "dedup-claims" => {
            let count = args.next().ok_or(USAGE)?.parse()?;
            let probes = args.next().map_or(Ok(100_000), |probes| probes.parse())?;
            return dedup_rss::claims(count, probes);
        }
        "dedup-rss" => {
            let count = args.next().map_or(Ok(1_000_000), |count| count.parse())?;
            return dedup_rss::run(count);
        }
        _ => {}
    }
    let addr = args.next().ok_or(USAGE)?;
    let database = args.next();
    if mode.starts_with("actix-") {
        return actix::serve(&mode, &addr);
    }
    // One worker thread: the scripts pin the server to one core and the load to the other.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut worker = None;
        let app: Router = match mode.as_str() {
            "bare" => Router::new()
                .route(BONIFIQ_PATH, post(bare))
                .route(FOODY_PATH, post(bare))
                .route(GRAFENO_PATH, post(bare_rsa))
                .with_state(Arc::new(RsaBaseline::new()?)),
            "hand" => Router::new()
                .route(BONIFIQ_PATH, post(hand_bonifiq))
                .route(FOODY_PATH, post(hand_foody))
                .with_state(Arc::new(HandWritten::default())),
            "hookbr" => webhooks()?.into_router(handler)?,
            "sink-204" => Router::new().fallback(|| async { StatusCode::NO_CONTENT }),
            "sink-stall" => Router::new().fallback(std::future::pending::<StatusCode>),
            "redis-direct" => {
                let url = database.ok_or("redis-direct needs a Redis URL")?;
                let store = RedisStore::connect(&url).await?;
                webhooks()?
                    .store(Arc::new(store))
                    .into_router(slow_handler)?
            }
            "inbox-sqlite" | "inbox-postgres" => {
                let database = database.ok_or("inbox modes need a database path or URL")?;
                // Encryption at rest (docs/BENCHMARKS.md, "Inbox encryption"): the key, as base64
                // or hex, under id k1.
                let keys = match std::env::var("HOOKBR_BENCH_INBOX_KEY") {
                    Ok(text) => Some(Arc::new(hookbr_store::InboxKeys::new(vec![(
                        "k1".to_owned(),
                        hookbr_store::crypt::decode_key("k1", &text)?,
                    )])?)),
                    Err(_) => None,
                };
                let inbox: Arc<dyn Inbox> = if mode == "inbox-sqlite" {
                    Arc::new(SqliteInbox::open(database)?.with_keys(keys))
                } else {
                    Arc::new(PostgresInbox::connect(&database).await?.with_keys(keys))
                };
                let mut options = WorkerOptions::default();
                // Crash tests shorten the lease so rows of a killed process come back quickly.
                if let Some(ms) = std::env::var("HOOKBR_WORKER_LEASE_MS")
                    .ok()
                    .and_then(|ms| ms.parse().ok())
                {
                    options.lease = std::time::Duration::from_millis(ms);
                }
                // `scripts/bench-fsync` compares batch sizes and concurrency.
                if let Some(batch) = env_number("HOOKBR_WORKER_BATCH") {
                    options = options.batch(batch);
                }
                if let Some(concurrency) = env_number("HOOKBR_WORKER_CONCURRENCY") {
                    options = options.concurrency(concurrency);
                }
                if std::env::var_os("HOOKBR_BENCH_PRUNE").is_some_and(|on| on == "1") {
                    tokio::spawn(prune_now(inbox.clone()));
                }
                worker = Some(Worker::new(
                    inbox.clone(),
                    |_: Delivered| async { Ok::<(), String>(()) },
                    options,
                ));
                webhooks()?.inbox(inbox).into_router(handler)?
            }
            other => return Err(format!("unknown mode {other:?}\n{USAGE}").into()),
        };
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("{mode} listening on {}", listener.local_addr()?);
        let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown());
        match worker {
            Some(worker) => {
                let (served, ()) = tokio::join!(serve, worker.run(shutdown()));
                served?;
            }
            None => serve.await?,
        }
        Ok(())
    })
}
