//! Promotion: a standby made with `tandem basebackup -R` is promoted after its
//! primary stopped, by `SELECT pg_promote()` or by `tandem promote -D`. The promoted
//! node keeps every replayed row, accepts writes, leaves recovery, runs on
//! timeline 2 with `pg_wal/00000002.history`, and survives SIGKILL + restart.

use std::process::Command;

use tandem_testkit::{tandem_bin, wait_value, Node};

/// Primary with rows, a streaming standby that has replayed them, primary stopped.
fn standby_after_primary_stopped(prefix: &str) -> Node {
    let mut p = Node::streaming_primary(&format!("{prefix}-primary"));
    p.safe_psql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    p.safe_psql("INSERT INTO t SELECT g, 'a' || g FROM generate_series(1, 100) g");
    let mut s = Node::standby(&format!("{prefix}-standby"), &p, "s1");
    s.start();
    // streamed after the backup
    p.safe_psql("INSERT INTO t SELECT g, 'b' || g FROM generate_series(101, 250) g");
    wait_value(&s, "SELECT count(*) FROM t", "250");
    p.stop();
    s
}

fn check_promoted(s: &mut Node) {
    assert_eq!(s.safe_psql("SELECT pg_is_in_recovery()"), "f");
    assert_eq!(s.safe_psql("SELECT count(*) FROM t"), "250");
    s.safe_psql("INSERT INTO t SELECT g, 'c' || g FROM generate_series(251, 300) g");
    s.safe_psql("CREATE TABLE after_promote (x int)");
    s.safe_psql("INSERT INTO after_promote VALUES (1), (2)");
    assert_eq!(s.safe_psql("SELECT count(*) FROM t"), "300");
    assert_eq!(
        s.safe_psql("SELECT timeline_id FROM pg_control_checkpoint()"),
        "2"
    );
    assert!(!s.datadir.join("standby.signal").exists());
    let history =
        std::fs::read_to_string(s.datadir.join("pg_wal/00000002.history")).expect("history file");
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 1, "{history}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(fields.len(), 3, "{history}");
    assert_eq!(fields[0], "1");
    assert!(fields[1].contains('/'), "{history}");
    assert_eq!(fields[2], "no recovery target specified");
    // WAL now goes to timeline 2 segments
    let segs: Vec<String> = std::fs::read_dir(s.datadir.join("pg_wal"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.len() == 24 && n.starts_with("00000002"))
        .collect();
    assert!(!segs.is_empty());
    // IDENTIFY_SYSTEM on a replication connection
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-c", "IDENTIFY_SYSTEM"])
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres replication=database",
            s.port
        ))
        .output()
        .expect("psql");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.trim().split('|').nth(1), Some("2"), "{text}");
    let log = s.log();
    for want in [
        "received promote request",
        "redo done at",
        "selected new timeline ID: 2",
        "archive recovery complete",
        "database system is ready to accept connections",
    ] {
        assert!(log.contains(want), "missing {want:?} in\n{log}");
    }

    // crash and restart: everything written on timeline 2 is still there
    s.kill9();
    s.start();
    assert_eq!(s.safe_psql("SELECT count(*) FROM t"), "300");
    assert_eq!(s.safe_psql("SELECT sum(x) FROM after_promote"), "3");
    assert_eq!(s.safe_psql("SELECT pg_is_in_recovery()"), "f");
    assert_eq!(
        s.safe_psql("SELECT timeline_id FROM pg_control_checkpoint()"),
        "2"
    );
    s.safe_psql("INSERT INTO t VALUES (301, 'after crash')");
    s.restart();
    assert_eq!(s.safe_psql("SELECT count(*) FROM t"), "301");
}

#[test]
fn pg_promote_ends_recovery_on_timeline_2() {
    let mut s = standby_after_primary_stopped("t013-sql");
    assert_eq!(s.safe_psql("SELECT pg_is_in_recovery()"), "t");
    assert_eq!(s.safe_psql("SELECT pg_promote()"), "t");
    check_promoted(&mut s);
    // on a primary now
    let out = s.psql("SELECT pg_promote()");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("recovery is not in progress"), "{err}");
    assert!(
        err.contains("Recovery control functions can only be executed during recovery."),
        "{err}"
    );
}

#[test]
fn tandem_promote_ends_recovery_on_timeline_2() {
    let mut s = standby_after_primary_stopped("t013-cli");
    let out = Command::new(tandem_bin())
        .args(["promote", "-D"])
        .arg(&s.datadir)
        .output()
        .expect("tandem promote");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("waiting for server to promote..."),
        "{stdout}"
    );
    assert!(stdout.contains("done"), "{stdout}");
    assert!(stdout.contains("server promoted"), "{stdout}");
    check_promoted(&mut s);
    let out = Command::new(tandem_bin())
        .args(["promote", "-D"])
        .arg(&s.datadir)
        .output()
        .expect("tandem promote");
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "tandem: cannot promote server; server is not in standby mode"
    );
}

/// `tandem_demote()` answers its caller before the fast shutdown it starts
/// ends the session (FATAL 57P01 after ReadyForQuery, as for any session
/// terminated while idle), and the server comes back as a standby of the
/// server it was given; promoting that one makes the former primary follow.
#[test]
fn tandem_demote_replies_then_restarts_as_a_standby() {
    let p = Node::streaming_primary("t013-demote-primary");
    p.safe_psql("CREATE TABLE t (id int PRIMARY KEY)");
    let mut s = Node::standby("t013-demote-standby", &p, "s1");
    s.start();
    s.safe_psql("SELECT pg_create_physical_replication_slot('back', true)");
    p.safe_psql("INSERT INTO t SELECT generate_series(1, 10)");
    wait_value(&s, "SELECT count(*) FROM t", "10");
    // safe_psql fails on a cut reply (psql exits 2 without the row)
    let reply = p.safe_psql(&format!(
        "SELECT tandem_demote('{}', 'back')",
        s.conninfo("postgres")
    ));
    assert_eq!(reply, "t");
    wait_value(&p, "SELECT pg_is_in_recovery()", "t");
    wait_value(
        &s,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'back'",
        "t",
    );
    s.safe_psql("SELECT pg_promote()");
    s.safe_psql("INSERT INTO t SELECT generate_series(11, 20)");
    wait_value(&p, "SELECT count(*) FROM t", "20");
    assert_eq!(p.safe_psql("SELECT pg_is_in_recovery()"), "t");
}
