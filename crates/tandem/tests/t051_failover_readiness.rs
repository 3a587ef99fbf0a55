//! Failover readiness in one query: `pg_failover_readiness` on a standby says
//! for each failover slot of the primary whether this standby's copy would
//! let its consumer resume after a promotion, and why not; on the primary,
//! `pg_failover_slot_standbys` says which standby could take each failover
//! slot over. Every reason comes from a real situation: a standby whose
//! replication connection the primary refuses (not streaming, a new slot not
//! synced yet, a consumer ahead of the standby), a primary that does not list
//! the standby in `synchronized_standby_slots`, WAL removed on the standby
//! before a slot could be synced (temporary) or after (invalidated), a user
//! slot holding the name, and slot sync turned off; a change of the primary's
//! `synchronized_standby_slots` shows on the standby at once, without a sync
//! cycle. The skip reasons also show
//! in `pg_replication_slots.slotsync_skip_reason` and count in
//! `pg_stat_replication_slots`.

use std::time::{Duration, Instant};
use tandem_testkit::failover::{cascading_standby, fill_wal, refuse_replication};

use tandem_testkit::{wait_for, wait_for_replay, wait_value, Node, DEADLINE};

/// Sets a reloadable setting in `postgresql.conf` (the last line wins) and
/// reloads; on a standby the reload also wakes the slot sync worker, so a
/// cycle runs soon.
fn set(node: &Node, setting: &str, value: &str) {
    node.append_conf(&format!("{setting} = '{value}'"));
    node.safe_psql("SELECT pg_reload_conf()");
    wait_value(node, &format!("SHOW {setting}"), value);
}

/// Wakes the standby's slot sync worker for a new cycle.
fn wake_sync(s: &Node) {
    s.safe_psql("SELECT pg_reload_conf()");
}

/// `slot|ready|reason|lag_bytes` of one row of `pg_failover_readiness`.
fn readiness(s: &Node, slot: &str) -> String {
    s.safe_psql(&format!(
        "SELECT slot_name, ready, reason, lag_bytes FROM pg_failover_readiness \
         WHERE slot_name = '{slot}'"
    ))
}

/// Waits until the standby's readiness row of `slot` has reason `reason`
/// (NULL: ready), waking the worker on each poll; returns the row.
fn wait_reason(s: &Node, slot: &str, reason: Option<&str>) -> String {
    let cond = match reason {
        None => "ready AND reason IS NULL".to_string(),
        Some(r) => format!("NOT ready AND reason LIKE '{}'", r.replace('\'', "''")),
    };
    let mut polls = 0u32;
    wait_for(
        &format!("{slot}: {reason:?} in pg_failover_readiness of {}", s.name),
        DEADLINE,
        || {
            let out = s.psql(&format!(
                "SELECT {cond} FROM pg_failover_readiness WHERE slot_name = '{slot}'"
            ));
            if String::from_utf8_lossy(&out.stdout).trim() == "t" {
                return Some(readiness(s, slot));
            }
            polls += 1;
            if polls.is_multiple_of(10) {
                wake_sync(s);
            }
            None
        },
    )
}

/// PostgreSQL 17's documented readiness check.
fn pg17_check(s: &Node, slot: &str) -> String {
    s.safe_psql(&format!(
        "SELECT synced AND NOT temporary AND NOT conflicting FROM pg_replication_slots \
         WHERE slot_name = '{slot}'"
    ))
}

/// `slot|standby|could_take_over|reason` rows of the primary's view.
fn standbys(p: &Node) -> String {
    p.safe_psql(
        "SELECT slot_name, standby_slot, could_take_over, reason \
         FROM pg_failover_slot_standbys ORDER BY 1, 2",
    )
}

#[test]
fn a_streaming_standby_through_its_states() {
    let p = Node::logical_primary("t051-states-primary");
    let mut s = Node::failover_standby("t051-states-standby", &p, "sb1_slot", false);
    set(&p, "synchronized_standby_slots", "sb1_slot");
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub1_slot', 'test_decoding', false, false, true)",
    );
    p.safe_psql("CREATE TABLE t (a int PRIMARY KEY)");
    s.append_conf("sync_replication_slots = on");
    s.start();
    wait_for_replay(&p, &s);

    // healthy: synced, persistent, caught up, streaming, syncing, listed
    assert_eq!(wait_reason(&s, "lsub1_slot", None), "lsub1_slot|t||0");
    assert_eq!(
        s.safe_psql(
            "SELECT last_sync IS NOT NULL AND last_sync <= now() FROM pg_failover_readiness"
        ),
        "t"
    );
    assert_eq!(pg17_check(&s, "lsub1_slot"), "t");
    assert_eq!(
        s.safe_psql(
            "SELECT slotsync_skip_reason IS NULL FROM pg_replication_slots \
             WHERE slot_name = 'lsub1_slot'"
        ),
        "t"
    );
    // the primary: that standby could take the slot over; the primary has no
    // readiness rows (it is not a standby), the standby no takeover rows
    wait_value(
        &p,
        "SELECT count(*) FROM pg_failover_slot_standbys WHERE could_take_over",
        "1",
    );
    assert_eq!(standbys(&p), "lsub1_slot|sb1_slot|t|");
    assert_eq!(
        p.safe_psql(
            "SELECT standby_flush_lsn >= slot_confirmed_flush_lsn FROM pg_failover_slot_standbys"
        ),
        "t"
    );
    assert_eq!(
        p.safe_psql("SELECT count(*) FROM pg_failover_readiness"),
        "0"
    );
    assert_eq!(
        s.safe_psql("SELECT count(*) FROM pg_failover_slot_standbys"),
        "0"
    );

    // the primary no longer waits for this standby
    set(&p, "synchronized_standby_slots", "");
    wait_reason(
        &s,
        "lsub1_slot",
        Some("this standby is not in the primary's synchronized_standby_slots"),
    );
    assert_eq!(pg17_check(&s, "lsub1_slot"), "t");
    assert_eq!(
        standbys(&p),
        "lsub1_slot|sb1_slot|f|not in synchronized_standby_slots"
    );

    // the standby stops streaming (the primary refuses its replication
    // connection); slot sync, an ordinary connection, goes on
    refuse_replication(&p, true, true);
    wait_value(
        &s,
        "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'",
        "0",
    );
    assert_eq!(
        wait_reason(&s, "lsub1_slot", Some("standby not streaming")),
        "lsub1_slot|f|standby not streaming|0"
    );
    // unlisted and gone: the primary does not count it; listed, it shows
    assert_eq!(standbys(&p), "");
    set(&p, "synchronized_standby_slots", "sb1_slot");
    assert_eq!(standbys(&p), "lsub1_slot|sb1_slot|f|standby not connected");
    set(&p, "synchronized_standby_slots", "");

    // meanwhile on the primary: the consumer gets ahead of the standby, and a
    // new failover slot appears that the standby has not received yet
    p.safe_psql("INSERT INTO t SELECT generate_series(1, 10)");
    p.safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('lsub1_slot', NULL, NULL)");
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub2_slot', 'test_decoding', false, false, true)",
    );
    let row = wait_reason(
        &s,
        "lsub1_slot",
        Some("behind the primary by % bytes (wal_not_flushed)"),
    );
    let lag: i64 = row.rsplit('|').next().unwrap_or("").parse().unwrap_or(0);
    assert!(lag > 0, "{row}");
    assert_eq!(
        row,
        format!("lsub1_slot|f|behind the primary by {lag} bytes (wal_not_flushed)|{lag}")
    );
    assert_eq!(
        wait_reason(&s, "lsub2_slot", Some("not synced yet")),
        "lsub2_slot|f|not synced yet|"
    );
    // PostgreSQL 17's check sees nothing wrong with the lagging copy
    assert_eq!(pg17_check(&s, "lsub1_slot"), "t");
    assert_eq!(
        s.safe_psql(
            "SELECT slotsync_skip_reason FROM pg_replication_slots WHERE slot_name = 'lsub1_slot'"
        ),
        "wal_not_flushed"
    );
    assert_eq!(
        s.safe_psql(
            "SELECT slotsync_skip_count > 0, slotsync_last_skip IS NOT NULL \
             FROM pg_stat_replication_slots WHERE slot_name = 'lsub1_slot'"
        ),
        "t|t"
    );

    // streaming again and listed again: both ready, the skip history kept
    refuse_replication(&p, false, true);
    set(&p, "synchronized_standby_slots", "sb1_slot");
    wait_for_replay(&p, &s);
    assert_eq!(wait_reason(&s, "lsub1_slot", None), "lsub1_slot|t||0");
    assert_eq!(wait_reason(&s, "lsub2_slot", None), "lsub2_slot|t||0");
    assert_eq!(
        s.safe_psql(
            "SELECT slotsync_skip_reason IS NULL, slotsync_skip_count > 0 \
             FROM pg_replication_slots r JOIN pg_stat_replication_slots USING (slot_name) \
             WHERE slot_name = 'lsub1_slot'"
        ),
        "t|t"
    );
    wait_value(
        &p,
        "SELECT count(*) FROM pg_failover_slot_standbys WHERE could_take_over",
        "2",
    );

    // slot sync turned off: the copies are no longer kept up to date
    set(&s, "sync_replication_slots", "off");
    wait_value(
        &s,
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'slotsync worker'",
        "0",
    );
    assert_eq!(
        wait_reason(&s, "lsub1_slot", Some("slot sync not running")),
        "lsub1_slot|f|slot sync not running|0"
    );
}

/// `last_sync` of `slot` in the standby's `pg_failover_readiness`: the time
/// of the worker's last connection cycle.
fn last_sync(s: &Node, slot: &str) -> String {
    s.safe_psql(&format!(
        "SELECT last_sync FROM pg_failover_readiness WHERE slot_name = '{slot}'"
    ))
}

/// Waits until the standby's slot sync worker naps long: it naps 200 ms after
/// a cycle that changed something, doubling up to 30 s while nothing does, so
/// once two cycles were at least 6 s apart the next one is at least 12.8 s
/// away. Nothing may wake it meanwhile (no reload of the standby).
fn wait_for_long_nap(s: &Node, slot: &str) {
    let mut seen = last_sync(s, slot);
    let mut since = Instant::now();
    wait_for(
        &format!("two sync cycles of {} 6 s apart", s.name),
        DEADLINE,
        || {
            let now = last_sync(s, slot);
            if now == seen {
                return None;
            }
            let gap = since.elapsed();
            seen = now;
            since = Instant::now();
            (gap >= Duration::from_secs(6)).then_some(())
        },
    );
}

/// The primary changes `synchronized_standby_slots` (ALTER SYSTEM and a
/// reload) while the standby's slot sync worker naps: the standby's readiness
/// follows at once, from the SLOT_STATE record carrying the setting, not at
/// the worker's next cycle (`last_sync` does not move).
#[test]
fn a_change_of_the_primary_setting_shows_without_a_cycle() {
    let p = Node::logical_primary("t051-listed-primary");
    let mut s = Node::failover_standby("t051-listed-standby", &p, "sb1_slot", false);
    let alter = |value: &str| alter_standby_slots(&p, value);
    alter("sb1_slot");
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub1_slot', 'test_decoding', false, false, true)",
    );
    s.append_conf("sync_replication_slots = on");
    s.start();
    wait_for_replay(&p, &s);
    assert_eq!(wait_reason(&s, "lsub1_slot", None), "lsub1_slot|t||0");

    wait_for_long_nap(&s, "lsub1_slot");
    let cycle = last_sync(&s, "lsub1_slot");
    let within = Duration::from_secs(5);
    let reason_is = |cond: &str| {
        s.psql(&format!(
            "SELECT {cond} FROM pg_failover_readiness WHERE slot_name = 'lsub1_slot'"
        ))
        .stdout
        .starts_with(b"t")
    };
    alter("");
    wait_for("the standby to see it is no longer listed", within, || {
        reason_is(
            "NOT ready AND reason = 'this standby is not in the primary''s synchronized_standby_slots'",
        )
        .then_some(())
    });
    // listed again: ready again
    alter("sb1_slot");
    wait_for("the standby to see it is listed again", within, || {
        reason_is("ready AND reason IS NULL").then_some(())
    });
    // both from the records: no connection cycle ran meanwhile
    assert_eq!(last_sync(&s, "lsub1_slot"), cycle);
}

/// `ALTER SYSTEM SET synchronized_standby_slots` and a reload on `node`.
fn alter_standby_slots(node: &Node, value: &str) {
    node.safe_psql(&format!(
        "ALTER SYSTEM SET synchronized_standby_slots = '{value}'"
    ));
    node.safe_psql("SELECT pg_reload_conf()");
    wait_value(node, "SHOW synchronized_standby_slots", value);
}

/// Primary P -> standby S1 -> cascading standby C (through `cascade_slot`
/// on S1). The records C replays carry P's setting, which would name
/// `cascade_slot` here: C judges with its upstream's own setting instead.
/// Once S1 is promoted, its records (new timeline) are S1's setting, and C
/// follows a change of it with no sync cycle.
#[test]
fn a_cascade_judges_with_its_upstreams_setting() {
    let mut p = Node::logical_primary("t051-cascade-primary");
    alter_standby_slots(&p, "sb1_slot");
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub1_slot', 'test_decoding', false, false, true)",
    );
    let s1 = Node::syncing_standby("t051-cascade-s1", &p, "sb1_slot");
    let c = cascading_standby("t051-cascade-c", &p, &s1);
    let not_listed = "this standby is not in the primary's synchronized_standby_slots";
    // the slot moves past the WAL the standbys were made from, so both can
    // copy it
    p.safe_psql("CREATE TABLE t (a int PRIMARY KEY)");
    p.safe_psql("INSERT INTO t VALUES (1)");
    p.safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('lsub1_slot', NULL, NULL)");
    // every other check passes on C: only the listing is missing (S1's
    // synchronized_standby_slots is empty)
    wait_reason(&c, "lsub1_slot", Some(not_listed));

    wait_for_long_nap(&c, "lsub1_slot");
    let cycle = last_sync(&c, "lsub1_slot");
    // P's record names cascade_slot: not S1's setting, so not listed
    alter_standby_slots(&p, "sb1_slot, cascade_slot");
    wait_for_replay(&p, &c);
    assert_eq!(
        readiness(&c, "lsub1_slot"),
        format!("lsub1_slot|f|{not_listed}|0")
    );

    // S1 promoted, then lists C: C follows from S1's record
    p.stop();
    s1.promote();
    alter_standby_slots(&s1, "cascade_slot");
    wait_for(
        "the cascade to see it is listed by its promoted upstream",
        Duration::from_secs(5),
        || {
            c.psql(
                "SELECT ready AND reason IS NULL FROM pg_failover_readiness \
                 WHERE slot_name = 'lsub1_slot'",
            )
            .stdout
            .starts_with(b"t")
            .then_some(())
        },
    );
    assert_eq!(last_sync(&c, "lsub1_slot"), cycle);
}

/// A slot whose WAL the standby removed before it could be synced: the
/// function's copy goes with its call (not synced yet), the worker's stays
/// temporary.
#[test]
fn wal_gone_here_before_the_first_sync() {
    let p = Node::logical_primary("t051-temp-primary");
    set(&p, "synchronized_standby_slots", "sb1_slot");
    let mut s = Node::failover_standby("t051-temp-standby", &p, "sb1_slot", false);
    s.start();
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub1_slot', 'test_decoding', false, false, true)",
    );
    // the slot lags on the primary while the standby removes that WAL
    fill_wal(&p, 3);
    p.safe_psql("CHECKPOINT");
    wait_for_replay(&p, &s);
    s.safe_psql("CHECKPOINT");

    s.safe_psql("SELECT pg_sync_replication_slots()");
    assert_eq!(readiness(&s, "lsub1_slot"), "lsub1_slot|f|not synced yet|");
    assert_eq!(
        s.safe_psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lsub1_slot'"),
        "0"
    );

    set(&s, "sync_replication_slots", "on");
    let row = wait_reason(&s, "lsub1_slot", Some("temporary (not sync-ready)"));
    assert!(
        row.starts_with("lsub1_slot|f|temporary (not sync-ready)|"),
        "{row}"
    );
    assert_eq!(
        s.safe_psql(
            "SELECT temporary, synced, slotsync_skip_reason FROM pg_replication_slots \
             WHERE slot_name = 'lsub1_slot'"
        ),
        "t|t|wal_or_rows_removed"
    );
    wait_value(
        &s,
        "SELECT slotsync_skip_count > 1 FROM pg_stat_replication_slots \
         WHERE slot_name = 'lsub1_slot'",
        "t",
    );

    // once the slot moves on the primary, the copy becomes sync-ready
    p.safe_psql("INSERT INTO filler VALUES (-1, 'after')");
    p.safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('lsub1_slot', NULL, NULL)");
    wait_for_replay(&p, &s);
    assert_eq!(wait_reason(&s, "lsub1_slot", None), "lsub1_slot|t||0");
}

/// Synced by `pg_sync_replication_slots()` only: not kept up to date; a user
/// slot holding a failover slot's name; a copy invalidated here, which
/// PostgreSQL 17's documented check still calls ready.
#[test]
fn function_sync_user_slot_and_invalidated_copy() {
    let p = Node::logical_primary("t051-fn-primary");
    set(&p, "synchronized_standby_slots", "sb1_slot");
    let mut s = Node::failover_standby("t051-fn-standby", &p, "sb1_slot", false);
    for slot in ["lsub1_slot", "lsub2_slot"] {
        p.safe_psql(&format!(
            "SELECT pg_create_logical_replication_slot('{slot}', 'test_decoding', false, false, true)"
        ));
    }
    s.start();
    wait_for_replay(&p, &s);
    s.safe_psql("SELECT pg_create_logical_replication_slot('lsub2_slot', 'test_decoding')");
    let out = s.psql("SELECT pg_sync_replication_slots()");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("same name slot \"lsub2_slot\" already exists on the standby"),
        "{err}"
    );
    assert_eq!(
        s.safe_psql("SELECT slot_name, ready, reason FROM pg_failover_readiness ORDER BY 1"),
        "lsub1_slot|f|slot sync not running\nlsub2_slot|f|name_taken_by_user_slot"
    );
    assert_eq!(pg17_check(&s, "lsub1_slot"), "t");

    // WAL removed here past the copy's restart_lsn
    s.append_conf("max_slot_wal_keep_size = 64kB");
    s.safe_psql("SELECT pg_reload_conf()");
    wait_value(&s, "SHOW max_slot_wal_keep_size", "0");
    p.safe_psql("SELECT pg_switch_wal()");
    p.safe_psql("CHECKPOINT");
    wait_for_replay(&p, &s);
    s.safe_psql("CHECKPOINT");
    assert_eq!(
        s.safe_psql(
            "SELECT invalidation_reason, conflicting FROM pg_replication_slots \
             WHERE slot_name = 'lsub1_slot'"
        ),
        "wal_removed|f"
    );
    // PostgreSQL 17's check says ready; the copy cannot be used
    assert_eq!(pg17_check(&s, "lsub1_slot"), "t");
    assert_eq!(
        readiness(&s, "lsub1_slot"),
        "lsub1_slot|f|invalidated: wal_removed|0"
    );
}
