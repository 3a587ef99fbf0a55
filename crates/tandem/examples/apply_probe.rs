//! Commit-to-visible latency probe for logical replication, used by
//! `bench/apply.sh`: commits marker rows on a publisher and measures how long
//! each takes to become visible on a subscriber. Works against tandem and
//! PostgreSQL alike.
//!
//! ```sh
//! cargo run --release -p tandem --example apply_probe -- \
//!     'host=127.0.0.1 port=5432 user=postgres dbname=postgres' \
//!     'host=127.0.0.1 port=5433 user=postgres dbname=postgres' \
//!     15 [INTERVAL_MS] [FIRST_ID]
//! ```
//!
//! Both sides need `create table probe (id int primary key)` and a subscription
//! that carries it. Every INTERVAL_MS (default 50) for SECONDS, one probe:
//! `insert into probe values ($1)` on the publisher (autocommit); t0 is taken
//! right after the publisher acknowledged the commit; then a prepared
//! `select 1 from probe where id = $1` polls the subscriber (about 0.5 ms
//! between polls) until the row is there: t1. Prints one line,
//! `probes N p50 X ms p99 Y ms max Z ms timeouts T`, latencies of t1 - t0.
//! A probe not visible within 60 s counts as a timeout and is left out of
//! the percentiles. With `APPLY_PROBE_DUMP=FILE` set, each probe's start
//! (seconds since the first) and latency (ms) are also written to FILE.

use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_PAUSE: Duration = Duration::from_micros(500);

type Error = Box<dyn std::error::Error>;

struct Args {
    publisher: String,
    subscriber: String,
    seconds: f64,
    interval: Duration,
    first_id: i32,
}

fn parse_args() -> Result<Args, Error> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 3 || a.len() > 5 {
        return Err(
            "usage: apply_probe PUBLISHER_CONNINFO SUBSCRIBER_CONNINFO SECONDS [INTERVAL_MS] [FIRST_ID]"
                .into(),
        );
    }
    let seconds: f64 = a[2].parse().map_err(|_| format!("bad SECONDS: {}", a[2]))?;
    let interval_ms: u64 = match a.get(3) {
        Some(s) => s.parse().map_err(|_| format!("bad INTERVAL_MS: {s}"))?,
        None => 50,
    };
    let first_id: i32 = match a.get(4) {
        Some(s) => s.parse().map_err(|_| format!("bad FIRST_ID: {s}"))?,
        None => 1,
    };
    Ok(Args {
        publisher: a[0].clone(),
        subscriber: a[1].clone(),
        seconds,
        interval: Duration::from_millis(interval_ms),
        first_id,
    })
}

async fn connect(conninfo: &str) -> Result<Client, Error> {
    let (client, conn) = tokio_postgres::connect(conninfo, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("apply_probe: connection error: {e}");
        }
    });
    Ok(client)
}

/// The value at quantile `q` of sorted `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

async fn run(args: Args) -> Result<(), Error> {
    let publ = connect(&args.publisher).await?;
    let sub = connect(&args.subscriber).await?;
    let insert = publ.prepare("insert into probe values ($1)").await?;
    let select = sub.prepare("select 1 from probe where id = $1").await?;
    let end = Instant::now() + Duration::from_secs_f64(args.seconds);
    let mut latencies_ms = Vec::new();
    let mut dump = Vec::new();
    let started = Instant::now();
    let mut timeouts = 0usize;
    let mut id = args.first_id;
    let mut next = Instant::now();
    while Instant::now() < end {
        publ.execute(&insert, &[&id]).await?;
        let t0 = Instant::now();
        loop {
            if sub.query_opt(&select, &[&id]).await?.is_some() {
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                latencies_ms.push(ms);
                dump.push(format!("{:.3} {ms:.3}\n", (t0 - started).as_secs_f64()));
                break;
            }
            if t0.elapsed() > PROBE_TIMEOUT {
                timeouts += 1;
                break;
            }
            // nothing is in flight on either connection here, so a blocking
            // sleep (finer than tokio's 1 ms timer) stalls nothing
            std::thread::sleep(POLL_PAUSE);
        }
        id += 1;
        next += args.interval;
        let now = Instant::now();
        if next > now {
            tokio::time::sleep(next - now).await;
        } else {
            // the probe took longer than the interval: start the next at once
            next = now;
        }
    }
    if let Some(path) = std::env::var_os("APPLY_PROBE_DUMP") {
        std::fs::write(&path, dump.concat())
            .map_err(|e| format!("cannot write {}: {e}", path.to_string_lossy()))?;
    }
    latencies_ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "probes {} p50 {:.2} ms p99 {:.2} ms max {:.2} ms timeouts {}",
        latencies_ms.len(),
        quantile(&latencies_ms, 0.50),
        quantile(&latencies_ms, 0.99),
        latencies_ms.last().copied().unwrap_or(f64::NAN),
        timeouts
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let result = match parse_args() {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        eprintln!("apply_probe: {e}");
        std::process::exit(1);
    }
}
