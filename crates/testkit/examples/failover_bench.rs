//! Failover-slot timing benchmark, tandem beside PostgreSQL 17 in one run
//! (`bench/failover.sh` builds and runs it).
//!
//! For each system it builds, with the test kit on 127.0.0.1, a primary
//! (`wal_level = logical`, `synchronized_standby_slots = 'sb1_slot'`), a
//! physical standby streaming from slot `sb1_slot` with the slot sync worker
//! on (`sync_replication_slots = on`, `hot_standby_feedback = on`) and a
//! subscriber with subscription `sub1` (`failover = true`) to publication
//! `pub` (tables `t`, `load`). PostgreSQL's standby is made with its own
//! `pg_basebackup -R -C -S sb1_slot`, tandem's with `tandem basebackup`.
//!
//! Measured, all on the client side with a monotonic clock ([`Instant`]);
//! waiting is polling over an already open connection. For a1, a2, b and d
//! one query then a 1 ms pause (tokio's timer: 1-2 ms in practice), so
//! those times have a resolution of about 1-2 ms plus one query round trip;
//! c polls without pausing ([`busy_poll`]: a prepared statement run back to
//! back, one loopback round trip apart, tens of microseconds), the same way
//! for both systems:
//!
//! - a1: `pg_create_logical_replication_slot(..., failover => true)` returns
//!   on the primary -> the slot is on the standby with `synced`; busy primary
//!   (a loader commits one row every 100 ms), and with `--idle` also after
//!   `--idle-gap` seconds without writes.
//! - a2: `CREATE SUBSCRIPTION ... WITH (failover = true, copy_data = false)`
//!   returns on the subscriber -> its slot is `synced` on the standby, and
//!   `synced AND NOT temporary` (sync-ready); busy primary. The standby is
//!   polled from before the command is sent, so "synced" can be negative
//!   when the slot shows up before the command returns.
//! - b: an INSERT commits on the primary -> `sub1`'s `confirmed_flush_lsn` on
//!   the primary passes the WAL position read right after the commit -> the
//!   standby's synced `sub1` passes it too; busy (2 s between trials), with
//!   `--idle` also after `--idle-gap` seconds without writes.
//! - c: INSERT commit on the primary -> the row is visible at the subscriber,
//!   6 x trials rows 100 ms apart, with `synchronized_standby_slots =
//!   'sb1_slot'` and with it empty; no background load. Times are shown in
//!   ms with three decimals (the busy poll resolves well below 1 ms); the
//!   number of polls per row is reported in the progress output.
//! - d: fast shutdown of the primary (SIGINT, until the process has exited)
//!   -> `pg_promote(true, 60)` on the standby -> `ALTER SUBSCRIPTION sub1
//!   CONNECTION '<standby>'` -> INSERT on the new primary -> row at the
//!   subscriber; the subscriber runs with `wal_retrieve_retry_interval` =
//!   `--d-retry-ms` (default 200, set before it starts). Destroys the topology, so it runs last,
//!   once per system.
//!
//! ```sh
//! cargo build --release -p tandem --bins
//! cargo run --release -p tandem-testkit --example failover_bench -- [TRIALS] \
//!     [--idle] [--idle-gap S] [--parts a1,a2,b,c,d] [--systems tandem,pg17] [--d-retry-ms MS]
//! ```
//!
//! Prints a markdown table (median and max, or p99 from 100 values on; ratio
//! = tandem median / PostgreSQL 17 median) and then every trial. Nodes stop
//! when they are dropped, also when a step panics.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_testkit::bench::{self, median, Topology, PHYS_SLOT};
use tandem_testkit::{pg17_bin, pg17_bin_dir, wait_for, Kind, Node};
use tokio_postgres::Client;

type Error = Box<dyn StdError + Send + Sync>;
type Res<T> = Result<T, Error>;

/// Pause between two polls.
const POLL: Duration = Duration::from_millis(1);
/// A trial whose condition does not hold by then counts as a timeout.
const TRIAL_TIMEOUT: Duration = Duration::from_secs(60);
/// Setup waits (initial sync, sync-ready `sub1`).
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

struct Opts {
    trials: usize,
    idle: bool,
    idle_gap: u64,
    parts: Vec<String>,
    systems: Vec<Kind>,
    d_retry_ms: u64,
}

impl Opts {
    fn parse() -> Res<Opts> {
        let mut o = Opts {
            trials: 5,
            idle: false,
            idle_gap: 20,
            parts: ["a1", "a2", "b", "c", "d"].map(String::from).to_vec(),
            systems: vec![Kind::Tandem, Kind::Postgres17],
            d_retry_ms: 200,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match a.as_str() {
                "--idle" => o.idle = true,
                "--idle-gap" => o.idle_gap = value("--idle-gap")?.parse()?,
                "--d-retry-ms" => o.d_retry_ms = value("--d-retry-ms")?.parse()?,
                "--parts" => {
                    o.parts = value("--parts")?.split(',').map(str::to_string).collect();
                }
                "--systems" => {
                    o.systems = value("--systems")?
                        .split(',')
                        .map(|s| match s {
                            "tandem" => Ok(Kind::Tandem),
                            "pg17" | "postgres" | "postgresql" => Ok(Kind::Postgres17),
                            other => Err(format!("unknown system {other:?} (tandem, pg17)")),
                        })
                        .collect::<Result<_, _>>()?;
                }
                "-h" | "--help" => {
                    println!(
                        "usage: failover_bench [TRIALS] [--idle] [--idle-gap S] \
                         [--parts a1,a2,b,c,d] [--systems tandem,pg17] [--d-retry-ms MS]"
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

    fn has(&self, part: &str) -> bool {
        self.parts.iter().any(|p| p == part)
    }
}

fn system_name(k: Kind) -> &'static str {
    match k {
        Kind::Tandem => "tandem",
        Kind::Postgres17 => "PostgreSQL 17",
    }
}

/// Progress on stderr, with the time since start.
fn log(start: Instant, sys: Kind, msg: &str) {
    eprintln!(
        "[{:7.1}s {}] {msg}",
        start.elapsed().as_secs_f64(),
        system_name(sys)
    );
}

/// One measurement's values (ms) and its timeouts.
#[derive(Default, Clone)]
struct Series {
    vals: Vec<f64>,
    timeouts: usize,
}

/// Every series of one system, in the order they were measured.
#[derive(Default)]
struct Results {
    series: Vec<(String, Series)>,
}

impl Results {
    fn entry(&mut self, label: &str) -> &mut Series {
        let i = match self.series.iter().position(|(l, _)| l == label) {
            Some(i) => i,
            None => {
                self.series.push((label.to_string(), Series::default()));
                self.series.len() - 1
            }
        };
        &mut self.series[i].1
    }

    /// Records `to - from` (ms), or a timeout when `to` is `None`.
    fn add(&mut self, label: &str, from: Instant, to: Option<Instant>) -> Option<f64> {
        let s = self.entry(label);
        match to {
            Some(to) => {
                let ms = ms_between(from, to);
                s.vals.push(ms);
                Some(ms)
            }
            None => {
                s.timeouts += 1;
                None
            }
        }
    }

    fn get(&self, label: &str) -> Option<&Series> {
        self.series.iter().find(|(l, _)| l == label).map(|(_, s)| s)
    }
}

/// `to - from` in ms, negative when `to` is earlier.
fn ms_between(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64() * 1e3
    } else {
        -((from - to).as_secs_f64() * 1e3)
    }
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("timeout".into(), |v| format!("{v:.1} ms"))
}

/// Milliseconds with three decimals (the busy-polled part c).
fn fmt_ms3(v: Option<f64>) -> String {
    v.map_or("timeout".into(), |v| format!("{v:.3} ms"))
}

/// Whether `label` is measured by [`busy_poll`] (shown to the microsecond).
fn fine(label: &str) -> bool {
    label == C_ON || label == C_OFF
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s
}

/// p99 (nearest rank) from 100 values on, the maximum below that.
fn high(v: &[f64]) -> Option<f64> {
    let s = sorted(v);
    if s.is_empty() {
        return None;
    }
    if s.len() >= 100 {
        let rank = (0.99 * s.len() as f64).ceil() as usize;
        return Some(s[rank.clamp(1, s.len()) - 1]);
    }
    s.last().copied()
}

/// Runs the prepared `stmt` (one bigint column, one `int4` parameter `id`)
/// back to back over the open connection until it returns `want`, without
/// pausing: the resolution is one query round trip. Returns the time it
/// first did (`None` after `timeout`) and the number of queries run.
async fn busy_poll(
    c: &Client,
    stmt: &tokio_postgres::Statement,
    id: i32,
    want: i64,
    timeout: Duration,
) -> Res<(Option<Instant>, u64)> {
    let end = Instant::now() + timeout;
    let mut polls = 0;
    loop {
        let row = c.query_one(stmt, &[&id]).await?;
        polls += 1;
        let now = Instant::now();
        if row.try_get::<_, i64>(0)? == want {
            return Ok((Some(now), polls));
        }
        if now > end {
            return Ok((None, polls));
        }
    }
}

fn build(kind: Kind, o: &Opts, start: Instant) -> Res<Topology> {
    let tag = match kind {
        Kind::Tandem => "fb-tandem",
        Kind::Postgres17 => "fb-pg17",
    };
    log(start, kind, "building primary, standby, subscriber");
    let topo = Topology::build(
        kind,
        tag,
        "",
        o.d_retry_ms,
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         CREATE TABLE load (id bigint PRIMARY KEY, ts timestamptz);
         CREATE TABLE ta (id int PRIMARY KEY);
         CREATE PUBLICATION pub FOR TABLE t, load;
         CREATE PUBLICATION pub_a FOR TABLE ta",
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         CREATE TABLE load (id bigint PRIMARY KEY, ts timestamptz);
         CREATE TABLE ta (id int PRIMARY KEY)",
    );
    let subscriber = &topo.subscriber;
    wait_for("initial sync of sub1", SETUP_TIMEOUT, || {
        (subscriber.safe_psql("SELECT count(*) FROM pg_subscription_rel WHERE srsubstate = 'r'")
            == "2")
            .then_some(())
    });
    Ok(topo)
}

/// Commits one row into `load` every 100 ms on its own connection until
/// stopped.
struct Loader {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Loader {
    async fn start(node: &Node, first_id: i64) -> Loader {
        let client = node.connect().await;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut id = first_id;
            while !flag.load(Ordering::Relaxed) {
                id += 1;
                if let Err(e) = client
                    .simple_query(&format!("INSERT INTO load VALUES ({id}, now())"))
                    .await
                {
                    eprintln!("loader stopped: {e}");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Loader { stop, task }
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
    }
}

const A1_BUSY: &str = "a1 create failover slot returns -> synced on standby (busy)";
const A2_SYNCED: &str = "a2 CREATE SUBSCRIPTION returns -> slot synced on standby (busy)";
const A2_READY: &str =
    "a2 CREATE SUBSCRIPTION returns -> synced AND NOT temporary on standby (busy)";
const B_PRIMARY: &str = "b  INSERT commit -> sub1 confirmed_flush_lsn passes it on primary (busy)";
const B_STANDBY: &str =
    "b  primary confirmed_flush_lsn passes it -> standby's synced sub1 too (busy)";
const C_ON: &str = "c  INSERT commit -> row at subscriber, synchronized_standby_slots = 'sb1_slot'";
const C_OFF: &str = "c  INSERT commit -> row at subscriber, synchronized_standby_slots = ''";
const D_STOP: &str = "d  stop primary (fast shutdown, until exited)";
const D_PROMOTE: &str = "d  pg_promote(true, 60) on standby";
const D_ALTER: &str = "d  ALTER SUBSCRIPTION sub1 CONNECTION";
const D_ROW: &str = "d  INSERT on new primary -> row at subscriber";
const D_TOTAL: &str = "d  TOTAL stop begins -> first new row at subscriber";

/// "synced" row count of slot `slot` on a standby, as a poll query.
fn synced_sql(slot: &str, ready: bool) -> String {
    format!(
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND synced{}",
        if ready { " AND NOT temporary" } else { "" }
    )
}

/// Query: whether `slot`'s confirmed_flush_lsn has reached `lsn` (synced
/// copies only when `synced`).
fn confirmed_sql(lsn: &str, synced: bool) -> String {
    format!(
        "SELECT coalesce(bool_or(confirmed_flush_lsn >= '{lsn}'::pg_lsn), false) \
         FROM pg_replication_slots WHERE slot_name = 'sub1'{}",
        if synced { " AND synced" } else { "" }
    )
}

async fn part_a1(
    topo: &Topology,
    r: &mut Results,
    n: usize,
    idle_gap: Option<u64>,
    start: Instant,
) -> Res<()> {
    let p = topo.primary.connect().await;
    let s = topo.standby.connect().await;
    let label = match idle_gap {
        None => A1_BUSY.to_string(),
        Some(g) => format!("a1 create failover slot returns -> synced on standby (idle {g}s)"),
    };
    for i in 1..=n {
        if let Some(g) = idle_gap {
            tokio::time::sleep(Duration::from_secs(g)).await;
        }
        let slot = format!(
            "a1_{}_{i}",
            if idle_gap.is_some() { "idle" } else { "busy" }
        );
        val(
            &p,
            &format!(
                "SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput', false, false, true)"
            ),
        )
        .await?;
        let t0 = Instant::now();
        let t1 = poll(&s, &synced_sql(&slot, false), "1", TRIAL_TIMEOUT).await?;
        let v = r.add(&label, t0, t1);
        log(start, topo.kind, &format!("a1 trial {i}: {}", fmt_ms(v)));
        val(&p, &format!("SELECT pg_drop_replication_slot('{slot}')")).await?;
    }
    Ok(())
}

async fn part_a2(topo: &Topology, r: &mut Results, n: usize, start: Instant) -> Res<()> {
    let sub = topo.subscriber.connect().await;
    let s1 = topo.standby.connect().await;
    let s2 = topo.standby.connect().await;
    let conninfo = topo.primary.conninfo("postgres");
    for i in 1..=n {
        let name = format!("sa_{i}");
        let create = async {
            sub.simple_query(&format!(
                "CREATE SUBSCRIPTION {name} CONNECTION '{conninfo}' PUBLICATION pub_a \
                 WITH (failover = true, copy_data = false)"
            ))
            .await?;
            Ok::<Instant, Error>(Instant::now())
        };
        let (q_synced, q_ready) = (synced_sql(&name, false), synced_sql(&name, true));
        let (returned, synced, ready) = tokio::join!(
            create,
            poll(&s1, &q_synced, "1", TRIAL_TIMEOUT),
            poll(&s2, &q_ready, "1", TRIAL_TIMEOUT)
        );
        let returned = returned?;
        let a = r.add(A2_SYNCED, returned, synced?);
        let b = r.add(A2_READY, returned, ready?);
        log(
            start,
            topo.kind,
            &format!(
                "a2 trial {i}: synced {}, sync-ready {}",
                fmt_ms(a),
                fmt_ms(b)
            ),
        );
        sub.simple_query(&format!("DROP SUBSCRIPTION {name}"))
            .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

async fn part_b(
    topo: &Topology,
    r: &mut Results,
    n: usize,
    first_id: i32,
    idle_gap: Option<u64>,
    start: Instant,
) -> Res<()> {
    let p = topo.primary.connect().await;
    let p2 = topo.primary.connect().await;
    let s = topo.standby.connect().await;
    let (lp, ls) = match idle_gap {
        None => (B_PRIMARY.to_string(), B_STANDBY.to_string()),
        Some(g) => (
            format!(
                "b  INSERT commit -> sub1 confirmed_flush_lsn passes it on primary (idle {g}s)"
            ),
            format!(
                "b  primary confirmed_flush_lsn passes it -> standby's synced sub1 too (idle {g}s)"
            ),
        ),
    };
    for i in 1..=n {
        tokio::time::sleep(Duration::from_secs(idle_gap.unwrap_or(2))).await;
        let id = first_id + i as i32;
        p.simple_query(&format!("INSERT INTO t VALUES ({id}, 'b')"))
            .await?;
        let t0 = Instant::now();
        let lsn = val(&p, "SELECT pg_current_wal_lsn()").await?;
        let (q_primary, q_standby) = (confirmed_sql(&lsn, false), confirmed_sql(&lsn, true));
        let (tp, ts) = tokio::join!(
            poll(&p2, &q_primary, "t", TRIAL_TIMEOUT),
            poll(&s, &q_standby, "t", TRIAL_TIMEOUT)
        );
        let (tp, ts) = (tp?, ts?);
        let a = r.add(&lp, t0, tp);
        let b = match tp {
            Some(tp) => r.add(&ls, tp, ts),
            None => r.add(&ls, t0, None),
        };
        log(
            start,
            topo.kind,
            &format!(
                "b trial {i}: primary confirms after {}, standby {} later",
                fmt_ms(a),
                fmt_ms(b)
            ),
        );
    }
    Ok(())
}

async fn set_sss(node: &Node, c: &Client, value: &str) -> Res<()> {
    node.append_conf(&format!("synchronized_standby_slots = '{value}'"));
    val(c, "SELECT pg_reload_conf()").await?;
    let want = value.to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while val(c, "SHOW synchronized_standby_slots").await? != want {
        if Instant::now() > deadline {
            return Err(format!("synchronized_standby_slots did not become {want:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn part_c(topo: &Topology, r: &mut Results, n: usize, start: Instant) -> Res<()> {
    let p = topo.primary.connect().await;
    let sub = topo.subscriber.connect().await;
    let rows = n * 6;
    let mut id: i32 = 200_000;
    let insert = p.prepare("INSERT INTO t VALUES ($1, 'c')").await?;
    let seen = sub.prepare("SELECT count(*) FROM t WHERE id = $1").await?;
    for (value, label) in [(PHYS_SLOT, C_ON), ("", C_OFF)] {
        set_sss(&topo.primary, &p, value).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut polls = 0;
        for _ in 0..rows {
            id += 1;
            p.execute(&insert, &[&id]).await?;
            let t0 = Instant::now();
            let (t1, k) = busy_poll(&sub, &seen, id, 1, TRIAL_TIMEOUT).await?;
            polls += k;
            r.add(label, t0, t1);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(s) = r.get(label) {
            log(
                start,
                topo.kind,
                &format!(
                    "c synchronized_standby_slots = '{value}': {} rows, median {}, {:.1} polls per row",
                    s.vals.len(),
                    fmt_ms3(median(&s.vals)),
                    polls as f64 / rows.max(1) as f64
                ),
            );
        }
    }
    set_sss(&topo.primary, &p, PHYS_SLOT).await
}

async fn part_d(topo: &mut Topology, r: &mut Results, start: Instant) -> Res<()> {
    let sub = topo.subscriber.connect().await;
    let s = topo.standby.connect().await;
    {
        // the subscriber and the standby's sub1 have everything so far
        let p = topo.primary.connect().await;
        p.simple_query("INSERT INTO t VALUES (1000000, 'before failover')")
            .await?;
        let lsn = val(&p, "SELECT pg_current_wal_lsn()").await?;
        let steps = [
            (
                &sub,
                "SELECT count(*) FROM t WHERE id = 1000000".to_string(),
                "1",
            ),
            (&s, confirmed_sql(&lsn, true), "t"),
            (
                &s,
                format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"),
                "t",
            ),
            (&s, synced_sql("sub1", true), "1"),
        ];
        for (c, sql, want) in steps {
            if poll(c, &sql, want, SETUP_TIMEOUT).await?.is_none() {
                return Err(format!("before failover: timed out waiting for {sql}").into());
            }
        }
    }
    let t0 = Instant::now();
    tokio::task::block_in_place(|| topo.primary.stop());
    let t1 = Instant::now();
    val(&s, "SELECT pg_promote(true, 60)").await?;
    let t2 = Instant::now();
    sub.simple_query(&format!(
        "ALTER SUBSCRIPTION sub1 CONNECTION '{}'",
        topo.standby.conninfo("postgres")
    ))
    .await?;
    let t3 = Instant::now();
    s.simple_query("INSERT INTO t VALUES (1000001, 'after failover')")
        .await?;
    let t4 = Instant::now();
    let t5 = poll(
        &sub,
        "SELECT count(*) FROM t WHERE id = 1000001",
        "1",
        TRIAL_TIMEOUT,
    )
    .await?;
    r.add(D_STOP, t0, Some(t1));
    r.add(D_PROMOTE, t1, Some(t2));
    r.add(D_ALTER, t2, Some(t3));
    r.add(D_ROW, t4, t5);
    let total = r.add(D_TOTAL, t0, t5);
    log(start, topo.kind, &format!("d: total {}", fmt_ms(total)));
    Ok(())
}

/// Waits (setup) until `sub1` is sync-ready on the standby.
async fn wait_sub1_ready(topo: &Topology, start: Instant) -> Res<()> {
    let s = topo.standby.connect().await;
    let t0 = Instant::now();
    match poll(&s, &synced_sql("sub1", true), "1", SETUP_TIMEOUT).await? {
        Some(t) => {
            log(
                start,
                topo.kind,
                &format!(
                    "setup: sub1 sync-ready on the standby after {:.1} s",
                    (t - t0).as_secs_f64()
                ),
            );
            Ok(())
        }
        None => Err("setup: sub1 never became sync-ready on the standby".into()),
    }
}

async fn run_system(mut topo: Topology, o: &Opts, start: Instant) -> Res<Results> {
    let mut r = Results::default();
    let n = o.trials;
    let need_sub1 = o.has("b") || o.has("d");
    let loader = Loader::start(&topo.primary, 0).await;
    if need_sub1 {
        wait_sub1_ready(&topo, start).await?;
    }
    if o.has("a1") {
        part_a1(&topo, &mut r, n, None, start).await?;
    }
    if o.has("a2") {
        part_a2(&topo, &mut r, n, start).await?;
    }
    if o.has("b") {
        part_b(&topo, &mut r, n, 100_000, None, start).await?;
    }
    loader.stop().await;
    if o.idle && o.has("a1") {
        part_a1(&topo, &mut r, n, Some(o.idle_gap), start).await?;
    }
    if o.idle && o.has("b") {
        part_b(&topo, &mut r, n, 110_000, Some(o.idle_gap), start).await?;
    }
    if o.has("c") {
        part_c(&topo, &mut r, n, start).await?;
    }
    if o.has("d") {
        part_d(&mut topo, &mut r, start).await?;
    }
    log(start, topo.kind, "done; stopping nodes");
    drop(topo);
    Ok(r)
}

fn cell(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

fn report(results: &[(Kind, Results)], o: &Opts) -> String {
    let get = |k: Kind| results.iter().find(|(kk, _)| *kk == k).map(|(_, r)| r);
    let (t, p) = (get(Kind::Tandem), get(Kind::Postgres17));
    let mut labels: Vec<String> = Vec::new();
    for (_, r) in results {
        for (l, _) in &r.series {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Failover slots: tandem vs PostgreSQL 17 ({} trials; c: {} rows per setting; times in ms)\n",
        o.trials,
        o.trials * 6
    );
    let _ = writeln!(
        out,
        "| measurement | n (tandem / pg17) | tandem median | tandem max* | PostgreSQL 17 median | PostgreSQL 17 max* | ratio |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for l in &labels {
        let st = t.and_then(|r| r.get(l));
        let sp = p.and_then(|r| r.get(l));
        let n = |s: Option<&Series>| {
            s.map_or("-".into(), |s| {
                if s.timeouts > 0 {
                    format!("{} (+{} timeouts)", s.vals.len(), s.timeouts)
                } else {
                    s.vals.len().to_string()
                }
            })
        };
        let mt = st.and_then(|s| median(&s.vals));
        let mp = sp.and_then(|s| median(&s.vals));
        let ratio = match (mt, mp) {
            (Some(a), Some(b)) if b.abs() >= 0.05 => format!("{:.2}", a / b),
            _ => "-".into(),
        };
        let c = |v: Option<f64>| {
            if fine(l) {
                v.map_or("-".into(), |v| format!("{v:.3}"))
            } else {
                cell(v)
            }
        };
        let _ = writeln!(
            out,
            "| {l} | {} / {} | {} | {} | {} | {} | {ratio} |",
            n(st),
            n(sp),
            c(mt),
            c(st.and_then(|s| high(&s.vals))),
            c(mp),
            c(sp.and_then(|s| high(&s.vals))),
        );
    }
    let _ = writeln!(
        out,
        "\n*max, or p99 (nearest rank) from 100 values on. ratio = tandem median / PostgreSQL 17 median. \
         Client-side monotonic clock; polls over open connections: c back to back (a prepared query per \
         loopback round trip, resolution well below 1 ms), the others every ~1-2 ms (1 ms pause + one query)."
    );
    for (k, r) in results {
        let _ = writeln!(out, "\n### {}: every trial (ms)\n", system_name(*k));
        for (l, s) in &r.series {
            let digits = if fine(l) { 3 } else { 1 };
            let all: Vec<String> = s.vals.iter().map(|v| format!("{v:.digits$}")).collect();
            let _ = writeln!(
                out,
                "- {l}: {}{}",
                all.join(", "),
                if s.timeouts > 0 {
                    format!("; {} timeouts", s.timeouts)
                } else {
                    String::new()
                }
            );
        }
    }
    out
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("failover_bench: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Res<()> {
    let o = Opts::parse()?;
    let start = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut results = Vec::new();
    for &kind in &o.systems {
        if kind == Kind::Postgres17 && pg17_bin().is_none() {
            eprintln!(
                "skipping PostgreSQL 17: not found in {} (set PG17_BIN)",
                pg17_bin_dir().display()
            );
            continue;
        }
        let topo = build(kind, &o, start)?;
        let r = rt.block_on(run_system(topo, &o, start))?;
        results.push((kind, r));
    }
    print!("{}", report(&results, &o));
    eprintln!("total wall time {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// First value of `sql` over `c` (see `tandem_testkit::bench::first_value`).
async fn val(c: &Client, sql: &str) -> Res<String> {
    Ok(bench::first_value(c, sql).await?)
}

/// Polls `sql` on `c` until it returns `want`, every [`POLL`].
async fn poll(c: &Client, sql: &str, want: &str, timeout: Duration) -> Res<Option<Instant>> {
    Ok(bench::poll_value(c, sql, want, timeout, POLL).await?)
}
