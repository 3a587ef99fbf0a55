//! A subscription resumed on a promoted standby through a synchronized
//! failover slot (PostgreSQL 17's failover slots, seen from the user's side):
//!
//! - under a steady write load the primary is killed (SIGKILL) at a moment
//!   chosen by a seed, the standby (slot sync worker on, its physical slot
//!   named in the primary's `synchronized_standby_slots`) is promoted with
//!   `pg_promote()`, the subscriber is re-pointed with `ALTER SUBSCRIPTION
//!   ... CONNECTION`, and then every transaction the promoted standby holds
//!   is at the subscriber exactly once, in commit order, with nothing the
//!   standby does not hold;
//! - the statements of published walk-throughs of the feature (a
//!   `test_decoding` failover slot synced and consumed, a subscription with
//!   `failover = true` resumed after promotion, the failover-readiness
//!   queries, manual then automatic synchronization with the subscriber
//!   reaching the promoted standby through a moved address) run through
//!   psql as printed, with the printed outcomes.
//!
//! The load test runs `TANDEM_FAILOVER_RUNS` seeds (default 2) starting at
//! `TANDEM_FAILOVER_SEED` (default 43), e.g.
//! `TANDEM_FAILOVER_SEED=1 TANDEM_FAILOVER_RUNS=20 cargo test --release -p
//! tandem --test t043_failover_resume failover_under_load`; each run prints
//! its seed, so a failing one is replayed with `TANDEM_FAILOVER_RUNS=1`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tandem_testkit::failover::{set_and_reload, wait_synced, wait_tables_ready};
use tandem_testkit::{wait_for, wait_value, Node, DEADLINE};

/// splitmix64: the seed's stream of choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={v:?} is not a number: {e}")),
        Err(_) => default,
    }
}

/// Transaction `i` of the load: one row into the keyless `log` (a repeat
/// would show as a second row), a new `kv` row, an update of the previous
/// one, every other time a delete of an older one, and a step of `acc` that
/// does not commute (a transaction applied out of order or twice changes
/// it).
fn transaction_sql(i: u32, src: &str) -> String {
    let mut sql = format!(
        "BEGIN; INSERT INTO log VALUES ({i}, '{src}'); INSERT INTO kv VALUES ({i}, {i} * 7); \
         UPDATE kv SET v = v * 3 + {i} WHERE k = {i} - 1; "
    );
    if i.is_multiple_of(2) {
        sql.push_str(&format!("DELETE FROM kv WHERE k = {i} - 4; "));
    }
    sql.push_str(&format!(
        "UPDATE acc SET v = (v * 31 + {i}) % 1000003; COMMIT"
    ));
    sql
}

/// What `kv` and `acc` hold after transactions 1..=n, as psql prints them.
fn model(n: u32) -> (String, String) {
    let mut kv: BTreeMap<i64, i64> = BTreeMap::new();
    let mut acc: i64 = 1;
    for i in 1..=i64::from(n) {
        kv.insert(i, i * 7);
        if let Some(v) = kv.get_mut(&(i - 1)) {
            *v = *v * 3 + i;
        }
        if i % 2 == 0 {
            kv.remove(&(i - 4));
        }
        acc = (acc * 31 + i) % 1_000_003;
    }
    let kv = kv
        .iter()
        .map(|(k, v)| format!("{k}|{v}"))
        .collect::<Vec<_>>()
        .join("\n");
    (kv, acc.to_string())
}

/// The outcome of the writer: transactions 1..=acked were acknowledged; the
/// one in flight when the connection broke (if any) has an unknown outcome.
struct Written {
    acked: u32,
    unknown: Option<u32>,
}

/// A writer with its own connection to `conninfo`, running transactions
/// 1, 2, ... until its connection fails; `done` follows the acknowledged
/// ones.
fn writer(conninfo: String, done: Arc<AtomicU32>) -> std::thread::JoinHandle<Written> {
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("writer: runtime: {e}"),
        };
        rt.block_on(async move {
            let client = match tandem_testkit::connect(&conninfo).await {
                Ok(c) => c,
                Err(e) => panic!("writer: cannot connect: {e}"),
            };
            let mut i = 1;
            loop {
                if let Err(e) = client.batch_execute(&transaction_sql(i, "p")).await {
                    eprintln!(
                        "writer: transaction {i} has an unknown outcome: {}",
                        tandem_testkit::message(&e)
                    );
                    return Written {
                        acked: i - 1,
                        unknown: Some(i),
                    };
                }
                done.store(i, Ordering::Release);
                i += 1;
            }
        })
    })
}

/// `SELECT seq FROM log` in the order given, as numbers.
fn seqs(node: &Node, order: &str) -> Vec<u32> {
    let text = node.safe_psql(&format!("SELECT seq FROM log ORDER BY {order}"));
    text.lines()
        .map(|l| {
            l.parse()
                .unwrap_or_else(|e| panic!("seq {l:?} on {}: {e}", node.name))
        })
        .collect()
}

fn one_failover_run(seed: u64) {
    let started = Instant::now();
    let mut rng = Rng(seed);
    let kill_after = 30 + (rng.next() % 170) as u32;
    let disable_around = rng.next() % 2 == 1;
    let after_promotion = 1 + (rng.next() % 5) as u32;
    eprintln!(
        "failover run: TANDEM_FAILOVER_SEED={seed} (kill after {kill_after} acknowledged commits, \
         re-point {}, {after_promotion} transactions after promotion)",
        if disable_around {
            "between DISABLE and ENABLE"
        } else {
            "with ALTER SUBSCRIPTION ... CONNECTION alone"
        }
    );
    let tag = format!("t043-{seed}");
    let mut p = Node::logical_primary(&format!("{tag}-p"));
    let ddl = "CREATE TABLE log (seq int, src text); \
               CREATE TABLE kv (k int PRIMARY KEY, v bigint); \
               CREATE TABLE acc (id int PRIMARY KEY, v bigint)";
    p.safe_psql(ddl);
    p.safe_psql(
        "ALTER TABLE log REPLICA IDENTITY FULL; INSERT INTO acc VALUES (1, 1); \
         CREATE PUBLICATION pub FOR ALL TABLES",
    );
    let s = Node::syncing_standby(&format!("{tag}-s"), &p, "sb1_slot");
    // after the base backup, so that the promoted standby does not inherit it
    set_and_reload(&p, "synchronized_standby_slots", "sb1_slot");
    let sub = Node::subscriber(&format!("{tag}-sub"));
    // the subscriber numbers the rows of `log` in the order it applies them
    sub.safe_psql(
        "CREATE TABLE log (seq int, src text, applied bigserial); \
         CREATE TABLE kv (k int PRIMARY KEY, v bigint); \
         CREATE TABLE acc (id int PRIMARY KEY, v bigint)",
    );
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION s CONNECTION '{}' PUBLICATION pub WITH (failover = true)",
        p.conninfo("postgres")
    ));
    wait_tables_ready(&sub);
    // failover-ready before the load starts
    wait_synced(&s, "s");

    let done = Arc::new(AtomicU32::new(0));
    let w = writer(p.conninfo("postgres"), done.clone());
    wait_for(
        &format!("{kill_after} acknowledged commits, half of them applied"),
        DEADLINE,
        || {
            assert!(
                !w.is_finished(),
                "the writer stopped before the kill (see its output)"
            );
            let applied: u32 = sub
                .safe_psql("SELECT count(*) FROM log")
                .parse()
                .unwrap_or(0);
            (done.load(Ordering::Acquire) >= kill_after && applied >= kill_after / 2).then_some(())
        },
    );
    p.kill9();
    let written = match w.join() {
        Ok(wr) => wr,
        Err(_) => panic!("the writer panicked"),
    };
    eprintln!(
        "primary killed after {} acknowledged commits (unknown outcome: {:?})",
        written.acked, written.unknown
    );

    // the standby replays all it received, then is promoted
    wait_value(
        &s,
        "SELECT pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn()",
        "t",
    );
    // what the subscriber got from the old primary; it cannot get more now
    let sub_before = seqs(&sub, "applied");
    s.promote();
    assert_eq!(
        s.safe_psql(
            "SELECT failover, synced, temporary FROM pg_replication_slots WHERE slot_name = 's'"
        ),
        "t|t|f",
        "the subscription's slot on the promoted standby"
    );

    // the surviving timeline: 1..=m from the old primary
    let on_s = seqs(&s, "seq");
    let m = on_s.len() as u32;
    assert_eq!(
        on_s,
        (1..=m).collect::<Vec<_>>(),
        "the promoted standby holds a prefix of the writer's transactions, each once"
    );
    let limit = written.unknown.unwrap_or(written.acked);
    assert!(
        m <= limit,
        "the standby holds transaction {m}, never attempted (acknowledged {}, unknown {:?})",
        written.acked,
        written.unknown
    );
    eprintln!(
        "the promoted standby holds {m} transactions ({} acknowledged ones lost with the old \
         primary); the subscriber had applied {} of them",
        written.acked.saturating_sub(m),
        sub_before.len()
    );
    // synchronized_standby_slots: the subscriber never got ahead of the standby
    let ahead: Vec<u32> = sub_before.iter().copied().filter(|&i| i > m).collect();
    assert!(
        ahead.is_empty(),
        "the subscriber applied transactions the standby never flushed: {ahead:?}"
    );

    // re-point the subscription at the promoted standby
    let conn = s.conninfo("postgres");
    if disable_around {
        sub.safe_psql("ALTER SUBSCRIPTION s DISABLE");
        sub.safe_psql(&format!("ALTER SUBSCRIPTION s CONNECTION '{conn}'"));
        sub.safe_psql("ALTER SUBSCRIPTION s ENABLE");
    } else {
        sub.safe_psql(&format!("ALTER SUBSCRIPTION s CONNECTION '{conn}'"));
    }
    let last = m + after_promotion;
    for i in m + 1..=last {
        s.safe_psql(&transaction_sql(i, "s"));
    }
    wait_for(
        &format!("transaction {last} (written on the promoted standby) at the subscriber"),
        DEADLINE,
        || {
            (sub.safe_psql(&format!("SELECT count(*) FROM log WHERE seq = {last}")) != "0")
                .then_some(())
        },
    );

    // exactly once, in commit order, nothing the standby does not hold
    let applied = seqs(&sub, "applied");
    let mut sorted = applied.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        applied.len(),
        "a transaction was applied twice: {applied:?}"
    );
    assert_eq!(
        applied,
        (1..=last).collect::<Vec<_>>(),
        "the subscriber applied exactly the standby's transactions, in commit order"
    );
    assert_eq!(
        sub.safe_psql("SELECT count(*), count(DISTINCT seq) FROM log"),
        s.safe_psql("SELECT count(*), count(DISTINCT seq) FROM log"),
    );
    assert_eq!(
        sub.safe_psql("SELECT seq, src FROM log ORDER BY seq"),
        s.safe_psql("SELECT seq, src FROM log ORDER BY seq")
    );
    let (kv, acc) = model(last);
    assert_eq!(
        s.safe_psql("SELECT k, v FROM kv ORDER BY k"),
        kv,
        "kv on the standby"
    );
    assert_eq!(
        sub.safe_psql("SELECT k, v FROM kv ORDER BY k"),
        kv,
        "kv on the subscriber"
    );
    assert_eq!(s.safe_psql("SELECT v FROM acc"), acc, "acc on the standby");
    assert_eq!(
        sub.safe_psql("SELECT v FROM acc"),
        acc,
        "acc on the subscriber"
    );
    eprintln!(
        "seed {seed}: {m} transactions before and {after_promotion} after the failover, \
         all applied once and in order ({:.1?})",
        started.elapsed()
    );
}

#[test]
fn failover_under_load_loses_nothing_and_repeats_nothing() {
    let seed = env_u64("TANDEM_FAILOVER_SEED", 43);
    let runs = env_u64("TANDEM_FAILOVER_RUNS", 2);
    for run in 0..runs {
        one_failover_run(seed + run);
    }
}

/// psql's stdout and stderr for `sql` on `node`, which must succeed.
fn psql_out(node: &Node, sql: &str) -> (String, String) {
    let out = node.psql(sql);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "psql failed on {}: {stderr}\n{sql}\nlog:\n{}",
        node.name,
        node.log()
    );
    (
        String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
        stderr,
    )
}

/// A primary with the replication role `repliuser` and a started standby
/// streaming through physical slot `master_slot`, `hot_standby_feedback =
/// on`: the setup the walk-through starts from.
fn walkthrough_pair(tag: &str) -> (Node, Node) {
    let p = Node::logical_primary(&format!("{tag}-primary"));
    p.safe_psql("CREATE ROLE repliuser REPLICATION LOGIN");
    let mut s = Node::failover_standby(&format!("{tag}-standby"), &p, "master_slot", false);
    s.start();
    (p, s)
}

/// The walk-through's standby configuration, statement by statement as
/// printed (the primary's port aside).
fn configure_standby_as_printed(p: &Node, s: &Node) {
    let conninfo = format!(
        "alter system set primary_conninfo = 'user=repliuser host=localhost port={} dbname=postgres';",
        p.port
    );
    assert_eq!(psql_out(s, &conninfo).0, "ALTER SYSTEM");
    assert_eq!(psql_out(s, "select pg_reload_conf();").0, "t");
    assert_eq!(
        psql_out(s, "alter system set sync_replication_slots = true;").0,
        "ALTER SYSTEM"
    );
    assert_eq!(psql_out(s, "select pg_reload_conf();").0, "t");
    assert_eq!(psql_out(s, "show hot_standby_feedback;").0, "on");
    assert_eq!(psql_out(s, "show primary_slot_name;").0, "master_slot");
    // the walreceiver reconnects as repliuser
    wait_value(
        p,
        "SELECT usename FROM pg_stat_replication WHERE application_name <> ''",
        "repliuser",
    );
}

/// The walk-through's slot query, split into fields per row.
fn slot_rows(node: &Node, sql: &str) -> Vec<Vec<String>> {
    psql_out(node, sql)
        .0
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// A logical slot created with `failover` on the primary is synced to the
/// standby by the worker once the standby names a database in
/// `primary_conninfo` and enables `sync_replication_slots`; consuming it on
/// the primary moves the standby's copy to the same catalog_xmin,
/// restart_lsn and confirmed_flush_lsn.
#[test]
fn test_decoding_failover_slot_follows_the_primary_as_printed() {
    let (p, s) = walkthrough_pair("t043-decoding");
    assert_eq!(
        psql_out(
            &p,
            "SELECT 'init' FROM pg_create_logical_replication_slot('logical_slot', 'test_decoding', false, false, true);"
        )
        .0,
        "init"
    );
    assert_eq!(
        psql_out(
            &p,
            "select slot_name, failover from pg_replication_slots where slot_name = 'logical_slot';"
        )
        .0,
        "logical_slot|t"
    );
    configure_standby_as_printed(&p, &s);
    wait_for("the sync-ready line in the standby's log", DEADLINE, || {
        s.log()
            .contains("slot \"logical_slot\" is sync-ready now")
            .then_some(())
    });
    let all = "select slot_name, slot_type, catalog_xmin, restart_lsn, confirmed_flush_lsn, failover, synced from pg_replication_slots ;";
    let rows = slot_rows(&s, all);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0..2], ["logical_slot", "logical"], "{rows:?}");
    assert_eq!(rows[0][5..7], ["t", "t"], "{rows:?}");
    assert!(rows[0][2].parse::<u32>().is_ok(), "catalog_xmin: {rows:?}");

    assert_eq!(psql_out(&p, "create table bdt(a int);").0, "CREATE TABLE");
    assert_eq!(psql_out(&p, "insert into bdt values (1);").0, "INSERT 0 1");
    let changes = slot_rows(
        &p,
        " SELECT * FROM pg_logical_slot_get_changes('logical_slot', NULL, NULL, 'include-xids', '0');",
    );
    let data: Vec<&str> = changes.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(
        data,
        [
            "BEGIN",
            "COMMIT",
            "BEGIN",
            "table public.bdt: INSERT: a[integer]:1",
            "COMMIT"
        ],
        "{changes:?}"
    );
    // the xid column pairs each BEGIN with its COMMIT, the insert's after the DDL's
    assert_eq!(changes[0][1], changes[1][1], "{changes:?}");
    assert_eq!(changes[2][1], changes[4][1], "{changes:?}");
    let xid = |r: &Vec<String>| r[1].parse::<u64>().unwrap_or(0);
    assert!(xid(&changes[2]) > xid(&changes[0]), "{changes:?}");

    let one = "select slot_name, slot_type, catalog_xmin, restart_lsn, confirmed_flush_lsn, failover, synced from pg_replication_slots where slot_name = 'logical_slot';";
    let on_p = slot_rows(&p, one);
    assert_eq!(on_p.len(), 1, "{on_p:?}");
    assert_eq!(on_p[0][5..7], ["t", "f"], "{on_p:?}");
    wait_for(
        "the standby's copy at the primary's catalog_xmin, restart_lsn and confirmed_flush_lsn",
        DEADLINE,
        || {
            let on_s = slot_rows(&s, all);
            (on_s.len() == 1 && on_s[0][0..5] == on_p[0][0..5] && on_s[0][5..7] == ["t", "t"])
                .then_some(())
        },
    );
}

/// A subscription created `WITH (failover = true)` gets a failover slot on
/// the primary that the standby's worker keeps in step; after `pg_promote()`
/// on the standby and `ALTER SUBSCRIPTION ... CONNECTION` to it, a row
/// inserted on the promoted standby reaches the subscriber, after the rows
/// it had.
#[test]
fn subscription_resumes_on_the_promoted_standby_as_printed() {
    let (p, s) = walkthrough_pair("t043-sub");
    set_and_reload(&p, "standby_slot_names", "master_slot");
    configure_standby_as_printed(&p, &s);
    let sub = Node::subscriber("t043-sub-subscriber");
    assert_eq!(
        psql_out(&p, "create table tab_rep(a int primary key, b int);").0,
        "CREATE TABLE"
    );
    assert_eq!(
        psql_out(&p, "CREATE PUBLICATION mypub FOR ALL TABLES;").0,
        "CREATE PUBLICATION"
    );
    assert_eq!(
        psql_out(&sub, "create table tab_rep(a int primary key, b int);").0,
        "CREATE TABLE"
    );
    let (out, err) = psql_out(
        &sub,
        &format!(
            "CREATE SUBSCRIPTION mysub CONNECTION 'host=localhost port={} dbname=postgres' PUBLICATION mypub WITH (failover = true);",
            p.port
        ),
    );
    assert_eq!(out, "CREATE SUBSCRIPTION");
    assert!(
        err.contains("NOTICE:  created replication slot \"mysub\" on publisher"),
        "{err}"
    );
    let q = "select slot_name, slot_type, catalog_xmin, restart_lsn, confirmed_flush_lsn, failover, synced from pg_replication_slots where slot_name = 'mysub';";
    let on_p = slot_rows(&p, q);
    assert_eq!(on_p.len(), 1, "{on_p:?}");
    assert_eq!(on_p[0][0..2], ["mysub", "logical"], "{on_p:?}");
    assert_eq!(on_p[0][5..7], ["t", "f"], "{on_p:?}");
    wait_for("mysub synced to the standby", DEADLINE, || {
        let on_s = slot_rows(&s, q);
        (on_s.len() == 1 && on_s[0][5..7] == ["t", "t"]).then_some(())
    });
    wait_tables_ready(&sub);

    assert_eq!(
        psql_out(&p, "insert into tab_rep values (1,2);").0,
        "INSERT 0 1"
    );
    wait_value(&sub, "select * from tab_rep;", "1|2");
    // the standby's copy reaches the primary's slot (which the subscriber moves on)
    wait_for(
        "the standby's mysub equal to the primary's",
        DEADLINE,
        || {
            let on_p = slot_rows(&p, q);
            let on_s = slot_rows(&s, q);
            (on_p.len() == 1
                && on_s.len() == 1
                && on_s[0][0..6] == on_p[0][0..6]
                && on_p[0][6] == "f"
                && on_s[0][6] == "t")
                .then_some(())
        },
    );
    assert_eq!(psql_out(&p, "show standby_slot_names;").0, "master_slot");

    assert_eq!(psql_out(&s, "select pg_promote();").0, "t");
    wait_value(&s, "SELECT pg_is_in_recovery()", "f");
    assert_eq!(
        psql_out(
            &sub,
            &format!(
                "ALTER SUBSCRIPTION mysub CONNECTION 'host=localhost port={} dbname=postgres';",
                s.port
            )
        )
        .0,
        "ALTER SUBSCRIPTION"
    );
    assert_eq!(
        psql_out(&s, "insert into tab_rep values (2,2);").0,
        "INSERT 0 1"
    );
    wait_value(&sub, "select * from tab_rep;", "1|2\n2|2");
}

/// The failover-readiness checks of the walk-through, run as printed: the
/// subscriber lists its failover slots (and the table sync slots still to
/// sync, none once every table is ready), and the standby answers `t` in
/// `failover_ready` for each of them.
#[test]
fn readiness_queries_answer_t_for_every_failover_slot() {
    let p = Node::logical_primary("t043-ready-primary");
    let s = Node::syncing_standby("t043-ready-standby", &p, "standby_1");
    set_and_reload(&p, "synchronized_standby_slots", "standby_1");
    let sub = Node::subscriber("t043-ready-subscriber");
    p.safe_psql("CREATE TABLE t (a int PRIMARY KEY); CREATE PUBLICATION pub FOR ALL TABLES");
    sub.safe_psql("CREATE TABLE t (a int PRIMARY KEY)");
    for name in ["sub1", "sub2", "sub3"] {
        sub.safe_psql(&format!(
            "CREATE SUBSCRIPTION {name} CONNECTION '{}' PUBLICATION pub WITH (failover = true)",
            p.conninfo("postgres")
        ));
    }
    // one more without failover: not listed
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION nofailover CONNECTION '{}' PUBLICATION pub",
        p.conninfo("postgres")
    ));
    wait_tables_ready(&sub);

    let slots = psql_out(
        &sub,
        "SELECT array_agg(quote_literal(s.subslotname)) AS slots FROM pg_subscription s WHERE s.subfailover AND s.subslotname IS NOT NULL;",
    )
    .0;
    let mut listed: Vec<&str> = slots
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split(',')
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, ["'sub1'", "'sub2'", "'sub3'"], "{slots}");
    let sync_slots = psql_out(
        &sub,
        "SELECT array_agg(quote_literal(slot_name)) AS slots FROM ( SELECT CONCAT('pg_', srsubid, '_sync_', srrelid, '_', ctl.system_identifier) AS slot_name FROM pg_control_system() ctl, pg_subscription_rel r, pg_subscription s WHERE r.srsubstate = 'f' AND s.oid = r.srsubid AND s.subfailover );",
    )
    .0;
    assert_eq!(sync_slots, "", "no table is between copy and ready");

    let check = format!(
        "SELECT slot_name, (synced AND NOT temporary AND NOT conflicting) AS failover_ready FROM pg_replication_slots WHERE slot_name IN ({});",
        listed.join(",")
    );
    wait_for("failover_ready = t for sub1, sub2, sub3", DEADLINE, || {
        let mut rows: Vec<String> = psql_out(&s, &check).0.lines().map(str::to_string).collect();
        rows.sort_unstable();
        (rows == ["sub1|t", "sub2|t", "sub3|t"]).then_some(())
    });
    // the subscription without failover has no slot on the standby
    assert_eq!(
        s.safe_psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'nofailover'"),
        "0"
    );
}

/// psql on database `db` of `node` as `user`: stdout, or a panic with
/// stderr and the log.
fn psql_db(node: &Node, db: &str, user: &str, sql: &str) -> String {
    let out = node
        .bin_command("psql")
        .env("PGDATABASE", db)
        .env("PGUSER", user)
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap_or_else(|e| panic!("run psql: {e}"));
    assert!(
        out.status.success(),
        "psql on {} (database {db}, user {user}) failed: {}\n{sql}\nlog:\n{}",
        node.name,
        String::from_utf8_lossy(&out.stderr),
        node.log()
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// PostgreSQL's scenario 12, as far as tandem's SQL reaches: the session of
/// `primary_conninfo` puts `public` before `pg_catalog` on its search_path
/// (`options`, where PostgreSQL's test uses `ALTER DATABASE ... SET`:
/// tandem has no CREATE DATABASE, SCHEMA, FUNCTION or OPERATOR), and there
/// a table `public.pg_replication_slots` with no rows shadows the catalog
/// view; the connection's user is a non-superuser REPLICATION role and its
/// database (`template1`) is neither the user's name nor the slots'
/// database. `pg_sync_replication_slots()` and the worker still see the
/// primary's failover slots as they are.
#[test]
fn scenario_12_sync_ignores_shadowing_objects_on_the_primarys_search_path() {
    let p = Node::logical_primary("t043-hijack-primary");
    let mut s = Node::failover_standby("t043-hijack-standby", &p, "sb1_slot", false);
    s.start();
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub1_slot', 'pgoutput', false, false, true)",
    );
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub2_slot', 'test_decoding', false, false, true)",
    );
    p.safe_psql("CREATE ROLE repl_role REPLICATION LOGIN");
    psql_db(
        &p,
        "template1",
        "postgres",
        "CREATE TABLE public.pg_replication_slots (slot_name name, failover bool); \
         GRANT SELECT ON public.pg_replication_slots TO repl_role",
    );
    let lsn = p.safe_psql("SELECT pg_current_wal_lsn()");
    wait_value(
        &s,
        &format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"),
        "t",
    );
    s.stop();
    // the shadowing table is what an unqualified query gets in that session
    let shadowed = p
        .bin_command("psql")
        .env("PGDATABASE", "template1")
        .env("PGUSER", "repl_role")
        .env("PGOPTIONS", "-c search_path=public,pg_catalog")
        .args([
            "-X",
            "-A",
            "-t",
            "-c",
            "SELECT count(*) FROM pg_replication_slots",
        ])
        .output()
        .unwrap_or_else(|e| panic!("run psql: {e}"));
    assert_eq!(
        String::from_utf8_lossy(&shadowed.stdout).trim(),
        "0",
        "{}",
        String::from_utf8_lossy(&shadowed.stderr)
    );
    let auto = s.datadir.join("postgresql.auto.conf");
    let text = std::fs::read_to_string(&auto).unwrap_or_else(|e| panic!("read {auto:?}: {e}"));
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("primary_conninfo"))
        .map(str::to_string)
        .collect();
    lines.push(format!(
        "primary_conninfo = 'host=127.0.0.1 port={} dbname=template1 user=repl_role \
         options=''-c search_path=public,pg_catalog'''",
        p.port
    ));
    std::fs::write(&auto, lines.join("\n") + "\n")
        .unwrap_or_else(|e| panic!("write {auto:?}: {e}"));
    s.start();
    psql_db(
        &s,
        "template1",
        "postgres",
        "SELECT pg_sync_replication_slots();",
    );
    let q = "SELECT slot_name, plugin, confirmed_flush_lsn, restart_lsn, catalog_xmin \
             FROM pg_catalog.pg_replication_slots WHERE slot_type = 'logical' ORDER BY slot_name";
    assert_eq!(
        s.safe_psql(
            "SELECT count(*) FROM pg_catalog.pg_replication_slots \
             WHERE slot_name IN ('lsub1_slot', 'lsub2_slot') AND synced AND NOT temporary"
        ),
        "2",
        "log:\n{}",
        s.log()
    );
    assert_eq!(s.safe_psql(q), p.safe_psql(q));

    // the worker, through the same connection, syncs a later slot and drops
    // a removed one
    s.append_conf("sync_replication_slots = on");
    s.safe_psql("SELECT pg_reload_conf()");
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub3_slot', 'test_decoding', false, false, true)",
    );
    p.safe_psql("SELECT pg_drop_replication_slot('lsub2_slot')");
    wait_value(
        &s,
        "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_catalog.pg_replication_slots \
         WHERE synced AND NOT temporary",
        "lsub1_slot,lsub3_slot",
    );
    // the worker's session on the primary is repl_role's
    wait_value(
        &p,
        "SELECT count(*) FROM pg_catalog.pg_stat_activity \
         WHERE usename = 'repl_role' AND application_name = 'slotsync worker'",
        "1",
    );
    let errors = tandem_testkit::log_errors(&s.log(), &[]);
    assert!(errors.is_empty(), "{errors:#?}");
}

/// The manual and automatic synchronization walk-through, statement by
/// statement as printed: a `test_decoding` failover slot created on the
/// primary, `pg_sync_replication_slots()` on the standby, the slot seen in
/// `SELECT * FROM pg_replication_slots`, then `sync_replication_slots = on`
/// by `ALTER SYSTEM` and a reload, with the primary's `standby_slot_names`
/// naming the standby's physical slot. The subscriber `my_subscription`
/// (publication `my_publication`, `failover = true`) connects through a
/// virtual address; the primary is shut down, the standby promoted with
/// `tandem promote -D` (the walk-through's `pg_ctl -D data promote`), the
/// address moved to it, and replication goes on with the same slot: every
/// row once, nothing re-sent, no `ALTER SUBSCRIPTION`.
#[test]
fn manual_then_automatic_sync_and_a_moved_address_as_printed() {
    let mut p = Node::logical_primary("t043-vip-primary");
    let mut s = Node::failover_standby("t043-vip-standby", &p, "standby_1", false);
    s.start();
    set_and_reload(&p, "standby_slot_names", "standby_1");
    let vip = tandem_testkit::proxy::Proxy::start(p.port);

    // manual synchronization
    let created = psql_out(
        &p,
        "SELECT pg_create_logical_replication_slot('test_slot2', 'test_decoding', false, false, true)",
    )
    .0;
    assert!(created.starts_with("(test_slot2,"), "{created}");
    wait_for(
        "the standby to replay the slot's creation",
        DEADLINE,
        || {
            let lsn = p.safe_psql("SELECT pg_current_wal_lsn()");
            (s.safe_psql(&format!(
                "SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"
            )) == "t")
                .then_some(())
        },
    );
    assert_eq!(psql_out(&s, "SELECT pg_sync_replication_slots()").0, "");
    let all = psql_out(&s, "SELECT * FROM pg_replication_slots").0;
    let row: Vec<&str> = all
        .lines()
        .find(|l| l.starts_with("test_slot2|"))
        .unwrap_or_else(|| panic!("test_slot2 not on the standby:\n{all}"))
        .split('|')
        .collect();
    // slot_name, plugin, slot_type, datoid, database, temporary, active, ...
    assert_eq!(row[1..3], ["test_decoding", "logical"], "{all}");
    assert_eq!(row[4], "postgres", "{all}");
    let header = psql_out(
        &s,
        "SELECT failover, synced, temporary FROM pg_replication_slots WHERE slot_name = 'test_slot2'",
    )
    .0;
    assert_eq!(header, "t|t|f");

    // automatic synchronization
    assert_eq!(
        psql_out(&s, "ALTER SYSTEM SET sync_replication_slots = on").0,
        "ALTER SYSTEM"
    );
    assert_eq!(psql_out(&s, "SELECT pg_reload_conf()").0, "t");
    wait_for("the slot sync worker", DEADLINE, || {
        s.log().contains("slot sync worker started").then_some(())
    });

    // a subscriber through the virtual address
    let sub = Node::subscriber("t043-vip-subscriber");
    p.safe_psql("CREATE TABLE items (id int PRIMARY KEY, note text)");
    sub.safe_psql("CREATE TABLE items (id int PRIMARY KEY, note text)");
    p.safe_psql("CREATE PUBLICATION my_publication FOR TABLE items");
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION my_subscription CONNECTION 'host=127.0.0.1 port={} dbname=postgres' \
         PUBLICATION my_publication WITH (failover = true)",
        vip.port
    ));
    wait_tables_ready(&sub);
    p.safe_psql("INSERT INTO items SELECT g, 'before' FROM generate_series(1, 50) g");
    wait_value(&sub, "SELECT count(*) FROM items", "50");
    // the standby's copies follow the primary's slots
    p.safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('test_slot2', NULL, NULL)");
    let q = "SELECT slot_name, confirmed_flush_lsn FROM pg_replication_slots \
             WHERE slot_name IN ('test_slot2', 'my_subscription') ORDER BY 1";
    wait_for(
        "the standby's synced slots at the primary's positions",
        DEADLINE,
        || {
            let on_p = p.safe_psql(q);
            (s.safe_psql(q) == on_p && on_p.lines().count() == 2).then_some(())
        },
    );

    // the primary goes away; the standby is promoted as printed
    p.stop();
    let out = std::process::Command::new(tandem_testkit::tandem_bin())
        .arg("promote")
        .arg("-D")
        .arg(&s.datadir)
        .output()
        .unwrap_or_else(|e| panic!("run tandem promote: {e}"));
    assert!(
        out.status.success(),
        "tandem promote: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_value(&s, "SELECT pg_is_in_recovery()", "f");
    assert_eq!(
        s.safe_psql(
            "SELECT slot_name, failover, synced, temporary FROM pg_replication_slots \
             WHERE slot_type = 'logical' ORDER BY 1"
        ),
        "my_subscription|t|t|f\ntest_slot2|t|t|f"
    );
    assert_eq!(
        s.safe_psql("SELECT pubname FROM pg_publication"),
        "my_publication"
    );

    // the address moves; the subscriber reconnects by itself
    vip.retarget(s.port);
    s.safe_psql("INSERT INTO items SELECT g, 'after' FROM generate_series(51, 80) g");
    wait_value(&sub, "SELECT count(*) FROM items", "80");
    assert_eq!(
        sub.safe_psql(
            "SELECT note, count(*), min(id), max(id) FROM items GROUP BY note ORDER BY 1"
        ),
        "after|30|51|80\nbefore|50|1|50"
    );
    // the promoted node's slot serves the same subscriber: its walsender is
    // my_subscription's, and it confirmed the new rows
    wait_value(
        &s,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'my_subscription'",
        "t",
    );
}
