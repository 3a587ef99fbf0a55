//! Planned switchover under a steady insert load, `tandem switchover`
//! beside PostgreSQL 17's manual procedure in one run (`bench/switchover.sh`
//! builds and runs it).
//!
//! Each trial builds, with the test kit on 127.0.0.1, a primary
//! (`synchronized_standby_slots = 'sb1_slot'`), a standby streaming through
//! `sb1_slot` with the slot sync worker on, and a subscriber with a failover
//! subscription `sub1` to table `load` (as `failover_bench.rs` builds them;
//! PostgreSQL's standby comes from its own `pg_basebackup -R -C -S`). A
//! loader commits one row every `--interval-ms` (default 10) on whichever
//! node accepts writes. Then:
//!
//! - tandem: `tandem switchover --primary P --standby S --subscriber SUB`;
//! - PostgreSQL 17: `pg_ctl stop -m fast` of the primary (SIGINT, until the
//!   process exited), `pg_promote(true, 60)` on the standby, `ALTER
//!   SUBSCRIPTION sub1 CONNECTION` to the standby on the subscriber.
//!
//! Measured on the client's monotonic clock: **writes refused**, the gap
//! between the loader's last commit on the old primary and its first on the
//! new one; **subscriber applying again**, from the start of the switchover
//! until the first row committed on the new primary is visible at the
//! subscriber (polled every millisecond). Prints a markdown table (median,
//! max, ratio tandem / PostgreSQL 17) and every trial.
//!
//! ```sh
//! cargo run --release -p tandem-testkit --example switchover_bench -- [TRIALS] \
//!     [--systems tandem,pg17] [--interval-ms MS]
//! ```

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tandem_testkit::bench::{self, Topology};
use tandem_testkit::{pg17_bin, pg17_bin_dir, tandem_bin, wait_for, Kind};
use tokio_postgres::Client;

type Error = Box<dyn StdError + Send + Sync>;
type Res<T> = Result<T, Error>;

const SETUP_TIMEOUT: Duration = Duration::from_secs(120);
struct Opts {
    trials: usize,
    systems: Vec<Kind>,
    interval_ms: u64,
}

fn parse() -> Res<Opts> {
    let mut o = Opts {
        trials: 3,
        systems: vec![Kind::Tandem, Kind::Postgres17],
        interval_ms: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--systems" => {
                o.systems = args
                    .next()
                    .ok_or("--systems needs a value")?
                    .split(',')
                    .map(|s| match s {
                        "tandem" => Ok(Kind::Tandem),
                        "pg17" => Ok(Kind::Postgres17),
                        other => Err(format!("unknown system {other:?} (tandem, pg17)")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--interval-ms" => {
                o.interval_ms = args.next().ok_or("--interval-ms needs a value")?.parse()?
            }
            "-h" | "--help" => {
                println!(
                    "usage: switchover_bench [TRIALS] [--systems tandem,pg17] [--interval-ms MS]"
                );
                std::process::exit(0);
            }
            n if !n.starts_with('-') => o.trials = n.parse()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if o.trials == 0 {
        return Err("TRIALS must be at least 1".into());
    }
    Ok(o)
}

fn name(k: Kind) -> &'static str {
    match k {
        Kind::Tandem => "tandem",
        Kind::Postgres17 => "PostgreSQL 17",
    }
}

fn build(kind: Kind, trial: usize) -> Res<Topology> {
    let tag = format!(
        "sw-{}-{trial}",
        if kind == Kind::Tandem {
            "tandem"
        } else {
            "pg17"
        }
    );
    let topo = Topology::build(
        kind,
        &tag,
        "wal_retrieve_retry_interval = 200ms",
        200,
        "CREATE TABLE load (id bigint PRIMARY KEY, ts timestamptz); \
         CREATE PUBLICATION pub FOR TABLE load",
        "CREATE TABLE load (id bigint PRIMARY KEY, ts timestamptz)",
    );
    let (subscriber, standby) = (&topo.subscriber, &topo.standby);
    wait_for(
        "sub1 ready and synced on the standby",
        SETUP_TIMEOUT,
        || {
            let ready = subscriber
                .safe_psql("SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")
                == "0";
            let synced = standby.safe_psql(
                "SELECT count(*) FROM pg_replication_slots \
             WHERE slot_name = 'sub1' AND synced AND NOT temporary",
            ) == "1";
            (ready && synced).then_some(())
        },
    );
    Ok(topo)
}

/// Each commit: (row id, node index 0 = old primary / 1 = standby, when).
type Commits = Arc<Mutex<Vec<(i64, usize, Instant)>>>;

/// Commits one row every `interval` on whichever node accepts writes (an
/// error moves to the other node; a unique violation there means the row
/// was committed).
async fn loader(targets: [String; 2], interval: Duration, stop: Arc<AtomicBool>, log: Commits) {
    let mut at = 0;
    let mut client: Option<Client> = None;
    let mut id = 0i64;
    while !stop.load(Ordering::Relaxed) {
        if client.is_none() {
            client = tandem_testkit::connect(&targets[at]).await.ok();
        }
        let r = match &client {
            Some(c) => c
                .simple_query(&format!("INSERT INTO load VALUES ({}, now())", id + 1))
                .await
                .map(|_| ())
                .map_err(|e| e.code().map(|c| c.code().to_string())),
            None => Err(None),
        };
        match r {
            Ok(()) => {}
            Err(Some(code)) if code == "23505" => {}
            Err(_) => {
                client = None;
                at = 1 - at;
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        }
        id += 1;
        if let Ok(mut l) = log.lock() {
            l.push((id, at, Instant::now()));
        }
        tokio::time::sleep(interval).await;
    }
}

struct Trial {
    refused_ms: f64,
    applying_ms: f64,
}

async fn trial(kind: Kind, topo: &mut Topology, o: &Opts) -> Res<Trial> {
    let commits: Commits = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(loader(
        [
            topo.primary.conninfo("postgres"),
            topo.standby.conninfo("postgres"),
        ],
        Duration::from_millis(o.interval_ms),
        stop.clone(),
        commits.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sub = topo.subscriber.connect().await;
    let t0 = Instant::now();
    match kind {
        Kind::Tandem => {
            let out = tokio::task::block_in_place(|| {
                Command::new(tandem_bin())
                    .args([
                        "switchover",
                        "--primary",
                        &topo.primary.conninfo("postgres"),
                        "--standby",
                        &topo.standby.conninfo("postgres"),
                        "--subscriber",
                        &topo.subscriber.conninfo("postgres"),
                    ])
                    .output()
            })?;
            if !out.status.success() {
                return Err(format!(
                    "tandem switchover failed:\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            eprint!("{}", String::from_utf8_lossy(&out.stdout));
        }
        Kind::Postgres17 => {
            tokio::task::block_in_place(|| topo.primary.stop());
            let s = topo.standby.connect().await;
            val(&s, "SELECT pg_promote(true, 60)").await?;
            sub.simple_query(&format!(
                "ALTER SUBSCRIPTION sub1 CONNECTION '{}'",
                topo.standby.conninfo("postgres")
            ))
            .await?;
        }
    }
    // the first row committed on the new primary, then seen at the subscriber
    let first_new = loop {
        let found = commits
            .lock()
            .ok()
            .and_then(|l| l.iter().find(|c| c.1 == 1).map(|c| c.0));
        if let Some(id) = found {
            break id;
        }
        if t0.elapsed() > SETUP_TIMEOUT {
            return Err("no commit on the new primary".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let applied = loop {
        if val(
            &sub,
            &format!("SELECT count(*) FROM load WHERE id = {first_new}"),
        )
        .await?
            == "1"
        {
            break Instant::now();
        }
        if t0.elapsed() > SETUP_TIMEOUT {
            return Err("the subscriber did not apply the new primary's rows".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    stop.store(true, Ordering::Relaxed);
    let _ = task.await;
    let (last_old, first_on_new, last) = {
        let l = commits.lock().map_err(|_| "commit log poisoned")?;
        (
            l.iter().filter(|c| c.1 == 0).map(|c| c.2).max(),
            l.iter().filter(|c| c.1 == 1).map(|c| c.2).min(),
            l.iter().map(|c| c.0).max().unwrap_or(0),
        )
    };
    let (Some(a), Some(b)) = (last_old, first_on_new) else {
        return Err("commit log without both nodes".into());
    };
    // exactly once at the subscriber
    let want = format!("{last},{last}");
    let deadline = Instant::now() + SETUP_TIMEOUT;
    loop {
        let got = val(
            &sub,
            &format!("SELECT count(*) || ',' || count(DISTINCT id) FROM load WHERE id <= {last}"),
        )
        .await?;
        if got == want {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("subscriber has {got} rows (count, distinct), want {want}").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(Trial {
        refused_ms: b.duration_since(a).as_secs_f64() * 1000.0,
        applying_ms: applied.duration_since(t0).as_secs_f64() * 1000.0,
    })
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("switchover_bench: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Res<()> {
    let o = parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut results: Vec<(Kind, Vec<Trial>)> = Vec::new();
    for &kind in &o.systems {
        if kind == Kind::Postgres17 && pg17_bin().is_none() {
            eprintln!(
                "skipping PostgreSQL 17: not found in {}",
                pg17_bin_dir().display()
            );
            continue;
        }
        let mut trials = Vec::new();
        for n in 0..o.trials {
            eprintln!("{}: trial {}: building", name(kind), n + 1);
            let mut topo = build(kind, n)?;
            let t = rt.block_on(trial(kind, &mut topo, &o))?;
            eprintln!(
                "{}: trial {}: writes refused {:.1} ms, subscriber applying after {:.1} ms",
                name(kind),
                n + 1,
                t.refused_ms,
                t.applying_ms
            );
            trials.push(t);
        }
        results.push((kind, trials));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| measure | system | median ms | max ms | trials |\n|---|---|---:|---:|---:|"
    );
    type Measure = (&'static str, fn(&Trial) -> f64);
    let measures: [Measure; 2] = [
        ("writes refused", |t| t.refused_ms),
        ("switchover start -> subscriber applies a new row", |t| {
            t.applying_ms
        }),
    ];
    for (label, f) in measures {
        let mut medians = Vec::new();
        for (kind, trials) in &results {
            let v: Vec<f64> = trials.iter().map(f).collect();
            let m = median(&v);
            medians.push(m);
            let max = v.iter().cloned().fold(f64::NAN, f64::max);
            let _ = writeln!(
                out,
                "| {label} | {} | {m:.1} | {max:.1} | {} |",
                name(*kind),
                v.len()
            );
        }
        if medians.len() == 2 {
            let _ = writeln!(
                out,
                "| {label} | ratio tandem / PostgreSQL 17 | {:.2} | | |",
                medians[0] / medians[1]
            );
        }
    }
    let _ = writeln!(
        out,
        "\nEvery trial (ms): system, writes refused, subscriber applying"
    );
    for (kind, trials) in &results {
        for t in trials {
            let _ = writeln!(
                out,
                "{}, {:.1}, {:.1}",
                name(*kind),
                t.refused_ms,
                t.applying_ms
            );
        }
    }
    print!("{out}");
    Ok(())
}

/// First value of `sql` over `c` (see `tandem_testkit::bench::first_value`).
async fn val(c: &Client, sql: &str) -> Res<String> {
    Ok(bench::first_value(c, sql).await?)
}

fn median(v: &[f64]) -> f64 {
    bench::median(v).unwrap_or(f64::NAN)
}
