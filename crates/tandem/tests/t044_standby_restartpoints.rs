//! Restartpoints on a standby: `CHECKPOINT` on a standby, and its clean
//! shutdown, write an image as of a replayed transaction boundary (no WAL
//! record), the next start replays from there, old WAL segments go, and the
//! standby's own slots (synced failover slots) keep the WAL and catalog
//! history they need, invalidated past `max_slot_wal_keep_size` as on a
//! primary. Scenario numbers are those of PostgreSQL's
//! `src/test/recovery/t/040_standby_failover_slots_sync.pl`.

use std::path::Path;

use tandem_testkit::failover::{fill_wal, lsn};
use tandem_testkit::{wait_for, wait_for_replay, wait_value, Node, DEADLINE};

/// WAL segment size of these nodes (`--wal-segsize 1`).
const SEG: u64 = 1024 * 1024;

/// Waits until the node's log holds `wanted` after byte `from`; returns the
/// text that follows it up to the end of its line.
fn wait_for_log_line(node: &Node, from: usize, wanted: &str) -> String {
    wait_for(
        &format!("{wanted:?} in the log of {}", node.name),
        DEADLINE,
        || {
            let log = node.log();
            let rest = log.get(from.min(log.len())..)?;
            let at = rest.find(wanted)? + wanted.len();
            let line = rest[at..].lines().next().unwrap_or("");
            Some(line.trim().to_string())
        },
    )
}

/// The name of the timeline 1 segment file holding `lsn`.
fn segment_name(lsn: u64) -> String {
    let segno = lsn / SEG;
    let per_xlogid = 0x1_0000_0000 / SEG;
    format!(
        "{:08X}{:08X}{:08X}",
        1,
        segno / per_xlogid,
        segno % per_xlogid
    )
}

/// The WAL segment files in `datadir/pg_wal`, sorted.
fn segments(datadir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(datadir.join("pg_wal"))
        .unwrap_or_else(|e| panic!("read pg_wal: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 24 && n.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    names.sort();
    names
}

/// `CHECKPOINT` on a standby, then its log's `recovery restart point at`.
fn restartpoint(s: &Node) -> u64 {
    let before = s.log().len();
    s.safe_psql("CHECKPOINT");
    let line = wait_for_log_line(s, before, "recovery restart point at ");
    lsn(&line)
}

#[test]
fn restartpoints_on_checkpoint_and_shutdown_and_restart_from_them() {
    let p = Node::streaming_primary("t044-rp-primary");
    let mut s = Node::standby("t044-rp-standby", &p, "sb1_slot");
    s.start();
    p.safe_psql("CREATE TABLE t (a int PRIMARY KEY, b text)");
    p.safe_psql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) AS g");
    fill_wal(&p, 3);
    wait_for_replay(&p, &s);
    let oldest_before = segments(&s.datadir)[0].clone();
    let insert_before = s.safe_psql("SELECT pg_last_wal_receive_lsn()");

    // CHECKPOINT on the standby is a restartpoint
    let before = s.log().len();
    let redo = restartpoint(&s);
    let log = s.log()[before..].to_string();
    assert!(
        log.contains("LOG:  restartpoint starting: immediate force wait"),
        "{log}"
    );
    assert!(log.contains("LOG:  restartpoint complete: wrote "), "{log}");
    assert!(!log.contains("checkpoint starting"), "{log}");
    // the control data name it, and the record replayed last before it
    let (redo_lsn, last_record) = {
        let row = s.safe_psql("SELECT redo_lsn, checkpoint_lsn FROM pg_control_checkpoint()");
        let (a, b) = row.split_once('|').unwrap_or_else(|| panic!("{row}"));
        (lsn(a), lsn(b))
    };
    assert_eq!(redo_lsn, redo);
    assert!(last_record < redo);
    // the standby wrote no WAL of its own
    assert_eq!(
        s.safe_psql("SELECT pg_last_wal_receive_lsn()"),
        insert_before
    );
    // segments wholly before the restartpoint's are gone (the one holding
    // the record that ends at its redo stays)
    let after = segments(&s.datadir);
    assert!(
        !after.contains(&oldest_before),
        "{oldest_before} still in {after:?}"
    );
    assert_eq!(after[0], segment_name(last_record), "{after:?}");

    // a clean shutdown is a restartpoint too; the next start replays from it
    p.safe_psql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(101, 200) AS g");
    wait_for_replay(&p, &s);
    let before = s.log().len();
    s.stop();
    let log = s.log()[before..].to_string();
    assert!(
        log.contains("LOG:  restartpoint starting: shutdown immediate"),
        "{log}"
    );
    let shut_redo = lsn(&wait_for_log_line(&s, before, "recovery restart point at "));
    assert!(shut_redo > redo);
    let before = s.log().len();
    s.start();
    let start_at = lsn(&wait_for_log_line(&s, before, "redo starts at "));
    assert_eq!(start_at, shut_redo);
    assert_eq!(s.safe_psql("SELECT count(*), sum(a) FROM t"), "200|20100");

    // SIGKILL after a restartpoint: back from it, every committed row there
    p.safe_psql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(201, 300) AS g");
    fill_wal(&p, 2);
    wait_for_replay(&p, &s);
    let crash_redo = restartpoint(&s);
    assert!(crash_redo > shut_redo);
    p.safe_psql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(301, 400) AS g");
    p.safe_psql("UPDATE t SET b = 'u' WHERE a <= 10");
    p.safe_psql("DELETE FROM t WHERE a > 390");
    wait_for_replay(&p, &s);
    s.kill9();
    let before = s.log().len();
    s.start();
    let start_at = lsn(&wait_for_log_line(&s, before, "redo starts at "));
    assert_eq!(start_at, crash_redo);
    let q = "SELECT count(*), sum(a), count(*) FILTER (WHERE b = 'u') FROM t";
    assert_eq!(s.safe_psql(q), "390|76245|10");
    // and it keeps following the primary
    p.safe_psql("INSERT INTO t VALUES (1000, 'late')");
    wait_value(&s, "SELECT b FROM t WHERE a = 1000", "late");
    assert_eq!(s.safe_psql(q), p.safe_psql(q));
}

#[test]
fn scenario_07_locally_invalidated_slot_is_recreated() {
    let p = Node::logical_primary("t044-s07-primary");
    let mut s = Node::failover_standby("t044-s07-standby", &p, "sb1_slot", false);
    s.append_conf("log_min_messages = debug2");
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub1_slot', 'pgoutput', false, false, true)",
    );
    s.start();
    wait_for_replay(&p, &s);
    s.safe_psql("SELECT pg_sync_replication_slots()");
    assert_eq!(
        s.safe_psql("SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'lsub1_slot'"),
        "t"
    );
    s.append_conf("max_slot_wal_keep_size = 64kB");
    s.safe_psql("SELECT pg_reload_conf()");
    wait_value(&s, "SHOW max_slot_wal_keep_size", "0");
    p.safe_psql("SELECT pg_switch_wal()");
    p.safe_psql("CHECKPOINT");
    wait_for_replay(&p, &s);
    let before = s.log().len();
    restartpoint(&s);
    assert_eq!(
        s.safe_psql(
            "SELECT invalidation_reason = 'wal_removed' FROM pg_replication_slots \
             WHERE slot_name = 'lsub1_slot'"
        ),
        "t"
    );
    let log = s.log()[before..].to_string();
    assert!(
        log.contains("LOG:  invalidating obsolete replication slot \"lsub1_slot\""),
        "{log}"
    );
    assert!(
        log.contains("HINT:  You might need to increase \"max_slot_wal_keep_size\"."),
        "{log}"
    );
    assert_eq!(
        s.safe_psql("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'lsub1_slot'"),
        "lost"
    );

    s.append_conf("max_slot_wal_keep_size = -1");
    s.safe_psql("SELECT pg_reload_conf()");
    wait_value(&s, "SHOW max_slot_wal_keep_size", "-1");
    p.safe_psql("SELECT pg_drop_replication_slot('lsub1_slot')");
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub1_slot', 'pgoutput', false, false, true)",
    );
    wait_for_replay(&p, &s);
    let before = s.log().len();
    s.safe_psql("SELECT pg_sync_replication_slots()");
    wait_for_log_line(
        &s,
        before,
        "dropped replication slot \"lsub1_slot\" of database with OID 5",
    );
    assert_eq!(
        s.safe_psql(
            "SELECT invalidation_reason IS NULL AND synced AND NOT temporary \
             FROM pg_replication_slots WHERE slot_name = 'lsub1_slot'"
        ),
        "t"
    );
    // the re-created slot reserves WAL again, measured as on a primary
    assert_eq!(
        s.safe_psql(
            "SELECT wal_status, safe_wal_size IS NULL FROM pg_replication_slots \
             WHERE slot_name = 'lsub1_slot'"
        ),
        "reserved|t"
    );
}

#[test]
fn scenario_21_sync_skips_a_slot_whose_wal_is_gone_here() {
    let p = Node::logical_primary("t044-s21-primary");
    let mut s = Node::failover_standby("t044-s21-standby", &p, "sb1_slot", false);
    s.start();
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub1_slot', 'test_decoding', false, false, true)",
    );
    let remote_restart =
        p.safe_psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'lsub1_slot'");
    // the slot lags on the primary while the standby removes that WAL
    fill_wal(&p, 3);
    p.safe_psql("CHECKPOINT");
    wait_for_replay(&p, &s);
    restartpoint(&s);
    let oldest = segments(&s.datadir)[0].clone();
    assert!(oldest > segment_name(lsn(&remote_restart)), "{oldest}");

    let before = s.log().len();
    s.safe_psql("SELECT pg_sync_replication_slots()");
    let log = s.log()[before..].to_string();
    assert!(
        log.contains("LOG:  could not synchronize replication slot \"lsub1_slot\""),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "DETAIL:  Synchronization could lead to data loss, because the remote slot needs \
             WAL at LSN {remote_restart} and catalog xmin"
        )),
        "{log}"
    );
    // not sync-ready: the temporary slot the call made went with its session
    assert_eq!(
        s.safe_psql(
            "SELECT count(*) FROM pg_replication_slots \
             WHERE slot_name = 'lsub1_slot' AND NOT temporary"
        ),
        "0"
    );
    assert!(
        !log.contains("newly created replication slot \"lsub1_slot\" is sync-ready now"),
        "{log}"
    );

    // once the slot moves on the primary, it becomes sync-ready here
    p.safe_psql("INSERT INTO filler VALUES (-1, 'after')");
    p.safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('lsub1_slot', NULL, NULL)");
    let restart =
        p.safe_psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'lsub1_slot'");
    assert!(lsn(&restart) > lsn(&remote_restart));
    wait_for_replay(&p, &s);
    let before = s.log().len();
    s.safe_psql("SELECT pg_sync_replication_slots()");
    wait_for_log_line(
        &s,
        before,
        "newly created replication slot \"lsub1_slot\" is sync-ready now",
    );
    assert_eq!(
        s.safe_psql(
            "SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'lsub1_slot'"
        ),
        "t"
    );
}

#[test]
fn synced_slot_keeps_its_wal_across_restartpoints_sigkill_and_promotion() {
    let p = Node::logical_primary("t044-keep-primary");
    let mut s = Node::failover_standby("t044-keep-standby", &p, "sb1_slot", false);
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('lsub2_slot', 'test_decoding', false, false, true)",
    );
    s.start();
    p.safe_psql("CREATE TABLE tab_int (a int PRIMARY KEY)");
    fill_wal(&p, 2);
    for i in 1..=3 {
        p.safe_psql(&format!("INSERT INTO tab_int VALUES ({i})"));
    }
    // the old primary's consumer takes everything up to here
    p.safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('lsub2_slot', NULL, NULL)");
    // what it has not consumed: a definition change and rows after it
    p.safe_psql("ALTER TABLE tab_int ADD COLUMN b int");
    p.safe_psql("INSERT INTO tab_int VALUES (4, 40)");
    p.safe_psql("INSERT INTO tab_int VALUES (5, 50)");
    wait_for_replay(&p, &s);
    s.safe_psql("SELECT pg_sync_replication_slots()");
    let q = "SELECT restart_lsn, confirmed_flush_lsn FROM pg_replication_slots \
             WHERE slot_name = 'lsub2_slot'";
    assert_eq!(s.safe_psql(q), p.safe_psql(q));
    let restart = lsn(
        &s.safe_psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'lsub2_slot'")
    );
    let oldest_before = segments(&s.datadir)[0].clone();
    assert!(oldest_before < segment_name(restart));

    // more WAL, then restartpoints: WAL before the slot goes, its own stays
    fill_wal(&p, 3);
    wait_for_replay(&p, &s);
    let redo = restartpoint(&s);
    assert!(redo > restart);
    let after = segments(&s.datadir);
    assert_eq!(after[0], segment_name(restart), "{after:?}");
    assert_eq!(
        s.safe_psql(
            "SELECT wal_status, synced, NOT temporary FROM pg_replication_slots \
             WHERE slot_name = 'lsub2_slot'"
        ),
        "reserved|t|t"
    );

    // SIGKILL, restart: the slot, its WAL and its catalog history are kept
    s.kill9();
    s.start();
    fill_wal(&p, 1);
    wait_for_replay(&p, &s);
    restartpoint(&s);
    assert_eq!(segments(&s.datadir)[0], segment_name(restart));
    assert_eq!(
        s.safe_psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'lsub2_slot'"),
        p.safe_psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'lsub2_slot'")
    );

    // a clean restart too
    s.restart();
    wait_for_replay(&p, &s);
    assert_eq!(segments(&s.datadir)[0], segment_name(restart));

    s.promote();
    let rest = s.safe_psql(
        "SELECT data FROM pg_logical_slot_get_changes('lsub2_slot', NULL, NULL, \
         'include-xids', '0') WHERE data LIKE 'table public.tab_int%'",
    );
    assert_eq!(
        rest,
        "table public.tab_int: INSERT: a[integer]:4 b[integer]:40\n\
         table public.tab_int: INSERT: a[integer]:5 b[integer]:50"
    );
}
