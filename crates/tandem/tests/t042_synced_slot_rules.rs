//! Failover slots from the user's side:
//!
//! - `ALTER SUBSCRIPTION s DISABLE` then `ALTER SUBSCRIPTION s SET (failover
//!   = false)` in one psql call: the publisher's `ALTER_REPLICATION_SLOT`
//!   waits for the exiting walsender to release the slot, as PostgreSQL 17's
//!   does, and the slot shows `failover = f`; `SET (failover = true)` on an
//!   enabled subscription gives PostgreSQL's error;
//! - `ALTER_REPLICATION_SLOT` on a slot held by a streaming client waits
//!   until the client goes, and a cancel (psql's SIGINT) ends the wait with
//!   `canceling statement due to user request`;
//! - `pg_replication_slots` for failover, temporary and physical slots
//!   (`failover`, `synced`, `temporary`, `conflicting`, `invalidation_reason`,
//!   `inactive_since` NULL while active), and `pg_stat_replication_slots`
//!   with PostgreSQL 17's columns (compared with a real PostgreSQL 17 when
//!   installed).
//!
//! What a synced slot refuses on a standby is tested in the server
//! (`slot::synced`); an end-to-end test comes with slot synchronization.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tandem_testkit::{pg_recvlogical, require_pg17, wait_for, wait_value, Node, DEADLINE};

fn publisher(name: &str) -> Node {
    let mut n = Node::init(name);
    n.append_conf("wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10");
    n.start();
    n
}

/// psql (`-X -A -v ON_ERROR_STOP=1`) on `node` with one `-c` per statement:
/// each runs as its own query, back to back in one session.
fn psql_commands(node: &Node, conninfo_extra: &str, tuples_only: bool, cmds: &[&str]) -> Command {
    let mut c = Command::new("psql");
    c.args(["-X", "-A", "-v", "ON_ERROR_STOP=1"]);
    if tuples_only {
        c.arg("-t");
    }
    c.arg("-d").arg(format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres {conninfo_extra}",
        node.port
    ));
    for cmd in cmds {
        c.arg("-c").arg(cmd);
    }
    c
}

/// Runs psql to its end; a psql still running after [`DEADLINE`] fails the
/// test (a command waiting for a slot forever must not hang it).
fn run(c: Command) -> Output {
    ChildGuard::spawn(c).finish("psql")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Kills a child process on drop (a failing test must not leave it running).
struct ChildGuard(Option<Child>);

impl ChildGuard {
    fn spawn(mut c: Command) -> ChildGuard {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        ChildGuard(Some(c.spawn().unwrap_or_else(|e| panic!("spawn: {e}"))))
    }

    fn running(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `kill -SIG` on the child (not yet reaped: its PID is still ours).
    fn signal(&self, sig: &str) {
        if let Some(c) = &self.0 {
            let ok = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(c.id().to_string())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "kill -{sig} {}", c.id());
        }
    }

    fn finish(&mut self, what: &str) -> Output {
        let mut child = self.0.take().expect("child");
        wait_for(what, DEADLINE, || child.try_wait().ok().flatten());
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn slot_column(node: &Node, slot: &str, column: &str) -> String {
    node.safe_psql(&format!(
        "SELECT {column} FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ))
}

/// Scenarios 1 to 3 of PostgreSQL's failover-slot suite, with DISABLE and
/// SET (failover) back to back while the walsender is still exiting.
#[test]
fn disable_then_alter_failover_back_to_back() {
    let publ = publisher("t042-bb-pub");
    let sub = Node::subscriber("t042-bb-sub");
    publ.safe_psql("CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION mypub FOR ALL TABLES");
    sub.safe_psql("CREATE TABLE t (id int PRIMARY KEY)");
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION s CONNECTION 'host=127.0.0.1 port={} user=postgres dbname=postgres' \
         PUBLICATION mypub WITH (slot_name = lsub1_slot, failover = true)",
        publ.port
    ));
    assert_eq!(slot_column(&publ, "lsub1_slot", "failover"), "t");
    // streaming: the walsender holds the slot
    wait_for("the apply worker streams", DEADLINE, || {
        (slot_column(&publ, "lsub1_slot", "active") == "t").then_some(())
    });
    assert_eq!(
        slot_column(&publ, "lsub1_slot", "inactive_since IS NULL"),
        "t"
    );
    // scenario 3: refused while enabled
    let out = run(psql_commands(
        &sub,
        "",
        true,
        &["ALTER SUBSCRIPTION s SET (failover = false)"],
    ));
    assert!(
        stderr(&out).contains("ERROR:  cannot set failover for enabled subscription"),
        "{}",
        stderr(&out)
    );
    let out = run(psql_commands(
        &sub,
        "",
        true,
        &["ALTER SUBSCRIPTION s SET (failover = true)"],
    ));
    assert!(
        stderr(&out).contains("ERROR:  cannot set failover for enabled subscription"),
        "{}",
        stderr(&out)
    );
    // scenario 2, back to back with DISABLE: the ALTER_REPLICATION_SLOT
    // waits for the publisher's walsender to let the slot go
    let out = run(psql_commands(
        &sub,
        "",
        true,
        &[
            "ALTER SUBSCRIPTION s DISABLE",
            "ALTER SUBSCRIPTION s SET (failover = false)",
        ],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(slot_column(&publ, "lsub1_slot", "failover"), "f");
    sub.safe_psql("ALTER SUBSCRIPTION s SET (failover = true)");
    assert_eq!(slot_column(&publ, "lsub1_slot", "failover"), "t");
    // and again from a streaming state
    sub.safe_psql("ALTER SUBSCRIPTION s ENABLE");
    wait_for("the apply worker streams again", DEADLINE, || {
        (slot_column(&publ, "lsub1_slot", "active") == "t").then_some(())
    });
    let out = run(psql_commands(
        &sub,
        "",
        true,
        &[
            "ALTER SUBSCRIPTION s DISABLE",
            "ALTER SUBSCRIPTION s SET (failover = false)",
        ],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(slot_column(&publ, "lsub1_slot", "failover, synced"), "f|f");
    sub.safe_psql("DROP SUBSCRIPTION s");
    assert_eq!(
        publ.safe_psql("SELECT count(*) FROM pg_replication_slots"),
        "0"
    );
}

/// `ALTER_REPLICATION_SLOT` waits for a streaming client to release the
/// slot; psql's cancel ends the wait.
#[test]
fn alter_replication_slot_waits_for_the_slot() {
    let Some(recvlogical) = pg_recvlogical() else {
        return;
    };
    let publ = publisher("t042-wait");
    publ.safe_psql("SELECT pg_create_logical_replication_slot('held', 'test_decoding')");
    let hold = || {
        let mut c = Command::new(&recvlogical);
        c.arg("-d")
            .arg(format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres",
                publ.port
            ))
            .args(["-S", "held", "--start", "-f", "-"]);
        let g = ChildGuard::spawn(c);
        wait_for("pg_recvlogical holds the slot", DEADLINE, || {
            (slot_column(&publ, "held", "active") == "t").then_some(())
        });
        g
    };
    let alter = || {
        ChildGuard::spawn(psql_commands(
            &publ,
            "replication=database",
            true,
            &["ALTER_REPLICATION_SLOT held (FAILOVER true)"],
        ))
    };

    // released while waiting: the ALTER completes
    let mut holder = hold();
    assert_eq!(slot_column(&publ, "held", "inactive_since IS NULL"), "t");
    let mut waiting = alter();
    wait_value(
        &publ,
        "SELECT count(*) FROM pg_stat_activity \
         WHERE state = 'active' AND query LIKE 'ALTER_REPLICATION_SLOT%'",
        "1",
    );
    // and keeps waiting while the slot is held
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        assert!(waiting.running(), "ALTER_REPLICATION_SLOT did not wait");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(slot_column(&publ, "held", "failover"), "f");
    holder.signal("TERM");
    holder.finish("pg_recvlogical exits");
    let out = waiting.finish("ALTER_REPLICATION_SLOT completes");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(slot_column(&publ, "held", "failover, active"), "t|f");
    assert_eq!(
        slot_column(&publ, "held", "inactive_since IS NOT NULL"),
        "t"
    );

    // cancelled while waiting
    let mut holder = hold();
    let mut waiting = alter();
    // the command has reached the walsender and is waiting for the slot
    wait_value(
        &publ,
        "SELECT count(*) FROM pg_stat_activity \
         WHERE state = 'active' AND query LIKE 'ALTER_REPLICATION_SLOT%'",
        "1",
    );
    assert!(waiting.running(), "ALTER_REPLICATION_SLOT did not wait");
    waiting.signal("INT");
    let out = waiting.finish("ALTER_REPLICATION_SLOT is cancelled");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("canceling statement due to user request"),
        "{}",
        stderr(&out)
    );
    assert!(holder.running());
    holder.signal("TERM");
    holder.finish("pg_recvlogical exits");
    // a free slot: at once
    let out = run(psql_commands(
        &publ,
        "replication=database",
        true,
        &["ALTER_REPLICATION_SLOT held (FAILOVER false)"],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(slot_column(&publ, "held", "failover"), "f");
}

/// The header line of `SELECT * FROM view` (`psql -A`).
fn header(node: &Node, view: &str) -> String {
    let out = run(psql_commands(
        node,
        "",
        false,
        &[&format!("SELECT * FROM {view} LIMIT 0")],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

const SLOTS_HEADER: &str = "slot_name|plugin|slot_type|datoid|database|temporary|active|active_pid|xmin|catalog_xmin|restart_lsn|confirmed_flush_lsn|wal_status|safe_wal_size|two_phase|inactive_since|conflicting|invalidation_reason|failover|synced";
const STATS_HEADER: &str = "slot_name|spill_txns|spill_count|spill_bytes|stream_txns|stream_count|stream_bytes|total_txns|total_bytes|stats_reset";
/// What tandem shows after PostgreSQL 17's columns: PostgreSQL 19's
/// `slotsync_skip_reason`, and its sync skip counters.
const SLOTS_ADDED: &str = "|slotsync_skip_reason";
const STATS_ADDED: &str = "|slotsync_skip_count|slotsync_last_skip";

#[test]
fn slot_views_show_postgresql_17s_columns() {
    let node = publisher("t042-views");
    assert_eq!(
        header(&node, "pg_replication_slots"),
        format!("{SLOTS_HEADER}{SLOTS_ADDED}")
    );
    assert_eq!(
        header(&node, "pg_stat_replication_slots"),
        format!("{STATS_HEADER}{STATS_ADDED}")
    );
    node.safe_psql(
        "SELECT pg_create_logical_replication_slot('fo', 'pgoutput', false, false, true); \
         SELECT pg_create_logical_replication_slot('plain', 'test_decoding'); \
         SELECT pg_create_physical_replication_slot('phys', true)",
    );
    let cols = "slot_name, slot_type, temporary, active, failover, synced, \
                conflicting IS NULL, conflicting, invalidation_reason IS NULL, \
                inactive_since IS NOT NULL";
    assert_eq!(
        node.safe_psql(&format!(
            "SELECT {cols} FROM pg_replication_slots ORDER BY slot_name"
        )),
        "fo|logical|f|f|t|f|f|f|t|t\n\
         phys|physical|f|f|f|f|t||t|t\n\
         plain|logical|f|f|f|f|f|f|t|t"
    );
    // a temporary slot cannot fail over (0A000, as PostgreSQL 17)
    let out = run(psql_commands(
        &node,
        "",
        true,
        &[
            "\\set VERBOSITY verbose",
            "SELECT pg_create_logical_replication_slot('tmp', 'pgoutput', true, false, true)",
        ],
    ));
    assert!(
        stderr(&out)
            .contains("ERROR:  0A000: cannot enable failover for a temporary replication slot"),
        "{}",
        stderr(&out)
    );
    // one statistics row per logical slot, nothing counted yet (PostgreSQL
    // 17's columns, then the two sync skip columns of PostgreSQL 19)
    assert_eq!(
        node.safe_psql("SELECT * FROM pg_stat_replication_slots ORDER BY slot_name"),
        "fo|0|0|0|0|0|0|0|0||0|\nplain|0|0|0|0|0|0|0|0||0|"
    );
    // the slots still decode and drop on a primary
    node.safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('plain', NULL, NULL)");
    node.safe_psql("SELECT pg_drop_replication_slot('fo')");
    assert_eq!(
        node.safe_psql("SELECT slot_name FROM pg_stat_replication_slots"),
        "plain"
    );

    // PostgreSQL 17's columns are a real PostgreSQL 17's
    if !require_pg17("slot_views_show_postgresql_17s_columns") {
        return;
    }
    let mut pg = Node::init_pg17("t042-views-pg17", &[("wal_level", "logical")]);
    pg.start();
    assert_eq!(header(&pg, "pg_replication_slots"), SLOTS_HEADER);
    assert_eq!(header(&pg, "pg_stat_replication_slots"), STATS_HEADER);
}
