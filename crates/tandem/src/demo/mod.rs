//! `tandem demo`: PostgreSQL 17's failover logical replication, shown end to
//! end on loopback with nothing but this executable.
//!
//! In a temporary directory it starts three nodes, each a `tandem server`
//! process on a port picked at run time: a primary (`wal_level = logical`),
//! a hot standby made with `tandem basebackup` (physical slot,
//! `hot_standby_feedback`, `sync_replication_slots = on`, synchronous:
//! `synchronous_standby_names` names it) whose slot the primary lists in
//! `synchronized_standby_slots`, and a subscriber with a subscription
//! `WITH (failover = true)`. Under a steady load of numbered transactions it
//! kills the primary (SIGKILL), promotes the standby (`pg_promote()`),
//! re-points the subscription (`ALTER SUBSCRIPTION ... CONNECTION`), writes a
//! few transactions on the new primary, and checks that every transaction
//! of the surviving timeline is at the subscriber exactly once, in order,
//! and that every acknowledged commit survived. The exit status is 0 only
//! then.
//!
//! | module | what it owns |
//! |---|---|
//! | `node` | the node processes, the temporary directory, cleanup, waits |
//! | `sql` | the SQL sessions (`tandem-client`, simple queries) |
//! | `load` | the numbered transactions and the model of the tables |
//! | `monitor` | polling the nodes for the live view |
//! | `view` | the live panel on a terminal, timestamped lines otherwise |
//! | `check` | the exactly-once verdict (pure) |
//!
//! Ctrl-C (or SIGTERM) stops the nodes and removes the directory; a second
//! Ctrl-C exits at once. `--keep` leaves the nodes running and prints how
//! to reach and stop them.

mod check;
mod load;
mod monitor;
mod node;
pub(crate) mod sql;
mod view;

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};

use check::{Observed, Verdict};
use load::Progress;
use monitor::{Ports, Snapshot};
use node::{wait_until, Cluster, Interrupt};
use sql::Sql;
use view::View;

/// The subscription, and so its failover slot on the primary.
pub const SLOT: &str = "demo_sub";
/// The standby's `application_name`, listed in `synchronous_standby_names`.
pub const STANDBY_NAME: &str = "standby1";
/// The standby's physical slot, listed in `synchronized_standby_slots`.
const STANDBY_SLOT: &str = "standby1_slot";
const PUBLICATION: &str = "demo_pub";
/// Transactions written on the promoted standby.
const AFTER_FAILOVER: u32 = 10;
/// How long any one wait of the demo may take.
const DEADLINE: Duration = Duration::from_secs(60);
/// Read timeout of the demo's own sessions.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Seconds of write load before the primary is killed.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub duration: f64,
    /// Seed of the kill moment (up to half a second past --duration);
    /// default from the clock. Printed, so a run can be repeated.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Leave the nodes running at the end, and print how to connect to them
    /// and how to stop them.
    #[arg(long)]
    pub keep: bool,
}

/// splitmix64: one number from the seed.
fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What the demo measured and found.
struct Outcome {
    verdict: Verdict,
    /// `kv` and `acc` equal on the promoted standby, at the subscriber and
    /// in the model; else what differs.
    contents: Result<(), String>,
    acked_before_kill: u32,
    in_flight: Option<u32>,
    in_flight_survived: bool,
    after: u32,
    applied: usize,
    /// Since the kill: promoted, re-pointed, first new commit, first new row
    /// at the subscriber.
    promoted: Duration,
    repointed: Duration,
    first_commit: Duration,
    first_row: Duration,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.verdict.ok() && self.contents.is_ok()
    }
}

/// Stops the monitor thread when the demo leaves, however it leaves.
struct MonitorGuard {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for MonitorGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Stops the writer (after its transaction in flight) when the demo leaves.
struct WriterGuard(Arc<Progress>);

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Release);
    }
}

pub fn run(args: DemoArgs) -> ExitCode {
    let started = Instant::now();
    if !(args.duration > 0.0 && args.duration <= 3600.0) {
        eprintln!("tandem demo: --duration must be between 0 and 3600 seconds");
        return ExitCode::FAILURE;
    }
    let intr = Interrupt(Arc::new(AtomicBool::new(false)));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // the first signal asks the demo to clean up; a second ends it at once
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, intr.0.clone());
        let _ = signal_hook::flag::register(sig, intr.0.clone());
    }
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let view = Arc::new(View::new(std::io::stdout().is_terminal(), started));
    let mut cluster = match Cluster::new(args.keep) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tandem demo: error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = demo(&args, seed, &mut cluster, &view, &intr, started);
    view.finish();
    let dir = cluster.path().display().to_string();
    let code = match &result {
        Ok(outcome) => {
            print!("{}", report(outcome, seed));
            if outcome.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(_) if intr.is_set() => {
            eprintln!("tandem demo: interrupted");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("tandem demo: error: {e:#}");
            if !args.keep {
                eprintln!("(run with --keep to look at the nodes and their logs)");
            }
            ExitCode::FAILURE
        }
    };
    if args.keep {
        print!("{}", keep_notes(&cluster));
    } else {
        drop(cluster);
        println!("stopped the nodes and removed {dir}");
    }
    code
}

/// How to reach the nodes left running, and how to stop them.
fn keep_notes(cl: &Cluster) -> String {
    let exe = cl.exe.display();
    let mut s = format!(
        "\nThe nodes keep running (data and logs in {}):\n",
        cl.path().display()
    );
    for n in &cl.nodes {
        if n.running() {
            let _ = writeln!(
                s,
                "  {:<11} psql -h 127.0.0.1 -p {} -U postgres postgres",
                n.name, n.port
            );
        } else {
            let _ = writeln!(
                s,
                "  {:<11} not running (killed); {exe} start -D {} -l {} starts it again",
                n.name,
                n.datadir.display(),
                n.logfile.display()
            );
        }
    }
    s.push_str("Stop them and remove the directory with:\n");
    for n in cl.nodes.iter().filter(|n| n.running()) {
        let _ = writeln!(s, "  {exe} stop -D {}", n.datadir.display());
    }
    let _ = writeln!(s, "  rm -rf {}", cl.path().display());
    s
}

fn report(o: &Outcome, seed: u64) -> String {
    let v = &o.verdict;
    let secs = |d: Duration| format!("{:.3} s", d.as_secs_f64());
    let in_flight = match (o.in_flight, o.in_flight_survived) {
        (Some(i), true) => format!(", {i} in flight at the kill (it reached the standby)"),
        (Some(_), false) | (None, _) => String::new(),
    };
    let in_flight_lost = match (o.in_flight, o.in_flight_survived) {
        (Some(i), false) => format!(
            "; {i}, in flight at the kill, never reached the standby and was never acknowledged"
        ),
        _ => String::new(),
    };
    let list = |name: &str, items: &[u32]| {
        if items.is_empty() {
            format!("  {name:<14}0\n")
        } else {
            let shown: Vec<String> = items.iter().take(20).map(u32::to_string).collect();
            format!(
                "  {name:<14}{} (transactions {}{})\n",
                items.len(),
                shown.join(", "),
                if items.len() > 20 { ", ..." } else { "" }
            )
        }
    };
    let mut s = String::from("\ntandem demo: report\n");
    let _ = writeln!(
        s,
        "  {:<14}{} on the surviving timeline: {} acknowledged before the kill{in_flight}, \
         {} on the promoted standby{in_flight_lost}",
        "transactions:", v.committed, o.acked_before_kill, o.after
    );
    let _ = writeln!(
        s,
        "  {:<14}{} before the kill, each on the standby before its COMMIT returned \
         (synchronous_standby_names): lost counts every acknowledged commit",
        "acknowledged:", o.acked_before_kill
    );
    let _ = writeln!(
        s,
        "  {:<14}{} transactions applied",
        "subscriber:", o.applied
    );
    s.push_str(&list("lost:", &v.lost));
    s.push_str(&list("duplicated:", &v.duplicated));
    s.push_str(&list("out of order:", &v.out_of_order));
    if !v.phantom.is_empty() {
        s.push_str(&list("not on the surviving timeline:", &v.phantom));
    }
    let _ = writeln!(
        s,
        "  {:<14}{}",
        "tables:",
        match &o.contents {
            Ok(()) => "kv and acc equal on the new primary, the subscriber and the model".into(),
            Err(e) => format!("DIFFER: {e}"),
        }
    );
    let _ = writeln!(
        s,
        "  {:<14}kill, then promoted +{}, re-pointed +{}, first new commit +{}, \
         first new row at the subscriber +{}",
        "failover:",
        secs(o.promoted),
        secs(o.repointed),
        secs(o.first_commit),
        secs(o.first_row),
    );
    let _ = writeln!(
        s,
        "  {:<14}{} from the kill to the first new row applied at the subscriber",
        "downtime:",
        secs(o.first_row)
    );
    let _ = writeln!(
        s,
        "  {:<14}{} (seed {seed})",
        "result:",
        if o.ok() {
            "PASS: every transaction of the surviving timeline applied exactly once, in order"
        } else {
            "FAIL"
        }
    );
    s
}

fn set_phase(snap: &Mutex<Snapshot>, view: &View, f: impl FnOnce(&mut Snapshot)) {
    if let Ok(mut s) = snap.lock() {
        f(&mut s);
        let shown = s.clone();
        drop(s);
        if view.live() {
            view.status(&shown);
        }
    }
}

/// `SELECT k, v FROM kv` and `SELECT v FROM acc` on one node.
fn contents(c: &mut Sql) -> anyhow::Result<(Vec<(i64, i64)>, i64)> {
    let kv = c
        .exec("SELECT k, v FROM kv ORDER BY k")?
        .into_iter()
        .map(|r| {
            let n = |i: usize| -> anyhow::Result<i64> {
                let v = r.get(i).cloned().flatten().unwrap_or_default();
                v.parse().with_context(|| format!("kv value {v:?}"))
            };
            Ok((n(0)?, n(1)?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let acc = c.value("SELECT v FROM acc")?;
    let acc = acc.parse().with_context(|| format!("acc value {acc:?}"))?;
    Ok((kv, acc))
}

fn demo(
    args: &DemoArgs,
    seed: u64,
    cl: &mut Cluster,
    view: &Arc<View>,
    intr: &Interrupt,
    started: Instant,
) -> anyhow::Result<Outcome> {
    let ev = |s: String| view.event(&s);
    ev(format!(
        "tandem demo: a primary, a standby and a subscriber on 127.0.0.1, data in {}",
        cl.path().display()
    ));

    // the primary
    let p = cl.initdb(
        "primary",
        "wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10\n\
         wal_sender_timeout = 60s",
    )?;
    cl.start(p, intr)?;
    let pport = cl.nodes[p].port;
    let mut pc = Sql::connect(pport, QUERY_TIMEOUT)?;
    pc.exec(load::PRIMARY_DDL)?;
    pc.exec(&format!("CREATE PUBLICATION {PUBLICATION} FOR ALL TABLES"))?;
    ev(format!(
        "primary     port {pport}, wal_level = logical; tables log, kv, acc; \
         CREATE PUBLICATION {PUBLICATION} FOR ALL TABLES"
    ));

    // the standby
    let primary_conninfo = format!("{} application_name={STANDBY_NAME}", sql::conninfo(pport));
    let s = cl.basebackup(
        "standby",
        &primary_conninfo,
        STANDBY_SLOT,
        "hot_standby_feedback = on\nsync_replication_slots = on\nwal_level = logical\n\
         wal_receiver_status_interval = 1s\nwal_retrieve_retry_interval = 200ms",
    )?;
    cl.start(s, intr)?;
    let sport = cl.nodes[s].port;
    ev(format!(
        "standby     port {sport}, tandem basebackup -R -C -S {STANDBY_SLOT}; \
         hot_standby_feedback = on, sync_replication_slots = on, \
         primary_conninfo = '{primary_conninfo}'"
    ));
    let standby_state = format!(
        "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}'"
    );
    let row = |c: &mut Sql, sql: &str| -> Option<Vec<String>> {
        let rows = c.exec(sql).ok()?;
        let r = rows.into_iter().next()?;
        Some(r.into_iter().map(Option::unwrap_or_default).collect())
    };
    wait_until(
        "the standby to stream from the primary",
        DEADLINE,
        Duration::from_millis(20),
        intr,
        || row(&mut pc, &standby_state).filter(|r| r.first().is_some_and(|s| s == "streaming")),
    )?;
    pc.exec(&format!(
        "ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'"
    ))?;
    pc.exec(&format!(
        "ALTER SYSTEM SET synchronized_standby_slots = '{STANDBY_SLOT}'"
    ))?;
    pc.exec("SELECT pg_reload_conf()")?;
    wait_until(
        "the standby to be synchronous",
        DEADLINE,
        Duration::from_millis(20),
        intr,
        || {
            let sync =
                row(&mut pc, &standby_state).is_some_and(|r| r.get(1).is_some_and(|s| s == "sync"));
            let slots = pc.value("SHOW synchronized_standby_slots").ok()?;
            (sync && slots == STANDBY_SLOT).then_some(())
        },
    )?;
    ev(format!(
        "primary     synchronous_standby_names = '{STANDBY_NAME}' (a COMMIT returns once the \
         standby has flushed it), synchronized_standby_slots = '{STANDBY_SLOT}'"
    ));

    // the subscriber
    let sub = cl.initdb("subscriber", "wal_retrieve_retry_interval = '100ms'")?;
    cl.start(sub, intr)?;
    let subport = cl.nodes[sub].port;
    let mut sc = Sql::connect(subport, QUERY_TIMEOUT)?;
    sc.exec(load::SUBSCRIBER_DDL)?;
    sc.exec(&format!(
        "CREATE SUBSCRIPTION {SLOT} CONNECTION '{}' PUBLICATION {PUBLICATION} \
         WITH (failover = true)",
        sql::conninfo(pport)
    ))?;
    ev(format!(
        "subscriber  port {subport}; CREATE SUBSCRIPTION {SLOT} CONNECTION 'port={pport} ...' \
         PUBLICATION {PUBLICATION} WITH (failover = true)"
    ));
    wait_until(
        "the subscription's tables to be ready",
        DEADLINE,
        Duration::from_millis(20),
        intr,
        || {
            (sc.value("SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")
                .ok()?
                == "0")
                .then_some(())
        },
    )?;
    let mut stc = Sql::connect(sport, QUERY_TIMEOUT)?;
    wait_until(
        "the failover slot to be synced to the standby",
        DEADLINE,
        Duration::from_millis(20),
        intr,
        || {
            let v = stc
                .value(&format!(
                    "SELECT synced AND NOT temporary FROM pg_replication_slots \
                     WHERE slot_name = '{SLOT}'"
                ))
                .ok()?;
            (v == "t").then_some(())
        },
    )?;
    ev(format!(
        "standby     slot {SLOT} synced from the primary (synced = t, temporary = f): \
         failover-ready"
    ));

    // the load
    let progress = Arc::new(Progress::default());
    let _writer_guard = WriterGuard(progress.clone());
    let snap = Arc::new(Mutex::new(Snapshot::new(started)));
    set_phase(&snap, view, |s| s.phase = "load".into());
    let stop = Arc::new(AtomicBool::new(false));
    let monitor = MonitorGuard {
        stop: stop.clone(),
        handle: Some(monitor::spawn(
            Ports {
                primary: pport,
                standby: sport,
                subscriber: subport,
            },
            snap.clone(),
            progress.clone(),
            view.clone(),
            stop,
        )),
    };
    let writer = load::spawn_writer(Sql::connect(pport, QUERY_TIMEOUT)?, progress.clone());
    let jitter = Duration::from_millis(splitmix(seed) % 500);
    let kill_after = Duration::from_secs_f64(args.duration) + jitter;
    ev(format!(
        "load        numbered transactions (insert, update, every other one a delete) on \
         one session; the primary dies in {:.1} s",
        kill_after.as_secs_f64()
    ));
    let load_start = Instant::now();
    let writer_alive = wait_until(
        "the end of the load phase",
        kill_after + DEADLINE,
        Duration::from_millis(20),
        intr,
        || {
            if writer.is_finished() {
                return Some(false);
            }
            (load_start.elapsed() >= kill_after).then_some(true)
        },
    )?;
    if !writer_alive {
        let end = writer
            .join()
            .map_err(|_| anyhow::anyhow!("the writer panicked"))?;
        bail!(
            "the load stopped before the kill: {}",
            end.error.unwrap_or_default()
        );
    }

    // the crash
    let pid = cl.nodes[p].pid().unwrap_or(0);
    cl.nodes[p].kill9();
    let killed = Instant::now();
    set_phase(&snap, view, |s| {
        s.phase = "failover".into();
        s.primary_up = false;
    });
    let end = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the writer panicked"))?;
    ev(format!(
        "SIGKILL     primary (pid {pid}) after {} acknowledged transactions{}",
        end.acked,
        end.in_flight
            .map(|i| format!("; transaction {i} was in flight, its outcome unknown"))
            .unwrap_or_default()
    ));

    // promotion
    wait_until(
        "the standby to replay all it received",
        DEADLINE,
        Duration::from_millis(5),
        intr,
        || {
            (stc.value("SELECT pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn()")
                .ok()?
                == "t")
                .then_some(())
        },
    )?;
    let v = stc.value("SELECT pg_promote()")?;
    if v != "t" {
        bail!("pg_promote() on the standby returned {v:?}");
    }
    let promoted = killed.elapsed();
    set_phase(&snap, view, |s| s.standby_promoted = true);
    // pg_promote() can return a moment before the server lets transactions
    // write (PostgreSQL: once it returns, they can)
    wait_until(
        "the promoted standby to accept writes",
        DEADLINE,
        Duration::from_millis(2),
        intr,
        || (stc.value("SHOW default_transaction_read_only").ok()? == "off").then_some(()),
    )?;
    let slot = stc
        .exec(&format!(
            "SELECT failover, synced, temporary FROM pg_replication_slots \
             WHERE slot_name = '{SLOT}'"
        ))?
        .into_iter()
        .next()
        .map(|r| {
            r.into_iter()
                .map(Option::unwrap_or_default)
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_else(|| "missing".into());
    ev(format!(
        "standby     SELECT pg_promote(): a primary now, {:.3} s after the kill; slot {SLOT} \
         there (failover/synced/temporary): {slot}",
        promoted.as_secs_f64()
    ));
    let new_conninfo = sql::conninfo(sport);
    sc.exec(&format!(
        "ALTER SUBSCRIPTION {SLOT} CONNECTION '{new_conninfo}'"
    ))?;
    let repointed = killed.elapsed();
    ev(format!(
        "subscriber  ALTER SUBSCRIPTION {SLOT} CONNECTION 'port={sport} ...'"
    ));

    // transactions on the new primary
    let m: u32 = stc.value("SELECT max(seq) FROM log")?.parse().unwrap_or(0);
    let first_new = m + 1;
    let last = m + AFTER_FAILOVER;
    let mut acked_after = Vec::new();
    let mut first_commit = None;
    for i in first_new..=last {
        stc.exec(&load::transaction_sql(i, "promoted"))?;
        progress.record_ack(i, Instant::now());
        first_commit.get_or_insert_with(|| killed.elapsed());
        acked_after.push(i);
    }
    let first_commit = first_commit.unwrap_or_default();
    set_phase(&snap, view, |s| s.phase = "catch-up".into());
    ev(format!(
        "new primary transactions {first_new}..={last} committed"
    ));
    let first_row = wait_until(
        "the first transaction of the new primary at the subscriber",
        DEADLINE,
        Duration::from_millis(2),
        intr,
        || {
            let n = sc
                .value(&format!("SELECT count(*) FROM log WHERE seq = {first_new}"))
                .ok()?;
            (n != "0").then(|| killed.elapsed())
        },
    )?;
    ev(format!(
        "subscriber  first row from the new primary applied, {:.3} s after the kill",
        first_row.as_secs_f64()
    ));
    wait_until(
        "the last transaction at the subscriber",
        DEADLINE,
        Duration::from_millis(5),
        intr,
        || {
            let n = sc
                .value(&format!("SELECT count(*) FROM log WHERE seq = {last}"))
                .ok()?;
            (n != "0").then_some(())
        },
    )?;
    set_phase(&snap, view, |s| s.phase = "check".into());
    if view.live() {
        // one last look at the panel before it goes
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(monitor);
    ev(format!(
        "subscriber  caught up with transaction {last}; checking"
    ));

    // the check
    let timeline = stc.seqs("SELECT seq FROM log ORDER BY seq")?;
    let applied = sc.seqs("SELECT seq FROM log ORDER BY applied")?;
    let verdict = check::check(Observed {
        acked_before_kill: end.acked,
        acked_after: &acked_after,
        timeline: &timeline,
        applied: &applied,
    });
    let model = load::model(last);
    let on_new = contents(&mut stc)?;
    let on_sub = contents(&mut sc)?;
    let contents = if on_new != model {
        Err("the new primary's kv or acc differs from the model".into())
    } else if on_sub != model {
        Err("the subscriber's kv or acc differs from the model".into())
    } else {
        Ok(())
    };
    pc.close();
    stc.close();
    sc.close();
    Ok(Outcome {
        // the new primary numbers on from what it holds
        in_flight_survived: end.in_flight.is_some_and(|i| i <= m),
        verdict,
        contents,
        acked_before_kill: end.acked,
        in_flight: end.in_flight,
        after: AFTER_FAILOVER,
        applied: applied.len(),
        promoted,
        repointed,
        first_commit,
        first_row,
    })
}
