//! `pg_stat_replication_slots` and `pg_stat_reset_replication_slot`:
//!
//! - the same workload decoded through `pg_logical_slot_get_changes` (and
//!   peeked again) gives the same `total_txns` and `total_bytes` on tandem
//!   and on PostgreSQL 17; `spill_*` and `stream_*` stay 0;
//! - a logical walsender counts what it streams to a subscriber;
//! - resetting one slot, every slot (NULL), an unknown slot (42704) and a
//!   physical slot behave as PostgreSQL 17's function does;
//! - the counters survive a clean restart and start again from zero after
//!   a crash.

use tandem_testkit::{require_pg17, wait_value, Node};

/// The statements of the workload, each its own transaction.
const WORKLOAD: &[&str] = &[
    "INSERT INTO t VALUES (1, 'one')",
    "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(2, 11) g",
    "UPDATE t SET b = 'changed' WHERE a <= 3",
    "DELETE FROM t WHERE a > 9",
    "INSERT INTO w VALUES (1, 10000000000, true, NULL)",
];

/// Runs the workload on `n` after creating slot `s`, decodes it with
/// `pg_logical_slot_get_changes`, then peeks it again from a second slot
/// that has read nothing; returns `total_txns|total_bytes` of `s` after the
/// get and after a peek of `s2`, and the row of `s2`.
fn workload(n: &Node) -> (String, String) {
    n.safe_psql("CREATE TABLE t (a int PRIMARY KEY, b text)");
    n.safe_psql("CREATE TABLE w (k int PRIMARY KEY, big bigint, flag boolean, note text)");
    n.safe_psql("SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding')");
    n.safe_psql("SELECT 'init' FROM pg_create_logical_replication_slot('s2', 'test_decoding')");
    for sql in WORKLOAD {
        n.safe_psql(sql);
    }
    n.safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('s', NULL, NULL)");
    let s = n.safe_psql(
        "SELECT total_txns || '|' || total_bytes FROM pg_stat_replication_slots WHERE slot_name = 's'",
    );
    // a peek decodes (and counts) without consuming: twice counts twice
    for _ in 0..2 {
        n.safe_psql("SELECT count(*) FROM pg_logical_slot_peek_changes('s2', NULL, NULL)");
    }
    let s2 = n.safe_psql(
        "SELECT total_txns || '|' || total_bytes FROM pg_stat_replication_slots WHERE slot_name = 's2'",
    );
    (s, s2)
}

fn tandem_node(name: &str) -> Node {
    let mut n = Node::init(name);
    n.append_conf("wal_level = logical\nmax_replication_slots = 10\nmax_wal_senders = 10");
    n.start();
    n
}

#[test]
fn counters_match_postgresql_17() {
    let t = tandem_node("t045-cmp");
    let (s, s2) = workload(&t);
    // 5 transactions; bytes as PostgreSQL's ReorderBufferChangeSize adds
    // them up (80 per change, 24 + the heap tuple's length per row image)
    assert_eq!(s, "5|2347", "slot s on tandem");
    assert_eq!(s2, "10|4694", "slot s2 on tandem (two peeks)");
    assert_eq!(
        t.safe_psql(
            "SELECT spill_txns + spill_count + spill_bytes + stream_txns + stream_count + stream_bytes, \
             stats_reset IS NULL FROM pg_stat_replication_slots ORDER BY slot_name"
        ),
        "0|t\n0|t"
    );
    if !require_pg17("t045 counters_match_postgresql_17") {
        return;
    }
    let mut pg = Node::init_pg17("t045-pg", &[("wal_level", "logical")]);
    pg.start();
    let (pg_s, pg_s2) = workload(&pg);
    assert_eq!(s, pg_s, "slot s: tandem vs PostgreSQL 17");
    assert_eq!(s2, pg_s2, "slot s2: tandem vs PostgreSQL 17");
}

#[test]
fn reset_one_all_unknown_and_physical() {
    let t = tandem_node("t045-reset");
    workload(&t);
    t.safe_psql("SELECT 'init' FROM pg_create_physical_replication_slot('phys')");
    assert_eq!(
        t.safe_psql("SELECT pg_stat_reset_replication_slot('s')"),
        ""
    );
    assert_eq!(
        t.safe_psql(
            "SELECT slot_name, total_txns, total_bytes, stats_reset IS NOT NULL \
             FROM pg_stat_replication_slots ORDER BY slot_name"
        ),
        "s|0|0|t\ns2|10|4694|f"
    );
    // a physical slot has no statistics: nothing happens, no error
    assert_eq!(
        t.safe_psql("SELECT pg_stat_reset_replication_slot('phys')"),
        ""
    );
    let out = t.psql("SELECT pg_stat_reset_replication_slot('nope')");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR:  replication slot \"nope\" does not exist"),
        "{err}"
    );
    let v = std::process::Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
        ])
        .arg("-p")
        .arg(t.port.to_string())
        .args(["-v", "VERBOSITY=verbose"])
        .args(["-c", "SELECT pg_stat_reset_replication_slot('nope')"])
        .output()
        .unwrap_or_else(|e| panic!("psql: {e}"));
    let verbose = String::from_utf8_lossy(&v.stderr);
    assert!(verbose.contains("ERROR:  42704:"), "{verbose}");
    assert_eq!(
        t.safe_psql("SELECT pg_stat_reset_replication_slot(NULL)"),
        ""
    );
    assert_eq!(
        t.safe_psql(
            "SELECT slot_name, total_txns, total_bytes, stats_reset IS NOT NULL \
             FROM pg_stat_replication_slots ORDER BY slot_name"
        ),
        "s|0|0|t\ns2|0|0|t"
    );
    // a slot dropped and created again starts from nothing
    t.safe_psql("SELECT count(*) FROM pg_logical_slot_peek_changes('s2', NULL, NULL)");
    t.safe_psql("SELECT pg_drop_replication_slot('s2')");
    t.safe_psql("SELECT 'init' FROM pg_create_logical_replication_slot('s2', 'test_decoding')");
    assert_eq!(
        t.safe_psql(
            "SELECT total_txns, stats_reset IS NULL FROM pg_stat_replication_slots WHERE slot_name = 's2'"
        ),
        "0|t"
    );
    // PostgreSQL revokes EXECUTE from PUBLIC
    t.safe_psql("CREATE ROLE plain LOGIN");
    let out = std::process::Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-h",
            "127.0.0.1",
            "-U",
            "plain",
            "-d",
            "postgres",
        ])
        .arg("-p")
        .arg(t.port.to_string())
        .args(["-c", "SELECT pg_stat_reset_replication_slot(NULL)"])
        .output()
        .unwrap_or_else(|e| panic!("psql: {e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR:  permission denied for function pg_stat_reset_replication_slot"),
        "{err}"
    );
}

#[test]
fn counters_survive_a_clean_restart_but_not_a_crash() {
    let mut t = tandem_node("t045-restart");
    workload(&t);
    t.safe_psql("SELECT pg_stat_reset_replication_slot('s')");
    let before = t.safe_psql(
        "SELECT slot_name, total_txns, total_bytes, stats_reset FROM pg_stat_replication_slots ORDER BY slot_name",
    );
    t.restart();
    assert_eq!(
        t.safe_psql(
            "SELECT slot_name, total_txns, total_bytes, stats_reset FROM pg_stat_replication_slots ORDER BY slot_name"
        ),
        before,
        "kept across a fast shutdown and start"
    );
    t.kill9();
    t.start();
    assert_eq!(
        t.safe_psql(
            "SELECT slot_name, total_txns, total_bytes, stats_reset IS NULL FROM pg_stat_replication_slots ORDER BY slot_name"
        ),
        "s|0|0|t\ns2|0|0|t",
        "reset by a crash"
    );
}

#[test]
fn a_walsender_counts_what_it_streams() {
    let p = tandem_node("t045-pub");
    p.safe_psql("CREATE TABLE t (a int PRIMARY KEY, b text); CREATE PUBLICATION pub FOR TABLE t");
    let mut sub = Node::init("t045-sub");
    sub.start();
    sub.safe_psql("CREATE TABLE t (a int PRIMARY KEY, b text)");
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION sub CONNECTION '{}' PUBLICATION pub",
        p.conninfo("postgres")
    ));
    wait_value(
        &sub,
        "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'",
        "0",
    );
    for sql in &WORKLOAD[..4] {
        p.safe_psql(sql);
    }
    wait_value(&sub, "SELECT count(*) FROM t", "9");
    wait_value(
        &p,
        "SELECT total_txns || '|' || total_bytes FROM pg_stat_replication_slots WHERE slot_name = 'sub'",
        "4|2202",
    );
}
