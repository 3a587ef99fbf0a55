//! Slot synchronization where tandem goes beyond PostgreSQL 17
//! (`docs/failover-slots.md`, "Beyond PostgreSQL 17"):
//!
//! - a cascading standby syncs the failover slots of its upstream standby,
//!   keeps syncing when that upstream is promoted, and a subscriber resumes
//!   on the cascade once it is promoted in turn;
//! - a standby keeps synced copies of the primary's physical slots, so a
//!   sibling standby streams from the promoted standby through its own slot,
//!   with the WAL it still needed kept;
//! - a planned switchover and back: the former primary, now a standby, has
//!   its old failover slots replaced by synced copies, and the subscriber
//!   gets every row exactly once.

use std::path::Path;

use tandem_testkit::failover::{
    cascading_standby, insert_seq, lsn, repoint_subscription, subscribe_tab, wait_rows,
    wait_slot_follows,
};
use tandem_testkit::{log_errors, wait_for, wait_for_replay, wait_value, Node, DEADLINE};

/// WAL segment size of these nodes (`--wal-segsize 1`).
const SEG: u64 = 1024 * 1024;

/// The WAL segment numbers in `datadir/pg_wal` (any timeline), sorted.
fn segnos(datadir: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(datadir.join("pg_wal"))
        .unwrap_or_else(|e| panic!("read pg_wal: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 24 && n.chars().all(|c| c.is_ascii_hexdigit()))
        .filter_map(|n| {
            let hi = u64::from_str_radix(&n[8..16], 16).ok()?;
            let lo = u64::from_str_radix(&n[16..24], 16).ok()?;
            Some(hi * (0x1_0000_0000 / SEG) + lo)
        })
        .collect();
    out.sort();
    out
}

/// Turns a stopped former primary into a standby of `upstream` streaming
/// through `slot`, with the slot sync worker on.
fn make_standby_of(node: &Node, upstream: &Node, slot: &str) {
    std::fs::write(node.datadir.join("standby.signal"), "").expect("write standby.signal");
    node.append_conf(&format!(
        "primary_conninfo = '{}'\nprimary_slot_name = '{slot}'\n\
         hot_standby_feedback = on\nsync_replication_slots = on\n\
         wal_retrieve_retry_interval = 200ms",
        upstream.conninfo("postgres")
    ));
}

/// Primary → standby S1 → cascading standby C, each standby with the worker
/// on. C syncs the subscription's failover slot from S1; S1 is promoted and
/// C keeps syncing from it; C is promoted and the subscriber resumes on it.
#[test]
fn cascade_syncs_from_its_upstream_through_both_promotions() {
    let mut p = Node::logical_primary("t050-cas-primary");
    let mut s1 = Node::syncing_standby("t050-cas-s1", &p, "sb1_slot");
    let c = cascading_standby("t050-cas-c", &p, &s1);

    let sub = Node::subscriber("t050-cas-sub");
    subscribe_tab(&p, &sub, "CREATE TABLE tab (a int)");
    insert_seq(&p, "tab", 1, 3);
    wait_rows(&sub, "tab", "a", 3);
    wait_slot_follows(&s1, &p, "mysub");
    wait_slot_follows(&c, &s1, "mysub");
    assert_eq!(
        c.safe_psql(
            "SELECT slot_type, failover, synced, temporary, \
             confirmed_flush_lsn <= pg_last_wal_receive_lsn() \
             FROM pg_replication_slots WHERE slot_name = 'mysub'"
        ),
        "logical|t|t|f|t"
    );
    assert_eq!(
        c.safe_psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'slotsync worker'"),
        "1"
    );

    // the upstream is promoted: the cascade follows it and keeps syncing
    p.stop();
    s1.promote();
    repoint_subscription(&sub, "mysub", &s1);
    insert_seq(&s1, "tab", 4, 5);
    wait_rows(&sub, "tab", "a", 5);
    wait_value(&c, "SELECT count(*) FROM tab", "5");
    wait_slot_follows(&c, &s1, "mysub");

    // the cascade's log so far: its worker and walreceiver raised no error
    // (what follows the upstream's stop is expected to)
    let errors = log_errors(&c.log(), &[]);
    assert!(errors.is_empty(), "{errors:#?}");

    // the cascade is promoted: the subscriber resumes on its synced slot
    s1.stop();
    c.promote();
    assert_eq!(
        c.safe_psql(
            "SELECT synced, temporary, failover FROM pg_replication_slots \
             WHERE slot_name = 'mysub'"
        ),
        "t|f|t"
    );
    repoint_subscription(&sub, "mysub", &c);
    insert_seq(&c, "tab", 6, 7);
    wait_rows(&sub, "tab", "a", 7);
    wait_value(
        &c,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'mysub'",
        "t",
    );
}

/// Primary with standbys A (syncing) and B. A keeps a synced copy of B's
/// slot `sb_b`; B stops streaming and lags; A is promoted and keeps the WAL
/// B needs; B is re-pointed at A and streams through `sb_b` there.
#[test]
fn sibling_streams_from_the_promoted_standby_through_its_copied_slot() {
    let mut p = Node::logical_primary("t050-phys-primary");
    p.safe_psql("CREATE TABLE t (a int, b text)");
    let a = Node::syncing_standby("t050-phys-a", &p, "sb_a");
    let mut b = Node::failover_standby("t050-phys-b", &p, "sb_b", false);
    b.start();
    wait_value(
        &a,
        "SELECT slot_type, synced, temporary FROM pg_replication_slots \
         WHERE slot_name = 'sb_b'",
        "physical|t|f",
    );
    // A's own slot on the primary is not copied to A
    assert_eq!(
        a.safe_psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sb_a'"),
        "0"
    );
    // protected while A is a standby
    let out = a.psql("SELECT pg_drop_replication_slot('sb_b')");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR:  cannot drop replication slot \"sb_b\""),
        "{err}"
    );

    // B stops streaming (an empty primary_conninfo ends its walreceiver)
    b.safe_psql("ALTER SYSTEM SET primary_conninfo = ''");
    b.safe_psql("SELECT pg_reload_conf()");
    wait_value(
        &p,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'sb_b'",
        "f",
    );
    let b_rows = b.safe_psql("SELECT count(*) FROM t");
    let held = p.safe_psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'sb_b'");
    // several segments of WAL B misses, then restartpoints on A
    for i in 0..4 {
        p.safe_psql(&format!(
            "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series({}, {}) g",
            i * 3000 + 1,
            (i + 1) * 3000
        ));
        p.safe_psql("SELECT pg_switch_wal()");
    }
    p.safe_psql("CHECKPOINT");
    wait_for_replay(&p, &a);
    wait_value(
        &a,
        &format!(
            "SELECT restart_lsn = '{held}' FROM pg_replication_slots WHERE slot_name = 'sb_b'"
        ),
        "t",
    );
    a.safe_psql("CHECKPOINT");
    // A removed older WAL but kept the segment B restarts from
    let oldest = segnos(&a.datadir)[0];
    assert_eq!(oldest, lsn(&held) / SEG, "{:?}", segnos(&a.datadir));

    p.stop();
    a.promote();
    assert_eq!(
        a.safe_psql(
            "SELECT synced, restart_lsn = '{held}' FROM pg_replication_slots \
             WHERE slot_name = 'sb_b'"
                .replace("{held}", &held)
                .as_str()
        ),
        "t|t"
    );
    b.safe_psql(&format!(
        "ALTER SYSTEM SET primary_conninfo = '{}'",
        a.conninfo("postgres")
    ));
    b.safe_psql("SELECT pg_reload_conf()");
    a.safe_psql("INSERT INTO t VALUES (0, 'after promotion')");
    wait_value(
        &a,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'sb_b'",
        "t",
    );
    wait_value(&b, "SELECT count(*) FROM t", "12001");
    assert!(
        b_rows.parse::<u32>().unwrap_or(u32::MAX) < 12001,
        "{b_rows}"
    );
    // the slot is an ordinary one on the promoted node: it follows B
    let end = a.safe_psql("SELECT pg_current_wal_lsn()");
    wait_value(
        &a,
        &format!(
            "SELECT restart_lsn >= '{end}' FROM pg_replication_slots WHERE slot_name = 'sb_b'"
        ),
        "t",
    );
}

/// A planned switchover and back with a failover subscription: each time
/// the former primary rejoins as a standby, its own failover slot is
/// replaced by a synced copy of the new primary's, and the subscriber gets
/// every row exactly once.
#[test]
fn switchover_and_back_keeps_slot_sync() {
    let mut p = Node::logical_primary("t050-sw-p");
    let mut s = Node::syncing_standby("t050-sw-s", &p, "sb_s");
    let sub = Node::subscriber("t050-sw-sub");
    subscribe_tab(&p, &sub, "CREATE TABLE tab (a int)");
    insert_seq(&p, "tab", 1, 3);
    wait_rows(&sub, "tab", "a", 3);
    wait_slot_follows(&s, &p, "mysub");

    // switchover: a fast shutdown of P hands its shutdown checkpoint to S
    // before P exits, so S holds all of P's WAL; then S is promoted
    wait_for_replay(&p, &s);
    p.stop();
    s.promote();
    repoint_subscription(&sub, "mysub", &s);
    insert_seq(&s, "tab", 4, 5);
    wait_rows(&sub, "tab", "a", 5);
    // the former primary rejoins as a standby of S, with its old mysub
    // (failover = t, synced = f) still there
    s.safe_psql("SELECT pg_create_physical_replication_slot('sb_p', true)");
    make_standby_of(&p, &s, "sb_p");
    let from = p.log().len();
    p.start();
    wait_for("the leftover slot replaced on P", DEADLINE, || {
        p.log()
            .get(from..)?
            .contains(
                "LOG:  replacing replication slot \"mysub\" by a synced copy of the primary server's slot",
            )
            .then_some(())
    });
    wait_slot_follows(&p, &s, "mysub");
    assert_eq!(
        p.safe_psql(
            "SELECT failover, synced, temporary FROM pg_replication_slots \
             WHERE slot_name = 'mysub'"
        ),
        "t|t|f"
    );
    // a standby makes no failover slot of its own
    let out = p.psql(
        "SELECT pg_create_logical_replication_slot('mine', 'test_decoding', false, false, true)",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot enable failover for a replication slot created on the standby"),
        "{err}"
    );
    insert_seq(&s, "tab", 6, 7);
    wait_rows(&sub, "tab", "a", 7);
    wait_slot_follows(&p, &s, "mysub");

    // and back: S stops, P is promoted, S rejoins through its old slot sb_s
    wait_for_replay(&s, &p);
    s.stop();
    p.promote();
    repoint_subscription(&sub, "mysub", &p);
    insert_seq(&p, "tab", 8, 9);
    wait_rows(&sub, "tab", "a", 9);
    std::fs::write(s.datadir.join("standby.signal"), "").expect("write standby.signal");
    s.start();
    wait_slot_follows(&s, &p, "mysub");
    insert_seq(&p, "tab", 10, 11);
    wait_rows(&sub, "tab", "a", 11);
    wait_slot_follows(&s, &p, "mysub");
    assert_eq!(
        s.safe_psql(
            "SELECT failover, synced, temporary FROM pg_replication_slots \
             WHERE slot_name = 'mysub'"
        ),
        "t|t|f"
    );
    for node in [&p, &s] {
        let errors = log_errors(
            &node.log(),
            &[
                // the walreceiver and the slot sync worker while their
                // upstream is down or switching
                "could not connect to the primary server",
                "could not fetch failover logical slots info from the primary server",
                "could not fetch physical slots info from the primary server",
                "terminating walreceiver",
                "replication terminated by primary server",
                "the database system is shutting down",
                "terminating connection due to administrator command",
            ],
        );
        assert!(errors.is_empty(), "{}: {errors:#?}", node.name);
    }
}
