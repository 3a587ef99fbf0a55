//! `synchronized_standby_slots` on a primary (scenarios 15 to 17 of
//! PostgreSQL's `040_standby_failover_slots_sync.pl`, plus the old name):
//!
//! - a logical walsender streaming a failover slot sends a transaction only
//!   after the standby of a listed physical slot has flushed it, while a
//!   non-failover slot's consumer gets it at once;
//! - `pg_logical_slot_get_changes` on a failover slot waits too, and a
//!   reload clearing the setting releases it;
//! - a listed slot no standby streams from is reported with PostgreSQL's
//!   WARNING, and removing it from the list releases the wait;
//! - `standby_slot_names` is accepted as the setting's old name.
//!
//! The failover consumer is `pg_recvlogical` (PostgreSQL 17's when
//! installed, else the system's).

use std::process::Command;

use tandem_testkit::failover::{
    has_decoded_row, recvlogical_rows, set_standby_slots, wait_decoded_row,
};
use tandem_testkit::{pg_recvlogical, wait_for, Node, DEADLINE};

/// A primary with `wal_level = logical`, table `t`, and a started standby
/// streaming through physical slot `sb1_slot`.
fn primary_and_standby(name: &str) -> (Node, Node) {
    let primary = Node::logical_primary(&format!("{name}-primary"));
    primary.safe_psql("CREATE TABLE t (a int PRIMARY KEY)");
    let mut standby = Node::standby(&format!("{name}-standby"), &primary, "sb1_slot");
    standby.start();
    wait_for("the standby to stream from sb1_slot", DEADLINE, || {
        (primary.safe_psql("SELECT active FROM pg_replication_slots WHERE slot_name = 'sb1_slot'")
            == "t")
            .then_some(())
    });
    (primary, standby)
}

fn inactive_warning(slot: &str) -> String {
    format!(
        "WARNING:  replication slot \"{slot}\" specified in parameter \"synchronized_standby_slots\" does not have active_pid"
    )
}

/// Waits for `line` to appear in the primary's log after byte `from`.
fn wait_log(primary: &Node, from: usize, line: &str) {
    wait_for(&format!("log line {line:?}"), DEADLINE, || {
        let log = primary.log();
        log.get(from..)
            .is_some_and(|l| l.contains(line))
            .then_some(())
    });
}

/// Runs `sql` with psql on another thread (it is expected to block).
fn psql_in_background(port: u16, sql: &str) -> std::thread::JoinHandle<std::process::Output> {
    let sql = sql.to_string();
    std::thread::spawn(move || {
        Command::new("psql")
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
            .arg("-p")
            .arg(port.to_string())
            .arg("-c")
            .arg(&sql)
            .output()
            .unwrap_or_else(|e| panic!("psql: {e}"))
    })
}

#[test]
fn scenario_15_failover_slot_waits_for_synchronized_standby_slots() {
    let Some(bin) = pg_recvlogical() else {
        return;
    };
    let (primary, mut standby) = primary_and_standby("t041-s15");
    primary.safe_psql(
        "SELECT pg_create_logical_replication_slot('fo_slot', 'test_decoding', false, false, true)",
    );
    primary.safe_psql("SELECT pg_create_logical_replication_slot('plain_slot', 'test_decoding')");
    set_standby_slots(&primary, "sb1_slot");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (fo_out, plain_out) = (dir.path().join("fo.txt"), dir.path().join("plain.txt"));
    let _fo = recvlogical_rows(&bin, &primary, "fo_slot", &fo_out);
    let _plain = recvlogical_rows(&bin, &primary, "plain_slot", &plain_out);

    // With the standby streaming, both consumers get the row.
    primary.safe_psql("INSERT INTO t VALUES (1)");
    wait_decoded_row(&fo_out, 1, "the failover consumer");
    wait_decoded_row(&plain_out, 1, "the plain consumer");

    // Standby stopped: the plain consumer gets row 2, the failover one not.
    let from = primary.log().len();
    standby.stop();
    wait_for("sb1_slot to become inactive", DEADLINE, || {
        (primary.safe_psql("SELECT active FROM pg_replication_slots WHERE slot_name = 'sb1_slot'")
            == "f")
            .then_some(())
    });
    primary.safe_psql("INSERT INTO t VALUES (2)");
    wait_decoded_row(&plain_out, 2, "the plain consumer");
    wait_log(&primary, from, &inactive_warning("sb1_slot"));
    // The WARNING is logged when the failover walsender held row 2 back.
    assert!(
        !has_decoded_row(&fo_out, 2),
        "the failover consumer got row 2 before the standby flushed it"
    );

    // Standby back: it flushes row 2, then the failover consumer gets it.
    standby.start();
    wait_decoded_row(&fo_out, 2, "the failover consumer");
    let flushed = primary.safe_psql(
        "SELECT restart_lsn >= (SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'plain_slot') \
         FROM pg_replication_slots WHERE slot_name = 'sb1_slot'",
    );
    assert_eq!(flushed, "t", "the standby flushed what the consumers got");
}

#[test]
fn scenario_16_sql_decoding_waits() {
    let (primary, mut standby) = primary_and_standby("t041-s16");
    set_standby_slots(&primary, "sb1_slot");
    primary.safe_psql(
        "SELECT pg_create_logical_replication_slot('test_slot', 'test_decoding', false, false, true)",
    );
    let from = primary.log().len();
    standby.stop();
    primary.safe_psql("INSERT INTO t VALUES (1)");
    let port = primary.port;
    let call = psql_in_background(
        port,
        "SELECT data FROM pg_logical_slot_get_changes('test_slot', NULL, NULL)",
    );
    wait_log(&primary, from, &inactive_warning("sb1_slot"));
    assert!(
        !call.is_finished(),
        "get_changes returned while the standby was down"
    );
    set_standby_slots(&primary, "");
    wait_for("get_changes to return", DEADLINE, || {
        call.is_finished().then_some(())
    });
    let out = call
        .join()
        .unwrap_or_else(|_| panic!("psql thread panicked"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("table public.t: INSERT: a[integer]:1"),
        "{text}"
    );
}

#[test]
fn scenario_17_inactive_physical_slot_warning() {
    let Some(bin) = pg_recvlogical() else {
        return;
    };
    let (primary, _standby) = primary_and_standby("t041-s17");
    primary.safe_psql("SELECT pg_create_physical_replication_slot('inactive_slot', true)");
    primary.safe_psql(
        "SELECT pg_create_logical_replication_slot('fo_slot', 'test_decoding', false, false, true)",
    );
    primary.safe_psql("SELECT pg_create_logical_replication_slot('plain_slot', 'test_decoding')");
    set_standby_slots(&primary, "sb1_slot, inactive_slot");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (fo_out, plain_out) = (dir.path().join("fo.txt"), dir.path().join("plain.txt"));
    // The WARNING is logged once, when the failover walsender first meets the
    // problem, which may be as soon as it starts streaming: look from here.
    let from = primary.log().len();
    let _fo = recvlogical_rows(&bin, &primary, "fo_slot", &fo_out);
    let _plain = recvlogical_rows(&bin, &primary, "plain_slot", &plain_out);

    primary.safe_psql("INSERT INTO t VALUES (1)");
    wait_decoded_row(&plain_out, 1, "the plain consumer");
    wait_log(&primary, from, &inactive_warning("inactive_slot"));
    let log = primary.log();
    assert!(log.contains(
        "DETAIL:  Logical replication is waiting on the standby associated with replication slot \"inactive_slot\"."
    ));
    assert!(log.contains(
        "HINT:  Start the standby associated with the replication slot \"inactive_slot\", or amend parameter \"synchronized_standby_slots\"."
    ));
    assert!(
        !has_decoded_row(&fo_out, 1),
        "the failover consumer got row 1"
    );

    // Without the inactive slot only the streaming standby counts.
    set_standby_slots(&primary, "sb1_slot");
    wait_decoded_row(&fo_out, 1, "the failover consumer");
}

#[test]
fn standby_slot_names_is_the_old_name() {
    let mut node = Node::init("t041-alias");
    node.append_conf("wal_level = logical\nstandby_slot_names = 'Sb1_Slot'");
    node.start();
    assert_eq!(
        node.safe_psql("SHOW synchronized_standby_slots"),
        "Sb1_Slot"
    );
    assert_eq!(node.safe_psql("SHOW standby_slot_names"), "Sb1_Slot");
    let bad = node.psql("ALTER SYSTEM SET standby_slot_names = 'a,,b'");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        err.contains("invalid value for parameter \"synchronized_standby_slots\": \"a,,b\""),
        "{err}"
    );
    assert!(err.contains("List syntax is invalid."), "{err}");
    node.safe_psql("ALTER SYSTEM SET standby_slot_names = 'other_slot'");
    node.safe_psql("SELECT pg_reload_conf()");
    wait_for("the reload", DEADLINE, || {
        (node.safe_psql("SHOW standby_slot_names") == "other_slot").then_some(())
    });
    assert_eq!(
        node.safe_psql("SELECT setting FROM pg_settings WHERE name = 'synchronized_standby_slots'"),
        "other_slot"
    );
}

/// `pg_replication_slot_advance` on a failover slot waits for the listed
/// standbys too, and a query cancel ends the wait with PostgreSQL's error,
/// leaving the slot where it was.
#[test]
fn advance_waits_and_a_cancel_ends_the_wait() {
    let (primary, mut standby) = primary_and_standby("t041-advance");
    set_standby_slots(&primary, "sb1_slot");
    primary.safe_psql(
        "SELECT pg_create_logical_replication_slot('test_slot', 'test_decoding', false, false, true)",
    );
    let before = primary.safe_psql(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'test_slot'",
    );
    let from = primary.log().len();
    standby.stop();
    primary.safe_psql("INSERT INTO t VALUES (1)");
    let port = primary.port;
    let call = psql_in_background(
        port,
        "SELECT pg_replication_slot_advance('test_slot', pg_current_wal_lsn())",
    );
    wait_log(&primary, from, &inactive_warning("sb1_slot"));
    assert!(
        !call.is_finished(),
        "advance returned while the standby was down"
    );
    primary.safe_psql(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE 'SELECT pg_replication_slot_advance%'",
    );
    wait_for("the canceled advance to return", DEADLINE, || {
        call.is_finished().then_some(())
    });
    let out = call
        .join()
        .unwrap_or_else(|_| panic!("psql thread panicked"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ERROR:  canceling statement due to user request"),
        "{stderr}"
    );
    let after = primary.safe_psql(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'test_slot'",
    );
    assert_eq!(before, after, "a canceled advance moved the slot");
}
