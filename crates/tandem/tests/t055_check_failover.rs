//! `tandem check-failover`: the failover-readiness checks of PostgreSQL 17's
//! documentation as one command, run against real nodes on loopback.
//!
//! One topology (primary, syncing standby, subscriber) goes from ready to
//! not ready for each reason that can be produced honestly here: a slot the
//! standby's sync left alone (a user slot of the same name: not synced), a
//! slot invalidated by `max_slot_wal_keep_size` on the primary (copied to the
//! standby as `wal_removed`, which the documented `conflicting` check does
//! not see), a slot created while slot sync is off (not on the standby), and
//! the primary given as the standby (not in recovery). Every run is checked
//! both as the table and as `--json` (parsed). Connection and usage errors
//! exit 2; a PostgreSQL 17 server answers every query the command sends.
//!
//! Not produced here: a synced slot that stays `temporary` (it needs WAL the
//! standby no longer has) and a table synchronization slot in state `f` (a
//! moment between copy and catch-up); the unit tests of the module cover
//! their wording.

use std::process::{Command, Output};

use serde_json::Value;
use tandem_testkit::failover::wait_tables_ready;
use tandem_testkit::{free_port, require_pg17, tandem_bin, wait_value, Node};

/// A started primary for logical decoding and physical streaming; slots may
/// hold at most 3 MB of WAL.
fn primary(name: &str) -> Node {
    Node::logical_primary_with(name, "max_slot_wal_keep_size = '3MB'")
}

fn check_failover(args: &[&str]) -> Output {
    Command::new(tandem_bin())
        .arg("check-failover")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run tandem check-failover: {e}"))
}

/// Runs the command as a table and as JSON; the exit status (the same
/// both times), the table, and the parsed document.
fn run(standby: &Node, subscriber: Option<&Node>) -> (i32, String, Value) {
    let s = standby.conninfo("postgres");
    let sub = subscriber.map(|n| n.conninfo("postgres"));
    let mut args = vec!["--standby", s.as_str()];
    if let Some(sub) = &sub {
        args.extend(["--subscriber", sub.as_str()]);
    }
    let table = check_failover(&args);
    args.push("--json");
    let json = check_failover(&args);
    let code = table.status.code().unwrap_or(-1);
    assert_eq!(json.status.code(), Some(code), "same verdict with --json");
    let text = String::from_utf8_lossy(&table.stdout).to_string();
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap_or_else(|e| {
        panic!(
            "--json output is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&json.stdout)
        )
    });
    assert_eq!(doc["ready"], Value::Bool(code == 0), "{doc}");
    (code, text, doc)
}

/// The table row of `slot`: its cells, trimmed.
fn table_row(text: &str, slot: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.split('|')
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.len() == 5 && cells[2] == slot)
        .unwrap_or_else(|| panic!("no row for {slot}:\n{text}"))
}

/// The JSON entry of `slot`.
fn json_slot<'a>(doc: &'a Value, slot: &str) -> &'a Value {
    doc["slots"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["slot"] == slot))
        .unwrap_or_else(|| panic!("no slot {slot} in {doc}"))
}

fn slot_names(doc: &Value) -> Vec<String> {
    let mut v: Vec<String> = doc["slots"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["slot"].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn create_subscription(sub: &Node, p: &Node, name: &str, failover: bool) {
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION {name} CONNECTION '{}' PUBLICATION pub WITH (failover = {failover})",
        p.conninfo("postgres")
    ));
}

#[test]
fn ready_then_not_ready_for_each_reason() {
    let p = primary("t055-primary");
    let s = Node::syncing_standby("t055-standby", &p, "sb1_slot");
    p.safe_psql("ALTER SYSTEM SET synchronized_standby_slots = 'sb1_slot'");
    p.safe_psql("SELECT pg_reload_conf()");
    wait_value(&p, "SHOW synchronized_standby_slots", "sb1_slot");
    let mut sub = Node::subscriber("t055-subscriber");
    p.safe_psql(
        "CREATE TABLE t (a int PRIMARY KEY); CREATE TABLE filler (a int); \
         CREATE PUBLICATION pub FOR TABLE t",
    );
    // keyless: every subscription applies the same rows
    sub.safe_psql("CREATE TABLE t (a int)");
    create_subscription(&sub, &p, "sub1", true);
    create_subscription(&sub, &p, "sub2", true);
    create_subscription(&sub, &p, "nofailover", false);
    wait_tables_ready(&sub);
    wait_value(
        &s,
        "SELECT count(*) FROM pg_replication_slots \
         WHERE slot_name IN ('sub1', 'sub2') AND synced AND NOT temporary",
        "2",
    );

    // a transaction applied: the subscriptions' origins have a position
    p.safe_psql("INSERT INTO t VALUES (1)");
    wait_value(
        &sub,
        "SELECT count(*) FROM pg_replication_origin_status WHERE remote_lsn IS NOT NULL",
        "3",
    );

    // ready: both failover slots, not the other subscription's
    let (code, text, doc) = run(&s, Some(&sub));
    assert_eq!(code, 0, "{text}");
    for slot in ["sub1", "sub2"] {
        let row = table_row(&text, slot);
        assert_eq!(row[1], slot, "{text}");
        assert_eq!(row[3], "yes", "{text}");
        assert_eq!(json_slot(&doc, slot)["ready"], true, "{doc}");
        assert_eq!(json_slot(&doc, slot)["kind"], "subscription", "{doc}");
        assert!(json_slot(&doc, slot)["reason"].is_null(), "{doc}");
        // the subscriber's position and how far the standby's copy is behind it
        assert!(json_slot(&doc, slot)["subscriber_lsn"].is_string(), "{doc}");
        assert!(
            json_slot(&doc, slot)["confirmed_flush_lsn"].is_string(),
            "{doc}"
        );
        assert!(json_slot(&doc, slot)["lag_bytes"].is_u64(), "{doc}");
    }
    assert_eq!(slot_names(&doc), ["sub1", "sub2"], "{doc}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("failover ready: 2 of 2 slots ready")),
        "{text}"
    );
    assert_eq!(doc["standby"]["in_recovery"], true, "{doc}");
    assert_eq!(doc["standby"]["walreceiver_status"], "streaming", "{doc}");
    assert_eq!(doc["warnings"].as_array().map(Vec::len), Some(0), "{doc}");
    // without subscribers: the standby's failover slots
    let (code, _, alone) = run(&s, None);
    assert_eq!(code, 0, "{alone}");
    assert_eq!(slot_names(&alone), ["sub1", "sub2"], "{alone}");

    // not synced: a slot of the standby's own holds the name
    s.safe_psql("SELECT pg_create_logical_replication_slot('sub3', 'pgoutput')");
    create_subscription(&sub, &p, "sub3", true);
    wait_value(
        &p,
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sub3' AND active",
        "1",
    );

    // invalidated: sub2 stops consuming and its slot falls past
    // max_slot_wal_keep_size on the primary; the standby copies that
    sub.safe_psql("ALTER SUBSCRIPTION sub2 DISABLE");
    wait_value(
        &p,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'sub2'",
        "f",
    );
    for _ in 0..6 {
        p.safe_psql("INSERT INTO filler VALUES (1)");
        p.safe_psql("SELECT pg_switch_wal()");
    }
    p.safe_psql("CHECKPOINT");
    wait_value(
        &p,
        "SELECT invalidation_reason FROM pg_replication_slots WHERE slot_name = 'sub2'",
        "wal_removed",
    );
    wait_value(
        &s,
        "SELECT invalidation_reason FROM pg_replication_slots WHERE slot_name = 'sub2'",
        "wal_removed",
    );
    // PostgreSQL 17's documented check calls it ready
    assert_eq!(
        s.safe_psql(
            "SELECT (synced AND NOT temporary AND NOT conflicting) FROM pg_replication_slots \
             WHERE slot_name = 'sub2'"
        ),
        "t"
    );

    // not on the standby: created while slot sync is off
    s.safe_psql("ALTER SYSTEM SET sync_replication_slots = off");
    s.safe_psql("SELECT pg_reload_conf()");
    wait_value(&s, "SHOW sync_replication_slots", "off");
    wait_value(
        &s,
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'slotsync worker'",
        "0",
    );
    create_subscription(&sub, &p, "sub4", true);
    wait_value(
        &p,
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sub4' AND active",
        "1",
    );

    let (code, text, doc) = run(&s, Some(&sub));
    assert_eq!(code, 1, "{text}");
    let expect = [
        // the standby's readiness view counts a copy that nothing keeps in
        // step as not ready
        ("sub1", false, Some("slot sync not running")),
        ("sub2", false, Some("invalidated: wal_removed")),
        ("sub3", false, Some("name_taken_by_user_slot")),
        (
            "sub4",
            false,
            Some("not on the standby (slot sync not enabled)"),
        ),
    ];
    for (slot, ready, reason) in expect {
        let row = table_row(&text, slot);
        assert_eq!(row[3], if ready { "yes" } else { "no" }, "{text}");
        assert_eq!(row[4], reason.unwrap_or(""), "{text}");
        let j = json_slot(&doc, slot);
        assert_eq!(j["ready"], ready, "{doc}");
        assert_eq!(j["reason"].as_str(), reason, "{doc}");
    }
    assert_eq!(slot_names(&doc), ["sub1", "sub2", "sub3", "sub4"], "{doc}");
    assert!(
        text.contains("warning: slot sync not enabled (sync_replication_slots is off)"),
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.contains("4 of 4 slots not ready")),
        "{text}"
    );
    assert_eq!(doc["standby"]["sync_replication_slots"], "off", "{doc}");
    assert_eq!(doc["problems"].as_array().map(Vec::len), Some(0), "{doc}");
    assert_eq!(doc["warnings"].as_array().map(Vec::len), Some(1), "{doc}");

    // the primary given as the standby: not in recovery, slots not synced
    let (code, text, doc) = run(&p, Some(&sub));
    assert_eq!(code, 1, "{text}");
    assert_eq!(doc["standby"]["in_recovery"], false, "{doc}");
    assert!(
        doc["problems"].as_array().is_some_and(|a| a
            .iter()
            .any(|x| x == "not in recovery: the server is not a standby")),
        "{doc}"
    );
    assert!(text.contains("standby problem: not in recovery"), "{text}");
    assert_eq!(
        table_row(&text, "sub1")[4],
        "not synced: a slot created on this server"
    );
    sub.stop();
}

#[test]
fn unreachable_server_and_bad_usage_exit_2() {
    let port = free_port();
    let out = check_failover(&[
        "--standby",
        &format!("host=127.0.0.1 port={port} user=postgres"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "tandem check-failover: error: connection to server at \"127.0.0.1\", port {port} failed: Connection refused"
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = check_failover(&["--subscriber", "host=127.0.0.1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--standby <CONNINFO>"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every query the command sends runs on PostgreSQL 17 (here a primary,
/// so: not in recovery, nothing to check, exit 1).
#[test]
fn postgresql_17_answers_the_queries() {
    if !require_pg17("postgresql_17_answers_the_queries") {
        return;
    }
    let mut pg = Node::init_pg17("t055-pg17", &[("wal_level", "logical")]);
    pg.start();
    let (code, text, doc) = run(&pg, Some(&pg));
    assert_eq!(code, 1, "{text}");
    assert_eq!(doc["standby"]["in_recovery"], false, "{doc}");
    assert_eq!(doc["standby"]["readiness_view"], false, "{doc}");
    assert_eq!(doc["standby"]["hot_standby_feedback"], "off", "{doc}");
    assert_eq!(slot_names(&doc), Vec::<String>::new(), "{doc}");
    pg.stop();
}
