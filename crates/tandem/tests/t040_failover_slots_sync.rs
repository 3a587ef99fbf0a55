//! Failover slot synchronization (PostgreSQL's
//! `src/test/recovery/t/040_standby_failover_slots_sync.pl`; tests carry its
//! scenario numbers): logical slots created with `failover => true` on a
//! primary are copied to a standby by `pg_sync_replication_slots()` or by the
//! slot sync worker (`sync_replication_slots = on`), follow the primary's
//! slot, and after promotion give exactly the changes the old primary's
//! consumer had not confirmed.

use tandem_testkit::failover::slot_field;
use tandem_testkit::{log_errors, wait_for, wait_for_replay, wait_value, Node, DEADLINE};

/// psql's stderr for `sql`, which must fail.
fn psql_error(node: &Node, sql: &str) -> String {
    let out = node.psql(sql);
    assert!(!out.status.success(), "{sql} succeeded on {}", node.name);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Rewrites `primary_conninfo` in the standby's `postgresql.auto.conf`
/// (where `basebackup -R` put it; it wins over `postgresql.conf`).
fn set_primary_conninfo(s: &Node, conninfo: &str) {
    let path = s.datadir.join("postgresql.auto.conf");
    let text = std::fs::read_to_string(&path).expect("read postgresql.auto.conf");
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("primary_conninfo"))
        .map(str::to_string)
        .collect();
    out.push(format!("primary_conninfo = '{conninfo}'"));
    std::fs::write(&path, out.join("\n") + "\n").expect("write postgresql.auto.conf");
}

/// Waits until the node's log holds every line of `wanted`, in that order,
/// after byte `from`; returns the offset after the last one.
fn wait_for_log_in_order(node: &Node, from: usize, wanted: &[&str]) -> usize {
    wait_for(
        &format!("{:?} in the log of {}", wanted, node.name),
        DEADLINE,
        || {
            let log = node.log();
            let mut at = from.min(log.len());
            for w in wanted {
                at += log.get(at..)?.find(w)? + w.len();
            }
            Some(at)
        },
    )
}

/// Primary with two failover slots (different plugins) and a started
/// standby that has replayed their creation.
fn pair(prefix: &str) -> (Node, Node) {
    let p = Node::logical_primary(&format!("{prefix}-primary"));
    let mut s = Node::failover_standby(&format!("{prefix}-standby"), &p, "sb1_slot", false);
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub1_slot', 'pgoutput', false, false, true)",
    );
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub2_slot', 'test_decoding', false, false, true)",
    );
    s.start();
    wait_for_replay(&p, &s);
    (p, s)
}

#[test]
fn scenario_04_function_rejected_on_primary() {
    let p = Node::logical_primary("t040-s04");
    let err = psql_error(&p, "SELECT pg_sync_replication_slots()");
    assert!(
        err.contains("ERROR:  replication slots can only be synchronized to a standby server"),
        "{err}"
    );
}

#[test]
fn scenario_05_slots_with_different_plugins_are_synced() {
    let (p, s) = pair("t040-s05");
    assert_eq!(s.safe_psql("SELECT pg_sync_replication_slots()"), "");
    assert_eq!(
        s.safe_psql(
            "SELECT count(*) = 2 FROM pg_replication_slots WHERE slot_name IN \
             ('lsub1_slot', 'lsub2_slot') AND synced AND NOT temporary"
        ),
        "t"
    );
    assert_eq!(
        s.safe_psql(
            "SELECT slot_name, plugin, failover, active, inactive_since IS NOT NULL \
             FROM pg_replication_slots WHERE slot_type = 'logical' ORDER BY slot_name"
        ),
        "lsub1_slot|pgoutput|t|f|t\nlsub2_slot|test_decoding|t|f|t"
    );
    // the positions are the primary's
    let q = "SELECT slot_name, confirmed_flush_lsn, restart_lsn FROM pg_replication_slots \
             WHERE slot_type = 'logical' ORDER BY slot_name";
    assert_eq!(s.safe_psql(q), p.safe_psql(q));
    let log = s.log();
    assert!(
        log.contains("newly created replication slot \"lsub1_slot\" is sync-ready now"),
        "{log}"
    );
    // a second call changes nothing and keeps them
    s.safe_psql("SELECT pg_sync_replication_slots()");
    assert_eq!(
        s.safe_psql("SELECT count(*) FROM pg_replication_slots WHERE synced"),
        "2"
    );
}

#[test]
fn scenario_06_remote_drop_propagates() {
    let (p, s) = pair("t040-s06");
    s.safe_psql("SELECT pg_sync_replication_slots()");
    p.safe_psql("SELECT pg_drop_replication_slot('lsub2_slot')");
    s.safe_psql("SELECT pg_sync_replication_slots()");
    assert_eq!(
        s.safe_psql("SELECT count(*) = 0 FROM pg_replication_slots WHERE slot_name = 'lsub2_slot'"),
        "t"
    );
    assert_eq!(
        s.safe_psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lsub1_slot'"),
        "1"
    );
    let log = s.log();
    assert!(
        log.contains("dropped replication slot \"lsub2_slot\" of database with OID 5"),
        "{log}"
    );
}

/// psql over a `replication=database` connection; (success, stderr).
fn repl_psql(node: &Node, command: &str) -> (bool, String) {
    let out = std::process::Command::new("psql")
        .args(["-X", "-A", "-t"])
        .arg(format!(
            "{} replication=database",
            node.conninfo("postgres")
        ))
        .args(["-c", command])
        .output()
        .unwrap_or_else(|e| panic!("psql: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn scenario_08_synced_slots_cannot_be_decoded_altered_or_dropped_on_a_standby() {
    let (p, s) = pair("t040-s08");
    s.safe_psql("SELECT pg_sync_replication_slots()");
    assert_eq!(
        s.safe_psql(
            "SELECT synced AND NOT temporary FROM pg_replication_slots \
             WHERE slot_name = 'lsub2_slot'"
        ),
        "t"
    );
    let detail = "DETAIL:  This replication slot is being synchronized from the primary server.";
    let e = psql_error(
        &s,
        "SELECT * FROM pg_logical_slot_get_changes('lsub2_slot', NULL, NULL)",
    );
    assert!(
        e.contains("ERROR:  cannot use replication slot \"lsub2_slot\" for logical decoding")
            && e.contains(detail)
            && e.contains("HINT:  Specify another replication slot."),
        "{e}"
    );
    let e = psql_error(
        &s,
        "SELECT pg_replication_slot_advance('lsub2_slot', pg_last_wal_replay_lsn())",
    );
    assert!(
        e.contains("ERROR:  cannot use replication slot \"lsub2_slot\" for logical decoding"),
        "{e}"
    );
    let (ok, e) = repl_psql(&s, "ALTER_REPLICATION_SLOT lsub2_slot (FAILOVER false)");
    assert!(!ok);
    assert!(
        e.contains("ERROR:  cannot alter replication slot \"lsub2_slot\"") && e.contains(detail),
        "{e}"
    );
    let e = psql_error(&s, "SELECT pg_drop_replication_slot('lsub2_slot')");
    assert!(
        e.contains("ERROR:  cannot drop replication slot \"lsub2_slot\"") && e.contains(detail),
        "{e}"
    );
    // after promotion the same slot is an ordinary one
    s.promote();
    s.safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('lsub2_slot', NULL, NULL)");
    s.safe_psql("SELECT pg_replication_slot_advance('lsub2_slot', pg_current_wal_lsn())");
    let (ok, e) = repl_psql(&s, "ALTER_REPLICATION_SLOT lsub2_slot (FAILOVER false)");
    assert!(ok, "{e}");
    assert_eq!(
        s.safe_psql(
            "SELECT synced, failover FROM pg_replication_slots WHERE slot_name = 'lsub2_slot'"
        ),
        "t|f"
    );
    s.safe_psql("SELECT pg_drop_replication_slot('lsub2_slot')");
    drop(p);
}

#[test]
fn scenario_09_dbname_is_required() {
    let (p, s) = pair("t040-s09");
    set_primary_conninfo(&s, &format!("host=127.0.0.1 port={} user=postgres", p.port));
    s.safe_psql("SELECT pg_reload_conf()");
    wait_value(
        &s,
        "SELECT position('dbname' in current_setting('primary_conninfo')) = 0",
        "t",
    );
    let err = psql_error(&s, "SELECT pg_sync_replication_slots()");
    assert!(
        err.contains(
            "ERROR:  replication slot synchronization requires \"dbname\" to be specified in \"primary_conninfo\""
        ),
        "{err}"
    );
    set_primary_conninfo(&s, &p.conninfo("postgres"));
    s.safe_psql("SELECT pg_reload_conf()");
    wait_value(
        &s,
        "SELECT position('dbname' in current_setting('primary_conninfo')) > 0",
        "t",
    );
    s.safe_psql("SELECT pg_sync_replication_slots()");
    assert_eq!(
        s.safe_psql("SELECT count(*) FROM pg_replication_slots WHERE synced"),
        "2"
    );
}

#[test]
fn parameter_checks_of_the_function() {
    let (_p, s) = pair("t040-params");
    s.append_conf("hot_standby_feedback = off");
    s.safe_psql("SELECT pg_reload_conf()");
    wait_value(&s, "SHOW hot_standby_feedback", "off");
    let err = psql_error(&s, "SELECT pg_sync_replication_slots()");
    assert!(
        err.contains(
            "ERROR:  replication slot synchronization requires \"hot_standby_feedback\" to be enabled"
        ),
        "{err}"
    );
}

#[test]
fn scenario_13_worker_reacts_to_guc_changes() {
    let (p, s) = pair("t040-s13");
    let start = s.log().len();
    s.append_conf("sync_replication_slots = on");
    s.safe_psql("SELECT pg_reload_conf()");
    let at = wait_for_log_in_order(&s, start, &["slot sync worker started"]);
    wait_value(
        &s,
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'slotsync worker'",
        "1",
    );
    // the worker syncs on its own
    wait_value(
        &s,
        "SELECT count(*) FROM pg_replication_slots WHERE synced AND NOT temporary",
        "2",
    );
    // and holds the right to sync
    let err = psql_error(&s, "SELECT pg_sync_replication_slots()");
    assert!(
        err.contains("ERROR:  cannot synchronize replication slots concurrently"),
        "{err}"
    );
    s.append_conf("hot_standby_feedback = off");
    s.safe_psql("SELECT pg_reload_conf()");
    let at = wait_for_log_in_order(
        &s,
        at,
        &[
            "replication slot synchronization worker will restart because of a parameter change",
            "replication slot synchronization requires \"hot_standby_feedback\" to be enabled",
        ],
    );
    s.append_conf("hot_standby_feedback = on");
    s.safe_psql("SELECT pg_reload_conf()");
    let at = wait_for_log_in_order(&s, at, &["slot sync worker started"]);
    // a new slot on the primary arrives through the restarted worker
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub3_slot', 'test_decoding', false, false, true)",
    );
    wait_value(
        &s,
        "SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'lsub3_slot'",
        "t",
    );
    s.append_conf("sync_replication_slots = off");
    s.safe_psql("SELECT pg_reload_conf()");
    wait_for_log_in_order(
        &s,
        at,
        &["replication slot synchronization worker will shut down because \"sync_replication_slots\" is disabled"],
    );
    wait_value(
        &s,
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'slotsync worker'",
        "0",
    );
    // the function may run again
    s.safe_psql("SELECT pg_sync_replication_slots()");
    let errors = log_errors(
        &s.log(),
        &["cannot synchronize replication slots concurrently"],
    );
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn scenario_14_worker_syncs_confirmed_flush_lsn() {
    let (p, mut s) = pair("t040-s14");
    s.append_conf("sync_replication_slots = on");
    s.safe_psql("SELECT pg_reload_conf()");
    wait_value(
        &s,
        "SELECT count(*) FROM pg_replication_slots WHERE synced AND NOT temporary",
        "2",
    );
    p.safe_psql("CREATE TABLE tab_int (a int PRIMARY KEY)");
    p.safe_psql("INSERT INTO tab_int SELECT generate_series(1, 10)");
    p.safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('lsub2_slot', NULL, NULL)");
    let cf = p.safe_psql(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'lsub2_slot'",
    );
    wait_value(
        &s,
        &format!(
            "SELECT '{cf}' = confirmed_flush_lsn FROM pg_replication_slots \
             WHERE slot_name = 'lsub2_slot' AND synced AND NOT temporary"
        ),
        "t",
    );
    // a fast shutdown stops the worker; the synced slots are persistent
    s.stop();
    s.start();
    assert_eq!(
        s.safe_psql(
            "SELECT slot_name, synced, temporary FROM pg_replication_slots \
             WHERE slot_type = 'logical' ORDER BY slot_name"
        ),
        "lsub1_slot|t|f\nlsub2_slot|t|f"
    );
    wait_value(
        &s,
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'slotsync worker'",
        "1",
    );
    // the worker's cycles raised no error
    let errors = log_errors(&s.log(), &[]);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn scenario_19_promoted_standby_decodes_only_unconsumed_changes() {
    let (p, s) = pair("t040-s19");
    s.append_conf("sync_replication_slots = on");
    s.safe_psql("SELECT pg_reload_conf()");
    p.safe_psql("CREATE TABLE tab_int (a int PRIMARY KEY)");
    for i in 1..=3 {
        p.safe_psql(&format!("INSERT INTO tab_int VALUES ({i})"));
    }
    // the old primary's consumer takes the first three
    let consumed = p.safe_psql(
        "SELECT count(*) FROM pg_logical_slot_get_changes('lsub2_slot', NULL, NULL) \
         WHERE data LIKE 'table public.tab_int: INSERT:%'",
    );
    assert_eq!(consumed, "3");
    let cf = p.safe_psql(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'lsub2_slot'",
    );
    p.safe_psql("INSERT INTO tab_int VALUES (4)");
    p.safe_psql("INSERT INTO tab_int VALUES (5)");
    wait_value(
        &s,
        &format!(
            "SELECT '{cf}' = confirmed_flush_lsn FROM pg_replication_slots \
             WHERE slot_name = 'lsub2_slot' AND synced AND NOT temporary"
        ),
        "t",
    );
    wait_for_replay(&p, &s);
    // promoted while the primary still runs (as PostgreSQL's test does), so
    // the worker is connected and syncing when promotion stops it
    let before = s.log().len();
    s.promote();
    wait_for_log_in_order(
        &s,
        before,
        &["replication slot synchronization worker is shutting down because promotion is triggered"],
    );
    assert_eq!(
        s.safe_psql(
            "SELECT synced, temporary, failover, inactive_since IS NOT NULL \
             FROM pg_replication_slots WHERE slot_name = 'lsub2_slot'"
        ),
        "t|f|t|t"
    );
    let rest = s.safe_psql(
        "SELECT data FROM pg_logical_slot_get_changes('lsub2_slot', NULL, NULL, \
         'include-xids', '0') WHERE data LIKE 'table%'",
    );
    assert_eq!(
        rest,
        "table public.tab_int: INSERT: a[integer]:4\ntable public.tab_int: INSERT: a[integer]:5"
    );
    // the promoted node keeps decoding new changes through the slot
    s.safe_psql("INSERT INTO tab_int VALUES (6)");
    let more = s.safe_psql(
        "SELECT data FROM pg_logical_slot_get_changes('lsub2_slot', NULL, NULL, \
         'include-xids', '0') WHERE data LIKE 'table%'",
    );
    assert_eq!(more, "table public.tab_int: INSERT: a[integer]:6");
    // no worker on a primary
    assert_eq!(
        s.safe_psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'slotsync worker'"),
        "0"
    );
}

/// Scenario 10 inverted: PostgreSQL 17 refuses to sync from a standby
/// (`cannot synchronize replication slots from a standby server`); tandem
/// syncs a cascading standby from its upstream standby's synced slots.
#[test]
fn scenario_10_cascade_syncs_from_its_upstream_standby() {
    // tandem takes no base backup from a standby, so the cascading node is a
    // second standby of the same primary, re-pointed at the first standby
    // with a physical slot made there
    let (p, s1) = pair("t040-s10");
    s1.safe_psql("SELECT pg_create_physical_replication_slot('cascade_slot', true)");
    let mut c = Node::failover_standby("t040-s10-cascading", &p, "cascading_sb_slot", false);
    c.start();
    set_primary_conninfo(&c, &s1.conninfo("postgres"));
    c.safe_psql("ALTER SYSTEM SET primary_slot_name = 'cascade_slot'");
    c.safe_psql("SELECT pg_reload_conf()");
    wait_value(
        &s1,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'cascade_slot'",
        "t",
    );
    // nothing to sync yet: the upstream has no synced slot
    c.safe_psql("SELECT pg_sync_replication_slots()");
    assert_eq!(
        c.safe_psql("SELECT count(*) FROM pg_replication_slots WHERE slot_type = 'logical'"),
        "0"
    );
    // the cascade's base backup starts after the slots' creation: it can
    // hold them once they have moved past its oldest WAL
    // (advancing a pgoutput slot needs no plugin options: fast-forward
    // decoding runs no plugin, as in PostgreSQL)
    p.safe_psql(
        "SELECT count(*) FROM (SELECT pg_replication_slot_advance(slot_name, pg_current_wal_lsn()) \
         FROM pg_replication_slots WHERE slot_type = 'logical') a",
    );
    wait_for_replay(&p, &c);
    s1.safe_psql("SELECT pg_sync_replication_slots()");
    assert_eq!(
        s1.safe_psql(
            "SELECT slot_name, failover, temporary FROM pg_replication_slots \
             WHERE slot_type = 'logical' ORDER BY slot_name"
        ),
        "lsub1_slot|t|f\nlsub2_slot|t|f"
    );
    c.safe_psql("SELECT pg_sync_replication_slots()");
    let q = "SELECT slot_name, plugin, synced, temporary, restart_lsn, confirmed_flush_lsn \
             FROM pg_replication_slots WHERE slot_type = 'logical' ORDER BY slot_name";
    assert_eq!(c.safe_psql(q), s1.safe_psql(q));
    assert_eq!(
        c.safe_psql(
            "SELECT count(*) FROM pg_replication_slots WHERE synced AND NOT temporary \
             AND slot_type = 'logical'"
        ),
        "2"
    );
    // the primary's consumer moves on; the cascade follows through its upstream
    p.safe_psql("CREATE TABLE tab_int (a int)");
    p.safe_psql("INSERT INTO tab_int VALUES (1)");
    p.safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('lsub2_slot', NULL, NULL)");
    let cf = p.safe_psql(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'lsub2_slot'",
    );
    wait_for_replay(&p, &c);
    s1.safe_psql("SELECT pg_sync_replication_slots()");
    c.safe_psql("SELECT pg_sync_replication_slots()");
    assert_eq!(
        c.safe_psql(
            "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'lsub2_slot'"
        ),
        cf
    );
    // never ahead of what the cascade flushed
    assert_eq!(
        c.safe_psql(
            "SELECT bool_and(confirmed_flush_lsn <= pg_last_wal_receive_lsn()) \
             FROM pg_replication_slots WHERE synced AND slot_type = 'logical'"
        ),
        "t"
    );
    // primary_slot_name is still checked on the upstream standby
    c.safe_psql("ALTER SYSTEM SET primary_slot_name = 'no_such_slot'");
    c.safe_psql("SELECT pg_reload_conf()");
    wait_value(&c, "SHOW primary_slot_name", "no_such_slot");
    let err = psql_error(&c, "SELECT pg_sync_replication_slots()");
    assert!(
        err.contains(
            "ERROR:  replication slot \"no_such_slot\" specified by \"primary_slot_name\" does not exist on primary server"
        ),
        "{err}"
    );
}

/// A user slot on the standby with a failover slot's name is left alone and
/// reported; the other slots are still synchronized (tandem reports per slot
/// where PostgreSQL aborts the cycle).
#[test]
fn user_slot_with_the_same_name_is_reported() {
    let (_p, s) = pair("t040-clash");
    s.safe_psql("SELECT pg_create_logical_replication_slot('lsub1_slot', 'test_decoding')");
    let err = psql_error(&s, "SELECT pg_sync_replication_slots()");
    assert!(
        err.contains(
            "ERROR:  exiting from slot synchronization because same name slot \"lsub1_slot\" already exists on the standby"
        ),
        "{err}"
    );
    assert_eq!(
        s.safe_psql(
            "SELECT slot_name, synced, temporary FROM pg_replication_slots \
             WHERE slot_type = 'logical' ORDER BY slot_name"
        ),
        "lsub1_slot|f|f\nlsub2_slot|t|f"
    );
}

/// A subscriber node for the subscription scenarios.
fn subscriber(name: &str) -> Node {
    let mut sub = Node::init(name);
    sub.start();
    sub
}

#[test]
fn scenarios_01_to_03_subscription_failover_option() {
    let p = Node::logical_primary("t040-s01-primary");
    p.safe_psql("CREATE PUBLICATION regress_mypub FOR ALL TABLES");
    let sub = subscriber("t040-s01-sub");
    // 1. CREATE SUBSCRIPTION with failover sets the slot's failover flag
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION regress_mysub1 CONNECTION '{}' PUBLICATION regress_mypub \
         WITH (slot_name = lsub1_slot, copy_data = false, failover = true, enabled = false)",
        p.conninfo("postgres")
    ));
    assert_eq!(slot_field(&p, "lsub1_slot", "failover"), "t");
    // 2. ALTER SUBSCRIPTION toggles the slot
    sub.safe_psql("ALTER SUBSCRIPTION regress_mysub1 SET (failover = false)");
    assert_eq!(slot_field(&p, "lsub1_slot", "failover"), "f");
    sub.safe_psql("ALTER SUBSCRIPTION regress_mysub1 SET (failover = true)");
    assert_eq!(slot_field(&p, "lsub1_slot", "failover"), "t");
    // 3. the option cannot change on an enabled subscription
    sub.safe_psql("ALTER SUBSCRIPTION regress_mysub1 ENABLE");
    let e = psql_error(
        &sub,
        "ALTER SUBSCRIPTION regress_mysub1 SET (failover = false)",
    );
    assert!(
        e.contains("ERROR:  cannot set failover for enabled subscription"),
        "{e}"
    );
    assert_eq!(slot_field(&p, "lsub1_slot", "failover"), "t");
}

#[test]
fn scenario_11_synced_slot_after_running_transactions_and_advance() {
    let (p, s) = pair("t040-s11");
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('snap_test_slot', 'test_decoding', false, false, true)",
    );
    wait_for_replay(&p, &s);
    s.safe_psql("SELECT pg_sync_replication_slots()");
    for _ in 0..2 {
        p.safe_psql("BEGIN; SELECT txid_current(); SELECT pg_log_standby_snapshot(); COMMIT;");
    }
    p.safe_psql("SELECT pg_replication_slot_advance('snap_test_slot', pg_current_wal_lsn())");
    wait_for_replay(&p, &s);
    p.safe_psql("SELECT pg_logical_emit_message(false, 'test', 'test')");
    let cf = p.safe_psql(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'snap_test_slot'",
    );
    s.safe_psql("SELECT pg_sync_replication_slots()");
    wait_value(
        &s,
        &format!(
            "SELECT '{cf}' = confirmed_flush_lsn FROM pg_replication_slots \
             WHERE slot_name = 'snap_test_slot' AND synced AND NOT temporary"
        ),
        "t",
    );
}
