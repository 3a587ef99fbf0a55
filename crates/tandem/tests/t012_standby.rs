//! Physical streaming replication end to end: `tandem basebackup -R -C -S` makes a
//! standby of a running primary; the standby replays what the primary writes
//! (rows and DDL), answers read-only queries, refuses writes with 25006, restarts
//! and catches up from its slot; the primary's `pg_stat_replication` shows it
//! streaming; an interrupted backup (no control file) refuses to start.

use tandem_testkit::{message, sqlstate, wait_for, wait_value, Node, DEADLINE};

fn standby_of(name: &str, primary: &Node, slot: &str) -> Node {
    let s = Node::standby(name, primary, slot);
    s.append_conf("hot_standby_feedback = on");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_replays_rows_and_ddl_and_is_read_only() {
    let mut p = Node::streaming_primary("t012-primary");
    p.safe_psql("CREATE TABLE before_backup (id int PRIMARY KEY, v text)");
    p.safe_psql("INSERT INTO before_backup SELECT g, 'x' || g FROM generate_series(1, 100) g");

    let mut s = standby_of("t012-standby", &p, "standby1");
    assert!(s.datadir.join("standby.signal").exists());
    let auto = std::fs::read_to_string(s.datadir.join("postgresql.auto.conf")).unwrap();
    assert!(auto.contains("primary_conninfo = '"), "{auto}");
    assert!(auto.contains("primary_slot_name = 'standby1'"), "{auto}");
    s.start();
    let log = s.log();
    assert!(log.contains("entering standby mode"), "{log}");
    assert!(
        log.contains("consistent recovery state reached at"),
        "{log}"
    );
    assert!(
        log.contains("database system is ready to accept read-only connections"),
        "{log}"
    );

    // what the backup held
    assert_eq!(s.safe_psql("SELECT count(*) FROM before_backup"), "100");
    assert_eq!(s.safe_psql("SELECT pg_is_in_recovery()"), "t");
    assert_eq!(p.safe_psql("SELECT pg_is_in_recovery()"), "f");

    // rows and DDL written after the backup arrive by streaming
    p.safe_psql("INSERT INTO before_backup VALUES (101, 'streamed')");
    p.safe_psql("CREATE TABLE after_backup (k text PRIMARY KEY, n int)");
    p.safe_psql("INSERT INTO after_backup VALUES ('a', 1), ('b', 2)");
    p.safe_psql("UPDATE before_backup SET v = 'changed' WHERE id = 1");
    p.safe_psql("DELETE FROM before_backup WHERE id = 2");
    wait_value(&s, "SELECT sum(n) FROM after_backup", "3");
    // pg_stat_wal_receiver: one streaming row on the standby, none on the primary
    wait_value(
        &s,
        &format!(
            "SELECT status, slot_name, sender_host, sender_port, flushed_lsn >= '{}', \
             received_tli, latest_end_lsn IS NOT NULL, conninfo LIKE '%port={}%' \
             FROM pg_stat_wal_receiver",
            p.safe_psql("SELECT pg_current_wal_lsn()"),
            p.port
        ),
        &format!("streaming|standby1|127.0.0.1|{}|t|1|t|t", p.port),
    );
    assert_eq!(
        p.safe_psql("SELECT count(*) FROM pg_stat_wal_receiver"),
        "0"
    );
    // commits replay in order: the DELETE is the last one
    wait_value(&s, "SELECT count(*) FROM before_backup WHERE id = 2", "0");
    // the replay position covers the primary's last commit, and it has a time
    let primary_lsn = p.safe_psql("SELECT pg_current_wal_flush_lsn()");
    wait_value(
        &s,
        &format!("SELECT pg_last_wal_replay_lsn() >= '{primary_lsn}'::pg_lsn"),
        "t",
    );
    assert_eq!(
        s.safe_psql("SELECT pg_last_xact_replay_timestamp() IS NOT NULL, pg_last_wal_receive_lsn() >= pg_last_wal_replay_lsn()"),
        "t|t"
    );
    assert_eq!(p.safe_psql("SELECT pg_last_wal_replay_lsn() IS NULL"), "t");
    assert_eq!(
        s.safe_psql("SELECT v FROM before_backup WHERE id IN (1, 101) ORDER BY id"),
        "changed\nstreamed"
    );
    assert_eq!(s.safe_psql("SELECT count(*) FROM before_backup"), "100");
    // a secondary index built and kept on the primary is the standby's too:
    // its entries replay with the rows (the old value's entry goes away)
    p.safe_psql("CREATE UNIQUE INDEX before_v ON before_backup (v)");
    p.safe_psql("UPDATE before_backup SET v = 'indexed' WHERE id = 3");
    let by_v = |v: &str| format!("SELECT id FROM before_backup WHERE v = '{v}'");
    wait_value(&s, &by_v("indexed"), "3");
    assert!(s
        .safe_psql(&format!("EXPLAIN {}", by_v("indexed")))
        .contains("Index Scan using before_v on before_backup"));
    assert_eq!(s.safe_psql(&by_v("x3")), "");
    assert_eq!(s.safe_psql(&by_v("x4")), "4");
    wait_for("standby log line", DEADLINE, || {
        s.log()
            .contains("started streaming WAL from primary at")
            .then_some(())
    });
    assert!(s.log().contains("on timeline 1"));

    // the primary sees the standby streaming, with its flush/replay positions
    wait_value(
        &p,
        "SELECT state FROM pg_stat_replication WHERE application_name = 'walreceiver'",
        "streaming",
    );
    let current = p.safe_psql("SELECT pg_current_wal_flush_lsn()");
    wait_value(
        &p,
        &format!(
            "SELECT replay_lsn >= '{current}'::pg_lsn AND flush_lsn >= '{current}'::pg_lsn \
             FROM pg_stat_replication"
        ),
        "t",
    );
    wait_value(
        &p,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'standby1'",
        "t",
    );
    let received = s.safe_psql("SELECT pg_last_wal_receive_lsn() IS NOT NULL");
    assert_eq!(received, "t");

    // writes on the standby fail as on a PostgreSQL hot standby
    let c = s.connect().await;
    let e = c
        .batch_execute("INSERT INTO after_backup VALUES ('c', 3)")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("25006"));
    assert_eq!(
        message(&e),
        "cannot execute INSERT in a read-only transaction"
    );
    let e = c
        .batch_execute("CREATE TABLE nope (a int)")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("25006"));
    drop(c);

    // a replication connection to the standby is read-only too, so libpq's
    // target_session_attrs=read-write refuses it and takes the primary
    let repl = |node: &Node, hosts: &str, ports: String| {
        std::process::Command::new("psql")
            .args(["-X", "-A", "-t", "-c", "IDENTIFY_SYSTEM"])
            .arg(format!(
                "host={hosts} port={ports} user=postgres dbname=postgres \
                 replication=true target_session_attrs=read-write"
            ))
            .output()
            .unwrap_or_else(|e| panic!("run psql against {}: {e}", node.name))
    };
    let out = repl(&s, "127.0.0.1", s.port.to_string());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("session is read-only"), "{err}");
    let out = repl(&s, "127.0.0.1,127.0.0.1", format!("{},{}", s.port, p.port));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let system_id = p.safe_psql("SELECT system_identifier FROM pg_control_system()");
    let ident = String::from_utf8_lossy(&out.stdout);
    assert!(ident.starts_with(&format!("{system_id}|1|")), "{ident}");

    // the standby restarts and catches up from its slot with what it missed
    s.stop();
    p.safe_psql("INSERT INTO after_backup VALUES ('while-down', 10)");
    p.safe_psql("ALTER TABLE after_backup ADD COLUMN extra text DEFAULT 'd'");
    s.start();
    wait_value(&s, "SELECT sum(n) FROM after_backup", "13");
    wait_value(
        &s,
        "SELECT extra FROM after_backup WHERE k = 'while-down'",
        "d",
    );

    // the primary restarts: the standby reconnects on its own
    p.restart();
    p.safe_psql("INSERT INTO after_backup VALUES ('after-primary-restart', 100)");
    wait_value(&s, "SELECT sum(n) FROM after_backup", "113");

    s.stop();
    p.stop();
}

#[test]
fn interrupted_backup_does_not_start() {
    let p = Node::streaming_primary("t012-partial");
    let s = Node::basebackup("t012-partial-copy", &p, &["-c", "fast"]);
    // a backup interrupted before its end has no control file: simulate it
    std::fs::remove_file(s.datadir.join("global/control")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("server")
        .arg("-D")
        .arg(&s.datadir)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn basebackup_without_r_restores_a_primary_with_progress() {
    let mut p = Node::streaming_primary("t012-plain");
    p.safe_psql("CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("copy");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["basebackup", "-d", &p.conninfo("postgres"), "-D"])
        .arg(&dir)
        .args(["-P", "-c", "fast"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kB (100%), 1/1 tablespace"), "{err}");
    assert!(!dir.join("standby.signal").exists());
    // a second backup into the now non-empty directory is refused
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["basebackup", "-d", &p.conninfo("postgres"), "-D"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists but is not empty"));
    // a backup without -R starts as an independent primary with the data
    let mut copy = Node::basebackup("t012-plain-copy", &p, &["-c", "fast"]);
    p.safe_psql("INSERT INTO t VALUES (3)");
    copy.start();
    assert_eq!(copy.safe_psql("SELECT sum(a) FROM t"), "3");
    assert_eq!(copy.safe_psql("SELECT pg_is_in_recovery()"), "f");
    copy.safe_psql("INSERT INTO t VALUES (40)");
    assert_eq!(copy.safe_psql("SELECT sum(a) FROM t"), "43");
    copy.stop();
    p.stop();
}
