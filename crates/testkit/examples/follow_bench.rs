//! Unplanned failover with a subscription that follows the primary
//! (`bench/follow.sh` builds and runs it beside PostgreSQL 17's manual
//! procedure, `failover_bench --parts d`).
//!
//! Per trial, with the test kit on 127.0.0.1: a tandem primary
//! (`synchronized_standby_slots = 'sb1_slot'`), a standby streaming from
//! `sb1_slot` with the slot sync worker on, and a subscriber whose
//! subscription (`failover = true`) names both nodes
//! (`host=127.0.0.1,127.0.0.1 port=P,S target_session_attrs=read-write`).
//! Measured with a monotonic clock, polls 1 ms apart over open connections:
//! SIGKILL of the primary (until the process is reaped) -> `pg_promote(true,
//! 60)` on the standby -> INSERT on it -> the row at the subscriber. No
//! ALTER SUBSCRIPTION. Failure detection: a killed process's sockets are
//! closed by the kernel, so the subscriber sees its connection end at once
//! (no `wal_receiver_timeout` or TCP keepalive wait is part of the time).
//!
//! ```sh
//! cargo run --release -p tandem-testkit --example follow_bench -- [TRIALS]
//! ```

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use tandem_testkit::{bench, wait_for, Node};
use tokio_postgres::Client;

type Res<T> = Result<T, Box<dyn StdError + Send + Sync>>;

const SETUP: Duration = Duration::from_secs(120);

fn ms(a: Instant, b: Instant) -> f64 {
    (b - a).as_secs_f64() * 1000.0
}

/// One trial: (kill, promote, insert, row, total) in ms.
async fn trial(i: usize) -> Res<[f64; 5]> {
    let mut p = Node::init_with(&format!("follow-{i}-p"), &["--wal-segsize", "1"]);
    p.append_conf(bench::PRIMARY_CONF);
    p.start();
    let mut s = Node::syncing_standby(&format!("follow-{i}-s"), &p, bench::PHYS_SLOT);
    p.append_conf("synchronized_standby_slots = 'sb1_slot'");
    p.safe_psql("SELECT pg_reload_conf()");
    p.safe_psql("CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION pub FOR TABLE t");
    let mut sub = Node::init(&format!("follow-{i}-sub"));
    sub.start();
    sub.safe_psql("CREATE TABLE t (id int PRIMARY KEY)");
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION s CONNECTION 'host=127.0.0.1,127.0.0.1 port={},{} user=postgres \
         dbname=postgres target_session_attrs=read-write' PUBLICATION pub WITH (failover = true)",
        p.port, s.port
    ));
    p.safe_psql("INSERT INTO t VALUES (1)");
    wait_for("row 1 at the subscriber", SETUP, || {
        (sub.safe_psql("SELECT count(*) FROM t") == "1").then_some(())
    });
    wait_for(
        "the slot sync-ready and caught up on the standby",
        SETUP,
        || {
            (s.safe_psql(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 's' AND synced \
             AND NOT temporary AND pg_last_wal_replay_lsn() >= confirmed_flush_lsn",
            ) == "1")
                .then_some(())
        },
    );
    let sc = s.connect().await;
    let subc = sub.connect().await;
    let t0 = Instant::now();
    p.kill9();
    let t1 = Instant::now();
    val(&sc, "SELECT pg_promote(true, 60)").await?;
    let t2 = Instant::now();
    sc.simple_query("INSERT INTO t VALUES (2)").await?;
    let t3 = Instant::now();
    let t4 = poll(
        &subc,
        "SELECT count(*) FROM t WHERE id = 2",
        "1",
        Duration::from_secs(60),
    )
    .await?;
    drop((sc, subc));
    sub.stop();
    s.stop();
    Ok([ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t3, t4), ms(t0, t4)])
}

fn main() {
    let trials: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("follow_bench: {e}");
            std::process::exit(1);
        }
    };
    let mut all = Vec::new();
    for i in 0..trials {
        match rt.block_on(trial(i)) {
            Ok(r) => {
                eprintln!("trial {i}: {r:.1?}");
                all.push(r);
            }
            Err(e) => {
                eprintln!("follow_bench: trial {i}: {e}");
                std::process::exit(1);
            }
        }
    }
    let labels = [
        "kill -9 primary",
        "pg_promote(true, 60)",
        "INSERT on the promoted node",
        "INSERT commit -> row at the subscriber (no ALTER SUBSCRIPTION)",
        "total: primary death -> first new row at the subscriber",
    ];
    println!("## tandem: multi-host subscription, unplanned failover ({trials} trials, ms)\n");
    println!("| step | median | all |\n|---|---|---|");
    for (k, l) in labels.iter().enumerate() {
        let col: Vec<f64> = all.iter().map(|r| r[k]).collect();
        let shown: Vec<String> = col.iter().map(|v| format!("{v:.1}")).collect();
        println!(
            "| {l} | {:.1} | {} |",
            median(col.clone()),
            shown.join(", ")
        );
    }
    println!("\nFailure detection: 0 (the kernel closes the killed primary's sockets; on a network \
              without that, add wal_receiver_timeout or the TCP keepalive settings of the CONNECTION).");
}

/// First value of `sql` over `c` (see `tandem_testkit::bench::first_value`).
async fn val(c: &Client, sql: &str) -> Res<String> {
    Ok(bench::first_value(c, sql).await?)
}

/// Polls `sql` on `c` every millisecond until it returns `want`.
async fn poll(c: &Client, sql: &str, want: &str, timeout: Duration) -> Res<Instant> {
    bench::poll_value(c, sql, want, timeout, Duration::from_millis(1))
        .await?
        .ok_or_else(|| format!("timed out waiting for {sql} = {want}").into())
}

fn median(v: Vec<f64>) -> f64 {
    bench::median(&v).unwrap_or(f64::NAN)
}
