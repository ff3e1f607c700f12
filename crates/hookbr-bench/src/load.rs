//! `bench-server load`: the load generator of `scripts/bench`, built so that it cannot be the
//! bottleneck it measures.
//!
//! Every request (fresh ids included) is serialized to bytes before the timer starts; during
//! the run a connection only writes the next prepared request and reads the answer's head and
//! `Content-Length` body (HTTP/1.1 keep-alive, one request in flight per connection). The run
//! ends at the deadline or when the pool is used up, whichever comes first, so it is bounded in
//! count and time. With `--pid`, the server's CPU time (utime + stime of the whole process, from
//! `/proc/PID/stat`) over the run is divided by the answered requests: CPU per request does not
//! depend on how fast the generator is, which is why `scripts/bench` takes its ratios from it.
//!
//! ```text
//! bench-server load <addr[,addr...]> <bonifiq-fresh|bonifiq-dup|foody-fresh|grafeno>
//!     [--connections 32] [--duration 8] [--requests N] [--pool grafeno.tsv]
//!     [--pid SERVER_PID[,SERVER_PID...]]
//! ```
//!
//! Several addresses (`scripts/bench-cluster`: one per `hookbr serve` instance) spread the
//! connections over them in turn (connection `i` to address `i mod n`), and several pids sum
//! the servers' CPU time.
//!
//! It prints one tab-separated line: req/s, p50 µs, p99 µs, requests, non-2xx, errors, server
//! CPU µs per request (0 without `--pid`), server CPU ÷ wall time (how busy the server was: below
//! 0.9 of the core it was pinned to, the run did not saturate it), and whether the pool ran out.

use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{BONIFIQ_PATH, BONIFIQ_SECRET, FOODY_PATH, GRAFENO_PATH};

/// What one `load` run was told to do.
#[derive(Debug)]
pub(crate) struct Options {
    /// One or more addresses, connections spread over them in turn.
    addrs: Vec<String>,
    scenario: String,
    connections: usize,
    duration: Duration,
    requests: Option<usize>,
    pool: Option<String>,
    /// The servers whose CPU time is summed.
    pids: Vec<u32>,
}

const USAGE: &str = "usage: bench-server load <addr[,addr...]> <bonifiq-fresh|bonifiq-dup|foody-fresh|grafeno> [--connections N] [--duration S] [--requests N] [--pool FILE] [--pid PID[,PID...]]";

impl Options {
    pub(crate) fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let addrs: Vec<String> = args
            .next()
            .ok_or(USAGE)?
            .split(',')
            .filter(|addr| !addr.is_empty())
            .map(str::to_owned)
            .collect();
        if addrs.is_empty() || addrs.len() > 64 {
            return Err(format!("1 to 64 addresses\n{USAGE}"));
        }
        let scenario = args.next().ok_or(USAGE)?;
        let mut options = Self {
            addrs,
            scenario,
            connections: 32,
            duration: Duration::from_secs(8),
            requests: None,
            pool: None,
            pids: Vec::new(),
        };
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{flag}: not a number: {value:?}"))
            };
            match flag.as_str() {
                "--connections" => options.connections = number()?.clamp(1, 4096) as usize,
                "--duration" => options.duration = Duration::from_secs(number()?.clamp(1, 600)),
                "--requests" => options.requests = Some(number()?.max(1) as usize),
                "--pool" => options.pool = Some(value),
                "--pid" => {
                    options.pids = value
                        .split(',')
                        .map(|pid| {
                            pid.parse::<u32>()
                                .map_err(|_| format!("--pid: not a process id: {pid:?}"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                other => return Err(format!("unknown flag {other:?}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

/// One prepared request: the whole HTTP/1.1 message.
fn request(path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut message = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        message.push_str(name);
        message.push_str(": ");
        message.push_str(value);
        message.push_str("\r\n");
    }
    message.push_str("Content-Type: application/json\r\nContent-Length: ");
    message.push_str(&body.len().to_string());
    message.push_str("\r\n\r\n");
    message.push_str(body);
    message.into_bytes()
}

/// The prepared requests of a run, built before the timer: request `n` of the run is
/// `distinct[n % distinct.len()]`, for `n < count`.
#[derive(Debug)]
struct Pool {
    distinct: Vec<Vec<u8>>,
    count: usize,
}

impl Pool {
    fn get(&self, n: usize) -> Option<&[u8]> {
        (n < self.count).then(|| self.distinct[n % self.distinct.len()].as_slice())
    }
}

/// Every request of the run.
fn pool(options: &Options) -> Result<Pool, Box<dyn std::error::Error>> {
    // Enough for 150,000 requests per second over the whole run unless told otherwise.
    let count = options.requests.unwrap_or_else(|| {
        150_000 * usize::try_from(options.duration.as_secs()).unwrap_or(usize::MAX)
    });
    let salt = std::process::id();
    let fresh = |provider: &str, path: &str, headers: &[(&str, &str)], distinct: usize| {
        let body = crate::generate::body(provider)?;
        let (head, tail) = body.split_once("@ID@").ok_or("no @ID@ in the body")?;
        let built: Vec<Vec<u8>> = (0..distinct.min(count))
            .map(|n| {
                let id = format!("{salt:08x}-0000-4000-8000-{n:012x}");
                request(path, headers, &format!("{head}{id}{tail}"))
            })
            .collect();
        Ok::<_, Box<dyn std::error::Error>>(built)
    };
    let distinct = match options.scenario.as_str() {
        "bonifiq-fresh" => fresh(
            "bonifiq",
            BONIFIQ_PATH,
            &[("X-Loyalty-Secret", BONIFIQ_SECRET)],
            count,
        )?,
        // The same 64 deliveries over and over: after the first 64, every one is a duplicate.
        "bonifiq-dup" => fresh(
            "bonifiq",
            BONIFIQ_PATH,
            &[("X-Loyalty-Secret", BONIFIQ_SECRET)],
            64,
        )?,
        "foody-fresh" => fresh("foody", FOODY_PATH, &[], count)?,
        "grafeno" => {
            let path = options.pool.as_deref().ok_or("grafeno needs --pool")?;
            std::fs::read_to_string(path)?
                .lines()
                .filter_map(|line| line.split_once('\t'))
                .map(|(key, body)| request(GRAFENO_PATH, &[("x-unique-key", key)], body))
                .collect()
        }
        other => return Err(format!("unknown scenario {other:?}\n{USAGE}").into()),
    };
    if distinct.is_empty() {
        return Err("no requests to send".into());
    }
    // Scenarios with fewer distinct requests than the run needs cycle through them.
    Ok(Pool { distinct, count })
}

/// What one connection saw.
#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u32>,
    non2xx: u64,
    errors: u64,
}

/// Reads one answer: the status code, after consuming its head and `Content-Length` body.
async fn answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<u16> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).map_err(|_| invalid("head"))?;
            let status = head
                .get(9..12)
                .and_then(|code| code.parse().ok())
                .ok_or_else(|| invalid("status line"))?;
            let mut length = 0;
            for line in head.split("\r\n").skip(1) {
                let (name, value) = line.split_once(':').ok_or_else(|| invalid("header"))?;
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().map_err(|_| invalid("length"))?;
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err(invalid("chunked answers are not expected"));
                }
            }
            let total = end + 4 + length;
            while buffer.len() < total {
                if read_more(stream, buffer).await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            buffer.drain(..total);
            return Ok(status);
        }
        if buffer.len() > 64 * 1024 {
            return Err(invalid("answer head over 64 KiB"));
        }
        if read_more(stream, buffer).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0_u8; 8192];
    let read = stream.read(&mut chunk).await?;
    buffer.extend_from_slice(&chunk[..read]);
    Ok(read)
}

/// One keep-alive connection, taking the next prepared request until the deadline or the end
/// of the pool. A failed connection is counted and reopened (at most 100 times).
async fn connection(
    addr: String,
    requests: Arc<Pool>,
    next: Arc<AtomicUsize>,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut reconnects = 0;
    'connect: while reconnects < 100 && Instant::now() < deadline {
        let Ok(mut stream) = TcpStream::connect(&addr).await else {
            tally.errors += 1;
            reconnects += 1;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut buffer = Vec::with_capacity(16 * 1024);
        while Instant::now() < deadline {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(request) = requests.get(index) else {
                break 'connect;
            };
            let start = Instant::now();
            let sent = stream.write_all(request).await;
            let status = match sent {
                Ok(()) => answer(&mut stream, &mut buffer).await,
                Err(error) => Err(error),
            };
            match status {
                Ok(status) => {
                    let micros = start.elapsed().as_micros();
                    tally
                        .latencies_us
                        .push(u32::try_from(micros).unwrap_or(u32::MAX));
                    if !(200..300).contains(&status) {
                        tally.non2xx += 1;
                    }
                }
                Err(_) => {
                    tally.errors += 1;
                    reconnects += 1;
                    continue 'connect;
                }
            }
        }
        break;
    }
    tally
}

/// utime + stime of the processes `pids` together, in seconds.
fn cpu_seconds_of(pids: &[u32]) -> Result<f64, Box<dyn std::error::Error>> {
    pids.iter().map(|pid| cpu_seconds(*pid)).sum()
}

/// utime + stime of the whole process, in seconds (`/proc/PID/stat` fields 14 and 15, in clock
/// ticks of 1/100 s: `getconf CLK_TCK` is 100 on Linux).
fn cpu_seconds(pid: u32) -> Result<f64, Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let after = stat.rsplit_once(')').ok_or("unreadable stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64, Box<dyn std::error::Error>> {
        Ok(fields.get(i).ok_or("short stat")?.parse::<u64>()? as f64)
    };
    // `after` starts at field 3, so field 14 is index 11.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Runs the load and prints its one result line.
pub(crate) fn run(options: &Options) -> Result<(), Box<dyn std::error::Error>> {
    let requests = Arc::new(pool(options)?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let measured = !options.pids.is_empty();
    let cpu_before = if measured {
        Some(cpu_seconds_of(&options.pids)?)
    } else {
        None
    };
    let start = Instant::now();
    let deadline = start + options.duration;
    let next = Arc::new(AtomicUsize::new(0));
    let tallies = runtime.block_on(async {
        let tasks: Vec<_> = (0..options.connections)
            .map(|index| {
                tokio::spawn(connection(
                    options.addrs[index % options.addrs.len()].clone(),
                    requests.clone(),
                    next.clone(),
                    deadline,
                ))
            })
            .collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            tallies.push(task.await.unwrap_or_default());
        }
        tallies
    });
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = match cpu_before {
        Some(before) => Some(cpu_seconds_of(&options.pids)? - before),
        None => None,
    };
    let mut latencies: Vec<u32> = Vec::new();
    let (mut non2xx, mut errors) = (0, 0);
    for tally in tallies {
        latencies.extend(tally.latencies_us);
        non2xx += tally.non2xx;
        errors += tally.errors;
    }
    latencies.sort_unstable();
    let answered = latencies.len() as f64;
    let exhausted = next.load(Ordering::Relaxed) >= requests.count;
    let (cpu_per_request, busy) = match cpu {
        Some(cpu) if answered > 0.0 => (cpu * 1e6 / answered, cpu / elapsed),
        _ => (0.0, 0.0),
    };
    println!(
        "{:.0}\t{}\t{}\t{}\t{non2xx}\t{errors}\t{cpu_per_request:.2}\t{busy:.2}\t{}",
        answered / elapsed,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.len(),
        if exhausted {
            "pool-exhausted"
        } else {
            "deadline"
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_parsed_and_bounded() {
        let args = [
            "127.0.0.1:1",
            "foody-fresh",
            "--connections",
            "0",
            "--duration",
            "9999",
            "--pid",
            "42",
        ];
        let options = Options::parse(args.iter().map(|s| (*s).to_owned())).unwrap();
        assert_eq!(options.connections, 1);
        assert_eq!(options.duration, Duration::from_secs(600));
        assert_eq!(options.pids, [42]);
        assert_eq!(options.addrs, ["127.0.0.1:1"]);
        let several = Options::parse(
            ["127.0.0.1:1,127.0.0.1:2", "foody-fresh", "--pid", "7,8,9"]
                .iter()
                .map(|s| (*s).to_owned()),
        )
        .unwrap();
        assert_eq!(several.addrs, ["127.0.0.1:1", "127.0.0.1:2"]);
        assert_eq!(several.pids, [7, 8, 9]);
        assert!(Options::parse([",", "b"].iter().map(|s| (*s).to_owned())).is_err());
        assert!(
            Options::parse(["a", "b", "--pid", "1,x"].iter().map(|s| (*s).to_owned())).is_err()
        );
        assert!(Options::parse(["a", "b", "--nope", "1"].iter().map(|s| (*s).to_owned())).is_err());
        assert!(Options::parse(["a", "b", "--duration"].iter().map(|s| (*s).to_owned())).is_err());
    }

    #[test]
    fn fresh_pools_hold_distinct_complete_requests() {
        let options = Options::parse(
            ["x", "bonifiq-fresh", "--requests", "3"]
                .iter()
                .map(|s| (*s).to_owned()),
        )
        .unwrap();
        let pool = pool(&options).unwrap();
        assert_eq!(pool.count, 3);
        assert!(pool.get(3).is_none());
        assert_ne!(pool.get(0), pool.get(1));
        let text = String::from_utf8(pool.get(0).unwrap().to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("POST /bonifiq HTTP/1.1\r\n"), "{head}");
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("X-Loyalty-Secret: bench-secret"), "{head}");
        assert!(!body.contains("@ID@"));

        let dup = Options::parse(
            ["x", "bonifiq-dup", "--requests", "130"]
                .iter()
                .map(|s| (*s).to_owned()),
        )
        .unwrap();
        let pool = super::pool(&dup).unwrap();
        assert_eq!(pool.distinct.len(), 64);
        assert_eq!(pool.get(0), pool.get(64));
        assert_ne!(pool.get(0), pool.get(63));
        assert!(pool.get(129).is_some() && pool.get(130).is_none());
    }

    #[test]
    fn answers_are_read_by_length_on_a_real_socket() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                let (mut socket, _) = listener.accept().await.unwrap();
                // Two answers in one write, the second split from its body.
                socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\nHTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\n")
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                socket.write_all(b"nope!").await.unwrap();
            });
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let mut buffer = Vec::new();
            assert_eq!(answer(&mut stream, &mut buffer).await.unwrap(), 200);
            assert_eq!(answer(&mut stream, &mut buffer).await.unwrap(), 401);
            assert!(buffer.is_empty());
            server.await.unwrap();
            assert!(answer(&mut stream, &mut buffer).await.is_err(), "EOF is an error");
        });
    }

    #[test]
    fn cpu_time_of_this_process_is_read() {
        // Spin until the reading has grown by 0.1 s (on a loaded machine the wall time this
        // takes is longer): it must grow within 20 s of wall time.
        let before = cpu_seconds(std::process::id()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut x = 0_u64;
        let mut after = before;
        while after - before < 0.1 && Instant::now() < deadline {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            after = cpu_seconds(std::process::id()).unwrap();
        }
        assert!(after - before >= 0.1, "{before} → {after}");
    }

    #[test]
    fn percentiles_of_sorted_latencies() {
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 0.5), 51);
        assert_eq!(percentile(&sorted, 0.99), 99);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
