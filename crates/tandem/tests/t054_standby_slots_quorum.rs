//! Quorum forms of `synchronized_standby_slots` (`ANY n (...)`, `FIRST n
//! (...)`, the `synchronous_standby_names` grammar): with one of two listed
//! standbys stopped, `ANY 1 (s1, s2)` keeps a failover slot's consumer
//! flowing, while the plain list `s1, s2` (every slot, PostgreSQL's meaning)
//! holds it back and reports the stopped standby's slot. Readiness follows
//! the quorum: a listed standby the quorum was met without is not ready to
//! take a failover slot over, on the primary's `pg_failover_slot_standbys`
//! and on its own `pg_failover_readiness`, until it has caught up.

use tandem_testkit::failover::{
    has_decoded_row, recvlogical_rows, refuse_replication, set_standby_slots, slot_field,
    wait_decoded_row,
};
use tandem_testkit::{pg_recvlogical, wait_for, wait_value, Node, DEADLINE};

#[test]
fn any_one_of_two_keeps_flowing_while_all_of_holds_back() {
    let Some(bin) = pg_recvlogical() else {
        eprintln!("skipped: no pg_recvlogical");
        return;
    };
    let primary = Node::logical_primary("t054-primary");
    primary.safe_psql("CREATE TABLE t (a int PRIMARY KEY)");
    let mut s1 = Node::standby("t054-s1", &primary, "s1");
    s1.start();
    let mut s2 = Node::standby("t054-s2", &primary, "s2");
    s2.start();
    wait_for("both standbys streaming", DEADLINE, || {
        (slot_field(&primary, "s1", "active") == "t" && slot_field(&primary, "s2", "active") == "t")
            .then_some(())
    });
    primary.safe_psql(
        "SELECT pg_create_logical_replication_slot('fo_slot', 'test_decoding', false, false, true)",
    );
    primary.safe_psql("SELECT pg_create_logical_replication_slot('plain_slot', 'test_decoding')");
    set_standby_slots(&primary, "ANY 1 (s1, s2)");
    s2.stop();
    wait_for("s2 to stop streaming", DEADLINE, || {
        (slot_field(&primary, "s2", "active") == "f").then_some(())
    });
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (fo_out, plain_out) = (dir.path().join("fo.txt"), dir.path().join("plain.txt"));
    let _fo = recvlogical_rows(&bin, &primary, "fo_slot", &fo_out);
    let _plain = recvlogical_rows(&bin, &primary, "plain_slot", &plain_out);

    // ANY 1: s1 alone is a quorum
    primary.safe_psql("INSERT INTO t VALUES (1)");
    wait_decoded_row(&fo_out, 1, "the failover consumer under ANY 1");

    // every slot: s2 is stopped and behind, so row 2 waits and s2 is reported
    set_standby_slots(&primary, "s1, s2");
    let from = primary.log().len();
    primary.safe_psql("INSERT INTO t VALUES (2)");
    wait_decoded_row(&plain_out, 2, "the plain consumer");
    wait_for("the WARNING about s2", DEADLINE, || {
        primary.log().get(from..).is_some_and(|l| l.contains(
            "WARNING:  replication slot \"s2\" specified in parameter \"synchronized_standby_slots\" does not have active_pid",
        )).then_some(())
    });
    assert!(
        !has_decoded_row(&fo_out, 2),
        "the failover consumer got row 2 past the stopped standby"
    );

    // back to the quorum: row 2 goes out
    set_standby_slots(&primary, "FIRST 1 (s2, s1)");
    wait_decoded_row(&fo_out, 2, "the failover consumer under FIRST 1");
}

/// `ready|reason` of `slot` in the standby's `pg_failover_readiness`, once
/// `reason` matches `like` (NULL: ready); the worker is woken now and then.
fn wait_readiness(s: &Node, slot: &str, like: Option<&str>) -> String {
    let cond = match like {
        None => "ready AND reason IS NULL".to_string(),
        Some(r) => format!("NOT ready AND reason LIKE '{r}'"),
    };
    let row = format!("SELECT ready, reason FROM pg_failover_readiness WHERE slot_name = '{slot}'");
    let deadline = std::time::Instant::now() + DEADLINE;
    for polls in 1u32.. {
        let out = s.psql(&format!(
            "SELECT {cond} FROM pg_failover_readiness WHERE slot_name = '{slot}'"
        ));
        if String::from_utf8_lossy(&out.stdout).trim() == "t" {
            return s.safe_psql(&row);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{slot}: {like:?} on {}, last: {:?}",
            s.name,
            String::from_utf8_lossy(&s.psql(&row).stdout)
        );
        if polls.is_multiple_of(10) {
            s.psql("SELECT pg_reload_conf()");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    unreachable!()
}

/// `standby|could_take_over|reason` of `slot` on the primary, one row per
/// standby.
fn takeover_rows(primary: &Node, slot: &str) -> String {
    primary.safe_psql(&format!(
        "SELECT standby_slot, could_take_over, reason FROM pg_failover_slot_standbys \
         WHERE slot_name = '{slot}' ORDER BY 1"
    ))
}

const NOT_AMONG: &str = "not among the standbys that confirmed what consumers may have received \
                         (synchronized_standby_slots is met without it; % bytes behind)";

#[test]
fn readiness_follows_who_confirmed_under_a_quorum() {
    let primary = Node::logical_primary("t054-ready-primary");
    primary.safe_psql("CREATE TABLE t (a int PRIMARY KEY)");
    set_standby_slots(&primary, "ANY 1 (s1, s2)");
    let s1 = Node::syncing_standby("t054-ready-s1", &primary, "s1");
    let mut s2 = Node::syncing_standby("t054-ready-s2", &primary, "s2");
    // made after the base backups: its WAL is on both standbys
    primary.safe_psql(
        "SELECT pg_create_logical_replication_slot('fo_slot', 'test_decoding', false, false, true)",
    );

    // both streaming and caught up: either could take the slot over
    wait_readiness(&s1, "fo_slot", None);
    wait_readiness(&s2, "fo_slot", None);
    wait_value(
        &primary,
        "SELECT count(*) FROM pg_failover_slot_standbys WHERE could_take_over",
        "2",
    );

    // s2 stops; s1 alone makes the quorum, and a consumer receives a change
    // s2 lacks (peek: received, not confirmed, so the slot does not move)
    s2.stop();
    wait_for("s2 to stop streaming", DEADLINE, || {
        (slot_field(&primary, "s2", "active") == "f").then_some(())
    });
    primary.safe_psql("INSERT INTO t VALUES (1)");
    assert_eq!(
        primary.safe_psql(
            "SELECT count(*) FROM pg_logical_slot_peek_changes('fo_slot', NULL, NULL) \
             WHERE data LIKE '%INSERT%'"
        ),
        "1"
    );
    let rows = takeover_rows(&primary, "fo_slot");
    let mut lines = rows.lines();
    assert_eq!(lines.next(), Some("s1|t|"), "{rows}");
    let s2_row = lines.next().unwrap_or_default();
    let prefix = NOT_AMONG.split('%').next().unwrap_or_default();
    assert!(
        s2_row.starts_with(&format!("s2|f|{prefix}")),
        "s2 on the primary: {rows}"
    );
    // the plain list waits for every slot: s2 is only not connected there
    set_standby_slots(&primary, "s1, s2");
    assert!(
        takeover_rows(&primary, "fo_slot").ends_with("s2|f|standby not connected"),
        "{}",
        takeover_rows(&primary, "fo_slot")
    );
    set_standby_slots(&primary, "ANY 1 (s1, s2)");
    // s1 confirmed: ready
    wait_readiness(&s1, "fo_slot", None);

    // s2 comes back without streaming (its slot sync, an ordinary
    // connection, runs): its own view says it lacks what a consumer got
    refuse_replication(&primary, true, false);
    s2.start();
    // accepting connections (its worker starts once it does)
    wait_value(&s2, "SELECT 1", "1");
    let row = wait_readiness(&s2, "fo_slot", Some(NOT_AMONG));
    assert!(row.starts_with("f|not among"), "{row}");
    assert_eq!(slot_field(&primary, "s2", "active"), "f");

    // streaming again and caught up: ready again on both sides
    refuse_replication(&primary, false, false);
    wait_readiness(&s2, "fo_slot", None);
    wait_value(
        &primary,
        "SELECT count(*) FROM pg_failover_slot_standbys WHERE could_take_over",
        "2",
    );
    wait_readiness(&s1, "fo_slot", None);
}
