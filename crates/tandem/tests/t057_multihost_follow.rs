//! Subscriptions and standbys that follow the primary through a multi-host
//! connection string (`docs/failover-slots.md`, "Subscriptions that follow
//! the primary"):
//!
//! - an unplanned failover (the primary killed, its syncing standby
//!   promoted): a subscription whose CONNECTION names both nodes with
//!   `target_session_attrs=read-write` resumes on the promoted node by
//!   itself, with every row once and in order, and no ALTER SUBSCRIPTION;
//! - a second standby whose `primary_conninfo` names both nodes follows the
//!   promoted node to its timeline;
//! - the old primary back as a primary on the old timeline (split brain,
//!   with writes of its own) is never chosen, even listed first and after a
//!   restart of the subscriber: the subscriber's log says why it skipped it;
//!   likewise the second standby, restarted with the old primary first in
//!   its `primary_conninfo`, skips it (its timeline is behind) and goes on
//!   following the promoted node.

use tandem_testkit::failover::{insert_seq, seq_list, set_standby_slots, wait_tables_ready};
use tandem_testkit::{wait_for, wait_value, Node, DEADLINE};

/// The rows of `log` on `node` in the order given, as one line.
fn rows(node: &Node, order: &str) -> String {
    node.safe_psql(&format!(
        "SELECT coalesce(string_agg(seq::text, ',' ORDER BY {order}), '') FROM log"
    ))
}

#[test]
fn subscriber_and_standby_follow_the_primary_and_skip_a_stale_one() {
    let mut p = Node::logical_primary("t057-p");
    p.safe_psql("CREATE TABLE log (seq int)");
    p.safe_psql("ALTER TABLE log REPLICA IDENTITY FULL; CREATE PUBLICATION pub FOR ALL TABLES");

    // S: the standby that will be promoted (slot sync on)
    let mut s = Node::syncing_standby("t057-s", &p, "sb1_slot");
    set_standby_slots(&p, "sb1_slot");

    // S2: a standby that names both nodes
    let mut s2 = Node::standby("t057-s2", &p, "sb2_slot");
    s2.start();
    let both = format!(
        "host=127.0.0.1,127.0.0.1 port={},{} user=postgres dbname=postgres target_session_attrs=read-write",
        p.port, s.port
    );
    s2.safe_psql(&format!("ALTER SYSTEM SET primary_conninfo = '{both}'"));
    s2.safe_psql("SELECT pg_reload_conf()");

    // the subscriber names both nodes, the primary first
    let mut sub = Node::subscriber("t057-sub");
    sub.safe_psql("CREATE TABLE log (seq int, applied bigserial)");
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION s CONNECTION '{both}' PUBLICATION pub WITH (failover = true)"
    ));
    wait_tables_ready(&sub);

    insert_seq(&p, "log", 1, 10);
    wait_value(&sub, "SELECT count(*) FROM log", "10");
    wait_value(&s2, "SELECT count(*) FROM log", "10");
    wait_value(
        &s,
        "SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 's'",
        "t",
    );
    // S holds a copy of S2's physical slot, for S2 to stream through later
    wait_value(
        &s,
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sb2_slot'",
        "1",
    );
    wait_value(
        &s,
        "SELECT pg_last_wal_replay_lsn() >= (SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 's')",
        "t",
    );

    // unplanned failover: no ALTER SUBSCRIPTION below
    p.kill9();
    s.promote();
    insert_seq(&s, "log", 11, 20);
    wait_value(&sub, "SELECT count(*) FROM log", "20");
    assert_eq!(
        rows(&sub, "applied"),
        seq_list(1, 20),
        "every row once, in commit order"
    );
    let log = sub.log();
    assert!(
        log.contains(&format!(
            "streams from host \"127.0.0.1\" port {} on timeline 2",
            s.port
        )),
        "the subscriber says where it resumed; log:\n{log}"
    );
    assert!(
        log.contains(&format!(
            "skips host \"127.0.0.1\" port {}: could not connect to the publisher",
            p.port
        )),
        "the dead primary is skipped with its reason; log:\n{log}"
    );

    // S2 follows the promoted node to timeline 2
    wait_value(&s2, "SELECT count(*) FROM log", "20");
    assert_eq!(rows(&s2, "seq"), seq_list(1, 20));

    // split brain: the old primary comes back as a primary on timeline 1
    // and writes rows of its own
    p.start();
    wait_value(&p, "SELECT pg_is_in_recovery()", "f");
    insert_seq(&p, "log", 1001, 1005);
    // the subscriber restarts: it must come back to S, not to P (listed
    // first, a primary, holding the slot)
    sub.restart();
    insert_seq(&s, "log", 21, 25);
    wait_value(&sub, "SELECT count(*) FROM log", "25");
    assert_eq!(rows(&sub, "applied"), seq_list(1, 25));
    wait_for("the log line saying why P was skipped", DEADLINE, || {
        sub.log()
            .contains(&format!(
                "skips host \"127.0.0.1\" port {}: its timeline 1 is behind timeline 2 this subscription streamed from",
                p.port
            ))
            .then_some(())
    });
    // S2 restarts with P (a primary, but on timeline 1) listed first: its
    // walreceiver skips P and streams from S again
    s2.restart();
    wait_for("S2's log line saying why P was skipped", DEADLINE, || {
        s2.log()
            .contains(&format!(
                "walreceiver skips host \"127.0.0.1\" port {}: highest timeline 1 of the primary is behind recovery timeline 2",
                p.port
            ))
            .then_some(())
    });
    wait_value(&s2, "SELECT count(*) FROM log", "25");
    assert_eq!(
        rows(&s2, "seq"),
        seq_list(1, 25),
        "nothing from the stale node"
    );
    wait_value(
        &s2,
        "SELECT status, sender_port FROM pg_stat_wal_receiver",
        &format!("streaming|{}", s.port),
    );
    // and after its walsender on S is terminated (no restart)
    s.safe_psql(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'sb2_slot'",
    );
    wait_value(
        &s2,
        "SELECT status, sender_port FROM pg_stat_wal_receiver",
        &format!("streaming|{}", s.port),
    );

    // and again when its walsender on S is terminated (no restart)
    s.safe_psql(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 's'",
    );
    insert_seq(&s, "log", 26, 30);
    wait_value(&sub, "SELECT count(*) FROM log", "30");
    assert_eq!(rows(&sub, "applied"), seq_list(1, 30));
    wait_value(&s2, "SELECT count(*) FROM log", "30");
    assert_eq!(rows(&s2, "seq"), seq_list(1, 30));
    assert_eq!(
        sub.safe_psql("SELECT count(*) FROM log WHERE seq > 1000"),
        "0",
        "nothing from the stale node"
    );
    sub.stop();
    s2.stop();
    s.stop();
    p.stop();
}
