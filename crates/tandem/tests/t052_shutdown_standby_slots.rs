//! A fast shutdown of a primary with a failover subscription and
//! `synchronized_standby_slots` (PostgreSQL 17's `WalSndDone` and
//! `WalSndWaitForWal` when `got_STOPPING`):
//!
//! - the walsenders are not cut off: when `tandem stop -m fast` returns, the
//!   standby has received the WAL up to and including the shutdown
//!   checkpoint, and the failover subscriber has applied every transaction,
//!   which the standby has too;
//! - a listed standby that is gone (its slot inactive and behind) is an
//!   ERROR for the stopping logical walsender, which ends instead of holding
//!   the shutdown up, and the subscriber does not get what the standby lacks.

use std::time::{Duration, Instant};

use tandem_testkit::failover::{set_standby_slots, subscribe_failover};
use tandem_testkit::{wait_for, wait_value, Node, DEADLINE};

/// A primary, its standby on `sb1_slot` (listed in
/// `synchronized_standby_slots`) and a subscriber whose subscription has a
/// failover slot, table `t` replicated to it.
fn setup(name: &str) -> (Node, Node, Node) {
    let p = Node::logical_primary(&format!("{name}-p"));
    p.safe_psql("CREATE TABLE t (a int PRIMARY KEY); CREATE PUBLICATION pub FOR ALL TABLES");
    let mut s = Node::standby(&format!("{name}-s"), &p, "sb1_slot");
    s.start();
    wait_value(
        &p,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'sb1_slot'",
        "t",
    );
    set_standby_slots(&p, "sb1_slot");
    let sub = Node::subscriber(&format!("{name}-sub"));
    sub.safe_psql("CREATE TABLE t (a int PRIMARY KEY)");
    subscribe_failover(&sub, "sub", &p, "pub");
    assert_eq!(
        p.safe_psql("SELECT failover FROM pg_replication_slots WHERE slot_name = 'sub'"),
        "t"
    );
    (p, s, sub)
}

fn count(n: &Node) -> i64 {
    n.safe_psql("SELECT count(*) FROM t")
        .parse()
        .unwrap_or_else(|e| panic!("count on {}: {e}", n.name))
}

#[test]
fn fast_shutdown_sends_everything_to_the_standby_then_the_subscriber() {
    let (mut p, s, sub) = setup("t052-done");
    p.safe_psql("INSERT INTO t SELECT generate_series(1, 100)");
    wait_value(&sub, "SELECT count(*) FROM t", "100");
    // a burst of commits, the last one just before the shutdown request
    for i in 1..=20 {
        p.safe_psql(&format!(
            "INSERT INTO t SELECT generate_series({}, {})",
            i * 1000,
            i * 1000 + 99
        ));
    }
    p.stop();
    let total = 100 + 20 * 100;
    // The logical walsender ended only once the subscriber confirmed the
    // last transaction, and sent it only once the standby had flushed it.
    assert_eq!(
        count(&sub),
        total,
        "the failover subscriber has every transaction when the fast shutdown returns"
    );
    // The physical walsender ended only once the standby confirmed the
    // shutdown checkpoint record.
    let received = s.safe_psql("SELECT pg_last_wal_receive_lsn()");
    wait_value(
        &s,
        "SELECT pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn()",
        "t",
    );
    assert_eq!(count(&s), total, "the standby has every transaction");
    p.start();
    assert_eq!(
        p.safe_psql(&format!(
            "SELECT '{received}'::pg_lsn > checkpoint_lsn FROM pg_control_checkpoint()"
        )),
        "t",
        "the standby received the shutdown checkpoint record (received up to {received})"
    );
    let log = p.log();
    assert!(
        !log.contains("ERROR:  replication slot \"sb1_slot\""),
        "no standby problem reported:\n{log}"
    );
}

#[test]
fn fast_shutdown_with_the_listed_standby_gone_ends_the_walsender_with_an_error() {
    let (mut p, mut s, sub) = setup("t052-gone");
    p.safe_psql("INSERT INTO t VALUES (1)");
    wait_value(&sub, "SELECT count(*) FROM t", "1");
    wait_value(&s, "SELECT count(*) FROM t", "1");
    s.stop();
    wait_value(
        &p,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'sb1_slot'",
        "f",
    );
    let from = p.log().len();
    p.safe_psql("INSERT INTO t VALUES (2)");
    // the failover walsender holds the row back
    wait_for("the inactive-slot WARNING", DEADLINE, || {
        p.log().get(from..)?.contains(
            "WARNING:  replication slot \"sb1_slot\" specified in parameter \"synchronized_standby_slots\" does not have active_pid",
        ).then_some(())
    });
    let started = Instant::now();
    p.stop();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "the shutdown does not wait for a standby that is gone (took {took:?})"
    );
    let log = p.log();
    assert!(
        log[from..].contains(
            "ERROR:  replication slot \"sb1_slot\" specified in parameter \"synchronized_standby_slots\" does not have active_pid"
        ),
        "the stopping walsender reports the gone standby as an ERROR:\n{}",
        &log[from..]
    );
    assert_eq!(
        sub.safe_psql("SELECT string_agg(a::text, ',' ORDER BY a) FROM t"),
        "1",
        "the subscriber never gets a row the standby lacks"
    );
    s.start();
    assert_eq!(s.safe_psql("SELECT count(*) FROM t WHERE a = 2"), "0");
}
