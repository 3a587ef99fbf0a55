//! Failover slot state pushed in the WAL (`docs/failover-slots.md`, "Pushed
//! slot state"): a primary writes its failover slots' state as SLOT_STATE
//! records, and a standby whose slot sync worker runs applies each one as it
//! replays it, without waiting for the worker's next connection cycle.
//!
//! "Without a connection cycle" is checked on the primary, which logs every
//! statement: each connection cycle of the worker reads the primary's
//! failover slots once. A step counts only if no such statement was logged
//! between before the change on the primary and the standby showing its
//! outcome; a cycle that happens to fall in between makes the step be tried
//! again with a fresh slot.
//!
//! A cascading standby replays the same records (relayed by its upstream
//! standby) and applies them the same way: checked against the connection
//! cycles its own worker runs against the upstream standby, which logs them.

use tandem_testkit::failover::{cascading_standby, recvlogical, slot_field};
use tandem_testkit::{pg_recvlogical, wait_for, wait_value, Node, DEADLINE};

/// A started primary that logs every statement, with table `t`.
fn primary(name: &str) -> Node {
    let p = Node::logical_primary_with(name, "max_replication_slots = 20\nlog_statement = all");
    p.safe_psql("CREATE TABLE t (a int PRIMARY KEY)");
    p
}

/// How many connection cycles the standby's slot sync worker has run: the
/// primary logs every statement (`log_statement = all`), and each cycle
/// reads the primary's failover slots once.
fn worker_cycles(p: &Node) -> usize {
    p.log()
        .lines()
        .filter(|l| l.contains("statement: SELECT slot_name, plugin, confirmed_flush_lsn"))
        .count()
}

fn wait_worker_connected(p: &Node, s: &Node) {
    let deadline = std::time::Instant::now() + DEADLINE;
    while worker_cycles(p) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no cycle of the slot sync worker; standby log:\n{}",
            s.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs `change` on the primary and waits for `done` on the standby, until
/// one try saw no connection cycle of the worker in between; `change` gets
/// the try's number.
fn without_cycle(p: &Node, what: &str, mut change: impl FnMut(u32), mut done: impl FnMut(u32)) {
    for attempt in 0..8 {
        let before = worker_cycles(p);
        change(attempt);
        done(attempt);
        if worker_cycles(p) == before {
            return;
        }
    }
    panic!("{what}: every try waited for a connection cycle of the slot sync worker");
}

fn create_failover_slot(p: &Node, name: &str) {
    p.safe_psql(&format!(
        "SELECT pg_create_logical_replication_slot('{name}', 'test_decoding', false, false, true)"
    ));
}

#[test]
fn a_new_slot_is_sync_ready_without_a_connection_cycle() {
    let p = primary("t053-new-primary");
    let s = Node::syncing_standby("t053-new-standby", &p, "sb1_slot");
    wait_worker_connected(&p, &s);
    without_cycle(
        &p,
        "a new slot",
        |i| create_failover_slot(&p, &format!("new_{i}")),
        |i| {
            wait_value(
                &s,
                &format!(
                    "SELECT synced AND NOT temporary FROM pg_replication_slots \
                     WHERE slot_name = 'new_{i}'"
                ),
                "t",
            )
        },
    );
    // (the line is logged right after the slot is shown sync-ready)
    wait_for("the sync-ready line in the standby's log", DEADLINE, || {
        s.log().contains("is sync-ready now").then_some(())
    });
    // the copy was made from the WAL: its position is one the standby had
    // replayed, never ahead of it
    let ahead = s.safe_psql(
        "SELECT count(*) FROM pg_replication_slots \
         WHERE synced AND confirmed_flush_lsn > pg_last_wal_replay_lsn()",
    );
    assert_eq!(ahead, "0");
}

#[test]
fn confirmations_move_the_copy_and_an_idle_primary_writes_nothing() {
    let Some(bin) = pg_recvlogical() else {
        eprintln!("skipped: no pg_recvlogical");
        return;
    };
    let p = primary("t053-flow-primary");
    let s = Node::syncing_standby("t053-flow-standby", &p, "sb1_slot");
    wait_worker_connected(&p, &s);
    create_failover_slot(&p, "sub");
    wait_value(
        &s,
        "SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'sub'",
        "t",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("sub.out");
    let _consumer = recvlogical(&bin, &p, "sub", &[], &out);
    without_cycle(
        &p,
        "a confirmation",
        |i| {
            p.safe_psql(&format!("INSERT INTO t VALUES ({i})"));
        },
        |_| {
            let commit = p.safe_psql("SELECT pg_current_wal_lsn()");
            wait_value(
                &p,
                &format!(
                    "SELECT confirmed_flush_lsn >= '{commit}' FROM pg_replication_slots \
                     WHERE slot_name = 'sub'"
                ),
                "t",
            );
            wait_value(
                &s,
                &format!(
                    "SELECT confirmed_flush_lsn >= '{commit}' FROM pg_replication_slots \
                     WHERE slot_name = 'sub'"
                ),
                "t",
            );
        },
    );
    // Idle: the consumer keeps confirming (a status update every second)
    // and the primary writes no WAL for it.
    let reply = || {
        p.safe_psql(
            "SELECT reply_time FROM pg_stat_replication WHERE application_name = 'pg_recvlogical'",
        )
    };
    let mut seen = reply();
    let lsn = p.safe_psql("SELECT pg_current_wal_lsn()");
    for _ in 0..4 {
        seen = wait_for("a status update of the consumer", DEADLINE, || {
            let now = reply();
            (now != seen).then_some(now)
        });
    }
    assert_eq!(
        p.safe_psql("SELECT pg_current_wal_lsn()"),
        lsn,
        "the idle primary wrote WAL"
    );
}

#[test]
fn a_drop_on_the_primary_drops_the_copy() {
    let p = primary("t053-drop-primary");
    let s = Node::syncing_standby("t053-drop-standby", &p, "sb1_slot");
    wait_worker_connected(&p, &s);
    without_cycle(
        &p,
        "a drop",
        |i| {
            let name = format!("gone_{i}");
            create_failover_slot(&p, &name);
            wait_value(
                &s,
                &format!("SELECT synced FROM pg_replication_slots WHERE slot_name = '{name}'"),
                "t",
            );
            p.safe_psql(&format!("SELECT pg_drop_replication_slot('{name}')"));
        },
        |i| {
            wait_value(
                &s,
                &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'gone_{i}'"),
                "0",
            )
        },
    );
}

#[test]
fn records_are_ignored_without_the_worker() {
    let p = primary("t053-off-primary");
    let mut s = Node::failover_standby("t053-off-standby", &p, "sb1_slot", false);
    s.start();
    let before = p.safe_psql("SELECT pg_current_wal_lsn()");
    create_failover_slot(&p, "quiet");
    // the slot's creation writes no WAL of its own: what follows is its
    // SLOT_STATE record
    let lsn = wait_for("the SLOT_STATE record", DEADLINE, || {
        let now = p.safe_psql("SELECT pg_current_wal_lsn()");
        (now != before).then_some(now)
    });
    wait_value(
        &s,
        &format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'"),
        "t",
    );
    assert_eq!(
        s.safe_psql("SELECT count(*) FROM pg_replication_slots WHERE synced"),
        "0"
    );
    // pg_sync_replication_slots() keeps its meaning
    s.safe_psql("SELECT pg_sync_replication_slots()");
    assert_eq!(
        s.safe_psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'quiet' AND synced AND NOT temporary"),
        "1"
    );
}

/// Slot state replayed while the worker is away (its connection to the
/// primary broke: the primary's shutdown ends it before the primary writes
/// its final slot state) is kept, and applied when the standby is promoted.
#[test]
fn state_replayed_while_the_worker_is_away_is_applied_at_promotion() {
    let p = primary("t053-away-primary");
    let mut s = Node::syncing_standby("t053-away-standby", &p, "sb1_slot");
    wait_worker_connected(&p, &s);
    create_failover_slot(&p, "kept");
    let ready =
        "SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'kept'";
    wait_value(&s, ready, "t");
    let worker_here =
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'slotsync worker'";
    // A worker whose connection broke starts again at most once per 10 s:
    // each try moves the slot while the standby has no worker, and counts
    // only if no worker came back before the promotion began.
    let mut moved = None;
    for value in 0..4 {
        wait_value(&s, worker_here, "1");
        p.safe_psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity              WHERE application_name LIKE '%slotsync worker'",
        );
        // a reload wakes the napping worker, whose next query fails
        s.safe_psql("SELECT pg_reload_conf()");
        wait_value(&s, worker_here, "0");
        p.safe_psql(&format!("INSERT INTO t VALUES ({value})"));
        let target = p.safe_psql("SELECT pg_current_wal_lsn()");
        p.safe_psql(&format!(
            "SELECT pg_replication_slot_advance('kept', '{target}')"
        ));
        let end = p.safe_psql("SELECT pg_current_wal_lsn()");
        wait_value(
            &s,
            &format!("SELECT pg_last_wal_replay_lsn() >= '{end}'"),
            "t",
        );
        if s.safe_psql(worker_here) == "0" {
            moved = Some(target);
            break;
        }
    }
    let target = moved.expect("every try saw the slot sync worker come back");
    assert_eq!(
        s.safe_psql(&format!("SELECT confirmed_flush_lsn < '{target}' FROM pg_replication_slots WHERE slot_name = 'kept'")),
        "t",
        "the copy moved with no worker running"
    );
    s.safe_psql("SELECT pg_promote()");
    assert_eq!(
        slot_field(&s, "kept", "confirmed_flush_lsn"),
        slot_field(&p, "kept", "confirmed_flush_lsn")
    );
    assert_eq!(slot_field(&s, "kept", "synced"), "t");
    assert_eq!(slot_field(&s, "kept", "temporary"), "f");
    s.stop();
}

#[test]
fn a_cascading_standby_applies_pushed_state_without_a_connection_cycle() {
    let p = primary("t053-cas-primary");
    // the upstream standby logs every statement too (its configuration is
    // the primary's): the cascade's connection cycles show there
    let s1 = Node::syncing_standby("t053-cas-s1", &p, "sb1_slot");
    let c = cascading_standby("t053-cas-c", &p, &s1);
    wait_worker_connected(&s1, &c);
    create_failover_slot(&p, "sub");
    let ready = "SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'sub'";
    wait_value(&s1, ready, "t");
    wait_value(&c, ready, "t");

    // The copy on the cascade is never ahead of what the cascade flushed:
    // checked on every poll while the slot moves.
    let never_ahead = || {
        assert_eq!(
            c.safe_psql(
                "SELECT count(*) FROM pg_replication_slots WHERE synced AND \
                 confirmed_flush_lsn > coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
            ),
            "0",
            "a synced copy on the cascade is ahead of its flushed WAL"
        );
    };
    // the slot advances on the primary; the cascade shows it with no
    // connection cycle of its worker (against s1) in between
    let mut value = 0;
    without_cycle(
        &s1,
        "an advance seen by the cascade",
        |_| {
            value += 1;
            p.safe_psql(&format!("INSERT INTO t VALUES ({value})"));
            p.safe_psql("SELECT pg_replication_slot_advance('sub', pg_current_wal_lsn())");
        },
        |_| {
            let target = slot_field(&p, "sub", "confirmed_flush_lsn");
            wait_for("the advance on the cascade", DEADLINE, || {
                never_ahead();
                (c.safe_psql(&format!(
                    "SELECT confirmed_flush_lsn >= '{target}' FROM pg_replication_slots \
                     WHERE slot_name = 'sub'"
                )) == "t")
                    .then_some(())
            });
        },
    );
    never_ahead();
    // the same record reached the middle standby too
    assert_eq!(
        s1.safe_psql(&format!(
            "SELECT confirmed_flush_lsn >= '{}' FROM pg_replication_slots WHERE slot_name = 'sub'",
            slot_field(&p, "sub", "confirmed_flush_lsn")
        )),
        "t"
    );
}
