//! Timeline following: a primary with two standbys (basebackups with `-R`,
//! physical slots) crashes; standby 1 is promoted to timeline 2; standby 2 is
//! re-pointed to it (`ALTER SYSTEM SET primary_conninfo` + `pg_reload_conf()`),
//! fetches `00000002.history`, streams the rest of timeline 1 up to the switch
//! point, switches to timeline 2 and replays what the promoted node writes, also
//! after a restart and a crash. The promoted node's walsender answers historic
//! START_REPLICATION requests as PostgreSQL does (next-timeline result set,
//! errors for a start past the fork or an unknown timeline).
//!
//! A standby made by a base backup of a node already on timeline 2 (the backup
//! holds no history file) fetches `00000002.history` from it, its own
//! timeline's, as PostgreSQL's walreceiver does; promoted in turn, it writes a
//! history of timeline 3 that names timeline 1 as well.

use std::process::{Command, Output};

use tandem_testkit::{wait_value, Node};

/// psql on a physical replication connection (`replication=true`).
fn repl_psql(node: &Node, cmd: &str) -> Output {
    Command::new("psql")
        .args(["-X", "-A", "-t", "-c", cmd])
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres replication=true",
            node.port
        ))
        .output()
        .expect("psql")
}

fn identify_timeline(node: &Node) -> String {
    let out = repl_psql(node, "IDENTIFY_SYSTEM");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .split('|')
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// `X/Y` + n, formatted as PostgreSQL formats an LSN.
fn lsn_plus(lsn: &str, n: u64) -> String {
    let (hi, lo) = lsn.split_once('/').expect("an LSN");
    let v = (u64::from_str_radix(hi, 16).expect("hex") << 32)
        + u64::from_str_radix(lo, 16).expect("hex")
        + n;
    format!("{:X}/{:X}", v >> 32, v & 0xFFFF_FFFF)
}

fn count(node: &Node) -> String {
    node.safe_psql("SELECT count(*) FROM t")
}

#[test]
fn second_standby_follows_the_promoted_node_to_timeline_2() {
    let mut p = Node::streaming_primary("t016-primary");
    p.safe_psql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    p.safe_psql("INSERT INTO t SELECT g, 'a' || g FROM generate_series(1, 100) g");
    let mut s1 = Node::basebackup("t016-standby1", &p, &["-R", "-C", "-S", "s1", "-c", "fast"]);
    // once promoted it keeps the old timeline's WAL that standby 2 still needs
    // (its slot for standby 2 is made only after the promotion)
    s1.append_conf(
        "wal_retrieve_retry_interval = 200ms\nwal_receiver_status_interval = 1s\nwal_keep_size = 64",
    );
    s1.start();
    let mut s2 = Node::basebackup("t016-standby2", &p, &["-R", "-C", "-S", "s2", "-c", "fast"]);
    s2.append_conf("wal_retrieve_retry_interval = 200ms\nwal_receiver_status_interval = 1s");
    s2.start();
    // streamed after the backups; enough to cross several 1 MiB segments
    p.safe_psql("INSERT INTO t SELECT g, repeat('b', 200) FROM generate_series(101, 10000) g");
    wait_value(&s1, "SELECT count(*) FROM t", "10000");
    wait_value(&s2, "SELECT count(*) FROM t", "10000");
    // Standby 2 stops streaming (a reload with an empty primary_conninfo ends
    // its walreceiver) and misses the next rows: it must fetch the rest of
    // timeline 1 from the promoted node later.
    s2.safe_psql("ALTER SYSTEM SET primary_conninfo = ''");
    s2.safe_psql("SELECT pg_reload_conf()");
    wait_value(&p, "SELECT count(*) FROM pg_stat_replication", "1");
    p.safe_psql("INSERT INTO t SELECT g, repeat('b', 200) FROM generate_series(10001, 14000) g");
    wait_value(&s1, "SELECT count(*) FROM t", "14000");
    // standby 1 holds everything the primary flushed, then the primary dies
    wait_value(
        &p,
        "SELECT count(*) FROM pg_stat_replication WHERE flush_lsn >= pg_current_wal_flush_lsn()",
        "1",
    );
    p.kill9();
    assert_eq!(count(&s2), "10000");

    assert_eq!(s1.safe_psql("SELECT pg_promote()"), "t");
    assert_eq!(s1.safe_psql("SELECT pg_is_in_recovery()"), "f");
    s1.safe_psql("SELECT pg_create_physical_replication_slot('s2', true)");
    let history =
        std::fs::read_to_string(s1.datadir.join("pg_wal/00000002.history")).expect("history file");
    let switch = history
        .split('\t')
        .nth(1)
        .expect("switch point")
        .to_string();

    // The promoted node's walsender: historic timeline requests.
    let out = repl_psql(&s1, "TIMELINE_HISTORY 2");
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("00000002.history|1\t"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // starting exactly at the switch point: no COPY, just the next timeline
    let out = repl_psql(
        &s1,
        &format!("START_REPLICATION PHYSICAL {switch} TIMELINE 1"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("2|{switch}")
    );
    let past = lsn_plus(&switch, 8);
    let out = repl_psql(
        &s1,
        &format!("START_REPLICATION PHYSICAL {past} TIMELINE 1"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "requested starting point {past} on timeline 1 is not in this server's history"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "This server's history forked from timeline 1 at {switch}."
        )),
        "{err}"
    );
    let out = repl_psql(&s1, "START_REPLICATION PHYSICAL 0/1000000 TIMELINE 3");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("requested timeline 3 is not in this server's history"),
        "{err}"
    );

    // Re-point standby 2 at the promoted node.
    assert_eq!(s2.safe_psql("SELECT pg_is_in_recovery()"), "t");
    s2.safe_psql(&format!(
        "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port={} user=postgres'",
        s1.port
    ));
    s2.safe_psql("SELECT pg_reload_conf()");
    s1.safe_psql("INSERT INTO t SELECT g, 'c' || g FROM generate_series(14001, 14100) g");
    s1.safe_psql("CREATE TABLE after_promote (x int)");
    s1.safe_psql("INSERT INTO after_promote VALUES (1), (2)");
    wait_value(&s2, "SELECT count(*) FROM t", "14100");
    wait_value(&s2, "SELECT sum(x) FROM after_promote", "3");
    assert_eq!(s2.safe_psql("SELECT pg_is_in_recovery()"), "t");
    assert_eq!(identify_timeline(&s2), "2");
    assert_eq!(
        s2.safe_psql("SELECT timeline_id FROM pg_control_checkpoint()"),
        "2"
    );
    assert_eq!(
        std::fs::read_to_string(s2.datadir.join("pg_wal/00000002.history")).expect("history"),
        history
    );
    let log = s2.log();
    for want in [
        "fetching timeline history file for timeline 2 from primary server".to_string(),
        "started streaming WAL from primary at ".to_string(),
        "replication terminated by primary server".to_string(),
        format!("End of WAL reached on timeline 1 at {switch}."),
        "new target timeline is 2".to_string(),
        format!("restarted WAL streaming at {switch} on timeline 2"),
    ] {
        assert!(log.contains(&want), "missing {want:?} in\n{log}");
    }
    // the promoted node sees standby 2 streaming from its slot
    wait_value(
        &s1,
        "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
        "1",
    );
    wait_value(
        &s1,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 's2'",
        "t",
    );

    // A restart, then a crash: standby 2 comes back on timeline 2 and follows.
    s2.restart();
    s1.safe_psql("INSERT INTO t SELECT g, 'd' || g FROM generate_series(14101, 14200) g");
    wait_value(&s2, "SELECT count(*) FROM t", "14200");
    assert_eq!(identify_timeline(&s2), "2");
    s2.kill9();
    s2.start();
    s1.safe_psql("INSERT INTO t SELECT g, 'e' || g FROM generate_series(14201, 14300) g");
    wait_value(&s2, "SELECT count(*) FROM t", "14300");
    assert_eq!(count(&s1), "14300");
    assert_eq!(
        s2.safe_psql("SELECT timeline_id FROM pg_control_checkpoint()"),
        "2"
    );
    s2.stop();
    s1.stop();
}

/// Every node knows all ancestors of its timeline, however it was made: a
/// base backup of a promoted node carries its history files, a standby that
/// lacks the history file of its own timeline fetches it when it connects,
/// and a node that is promoted in turn writes a history file listing every
/// earlier timeline. (A truncated one made the standbys that followed it
/// look for the oldest WAL under the wrong timeline after a restart.)
#[test]
fn a_node_made_on_timeline_2_writes_a_complete_history_for_timeline_3() {
    let mut p = Node::streaming_primary("t016-chain-primary");
    p.safe_psql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    let mut s1 = Node::standby("t016-chain-s1", &p, "s1");
    s1.start();
    p.safe_psql("INSERT INTO t SELECT g, 'a' FROM generate_series(1, 100) g");
    wait_value(&s1, "SELECT count(*) FROM t", "100");
    p.stop();
    assert_eq!(s1.safe_psql("SELECT pg_promote()"), "t");
    let tl2 = std::fs::read_to_string(s1.datadir.join("pg_wal/00000002.history"))
        .expect("history of timeline 2");

    // a backup of the promoted node carries the history file
    let b = Node::standby("t016-chain-b", &s1, "b");
    let copied = std::fs::read_to_string(b.datadir.join("pg_wal/00000002.history"))
        .expect("history file in the backup");
    assert_eq!(copied, tl2);
    drop(b);

    // a standby without it fetches it on connecting
    let mut c = Node::standby("t016-chain-c", &s1, "c");
    std::fs::remove_file(c.datadir.join("pg_wal/00000002.history")).expect("remove history");
    c.start();
    s1.safe_psql("INSERT INTO t SELECT g, 'b' FROM generate_series(101, 200) g");
    wait_value(&c, "SELECT count(*) FROM t", "200");
    let fetched = std::fs::read_to_string(c.datadir.join("pg_wal/00000002.history"))
        .expect("history file fetched by the walreceiver");
    assert_eq!(fetched, tl2);

    // promoted in turn, it lists both earlier timelines
    s1.stop();
    assert_eq!(c.safe_psql("SELECT pg_promote()"), "t");
    let tl3 = std::fs::read_to_string(c.datadir.join("pg_wal/00000003.history"))
        .expect("history of timeline 3");
    let parents: Vec<&str> = tl3
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default())
        .collect();
    assert_eq!(parents, ["1", "2"], "{tl3}");
    assert!(tl3.starts_with(&tl2), "{tl3}");
    c.safe_psql("INSERT INTO t SELECT g, 'c' FROM generate_series(201, 300) g");
    c.kill9();
    c.start();
    assert_eq!(c.safe_psql("SELECT count(*) FROM t"), "300");
}
